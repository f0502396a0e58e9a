/*
 * registry_cache — the probe cache: verdicts keyed by (source digest,
 * target host, level, target), each valid only while the target's digest
 * is the one it was probed at. Only what a real probe answers and what
 * holds until a digest changes is kept (verdict.h names them); racing
 * probes leave the newest.
 */
#include "registry_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const registry_level_names[] = {
    [REGISTRY_LEVEL_TYPE] = "type",
    [REGISTRY_LEVEL_DEVICE] = "device",
};

#define REGISTRY_COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *registry_level_name(enum registry_level level)
{
    return (size_t)level < REGISTRY_COUNT_OF(registry_level_names) ? registry_level_names[level]
                                                                   : NULL;
}

/* Whether a cached verdict can be this: a name stored here must come back
 * as the verdict it was, and only these three are ever stored. */
static bool registry_verdict_cached(int verdict)
{
    switch (verdict) {
    case REGISTRY_VERDICT_COMPATIBLE:
    case REGISTRY_VERDICT_INCOMPATIBLE:
    case REGISTRY_VERDICT_UNSUPPORTED:
        return true;
    default:
        return false;
    }
}

const char *registry_verdict_name(enum registry_verdict verdict)
{
    return registry_verdict_cached((int)verdict) ? verdict_name((enum verdict)verdict) : NULL;
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
    enum verdict v;
    if (verdict_parse(name, &v) < 0 || !registry_verdict_cached((int)v))
        return -1;
    *out = (enum registry_verdict)v;
    return 0;
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

/* Whether the cache holds this very verdict, checked within
 * REGISTRY_PROBE_REFRESH_S of probe's: then there is nothing to write. A
 * fleet's selects confirm the same verdicts over and over, and a seek
 * costs a fraction of an upsert (and of the probe_accepts row after it,
 * which the first write of the verdict made). 1, 0, or -1. */
static int registry_probe_same(struct registry *reg, const struct registry_probe *probe,
                               const char *verdict, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_PROBE_SAME];
    if (registry_probe_bind(reg, s, probe, "caching a probe verdict", err, errlen) < 0)
        return -1;
    int rc =
        registry_bind_text(s, 6, verdict) == SQLITE_OK &&
                registry_bind_int_or_null(s, 7, probe->err_no, 0) == SQLITE_OK &&
                sqlite3_bind_int64(s, 8, probe->checked_at - REGISTRY_PROBE_REFRESH_S) == SQLITE_OK
            ? sqlite3_step(s)
            : SQLITE_ERROR;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        registry_fail(reg, err, errlen, "reading the cached verdict of %s on host %s",
                      probe->target, probe->target_host);
        registry_done(s);
        return -1;
    }
    registry_done(s);
    return rc == SQLITE_ROW ? 1 : 0;
}

int registry_probe_put(struct registry *reg, const struct registry_probe *probe, char *err,
                       size_t errlen)
{
    const char *verdict = registry_verdict_name(probe->verdict);
    if (verdict == NULL || probe->err_no < 0)
        return registry_fail_plain(reg, err, errlen,
                                   "caching a probe verdict: invalid verdict %d or errno %d",
                                   (int)probe->verdict, probe->err_no);
    int same = registry_probe_same(reg, probe, verdict, err, errlen);
    if (same != 0)
        return same < 0 ? -1 : 0;
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
    /* What the driver accepts, whichever host said so (probe_accepts). */
    if (probe->verdict != REGISTRY_VERDICT_COMPATIBLE || probe->level != REGISTRY_LEVEL_TYPE ||
        probe->target_digest[0] == '\0')
        return 0;
    sqlite3_stmt *a = reg->stmt[ST_ACCEPT_PUT];
    if (registry_bind_text(a, 1, probe->source_digest) != SQLITE_OK ||
        registry_bind_text(a, 2, probe->target) != SQLITE_OK ||
        registry_bind_text(a, 3, probe->target_digest) != SQLITE_OK || registry_run(a) < 0) {
        registry_done(a);
        return registry_fail(reg, err, errlen, "noting that %s %s at %.12s accepts %.12s",
                             registry_level_name(probe->level), probe->target, probe->target_digest,
                             probe->source_digest);
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

int registry_probe_cached_on(struct registry *reg, const char *source_digest,
                             enum registry_level level, const char *target, const char *host,
                             struct registry_cached_verdict *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *level_name = registry_level_name(level);
    if (source_digest == NULL || target == NULL || host == NULL || level_name == NULL)
        return registry_fail_plain(reg, err, errlen,
                                   "reading a cached verdict: source digest, level, target and "
                                   "host are all required");
    sqlite3_stmt *s = reg->stmt[ST_PROBE_CACHED];
    int rc = registry_bind_text(s, 1, source_digest) == SQLITE_OK &&
                     registry_bind_text(s, 2, level_name) == SQLITE_OK &&
                     registry_bind_text(s, 3, target) == SQLITE_OK &&
                     registry_bind_text(s, 4, host) == SQLITE_OK
                 ? sqlite3_step(s)
                 : SQLITE_ERROR;
    bool bad = false;
    if (rc == SQLITE_ROW) {
        bad = registry_column_copy(s, 0, out->target_digest, sizeof out->target_digest) < 0 ||
              registry_verdict_parse((const char *)sqlite3_column_text(s, 1), &out->verdict) < 0;
        out->err_no = registry_column_int_or(s, 2, 0);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        registry_fail(reg, err, errlen, "reading the cached verdict for %s on host %s", target,
                      host);
        registry_done(s);
        return -1;
    }
    registry_done(s);
    if (bad)
        return registry_fail_plain(reg, err, errlen,
                                   "reading the cached verdict for %s on host %s: a bad row",
                                   target, host);
    return rc == SQLITE_ROW ? 1 : 0;
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
