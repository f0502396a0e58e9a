/*
 * registry — the SQLite store behind registry.h. Collectors write a host's
 * snapshot in one BEGIN IMMEDIATE transaction; schedulers read with single
 * statements or inside one read transaction, so WAL lets both run at once
 * and a reader never sees half a snapshot. Every statement is prepared
 * once, at open, and reset after each use, so a hot query costs a bind and
 * a step; an unreset statement would hold its read snapshot open and stop
 * WAL checkpoints, which is why every path below ends in registry_done().
 * With synchronous=NORMAL in WAL a commit does not fsync; only checkpoints
 * do, so a crash can lose the last commits but never corrupt the file, and
 * the next snapshot or probe puts them back.
 */
#include "registry.h"

#include "migrate.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* How long a writer waits for another (collector ingest vs. scheduler)
 * before giving up with "database is locked". */
#define REGISTRY_BUSY_TIMEOUT_MS 5000

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
    ST_VERSIONS,
    ST_PROBE_CACHED,
    ST_INSTANCE_GET,
    ST_PROBE_GET,
    ST_PROBE_PUT,
    ST_PROBE_EXPIRE,
    ST_COUNT
};

/* The columns of an offer, shared by both candidate queries. */
#define OFFER_COLUMNS                                                                              \
    "SELECT t.host, h.collector_url, h.last_seen, t.parent, t.type_id, t.available_instances, "    \
    "t.digest, (SELECT d.uuid FROM devices d WHERE d.host = t.host AND d.parent = t.parent "       \
    "AND d.type_id = t.type_id AND d.instance IS NULL ORDER BY d.uuid LIMIT 1) "                   \
    "FROM types t JOIN hosts h ON h.name = t.host "

/* Snapshot order is insertion order: a replace rewrites every row of a
 * host, so rowid order is the order the collector published. */
static const char *const registry_sql[ST_COUNT] = {
    [ST_BEGIN_READ] = "BEGIN",
    [ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_HOST_GENERATION] = "SELECT generation FROM hosts WHERE name = ?1",
    [ST_HOST_TOUCH] = "UPDATE hosts SET last_seen = ?2 WHERE name = ?1",
    [ST_HOST_UPSERT] = "INSERT INTO hosts (name, collector_url, generation, last_seen, scanned_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET "
                       "collector_url = excluded.collector_url, generation = excluded.generation, "
                       "last_seen = excluded.last_seen, scanned_at = excluded.scanned_at",
    [ST_HOST_DELETE] = "DELETE FROM hosts WHERE name = ?1",
    /* Types and devices go with their parents (ON DELETE CASCADE);
     * instance_mdevs with their instances. */
    [ST_HOST_CLEAR_PARENTS] = "DELETE FROM parents WHERE host = ?1",
    [ST_HOST_CLEAR_INSTANCES] = "DELETE FROM instances WHERE host = ?1",
    [ST_PARENT_INSERT] = "INSERT INTO parents (host, name) VALUES (?1, ?2)",
    [ST_TYPE_INSERT] = "INSERT INTO types (host, parent, type_id, name, description, device_api, "
                       "available_instances, migration_supported, version, digest, read_errno) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_DEVICE_INSERT] =
        "INSERT INTO devices (host, uuid, parent, type_id, iommu_group, migration_supported, "
        "version, digest, read_errno, instance) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_INSTANCE_INSERT] =
        "INSERT INTO instances (host, uuid, name, state) VALUES (?1, ?2, ?3, ?4)",
    [ST_INSTANCE_MDEV_INSERT] =
        "INSERT INTO instance_mdevs (host, instance, mdev) VALUES (?1, ?2, ?3)",
    [ST_HOSTS_LIST] =
        "SELECT name, collector_url, generation, last_seen, scanned_at FROM hosts ORDER BY name",
    [ST_HOST_GET] = "SELECT collector_url, generation, scanned_at FROM hosts WHERE name = ?1",
    [ST_LOAD_PARENTS] = "SELECT name FROM parents WHERE host = ?1 ORDER BY rowid",
    [ST_LOAD_TYPES] = "SELECT parent, type_id, name, description, device_api, "
                      "available_instances, migration_supported, version, digest, read_errno "
                      "FROM types WHERE host = ?1 ORDER BY rowid",
    [ST_LOAD_DEVICES] = "SELECT uuid, parent, type_id, iommu_group, migration_supported, "
                        "version, digest, read_errno, instance "
                        "FROM devices WHERE host = ?1 ORDER BY rowid",
    [ST_LOAD_INSTANCES] = "SELECT uuid, name, state FROM instances WHERE host = ?1 ORDER BY rowid",
    [ST_LOAD_INSTANCE_MDEVS] =
        "SELECT instance, mdev FROM instance_mdevs WHERE host = ?1 ORDER BY rowid",
    [ST_OFFERS_BY_TYPE] = OFFER_COLUMNS "WHERE t.type_id = ?1 AND t.available_instances > 0 "
                                        "ORDER BY t.available_instances DESC, t.host, t.parent",
    [ST_OFFERS_BY_DIGEST] = OFFER_COLUMNS "WHERE t.digest = ?1 ORDER BY t.host, t.parent",
    [ST_OFFERS_ALL_BY_TYPE] = OFFER_COLUMNS "WHERE t.type_id = ?1 ORDER BY t.host, t.parent",
    [ST_OFFERS_TOP_BY_TYPE] =
        OFFER_COLUMNS "WHERE t.type_id = ?1 AND t.available_instances > 0 "
                      "ORDER BY t.available_instances DESC, t.host, t.parent LIMIT ?2",
    [ST_OFFERS_ON_HOST] = OFFER_COLUMNS "WHERE t.type_id = ?1 AND t.host = ?2 ORDER BY t.parent",
    [ST_OFFERS_COUNT] = "SELECT count(*) FROM types WHERE type_id = ?1",
    /* ?1 NULL: every type. Rows without a digest sort last (NULLS LAST). */
    [ST_VERSIONS] =
        "SELECT t.type_id, t.host, t.parent, h.collector_url, h.last_seen, t.available_instances, "
        "t.migration_supported, t.version, t.digest, t.read_errno "
        "FROM types t JOIN hosts h ON h.name = t.host WHERE ?1 IS NULL OR t.type_id = ?1 "
        "ORDER BY t.type_id, t.digest IS NULL, t.digest, t.read_errno, t.host, t.parent",
    [ST_INSTANCE_GET] =
        "SELECT i.host, h.collector_url, h.last_seen, i.name, i.state, m.mdev, "
        "d.uuid IS NOT NULL, d.parent, d.type_id, d.migration_supported, d.version, d.digest, "
        "d.read_errno "
        "FROM instances i JOIN hosts h ON h.name = i.host "
        "LEFT JOIN instance_mdevs m ON m.host = i.host AND m.instance = i.uuid "
        "LEFT JOIN devices d ON d.host = m.host AND d.uuid = m.mdev "
        "WHERE i.uuid = lower(?1) "
        "ORDER BY i.state = 'running' DESC, h.last_seen DESC, i.host, m.rowid",
    [ST_PROBE_CACHED] = "SELECT target_host, target_digest, verdict, errno FROM probe_cache "
                        "WHERE source_digest = ?1 AND level = ?2 AND target = ?3",
    [ST_PROBE_GET] = "SELECT verdict, errno, checked_at FROM probe_cache "
                     "WHERE source_digest = ?1 AND target_host = ?2 AND level = ?3 "
                     "AND target = ?4 AND target_digest = ?5",
    [ST_PROBE_PUT] =
        "INSERT INTO probe_cache (source_digest, target_host, level, target, target_digest, "
        "verdict, errno, checked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT (source_digest, target_host, level, target) DO UPDATE SET "
        "target_digest = excluded.target_digest, verdict = excluded.verdict, "
        "errno = excluded.errno, checked_at = excluded.checked_at "
        "WHERE excluded.checked_at >= probe_cache.checked_at",
    [ST_PROBE_EXPIRE] = "DELETE FROM probe_cache WHERE checked_at < ?1",
};

