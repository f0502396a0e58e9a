/*
 * evacuate — a plan to empty one host before maintenance: every VM with
 * mdevs on it gets a destination, or the reason it has none.
 *
 * The source side is a select's (source.c): the host's mdevs and their
 * versions, read live from its collector, the registry's copy (marked
 * stale) when it is down. The destinations are the registry's rows for the
 * types needed. Placement is greedy, the most constrained VM first (the
 * fewest hosts that could take it, then the most mdevs), spending free
 * instances parent by parent as it goes, all of a VM's mdevs on one host.
 *
 * A draft treats a destination nobody has probed yet as able to take the
 * VM; the probes the draft relies on then go out as one parallel wave
 * (confirm.c) and the draft is made again with their answers, until a
 * draft relies on nothing unprobed: then every destination in it was
 * confirmed live in this call. A probe answers for a (source version,
 * host, type at one target version), or a device, whichever VMs share it,
 * so a thousand VMs of one type over a hundred hosts need at most a
 * hundred probes. Cached verdicts play no part: they would make the plan
 * depend on history, and the same cluster must give the same plan.
 */
#include "internal.h"

#include "errname.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVACUATE_NONE SIZE_MAX
/* A wave smaller than this takes runner-up hosts' probes along: a refusal
 * then costs no extra round trip, as select's spares do. */
#define EVACUATE_WAVE_MIN 8
#define EVACUATE_ALTS     2
/* Hosts named per kind in an unplaced VM's reason; the rest are counted. */
#define EVACUATE_NAMES 3

const char *mdevmig_policy_name(enum mdevmig_policy policy)
{
    return policy == MDEVMIG_POLICY_PACK ? "pack" : "spread";
}

int mdevmig_policy_parse(const char *name, enum mdevmig_policy *out)
{
    if (name != NULL && strcmp(name, "spread") == 0)
        *out = MDEVMIG_POLICY_SPREAD;
    else if (name != NULL && strcmp(name, "pack") == 0)
        *out = MDEVMIG_POLICY_PACK;
    else
        return -1;
    return 0;
}

/* One type on one parent of a destination host. */
struct evacuate_slot {
    const struct registry_offer *offer;
    size_t type;
    size_t host;
    size_t group;
    int capacity;  /* free instances, plus an unused created mdev */
    int remaining; /* in the current draft */
};

/* A host's parents of one type at one target version: one probe per
 * source version answers for all of them. */
struct evacuate_group {
    size_t host, type;
    size_t first, count; /* slots */
    const char *digest;  /* the target's version ("" when none) */
    const char *parent;  /* type-level probe target: the parent with most free instances */
    const char *device;  /* a device-level target instead, when only unused mdevs are left */
};

struct evacuate_host {
    const char *name;
    const char *url;
    bool stale;
    bool unreachable; /* a probe found its collector down: nothing more goes there */
    bool probed;
    size_t vms; /* in the current draft */
};

/* A source version: what a probe writes. */
struct evacuate_version {
    const struct mdevmig_mdev *mdev; /* an mdev that has it (until the answer takes it) */
    char digest[MDEVMIG_DIGEST_LEN];
    size_t type;
    size_t keys; /* its first key; one key per group of its type */
};

/* One mdev of a VM. */
struct evacuate_need {
    struct mdevmig_mdev mdev; /* owned until it moves into the plan */
    size_t type, version;     /* EVACUATE_NONE when the VM cannot migrate */
    size_t slot;              /* in the current draft */
};

struct evacuate_vm {
    const struct inv_instance *inst;
    struct evacuate_need *needs;
    size_t need_count;
    char *reason;   /* not migratable: why */
    size_t profile; /* EVACUATE_NONE when not migratable */
    /* the current draft */
    size_t host;
    size_t alts[EVACUATE_ALTS]; /* runner-up hosts, for spare probes */
    bool pending;               /* placed on a probe not yet made */
};

/* VMs that need the same (type, version) pairs: they fit the same hosts. */
struct evacuate_profile {
    size_t vm; /* one of them */
    size_t *hosts;
    size_t host_count;
    size_t fitting; /* hosts that could take one on an empty plan */
};

struct evacuate_probe {
    size_t version, group, wave;
    struct mdevmig_probe probe;
    size_t vms;
};

struct evacuate {
    struct mdevmig *m;
    const struct mdevmig_evacuation *req;
    bool spread;
    int64_t now;
    struct inventory inv;
    struct source src;
    struct evacuate_vm *vms;
    size_t vm_count;
    size_t without_mdevs;
    const char **types; /* borrowed from the needs */
    size_t type_count;
    struct registry_offers *offers; /* per type */
    struct evacuate_slot *slots;
    size_t slot_count;
    struct evacuate_group *groups;
    size_t group_count;
    size_t *type_groups; /* per type its first group; [type_count] = group_count */
    struct evacuate_host *hosts;
    size_t host_count;
    size_t *host_first, *host_end; /* per (host, type): its groups */
    struct evacuate_version *versions;
    size_t version_count;
    size_t *key_probe; /* per key: index into probes, or EVACUATE_NONE */
    size_t *key_mark;  /* per key: the wave it was queued for */
    size_t key_count;
    struct evacuate_probe *probes;
    size_t probe_count;
    struct evacuate_profile *profiles;
    size_t profile_count;
    size_t *order; /* VM indexes in planning order */
    size_t *scratch;
    size_t need_max;
    size_t waves;
    size_t probes_sent;
};

