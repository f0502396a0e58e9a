/*
 * rollout — a driver upgrade across a set of hosts that keeps every VM
 * live-migratable: waves of at most max_down hosts, each emptied before
 * its upgrade by moves to destinations that accept the VMs — a live probe
 * for a host as it is now, the reference's driver (a live probe into a
 * host that already runs it, as the matrix makes) for a host upgraded in
 * an earlier wave. Capacity is spent across waves, and a moved VM runs its
 * destination's version from then on.
 *
 * The planner picks each wave greedily: the hosts whose VMs would strand
 * the fewest if they went now. Like evacuate, a plan is first drawn
 * treating unprobed (version, target) pairs as accepting; the pairs the
 * plan relies on are then probed and the plan drawn again, until it
 * relies on nothing unprobed. The order the hosts were given is planned
 * the same way, so the answer shows what the planner's order saves.
 * what_if answers readiness twice instead: now, and with every host
 * already upgraded (rollout_whatif.c).
 */
#include "rollout.h"

#include "errname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long rollout_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

void rollout_clear(struct rollout *r)
{
    free(r->targets);
    free(r->is_target);
    free(r->need_base);
    free(r->vm_host);
    free(r->need_slot);
    free(r->need_version);
    free(r->pending);
    free(r->in_wave);
    free(r->wave_hosts);
    free(r->vm_order);
    free(r->scratch);
    free(r->types);
    free(r->versions);
    free(r->undo);
    fleet_clear(&r->f);
}

/* ---- the reference ------------------------------------------------------- */

/* Per type the reference offers, its version and a group that answers for
 * it: the reference's own, or another host's at that version while the
 * reference's collector is down. */
int rollout_reference(struct rollout *r, char *err, size_t errlen)
{
    struct fleet *f = &r->f;
    if (f->ref_group == NULL) {
        f->ref_group = malloc((f->type_count + 1) * sizeof *f->ref_group);
        f->ref_version = malloc((f->type_count + 1) * sizeof *f->ref_version);
        if (f->ref_group == NULL || f->ref_version == NULL)
            return fleet_oom(err, errlen);
        for (size_t t = 0; t < f->type_count; t++) {
            size_t first, end;
            fleet_host_type_groups(f, r->like, t, &first, &end);
            f->ref_version[t] = FLEET_NONE;
            for (size_t g = first; g < end && f->ref_version[t] == FLEET_NONE; g++)
                f->ref_version[t] = f->groups[g].version;
        }
    }
    for (size_t t = 0; t < f->type_count; t++) {
        f->ref_group[t] = FLEET_NONE;
        size_t v = f->ref_version[t];
        if (v == FLEET_NONE)
            continue;
        size_t first, end;
        fleet_host_type_groups(f, r->like, t, &first, &end);
        for (size_t g = first; g < end && f->ref_group[t] == FLEET_NONE; g++) {
            if (f->groups[g].version == v && !f->hosts[r->like].down)
                f->ref_group[t] = g;
        }
        for (size_t g = 0; g < f->group_count && f->ref_group[t] == FLEET_NONE; g++) {
            const struct fleet_group *grp = &f->groups[g];
            if (grp->type == t && grp->version == v && !f->hosts[grp->host].down &&
                !r->is_target[grp->host])
                f->ref_group[t] = g;
        }
        if (f->ref_group[t] == FLEET_NONE) {
            /* Nobody at that version answers: keep the reference's, which
             * reads as unreachable, so nothing lands on an upgraded host. */
            fleet_host_type_groups(f, r->like, t, &first, &end);
            for (size_t g = first; g < end && f->ref_group[t] == FLEET_NONE; g++) {
                if (f->groups[g].version == v)
                    f->ref_group[t] = g;
            }
        }
    }
    return 0;
}

/* ---- one simulated rollout ------------------------------------------------ */

