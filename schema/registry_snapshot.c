/*
 * registry_snapshot — a host's snapshot in and out: replaced whole, in one
 * write transaction, and never by an older generation (an equal one is a
 * heartbeat), alone or several hosts' in one transaction (group commit,
 * each under a savepoint of its own); heartbeats' last_seen, one host at
 * a given generation or many at once; listed and loaded back in one read
 * transaction, so a snapshot replaced meanwhile by another process is
 * seen whole or not at all. Snapshot order is insertion order, so a load
 * gives back the order the collector published.
 */
#include "registry_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- snapshots --------------------------------------------------------- */

static int registry_insert_type(struct registry *reg, const char *host, const char *parent,
                                const struct inv_type *type, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_TYPE_INSERT];
    if (registry_bind_type_key(s, host, parent, type->id) != SQLITE_OK ||
        registry_bind_text(s, 4, type->name != NULL ? type->name : "") != SQLITE_OK ||
        registry_bind_text(s, 5, type->description != NULL ? type->description : "") != SQLITE_OK ||
        registry_bind_text(s, 6, type->device_api != NULL ? type->device_api : "") != SQLITE_OK ||
        registry_bind_int_or_null(s, 7, type->available_instances, -1) != SQLITE_OK ||
        registry_bind_migration(s, 8, &type->migration) != SQLITE_OK || registry_run(s) < 0) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "storing type %s on parent %s of host %s",
                             registry_name(type->id), registry_name(parent), host);
    }
    return 0;
}

/* A device row as parameters 1 .. 10, in the columns' order. */
static int registry_bind_device_row(sqlite3_stmt *s, const char *host, const struct inv_device *dev)
{
    int rc;
    if ((rc = registry_bind_text(s, 1, host)) != SQLITE_OK ||
        (rc = registry_bind_text(s, 2, dev->uuid)) != SQLITE_OK ||
        (rc = registry_bind_text(s, 3, dev->parent)) != SQLITE_OK ||
        (rc = registry_bind_text(s, 4, dev->type)) != SQLITE_OK ||
        (rc = registry_bind_int_or_null(s, 5, dev->iommu_group, -1)) != SQLITE_OK ||
        (rc = registry_bind_migration(s, 6, &dev->migration)) != SQLITE_OK)
        return rc;
    return registry_bind_text_or_null(s, 10, dev->instance);
}

