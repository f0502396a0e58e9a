/*
 * fleet — the registry's whole cloud in memory for one readiness or
 * rollout call: each host's snapshot, the (type, version) pairs seen
 * anywhere, the room as slots grouped per probe target, and every VM with
 * mdevs with the version each mdev would send (the device node's, or its
 * type node's when the device has no attribute, as source.c reads them).
 * Versions are the registry's: collectors publish on every change, and
 * reading a thousand sources live would cost more than it tells.
 */
#include "fleet.h"

#include "errname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int fleet_oom(char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory");
    return MDEVMIG_ERR_INTERNAL;
}

void fleet_clear(struct fleet *f)
{
    for (size_t h = 0; f->hosts != NULL && h < f->host_count; h++)
        inventory_free(&f->hosts[h].inv);
    free(f->hosts);
    registry_hosts_free(&f->list);
    free(f->types);
    for (size_t v = 0; v < f->version_count; v++) {
        free(f->versions[v].mdev.type);
        free(f->versions[v].mdev.version);
    }
    free(f->versions);
    free(f->slots);
    free(f->groups);
    free(f->host_groups);
    free(f->ref_group);
    free(f->ref_version);
    for (size_t i = 0; i < f->vm_count; i++) {
        free(f->vms[i].needs);
        free(f->vms[i].reason);
    }
    free(f->vms);
    free(f->key_probe);
    free(f->key_mark);
    free(f->queue);
    for (size_t p = 0; p < f->probe_count; p++)
        confirm_probe_clear(&f->probes[p].probe);
    free(f->probes);
    memset(f, 0, sizeof *f);
}

size_t fleet_host_index(const struct fleet *f, const char *name)
{
    size_t lo = 0, hi = f->host_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->hosts[mid].name, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return FLEET_NONE;
}

static int fleet_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t fleet_type_index(const struct fleet *f, const char *type)
{
    char *const *hit = bsearch(&type, f->types, f->type_count, sizeof *f->types, fleet_str_cmp);
    return hit != NULL ? (size_t)(hit - f->types) : FLEET_NONE;
}

size_t fleet_version_index(const struct fleet *f, size_t type, const char *digest)
{
    for (size_t v = 0; v < f->version_count; v++) {
        if (f->versions[v].type == type && strcmp(f->versions[v].mdev.digest, digest) == 0)
            return v;
    }
    return FLEET_NONE;
}

void fleet_host_type_groups(const struct fleet *f, size_t h, size_t type, size_t *first,
                            size_t *end)
{
    const size_t *at = &f->host_groups[2 * (h * f->type_count + type)];
    *first = at[0];
    *end = at[1];
}

/* ---- loading ------------------------------------------------------------- */