struct registry {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[ST_COUNT];
};

/* ---- errors and statements --------------------------------------------- */

/* "registry PATH: <what>: <SQLite's reason>", with a hint when the reason
 * is a lock held too long, which an operator can act on. */
__attribute__((format(printf, 4, 5))) static int registry_fail(struct registry *reg, char *err,
                                                               size_t errlen, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char hint[96] = "";
    int code = sqlite3_errcode(reg->db);
    if (code == SQLITE_BUSY)
        snprintf(hint, sizeof hint, " (another process held the registry for over %d s)",
                 REGISTRY_BUSY_TIMEOUT_MS / 1000);
    else if (code == SQLITE_READONLY)
        snprintf(hint, sizeof hint, " (is the file or its directory writable?)");
    snprintf(err, errlen, "registry %s: %s: %s%s", reg->path, what, sqlite3_errmsg(reg->db), hint);
    return -1;
}

/* For failures that are not SQLite's. */
__attribute__((format(printf, 4, 5))) static int
registry_fail_plain(struct registry *reg, char *err, size_t errlen, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "registry %s: %s", reg->path, what);
    return -1;
}

/* A name for a message, even when the caller left it out. */
static const char *registry_name(const char *s)
{
    return s != NULL ? s : "(none)";
}

/* Makes a statement ready for its next use and lets go of its snapshot. */
static void registry_done(sqlite3_stmt *stmt)
{
    /* sqlite3_reset() repeats the last step's error, already reported. */
    (void)sqlite3_reset(stmt);
    (void)sqlite3_clear_bindings(stmt);
}

static int registry_bind_text(sqlite3_stmt *stmt, int index, const char *s)
{
    return s == NULL ? sqlite3_bind_null(stmt, index)
                     : sqlite3_bind_text(stmt, index, s, -1, SQLITE_STATIC);
}

/* "" and NULL mean "none" in struct inventory; both are NULL here. */
static int registry_bind_text_or_null(sqlite3_stmt *stmt, int index, const char *s)
{
    return registry_bind_text(stmt, index, s != NULL && *s != '\0' ? s : NULL);
}

/* -1 and 0 mean "none" for counts and errnos respectively. */
static int registry_bind_int_or_null(sqlite3_stmt *stmt, int index, long long value, long long none)
{
    return value == none ? sqlite3_bind_null(stmt, index) : sqlite3_bind_int64(stmt, index, value);
}