static void evacuate_clear(struct evacuate *e)
{
    for (size_t i = 0; i < e->vm_count; i++) {
        struct evacuate_vm *vm = &e->vms[i];
        for (size_t n = 0; n < vm->need_count; n++) {
            free(vm->needs[n].mdev.type);
            free(vm->needs[n].mdev.version);
            free(vm->needs[n].mdev.reason);
        }
        free(vm->needs);
        free(vm->reason);
    }
    free(e->vms);
    for (size_t k = 0; e->offers != NULL && k < e->type_count; k++)
        registry_offers_free(&e->offers[k]);
    free(e->offers);
    free(e->types);
    free(e->slots);
    free(e->groups);
    free(e->type_groups);
    free(e->hosts);
    free(e->host_first);
    free(e->host_end);
    free(e->versions);
    free(e->key_probe);
    free(e->key_mark);
    for (size_t p = 0; p < e->probe_count; p++)
        confirm_probe_clear(&e->probes[p].probe);
    free(e->probes);
    for (size_t p = 0; p < e->profile_count; p++)
        free(e->profiles[p].hosts);
    free(e->profiles);
    free(e->order);
    free(e->scratch);
    source_clear(&e->src);
    inventory_free(&e->inv);
}

static long evacuate_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int evacuate_oom(char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory");
    return MDEVMIG_ERR_INTERNAL;
}

static void evacuate_report(const struct evacuate *e, const char *phase, size_t wave, size_t sent,
                            size_t answered, size_t placed)
{
    if (e->req->progress == NULL)
        return;
    size_t items = 0;
    for (size_t i = 0; i < e->vm_count; i++)
        items += e->vms[i].profile != EVACUATE_NONE;
    struct mdevmig_progress p = {
        .phase = phase,
        .wave = wave,
        .probes_sent = sent,
        .probes_answered = answered,
        .items = items,
        .items_done = placed,
    };
    e->req->progress(e->req->progress_ctx, &p);
}

/* ---- the source ---------------------------------------------------------- */

static int evacuate_uuid_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int evacuate_vm_cmp(const void *a, const void *b)
{
    const struct evacuate_vm *x = a, *y = b;
    return strcmp(x->inst->uuid, y->inst->uuid);
}

/* The index of uuid among the sorted device UUIDs, or EVACUATE_NONE. */
static size_t evacuate_device_index(const char *const *uuids, size_t count, const char *uuid)
{
    const char *const *hit = bsearch(&uuid, uuids, count, sizeof *uuids, evacuate_uuid_cmp);
    return hit != NULL ? (size_t)(hit - uuids) : EVACUATE_NONE;
}

static int evacuate_copy_mdev(struct mdevmig_mdev *to, const struct mdevmig_mdev *from)
{
    memcpy(to->uuid, from->uuid, sizeof to->uuid);
    memcpy(to->digest, from->digest, sizeof to->digest);
    to->type = strdup(from->type != NULL ? from->type : "");
    to->version = from->version != NULL ? strdup(from->version) : NULL;
    to->reason = from->reason != NULL ? strdup(from->reason) : NULL;
    return to->type == NULL || (from->version != NULL && to->version == NULL) ||
                   (from->reason != NULL && to->reason == NULL)
               ? -1
               : 0;
}

/* The host's VMs and their mdevs' versions: live where the collector
 * answers (source.c), as the registry has them otherwise. */
static int evacuate_source(struct evacuate *e, char *err, size_t errlen)
{
    const char *host = e->req->host;
    pthread_mutex_lock(&e->m->registry_lock);
    int rc = registry_load_host(e->m->registry, host, &e->inv, err, errlen);
    pthread_mutex_unlock(&e->m->registry_lock);
    if (rc == 1) {
        snprintf(err, errlen, "host %s is not in the registry", host);
        return MDEVMIG_ERR_NOT_FOUND;
    }
    if (rc < 0)
        return MDEVMIG_ERR_INTERNAL;

    size_t mdevs = 0;
    for (size_t i = 0; i < e->inv.instance_count; i++)
        mdevs += e->inv.instances[i].mdev_count;
    e->vms = calloc(e->inv.instance_count + 1, sizeof *e->vms);
    const char **uuids = calloc(mdevs + 1, sizeof *uuids);
    if (e->vms == NULL || uuids == NULL) {
        free(uuids);
        return evacuate_oom(err, errlen);
    }
    size_t uuid_count = 0;
    for (size_t i = 0; i < e->inv.instance_count; i++) {
        const struct inv_instance *inst = &e->inv.instances[i];
        if (inst->mdev_count == 0) {
            e->without_mdevs++;
            continue;
        }
        e->vms[e->vm_count++].inst = inst;
        for (size_t k = 0; k < inst->mdev_count; k++) {
            if (inventory_find_device(&e->inv, inst->mdevs[k]) != NULL)
                uuids[uuid_count++] = inst->mdevs[k];
        }
    }
    if (e->vm_count > 1)
        qsort(e->vms, e->vm_count, sizeof *e->vms, evacuate_vm_cmp);
    if (uuid_count > 1)
        qsort(uuids, uuid_count, sizeof *uuids, evacuate_uuid_cmp);
    size_t unique = 0;
    for (size_t i = 0; i < uuid_count; i++) {
        if (unique == 0 || strcmp(uuids[unique - 1], uuids[i]) != 0)
            uuids[unique++] = uuids[i];
    }
    uuid_count = unique;

    /* One select-style source for every mdev of the host at once: their
     * live reads go out as one batch over one kept-alive connection. */
    rc = 0;
    if (uuid_count > 0) {
        struct mdevmig_request req = {
            .host = host,
            .devices = uuids,
            .device_count = uuid_count,
        };
        rc = source_resolve(e->m, &req, &e->src, err, errlen);
        if (rc == MDEVMIG_ERR_NOT_FOUND) {
            /* A snapshot replaced between the two reads dropped a device. */
            char why[512];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "host %s changed while the plan was made (%s); ask again", host,
                     why);
            rc = MDEVMIG_ERR_INTERNAL;
        } else if (rc != 0) {
            rc = rc == MDEVMIG_ERR_INPUT ? MDEVMIG_ERR_INPUT : MDEVMIG_ERR_INTERNAL;
        } else if (e->src.mdev_count != uuid_count) {
            snprintf(err, errlen, "host %s: %zu mdevs asked for, %zu resolved", host, uuid_count,
                     e->src.mdev_count);
            rc = MDEVMIG_ERR_INTERNAL;
        }
    }
    for (size_t i = 0; i < e->vm_count && rc == 0; i++) {
        struct evacuate_vm *vm = &e->vms[i];
        vm->profile = EVACUATE_NONE;
        vm->host = EVACUATE_NONE;
        vm->needs = calloc(vm->inst->mdev_count + 1, sizeof *vm->needs);
        if (vm->needs == NULL) {
            rc = evacuate_oom(err, errlen);
            break;
        }
        vm->need_count = vm->inst->mdev_count;
        for (size_t k = 0; k < vm->need_count && rc == 0; k++) {
            struct evacuate_need *need = &vm->needs[k];
            need->type = need->version = need->slot = EVACUATE_NONE;
            const char *uuid = vm->inst->mdevs[k];
            size_t at = evacuate_device_index(uuids, uuid_count, uuid);
            if (at != EVACUATE_NONE) {
                if (evacuate_copy_mdev(&need->mdev, &e->src.mdevs[at]) < 0)
                    rc = evacuate_oom(err, errlen);
                continue;
            }
            char why[160];
            snprintf(why, sizeof why, "host %s does not list mdev %s", host, uuid);
            snprintf(need->mdev.uuid, sizeof need->mdev.uuid, "%s", uuid);
            need->mdev.type = strdup("");
            need->mdev.reason = strdup(why);
            if (need->mdev.type == NULL || need->mdev.reason == NULL)
                rc = evacuate_oom(err, errlen);
        }
        for (size_t k = 0; k < vm->need_count && rc == 0 && vm->reason == NULL; k++) {
            const struct mdevmig_mdev *mdev = &vm->needs[k].mdev;
            if (mdev->version != NULL)
                continue;
            char why[640];
            snprintf(why, sizeof why, "not migratable: %s",
                     mdev->reason != NULL ? mdev->reason : "an mdev has no version");
            if ((vm->reason = strdup(why)) == NULL)
                rc = evacuate_oom(err, errlen);
        }
    }
    free(uuids);
    return rc;
}