static int registry_insert_device(struct registry *reg, const char *host,
                                  const struct inv_device *dev, char *err, size_t errlen)
{
    sqlite3_stmt *s = reg->stmt[ST_DEVICE_INSERT];
    if (registry_bind_device_row(s, host, dev) != SQLITE_OK || registry_run(s) < 0) {
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

/* The body of registry_replace_host(), inside its write transaction: 0
 * when written, 1 when a newer generation is held, 2 when the same one is
 * (last_seen refreshed), -1 on error. */
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
        return 2;
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
    /* A changed snapshot of the same devices (a driver update, room taken
     * or freed) is written over the rows it changes: far fewer index pages
     * than deleting and re-inserting every row of the host. */
    rc = registry_inplace_write(reg, inv, err, errlen);
    if (rc < 0)
        return -1;
    /* The host row stays (an UPDATE, not a DELETE): deleting it would
     * cascade to the probe cache, whose verdicts outlive snapshots. */
    static const enum registry_stmt_id clear[] = {ST_HOST_CLEAR_PARENTS, ST_HOST_CLEAR_INSTANCES};
    for (size_t i = rc == 1 ? 1 : 0; i < sizeof clear / sizeof clear[0]; i++) {
        s = reg->stmt[clear[i]];
        if (registry_bind_text(s, 1, host) != SQLITE_OK || registry_run(s) < 0) {
            registry_done(s);
            return registry_fail(reg, err, errlen, "removing the previous snapshot of host %s",
                                 host);
        }
    }

    for (size_t p = 0; p < inv->parent_count && rc == 0; p++) {
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
    for (size_t d = 0; d < inv->device_count && rc == 0; d++) {
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
    return rc == 2 ? 0 : rc;
}

/* One item of a batch under its own savepoint, inside the batch's write
 * transaction. -1 only when the transaction itself is gone (SQLite rolls
 * back the whole of it on some failures, a full disk among them): then
 * nothing of the batch can be kept. */
static int registry_replace_item(struct registry *reg, struct registry_replace *item)
{
    const struct inventory *inv = item->inv;
    item->outcome = REGISTRY_REPLACE_FAILED;
    if (inv == NULL || inv->host == NULL || inv->host[0] == '\0') {
        registry_fail_plain(reg, item->err, sizeof item->err, "a snapshot without a host name");
        return 0;
    }
    if (registry_begin(reg, ST_SNAPSHOT_SAVEPOINT, item->err, sizeof item->err) < 0)
        return -1;
    int rc = registry_replace_locked(reg, inv, item->now, item->err, sizeof item->err);
    if (rc < 0) {
        if (sqlite3_get_autocommit(reg->db))
            return -1;
        (void)registry_run(reg->stmt[ST_SNAPSHOT_ROLLBACK_TO]);
    }
    if (registry_run(reg->stmt[ST_SNAPSHOT_RELEASE]) < 0) {
        registry_fail(reg, item->err, sizeof item->err, "ending the snapshot of host %s",
                      inv->host);
        return -1;
    }
    item->outcome = rc == 0   ? REGISTRY_REPLACE_WRITTEN
                    : rc == 1 ? REGISTRY_REPLACE_IGNORED
                    : rc == 2 ? REGISTRY_REPLACE_TOUCHED
                              : REGISTRY_REPLACE_FAILED;
    return 0;
}

int registry_replace_begin(struct registry *reg, char *err, size_t errlen)
{
    /* IMMEDIATE, as for one snapshot: the generations are read under the
     * write lock, and the items run in order, so of two snapshots of one
     * host in a batch the older one finds the newer already held. */
    return registry_begin(reg, ST_BEGIN_WRITE, err, errlen);
}

int registry_replace_add(struct registry *reg, struct registry_replace *item, char *err,
                         size_t errlen)
{
    if (registry_replace_item(reg, item) < 0) {
        snprintf(err, errlen, "%s", item->err);
        return -1;
    }
    return 0;
}

int registry_replace_commit(struct registry *reg, char *err, size_t errlen)
{
    if (registry_commit(reg, err, errlen) < 0) {
        registry_rollback(reg);
        return -1;
    }
    return 0;
}

void registry_replace_abort(struct registry *reg)
{
    registry_rollback(reg);
}

int registry_replace_hosts(struct registry *reg, struct registry_replace *items, size_t count,
                           char *err, size_t errlen)
{
    if (count == 0)
        return 0;
    int rc = registry_replace_begin(reg, err, errlen);
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = registry_replace_add(reg, &items[i], err, errlen);
    if (rc == 0)
        rc = registry_replace_commit(reg, err, errlen);
    else
        registry_replace_abort(reg);
    if (rc < 0) {
        for (size_t i = 0; i < count; i++) {
            items[i].outcome = REGISTRY_REPLACE_FAILED;
            snprintf(items[i].err, sizeof items[i].err, "%s", err);
        }
    }
    return rc;
}

int registry_host_generation(struct registry *reg, const char *host, int64_t *generation, char *err,
                             size_t errlen)
{
    *generation = -1;
    if (host == NULL)
        return registry_fail_plain(reg, err, errlen, "reading a generation: no host name given");
    sqlite3_stmt *s = reg->stmt[ST_HOST_GENERATION];
    if (registry_bind_text(s, 1, host) != SQLITE_OK) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "reading the generation of host %s", host);
    }
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *generation = sqlite3_column_int64(s, 0);
    registry_done(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return registry_fail(reg, err, errlen, "reading the generation of host %s", host);
    return rc == SQLITE_ROW ? 0 : 1;
}

int registry_touch_host_at(struct registry *reg, const char *host, int64_t generation, int64_t now,
                           int64_t *held, char *err, size_t errlen)
{
    if (held != NULL)
        *held = generation;
    if (host == NULL)
        return registry_fail_plain(reg, err, errlen, "a heartbeat without a host name");
    sqlite3_stmt *s = reg->stmt[ST_HOST_TOUCH_AT];
    if (registry_bind_text(s, 1, host) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, generation) != SQLITE_OK ||
        sqlite3_bind_int64(s, 3, now) != SQLITE_OK || registry_run(s) < 0) {
        registry_done(s);
        return registry_fail(reg, err, errlen, "refreshing last_seen of host %s", host);
    }
    if (sqlite3_changes(reg->db) > 0)
        return 0;
    int64_t stored;
    int rc = registry_host_generation(reg, host, &stored, err, errlen);
    if (rc < 0)
        return -1;
    if (held != NULL)
        *held = rc == 0 ? stored : -1;
    return 1;
}

int registry_touch_hosts(struct registry *reg, const struct registry_touch *touches, size_t count,
                         char *err, size_t errlen)
{
    if (count == 0)
        return 0;
    if (registry_begin(reg, ST_BEGIN_WRITE, err, errlen) < 0)
        return -1;
    sqlite3_stmt *s = reg->stmt[ST_HOST_TOUCH_LATER];
    for (size_t i = 0; i < count; i++) {
        if (registry_bind_text(s, 1, touches[i].host) != SQLITE_OK ||
            sqlite3_bind_int64(s, 2, touches[i].last_seen) != SQLITE_OK || registry_run(s) < 0) {
            registry_done(s);
            registry_fail(reg, err, errlen, "refreshing last_seen of host %s",
                          registry_name(touches[i].host));
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