static void rollout_reset(struct rollout *r)
{
    struct fleet *f = &r->f;
    for (size_t s = 0; s < f->slot_count; s++)
        f->slots[s].remaining = f->slots[s].capacity;
    for (size_t h = 0; h < f->host_count; h++) {
        f->hosts[h].upgraded = false;
        r->pending[h] = r->is_target[h];
        r->in_wave[h] = false;
    }
    for (size_t i = 0; i < f->vm_count; i++) {
        const struct fleet_vm *vm = &f->vms[i];
        r->vm_host[i] = vm->host;
        for (size_t k = 0; k < vm->need_count; k++) {
            r->need_slot[r->need_base[i] + k] = vm->needs[k].slot;
            r->need_version[r->need_base[i] + k] = vm->needs[k].version;
        }
    }
}

/* The VM's types and current versions into r->types / r->versions. */
static size_t rollout_needs(struct rollout *r, size_t vm)
{
    const struct fleet_vm *v = &r->f.vms[vm];
    for (size_t k = 0; k < v->need_count; k++) {
        r->types[k] = v->needs[k].type;
        r->versions[k] = r->need_version[r->need_base[vm] + k];
    }
    return v->need_count;
}

struct rollout_pick {
    size_t host;
    long room;
    bool same, later, stale, unknown;
};

/* Is a the better destination? One not to be upgraded later first (the VM
 * would move again), then fresh before stale, the most room, the VM's
 * own version, the name. */
static bool rollout_better(const struct rollout_pick *a, const struct rollout_pick *b)
{
    if (a->later != b->later)
        return !a->later;
    if (a->stale != b->stale)
        return !a->stale;
    if (a->room != b->room)
        return a->room > b->room;
    if (a->same != b->same)
        return a->same;
    return a->host < b->host;
}

/* The best destination of vm outside the wave, or FLEET_NONE; chosen
 * (r->scratch) gets its slots. */
static size_t rollout_destination(struct rollout *r, size_t vm, bool *unknown)
{
    struct fleet *f = &r->f;
    size_t count = rollout_needs(r, vm);
    const struct fleet_fit how = {.compat = true, .optimistic = true};
    struct rollout_pick best = {.host = FLEET_NONE};
    size_t *try = r->scratch + count;
    for (size_t h = 0; h < f->host_count; h++) {
        if (r->in_wave[h] || h == r->vm_host[vm] || f->hosts[h].down)
            continue;
        struct rollout_pick pick = {.host = h, .later = r->pending[h], .stale = f->hosts[h].stale};
        if (!fleet_fit(f, r->types, r->versions, count, h, &how, try, &pick.room, &pick.same,
                       &pick.unknown))
            continue;
        if (best.host == FLEET_NONE || rollout_better(&pick, &best)) {
            best = pick;
            memcpy(r->scratch, try, count * sizeof *try);
        }
    }
    *unknown = best.unknown;
    return best.host;
}

/* Move vm to host h onto the slots in r->scratch: capacity, versions. */
static void rollout_move(struct rollout *r, size_t vm, size_t h)
{
    struct fleet *f = &r->f;
    const struct fleet_vm *v = &f->vms[vm];
    for (size_t k = 0; k < v->need_count; k++) {
        size_t *slot = &r->need_slot[r->need_base[vm] + k];
        if (*slot != FLEET_NONE)
            f->slots[*slot].remaining++;
        *slot = r->scratch[k];
        f->slots[*slot].remaining--;
        r->need_version[r->need_base[vm] + k] = fleet_group_version(f, f->slots[*slot].group);
    }
    r->vm_host[vm] = h;
}

/* Queue the (version, target) pairs a placement relied on unprobed. */
static int rollout_ask(struct rollout *r, size_t vm)
{
    struct fleet *f = &r->f;
    size_t count = f->vms[vm].need_count;
    for (size_t k = 0; k < count; k++) {
        size_t g = fleet_effective_group(f, f->slots[r->scratch[k]].group);
        if (r->versions[k] != FLEET_NONE &&
            fleet_verdict(f, r->versions[k], g, NULL) == MDEVMIG_NOT_PROBED &&
            fleet_ask(f, r->versions[k], g) < 0)
            return -1;
    }
    return 0;
}

