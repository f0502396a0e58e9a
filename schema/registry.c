/*
 * registry — the SQLite store behind registry.h: the connection, its
 * schema and its prepared statements. Collectors write a host's snapshot
 * in one BEGIN IMMEDIATE transaction; schedulers read with single
 * statements or inside one read transaction, so WAL lets both run at once
 * and a reader never sees half a snapshot. Every statement is prepared
 * once, here at open, and reset after each use, so a hot query costs a
 * bind and a step. With synchronous=NORMAL in WAL a commit does not fsync;
 * only checkpoints do, so a crash can lose the last commits but never
 * corrupt the file, and the next snapshot or probe puts them back.
 *
 * The queries live by what they serve: registry_snapshot.c (a host's
 * snapshot in and out), registry_offers.c (candidates and versions),
 * registry_instance.c, registry_cache.c (probe verdicts); their SQL is
 * the one table below, so that all of it is prepared, and checked, at
 * open.
 */
#include "registry_internal.h"

#include "migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The columns of an offer, shared by both candidate queries. */
#define OFFER_COLUMNS                                                                              \
    "SELECT t.host, h.collector_url, h.last_seen, t.parent, t.type_id, t.available_instances, "    \
    "t.digest, (SELECT d.uuid FROM devices d WHERE d.host = t.host AND d.parent = t.parent "       \
    "AND d.type_id = t.type_id AND d.instance IS NULL ORDER BY d.uuid LIMIT 1) "                   \
    "FROM types t JOIN hosts h ON h.name = t.host "

/* Snapshot order is insertion order: a replace rewrites every row of a
 * host, or updates them in place when the snapshot has the same keys in
 * the same order, so rowid order is the order the collector published. */
#define VERSION_COLUMNS                                                                            \
    "SELECT t.type_id, t.host, t.parent, h.collector_url, h.last_seen, t.available_instances, "    \
    "t.migration_supported, t.version, t.digest, t.read_errno "                                    \
    "FROM types t JOIN hosts h ON h.name = t.host "
