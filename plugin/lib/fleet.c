/*
 * fleet — the registry's cloud in memory for one readiness or rollout
 * call: every VM with mdevs and the version each mdev would send (the
 * device node's, or its type node's when the device has no attribute, as
 * source.c reads them), read in one query; the snapshots of the hosts
 * with room for those VMs' types and of the hosts a caller names; the
 * (type, version) pairs seen; the room as slots grouped per probe target.
 * A host that runs VMs but has no room is only a row (name, URL, age), and
 * a full host without VMs is only counted: at 100,000 hosts, most of them
 * full, that is the difference between reading a few hundred snapshots
 * and all of them. Versions are the registry's: collectors publish on
 * every change, and reading a thousand sources live would cost more than
 * it tells.
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
    for (size_t h = 0; f->hosts != NULL && h < f->host_count; h++) {
        inventory_free(&f->hosts[h].inv);
        registry_host_clear(&f->hosts[h].row);
    }
    free(f->hosts);
    free(f->types);
    free(f->type_elsewhere);
    for (size_t i = 0; f->instances != NULL && i < f->instance_count; i++)
        free(f->instances[i].mdevs);
    free(f->instances);
    registry_vms_free(&f->rvms);
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

size_t fleet_full_elsewhere(const struct fleet *f, const size_t *types, size_t count)
{
    size_t fewest = SIZE_MAX;
    for (size_t k = 0; k < count; k++) {
        size_t n =
            types[k] != FLEET_NONE && f->type_elsewhere != NULL ? f->type_elsewhere[types[k]] : 0;
        if (n < fewest)
            fewest = n;
    }
    return count > 0 ? fewest : 0;
}

/* ---- loading ------------------------------------------------------------- */

static int fleet_host_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fleet_host *)a)->name, ((const struct fleet_host *)b)->name);
}

/* Read host name into the next fleet_host, unless it is read already: its
 * row, and its snapshot when snapshot is set. 0, 1 when the registry does
 * not know it, or an mdevmig_status. The hosts read before the last
 * fleet_sort are searched by name; callers read each phase's names once. */
static int fleet_read_host(struct fleet *f, size_t *cap, const char *name, bool snapshot, char *err,
                           size_t errlen)
{
    struct fleet_host key = {.name = name};
    if (f->host_sorted > 0 &&
        bsearch(&key, f->hosts, f->host_sorted, sizeof *f->hosts, fleet_host_cmp) != NULL)
        return 0;
    if (f->host_count == *cap) {
        size_t grown = *cap * 2 + 64;
        struct fleet_host *h = realloc(f->hosts, grown * sizeof *h);
        if (h == NULL)
            return fleet_oom(err, errlen);
        f->hosts = h;
        *cap = grown;
    }
    struct fleet_host *h = &f->hosts[f->host_count];
    memset(h, 0, sizeof *h);
    struct mdevmig *m = f->m;
    /* One host at a time: ingest waits for one snapshot, not all. */
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_host_get(m->registry, name, &h->row, err, errlen);
    if (rc == 0 && snapshot) {
        rc = registry_load_host(m->registry, name, &h->inv, err, errlen);
        if (rc != 0)
            registry_host_clear(&h->row);
    }
    pthread_mutex_unlock(&m->registry_lock);
    if (rc != 0)
        return rc < 0 ? MDEVMIG_ERR_INTERNAL : 1; /* 1: forgotten, or never there */
    h->name = h->row.name;
    h->url = h->row.collector_url;
    h->stale = h->row.last_seen > 0 && f->now - h->row.last_seen > m->stale_after_s;
    f->host_count++;
    return 0;
}

static void fleet_sort(struct fleet *f)
{
    if (f->host_count > 1)
        qsort(f->hosts, f->host_count, sizeof *f->hosts, fleet_host_cmp);
    f->host_sorted = f->host_count;
}