/* Runs a statement that returns no rows (its parameters already bound). */
static int registry_run(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    registry_done(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int registry_begin(struct registry *reg, enum registry_stmt_id which, char *err,
                          size_t errlen)
{
    if (registry_run(reg->stmt[which]) < 0)
        return registry_fail(reg, err, errlen, "starting a transaction");
    return 0;
}

static int registry_commit(struct registry *reg, char *err, size_t errlen)
{
    if (registry_run(reg->stmt[ST_COMMIT]) < 0)
        return registry_fail(reg, err, errlen, "committing");
    return 0;
}

/* After a failure inside a transaction: the message in err is the one that
 * matters, so ROLLBACK's own outcome is not reported. SQLite may already
 * have rolled back (e.g. on SQLITE_FULL), hence the autocommit test. */
static void registry_rollback(struct registry *reg)
{
    if (!sqlite3_get_autocommit(reg->db))
        (void)registry_run(reg->stmt[ST_ROLLBACK]);
}

/* ---- column readers ---------------------------------------------------- */

/* A copy of a text column; NULL column gives NULL. -1 on allocation
 * failure. */
static int registry_column_dup(sqlite3_stmt *stmt, int col, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return 0;
    const unsigned char *s = sqlite3_column_text(stmt, col);
    if (s == NULL)
        return -1; /* not NULL yet no text: out of memory */
    *out = strdup((const char *)s);
    return *out == NULL ? -1 : 0;
}

/* Like registry_column_dup() but never NULL: "" for a NULL column. */
static int registry_column_dup_str(sqlite3_stmt *stmt, int col, char **out)
{
    if (registry_column_dup(stmt, col, out) < 0)
        return -1;
    if (*out == NULL)
        *out = strdup("");
    return *out == NULL ? -1 : 0;
}

/* Copies a text column into a fixed buffer; "" for NULL. -1 when it does
 * not fit, which means the file was written by something else. */
static int registry_column_copy(sqlite3_stmt *stmt, int col, char *out, size_t size)
{
    out[0] = '\0';
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return 0;
    const unsigned char *s = sqlite3_column_text(stmt, col);
    size_t len = (size_t)sqlite3_column_bytes(stmt, col);
    if (s == NULL || len >= size)
        return -1;
    memcpy(out, s, len + 1);
    return 0;
}

static int registry_column_int_or(sqlite3_stmt *stmt, int col, int none)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL ? none : sqlite3_column_int(stmt, col);
}

/* supported, version, digest, read_errno at columns col .. col+3. */
static int registry_column_migration(sqlite3_stmt *stmt, int col, struct inv_migration *out)
{
    memset(out, 0, sizeof *out);
    out->supported = sqlite3_column_int(stmt, col) != 0;
    out->read_errno = registry_column_int_or(stmt, col + 3, 0);
    if (registry_column_dup(stmt, col + 1, &out->version) < 0 ||
        registry_column_copy(stmt, col + 2, out->digest, sizeof out->digest) < 0) {
        inv_migration_clear(out);
        return -1;
    }
    return 0;
}

/* Room for one more element in a growing array. */
static int registry_grow(void **items, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t next = *cap == 0 ? 8 : *cap * 2;
    if (next > SIZE_MAX / size)
        return -1;
    void *grown = realloc(*items, next * size);
    if (grown == NULL)
        return -1;
    *items = grown;
    *cap = next;
    return 0;
}

/* ---- open and close ---------------------------------------------------- */

/* A PRAGMA that answers with one text value (journal_mode). */
static int registry_pragma_text(struct registry *reg, const char *sql, char *out, size_t size,
                                char *err, size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(reg->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return registry_fail(reg, err, errlen, "%s", sql);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW || registry_column_copy(stmt, 0, out, size) < 0) {
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            registry_fail_plain(reg, err, errlen, "%s: unexpected answer", sql);
        else
            registry_fail(reg, err, errlen, "%s", sql);
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return 0;
}

static int registry_exec(struct registry *reg, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_exec(reg->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return registry_fail(reg, err, errlen, "%s", sql);
    return 0;
}

static int registry_setup(struct registry *reg, char *err, size_t errlen)
{
    char where[1100];
    snprintf(where, sizeof where, "registry %s", reg->path);
    if (sqlite3_busy_timeout(reg->db, REGISTRY_BUSY_TIMEOUT_MS) != SQLITE_OK)
        return registry_fail(reg, err, errlen, "setting the busy timeout");
    /* Before anything writes: a wrong path must not gain a WAL file or
     * tables. */
    if (migrate_check(reg->db, where, migrate_embedded_count, err, errlen) < 0)
        return -1;
    if (sqlite3_db_readonly(reg->db, "main") == 1)
        return registry_fail_plain(reg, err, errlen,
                                   "the file is read-only to this process; the registry needs "
                                   "to write to it and to its directory");

    char mode[16];
    if (registry_pragma_text(reg, "PRAGMA journal_mode = WAL", mode, sizeof mode, err, errlen) < 0)
        return -1;
    /* An in-memory database (tests, tools) cannot do WAL and needs not. */
    if (strcasecmp(mode, "wal") != 0 && strcasecmp(mode, "memory") != 0)
        return registry_fail_plain(reg, err, errlen,
                                   "cannot switch to WAL mode (journal mode stays \"%s\"); is the "
                                   "file on a network file system?",
                                   mode);
    if (registry_exec(reg, "PRAGMA synchronous = NORMAL", err, errlen) < 0)
        return -1;
    if (migrate_apply(reg->db, where, migrate_embedded, migrate_embedded_count, err, errlen) < 0)
        return -1;
    if (registry_exec(reg, "PRAGMA foreign_keys = ON", err, errlen) < 0)
        return -1;
    /* Cascades and snapshot integrity depend on it; an SQLite built
     * without foreign keys answers nothing or 0. */
    char fk[8];
    if (registry_pragma_text(reg, "PRAGMA foreign_keys", fk, sizeof fk, err, errlen) < 0 ||
        strcmp(fk, "1") != 0)
        return registry_fail_plain(reg, err, errlen,
                                   "this SQLite does not enforce foreign keys; the registry "
                                   "needs them");

    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(reg->db, registry_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &reg->stmt[i], NULL) != SQLITE_OK)
            return registry_fail(reg, err, errlen, "preparing \"%s\"", registry_sql[i]);
    }
    return 0;
}

int registry_open(const char *path, struct registry **out, char *err, size_t errlen)
{
    *out = NULL;
    if (path == NULL || *path == '\0') {
        snprintf(err, errlen, "registry: no file given");
        return -1;
    }
    struct registry *reg = calloc(1, sizeof *reg);
    if (reg == NULL || (reg->path = strdup(path)) == NULL) {
        snprintf(err, errlen, "registry %s: out of memory", path);
        free(reg);
        return -1;
    }
    /* SQLite would create the file 0644 (less the umask): the registry
     * holds the cluster's layout and each collector's URL, so it is made
     * here, owner-only, and SQLite opens what exists. */
    bool in_memory = strcmp(path, ":memory:") == 0;
    int fd = in_memory ? -1 : open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 || in_memory) {
        if (fd >= 0)
            close(fd);
    } else if (errno != EEXIST) {
        snprintf(err, errlen, "registry %s: unable to open: %s", path, strerror(errno));
        free(reg->path);
        free(reg);
        return -1;
    }
    int rc = sqlite3_open_v2(path, &reg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        if (reg->db == NULL)
            snprintf(err, errlen, "registry %s: out of memory", path);
        else
            registry_fail(reg, err, errlen, "opening");
        registry_close(reg);
        return -1;
    }
    if (registry_setup(reg, err, errlen) < 0) {
        registry_close(reg);
        return -1;
    }
    *out = reg;
    return 0;
}

int registry_check(struct registry *reg, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
        return registry_fail(reg, err, errlen, "checking");
    int rc = sqlite3_step(st);
    const char *first = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int out = 0;
    if (rc != SQLITE_ROW) {
        out = registry_fail(reg, err, errlen, "checking");
    } else if (first == NULL || strcmp(first, "ok") != 0) {
        /* Its report is several lines; the log wants one. */
        char damage[320];
        snprintf(damage, sizeof damage, "%s", first != NULL ? first : "no answer");
        for (char *c = damage; *c != '\0'; c++)
            if (*c == '\n')
                *c = ' ';
        first = damage;
        snprintf(err, errlen,
                 "registry %s is damaged (%.300s); move it aside or restore a copy: a new "
                 "registry fills again from the collectors' next publishes",
                 reg->path, first != NULL ? first : "no answer");
        out = -1;
    }
    sqlite3_finalize(st);
    return out;
}

void registry_close(struct registry *reg)
{
    if (reg == NULL)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(reg->stmt[i]);
    /* With every statement finalised, closing cannot be refused; _v2
     * would defer rather than leak if one were missed. */
    (void)sqlite3_close_v2(reg->db);
    free(reg->path);
    free(reg);
}