/* ---- the destinations ---------------------------------------------------- */

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
static int evacuate_destinations(struct evacuate *e, char *err, size_t errlen)
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
static int evacuate_keys(struct evacuate *e, char *err, size_t errlen)
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

static size_t evacuate_key(const struct evacuate *e, size_t version, size_t group)
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
static int evacuate_profiles(struct evacuate *e, char *err, size_t errlen)
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
            if (p->hosts == NULL) {
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

/* ---- drafts -------------------------------------------------------------- */

/* False once a probe of group g said no to version, or its host is down. */
static bool evacuate_usable(const struct evacuate *e, size_t version, size_t group)
{
    if (e->hosts[e->groups[group].host].unreachable)
        return false;
    size_t p = e->key_probe[evacuate_key(e, version, group)];
    return p == EVACUATE_NONE || e->probes[p].probe.verdict == MDEVMIG_COMPATIBLE;
}

/* Whether host h can take vm: for each mdev a slot, in a group not ruled
 * out for its version, with room left (on an empty plan when empty) after
 * the VM's earlier mdevs. chosen gets the slots; room the room the host
 * has for the VM's types; same whether every slot runs the mdev's version. */
static bool evacuate_fit(const struct evacuate *e, const struct evacuate_vm *vm, size_t h,
                         bool empty, size_t *chosen, long *room, bool *same)
{
    bool all_same = true;
    long total = 0;
    for (size_t i = 0; i < vm->need_count; i++) {
        const struct evacuate_need *need = &vm->needs[i];
        size_t at = h * e->type_count + need->type;
        size_t best = EVACUATE_NONE;
        int best_free = 0;
        bool first_of_type = true;
        for (size_t j = 0; j < i && first_of_type; j++)
            first_of_type = vm->needs[j].type != need->type;
        for (size_t g = e->host_first[at]; g < e->host_end[at]; g++) {
            if (!evacuate_usable(e, need->version, g))
                continue;
            const struct evacuate_group *grp = &e->groups[g];
            for (size_t s = grp->first; s < grp->first + grp->count; s++) {
                int left = empty ? e->slots[s].capacity : e->slots[s].remaining;
                if (first_of_type && left > 0)
                    total += left;
                for (size_t j = 0; j < i; j++)
                    left -= chosen[j] == s;
                if (left <= 0)
                    continue;
                if (best == EVACUATE_NONE || (e->spread ? left > best_free : left < best_free)) {
                    best = s;
                    best_free = left;
                }
            }
        }
        if (best == EVACUATE_NONE)
            return false;
        chosen[i] = best;
        all_same =
            all_same && strcmp(e->groups[e->slots[best].group].digest, need->mdev.digest) == 0;
    }
    *room = total;
    *same = all_same;
    return true;
}

struct evacuate_pick {
    size_t host;
    long room;
    bool same;
    bool stale;
};

/* Is a the better destination? Fresh hosts before stale ones, then the
 * policy's room, then the version the VM already runs, then the name. */
static bool evacuate_better(const struct evacuate *e, const struct evacuate_pick *a,
                            const struct evacuate_pick *b)
{
    if (a->stale != b->stale)
        return !a->stale;
    if (a->room != b->room)
        return e->spread ? a->room > b->room : a->room < b->room;
    if (a->same != b->same)
        return a->same;
    return a->host < b->host;
}

static int evacuate_order_cmp(const void *a, const void *b, void *ctx)
{
    const struct evacuate *e = ctx;
    const struct evacuate_vm *x = &e->vms[*(const size_t *)a], *y = &e->vms[*(const size_t *)b];
    bool mx = x->profile != EVACUATE_NONE, my = y->profile != EVACUATE_NONE;
    if (mx != my)
        return mx ? -1 : 1;
    if (mx) {
        size_t fx = e->profiles[x->profile].fitting, fy = e->profiles[y->profile].fitting;
        if (fx != fy)
            return fx < fy ? -1 : 1;
        if (x->need_count != y->need_count)
            return x->need_count > y->need_count ? -1 : 1;
    }
    return strcmp(x->inst->uuid, y->inst->uuid);
}

/* One draft of the whole plan from what is known now. Returns the number
 * of VMs placed. */
static size_t evacuate_draft(struct evacuate *e)
{
    for (size_t s = 0; s < e->slot_count; s++)
        e->slots[s].remaining = e->slots[s].capacity;
    for (size_t h = 0; h < e->host_count; h++)
        e->hosts[h].vms = 0;
    long room;
    bool same;
    for (size_t p = 0; p < e->profile_count; p++) {
        struct evacuate_profile *prof = &e->profiles[p];
        prof->fitting = 0;
        for (size_t i = 0; i < prof->host_count; i++) {
            size_t h = prof->hosts[i];
            prof->fitting += !e->hosts[h].unreachable &&
                             evacuate_fit(e, &e->vms[prof->vm], h, true, e->scratch, &room, &same);
        }
    }
    if (e->vm_count > 1)
        qsort_r(e->order, e->vm_count, sizeof *e->order, evacuate_order_cmp, e);

    size_t placed = 0;
    for (size_t o = 0; o < e->vm_count; o++) {
        struct evacuate_vm *vm = &e->vms[e->order[o]];
        vm->host = EVACUATE_NONE;
        vm->pending = false;
        for (size_t a = 0; a < EVACUATE_ALTS; a++)
            vm->alts[a] = EVACUATE_NONE;
        if (vm->profile == EVACUATE_NONE)
            continue;
        const struct evacuate_profile *prof = &e->profiles[vm->profile];
        struct evacuate_pick picks[1 + EVACUATE_ALTS];
        size_t npicks = 0;
        for (size_t i = 0; i < prof->host_count; i++) {
            size_t h = prof->hosts[i];
            if (e->hosts[h].unreachable || !evacuate_fit(e, vm, h, false, e->scratch, &room, &same))
                continue;
            struct evacuate_pick pick = {
                .host = h, .room = room, .same = same, .stale = e->hosts[h].stale};
            size_t at = npicks;
            while (at > 0 && evacuate_better(e, &pick, &picks[at - 1]))
                at--;
            if (at > EVACUATE_ALTS)
                continue;
            size_t last = npicks < 1 + EVACUATE_ALTS ? npicks : EVACUATE_ALTS;
            for (size_t k = last; k > at; k--)
                picks[k] = picks[k - 1];
            picks[at] = pick;
            if (npicks < 1 + EVACUATE_ALTS)
                npicks++;
        }
        if (npicks == 0)
            continue;
        size_t h = picks[0].host;
        evacuate_fit(e, vm, h, false, e->scratch, &room, &same);
        for (size_t i = 0; i < vm->need_count; i++) {
            struct evacuate_need *need = &vm->needs[i];
            need->slot = e->scratch[i];
            e->slots[need->slot].remaining--;
            size_t key = evacuate_key(e, need->version, e->slots[need->slot].group);
            vm->pending = vm->pending || e->key_probe[key] == EVACUATE_NONE;
        }
        for (size_t a = 1; a < npicks; a++)
            vm->alts[a - 1] = picks[a].host;
        vm->host = h;
        e->hosts[h].vms++;
        placed++;
    }
    return placed;
}

/* ---- waves --------------------------------------------------------------- */

struct evacuate_ask {
    size_t version, group;
};

/* Queue the probe of (version, group) once per wave. */
static void evacuate_ask(struct evacuate *e, struct evacuate_ask *queue, size_t *count,
                         size_t version, size_t group)
{
    size_t key = evacuate_key(e, version, group);
    if (e->key_probe[key] != EVACUATE_NONE || e->key_mark[key] == e->waves + 1)
        return;
    e->key_mark[key] = e->waves + 1;
    queue[(*count)++] = (struct evacuate_ask){.version = version, .group = group};
}

/* What the draft relies on and nobody has probed: the next wave. Runner-up
 * hosts of those VMs come along while the wave is small. */
static size_t evacuate_queue(struct evacuate *e, struct evacuate_ask *queue)
{
    size_t count = 0;
    for (size_t o = 0; o < e->vm_count; o++) {
        const struct evacuate_vm *vm = &e->vms[e->order[o]];
        if (!vm->pending)
            continue;
        for (size_t i = 0; i < vm->need_count; i++)
            evacuate_ask(e, queue, &count, vm->needs[i].version, e->slots[vm->needs[i].slot].group);
    }
    long room;
    bool same;
    for (size_t a = 0; a < EVACUATE_ALTS && count > 0 && count < EVACUATE_WAVE_MIN; a++) {
        for (size_t o = 0; o < e->vm_count && count < EVACUATE_WAVE_MIN; o++) {
            const struct evacuate_vm *vm = &e->vms[e->order[o]];
            if (!vm->pending || vm->alts[a] == EVACUATE_NONE ||
                !evacuate_fit(e, vm, vm->alts[a], true, e->scratch, &room, &same))
                continue;
            for (size_t i = 0; i < vm->need_count; i++)
                evacuate_ask(e, queue, &count, vm->needs[i].version, e->slots[e->scratch[i]].group);
        }
    }
    return count;
}

static int evacuate_wave(struct evacuate *e, const struct evacuate_ask *queue, size_t count,
                         char *err, size_t errlen)
{
    struct confirm_job *jobs = calloc(count + 1, sizeof *jobs);
    struct evacuate_probe *grown = realloc(e->probes, (e->probe_count + count + 1) * sizeof *grown);
    if (grown != NULL)
        e->probes = grown;
    if (jobs == NULL || grown == NULL) {
        free(jobs);
        return evacuate_oom(err, errlen);
    }
    for (size_t i = 0; i < count; i++) {
        const struct evacuate_group *g = &e->groups[queue[i].group];
        const struct evacuate_host *host = &e->hosts[g->host];
        jobs[i] = (struct confirm_job){
            .host = host->name,
            .url = host->url,
            .mdev = e->versions[queue[i].version].mdev,
            .parent = g->parent,
            .device = g->device,
            .target_digest = g->digest,
        };
    }
    e->waves++;
    long sent = confirm_run(e->m, jobs, count, err, errlen);
    if (sent < 0) {
        free(jobs);
        return MDEVMIG_ERR_INTERNAL;
    }
    e->probes_sent += (size_t)sent;
    for (size_t i = 0; i < count; i++) {
        const struct evacuate_group *g = &e->groups[queue[i].group];
        struct evacuate_probe *p = &e->probes[e->probe_count];
        *p = (struct evacuate_probe){
            .version = queue[i].version,
            .group = queue[i].group,
            .wave = e->waves,
            .probe = jobs[i].probe,
        };
        e->key_probe[evacuate_key(e, queue[i].version, queue[i].group)] = e->probe_count++;
        e->hosts[g->host].probed = true;
        if (p->probe.verdict == MDEVMIG_UNREACHABLE)
            e->hosts[g->host].unreachable = true;
    }
    free(jobs);
    return 0;
}

/* ---- the answer ---------------------------------------------------------- */

/* Which probe speaks for a host that refused a VM: the driver's own
 * refusal before a missing attribute before a type that went away. */
static int evacuate_weight(enum mdevmig_verdict v)
{
    return v == MDEVMIG_INCOMPATIBLE ? 3 : v == MDEVMIG_UNSUPPORTED ? 2 : v == MDEVMIG_NO_TYPE;
}

/* The refusing probe that kept vm off host h, or NULL when h did not
 * refuse it (some group of each type is still usable). */
static const struct evacuate_probe *evacuate_refusal(const struct evacuate *e,
                                                     const struct evacuate_vm *vm, size_t h)
{
    const struct evacuate_probe *worst = NULL;
    for (size_t i = 0; i < vm->need_count; i++) {
        const struct evacuate_need *need = &vm->needs[i];
        size_t at = h * e->type_count + need->type;
        bool usable = false;
        const struct evacuate_probe *said = NULL;
        for (size_t g = e->host_first[at]; g < e->host_end[at] && !usable; g++) {
            size_t p = e->key_probe[evacuate_key(e, need->version, g)];
            usable = p == EVACUATE_NONE || e->probes[p].probe.verdict == MDEVMIG_COMPATIBLE;
            if (!usable && (said == NULL || evacuate_weight(e->probes[p].probe.verdict) >
                                                evacuate_weight(said->probe.verdict)))
                said = &e->probes[p];
        }
        if (!usable && said != NULL &&
            (worst == NULL ||
             evacuate_weight(said->probe.verdict) > evacuate_weight(worst->probe.verdict)))
            worst = said;
    }
    return worst;
}

/* "a, b, c and 4 more" into buf. */
struct evacuate_names {
    char text[EVACUATE_NAMES * 300];
    size_t shown, more;
};

static void evacuate_name_add(struct evacuate_names *n, const char *name, const char *detail)
{
    if (n->shown == EVACUATE_NAMES) {
        n->more++;
        return;
    }
    size_t len = strlen(n->text);
    snprintf(n->text + len, sizeof n->text - len, "%s%s%s%s%s", n->shown > 0 ? ", " : "", name,
             detail != NULL ? " (" : "", detail != NULL ? detail : "", detail != NULL ? ")" : "");
    n->shown++;
}

static void evacuate_reason_part(char *out, size_t len, const char *label,
                                 const struct evacuate_names *n)
{
    if (n->shown == 0)
        return;
    size_t used = strlen(out);
    char more[48] = "";
    if (n->more > 0)
        snprintf(more, sizeof more, " and %zu more", n->more);
    snprintf(out + used, len - used, "%s%s: %s%s", used > 0 ? "; " : "", label, n->text, more);
}

/* Why vm has no destination, with the hosts that could not take it. */
static int evacuate_why(const struct evacuate *e, const struct evacuate_vm *vm,
                        struct mdevmig_plan_vm *out)
{
    const struct evacuate_profile *prof = &e->profiles[vm->profile];
    struct evacuate_names full = {0}, filled = {0}, refused = {0}, down = {0};
    const struct evacuate_probe *worst = NULL;
    size_t next = 0;
    long room;
    bool same;
    for (size_t h = 0; h < e->host_count; h++) {
        if (next < prof->host_count && prof->hosts[next] == h) {
            next++;
        } else {
            bool offers_one = false;
            for (size_t i = 0; i < vm->need_count && !offers_one; i++)
                offers_one = e->host_end[h * e->type_count + vm->needs[i].type] != 0;
            out->hosts_no_type += offers_one;
            continue;
        }
        if (e->hosts[h].unreachable) {
            out->hosts_unreachable++;
            evacuate_name_add(&down, e->hosts[h].name, NULL);
            continue;
        }
        const struct evacuate_probe *no = evacuate_refusal(e, vm, h);
        if (no != NULL) {
            out->hosts_refused++;
            char detail[160];
            const char *name = no->probe.err != 0 ? errname_of(no->probe.err) : NULL;
            if (no->probe.verdict == MDEVMIG_INCOMPATIBLE && name != NULL)
                snprintf(detail, sizeof detail, "%s: %s", e->types[e->versions[no->version].type],
                         name);
            else if (no->probe.verdict == MDEVMIG_INCOMPATIBLE)
                snprintf(detail, sizeof detail, "%s: errno %d",
                         e->types[e->versions[no->version].type], no->probe.err);
            else
                snprintf(detail, sizeof detail, "%s: %s", e->types[e->versions[no->version].type],
                         mdevmig_verdict_name(no->probe.verdict));
            evacuate_name_add(&refused, e->hosts[h].name, detail);
            if (worst == NULL ||
                evacuate_weight(no->probe.verdict) > evacuate_weight(worst->probe.verdict))
                worst = no;
            continue;
        }
        if (evacuate_fit(e, vm, h, true, e->scratch, &room, &same)) {
            out->hosts_filled++;
            evacuate_name_add(&filled, e->hosts[h].name, NULL);
        } else {
            out->hosts_full++;
            evacuate_name_add(&full, e->hosts[h].name, NULL);
        }
    }
    char text[4 * sizeof full.text + 256] = "";
    if (out->hosts_filled + out->hosts_full > 0)
        out->verdict = MDEVMIG_NO_CAPACITY;
    else if (worst != NULL)
        out->verdict = worst->probe.verdict;
    else if (out->hosts_unreachable > 0)
        out->verdict = MDEVMIG_UNREACHABLE;
    else
        out->verdict = MDEVMIG_NO_TYPE;
    evacuate_reason_part(text, sizeof text, "room taken by VMs placed before it", &filled);
    evacuate_reason_part(text, sizeof text, "no room", &full);
    evacuate_reason_part(text, sizeof text, "refused", &refused);
    evacuate_reason_part(text, sizeof text, "collector unreachable", &down);
    if (prof->host_count == 0) {
        /* Name a type nobody offers, or say they are never together. */
        const char *missing = NULL;
        for (size_t i = 0; i < vm->need_count && missing == NULL; i++) {
            size_t k = vm->needs[i].type;
            if (e->type_groups[k + 1] == e->type_groups[k])
                missing = e->types[k];
        }
        if (missing != NULL)
            snprintf(text, sizeof text, "no other host offers type %s", missing);
        else
            snprintf(text, sizeof text, "no other host offers all of its %zu mdevs' types",
                     vm->need_count);
    }
    char reason[sizeof text + 32];
    snprintf(reason, sizeof reason, "no destination: %s", text);
    out->reason = strdup(reason);
    return out->reason != NULL ? 0 : -1;
}

static int evacuate_plan_vm(struct evacuate *e, struct evacuate_vm *vm, size_t order,
                            struct mdevmig_plan_vm *out)
{
    memcpy(out->uuid, vm->inst->uuid, sizeof out->uuid);
    out->order = order;
    out->name = strdup(vm->inst->name != NULL ? vm->inst->name : "");
    out->state = strdup(vm->inst->state != NULL ? vm->inst->state : "");
    out->mdevs = calloc(vm->need_count + 1, sizeof *out->mdevs);
    out->parents = calloc(vm->need_count + 1, sizeof *out->parents);
    if (out->name == NULL || out->state == NULL || out->mdevs == NULL || out->parents == NULL)
        return -1;
    int rc = 0;
    if (vm->profile == EVACUATE_NONE) {
        out->verdict = MDEVMIG_NOT_MIGRATABLE;
        out->reason = vm->reason;
        vm->reason = NULL;
    } else if (vm->host == EVACUATE_NONE) {
        out->fitting_hosts = e->profiles[vm->profile].fitting;
        rc = evacuate_why(e, vm, out);
    } else {
        out->fitting_hosts = e->profiles[vm->profile].fitting;
        out->verdict = MDEVMIG_COMPATIBLE;
        if ((out->destination = strdup(e->hosts[vm->host].name)) == NULL)
            rc = -1;
        for (size_t i = 0; i < vm->need_count && rc == 0; i++) {
            const struct evacuate_slot *s = &e->slots[vm->needs[i].slot];
            if ((out->parents[i] = strdup(s->offer->parent)) == NULL)
                rc = -1;
            /* Count each probe once per VM, however many mdevs share it. */
            size_t p = e->key_probe[evacuate_key(e, vm->needs[i].version, s->group)];
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++) {
                const struct evacuate_slot *t = &e->slots[vm->needs[j].slot];
                seen = e->key_probe[evacuate_key(e, vm->needs[j].version, t->group)] == p;
            }
            if (!seen && p != EVACUATE_NONE)
                e->probes[p].vms++;
        }
    }
    /* Last: the mdevs move into the plan (the draft reads them until now). */
    out->mdev_count = vm->need_count;
    for (size_t i = 0; i < vm->need_count; i++) {
        out->mdevs[i] = vm->needs[i].mdev;
        memset(&vm->needs[i].mdev, 0, sizeof vm->needs[i].mdev);
    }
    return rc;
}