#define VERSION_ORDER                                                                              \
    "ORDER BY t.type_id, t.digest IS NULL, t.digest, t.read_errno, t.host, t.parent"

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
    /* Bounded: a select only asks whether a type has more than it would read,
     * and counting all 100,000 parents of a type cost it ~5 ms. */
    [ST_OFFERS_COUNT] = "SELECT count(*) FROM (SELECT 1 FROM types WHERE type_id = ?1 LIMIT ?2)",
    /* Two statements, not "?1 IS NULL OR type_id = ?1", which made SQLite
     * scan all 2,000,000 entries of types_free for one type at 100,000
     * hosts. Rows without a digest sort last (NULLS LAST). */
    [ST_VERSIONS_ALL] = VERSION_COLUMNS VERSION_ORDER,
    [ST_VERSIONS_OF_TYPE] = VERSION_COLUMNS "WHERE t.type_id = ?1 " VERSION_ORDER,
    [ST_INSTANCE_GET] =
        "SELECT i.host, h.collector_url, h.last_seen, i.name, i.state, m.mdev, "
        "d.uuid IS NOT NULL, d.parent, d.type_id, d.migration_supported, d.version, d.digest, "
        "d.read_errno "
        "FROM instances i JOIN hosts h ON h.name = i.host "
        "LEFT JOIN instance_mdevs m ON m.host = i.host AND m.instance = i.uuid "
        "LEFT JOIN devices d ON d.host = m.host AND d.uuid = m.mdev "
        "WHERE i.uuid = lower(?1) "
        "ORDER BY i.state = 'running' DESC, h.last_seen DESC, i.host, m.rowid",
    [ST_PROBE_CACHED] = "SELECT target_digest, verdict, errno FROM probe_cache "
                        "WHERE source_digest = ?1 AND level = ?2 AND target = ?3 "
                        "AND target_host = ?4",
    /* A version no host runs any more leads to no candidate, so it is
     * left out. */
    [ST_ACCEPTING_DIGESTS] = "SELECT a.target_digest FROM probe_accepts a "
                             "WHERE a.source_digest = ?1 AND a.target = ?2 "
                             "AND EXISTS (SELECT 1 FROM types t WHERE t.digest = a.target_digest) "
                             "ORDER BY a.target_digest",
    [ST_ACCEPT_PUT] = "INSERT OR IGNORE INTO probe_accepts (source_digest, target, target_digest) "
                      "VALUES (?1, ?2, ?3)",
    [ST_PROBE_GET] = "SELECT verdict, errno, checked_at FROM probe_cache "
                     "WHERE source_digest = ?1 AND target_host = ?2 AND level = ?3 "
                     "AND target = ?4 AND target_digest = ?5",
    /* The verdict put is already the cached one, checked after ?8. */
    [ST_PROBE_SAME] = "SELECT 1 FROM probe_cache "
                      "WHERE source_digest = ?1 AND target_host = ?2 AND level = ?3 "
                      "AND target = ?4 AND target_digest = ?5 AND verdict = ?6 "
                      "AND errno IS ?7 AND checked_at > ?8",
    [ST_PROBE_PUT] =
        "INSERT INTO probe_cache (source_digest, target_host, level, target, target_digest, "
        "verdict, errno, checked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT (source_digest, level, target, target_host) DO UPDATE SET "
        "target_digest = excluded.target_digest, verdict = excluded.verdict, "
        "errno = excluded.errno, checked_at = excluded.checked_at "
        "WHERE excluded.checked_at >= probe_cache.checked_at",
    [ST_PROBE_EXPIRE] = "DELETE FROM probe_cache WHERE checked_at < ?1",
    /* A heartbeat: only at the generation the collector still holds, and
     * last_seen never moves back (a snapshot may have set a later one). */
    [ST_HOST_TOUCH_AT] = "UPDATE hosts SET last_seen = max(last_seen, ?3) "
                         "WHERE name = ?1 AND generation = ?2",
    [ST_HOST_TOUCH_LATER] = "UPDATE hosts SET last_seen = ?2 WHERE name = ?1 AND last_seen < ?2",
    /* One snapshot of a batch (registry_replace_hosts): a failing one is
     * undone alone, the others of its transaction stay. */
    [ST_SNAPSHOT_SAVEPOINT] = "SAVEPOINT registry_snapshot",
    [ST_SNAPSHOT_RELEASE] = "RELEASE registry_snapshot",
    [ST_SNAPSHOT_ROLLBACK_TO] = "ROLLBACK TO registry_snapshot",
    /* A changed snapshot written in place (registry_inplace.c): the
     * host's rows read once, their keys and values compared in C, then
     * only the rows that differ are written, by rowid, and only the
     * columns of one index per statement, so a driver update moves
     * types_digest entries and leaves types_free. */
    [ST_SHAPE_TYPES] = "SELECT rowid, parent, type_id, available_instances, name, description, "
                       "device_api, migration_supported, version, digest, read_errno "
                       "FROM types WHERE host = ?1 ORDER BY rowid",
    [ST_SHAPE_DEVICES] = "SELECT rowid, uuid, parent, type_id, iommu_group, migration_supported, "
                         "version, digest, read_errno, instance "
                         "FROM devices WHERE host = ?1 ORDER BY rowid",
    [ST_TYPE_SET_ROOM] = "UPDATE types SET available_instances = ?2 WHERE rowid = ?1",
    [ST_TYPE_SET_REST] = "UPDATE types SET name = ?2, description = ?3, device_api = ?4, "
                         "migration_supported = ?5, version = ?6, digest = ?7, read_errno = ?8 "
                         "WHERE rowid = ?1",
    [ST_DEVICE_UPDATE] = "UPDATE devices SET iommu_group = ?2, migration_supported = ?3, "
                         "version = ?4, digest = ?5, read_errno = ?6, instance = ?7 "
                         "WHERE rowid = ?1",
};

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
    /* Group commit puts each snapshot under a savepoint, whose statement
     * journal would otherwise be a temporary file: in memory it took
     * changed snapshots from 765 to 1,072 hosts/s (docs/BENCHMARKS.md). */
    if (registry_exec(reg, "PRAGMA temp_store = MEMORY", err, errlen) < 0)
        return -1;
    /* A checkpoint (the only fsync) every 10,000 WAL pages, not 1,000: a
     * changed snapshot dirties ~50 index pages, so the default ran one
     * every ~20 commits while a fleet upgraded its driver; pages written
     * again and again go back to the file once. The WAL grows to ~40 MiB
     * between checkpoints. */
    if (registry_exec(reg, "PRAGMA wal_autocheckpoint = 10000", err, errlen) < 0)
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