/* ---- snapshots --------------------------------------------------------- */

static int registry_insert_type(struct registry *reg, const char *host, const char *parent,
                                const struct inv_type *type, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_TYPE_INSERT];
    const struct inv_migration *mig = &type->migration;
    if (registry_bind_text(s, 1, host) != SQLITE_OK ||
        registry_bind_text(s, 2, parent) != SQLITE_OK ||
        registry_bind_text(s, 3, type->id) != SQLITE_OK ||
        registry_bind_text(s, 4, type->name != NULL ? type->name : "") != SQLITE_OK ||
        registry_bind_text(s, 5, type->description != NULL ? type->description : "") != SQLITE_OK ||
        registry_bind_text(s, 6, type->device_api != NULL ? type->device_api : "") != SQLITE_OK ||
        registry_bind_int_or_null(s, 7, type->available_instances, -1) != SQLITE_OK ||
        sqlite3_bind_int(s, 8, mig->supported) != SQLITE_OK ||
        registry_bind_text(s, 9, mig->version) != SQLITE_OK ||
        registry_bind_text_or_null(s, 10, mig->version != NULL ? mig->digest : NULL) != SQLITE_OK ||
        registry_bind_int_or_null(s, 11, mig->read_errno, 0) != SQLITE_OK || registry_run(s) < 0) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "storing type %s on parent %s of host %s",
                             registry_name(type->id), registry_name(parent), host);
    }
    return 0;
}

static int registry_insert_device(struct registry *reg, const char *host,
                                  const struct inv_device *dev, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_DEVICE_INSERT];
    const struct inv_migration *mig = &dev->migration;
    if (registry_bind_text(s, 1, host) != SQLITE_OK ||
        registry_bind_text(s, 2, dev->uuid) != SQLITE_OK ||
        registry_bind_text(s, 3, dev->parent) != SQLITE_OK ||
        registry_bind_text(s, 4, dev->type) != SQLITE_OK ||
        registry_bind_int_or_null(s, 5, dev->iommu_group, -1) != SQLITE_OK ||
        sqlite3_bind_int(s, 6, mig->supported) != SQLITE_OK ||
        registry_bind_text(s, 7, mig->version) != SQLITE_OK ||
        registry_bind_text_or_null(s, 8, mig->version != NULL ? mig->digest : NULL) != SQLITE_OK ||
        registry_bind_int_or_null(s, 9, mig->read_errno, 0) != SQLITE_OK ||
        registry_bind_text_or_null(s, 10, dev->instance) != SQLITE_OK || registry_run(s) < 0) {
        registry_done(s);
        /* A device naming a parent/type the snapshot lacks breaks the
         * foreign key, whose message does not say which. */
        return registry_fail(reg, err, errlen, "storing device %s (parent %s, type %s) of host %s",
                             dev->uuid, registry_name(dev->parent), registry_name(dev->type), host);
    }
    return 0;
}

static int registry_insert_instance(struct registry *reg, const char *host,
                                    const struct inv_instance *vm, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_INSTANCE_INSERT];
    if (registry_bind_text(s, 1, host) != SQLITE_OK ||
        registry_bind_text(s, 2, vm->uuid) != SQLITE_OK ||
        registry_bind_text(s, 3, vm->name != NULL ? vm->name : "") != SQLITE_OK ||
        registry_bind_text(s, 4, vm->state != NULL ? vm->state : "") != SQLITE_OK ||
        registry_run(s) < 0) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "storing instance %s of host %s", vm->uuid, host);
    }
    s = reg->stmt[ST_INSTANCE_MDEV_INSERT];
    for (size_t m = 0; m < vm->mdev_count; m++) {
        if (registry_bind_text(s, 1, host) != SQLITE_OK ||
            registry_bind_text(s, 2, vm->uuid) != SQLITE_OK ||
            registry_bind_text(s, 3, vm->mdevs[m]) != SQLITE_OK || registry_run(s) < 0) {
            registry_done(s);
            return registry_fail(reg, err, errlen, "storing mdev %s of instance %s of host %s",
                                 vm->mdevs[m], vm->uuid, host);
        }
    }
    return 0;
}

