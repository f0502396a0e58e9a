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
 *
 * This file is the public entry and its loop of drafts and waves; the
 * steps are evacuate_source.c, evacuate_destinations.c, evacuate_draft.c
 * and evacuate_answer.c (evacuate_internal.h).
 */
#include "evacuate_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A wave smaller than this takes runner-up hosts' probes along: a refusal
 * then costs no extra round trip, as select's spares do. */
#define EVACUATE_WAVE_MIN 8

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
    for (size_t p = 0; p < e->profile_count; p++) {
        free(e->profiles[p].hosts);
        free(e->profiles[p].room);
    }
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

int evacuate_oom(char *err, size_t errlen)
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

static int evacuate_run(struct mdevmig *m, const struct mdevmig_evacuation *request,
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

int mdevmig_evacuate(struct mdevmig *m, const struct mdevmig_evacuation *given,
                     struct mdevmig_plan **out, char *err, size_t errlen)
{
    *out = NULL;
    if (given == NULL || given->size < sizeof(size_t)) {
        snprintf(err, errlen, "the evacuation's size is not set (use MDEVMIG_EVACUATION_INIT)");
        return MDEVMIG_ERR_INPUT;
    }
    /* The caller's fields up to its size, the rest zero. */
    struct mdevmig_evacuation request = {0};
    memcpy(&request, given, given->size < sizeof request ? given->size : sizeof request);
    int rc = evacuate_run(m, &request, out, err, errlen);
    store_outcome(m, rc, err);
    return rc;
}