/* The VMs on host h now, by UUID, into r->vm_order; their count. */
static size_t rollout_vms_on(struct rollout *r, size_t h, size_t at)
{
    size_t n = 0;
    for (size_t i = 0; i < r->f.vm_count; i++) {
        if (r->vm_host[i] == h)
            r->vm_order[at + n++] = i;
    }
    return n;
}

/* How many of host c's VMs would find no destination if c went now alone
 * (capacity spent as they are placed, then given back). */
static size_t rollout_trial(struct rollout *r, size_t c)
{
    struct fleet *f = &r->f;
    size_t n = rollout_vms_on(r, c, 0), stranded = 0, undo = 0;
    r->in_wave[c] = true;
    for (size_t i = 0; i < n; i++) {
        size_t vm = r->vm_order[i];
        bool unknown;
        size_t h = f->vms[vm].reason == NULL ? rollout_destination(r, vm, &unknown) : FLEET_NONE;
        if (h == FLEET_NONE) {
            stranded++;
            continue;
        }
        for (size_t k = 0; k < f->vms[vm].need_count; k++) {
            f->slots[r->scratch[k]].remaining--;
            r->undo[undo++] = r->scratch[k];
        }
    }
    for (size_t u = 0; u < undo; u++)
        f->slots[r->undo[u]].remaining++;
    r->in_wave[c] = false;
    return stranded;
}

/* The wave's hosts: the next in the order given, or the ones stranding
 * the fewest (then with the fewest VMs, then by name). */
static size_t rollout_choose(struct rollout *r, bool given, size_t *left, size_t *left_count)
{
    size_t max = r->req->max_down > 0 ? r->req->max_down : 1;
    size_t n = *left_count < max ? *left_count : max;
    if (!given) {
        size_t *score = r->undo + r->need_total; /* scratch past the undo log */
        for (size_t i = 0; i < *left_count; i++) {
            size_t c = left[i];
            score[2 * i] = rollout_trial(r, c);
            score[2 * i + 1] = r->f.hosts[c].vms;
        }
        /* Selection of the n best into the front, stable by host index. */
        for (size_t k = 0; k < n; k++) {
            size_t best = k;
            for (size_t i = k + 1; i < *left_count; i++) {
                bool better = score[2 * i] != score[2 * best] ? score[2 * i] < score[2 * best]
                              : score[2 * i + 1] != score[2 * best + 1]
                                  ? score[2 * i + 1] < score[2 * best + 1]
                                  : left[i] < left[best];
                if (better)
                    best = i;
            }
            size_t t = left[k];
            left[k] = left[best];
            left[best] = t;
            for (size_t j = 0; j < 2; j++) {
                size_t s = score[2 * k + j];
                score[2 * k + j] = score[2 * best + j];
                score[2 * best + j] = s;
            }
        }
    }
    for (size_t k = 0; k < n; k++)
        r->wave_hosts[k] = left[k];
    memmove(left, left + n, (*left_count - n) * sizeof *left);
    *left_count -= n;
    return n;
}

static int rollout_vm_cmp(const void *a, const void *b, void *ctx)
{
    const struct rollout *r = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const struct fleet_vm *vx = &r->f.vms[x], *vy = &r->f.vms[y];
    if (vx->need_count != vy->need_count)
        return vx->need_count > vy->need_count ? -1 : 1;
    return strcmp(vx->inst->uuid, vy->inst->uuid);
}

/* Plan the whole rollout once; record (the answer's waves) only when
 * asked. Returns the number of VMs stranded, or -1 when out of memory. */