/* The body of registry_replace_host(), inside its write transaction. */
static int registry_replace_locked(struct registry *reg, const struct inventory *inv, int64_t now,
                                   char *err, size_t errlen)
{
    const char *host = inv->host;
    sqlite3_stmt *s = reg->stmt[ST_HOST_GENERATION];
    if (registry_bind_text(s, 1, host) != SQLITE_OK) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "reading the generation of host %s", host);
    }
    int rc = sqlite3_step(s);
    bool known = rc == SQLITE_ROW;
    int64_t stored = known ? sqlite3_column_int64(s, 0) : 0;
    registry_done(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return registry_fail(reg, err, errlen, "reading the generation of host %s", host);
    if (known && stored > inv->generation)
        return 1;
    if (known && stored == inv->generation) {
        s = reg->stmt[ST_HOST_TOUCH];
        if (registry_bind_text(s, 1, host) != SQLITE_OK ||
            sqlite3_bind_int64(s, 2, now) != SQLITE_OK || registry_run(s) < 0) {
            registry_done(s);
            return registry_fail(reg, err, errlen, "refreshing last_seen of host %s", host);
        }
        return 0;
    }

    s = reg->stmt[ST_HOST_UPSERT];
    if (registry_bind_text(s, 1, host) != SQLITE_OK ||
        registry_bind_text_or_null(s, 2, inv->collector_url) != SQLITE_OK ||
        sqlite3_bind_int64(s, 3, inv->generation) != SQLITE_OK ||
        sqlite3_bind_int64(s, 4, now) != SQLITE_OK ||
        sqlite3_bind_int64(s, 5, inv->scanned_at) != SQLITE_OK || registry_run(s) < 0) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "storing host %s", host);
    }
    /* The host row stays (an UPDATE, not a DELETE): deleting it would
     * cascade to the probe cache, whose verdicts outlive snapshots. */
    static const enum registry_stmt_id clear[] = {ST_HOST_CLEAR_PARENTS, ST_HOST_CLEAR_INSTANCES};
    for (size_t i = 0; i < sizeof clear / sizeof clear[0]; i++) {
        s = reg->stmt[clear[i]];
        if (registry_bind_text(s, 1, host) != SQLITE_OK || registry_run(s) < 0) {
            registry_done(s);
            return registry_fail(reg, err, errlen, "removing the previous snapshot of host %s",
                                 host);
        }
    }

    for (size_t p = 0; p < inv->parent_count; p++) {
        const struct inv_parent *parent = &inv->parents[p];
        s = reg->stmt[ST_PARENT_INSERT];
        if (registry_bind_text(s, 1, host) != SQLITE_OK ||
            registry_bind_text(s, 2, parent->name) != SQLITE_OK || registry_run(s) < 0) {
            registry_done(s);
            return registry_fail(reg, err, errlen, "storing parent %s of host %s",
                                 registry_name(parent->name), host);
        }
        for (size_t t = 0; t < parent->type_count; t++) {
            if (registry_insert_type(reg, host, parent->name, &parent->types[t], err, errlen) < 0)
                return -1;
        }
    }
    for (size_t d = 0; d < inv->device_count; d++) {
        if (registry_insert_device(reg, host, &inv->devices[d], err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < inv->instance_count; i++) {
        if (registry_insert_instance(reg, host, &inv->instances[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

int registry_replace_host(struct registry *reg, const struct inventory *inv, int64_t now, char *err,
                          size_t errlen)
{
    if (inv == NULL || inv->host == NULL || inv->host[0] == '\0')
        return registry_fail_plain(reg, err, errlen, "a snapshot without a host name");
    /* IMMEDIATE: take the write lock before reading the generation, so two
     * publishers of one host cannot both decide they are the newer. */
    if (registry_begin(reg, ST_BEGIN_WRITE, err, errlen) < 0)
        return -1;
    int rc = registry_replace_locked(reg, inv, now, err, errlen);
    if (rc >= 0 && registry_commit(reg, err, errlen) < 0)
        rc = -1;
    if (rc < 0)
        registry_rollback(reg);
    return rc;
}

/* A statement keyed by host name alone that changes at most one host row:
 * 0 when it did, 1 when no such host. */
static int registry_host_change(struct registry *reg, enum registry_stmt_id id, const char *host,
                                int64_t now, const char *what, char *err, size_t errlen)
{
    if (host == NULL)
        return registry_fail_plain(reg, err, errlen, "%s: no host name given", what);
    sqlite3_stmt *s = reg->stmt[id];
    if (registry_bind_text(s, 1, host) != SQLITE_OK ||
        (id == ST_HOST_TOUCH && sqlite3_bind_int64(s, 2, now) != SQLITE_OK) ||
        registry_run(s) < 0) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "%s %s", what, host);
    }
    return sqlite3_changes(reg->db) > 0 ? 0 : 1;
}

int registry_touch_host(struct registry *reg, const char *host, int64_t now, char *err,
                        size_t errlen)
{
    return registry_host_change(reg, ST_HOST_TOUCH, host, now, "refreshing last_seen of host", err,
                                errlen);
}

int registry_forget_host(struct registry *reg, const char *host, char *err, size_t errlen)
{
    return registry_host_change(reg, ST_HOST_DELETE, host, 0, "removing host", err, errlen);
}

/* ---- hosts ------------------------------------------------------------- */

void registry_hosts_free(struct registry_hosts *hosts)
{
    if (hosts == NULL)
        return;
    for (size_t i = 0; i < hosts->count; i++) {
        free(hosts->items[i].name);
        free(hosts->items[i].collector_url);
    }
    free(hosts->items);
    memset(hosts, 0, sizeof *hosts);
}

int registry_list_hosts(struct registry *reg, struct registry_hosts *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = reg->stmt[ST_HOSTS_LIST];
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_grow((void **)&out->items, &cap, out->count, sizeof *out->items) < 0)
            break;
        struct registry_host *h = &out->items[out->count];
        memset(h, 0, sizeof *h);
        out->count++;
        h->generation = sqlite3_column_int64(s, 2);
        h->last_seen = sqlite3_column_int64(s, 3);
        h->scanned_at = sqlite3_column_int64(s, 4);
        if (registry_column_dup_str(s, 0, &h->name) < 0 ||
            registry_column_dup(s, 1, &h->collector_url) < 0)
            break;
    }
    registry_done(s);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_ROW)
            registry_fail_plain(reg, err, errlen, "listing hosts: out of memory");
        else
            registry_fail(reg, err, errlen, "listing hosts");
        registry_hosts_free(out);
        return -1;
    }
    return 0;
}

/* Reads the rows of one host's table into inv; returns 0, or -1 with a
 * message naming the table. */
static int registry_load_parents(struct registry *reg, const char *host, struct inventory *inv,
                                 char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_LOAD_PARENTS];
    size_t cap = 0;
    int rc = registry_bind_text(s, 1, host) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_grow((void **)&inv->parents, &cap, inv->parent_count, sizeof *inv->parents) <
            0)
            break;
        struct inv_parent *p = &inv->parents[inv->parent_count];
        memset(p, 0, sizeof *p);
        inv->parent_count++;
        if (registry_column_dup_str(s, 0, &p->name) < 0)
            break;
    }
    registry_done(s);
    if (rc == SQLITE_ROW)
        return registry_fail_plain(reg, err, errlen, "loading host %s: out of memory", host);
    if (rc != SQLITE_DONE)
        return registry_fail(reg, err, errlen, "loading the parents of host %s", host);
    return 0;
}

static struct inv_parent *registry_find_parent(struct inventory *inv, const char *name,
                                               size_t *hint)
{
    /* Types come in parent order, so the last match almost always hits. */
    if (*hint < inv->parent_count && strcmp(inv->parents[*hint].name, name) == 0)
        return &inv->parents[*hint];
    for (size_t p = 0; p < inv->parent_count; p++) {
        if (strcmp(inv->parents[p].name, name) == 0) {
            *hint = p;
            return &inv->parents[p];
        }
    }
    return NULL;
}

