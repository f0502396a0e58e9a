/*
 * registry_inplace — a changed snapshot written over the rows it changes.
 * Most new generations keep the host's parents, types and devices and
 * change what they hold: a driver update (every version and digest), room
 * taken or freed, a VM started. Deleting and re-inserting 20 type rows
 * dirties three index entries per row twice; updating them in place moves
 * only the index of the columns that changed. The rows must have the
 * snapshot's keys in its order, so that a load (rowid order) still gives
 * back the order the collector published; anything else is the caller's
 * delete-and-insert.
 *
 * One read of the host's rows both checks the keys and compares the
 * values, so an unchanged row costs no statement at all and a changed one
 * is updated by its rowid, without another walk of the primary key: the
 * group commit's writer is the one serial part of the sched's ingest.
 */
#include "registry_internal.h"

#include <stdlib.h>
#include <string.h>

/* What a stored row needs: its rowid, and which statements bring it up to
 * the snapshot's values (types: room and the rest apart, each touching
 * the columns of one index; devices: rest only). */
struct registry_inplace_row {
    sqlite3_int64 rowid;
    bool room;
    bool rest;
};

/* Whether column col holds exactly want: NULL for NULL, else that text. */
static bool registry_inplace_text_is(sqlite3_stmt *s, int col, const char *want)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return want == NULL;
    const unsigned char *have = sqlite3_column_text(s, col);
    return want != NULL && have != NULL && strcmp((const char *)have, want) == 0;
}

/* As registry_bind_text_or_null() stores it: "" and NULL are NULL. */
static bool registry_inplace_text_or_null_is(sqlite3_stmt *s, int col, const char *want)
{
    return registry_inplace_text_is(s, col, want != NULL && *want != '\0' ? want : NULL);
}

/* As registry_bind_int_or_null() stores it: none is NULL. */
static bool registry_inplace_int_is(sqlite3_stmt *s, int col, long long value, long long none)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return value == none;
    return value != none && sqlite3_column_int64(s, col) == value;
}

/* Columns col .. col+3 against registry_bind_migration()'s parameters. */
static bool registry_inplace_migration_is(sqlite3_stmt *s, int col, const struct inv_migration *mig)
{
    return registry_inplace_int_is(s, col, mig->supported, -1) &&
           registry_inplace_text_is(s, col + 1, mig->version) &&
           registry_inplace_text_or_null_is(s, col + 2,
                                            mig->version != NULL ? mig->digest : NULL) &&
           registry_inplace_int_is(s, col + 3, mig->read_errno, 0);
}

/* Steps s, bound to the host, over rows that must each match one item of
 * the snapshot, in order: 1 when all did and no row was left over, 0 when
 * not, -1 on error. match(s, index, ctx, row) says whether row index
 * matches and fills row with what it needs. */
static int registry_inplace_rows_match(
    struct registry *reg, sqlite3_stmt *s, const char *host, size_t count,
    bool (*match)(sqlite3_stmt *, size_t, void *, struct registry_inplace_row *), void *ctx,
    struct registry_inplace_row *rows, char *err, size_t errlen)
{
    if (registry_bind_text(s, 1, host) != SQLITE_OK) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "reading the rows of host %s", host);
    }
    size_t seen = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct registry_inplace_row ignored;
        if (seen == count || !match(s, seen, ctx, rows != NULL ? &rows[seen] : &ignored)) {
            registry_done(s);
            return 0;
        }
        seen++;
    }
    registry_done(s);
    if (rc != SQLITE_DONE)
        return registry_fail(reg, err, errlen, "reading the rows of host %s", host);
    return seen == count;
}

static bool registry_inplace_parent_matches(sqlite3_stmt *s, size_t index, void *ctx,
                                            struct registry_inplace_row *row)
{
    (void)row;
    const struct inventory *inv = ctx;
    return registry_inplace_text_is(s, 0, inv->parents[index].name);
}

/* The snapshot's types in stored order: parent by parent, as inserted. */
struct registry_inplace_types {
    const struct inventory *inv;
    size_t parent;
    size_t type;
};

/* Columns: rowid, parent, type_id, available_instances, name,
 * description, device_api, then the migration's four. */
static bool registry_inplace_type_matches(sqlite3_stmt *s, size_t index, void *ctx,
                                          struct registry_inplace_row *row)
{
    (void)index;
    /* Rows come in order, so a cursor stands in for the index. */
    struct registry_inplace_types *cursor = ctx;
    const struct inventory *inv = cursor->inv;
    while (cursor->parent < inv->parent_count &&
           cursor->type == inv->parents[cursor->parent].type_count) {
        cursor->parent++;
        cursor->type = 0;
    }
    if (cursor->parent == inv->parent_count)
        return false;
    const struct inv_parent *parent = &inv->parents[cursor->parent];
    const struct inv_type *type = &parent->types[cursor->type++];
    if (!registry_inplace_text_is(s, 1, parent->name) || !registry_inplace_text_is(s, 2, type->id))
        return false;
    row->rowid = sqlite3_column_int64(s, 0);
    row->room = !registry_inplace_int_is(s, 3, type->available_instances, -1);
    row->rest =
        !registry_inplace_text_is(s, 4, type->name != NULL ? type->name : "") ||
        !registry_inplace_text_is(s, 5, type->description != NULL ? type->description : "") ||
        !registry_inplace_text_is(s, 6, type->device_api != NULL ? type->device_api : "") ||
        !registry_inplace_migration_is(s, 7, &type->migration);
    return true;
}