/* The hosts the plan probed or placed VMs on, with their parents' room. */
static int evacuate_targets(struct evacuate *e, struct mdevmig_plan *plan)
{
    plan->targets = calloc(e->host_count + 1, sizeof *plan->targets);
    if (plan->targets == NULL)
        return -1;
    /* Slots are by type, then host: walk the groups of each host. */
    for (size_t h = 0; h < e->host_count; h++) {
        const struct evacuate_host *host = &e->hosts[h];
        if (!host->probed && host->vms == 0)
            continue;
        struct mdevmig_plan_target *t = &plan->targets[plan->target_count++];
        t->stale = host->stale;
        t->unreachable = host->unreachable;
        t->vms = host->vms;
        size_t slots = 0;
        for (size_t k = 0; k < e->type_count; k++) {
            size_t at = h * e->type_count + k;
            for (size_t g = e->host_first[at]; g < e->host_end[at]; g++)
                slots += e->groups[g].count;
        }
        t->slots = calloc(slots + 1, sizeof *t->slots);
        if ((t->name = strdup(host->name)) == NULL || t->slots == NULL)
            return -1;
        for (size_t k = 0; k < e->type_count; k++) {
            size_t at = h * e->type_count + k;
            for (size_t g = e->host_first[at]; g < e->host_end[at]; g++) {
                const struct evacuate_group *grp = &e->groups[g];
                for (size_t s = grp->first; s < grp->first + grp->count; s++) {
                    struct mdevmig_plan_slot *out = &t->slots[t->slot_count++];
                    out->free_instances = e->slots[s].capacity;
                    out->planned = e->slots[s].capacity - e->slots[s].remaining;
                    out->parent = strdup(e->slots[s].offer->parent);
                    out->type = strdup(e->types[k]);
                    if (out->parent == NULL || out->type == NULL)
                        return -1;
                }
            }
        }
    }
    return 0;
}