static int fleet_load_hosts(struct fleet *f, char *err, size_t errlen)
{
    struct mdevmig *m = f->m;
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_list_hosts(m->registry, &f->list, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (rc < 0)
        return MDEVMIG_ERR_INTERNAL;
    f->hosts = calloc(f->list.count + 1, sizeof *f->hosts);
    if (f->hosts == NULL)
        return fleet_oom(err, errlen);
    for (size_t i = 0; i < f->list.count; i++) {
        const struct registry_host *rh = &f->list.items[i];
        struct fleet_host *h = &f->hosts[f->host_count];
        /* One host at a time: ingest waits for one snapshot, not all. */
        pthread_mutex_lock(&m->registry_lock);
        rc = registry_load_host(m->registry, rh->name, &h->inv, err, errlen);
        pthread_mutex_unlock(&m->registry_lock);
        if (rc < 0)
            return MDEVMIG_ERR_INTERNAL;
        if (rc == 1)
            continue; /* forgotten between the two reads */
        h->name = rh->name;
        h->url = rh->collector_url;
        h->stale = rh->last_seen > 0 && f->now - rh->last_seen > m->stale_after_s;
        f->host_count++;
    }
    return 0;
}

/* Every type id any host offers or any device has, sorted. */
static int fleet_load_types(struct fleet *f, char *err, size_t errlen)
{
    size_t cap = 0;
    for (size_t h = 0; h < f->host_count; h++) {
        const struct inventory *inv = &f->hosts[h].inv;
        for (size_t p = 0; p < inv->parent_count; p++)
            cap += inv->parents[p].type_count;
        cap += inv->device_count;
    }
    f->types = calloc(cap + 1, sizeof *f->types);
    if (f->types == NULL)
        return fleet_oom(err, errlen);
    for (size_t h = 0; h < f->host_count; h++) {
        const struct inventory *inv = &f->hosts[h].inv;
        for (size_t p = 0; p < inv->parent_count; p++) {
            for (size_t t = 0; t < inv->parents[p].type_count; t++)
                f->types[f->type_count++] = inv->parents[p].types[t].id;
        }
        for (size_t d = 0; d < inv->device_count; d++)
            f->types[f->type_count++] = inv->devices[d].type;
    }
    if (f->type_count > 1)
        qsort(f->types, f->type_count, sizeof *f->types, fleet_str_cmp);
    size_t unique = 0;
    for (size_t i = 0; i < f->type_count; i++) {
        if (unique == 0 || strcmp(f->types[unique - 1], f->types[i]) != 0)
            f->types[unique++] = f->types[i];
    }
    f->type_count = unique;
    return 0;
}

/* Add (type, version) once. */
static int fleet_add_version(struct fleet *f, size_t *cap, size_t type,
                             const struct inv_migration *mig)
{
    if (mig->version == NULL || fleet_version_index(f, type, mig->digest) != FLEET_NONE)
        return 0;
    if (f->version_count == *cap) {
        size_t grown = *cap * 2 + 8;
        struct fleet_version *v = realloc(f->versions, grown * sizeof *v);
        if (v == NULL)
            return -1;
        f->versions = v;
        *cap = grown;
    }
    struct fleet_version *v = &f->versions[f->version_count];
    memset(v, 0, sizeof *v);
    v->type = type;
    memcpy(v->mdev.digest, mig->digest, sizeof v->mdev.digest);
    v->mdev.type = strdup(f->types[type]);
    v->mdev.version = strdup(mig->version);
    f->version_count++;
    return v->mdev.type != NULL && v->mdev.version != NULL ? 0 : -1;
}

static int fleet_load_versions(struct fleet *f, char *err, size_t errlen)
{
    size_t cap = 0;
    for (size_t h = 0; h < f->host_count; h++) {
        const struct inventory *inv = &f->hosts[h].inv;
        for (size_t p = 0; p < inv->parent_count; p++) {
            for (size_t t = 0; t < inv->parents[p].type_count; t++) {
                const struct inv_type *type = &inv->parents[p].types[t];
                if (fleet_add_version(f, &cap, fleet_type_index(f, type->id), &type->migration) < 0)
                    return fleet_oom(err, errlen);
            }
        }
        for (size_t d = 0; d < inv->device_count; d++) {
            const struct inv_device *dev = &inv->devices[d];
            if (fleet_add_version(f, &cap, fleet_type_index(f, dev->type), &dev->migration) < 0)
                return fleet_oom(err, errlen);
        }
    }
    return 0;
}

static int fleet_slot_cmp(const void *a, const void *b, void *ctx)
{
    const struct fleet *f = ctx;
    const struct fleet_slot *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    const char *dx = x->group != FLEET_NONE ? f->versions[x->group].mdev.digest : "";
    const char *dy = y->group != FLEET_NONE ? f->versions[y->group].mdev.digest : "";
    int c = strcmp(dx, dy);
    return c != 0 ? c : strcmp(x->parent, y->parent);
}

/* A created mdev of type on parent that no VM uses: room at device level. */
static int fleet_unused(const struct inventory *inv, const char *parent, const char *type,
                        const char **first)
{
    int count = 0;
    for (size_t d = 0; d < inv->device_count; d++) {
        const struct inv_device *dev = &inv->devices[d];
        if (dev->instance[0] == '\0' && strcmp(dev->parent, parent) == 0 &&
            strcmp(dev->type, type) == 0) {
            if (count++ == 0)
                *first = dev->uuid;
        }
    }
    return count;
}

/* Every type on every parent as a slot; slots of a host's type at one
 * version as a group. While sorting, slot.group holds the version. */
static int fleet_load_slots(struct fleet *f, char *err, size_t errlen)
{
    size_t rows = 0;
    for (size_t h = 0; h < f->host_count; h++) {
        const struct inventory *inv = &f->hosts[h].inv;
        for (size_t p = 0; p < inv->parent_count; p++)
            rows += inv->parents[p].type_count;
    }
    f->slots = calloc(rows + 1, sizeof *f->slots);
    f->groups = calloc(rows + 1, sizeof *f->groups);
    f->host_groups = calloc(2 * f->host_count * f->type_count + 1, sizeof *f->host_groups);
    if (f->slots == NULL || f->groups == NULL || f->host_groups == NULL)
        return fleet_oom(err, errlen);
    for (size_t h = 0; h < f->host_count; h++) {
        const struct inventory *inv = &f->hosts[h].inv;
        for (size_t p = 0; p < inv->parent_count; p++) {
            for (size_t t = 0; t < inv->parents[p].type_count; t++) {
                const struct inv_type *type = &inv->parents[p].types[t];
                struct fleet_slot *s = &f->slots[f->slot_count++];
                s->host = h;
                s->type = fleet_type_index(f, type->id);
                s->parent = inv->parents[p].name;
                const char *unused = NULL;
                s->capacity = (type->available_instances > 0 ? type->available_instances : 0) +
                              fleet_unused(inv, s->parent, type->id, &unused);
                s->group = type->migration.version != NULL
                               ? fleet_version_index(f, s->type, type->migration.digest)
                               : FLEET_NONE;
            }
        }
    }
    if (f->slot_count > 1)
        qsort_r(f->slots, f->slot_count, sizeof *f->slots, fleet_slot_cmp, f);
    for (size_t i = 0; i < f->slot_count; i++) {
        struct fleet_slot *s = &f->slots[i];
        size_t version = s->group;
        struct fleet_group *g = f->group_count > 0 ? &f->groups[f->group_count - 1] : NULL;
        if (g == NULL || g->type != s->type || g->host != s->host || g->version != version) {
            g = &f->groups[f->group_count++];
            g->host = s->host;
            g->type = s->type;
            g->version = version;
            g->digest = version != FLEET_NONE ? f->versions[version].mdev.digest : "";
            g->first = i;
            size_t *at = &f->host_groups[2 * (s->host * f->type_count + s->type)];
            if (at[1] == 0)
                at[0] = f->group_count - 1;
            at[1] = f->group_count;
        }
        g->count++;
        s->group = f->group_count - 1;
        s->remaining = s->capacity;
    }
    /* Probe where a new mdev would be made (most free instances), or an
     * unused mdev when that is all the room there is. */
    for (size_t gi = 0; gi < f->group_count; gi++) {
        struct fleet_group *g = &f->groups[gi];
        const struct inventory *inv = &f->hosts[g->host].inv;
        const char *type = f->types[g->type];
        int most = 0;
        for (size_t i = g->first; i < g->first + g->count; i++) {
            const struct inv_type *row = inventory_find_type(inv, f->slots[i].parent, type);
            if (row != NULL && row->available_instances > most) {
                most = row->available_instances;
                g->parent = f->slots[i].parent;
            }
        }
        for (size_t i = g->first; i < g->first + g->count && g->parent == NULL; i++) {
            const char *unused = NULL;
            if (fleet_unused(inv, f->slots[i].parent, type, &unused) > 0)
                g->device = unused;
        }
        if (g->parent == NULL && g->device == NULL)
            g->parent = f->slots[g->first].parent;
    }
    return 0;
}

static size_t fleet_slot_of(const struct fleet *f, size_t h, size_t type, const char *parent)
{
    size_t first, end;
    fleet_host_type_groups(f, h, type, &first, &end);
    for (size_t g = first; g < end; g++) {
        for (size_t s = f->groups[g].first; s < f->groups[g].first + f->groups[g].count; s++) {
            if (strcmp(f->slots[s].parent, parent) == 0)
                return s;
        }
    }
    return FLEET_NONE;
}

/* The version one mdev of a VM sends, or why it has none. */
static int fleet_load_need(struct fleet *f, struct fleet_vm *vm, const char *uuid,
                           struct fleet_need *need)
{
    const struct fleet_host *host = &f->hosts[vm->host];
    const struct inv_device *dev = inventory_find_device(&host->inv, uuid);
    char why[400] = "";
    need->uuid = uuid;
    need->type = need->version = need->slot = FLEET_NONE;
    if (dev == NULL) {
        snprintf(why, sizeof why, "host %s does not list mdev %s", host->name, uuid);
    } else {
        need->type = fleet_type_index(f, dev->type);
        need->slot = fleet_slot_of(f, vm->host, need->type, dev->parent);
        const struct inv_migration *mig = &dev->migration;
        if (!mig->supported) {
            /* No attribute on the device: its type node's version stands in. */
            const struct inv_type *type = inventory_find_type(&host->inv, dev->parent, dev->type);
            if (type != NULL && type->migration.supported)
                mig = &type->migration;
        }
        if (mig->version != NULL)
            need->version = fleet_version_index(f, need->type, mig->digest);
        else if (!mig->supported)
            snprintf(why, sizeof why, "mdev %s has no migration_version attribute", uuid);
        else if (mig->read_errno != 0)
            snprintf(why, sizeof why, "reading mdev %s's migration_version fails with %s", uuid,
                     errname_of(mig->read_errno) != NULL ? errname_of(mig->read_errno)
                                                         : "an errno");
        else
            snprintf(why, sizeof why, "mdev %s has no version on record", uuid);
    }
    if (why[0] != '\0' && vm->reason == NULL) {
        char text[480];
        snprintf(text, sizeof text, "not migratable: %s", why);
        if ((vm->reason = strdup(text)) == NULL)
            return -1;
    }
    return 0;
}

static int fleet_vm_uuid_cmp(const void *a, const void *b)
{
    const struct fleet_vm *x = a, *y = b;
    int c = strcmp(x->inst->uuid, y->inst->uuid);
    return c != 0 ? c : (x->host < y->host ? -1 : x->host > y->host);
}

static int fleet_vm_host_cmp(const void *a, const void *b)
{
    const struct fleet_vm *x = a, *y = b;
    if (x->host != y->host)
        return x->host < y->host ? -1 : 1;
    return strcmp(x->inst->uuid, y->inst->uuid);
}

/* Every VM with mdevs, once: during a live migration both hosts list it,
 * and the running one is where it is. */
static int fleet_load_vms(struct fleet *f, char *err, size_t errlen)
{
    size_t count = 0;
    for (size_t h = 0; h < f->host_count; h++)
        count += f->hosts[h].inv.instance_count;
    f->vms = calloc(count + 1, sizeof *f->vms);
    if (f->vms == NULL)
        return fleet_oom(err, errlen);
    for (size_t h = 0; h < f->host_count; h++) {
        const struct inventory *inv = &f->hosts[h].inv;
        for (size_t i = 0; i < inv->instance_count; i++) {
            if (inv->instances[i].mdev_count == 0) {
                f->without_mdevs++;
                continue;
            }
            f->vms[f->vm_count++] = (struct fleet_vm){.inst = &inv->instances[i], .host = h};
        }
    }
    if (f->vm_count > 1)
        qsort(f->vms, f->vm_count, sizeof *f->vms, fleet_vm_uuid_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < f->vm_count; i++) {
        struct fleet_vm *vm = &f->vms[i];
        struct fleet_vm *prev = kept > 0 ? &f->vms[kept - 1] : NULL;
        if (prev != NULL && strcmp(prev->inst->uuid, vm->inst->uuid) == 0) {
            bool running = vm->inst->state != NULL && strcmp(vm->inst->state, "running") == 0;
            bool prev_running =
                prev->inst->state != NULL && strcmp(prev->inst->state, "running") == 0;
            if (running && !prev_running)
                *prev = *vm;
            continue;
        }
        f->vms[kept++] = *vm;
    }
    f->vm_count = kept;
    if (f->vm_count > 1)
        qsort(f->vms, f->vm_count, sizeof *f->vms, fleet_vm_host_cmp);
    for (size_t i = 0; i < f->vm_count; i++) {
        struct fleet_vm *vm = &f->vms[i];
        f->hosts[vm->host].vms++;
        vm->need_count = vm->inst->mdev_count;
        vm->needs = calloc(vm->need_count + 1, sizeof *vm->needs);
        if (vm->needs == NULL)
            return fleet_oom(err, errlen);
        for (size_t k = 0; k < vm->need_count; k++) {
            if (fleet_load_need(f, vm, vm->inst->mdevs[k], &vm->needs[k]) < 0)
                return fleet_oom(err, errlen);
        }
    }
    return 0;
}

int fleet_load(struct fleet *f, struct mdevmig *m, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->m = m;
    f->now = (int64_t)time(NULL);
    int rc = fleet_load_hosts(f, err, errlen);
    if (rc == 0)
        rc = fleet_load_types(f, err, errlen);
    if (rc == 0)
        rc = fleet_load_versions(f, err, errlen);
    if (rc == 0)
        rc = fleet_load_slots(f, err, errlen);
    if (rc == 0)
        rc = fleet_load_vms(f, err, errlen);
    if (rc == 0) {
        size_t keys = f->version_count * f->group_count;
        f->key_probe = malloc((keys + 1) * sizeof *f->key_probe);
        f->key_mark = calloc(keys + 1, sizeof *f->key_mark);
        if (f->key_probe == NULL || f->key_mark == NULL)
            rc = fleet_oom(err, errlen);
        for (size_t k = 0; rc == 0 && k < keys; k++)
            f->key_probe[k] = FLEET_NONE;
        f->mark = 1;
    }
    return rc;
}