/* The type ids the VMs' mdevs have, sorted and unique (borrowed). */
static int fleet_vm_types(const struct fleet *f, const char ***out, size_t *count)
{
    size_t cap = 0;
    for (size_t i = 0; i < f->rvms.count; i++)
        cap += f->rvms.items[i].mdev_count;
    const char **types = calloc(cap + 1, sizeof *types);
    if (types == NULL)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < f->rvms.count; i++) {
        const struct registry_vm *vm = &f->rvms.items[i];
        for (size_t k = 0; k < vm->mdev_count; k++) {
            if (vm->mdevs[k].type_id != NULL)
                types[n++] = vm->mdevs[k].type_id;
        }
    }
    if (n > 1)
        qsort(types, n, sizeof *types, fleet_str_cmp);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++) {
        if (unique == 0 || strcmp(types[unique - 1], types[i]) != 0)
            types[unique++] = types[i];
    }
    *out = types;
    *count = unique;
    return 0;
}

/* The named hosts and those with room for the VMs' types, whole; the
 * other hosts with VMs as rows; per type, how many hosts offer it. */
static int fleet_load_hosts(struct fleet *f, const char *const *named, size_t named_count,
                            size_t **type_counts, const char ***types, size_t *type_count,
                            char *err, size_t errlen)
{
    struct mdevmig *m = f->m;
    size_t cap = 0;
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_fleet_vms(m->registry, &f->rvms, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (rc < 0)
        return MDEVMIG_ERR_INTERNAL;
    for (size_t i = 0; i < named_count && rc == 0; i++) {
        rc = fleet_read_host(f, &cap, named[i], true, err, errlen);
        if (rc == 1) {
            snprintf(err, errlen, "host %s is not in the registry", named[i]);
            rc = MDEVMIG_ERR_NOT_FOUND;
        }
    }
    fleet_sort(f);
    if (rc != 0)
        return rc;
    if (fleet_vm_types(f, types, type_count) < 0)
        return fleet_oom(err, errlen);
    size_t *counts = calloc(*type_count + 1, sizeof *counts);
    if (counts == NULL)
        return fleet_oom(err, errlen);
    *type_counts = counts;
    for (size_t t = 0; t < *type_count && rc == 0; t++) {
        struct registry_names room = {0};
        pthread_mutex_lock(&m->registry_lock);
        int q = registry_hosts_with_room(m->registry, (*types)[t], &room, err, errlen);
        if (q == 0)
            q = registry_type_hosts(m->registry, (*types)[t], &counts[t], err, errlen);
        pthread_mutex_unlock(&m->registry_lock);
        if (q < 0)
            rc = MDEVMIG_ERR_INTERNAL;
        for (size_t i = 0; i < room.count && rc == 0; i++)
            rc = fleet_read_host(f, &cap, room.items[i], true, err, errlen) < 0
                     ? MDEVMIG_ERR_INTERNAL
                     : 0;
        registry_names_free(&room);
        fleet_sort(f);
    }
    /* The VMs' own hosts: where they are, how fresh; rows are by host. */
    for (size_t i = 0; i < f->rvms.count && rc == 0; i++) {
        const char *host = f->rvms.items[i].host;
        if (i > 0 && strcmp(f->rvms.items[i - 1].host, host) == 0)
            continue;
        rc = fleet_read_host(f, &cap, host, false, err, errlen) < 0 ? MDEVMIG_ERR_INTERNAL : 0;
    }
    fleet_sort(f);
    return rc;
}

/* Every type id the snapshots offer or the VMs use, sorted. */
static int fleet_load_types(struct fleet *f, const char *const *vm_types, size_t vm_type_count,
                            char *err, size_t errlen)
{
    size_t cap = vm_type_count;
    for (size_t h = 0; h < f->host_count; h++) {
        const struct inventory *inv = &f->hosts[h].inv;
        for (size_t p = 0; p < inv->parent_count; p++)
            cap += inv->parents[p].type_count;
        cap += inv->device_count;
    }
    f->types = calloc(cap + 1, sizeof *f->types);
    if (f->types == NULL)
        return fleet_oom(err, errlen);
    for (size_t t = 0; t < vm_type_count; t++)
        f->types[f->type_count++] = (char *)vm_types[t];
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
    if (mig->version == NULL || type == FLEET_NONE ||
        fleet_version_index(f, type, mig->digest) != FLEET_NONE)
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
    for (size_t i = 0; i < f->rvms.count; i++) {
        const struct registry_vm *vm = &f->rvms.items[i];
        for (size_t k = 0; k < vm->mdev_count; k++) {
            const struct registry_vm_mdev *md = &vm->mdevs[k];
            size_t t = md->type_id != NULL ? fleet_type_index(f, md->type_id) : FLEET_NONE;
            if (fleet_add_version(f, &cap, t, &md->migration) < 0 ||
                fleet_add_version(f, &cap, t, &md->type_migration) < 0)
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
static int fleet_load_need(struct fleet *f, struct fleet_vm *vm, const struct registry_vm_mdev *md,
                           struct fleet_need *need)
{
    const struct fleet_host *host = &f->hosts[vm->host];
    char why[400] = "";
    need->uuid = md->uuid;
    need->type = need->version = need->slot = FLEET_NONE;
    if (!md->present) {
        snprintf(why, sizeof why, "host %s does not list mdev %s", host->name, md->uuid);
    } else {
        need->type = fleet_type_index(f, md->type_id);
        need->slot = fleet_slot_of(f, vm->host, need->type, md->parent);
        const struct inv_migration *mig = &md->migration;
        /* No attribute on the device: its type node's version stands in. */
        if (!mig->supported && md->type_migration.supported)
            mig = &md->type_migration;
        if (mig->version != NULL)
            need->version = fleet_version_index(f, need->type, mig->digest);
        else if (!mig->supported)
            snprintf(why, sizeof why, "mdev %s has no migration_version attribute", md->uuid);
        else if (mig->read_errno != 0)
            snprintf(why, sizeof why, "reading mdev %s's migration_version fails with %s", md->uuid,
                     errname_of(mig->read_errno) != NULL ? errname_of(mig->read_errno)
                                                         : "an errno");
        else
            snprintf(why, sizeof why, "mdev %s has no version on record", md->uuid);
    }
    if (why[0] != '\0' && vm->reason == NULL) {
        char text[480];
        snprintf(text, sizeof text, "not migratable: %s", why);
        if ((vm->reason = strdup(text)) == NULL)
            return -1;
    }
    return 0;
}

static bool fleet_running(const struct registry_vm *vm)
{
    return vm->state != NULL && strcmp(vm->state, "running") == 0;
}

static int fleet_rvm_uuid_cmp(const void *a, const void *b, void *ctx)
{
    const struct registry_vms *all = ctx;
    const struct registry_vm *x = &all->items[*(const size_t *)a];
    const struct registry_vm *y = &all->items[*(const size_t *)b];
    int c = strcmp(x->uuid, y->uuid);
    if (c != 0)
        return c;
    /* During a live migration both hosts list it: the running one first,
     * then by host. */
    if (fleet_running(x) != fleet_running(y))
        return fleet_running(x) ? -1 : 1;
    return strcmp(x->host, y->host);
}

/* Every VM with mdevs, once, in the registry's order (by host, then UUID). */
static int fleet_load_vms(struct fleet *f, char *err, size_t errlen)
{
    size_t n = f->rvms.count;
    size_t *order = calloc(n + 1, sizeof *order);
    bool *keep = calloc(n + 1, sizeof *keep);
    f->vms = calloc(n + 1, sizeof *f->vms);
    f->instances = calloc(n + 1, sizeof *f->instances);
    if (order == NULL || keep == NULL || f->vms == NULL || f->instances == NULL) {
        free(order);
        free(keep);
        return fleet_oom(err, errlen);
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (n > 1)
        qsort_r(order, n, sizeof *order, fleet_rvm_uuid_cmp, &f->rvms);
    for (size_t i = 0; i < n; i++)
        keep[order[i]] =
            i == 0 || strcmp(f->rvms.items[order[i - 1]].uuid, f->rvms.items[order[i]].uuid) != 0;
    free(order);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct registry_vm *rv = &f->rvms.items[i];
        if (!keep[i])
            continue;
        struct inv_instance *inst = &f->instances[f->instance_count++];
        memcpy(inst->uuid, rv->uuid, sizeof inst->uuid);
        inst->name = rv->name;
        inst->state = rv->state;
        inst->mdev_count = rv->mdev_count;
        inst->mdevs = calloc(rv->mdev_count + 1, sizeof *inst->mdevs);
        struct fleet_vm *vm = &f->vms[f->vm_count++];
        vm->inst = inst;
        vm->host = fleet_host_index(f, rv->host);
        vm->need_count = rv->mdev_count;
        vm->needs = calloc(vm->need_count + 1, sizeof *vm->needs);
        if (inst->mdevs == NULL || vm->needs == NULL || vm->host == FLEET_NONE) {
            rc = vm->host == FLEET_NONE ? -2 : -1;
            break;
        }
        f->hosts[vm->host].vms++;
        for (size_t k = 0; k < rv->mdev_count && rc == 0; k++) {
            memcpy(inst->mdevs[k], rv->mdevs[k].uuid, sizeof inst->mdevs[k]);
            if (fleet_load_need(f, vm, &rv->mdevs[k], &vm->needs[k]) < 0)
                rc = -1;
        }
    }
    free(keep);
    if (rc == -2) {
        snprintf(err, errlen, "a host with VMs left the registry while it was read; ask again");
        return MDEVMIG_ERR_INTERNAL;
    }
    return rc < 0 ? fleet_oom(err, errlen) : 0;
}

/* Per type, the hosts offering it that were not read: full hosts without
 * VMs, which make "no capacity" the reason rather than "no such type". */
static int fleet_count_elsewhere(struct fleet *f, const size_t *counts, char *const *names,
                                 size_t n, char *err, size_t errlen)
{
    f->type_elsewhere = calloc(f->type_count + 1, sizeof *f->type_elsewhere);
    if (f->type_elsewhere == NULL)
        return fleet_oom(err, errlen);
    for (size_t i = 0; i < n; i++) {
        size_t t = fleet_type_index(f, names[i]);
        if (t == FLEET_NONE)
            continue;
        size_t read = 0;
        for (size_t h = 0; h < f->host_count; h++) {
            size_t first, end;
            fleet_host_type_groups(f, h, t, &first, &end);
            read += first != end;
        }
        f->type_elsewhere[t] = counts[i] > read ? counts[i] - read : 0;
    }
    return 0;
}

int fleet_load(struct fleet *f, struct mdevmig *m, const char *const *named, size_t named_count,
               char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->m = m;
    f->now = (int64_t)time(NULL);
    size_t *counts = NULL, counted_n = 0;
    const char **counted = NULL;
    int rc = fleet_load_hosts(f, named, named_count, &counts, &counted, &counted_n, err, errlen);
    if (rc == 0)
        rc = fleet_load_types(f, counted, counted_n, err, errlen);
    if (rc == 0)
        rc = fleet_load_versions(f, err, errlen);
    if (rc == 0)
        rc = fleet_load_slots(f, err, errlen);
    if (rc == 0)
        rc = fleet_load_vms(f, err, errlen);
    if (rc == 0)
        rc = fleet_count_elsewhere(f, counts, (char *const *)counted, counted_n, err, errlen);
    free(counted); /* the names are the VM rows' */
    free(counts);
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