static int evacuate_answer(struct evacuate *e, struct mdevmig_plan *plan)
{
    plan->source_stale = e->src.stale;
    plan->vms_without_mdevs = e->without_mdevs;
    plan->candidate_hosts = e->host_count;
    plan->probes_sent = e->probes_sent;
    plan->waves = e->waves;
    plan->vms = calloc(e->vm_count + 1, sizeof *plan->vms);
    if (plan->vms == NULL)
        return -1;
    for (size_t o = 0; o < e->vm_count; o++) {
        struct mdevmig_plan_vm *out = &plan->vms[plan->vm_count++];
        if (evacuate_plan_vm(e, &e->vms[e->order[o]], o + 1, out) < 0)
            return -1;
        plan->placed += out->destination != NULL;
    }
    plan->probes = calloc(e->probe_count + 1, sizeof *plan->probes);
    if (plan->probes == NULL)
        return -1;
    for (size_t p = 0; p < e->probe_count; p++) {
        struct evacuate_probe *from = &e->probes[p];
        struct mdevmig_plan_probe *to = &plan->probes[plan->probe_count++];
        const struct evacuate_version *v = &e->versions[from->version];
        to->wave = from->wave;
        to->vms = from->vms;
        memcpy(to->source_digest, v->digest, sizeof to->source_digest);
        to->probe = from->probe;
        memset(&from->probe, 0, sizeof from->probe);
        to->host = strdup(e->hosts[e->groups[from->group].host].name);
        to->type = strdup(e->types[v->type]);
        if (to->host == NULL || to->type == NULL)
            return -1;
    }
    return evacuate_targets(e, plan);
}

