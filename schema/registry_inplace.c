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
 */
#include "registry_internal.h"

#include <string.h>

/* Whether column col holds exactly s (NULL never matches). */
static bool registry_inplace_column_is(sqlite3_stmt *s, int col, const char *want)
{
    const unsigned char *have = sqlite3_column_text(s, col);
    return have != NULL && want != NULL && strcmp((const char *)have, want) == 0;
}

/* Steps s, bound to the host, over rows that must each match one item of
 * the snapshot, in order: 1 when all did and no row was left over, 0 when
 * not, -1 on error. match(s, index, ctx) says whether row index matches. */
static int registry_inplace_rows_match(struct registry *reg, sqlite3_stmt *s, const char *host,
                                       size_t count,
                                       bool (*match)(sqlite3_stmt *, size_t, const void *),
                                       const void *ctx, char *err, size_t errlen)
{
    if (registry_bind_text(s, 1, host) != SQLITE_OK) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "reading the rows of host %s", host);
    }
    size_t seen = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (seen == count || !match(s, seen, ctx)) {
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

static bool registry_inplace_parent_matches(sqlite3_stmt *s, size_t index, const void *ctx)
{
    const struct inventory *inv = ctx;
    return registry_inplace_column_is(s, 0, inv->parents[index].name);
}

/* The snapshot's types in stored order: parent by parent, as inserted. */
struct registry_inplace_types {
    const struct inventory *inv;
    size_t parent;
    size_t type;
};

static bool registry_inplace_type_matches(sqlite3_stmt *s, size_t index, const void *ctx)
{
    (void)index;
    /* Rows come in order, so a cursor stands in for the index. */
    struct registry_inplace_types *cursor = (struct registry_inplace_types *)ctx;
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
    return registry_inplace_column_is(s, 0, parent->name) &&
           registry_inplace_column_is(s, 1, type->id);
}

static bool registry_inplace_device_matches(sqlite3_stmt *s, size_t index, const void *ctx)
{
    const struct inv_device *dev = &((const struct inventory *)ctx)->devices[index];
    return registry_inplace_column_is(s, 0, dev->uuid) &&
           registry_inplace_column_is(s, 1, dev->parent) &&
           registry_inplace_column_is(s, 2, dev->type);
}

/* 1 when the stored rows have inv's keys in inv's order. */
static int registry_inplace_same_shape(struct registry *reg, const struct inventory *inv, char *err,
                                       size_t errlen)
{
    size_t type_count = 0;
    for (size_t p = 0; p < inv->parent_count; p++)
        type_count += inv->parents[p].type_count;
    struct registry_inplace_types cursor = {.inv = inv};
    int rc =
        registry_inplace_rows_match(reg, reg->stmt[ST_LOAD_PARENTS], inv->host, inv->parent_count,
                                    registry_inplace_parent_matches, inv, err, errlen);
    if (rc == 1)
        rc = registry_inplace_rows_match(reg, reg->stmt[ST_SHAPE_TYPES], inv->host, type_count,
                                         registry_inplace_type_matches, &cursor, err, errlen);
    if (rc == 1)
        rc = registry_inplace_rows_match(reg, reg->stmt[ST_SHAPE_DEVICES], inv->host,
                                         inv->device_count, registry_inplace_device_matches, inv,
                                         err, errlen);
    return rc;
}

static int registry_inplace_type(struct registry *reg, const char *host, const char *parent,
                                 const struct inv_type *type, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_TYPE_SET_ROOM];
    if (registry_bind_type_key(s, host, parent, type->id) != SQLITE_OK ||
        registry_bind_int_or_null(s, 4, type->available_instances, -1) != SQLITE_OK ||
        registry_run(s) < 0)
        goto fail;
    s = reg->stmt[ST_TYPE_SET_REST];
    if (registry_bind_type_key(s, host, parent, type->id) != SQLITE_OK ||
        registry_bind_text(s, 4, type->name != NULL ? type->name : "") != SQLITE_OK ||
        registry_bind_text(s, 5, type->description != NULL ? type->description : "") != SQLITE_OK ||
        registry_bind_text(s, 6, type->device_api != NULL ? type->device_api : "") != SQLITE_OK ||
        registry_bind_migration(s, 7, &type->migration) != SQLITE_OK || registry_run(s) < 0)
        goto fail;
    return 0;
fail:
    registry_done(s);
    return registry_fail(reg, err, errlen, "updating type %s on parent %s of host %s",
                         registry_name(type->id), registry_name(parent), host);
}

int registry_inplace_write(struct registry *reg, const struct inventory *inv, char *err,
                           size_t errlen)
{
    int rc = registry_inplace_same_shape(reg, inv, err, errlen);
    if (rc != 1)
        return rc;
    for (size_t p = 0; p < inv->parent_count; p++) {
        const struct inv_parent *parent = &inv->parents[p];
        for (size_t t = 0; t < parent->type_count; t++) {
            if (registry_inplace_type(reg, inv->host, parent->name, &parent->types[t], err,
                                      errlen) < 0)
                return -1;
        }
    }
    sqlite3_stmt *s = reg->stmt[ST_DEVICE_UPDATE];
    for (size_t d = 0; d < inv->device_count; d++) {
        const struct inv_device *dev = &inv->devices[d];
        if (registry_bind_device_row(s, inv->host, dev) != SQLITE_OK || registry_run(s) < 0) {
            registry_done(s);
            return registry_fail(reg, err, errlen, "updating device %s of host %s", dev->uuid,
                                 inv->host);
        }
    }
    return 1;
}
