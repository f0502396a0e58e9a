/*
 * fleet_probe — the fleet's live probes: one key per (source version,
 * group), asked for by whatever plan needs it, sent at most once per call
 * through confirm.c, and read back by every VM that needs the same answer.
 * A wave first asks each host not yet heard from one question: on a cloud
 * where many registry hosts are gone, a dead collector then costs one
 * refused connection, not one per key.
 */
#include "fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t fleet_key(const struct fleet *f, size_t version, size_t group)
{
    return version * f->group_count + group;
}

enum mdevmig_verdict fleet_verdict(const struct fleet *f, size_t version, size_t group,
                                   const struct mdevmig_probe **probe)
{
    if (probe != NULL)
        *probe = NULL;
    if (f->hosts[f->groups[group].host].down)
        return MDEVMIG_UNREACHABLE;
    size_t p = f->key_probe[fleet_key(f, version, group)];
    if (p == FLEET_NONE)
        return MDEVMIG_NOT_PROBED;
    if (probe != NULL)
        *probe = &f->probes[p].probe;
    return f->probes[p].probe.verdict;
}

int fleet_ask(struct fleet *f, size_t version, size_t group)
{
    size_t key = fleet_key(f, version, group);
    if (f->key_probe[key] != FLEET_NONE || f->key_mark[key] == f->mark ||
        f->hosts[f->groups[group].host].down)
        return 0;
    if (f->queue_count == f->queue_cap) {
        size_t grown = f->queue_cap * 2 + 64;
        size_t *q = realloc(f->queue, grown * sizeof *q);
        if (q == NULL)
            return -1;
        f->queue = q;
        f->queue_cap = grown;
    }
    f->key_mark[key] = f->mark;
    f->queue[f->queue_count++] = key;
    f->asked++;
    return 1;
}

size_t fleet_queued(const struct fleet *f)
{
    return f->queue_count;
}

static void fleet_report(const struct fleet *f, size_t sent, size_t answered)
{
    if (f->progress == NULL)
        return;
    struct mdevmig_progress p = {
        .phase = "probing",
        .wave = f->waves,
        .probes_sent = sent,
        .probes_answered = answered,
        .items = f->progress_items,
        .items_done = f->progress_done,
    };
    f->progress(f->progress_ctx, &p);
}

/* Send keys [0, count) at most max_parallel at a time. */
static int fleet_wave(struct fleet *f, const size_t *keys, size_t count, char *err, size_t errlen)
{
    if (count == 0)
        return 0;
    f->waves++;
    size_t chunk = f->max_parallel > 0 ? f->max_parallel : count;
    struct confirm_job *jobs = calloc((count < chunk ? count : chunk) + 1, sizeof *jobs);
    struct fleet_probe *grown = realloc(f->probes, (f->probe_count + count + 1) * sizeof *grown);
    if (grown != NULL)
        f->probes = grown;
    if (jobs == NULL || grown == NULL) {
        free(jobs);
        return fleet_oom(err, errlen);
    }
    for (size_t from = 0; from < count; from += chunk) {
        size_t n = count - from < chunk ? count - from : chunk;
        for (size_t i = 0; i < n; i++) {
            size_t key = keys[from + i];
            const struct fleet_group *g = &f->groups[key % f->group_count];
            const struct fleet_host *host = &f->hosts[g->host];
            jobs[i] = (struct confirm_job){
                .host = host->name,
                .url = host->url,
                .mdev = &f->versions[key / f->group_count].mdev,
                .parent = g->parent,
                .device = g->device,
                .target_digest = g->digest,
            };
        }
        fleet_report(f, f->probes_sent + n, f->probes_sent);
        long sent = confirm_run(f->m, jobs, n, err, errlen);
        if (sent < 0) {
            free(jobs);
            return MDEVMIG_ERR_INTERNAL;
        }
        f->probes_sent += (size_t)sent;
        for (size_t i = 0; i < n; i++) {
            size_t key = keys[from + i];
            struct fleet_probe *p = &f->probes[f->probe_count];
            *p = (struct fleet_probe){
                .version = key / f->group_count,
                .group = key % f->group_count,
                .probe = jobs[i].probe,
            };
            f->key_probe[key] = f->probe_count++;
            struct fleet_host *host = &f->hosts[f->groups[p->group].host];
            host->probed = true;
            if (p->probe.verdict == MDEVMIG_UNREACHABLE)
                host->down = true;
        }
    }
    fleet_report(f, f->probes_sent, f->probes_sent);
    free(jobs);
    return 0;
}

int fleet_send(struct fleet *f, char *err, size_t errlen)
{
    size_t count = f->queue_count;
    f->queue_count = 0;
    f->mark++;
    if (count == 0)
        return 0;
    /* The keys are moved aside: the waves below may queue nothing, but a
     * caller's next fleet_ask must find an empty queue. */
    size_t *keys = malloc(count * sizeof *keys);
    if (keys == NULL)
        return fleet_oom(err, errlen);
    memcpy(keys, f->queue, count * sizeof *keys);

    /* One key per host never asked: is anyone there? */
    size_t first = 0;
    for (size_t i = 0; i < count; i++) {
        struct fleet_host *host = &f->hosts[f->groups[keys[i] % f->group_count].host];
        if (host->probed || host->down)
            continue;
        host->probed = true; /* for this pass; fleet_wave sets it for real */
        size_t tmp = keys[first];
        keys[first++] = keys[i];
        keys[i] = tmp;
    }
    for (size_t i = 0; i < first; i++)
        f->hosts[f->groups[keys[i] % f->group_count].host].probed = false;
    int rc = fleet_wave(f, keys, first, err, errlen);
    /* The rest, on the hosts that answered. */
    size_t rest = 0;
    for (size_t i = first; i < count && rc == 0; i++) {
        size_t key = keys[i];
        if (!f->hosts[f->groups[key % f->group_count].host].down && f->key_probe[key] == FLEET_NONE)
            keys[first + rest++] = key;
    }
    if (rc == 0)
        rc = fleet_wave(f, keys + first, rest, err, errlen);
    free(keys);
    return rc;
}