static int registry_load_types(struct registry *reg, const char *host, struct inventory *inv,
                               char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_LOAD_TYPES];
    /* Capacities per parent; the arrays grow as rows arrive. */
    size_t *caps = calloc(inv->parent_count + 1, sizeof *caps);
    if (caps == NULL)
        return registry_fail_plain(reg, err, errlen, "loading host %s: out of memory", host);
    size_t hint = 0;
    bool corrupt = false;
    int rc = registry_bind_text(s, 1, host) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *parent_name = (const char *)sqlite3_column_text(s, 0);
        struct inv_parent *p =
            parent_name != NULL ? registry_find_parent(inv, parent_name, &hint) : NULL;
        if (p == NULL) {
            corrupt = true; /* the foreign key rules this out */
            break;
        }
        size_t index = (size_t)(p - inv->parents);
        if (registry_grow((void **)&p->types, &caps[index], p->type_count, sizeof *p->types) < 0)
            break;
        struct inv_type *t = &p->types[p->type_count];
        memset(t, 0, sizeof *t);
        p->type_count++;
        t->available_instances = registry_column_int_or(s, 5, -1);
        if (registry_column_dup_str(s, 1, &t->id) < 0 ||
            registry_column_dup_str(s, 2, &t->name) < 0 ||
            registry_column_dup_str(s, 3, &t->description) < 0 ||
            registry_column_dup_str(s, 4, &t->device_api) < 0 ||
            registry_column_migration(s, 6, &t->migration) < 0)
            break;
    }
    registry_done(s);
    free(caps);
    if (corrupt)
        return registry_fail_plain(reg, err, errlen,
                                   "loading host %s: a type names a parent the host lacks", host);
    if (rc == SQLITE_ROW)
        return registry_fail_plain(reg, err, errlen, "loading host %s: out of memory", host);
    if (rc != SQLITE_DONE)
        return registry_fail(reg, err, errlen, "loading the types of host %s", host);
    return 0;
}

static int registry_load_devices(struct registry *reg, const char *host, struct inventory *inv,
                                 char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_LOAD_DEVICES];
    size_t cap = 0;
    bool corrupt = false;
    int rc = registry_bind_text(s, 1, host) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_grow((void **)&inv->devices, &cap, inv->device_count, sizeof *inv->devices) <
            0)
            break;
        struct inv_device *d = &inv->devices[inv->device_count];
        memset(d, 0, sizeof *d);
        inv->device_count++;
        d->iommu_group = registry_column_int_or(s, 3, -1);
        if (registry_column_copy(s, 0, d->uuid, sizeof d->uuid) < 0 ||
            registry_column_copy(s, 8, d->instance, sizeof d->instance) < 0) {
            corrupt = true;
            break;
        }
        if (registry_column_dup_str(s, 1, &d->parent) < 0 ||
            registry_column_dup_str(s, 2, &d->type) < 0 ||
            registry_column_migration(s, 4, &d->migration) < 0)
            break;
    }
    registry_done(s);
    if (corrupt)
        return registry_fail_plain(reg, err, errlen,
                                   "loading host %s: a device or instance UUID is too long", host);
    if (rc == SQLITE_ROW)
        return registry_fail_plain(reg, err, errlen, "loading host %s: out of memory", host);
    if (rc != SQLITE_DONE)
        return registry_fail(reg, err, errlen, "loading the devices of host %s", host);
    return 0;
}

static int registry_load_instances(struct registry *reg, const char *host, struct inventory *inv,
                                   char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_LOAD_INSTANCES];
    size_t cap = 0;
    bool corrupt = false;
    int rc = registry_bind_text(s, 1, host) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_grow((void **)&inv->instances, &cap, inv->instance_count,
                          sizeof *inv->instances) < 0)
            break;
        struct inv_instance *vm = &inv->instances[inv->instance_count];
        memset(vm, 0, sizeof *vm);
        inv->instance_count++;
        if (registry_column_copy(s, 0, vm->uuid, sizeof vm->uuid) < 0) {
            corrupt = true;
            break;
        }
        if (registry_column_dup_str(s, 1, &vm->name) < 0 ||
            registry_column_dup_str(s, 2, &vm->state) < 0)
            break;
    }
    registry_done(s);
    if (corrupt)
        return registry_fail_plain(reg, err, errlen,
                                   "loading host %s: an instance UUID is too long", host);
    if (rc == SQLITE_ROW)
        return registry_fail_plain(reg, err, errlen, "loading host %s: out of memory", host);
    if (rc != SQLITE_DONE)
        return registry_fail(reg, err, errlen, "loading the instances of host %s", host);

    /* Every instance's mdevs in one pass; caps[i] is instance i's room. */
    size_t *caps = calloc(inv->instance_count + 1, sizeof *caps);
    if (caps == NULL)
        return registry_fail_plain(reg, err, errlen, "loading host %s: out of memory", host);
    s = reg->stmt[ST_LOAD_INSTANCE_MDEVS];
    size_t hint = 0;
    rc = registry_bind_text(s, 1, host) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *uuid = (const char *)sqlite3_column_text(s, 0);
        struct inv_instance *vm = NULL;
        for (size_t n = 0; uuid != NULL && n < inv->instance_count && vm == NULL; n++) {
            size_t i = (hint + n) % inv->instance_count; /* rows come grouped */
            if (strcmp(inv->instances[i].uuid, uuid) == 0) {
                vm = &inv->instances[i];
                hint = i;
            }
        }
        if (vm == NULL) {
            corrupt = true;
            break;
        }
        if (registry_grow((void **)&vm->mdevs, &caps[hint], vm->mdev_count, sizeof *vm->mdevs) < 0)
            break;
        if (registry_column_copy(s, 1, vm->mdevs[vm->mdev_count], sizeof vm->mdevs[0]) < 0) {
            corrupt = true;
            break;
        }
        vm->mdev_count++;
    }
    registry_done(s);
    free(caps);
    if (corrupt)
        return registry_fail_plain(reg, err, errlen,
                                   "loading host %s: an instance's mdev list does not fit", host);
    if (rc == SQLITE_ROW)
        return registry_fail_plain(reg, err, errlen, "loading host %s: out of memory", host);
    if (rc != SQLITE_DONE)
        return registry_fail(reg, err, errlen, "loading the mdevs of the instances of host %s",
                             host);
    return 0;
}

/* Inside the read transaction of registry_load_host(). */
static int registry_load_locked(struct registry *reg, const char *host, struct inventory *out,
                                char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_HOST_GET];
    if (registry_bind_text(s, 1, host) != SQLITE_OK) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "loading host %s", host);
    }
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        registry_done(s);
        return 1;
    }
    if (rc != SQLITE_ROW) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "loading host %s", host);
    }
    out->generation = sqlite3_column_int64(s, 1);
    out->scanned_at = sqlite3_column_int64(s, 2);
    int dup = registry_column_dup(s, 0, &out->collector_url);
    registry_done(s);
    if (dup < 0 || (out->host = strdup(host)) == NULL)
        return registry_fail_plain(reg, err, errlen, "loading host %s: out of memory", host);
    if (registry_load_parents(reg, host, out, err, errlen) < 0 ||
        registry_load_types(reg, host, out, err, errlen) < 0 ||
        registry_load_devices(reg, host, out, err, errlen) < 0 ||
        registry_load_instances(reg, host, out, err, errlen) < 0)
        return -1;
    return 0;
}