long rollout_simulate(struct rollout *r, bool given, struct rollout_record *rec)
{
    struct fleet *f = &r->f;
    rollout_reset(r);
    size_t *left = malloc((r->target_count + 1) * sizeof *left);
    if (left == NULL)
        return -1;
    memcpy(left, r->targets, r->target_count * sizeof *left);
    size_t left_count = r->target_count;
    long stranded = 0;
    size_t wave = 0;
    int rc = 0;
    while (left_count > 0 && rc == 0) {
        wave++;
        size_t n = rollout_choose(r, given, left, &left_count);
        size_t vms = 0;
        for (size_t k = 0; k < n; k++) {
            r->in_wave[r->wave_hosts[k]] = true;
            vms += rollout_vms_on(r, r->wave_hosts[k], vms);
        }
        /* Several mdevs first: they are the hardest to fit. */
        if (vms > 1)
            qsort_r(r->vm_order, vms, sizeof *r->vm_order, rollout_vm_cmp, r);
        if (rec != NULL)
            rc = rollout_record_wave(r, rec, wave, r->wave_hosts, n);
        for (size_t i = 0; i < vms && rc == 0; i++) {
            size_t vm = r->vm_order[i];
            bool unknown = false;
            size_t h =
                f->vms[vm].reason == NULL ? rollout_destination(r, vm, &unknown) : FLEET_NONE;
            if (h == FLEET_NONE) {
                stranded++;
                if (rec != NULL)
                    rc = rollout_record_stranded(r, rec, wave, vm);
                continue;
            }
            if (unknown && rollout_ask(r, vm) < 0)
                rc = -1;
            if (rc == 0 && rec != NULL)
                rc = rollout_record_move(r, rec, vm, h);
            rollout_move(r, vm, h);
        }
        /* The upgrade: what stayed behind runs the reference's version. */
        for (size_t k = 0; k < n; k++) {
            size_t h = r->wave_hosts[k];
            r->in_wave[h] = false;
            r->pending[h] = false;
            f->hosts[h].upgraded = true;
        }
        for (size_t i = 0; i < f->vm_count; i++) {
            if (!f->hosts[r->vm_host[i]].upgraded)
                continue;
            for (size_t k = 0; k < f->vms[i].need_count; k++) {
                size_t *v = &r->need_version[r->need_base[i] + k];
                size_t t = f->vms[i].needs[k].type;
                if (*v != FLEET_NONE && t != FLEET_NONE && f->ref_version[t] != FLEET_NONE)
                    *v = f->ref_version[t];
            }
        }
        f->progress_done = r->target_count - left_count;
    }
    free(left);
    return rc == 0 ? stranded : -1;
}

/* ---- the call ---------------------------------------------------------- */

