/*
 * registry_internal.h — what the registry_*.c files share and registry.h
 * does not show: the connection with its prepared statements, and the
 * helpers every query uses to bind, run, read rows and report failures
 * (registry_stmt.c). Private to schema/registry*.c.
 */
#ifndef MDEVMIG_REGISTRY_INTERNAL_H
#define MDEVMIG_REGISTRY_INTERNAL_H

#include "registry.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* How long a writer waits for another (collector ingest vs. scheduler)
 * before giving up with "database is locked". */
#define REGISTRY_BUSY_TIMEOUT_MS 5000

/* One prepared statement per query; their SQL is registry_sql in
 * registry.c, prepared once at open. */
enum registry_stmt_id {
    ST_BEGIN_READ,
    ST_BEGIN_WRITE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_HOST_GENERATION,
    ST_HOST_TOUCH,
    ST_HOST_UPSERT,
    ST_HOST_DELETE,
    ST_HOST_CLEAR_PARENTS,
    ST_HOST_CLEAR_INSTANCES,
    ST_PARENT_INSERT,
    ST_TYPE_INSERT,
    ST_DEVICE_INSERT,
    ST_INSTANCE_INSERT,
    ST_INSTANCE_MDEV_INSERT,
    ST_HOSTS_LIST,
    ST_HOST_GET,
    ST_LOAD_PARENTS,
    ST_LOAD_TYPES,
    ST_LOAD_DEVICES,
    ST_LOAD_INSTANCES,
    ST_LOAD_INSTANCE_MDEVS,
    ST_OFFERS_BY_TYPE,
    ST_OFFERS_BY_DIGEST,
    ST_OFFERS_ALL_BY_TYPE,
    ST_OFFERS_TOP_BY_TYPE,
    ST_OFFERS_ON_HOST,
    ST_OFFERS_COUNT,
    ST_VERSIONS_ALL,
    ST_VERSIONS_OF_TYPE,
    ST_PROBE_CACHED,
    ST_ACCEPTING_DIGESTS,
    ST_ACCEPT_PUT,
    ST_INSTANCE_GET,
    ST_PROBE_GET,
    ST_PROBE_SAME,
    ST_PROBE_PUT,
    ST_PROBE_EXPIRE,
    ST_HOST_TOUCH_AT,
    ST_HOST_TOUCH_LATER,
    ST_SNAPSHOT_SAVEPOINT,
    ST_SNAPSHOT_RELEASE,
    ST_SNAPSHOT_ROLLBACK_TO,
    ST_SHAPE_TYPES,
    ST_SHAPE_DEVICES,
    ST_TYPE_SET_ROOM,
    ST_TYPE_SET_REST,
    ST_DEVICE_UPDATE,
    ST_COUNT
};

struct registry {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[ST_COUNT];
};

/* ---- errors and statements (registry_stmt.c) ---------------------------- */

/* "registry PATH: <what>: <SQLite's reason>", with a hint when the reason
 * is one an operator can act on. Always -1. */
__attribute__((format(printf, 4, 5))) int registry_fail(struct registry *reg, char *err,
                                                        size_t errlen, const char *fmt, ...);

/* For failures that are not SQLite's. Always -1. */
__attribute__((format(printf, 4, 5))) int registry_fail_plain(struct registry *reg, char *err,
                                                              size_t errlen, const char *fmt, ...);

/* A name for a message, even when the caller left it out. */
const char *registry_name(const char *s);

/* Makes a statement ready for its next use and lets go of its snapshot:
 * every path that steps a statement ends here. */
void registry_done(sqlite3_stmt *stmt);

int registry_bind_text(sqlite3_stmt *stmt, int index, const char *s);
/* "" and NULL mean "none" in struct inventory; both are NULL here. */
int registry_bind_text_or_null(sqlite3_stmt *stmt, int index, const char *s);
/* -1 and 0 mean "none" for counts and errnos respectively. */
int registry_bind_int_or_null(sqlite3_stmt *stmt, int index, long long value, long long none);

/* supported, version, digest, read_errno as parameters first .. first+3. */
int registry_bind_migration(sqlite3_stmt *stmt, int first, const struct inv_migration *mig);
/* A type row's key as parameters 1 .. 3. */
int registry_bind_type_key(sqlite3_stmt *stmt, const char *host, const char *parent,
                           const char *type_id);

/* Runs a statement that returns no rows (its parameters already bound):
 * 0, or -1 with the reason in SQLite's errmsg. */
int registry_run(sqlite3_stmt *stmt);

/* Transactions: which is ST_BEGIN_READ or ST_BEGIN_WRITE. A rollback
 * reports nothing: the failure that led to it is the message. */
int registry_begin(struct registry *reg, enum registry_stmt_id which, char *err, size_t errlen);
int registry_commit(struct registry *reg, char *err, size_t errlen);
void registry_rollback(struct registry *reg);

/* ---- snapshot rows (registry_snapshot.c, registry_inplace.c) ---------- */

/* Writes inv over the host's rows when they have its parents, types and
 * devices, keyed and ordered as inv has them: 1 when done so (instances
 * are the caller's), 0 when the shape differs and nothing was written,
 * -1 on error. */
int registry_inplace_write(struct registry *reg, const struct inventory *inv, char *err,
                           size_t errlen);

/* ---- column readers (registry_stmt.c) ----------------------------------- */

/* A copy of a text column; NULL column gives NULL. -1 on allocation
 * failure. */
int registry_column_dup(sqlite3_stmt *stmt, int col, char **out);
/* Like registry_column_dup() but never NULL: "" for a NULL column. */
int registry_column_dup_str(sqlite3_stmt *stmt, int col, char **out);
/* Into a fixed buffer; "" for NULL. -1 when it does not fit, which means
 * the file was written by something else. */
int registry_column_copy(sqlite3_stmt *stmt, int col, char *out, size_t size);
int registry_column_int_or(sqlite3_stmt *stmt, int col, int none);
/* supported, version, digest, read_errno at columns col .. col+3. */
int registry_column_migration(sqlite3_stmt *stmt, int col, struct inv_migration *out);

/* Room for one more element in a growing array: 0, or -1 (out of memory). */
int registry_grow(void **items, size_t *cap, size_t count, size_t size);

#endif