int registry_load_host(struct registry *reg, const char *host, struct inventory *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (host == NULL)
        return registry_fail_plain(reg, err, errlen, "loading a host: no host name given");
    /* One read transaction: a snapshot replaced meanwhile by another
     * process is seen whole or not at all. */
    if (registry_begin(reg, ST_BEGIN_READ, err, errlen) < 0)
        return -1;
    int rc = registry_load_locked(reg, host, out, err, errlen);
    if (rc >= 0 && registry_commit(reg, err, errlen) < 0)
        rc = -1;
    if (rc < 0)
        registry_rollback(reg);
    if (rc != 0)
        inventory_free(out);
    return rc;
}

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

int registry_offers_count(struct registry *reg, const char *type_id, size_t *count, char *err,
                          size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_OFFERS_COUNT];
    *count = 0;
    if (registry_bind_text(s, 1, type_id) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
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
    sqlite3_stmt *s = reg->stmt[ST_VERSIONS];
    size_t cap = 0;
    int rc = registry_bind_text(s, 1, type_id) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
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

/* ---- instances --------------------------------------------------------- */

void registry_instance_free(struct registry_instance *instance)
{
    if (instance == NULL)
        return;
    for (size_t p = 0; p < instance->placement_count; p++) {
        struct registry_placement *pl = &instance->placements[p];
        for (size_t m = 0; m < pl->mdev_count; m++) {
            free(pl->mdevs[m].parent);
            free(pl->mdevs[m].type_id);
            inv_migration_clear(&pl->mdevs[m].migration);
        }
        free(pl->mdevs);
        free(pl->host);
        free(pl->collector_url);
        free(pl->name);
        free(pl->state);
    }
    free(instance->placements);
    memset(instance, 0, sizeof *instance);
}

/* One row of ST_INSTANCE_GET: a new placement when the host changes, and
 * the row's mdev (if any) appended to it. 0, or -1 on allocation failure,
 * or -2 when a stored UUID does not fit. */
static int registry_instance_row(sqlite3_stmt *s, struct registry_instance *out,
                                 size_t *placement_cap, size_t *mdev_cap)
{
    const char *host = (const char *)sqlite3_column_text(s, 0);
    if (host == NULL)
        return -1;
    struct registry_placement *pl =
        out->placement_count > 0 ? &out->placements[out->placement_count - 1] : NULL;
    if (pl == NULL || strcmp(pl->host, host) != 0) {
        if (registry_grow((void **)&out->placements, placement_cap, out->placement_count,
                          sizeof *out->placements) < 0)
            return -1;
        pl = &out->placements[out->placement_count];
        memset(pl, 0, sizeof *pl);
        out->placement_count++;
        *mdev_cap = 0;
        pl->last_seen = sqlite3_column_int64(s, 2);
        if ((pl->host = strdup(host)) == NULL ||
            registry_column_dup(s, 1, &pl->collector_url) < 0 ||
            registry_column_dup_str(s, 3, &pl->name) < 0 ||
            registry_column_dup_str(s, 4, &pl->state) < 0)
            return -1;
    }
    if (sqlite3_column_type(s, 5) == SQLITE_NULL)
        return 0; /* an instance without mdevs */
    if (registry_grow((void **)&pl->mdevs, mdev_cap, pl->mdev_count, sizeof *pl->mdevs) < 0)
        return -1;
    struct registry_mdev *m = &pl->mdevs[pl->mdev_count];
    memset(m, 0, sizeof *m);
    pl->mdev_count++;
    if (registry_column_copy(s, 5, m->uuid, sizeof m->uuid) < 0)
        return -2;
    m->present = sqlite3_column_int(s, 6) != 0;
    if (!m->present)
        return 0;
    if (registry_column_dup_str(s, 7, &m->parent) < 0 ||
        registry_column_dup_str(s, 8, &m->type_id) < 0 ||
        registry_column_migration(s, 9, &m->migration) < 0)
        return -1;
    return 0;
}

int registry_instance_get(struct registry *reg, const char *uuid, struct registry_instance *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (uuid == NULL || strlen(uuid) >= sizeof out->uuid)
        return registry_fail_plain(reg, err, errlen, "looking up instance \"%s\": not a UUID",
                                   uuid != NULL ? uuid : "");
    for (size_t i = 0; uuid[i] != '\0'; i++)
        out->uuid[i] = (char)tolower((unsigned char)uuid[i]);

    /* One statement, hence one consistent read: instance, hosts and mdevs
     * cannot come from different snapshots. */
    sqlite3_stmt *s = reg->stmt[ST_INSTANCE_GET];
    size_t placement_cap = 0, mdev_cap = 0;
    int row = 0;
    int rc = registry_bind_text(s, 1, out->uuid) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((row = registry_instance_row(s, out, &placement_cap, &mdev_cap)) < 0)
            break;
    }
    registry_done(s);
    if (rc != SQLITE_DONE) {
        if (row == -2)
            registry_fail_plain(reg, err, errlen,
                                "looking up instance %s: a stored mdev UUID is "
                                "too long",
                                out->uuid);
        else if (rc == SQLITE_ROW)
            registry_fail_plain(reg, err, errlen, "looking up instance %s: out of memory",
                                out->uuid);
        else
            registry_fail(reg, err, errlen, "looking up instance %s", out->uuid);
        registry_instance_free(out);
        return -1;
    }
    return out->placement_count > 0 ? 0 : 1;
}

/* ---- probe cache ------------------------------------------------------- */

static const char *const registry_level_names[] = {
    [REGISTRY_LEVEL_TYPE] = "type",
    [REGISTRY_LEVEL_DEVICE] = "device",
};

static const char *const registry_verdict_names[] = {
    [REGISTRY_VERDICT_COMPATIBLE] = "compatible",
    [REGISTRY_VERDICT_INCOMPATIBLE] = "incompatible",
    [REGISTRY_VERDICT_UNSUPPORTED] = "unsupported",
};

#define REGISTRY_COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *registry_level_name(enum registry_level level)
{
    return (size_t)level < REGISTRY_COUNT_OF(registry_level_names) ? registry_level_names[level]
                                                                   : NULL;
}

const char *registry_verdict_name(enum registry_verdict verdict)
{
    return (size_t)verdict < REGISTRY_COUNT_OF(registry_verdict_names)
               ? registry_verdict_names[verdict]
               : NULL;
}