static int rollout_prepare(struct rollout *r, char *err, size_t errlen)
{
    struct fleet *f = &r->f;
    const struct mdevmig_rollout_request *req = r->req;
    r->like = fleet_host_index(f, req->like);
    if (r->like == FLEET_NONE) {
        snprintf(err, errlen, "like: host %s is not in the registry", req->like);
        return MDEVMIG_ERR_NOT_FOUND;
    }
    r->targets = calloc(req->host_count + 1, sizeof *r->targets);
    r->is_target = calloc(f->host_count + 1, sizeof *r->is_target);
    if (r->targets == NULL || r->is_target == NULL)
        return fleet_oom(err, errlen);
    for (size_t i = 0; i < req->host_count; i++) {
        char why[200];
        if (!mdevmig_host_name_valid(req->hosts[i], why, sizeof why)) {
            snprintf(err, errlen, "hosts[%zu]: %s", i, why);
            return MDEVMIG_ERR_INPUT;
        }
        size_t h = fleet_host_index(f, req->hosts[i]);
        if (h == FLEET_NONE) {
            snprintf(err, errlen, "host %s is not in the registry", req->hosts[i]);
            return MDEVMIG_ERR_NOT_FOUND;
        }
        if (h == r->like) {
            snprintf(err, errlen,
                     "hosts[%zu]: %s is the reference host (like): it already runs the driver", i,
                     req->hosts[i]);
            return MDEVMIG_ERR_INPUT;
        }
        if (r->is_target[h]) {
            snprintf(err, errlen, "hosts[%zu]: %s is listed twice", i, req->hosts[i]);
            return MDEVMIG_ERR_INPUT;
        }
        r->is_target[h] = true;
        r->targets[r->target_count++] = h;
    }
    size_t needs = 0, need_max = 0;
    r->need_base = calloc(f->vm_count + 1, sizeof *r->need_base);
    if (r->need_base == NULL)
        return fleet_oom(err, errlen);
    for (size_t i = 0; i < f->vm_count; i++) {
        r->need_base[i] = needs;
        needs += f->vms[i].need_count;
        if (f->vms[i].need_count > need_max)
            need_max = f->vms[i].need_count;
    }
    r->need_total = needs;
    r->vm_host = calloc(f->vm_count + 1, sizeof *r->vm_host);
    r->need_slot = calloc(needs + 1, sizeof *r->need_slot);
    r->need_version = calloc(needs + 1, sizeof *r->need_version);
    r->pending = calloc(f->host_count + 1, sizeof *r->pending);
    r->in_wave = calloc(f->host_count + 1, sizeof *r->in_wave);
    r->wave_hosts = calloc(req->host_count + 1, sizeof *r->wave_hosts);
    r->vm_order = calloc(f->vm_count + 1, sizeof *r->vm_order);
    r->scratch = calloc(2 * need_max + 1, sizeof *r->scratch);
    r->types = calloc(need_max + 1, sizeof *r->types);
    r->versions = calloc(need_max + 1, sizeof *r->versions);
    /* The undo log of a trial (one entry per mdev), then the scores of
     * the hosts left (two per host). */
    r->undo = calloc(needs + 2 * req->host_count + 1, sizeof *r->undo);
    if (r->vm_host == NULL || r->need_slot == NULL || r->need_version == NULL ||
        r->pending == NULL || r->in_wave == NULL || r->wave_hosts == NULL || r->vm_order == NULL ||
        r->scratch == NULL || r->types == NULL || r->versions == NULL || r->undo == NULL)
        return fleet_oom(err, errlen);
    return rollout_reference(r, err, errlen);
}

/* Plan both orders until neither relies on an unprobed pair. */
static int rollout_plan(struct rollout *r, struct mdevmig_rollout *out, char *err, size_t errlen)
{
    struct fleet *f = &r->f;
    size_t rounds = 0;
    for (;;) {
        if (rollout_simulate(r, false, NULL) < 0 || rollout_simulate(r, true, NULL) < 0)
            return fleet_oom(err, errlen);
        if (fleet_queued(f) == 0)
            break;
        /* Each round probes at least one pair never probed: this ends. */
        if (++rounds > f->version_count * f->group_count + 1) {
            snprintf(err, errlen, "the rollout plan did not settle (a bug)");
            return MDEVMIG_ERR_INTERNAL;
        }
        int rc = fleet_send(f, err, errlen);
        if (rc == 0)
            rc = rollout_reference(r, err, errlen);
        if (rc != 0)
            return rc;
    }
    struct rollout_record rec;
    int rc = rollout_record_begin(&rec);
    long given = rc == 0 ? rollout_simulate(r, true, NULL) : -1;
    long planned = given >= 0 ? rollout_simulate(r, false, &rec) : -1;
    if (planned < 0 || rollout_record_end(r, &rec, (size_t)given, out) < 0) {
        rollout_record_clear(&rec);
        return fleet_oom(err, errlen);
    }
    return 0;
}

