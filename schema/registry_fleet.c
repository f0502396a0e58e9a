/*
 * registry_fleet — the questions readiness and rollout ask of the whole
 * registry before they read any host's snapshot: which hosts run VMs with
 * mdevs, which have room for a type, how many offer a type at all, and one
 * host's row. At 100,000 hosts, most of them full, these decide which few
 * thousand snapshots are worth loading. They run a handful of times per
 * call, so they are prepared per call rather than kept open.
 */
#include "registry_internal.h"

#include <stdlib.h>
#include <string.h>

void registry_names_free(struct registry_names *names)
{
    if (names == NULL)
        return;
    for (size_t i = 0; i < names->count; i++)
        free(names->items[i]);
    free(names->items);
    memset(names, 0, sizeof *names);
}

/* The first column of every row of sql (?1 bound to key when given). */
static int registry_fleet_names(struct registry *reg, const char *sql, const char *key,
                                const char *what, struct registry_names *out, char *err,
                                size_t errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(reg->db, sql, -1, &s, NULL) != SQLITE_OK)
        return registry_fail(reg, err, errlen, "%s", what);
    int rc = key == NULL || registry_bind_text(s, 1, key) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    size_t cap = 0;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_grow((void **)&out->items, &cap, out->count, sizeof *out->items) < 0 ||
            registry_column_dup_str(s, 0, &out->items[out->count]) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        out->count++;
    }
    int result = 0;
    if (rc == SQLITE_NOMEM)
        result = registry_fail_plain(reg, err, errlen, "%s: out of memory", what);
    else if (rc != SQLITE_DONE)
        result = registry_fail(reg, err, errlen, "%s", what);
    sqlite3_finalize(s);
    if (result < 0)
        registry_names_free(out);
    return result;
}

int registry_hosts_with_vms(struct registry *reg, struct registry_names *out, char *err,
                            size_t errlen)
{
    return registry_fleet_names(reg, "SELECT DISTINCT host FROM instance_mdevs ORDER BY host", NULL,
                                "listing the hosts that run VMs with mdevs", out, err, errlen);
}

int registry_hosts_with_room(struct registry *reg, const char *type_id, struct registry_names *out,
                             char *err, size_t errlen)
{
    return registry_fleet_names(
        reg,
        "SELECT host FROM types WHERE type_id = ?1 AND available_instances > 0 "
        "UNION SELECT host FROM devices WHERE type_id = ?1 AND instance IS NULL ORDER BY 1",
        type_id, "listing the hosts with room for a type", out, err, errlen);
}

int registry_type_hosts(struct registry *reg, const char *type_id, size_t *count, char *err,
                        size_t errlen)
{
    *count = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT count(DISTINCT host) FROM types WHERE type_id = ?1", -1,
                           &s, NULL) != SQLITE_OK)
        return registry_fail(reg, err, errlen, "counting the hosts of type %s",
                             registry_name(type_id));
    int rc = registry_bind_text(s, 1, type_id) == SQLITE_OK ? sqlite3_step(s) : SQLITE_ERROR;
    if (rc == SQLITE_ROW)
        *count = (size_t)sqlite3_column_int64(s, 0);
    int result = rc == SQLITE_ROW ? 0
                                  : registry_fail(reg, err, errlen, "counting the hosts of type %s",
                                                  registry_name(type_id));
    sqlite3_finalize(s);
    return result;
}

int registry_host_get(struct registry *reg, const char *name, struct registry_host *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT name, collector_url, generation, last_seen, scanned_at "
                           "FROM hosts WHERE name = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return registry_fail(reg, err, errlen, "reading host %s", registry_name(name));
    int rc = registry_bind_text(s, 1, name) == SQLITE_OK ? sqlite3_step(s) : SQLITE_ERROR;
    int result = 1;
    if (rc == SQLITE_ROW) {
        out->generation = sqlite3_column_int64(s, 2);
        out->last_seen = sqlite3_column_int64(s, 3);
        out->scanned_at = sqlite3_column_int64(s, 4);
        result = registry_column_dup_str(s, 0, &out->name) < 0 ||
                         registry_column_dup(s, 1, &out->collector_url) < 0
                     ? registry_fail_plain(reg, err, errlen, "reading host %s: out of memory",
                                           registry_name(name))
                     : 0;
    } else if (rc != SQLITE_DONE) {
        result = registry_fail(reg, err, errlen, "reading host %s", registry_name(name));
    }
    sqlite3_finalize(s);
    if (result != 0) {
        free(out->name);
        free(out->collector_url);
        memset(out, 0, sizeof *out);
    }
    return result;
}

void registry_host_clear(struct registry_host *host)
{
    if (host == NULL)
        return;
    free(host->name);
    free(host->collector_url);
    memset(host, 0, sizeof *host);
}