int mdevmig_evacuate(struct mdevmig *m, const struct mdevmig_evacuation *request,
                     struct mdevmig_plan **out, char *err, size_t errlen)
{
    *out = NULL;
    long start = evacuate_now_us();
    if (request == NULL || request->host == NULL || request->host[0] == '\0') {
        snprintf(err, errlen, "name the host to evacuate");
        return MDEVMIG_ERR_INPUT;
    }
    if (request->policy != MDEVMIG_POLICY_SPREAD && request->policy != MDEVMIG_POLICY_PACK) {
        snprintf(err, errlen, "policy: expected spread or pack");
        return MDEVMIG_ERR_INPUT;
    }
    struct evacuate e = {
        .m = m,
        .req = request,
        .spread = request->policy == MDEVMIG_POLICY_SPREAD,
        .now = (int64_t)time(NULL),
    };
    evacuate_report(&e, "source", 0, 0, 0, 0);
    int rc = evacuate_source(&e, err, errlen);
    if (rc == 0)
        rc = evacuate_destinations(&e, err, errlen);
    if (rc == 0)
        rc = evacuate_keys(&e, err, errlen);
    if (rc == 0)
        rc = evacuate_profiles(&e, err, errlen);
    struct evacuate_ask *queue = rc == 0 ? calloc(e.key_count + 1, sizeof *queue) : NULL;
    if (rc == 0 && queue == NULL)
        rc = evacuate_oom(err, errlen);
    /* Each wave probes at least one key never probed before, so this ends
     * within key_count waves. */
    while (rc == 0) {
        size_t placed = evacuate_draft(&e);
        size_t count = evacuate_queue(&e, queue);
        if (count == 0)
            break;
        if (e.waves > e.key_count) {
            snprintf(err, errlen, "the plan for %s did not settle (a bug)", request->host);
            rc = MDEVMIG_ERR_INTERNAL;
            break;
        }
        evacuate_report(&e, "probing", e.waves + 1, e.probes_sent + count, e.probes_sent, placed);
        rc = evacuate_wave(&e, queue, count, err, errlen);
        if (rc == 0)
            evacuate_report(&e, "probing", e.waves, e.probes_sent, e.probes_sent, placed);
    }
    free(queue);
    struct mdevmig_plan *plan = NULL;
    if (rc == 0) {
        plan = calloc(1, sizeof *plan);
        if (plan == NULL || (plan->host = strdup(request->host)) == NULL) {
            free(plan);
            plan = NULL;
            rc = evacuate_oom(err, errlen);
        }
    }
    if (rc == 0) {
        plan->policy = request->policy;
        if (evacuate_answer(&e, plan) < 0) {
            mdevmig_plan_free(plan);
            plan = NULL;
            rc = evacuate_oom(err, errlen);
        }
    }
    if (rc == 0) {
        evacuate_report(&e, "done", e.waves, e.probes_sent, e.probes_sent, plan->placed);
        plan->elapsed_us = evacuate_now_us() - start;
        *out = plan;
    }
    evacuate_clear(&e);
    return rc;
}