int registry_level_parse(const char *name, enum registry_level *out)
{
    for (size_t i = 0; name != NULL && i < REGISTRY_COUNT_OF(registry_level_names); i++) {
        if (strcmp(name, registry_level_names[i]) == 0) {
            *out = (enum registry_level)i;
            return 0;
        }
    }
    return -1;
}

int registry_verdict_parse(const char *name, enum registry_verdict *out)
{
    for (size_t i = 0; name != NULL && i < REGISTRY_COUNT_OF(registry_verdict_names); i++) {
        if (strcmp(name, registry_verdict_names[i]) == 0) {
            *out = (enum registry_verdict)i;
            return 0;
        }
    }
    return -1;
}

/* Binds the key of probe as ?1..?4 and the target digest as ?5. */
static int registry_probe_bind(struct registry *reg, sqlite3_stmt *s,
                               const struct registry_probe *probe, const char *what, char *err,
                               size_t errlen)
{
    const char *level = registry_level_name(probe->level);
    if (probe->source_digest == NULL || probe->target_host == NULL || probe->target == NULL ||
        probe->target_digest == NULL || level == NULL)
        return registry_fail_plain(reg, err, errlen,
                                   "%s: source digest, target host, level, target and target "
                                   "digest are all required",
                                   what);
    if (registry_bind_text(s, 1, probe->source_digest) != SQLITE_OK ||
        registry_bind_text(s, 2, probe->target_host) != SQLITE_OK ||
        registry_bind_text(s, 3, level) != SQLITE_OK ||
        registry_bind_text(s, 4, probe->target) != SQLITE_OK ||
        registry_bind_text(s, 5, probe->target_digest) != SQLITE_OK) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "%s", what);
    }
    return 0;
}

int registry_probe_put(struct registry *reg, const struct registry_probe *probe, char *err,
                       size_t errlen)
{
    const char *verdict = registry_verdict_name(probe->verdict);
    if (verdict == NULL || probe->err_no < 0)
        return registry_fail_plain(reg, err, errlen,
                                   "caching a probe verdict: invalid verdict %d or errno %d",
                                   (int)probe->verdict, probe->err_no);
    sqlite3_stmt *s = reg->stmt[ST_PROBE_PUT];
    if (registry_probe_bind(reg, s, probe, "caching a probe verdict", err, errlen) < 0)
        return -1;
    if (registry_bind_text(s, 6, verdict) != SQLITE_OK ||
        registry_bind_int_or_null(s, 7, probe->err_no, 0) != SQLITE_OK ||
        sqlite3_bind_int64(s, 8, probe->checked_at) != SQLITE_OK || registry_run(s) < 0) {
        registry_done(s);
        /* The usual cause: a target host the registry does not know. */
        return registry_fail(reg, err, errlen, "caching the %s verdict of %s %s on host %s",
                             verdict, registry_level_name(probe->level), probe->target,
                             probe->target_host);
    }
    return 0;
}

int registry_probe_put_many(struct registry *reg, const struct registry_probe *probes, size_t count,
                            char *err, size_t errlen)
{
    if (count == 0)
        return 0;
    if (registry_begin(reg, ST_BEGIN_WRITE, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (registry_probe_put(reg, &probes[i], err, errlen) < 0) {
            registry_rollback(reg);
            return -1;
        }
    }
    if (registry_commit(reg, err, errlen) < 0) {
        registry_rollback(reg);
        return -1;
    }
    return 0;
}

int registry_probe_get(struct registry *reg, struct registry_probe *probe, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_PROBE_GET];
    if (registry_probe_bind(reg, s, probe, "reading the probe cache", err, errlen) < 0)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        registry_done(s);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "reading the probe cache for %s on host %s",
                             probe->target, probe->target_host);
    }
    enum registry_verdict verdict;
    int ok = registry_verdict_parse((const char *)sqlite3_column_text(s, 0), &verdict);
    int err_no = registry_column_int_or(s, 1, 0);
    int64_t checked_at = sqlite3_column_int64(s, 2);
    registry_done(s);
    if (ok < 0)
        return registry_fail_plain(reg, err, errlen,
                                   "reading the probe cache for %s on host %s: unknown verdict",
                                   probe->target, probe->target_host);
    probe->verdict = verdict;
    probe->err_no = err_no;
    probe->checked_at = checked_at;
    return 1;
}

void registry_cached_free(struct registry_cached *cached)
{
    if (cached == NULL)
        return;
    for (size_t i = 0; i < cached->count; i++)
        free(cached->items[i].host);
    free(cached->items);
    memset(cached, 0, sizeof *cached);
}

int registry_probe_cached(struct registry *reg, const char *source_digest,
                          enum registry_level level, const char *target,
                          struct registry_cached *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = reg->stmt[ST_PROBE_CACHED];
    size_t cap = 0;
    int rc = registry_bind_text(s, 1, source_digest) == SQLITE_OK &&
                     registry_bind_text(s, 2, registry_level_name(level)) == SQLITE_OK &&
                     registry_bind_text(s, 3, target) == SQLITE_OK
                 ? SQLITE_ROW
                 : SQLITE_ERROR;
    bool bad = false;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_grow((void **)&out->items, &cap, out->count, sizeof *out->items) < 0)
            break;
        struct registry_cached_verdict *v = &out->items[out->count];
        memset(v, 0, sizeof *v);
        out->count++;
        if (registry_column_copy(s, 1, v->target_digest, sizeof v->target_digest) < 0 ||
            registry_verdict_parse((const char *)sqlite3_column_text(s, 2), &v->verdict) < 0 ||
            registry_column_dup_str(s, 0, &v->host) < 0) {
            bad = true;
            break;
        }
        v->err_no = registry_column_int_or(s, 3, 0);
    }
    registry_done(s);
    if (rc != SQLITE_DONE) {
        registry_cached_free(out);
        if (bad || rc == SQLITE_ROW)
            return registry_fail_plain(
                reg, err, errlen, "reading cached verdicts for %s: a bad row or no memory", target);
        return registry_fail(reg, err, errlen, "reading cached verdicts for %s", target);
    }
    return 0;
}

int registry_probe_expire(struct registry *reg, int64_t before, size_t *removed, char *err,
                          size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_PROBE_EXPIRE];
    if (sqlite3_bind_int64(s, 1, before) != SQLITE_OK || registry_run(s) < 0) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "expiring probe verdicts");
    }
    if (removed != NULL)
        *removed = (size_t)sqlite3_changes(reg->db);
    return 0;
}