void registry_vms_free(struct registry_vms *vms)
{
    if (vms == NULL)
        return;
    for (size_t i = 0; i < vms->count; i++) {
        struct registry_vm *vm = &vms->items[i];
        free(vm->host);
        free(vm->name);
        free(vm->state);
        for (size_t k = 0; k < vm->mdev_count; k++) {
            free(vm->mdevs[k].parent);
            free(vm->mdevs[k].type_id);
            inv_migration_clear(&vm->mdevs[k].migration);
            inv_migration_clear(&vm->mdevs[k].type_migration);
        }
        free(vm->mdevs);
    }
    free(vms->items);
    memset(vms, 0, sizeof *vms);
}

/* Row columns: 0 host, 1 instance, 2 name, 3 state, 4 mdev, 5 present,
 * 6 parent, 7 type, 8-11 the device's migration, 12-15 its type node's. */
static int registry_fleet_vm_row(sqlite3_stmt *s, struct registry_vms *out, size_t *cap,
                                 size_t *mdev_cap)
{
    const char *host = (const char *)sqlite3_column_text(s, 0);
    const char *uuid = (const char *)sqlite3_column_text(s, 1);
    struct registry_vm *vm = out->count > 0 ? &out->items[out->count - 1] : NULL;
    if (vm == NULL || strcmp(vm->host, host != NULL ? host : "") != 0 ||
        strcmp(vm->uuid, uuid != NULL ? uuid : "") != 0) {
        if (registry_grow((void **)&out->items, cap, out->count, sizeof *out->items) < 0)
            return -1;
        vm = &out->items[out->count++];
        memset(vm, 0, sizeof *vm);
        *mdev_cap = 0;
        if (registry_column_dup_str(s, 0, &vm->host) < 0 ||
            registry_column_copy(s, 1, vm->uuid, sizeof vm->uuid) < 0 ||
            registry_column_dup_str(s, 2, &vm->name) < 0 ||
            registry_column_dup_str(s, 3, &vm->state) < 0)
            return -1;
    }
    if (registry_grow((void **)&vm->mdevs, mdev_cap, vm->mdev_count, sizeof *vm->mdevs) < 0)
        return -1;
    struct registry_vm_mdev *m = &vm->mdevs[vm->mdev_count++];
    memset(m, 0, sizeof *m);
    if (registry_column_copy(s, 4, m->uuid, sizeof m->uuid) < 0)
        return -1;
    m->present = sqlite3_column_int(s, 5) != 0;
    if (!m->present)
        return 0;
    if (registry_column_dup(s, 6, &m->parent) < 0 || registry_column_dup(s, 7, &m->type_id) < 0 ||
        registry_column_migration(s, 8, &m->migration) < 0)
        return -1;
    if (sqlite3_column_type(s, 12) != SQLITE_NULL &&
        registry_column_migration(s, 12, &m->type_migration) < 0)
        return -1;
    return 0;
}

int registry_fleet_vms(struct registry *reg, struct registry_vms *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(
            reg->db,
            "SELECT m.host, m.instance, i.name, i.state, m.mdev, d.uuid IS NOT NULL, d.parent, "
            "d.type_id, d.migration_supported, d.version, d.digest, d.read_errno, "
            "t.migration_supported, t.version, t.digest, t.read_errno "
            "FROM instance_mdevs m JOIN instances i ON i.host = m.host AND i.uuid = m.instance "
            "LEFT JOIN devices d ON d.host = m.host AND d.uuid = m.mdev "
            "LEFT JOIN types t ON t.host = d.host AND t.parent = d.parent AND t.type_id = "
            "d.type_id "
            "ORDER BY m.host, m.instance, m.rowid",
            -1, &s, NULL) != SQLITE_OK)
        return registry_fail(reg, err, errlen, "reading every VM's mdevs");
    size_t cap = 0, mdev_cap = 0;
    int rc;
    bool nomem = false;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (registry_fleet_vm_row(s, out, &cap, &mdev_cap) < 0) {
            nomem = true;
            break;
        }
    }
    int result = 0;
    if (nomem)
        result = registry_fail_plain(reg, err, errlen,
                                     "reading every VM's mdevs: out of memory "
                                     "(or a row longer than the registry allows)");
    else if (rc != SQLITE_DONE)
        result = registry_fail(reg, err, errlen, "reading every VM's mdevs");
    sqlite3_finalize(s);
    if (result < 0)
        registry_vms_free(out);
    return result;
}

int registry_host_counts(struct registry *reg, int64_t seen_before, size_t *count, size_t *stale,
                         char *err, size_t errlen)
{
    *count = *stale = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT count(*), count(*) FILTER (WHERE last_seen < ?1) FROM hosts", -1,
                           &s, NULL) != SQLITE_OK)
        return registry_fail(reg, err, errlen, "counting hosts");
    int rc = sqlite3_bind_int64(s, 1, seen_before) == SQLITE_OK ? sqlite3_step(s) : SQLITE_ERROR;
    if (rc == SQLITE_ROW) {
        *count = (size_t)sqlite3_column_int64(s, 0);
        *stale = (size_t)sqlite3_column_int64(s, 1);
    }
    int result = rc == SQLITE_ROW ? 0 : registry_fail(reg, err, errlen, "counting hosts");
    sqlite3_finalize(s);
    return result;
}