void mdevmig_plan_free(struct mdevmig_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t i = 0; i < plan->vm_count; i++) {
        struct mdevmig_plan_vm *vm = &plan->vms[i];
        for (size_t k = 0; k < vm->mdev_count; k++) {
            free(vm->mdevs[k].type);
            free(vm->mdevs[k].version);
            free(vm->mdevs[k].reason);
            free(vm->parents[k]);
        }
        free(vm->mdevs);
        free(vm->parents);
        free(vm->name);
        free(vm->state);
        free(vm->destination);
        free(vm->reason);
    }
    free(plan->vms);
    for (size_t t = 0; t < plan->target_count; t++) {
        struct mdevmig_plan_target *target = &plan->targets[t];
        for (size_t s = 0; s < target->slot_count; s++) {
            free(target->slots[s].parent);
            free(target->slots[s].type);
        }
        free(target->slots);
        free(target->name);
    }
    free(plan->targets);
    for (size_t p = 0; p < plan->probe_count; p++) {
        free(plan->probes[p].host);
        free(plan->probes[p].type);
        confirm_probe_clear(&plan->probes[p].probe);
    }
    free(plan->probes);
    free(plan->host);
    free(plan);
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *evacuate_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *evacuate_vm_json(const struct mdevmig_plan_vm *vm)
{
    json_t *mdevs = json_array();
    for (size_t i = 0; i < vm->mdev_count && mdevs != NULL; i++) {
        const struct mdevmig_mdev *mdev = &vm->mdevs[i];
        json_array_append_new(mdevs, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "uuid", mdev->uuid,
                                               "type", mdev->type != NULL ? mdev->type : "",
                                               "version", evacuate_str(mdev->version), "digest",
                                               evacuate_str(mdev->digest[0] ? mdev->digest : NULL),
                                               "parent", evacuate_str(vm->parents[i]), "reason",
                                               evacuate_str(mdev->reason)));
    }
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:o}", "order",
        (json_int_t)vm->order, "instance", vm->uuid, "name", vm->name, "state", vm->state,
        "verdict", vm->verdict == MDEVMIG_COMPATIBLE ? "placed" : mdevmig_verdict_name(vm->verdict),
        "destination", evacuate_str(vm->destination), "reason", evacuate_str(vm->reason),
        "fitting_hosts", (json_int_t)vm->fitting_hosts, "hosts", "full", (json_int_t)vm->hosts_full,
        "filled", (json_int_t)vm->hosts_filled, "refused", (json_int_t)vm->hosts_refused,
        "unreachable", (json_int_t)vm->hosts_unreachable, "no_type", (json_int_t)vm->hosts_no_type,
        "mdevs", mdevs);
}

