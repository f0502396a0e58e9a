/*
 * registry_instance — where a VM runs and with which mdevs, as every host
 * that lists it reports: during a live migration two hosts do, so the
 * answer is a list of placements, the running one first.
 */
#include "registry_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

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