/* Columns: rowid, uuid, parent, type_id, iommu_group, the migration's
 * four, instance. */
static bool registry_inplace_device_matches(sqlite3_stmt *s, size_t index, void *ctx,
                                            struct registry_inplace_row *row)
{
    const struct inv_device *dev = &((const struct inventory *)ctx)->devices[index];
    if (!registry_inplace_text_is(s, 1, dev->uuid) ||
        !registry_inplace_text_is(s, 2, dev->parent) || !registry_inplace_text_is(s, 3, dev->type))
        return false;
    row->rowid = sqlite3_column_int64(s, 0);
    row->room = false;
    row->rest = !registry_inplace_int_is(s, 4, dev->iommu_group, -1) ||
                !registry_inplace_migration_is(s, 5, &dev->migration) ||
                !registry_inplace_text_or_null_is(s, 9, dev->instance);
    return true;
}

/* 1 when the stored rows have inv's keys in inv's order, with types[] and
 * devices[] filled; 0 when not; -1 on error. */
static int registry_inplace_same_shape(struct registry *reg, const struct inventory *inv,
                                       struct registry_inplace_row *types, size_t type_count,
                                       struct registry_inplace_row *devices, char *err,
                                       size_t errlen)
{
    struct registry_inplace_types cursor = {.inv = inv};
    int rc = registry_inplace_rows_match(reg, reg->stmt[ST_LOAD_PARENTS], inv->host,
                                         inv->parent_count, registry_inplace_parent_matches,
                                         (void *)inv, NULL, err, errlen);
    if (rc == 1)
        rc =
            registry_inplace_rows_match(reg, reg->stmt[ST_SHAPE_TYPES], inv->host, type_count,
                                        registry_inplace_type_matches, &cursor, types, err, errlen);
    if (rc == 1)
        rc = registry_inplace_rows_match(reg, reg->stmt[ST_SHAPE_DEVICES], inv->host,
                                         inv->device_count, registry_inplace_device_matches,
                                         (void *)inv, devices, err, errlen);
    return rc;
}

static int registry_inplace_type(struct registry *reg, const char *host, const char *parent,
                                 const struct inv_type *type,
                                 const struct registry_inplace_row *row, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_TYPE_SET_ROOM];
    if (row->room && (sqlite3_bind_int64(s, 1, row->rowid) != SQLITE_OK ||
                      registry_bind_int_or_null(s, 2, type->available_instances, -1) != SQLITE_OK ||
                      registry_run(s) < 0))
        goto fail;
    s = reg->stmt[ST_TYPE_SET_REST];
    if (row->rest &&
        (sqlite3_bind_int64(s, 1, row->rowid) != SQLITE_OK ||
         registry_bind_text(s, 2, type->name != NULL ? type->name : "") != SQLITE_OK ||
         registry_bind_text(s, 3, type->description != NULL ? type->description : "") !=
             SQLITE_OK ||
         registry_bind_text(s, 4, type->device_api != NULL ? type->device_api : "") != SQLITE_OK ||
         registry_bind_migration(s, 5, &type->migration) != SQLITE_OK || registry_run(s) < 0))
        goto fail;
    return 0;
fail:
    registry_done(s);
    return registry_fail(reg, err, errlen, "updating type %s on parent %s of host %s",
                         registry_name(type->id), registry_name(parent), host);
}

static int registry_inplace_device(struct registry *reg, const char *host,
                                   const struct inv_device *dev,
                                   const struct registry_inplace_row *row, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_DEVICE_UPDATE];
    if (sqlite3_bind_int64(s, 1, row->rowid) != SQLITE_OK ||
        registry_bind_int_or_null(s, 2, dev->iommu_group, -1) != SQLITE_OK ||
        registry_bind_migration(s, 3, &dev->migration) != SQLITE_OK ||
        registry_bind_text_or_null(s, 7, dev->instance) != SQLITE_OK || registry_run(s) < 0) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "updating device %s of host %s", dev->uuid, host);
    }
    return 0;
}

int registry_inplace_write(struct registry *reg, const struct inventory *inv, char *err,
                           size_t errlen)
{
    size_t type_count = 0;
    for (size_t p = 0; p < inv->parent_count; p++)
        type_count += inv->parents[p].type_count;
    /* One array for both; +1 so that an empty host still allocates. */
    struct registry_inplace_row *rows = malloc((type_count + inv->device_count + 1) * sizeof *rows);
    if (rows == NULL)
        return registry_fail_plain(reg, err, errlen, "comparing a snapshot: out of memory");
    struct registry_inplace_row *devices = rows + type_count;
    int rc = registry_inplace_same_shape(reg, inv, rows, type_count, devices, err, errlen);
    size_t t_all = 0;
    for (size_t p = 0; p < inv->parent_count && rc == 1; p++) {
        const struct inv_parent *parent = &inv->parents[p];
        for (size_t t = 0; t < parent->type_count && rc == 1; t++, t_all++) {
            if ((rows[t_all].room || rows[t_all].rest) &&
                registry_inplace_type(reg, inv->host, parent->name, &parent->types[t], &rows[t_all],
                                      err, errlen) < 0)
                rc = -1;
        }
    }
    for (size_t d = 0; d < inv->device_count && rc == 1; d++) {
        if (devices[d].rest &&
            registry_inplace_device(reg, inv->host, &inv->devices[d], &devices[d], err, errlen) < 0)
            rc = -1;
    }
    free(rows);
    return rc;
}