static json_t *evacuate_probe_json(const struct mdevmig_plan_probe *p)
{
    const struct mdevmig_probe *probe = &p->probe;
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "wave",
                     (json_int_t)p->wave, "host", p->host, "type", p->type, "source_digest",
                     p->source_digest, "verdict", mdevmig_verdict_name(probe->verdict), "level",
                     evacuate_str(probe->level), "target", evacuate_str(probe->target), "errno",
                     probe->err ? json_integer(probe->err) : json_null(), "errno_name",
                     evacuate_str(probe->err ? errname_of(probe->err) : NULL), "error",
                     evacuate_str(probe->error), "elapsed_us", (json_int_t)probe->elapsed_us, "vms",
                     (json_int_t)p->vms);
}

static json_t *evacuate_target_json(const struct mdevmig_plan_target *t)
{
    json_t *slots = json_array();
    for (size_t s = 0; s < t->slot_count && slots != NULL; s++)
        json_array_append_new(slots, json_pack("{s:s, s:s, s:i, s:i}", "parent", t->slots[s].parent,
                                               "type", t->slots[s].type, "free_instances",
                                               t->slots[s].free_instances, "planned",
                                               t->slots[s].planned));
    return json_pack("{s:s, s:b, s:b, s:I, s:o}", "host", t->name, "stale", t->stale, "unreachable",
                     t->unreachable, "vms", (json_int_t)t->vms, "slots", slots);
}

char *mdevmig_plan_json(const struct mdevmig_plan *plan)
{
    json_t *vms = json_array(), *probes = json_array(), *targets = json_array();
    bool ok = vms != NULL && probes != NULL && targets != NULL;
    for (size_t i = 0; i < plan->vm_count && ok; i++)
        ok = json_array_append_new(vms, evacuate_vm_json(&plan->vms[i])) == 0;
    for (size_t i = 0; i < plan->probe_count && ok; i++)
        ok = json_array_append_new(probes, evacuate_probe_json(&plan->probes[i])) == 0;
    for (size_t i = 0; i < plan->target_count && ok; i++)
        ok = json_array_append_new(targets, evacuate_target_json(&plan->targets[i])) == 0;
    json_t *root =
        ok ? json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:O, s:O, s:O, s:I, s:I, s:I}",
                       "host", plan->host, "policy", mdevmig_policy_name(plan->policy),
                       "source_stale", plan->source_stale, "vm_count", (json_int_t)plan->vm_count,
                       "placed", (json_int_t)plan->placed, "unplaced",
                       (json_int_t)(plan->vm_count - plan->placed), "vms_without_mdevs",
                       (json_int_t)plan->vms_without_mdevs, "candidate_hosts",
                       (json_int_t)plan->candidate_hosts, "vms", vms, "targets", targets, "probes",
                       probes, "probes_sent", (json_int_t)plan->probes_sent, "waves",
                       (json_int_t)plan->waves, "elapsed_us", (json_int_t)plan->elapsed_us)
           : NULL;
    json_decref(vms);
    json_decref(probes);
    json_decref(targets);
    char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}
