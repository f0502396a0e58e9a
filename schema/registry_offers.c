/*
 * registry_offers — the scheduler's questions about types: which parents
 * of which hosts offer a type (or a version of it), with their room and an
 * unused mdev when there is one, and every (host, parent, type) with its
 * version for the matrix. Each is one statement, hence one consistent read
 * of rows that different snapshots may be replacing.
 */
#include "registry_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- candidates -------------------------------------------------------- */

void registry_offers_free(struct registry_offers *offers)
{
    if (offers == NULL)
        return;
    for (size_t i = 0; i < offers->count; i++) {
        free(offers->items[i].host);
        free(offers->items[i].collector_url);
        free(offers->items[i].parent);
        free(offers->items[i].type_id);
    }
    free(offers->items);
    memset(offers, 0, sizeof *offers);
}

/* key binds ?1; host (when not NULL) binds ?2 as text, else limit (when
 * >= 0) binds ?2 as a number. */
static int registry_offers_query(struct registry *reg, enum registry_stmt_id id, const char *key,
                                 const char *host, int64_t limit, const char *what,
                                 struct registry_offers *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (key == NULL)
        return registry_fail_plain(reg, err, errlen, "finding hosts by %s: none given", what);
    sqlite3_stmt *s = reg->stmt[id];
    size_t cap = 0;
    bool corrupt = false;
    int rc = registry_bind_text(s, 1, key) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    if (rc == SQLITE_ROW && host != NULL && registry_bind_text(s, 2, host) != SQLITE_OK)
        rc = SQLITE_ERROR;
    if (rc == SQLITE_ROW && host == NULL && limit >= 0 &&
        sqlite3_bind_int64(s, 2, limit) != SQLITE_OK)
        rc = SQLITE_ERROR;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_grow((void **)&out->items, &cap, out->count, sizeof *out->items) < 0)
            break;
        struct registry_offer *o = &out->items[out->count];
        memset(o, 0, sizeof *o);
        out->count++;
        o->last_seen = sqlite3_column_int64(s, 2);
        o->available_instances = registry_column_int_or(s, 5, -1);
        if (registry_column_copy(s, 6, o->digest, sizeof o->digest) < 0) {
            corrupt = true;
            break;
        }
        if (registry_column_copy(s, 7, o->unused_device, sizeof o->unused_device) < 0) {
            corrupt = true;
            break;
        }
        if (registry_column_dup_str(s, 0, &o->host) < 0 ||
            registry_column_dup(s, 1, &o->collector_url) < 0 ||
            registry_column_dup_str(s, 3, &o->parent) < 0 ||
            registry_column_dup_str(s, 4, &o->type_id) < 0)
            break;
    }
    registry_done(s);
    if (rc != SQLITE_DONE) {
        if (corrupt)
            registry_fail_plain(reg, err, errlen,
                                "finding hosts by %s %s: a stored digest is "
                                "too long",
                                what, key);
        else if (rc == SQLITE_ROW)
            registry_fail_plain(reg, err, errlen, "finding hosts by %s %s: out of memory", what,
                                key);
        else
            registry_fail(reg, err, errlen, "finding hosts by %s %s", what, key);
        registry_offers_free(out);
        return -1;
    }
    return 0;
}

static int registry_offers(struct registry *reg, enum registry_stmt_id id, const char *key,
                           const char *what, struct registry_offers *out, char *err, size_t errlen)
{
    return registry_offers_query(reg, id, key, NULL, -1, what, out, err, errlen);
}

int registry_offers_top_by_type(struct registry *reg, const char *type_id, size_t limit,
                                struct registry_offers *out, char *err, size_t errlen)
{
    return registry_offers_query(reg, ST_OFFERS_TOP_BY_TYPE, type_id, NULL, (int64_t)limit, "type",
                                 out, err, errlen);
}

int registry_offers_on_host(struct registry *reg, const char *type_id, const char *host,
                            struct registry_offers *out, char *err, size_t errlen)
{
    if (host == NULL)
        return registry_fail_plain(reg, err, errlen, "finding offers on a host: none given");
    return registry_offers_query(reg, ST_OFFERS_ON_HOST, type_id, host, -1, "type", out, err,
                                 errlen);
}

int registry_offers_count(struct registry *reg, const char *type_id, size_t cap, size_t *count,
                          char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_OFFERS_COUNT];
    *count = 0;
    if (registry_bind_text(s, 1, type_id) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, cap > INT64_MAX ? INT64_MAX : (sqlite3_int64)cap) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "counting the offers of type %s", type_id);
    }
    *count = (size_t)sqlite3_column_int64(s, 0);
    registry_done(s);
    return 0;
}

int registry_offers_by_type(struct registry *reg, const char *type_id, struct registry_offers *out,
                            char *err, size_t errlen)
{
    return registry_offers(reg, ST_OFFERS_BY_TYPE, type_id, "type", out, err, errlen);
}

int registry_offers_all_by_type(struct registry *reg, const char *type_id,
                                struct registry_offers *out, char *err, size_t errlen)
{
    return registry_offers(reg, ST_OFFERS_ALL_BY_TYPE, type_id, "type", out, err, errlen);
}

int registry_offers_by_digest(struct registry *reg, const char *digest, struct registry_offers *out,
                              char *err, size_t errlen)
{
    return registry_offers(reg, ST_OFFERS_BY_DIGEST, digest, "digest", out, err, errlen);
}

/* ---- versions ---------------------------------------------------------- */

void registry_version_rows_free(struct registry_version_rows *rows)
{
    if (rows == NULL)
        return;
    for (size_t i = 0; i < rows->count; i++) {
        struct registry_version_row *r = &rows->items[i];
        free(r->type_id);
        free(r->host);
        free(r->parent);
        free(r->collector_url);
        inv_migration_clear(&r->migration);
    }
    free(rows->items);
    memset(rows, 0, sizeof *rows);
}

int registry_versions(struct registry *reg, const char *type_id, struct registry_version_rows *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = reg->stmt[type_id != NULL ? ST_VERSIONS_OF_TYPE : ST_VERSIONS_ALL];
    size_t cap = 0;
    int rc = type_id == NULL || registry_bind_text(s, 1, type_id) == SQLITE_OK ? SQLITE_ROW
                                                                               : SQLITE_ERROR;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_grow((void **)&out->items, &cap, out->count, sizeof *out->items) < 0)
            break;
        struct registry_version_row *r = &out->items[out->count];
        memset(r, 0, sizeof *r);
        out->count++;
        r->last_seen = sqlite3_column_int64(s, 4);
        r->available_instances = registry_column_int_or(s, 5, -1);
        if (registry_column_migration(s, 6, &r->migration) < 0 ||
            registry_column_dup_str(s, 0, &r->type_id) < 0 ||
            registry_column_dup_str(s, 1, &r->host) < 0 ||
            registry_column_dup_str(s, 2, &r->parent) < 0 ||
            registry_column_dup(s, 3, &r->collector_url) < 0)
            break;
    }
    registry_done(s);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_ROW)
            registry_fail_plain(reg, err, errlen,
                                "listing versions: a bad row (digest too long) or no memory");
        else
            registry_fail(reg, err, errlen, "listing versions of %s",
                          type_id != NULL ? type_id : "every type");
        registry_version_rows_free(out);
        return -1;
    }
    return 0;
}