static int rollout_run(struct mdevmig *m, const struct mdevmig_rollout_request *req,
                       struct mdevmig_rollout **out, char *err, size_t errlen)
{
    long start = rollout_now_us();
    if (req->like == NULL || req->like[0] == '\0') {
        snprintf(err, errlen, "like: name the host whose driver the others are to get");
        return MDEVMIG_ERR_INPUT;
    }
    if (req->host_count == 0 || req->hosts == NULL) {
        snprintf(err, errlen, "hosts: name at least one host to upgrade");
        return MDEVMIG_ERR_INPUT;
    }
    if (req->progress != NULL) {
        struct mdevmig_progress p = {.phase = "source"};
        req->progress(req->progress_ctx, &p);
    }
    struct rollout r = {.req = req};
    /* The reference and the hosts to upgrade are read whatever they hold. */
    const char **named = calloc(req->host_count + 2, sizeof *named);
    int rc = named != NULL ? 0 : fleet_oom(err, errlen);
    size_t named_count = 0;
    if (rc == 0) {
        named[named_count++] = req->like;
        for (size_t i = 0; i < req->host_count; i++) {
            bool seen = strcmp(req->hosts[i], req->like) == 0;
            for (size_t j = 0; j < i && !seen; j++)
                seen = strcmp(req->hosts[j], req->hosts[i]) == 0;
            if (!seen) /* rollout_prepare says what is wrong with a repeat */
                named[named_count++] = req->hosts[i];
        }
        rc = fleet_load(&r.f, m, named, named_count, err, errlen);
        if (rc == MDEVMIG_ERR_NOT_FOUND && strstr(err, req->like) != NULL &&
            fleet_host_index(&r.f, req->like) == FLEET_NONE) {
            char why[512];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "like: %s", why);
        }
    }
    free(named);
    r.f.max_parallel = req->max_parallel;
    r.f.progress = req->progress;
    r.f.progress_ctx = req->progress_ctx;
    r.f.progress_items = req->host_count;
    if (rc == 0)
        rc = rollout_prepare(&r, err, errlen);
    struct mdevmig_rollout *answer = rc == 0 ? calloc(1, sizeof *answer) : NULL;
    if (rc == 0 && answer == NULL)
        rc = fleet_oom(err, errlen);
    if (rc == 0)
        rc = req->what_if ? rollout_whatif(&r, answer, err, errlen)
                          : rollout_plan(&r, answer, err, errlen);
    if (rc == 0) {
        answer->info.size = sizeof answer->info;
        answer->info.what_if = req->what_if;
        answer->info.probes_sent = r.f.probes_sent;
        answer->info.elapsed_us = rollout_now_us() - start;
        if (rollout_record_finish(&r, answer) < 0)
            rc = fleet_oom(err, errlen);
    }
    if (rc == 0) {
        if (req->progress != NULL) {
            struct mdevmig_progress p = {
                .phase = "done",
                .wave = r.f.waves,
                .probes_sent = r.f.probes_sent,
                .probes_answered = r.f.probes_sent,
                .items = req->host_count,
                .items_done = req->host_count,
            };
            req->progress(req->progress_ctx, &p);
        }
        *out = answer;
    } else {
        mdevmig_rollout_free(answer);
    }
    rollout_clear(&r);
    return rc;
}

int mdevmig_rollout(struct mdevmig *m, const struct mdevmig_rollout_request *given,
                    struct mdevmig_rollout **out, char *err, size_t errlen)
{
    *out = NULL;
    if (given == NULL || given->size < sizeof(size_t)) {
        snprintf(err, errlen, "the request's size is not set (use MDEVMIG_ROLLOUT_INIT)");
        return MDEVMIG_ERR_INPUT;
    }
    struct mdevmig_rollout_request req = {0};
    memcpy(&req, given, given->size < sizeof req ? given->size : sizeof req);
    int rc = rollout_run(m, &req, out, err, errlen);
    store_outcome(m, rc, err);
    return rc;
}

char *mdevmig_rollout_json(const struct mdevmig_rollout *r)
{
    return r != NULL ? json_dumps(r->doc, JSON_COMPACT) : NULL;
}

void mdevmig_rollout_free(struct mdevmig_rollout *r)
{
    if (r == NULL)
        return;
    json_decref(r->doc);
    free(r);
}
