/*
 * registry_accepts — what the probe cache knows about versions rather than
 * hosts: which versions of a type a driver has accepted the source's
 * version at (a compatible verdict seen on any host, from a select or from
 * the matrix, which probes through the same cache: table probe_accepts),
 * and whether the hosts at a
 * few versions could hold a select's candidates at all. A select that asks
 * Placement by version trait uses the first to name the traits worth
 * asking for, the second to skip a question whose answer could not end
 * its search. The first runs for every mdev of every select (ranking
 * counts what it knows), so its statement is kept prepared; the second,
 * once or twice per Placement-sourced select, is prepared per call.
 */
#include "registry_internal.h"

#include <stdlib.h>
#include <string.h>

void registry_digests_free(struct registry_digests *digests)
{
    if (digests == NULL)
        return;
    free(digests->items);
    memset(digests, 0, sizeof *digests);
}

int registry_accepting_digests(struct registry *reg, const char *source_digest, const char *type_id,
                               struct registry_digests *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (source_digest == NULL || type_id == NULL)
        return registry_fail_plain(reg, err, errlen,
                                   "finding the versions that accept a version: none given");
    sqlite3_stmt *s = reg->stmt[ST_ACCEPTING_DIGESTS];
    int rc = registry_bind_text(s, 1, source_digest) == SQLITE_OK &&
                     registry_bind_text(s, 2, type_id) == SQLITE_OK
                 ? SQLITE_ROW
                 : SQLITE_ERROR;
    size_t cap = 0;
    bool bad = false;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_grow((void **)&out->items, &cap, out->count, sizeof *out->items) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (registry_column_copy(s, 0, out->items[out->count], sizeof *out->items) < 0) {
            bad = true;
            break;
        }
        out->count++;
    }
    int result = 0;
    if (bad)
        result = registry_fail_plain(reg, err, errlen,
                                     "finding the versions of %s that accept %s: a stored digest "
                                     "is too long",
                                     type_id, source_digest);
    else if (rc == SQLITE_NOMEM)
        result = registry_fail_plain(reg, err, errlen,
                                     "finding the versions of %s that accept %s: out of memory",
                                     type_id, source_digest);
    else if (rc != SQLITE_DONE)
        result = registry_fail(reg, err, errlen, "finding the versions of %s that accept %s",
                               type_id, source_digest);
    registry_done(s);
    if (result < 0)
        registry_digests_free(out);
    return result;
}

int registry_hosts_with_room_at(struct registry *reg, const char *const *digests, size_t count,
                                const char *except, size_t stop_at, size_t *hosts, char *err,
                                size_t errlen)
{
    /* Room as a select counts it (candidates.c): a free instance, or a
     * created mdev no VM uses. */
    static const char sql[] =
        "SELECT DISTINCT t.host FROM types t WHERE t.digest = ?1 AND (t.available_instances > 0 "
        "OR EXISTS (SELECT 1 FROM devices d WHERE d.host = t.host AND d.parent = t.parent "
        "AND d.type_id = t.type_id AND d.instance IS NULL))";
    *hosts = 0;
    if (stop_at == 0 || count == 0)
        return 0;
    char **seen = calloc(stop_at, sizeof *seen);
    if (seen == NULL)
        return registry_fail_plain(reg, err, errlen, "counting hosts with room: out of memory");
    sqlite3_stmt *s = NULL;
    int result = 0;
    if (sqlite3_prepare_v2(reg->db, sql, -1, &s, NULL) != SQLITE_OK) {
        result = registry_fail(reg, err, errlen, "counting hosts with room at %zu versions", count);
        goto out;
    }
    /* Only up to stop_at hosts are ever kept: a few, so a list will do. */
    size_t found = 0;
    for (size_t i = 0; i < count && found < stop_at && result == 0; i++) {
        int rc = registry_bind_text(s, 1, digests[i]) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
        while (rc == SQLITE_ROW && found < stop_at && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            const char *host = (const char *)sqlite3_column_text(s, 0);
            if (host == NULL || (except != NULL && strcmp(host, except) == 0))
                continue;
            bool known = false;
            for (size_t k = 0; k < found && !known; k++)
                known = strcmp(seen[k], host) == 0;
            if (known)
                continue;
            if ((seen[found] = strdup(host)) == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            found++;
        }
        if (rc == SQLITE_NOMEM)
            result =
                registry_fail_plain(reg, err, errlen, "counting hosts with room: out of memory");
        else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            result = registry_fail(reg, err, errlen, "counting hosts with room at version %s",
                                   digests[i]);
        registry_done(s);
    }
    *hosts = found;
out:
    sqlite3_finalize(s);
    for (size_t k = 0; k < stop_at; k++)
        free(seen[k]);
    free(seen);
    return result;
}
