/*
 * evacuate_destinations — where an evacuation's VMs could go, from the
 * registry's rows of the types needed on every other host: slots (a type
 * on a parent), grouped by (type, host, target version) because one probe
 * answers for a whole group; the probe keys, one per (source version,
 * group); and the profiles of VMs with the same needs, which fit the same
 * hosts.
 */
#include "evacuate_internal.h"

#include <stdlib.h>
#include <string.h>

static size_t evacuate_type_index(const struct evacuate *e, const char *type)
{
    for (size_t k = 0; k < e->type_count; k++) {
        if (strcmp(e->types[k], type) == 0)
            return k;
    }
    return EVACUATE_NONE;
}

static int evacuate_slot_cmp(const void *a, const void *b)
{
    const struct evacuate_slot *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    int c = strcmp(x->offer->host, y->offer->host);
    if (c == 0)
        c = strcmp(x->offer->digest, y->offer->digest);
    if (c == 0)
        c = strcmp(x->offer->parent, y->offer->parent);
    return c;
}

static int evacuate_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every row of the types needed, on every other host: slots, grouped by
 * (type, host, target version), and the hosts by name. */
int evacuate_destinations(struct evacuate *e, char *err, size_t errlen)
{
    size_t needs = 0;
    for (size_t i = 0; i < e->vm_count; i++)
        needs += e->vms[i].need_count;
    e->types = calloc(needs + 1, sizeof *e->types);
    if (e->types == NULL)
        return evacuate_oom(err, errlen);
    for (size_t i = 0; i < e->vm_count; i++) {
        const struct evacuate_vm *vm = &e->vms[i];
        for (size_t n = 0; n < vm->need_count && vm->reason == NULL; n++) {
            if (evacuate_type_index(e, vm->needs[n].mdev.type) == EVACUATE_NONE)
                e->types[e->type_count++] = vm->needs[n].mdev.type;
        }
    }
    e->offers = calloc(e->type_count + 1, sizeof *e->offers);
    if (e->offers == NULL)
        return evacuate_oom(err, errlen);
    int rc = 0;
    pthread_mutex_lock(&e->m->registry_lock);
    for (size_t k = 0; k < e->type_count && rc == 0; k++)
        rc = registry_offers_all_by_type(e->m->registry, e->types[k], &e->offers[k], err, errlen);
    pthread_mutex_unlock(&e->m->registry_lock);
    if (rc < 0)
        return MDEVMIG_ERR_INTERNAL;

    size_t rows = 0;
    for (size_t k = 0; k < e->type_count; k++)
        rows += e->offers[k].count;
    e->slots = calloc(rows + 1, sizeof *e->slots);
    const char **names = calloc(rows + 1, sizeof *names);
    if (e->slots == NULL || names == NULL) {
        free(names);
        return evacuate_oom(err, errlen);
    }
    for (size_t k = 0; k < e->type_count; k++) {
        for (size_t r = 0; r < e->offers[k].count; r++) {
            const struct registry_offer *o = &e->offers[k].items[r];
            if (strcmp(o->host, e->req->host) == 0)
                continue; /* never where the VMs are now */
            struct evacuate_slot *s = &e->slots[e->slot_count];
            s->offer = o;
            s->type = k;
            s->capacity = (o->available_instances > 0 ? o->available_instances : 0) +
                          (o->unused_device[0] != '\0');
            names[e->slot_count++] = o->host;
        }
    }
    if (e->slot_count > 1) {
        qsort(e->slots, e->slot_count, sizeof *e->slots, evacuate_slot_cmp);
        qsort(names, e->slot_count, sizeof *names, evacuate_name_cmp);
    }
    size_t unique = 0;
    for (size_t i = 0; i < e->slot_count; i++) {
        if (unique == 0 || strcmp(names[unique - 1], names[i]) != 0)
            names[unique++] = names[i];
    }
    e->host_count = unique;
    e->hosts = calloc(unique + 1, sizeof *e->hosts);
    e->groups = calloc(e->slot_count + 1, sizeof *e->groups);
    e->type_groups = calloc(e->type_count + 1, sizeof *e->type_groups);
    e->host_first = calloc(unique * e->type_count + 1, sizeof *e->host_first);
    e->host_end = calloc(unique * e->type_count + 1, sizeof *e->host_end);
    if (e->hosts == NULL || e->groups == NULL || e->type_groups == NULL || e->host_first == NULL ||
        e->host_end == NULL) {
        free(names);
        return evacuate_oom(err, errlen);
    }
    for (size_t h = 0; h < unique; h++)
        e->hosts[h].name = names[h];
    free(names);

    size_t next_type = 0;
    for (size_t i = 0; i < e->slot_count; i++) {
        struct evacuate_slot *s = &e->slots[i];
        const char *name = s->offer->host;
        /* The hosts are sorted by name: a binary search over them. */
        size_t lo = 0, hi = e->host_count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(e->hosts[mid].name, name);
            if (c == 0) {
                lo = hi = mid;
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        s->host = lo;
        struct evacuate_host *host = &e->hosts[lo];
        if (host->url == NULL && s->offer->collector_url != NULL)
            host->url = s->offer->collector_url;
        host->stale = s->offer->last_seen > 0 && e->now - s->offer->last_seen > e->m->stale_after_s;
        const struct evacuate_slot *prev = i > 0 ? &e->slots[i - 1] : NULL;
        bool same_group = prev != NULL && prev->type == s->type && prev->host == s->host &&
                          strcmp(prev->offer->digest, s->offer->digest) == 0;
        if (!same_group) {
            while (next_type <= s->type)
                e->type_groups[next_type++] = e->group_count;
            struct evacuate_group *g = &e->groups[e->group_count++];
            g->host = s->host;
            g->type = s->type;
            g->first = i;
            g->digest = s->offer->digest;
            size_t at = s->host * e->type_count + s->type;
            if (e->host_end[at] == 0)
                e->host_first[at] = e->group_count - 1;
            e->host_end[at] = e->group_count;
        }
        struct evacuate_group *g = &e->groups[e->group_count - 1];
        g->count++;
        s->group = e->group_count - 1;
    }
    while (next_type <= e->type_count)
        e->type_groups[next_type++] = e->group_count;

    /* Probe where a new mdev would be made (most free instances), or an
     * unused mdev when that is all the room there is. */
    for (size_t gi = 0; gi < e->group_count; gi++) {
        struct evacuate_group *g = &e->groups[gi];
        const struct registry_offer *roomiest = NULL, *unused = NULL;
        for (size_t i = g->first; i < g->first + g->count; i++) {
            const struct registry_offer *o = e->slots[i].offer;
            if (o->available_instances > 0 &&
                (roomiest == NULL || o->available_instances > roomiest->available_instances))
                roomiest = o;
            if (unused == NULL && o->unused_device[0] != '\0')
                unused = o;
        }
        if (roomiest != NULL)
            g->parent = roomiest->parent;
        else if (unused != NULL)
            g->device = unused->unused_device;
        else
            g->parent = e->slots[g->first].offer->parent;
    }
    return 0;
}

/* The source versions, each with one key per group of its type. */
int evacuate_keys(struct evacuate *e, char *err, size_t errlen)
{
    size_t needs = 0;
    for (size_t i = 0; i < e->vm_count; i++)
        needs += e->vms[i].need_count;
    e->versions = calloc(needs + 1, sizeof *e->versions);
    if (e->versions == NULL)
        return evacuate_oom(err, errlen);
    for (size_t i = 0; i < e->vm_count; i++) {
        struct evacuate_vm *vm = &e->vms[i];
        if (vm->reason != NULL)
            continue;
        if (vm->need_count > e->need_max)
            e->need_max = vm->need_count;
        for (size_t n = 0; n < vm->need_count; n++) {
            struct evacuate_need *need = &vm->needs[n];
            need->type = evacuate_type_index(e, need->mdev.type);
            size_t v = 0;
            while (v < e->version_count && strcmp(e->versions[v].digest, need->mdev.digest) != 0)
                v++;
            if (v == e->version_count) {
                struct evacuate_version *ver = &e->versions[e->version_count++];
                ver->mdev = &need->mdev;
                memcpy(ver->digest, need->mdev.digest, sizeof ver->digest);
                ver->type = need->type;
                ver->keys = e->key_count;
                e->key_count += e->type_groups[need->type + 1] - e->type_groups[need->type];
            }
            need->version = v;
        }
    }
    e->key_probe = malloc((e->key_count + 1) * sizeof *e->key_probe);
    e->key_mark = calloc(e->key_count + 1, sizeof *e->key_mark);
    e->scratch = calloc(e->need_max + 1, sizeof *e->scratch);
    e->order = calloc(e->vm_count + 1, sizeof *e->order);
    if (e->key_probe == NULL || e->key_mark == NULL || e->scratch == NULL || e->order == NULL)
        return evacuate_oom(err, errlen);
    for (size_t k = 0; k < e->key_count; k++)
        e->key_probe[k] = EVACUATE_NONE;
    for (size_t i = 0; i < e->vm_count; i++)
        e->order[i] = i;
    return 0;
}

size_t evacuate_key(const struct evacuate *e, size_t version, size_t group)
{
    const struct evacuate_version *v = &e->versions[version];
    return v->keys + (group - e->type_groups[v->type]);
}

/* The sorted (type, version) pairs of a VM, as its profile's signature. */
static int evacuate_pair_cmp(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int evacuate_signature_cmp(const void *a, const void *b, void *ctx)
{
    const size_t *const *sigs = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const size_t *sx = sigs[x], *sy = sigs[y];
    /* [0] is the pair count; pairs follow. */
    size_t n = sx[0] < sy[0] ? sx[0] : sy[0];
    for (size_t i = 0; i < 2 * n; i++) {
        if (sx[1 + i] != sy[1 + i])
            return sx[1 + i] < sy[1 + i] ? -1 : 1;
    }
    if (sx[0] != sy[0])
        return sx[0] < sy[0] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Migratable VMs with the same needs share a profile: which hosts offer
 * all their types, and how many of those could take one. */
int evacuate_profiles(struct evacuate *e, char *err, size_t errlen)
{
    size_t **sigs = calloc(e->vm_count + 1, sizeof *sigs);
    size_t *idx = calloc(e->vm_count + 1, sizeof *idx);
    e->profiles = calloc(e->vm_count + 1, sizeof *e->profiles);
    int rc = sigs != NULL && idx != NULL && e->profiles != NULL ? 0 : -1;
    size_t n = 0;
    for (size_t i = 0; i < e->vm_count && rc == 0; i++) {
        const struct evacuate_vm *vm = &e->vms[i];
        if (vm->reason != NULL)
            continue;
        size_t *sig = calloc(1 + 2 * vm->need_count, sizeof *sig);
        if (sig == NULL) {
            rc = -1;
            break;
        }
        sig[0] = vm->need_count;
        for (size_t k = 0; k < vm->need_count; k++) {
            sig[1 + 2 * k] = vm->needs[k].type;
            sig[2 + 2 * k] = vm->needs[k].version;
        }
        qsort(sig + 1, vm->need_count, 2 * sizeof *sig, evacuate_pair_cmp);
        sigs[i] = sig;
        idx[n++] = i;
    }
    if (rc == 0 && n > 1)
        qsort_r(idx, n, sizeof *idx, evacuate_signature_cmp, sigs);
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool same = false;
        if (i > 0) {
            const size_t *a = sigs[idx[i - 1]], *b = sigs[idx[i]];
            same = a[0] == b[0] && memcmp(a + 1, b + 1, 2 * a[0] * sizeof *a) == 0;
        }
        if (!same) {
            struct evacuate_profile *p = &e->profiles[e->profile_count++];
            p->vm = idx[i];
            p->hosts = calloc(e->host_count + 1, sizeof *p->hosts);
            p->room = calloc(e->host_count + 1, sizeof *p->room);
            if (p->hosts == NULL || p->room == NULL) {
                rc = -1;
                break;
            }
            const struct evacuate_vm *vm = &e->vms[idx[i]];
            for (size_t h = 0; h < e->host_count; h++) {
                bool all = true;
                for (size_t k = 0; k < vm->need_count && all; k++)
                    all = e->host_end[h * e->type_count + vm->needs[k].type] != 0;
                if (all)
                    p->hosts[p->host_count++] = h;
            }
        }
        e->vms[idx[i]].profile = e->profile_count - 1;
    }
    for (size_t i = 0; sigs != NULL && i < e->vm_count; i++)
        free(sigs[i]);
    free(sigs);
    free(idx);
    return rc == 0 ? 0 : evacuate_oom(err, errlen);
}
