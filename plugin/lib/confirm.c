/*
 * confirm — the live half of an answer: POST /v1/probe to each candidate's
 * collector, all at once (bounded by the HTTP client), and turn the
 * drivers' answers into a verdict per host. Each of a host's targets for a
 * type (its parents at one version: see candidate_target) is probed; the
 * host passes only when every one of the VM's mdevs fits on a target that
 * accepted it; a collector that does not answer is
 * unreachable, never compatible. Verdicts are cached for ranking later
 * calls, never for confirming them. confirm_run is the wave itself, for
 * any list of (version, host, target); select and filter, the evacuation
 * planner and the matrix all probe through it.
 */
#include "internal.h"

#include "errname.h"
#include "json_quick.h"
#include "log.h"
#include "probe_wire.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum mdevmig_verdict confirm_verdict_of(enum probe_wire_verdict v)
{
    switch (v) {
    case PROBE_WIRE_COMPATIBLE:
        return MDEVMIG_COMPATIBLE;
    case PROBE_WIRE_INCOMPATIBLE:
        return MDEVMIG_INCOMPATIBLE;
    case PROBE_WIRE_UNSUPPORTED:
        return MDEVMIG_UNSUPPORTED;
    case PROBE_WIRE_NO_TYPE:
        return MDEVMIG_NO_TYPE;
    }
    return MDEVMIG_UNREACHABLE;
}

/* Fill probe from the collector's reply to call, made for job. Only a
 * well-formed probe reply, from the host asked and at the level asked,
 * is a verdict; anything else is unreachable, with the reason. */
static void confirm_read(const struct confirm_job *job, const struct http_call *call,
                         struct mdevmig_probe *probe)
{
    char text[512] = "";
    json_t *json = call->response != NULL
                       ? json_quick_loadb(call->response, call->response_len, 0, NULL)
                       : NULL;
    const char *message = json_string_value(json_object_get(json, "error"));
    probe->verdict = MDEVMIG_UNREACHABLE;
    if (call->status == 200) {
        struct probe_wire_reply reply;
        char why[256];
        bool device = job->device != NULL && job->device[0] != '\0';
        if (probe_wire_reply_from_json(json, &reply, why, sizeof why) < 0) {
            snprintf(text, sizeof text, "not a probe reply from host %s's collector: %s", job->host,
                     json == NULL ? "not JSON" : why);
        } else if (reply.host != NULL && strcmp(reply.host, job->host) != 0) {
            snprintf(text, sizeof text, "the collector at %s answered as host %.255s, not %s",
                     job->url, reply.host, job->host);
        } else if (reply.device_level != device) {
            snprintf(text, sizeof text, "the collector answered a %s-level probe at %s level",
                     device ? "device" : "type", device ? "type" : "device");
        } else {
            probe->verdict = confirm_verdict_of(reply.verdict);
            probe->err = reply.err;
            probe->elapsed_us = reply.elapsed_us;
            if (reply.error != NULL)
                snprintf(text, sizeof text, "%s", reply.error);
        }
    } else if (call->status == 404) {
        /* The registry is behind the host: the type or device is gone. */
        probe->verdict = MDEVMIG_NO_TYPE;
        snprintf(text, sizeof text, "%s", message != NULL ? message : "not found on the host");
    } else if (call->status != 0) {
        snprintf(text, sizeof text, "collector answered HTTP %d%s%s", call->status,
                 message != NULL ? ": " : "", message != NULL ? message : "");
    } else {
        snprintf(text, sizeof text, "%s", call->error[0] != '\0' ? call->error : "no answer");
    }
    if (probe->elapsed_us == 0)
        probe->elapsed_us = call->elapsed_us;
    probe->error = text[0] != '\0' ? strdup(text) : NULL;
    json_decref(json);
}

/* Which probe failure speaks for the host: the driver's own refusal is
 * the most telling, a dead collector the least. */
static int confirm_weight(enum mdevmig_verdict v)
{
    switch (v) {
    case MDEVMIG_INCOMPATIBLE:
        return 5;
    case MDEVMIG_UNSUPPORTED:
        return 4;
    case MDEVMIG_NO_TYPE:
        return 3;
    case MDEVMIG_NO_CAPACITY:
        return 2;
    case MDEVMIG_UNREACHABLE:
        return 1;
    default:
        return 0;
    }
}

/* Which of a host's targets takes which of the VM's mdevs: each mdev on a
 * target that accepted its version, no target past its room. A small
 * bipartite matching (augmenting paths): a VM has at most 64 mdevs and a
 * host a few targets, and taking the first target that accepts would
 * strand an mdev that only one target accepts. */
struct confirm_match {
    size_t mdevs, targets;
    const bool *accepts; /* [mdev * targets + target] */
    int *room;           /* per target */
    size_t *at;          /* per mdev: its target, or SIZE_MAX */
    bool *seen;          /* per target, in one search */
};

static bool confirm_match_place(struct confirm_match *mm, size_t i)
{
    for (size_t t = 0; t < mm->targets; t++) {
        if (!mm->accepts[i * mm->targets + t] || mm->seen[t])
            continue;
        mm->seen[t] = true;
        if (mm->room[t] > 0) {
            mm->room[t]--;
            mm->at[i] = t;
            return true;
        }
        for (size_t j = 0; j < mm->mdevs; j++) {
            if (mm->at[j] == t && confirm_match_place(mm, j)) {
                mm->at[i] = t;
                return true;
            }
        }
    }
    return false;
}

/* How many of the VM's mdevs fit on the targets that accepted them
 * (accepts: [mdev * targets + target]), or -1 when out of memory. */
static long confirm_fit(const struct candidate *cand, size_t mdevs, const bool *accepts)
{
    size_t targets = cand->target_count;
    struct confirm_match mm = {
        .mdevs = mdevs,
        .targets = targets,
        .accepts = accepts,
        .room = calloc(targets + 1, sizeof *mm.room),
        .at = calloc(mdevs + 1, sizeof *mm.at),
        .seen = calloc(targets + 1, sizeof *mm.seen),
    };
    long placed = -1;
    if (mm.room != NULL && mm.at != NULL && mm.seen != NULL) {
        for (size_t t = 0; t < targets; t++)
            mm.room[t] = cand->targets[t].capacity;
        for (size_t i = 0; i < mdevs; i++)
            mm.at[i] = SIZE_MAX;
        placed = 0;
        for (size_t i = 0; i < mdevs; i++) {
            memset(mm.seen, 0, targets * sizeof *mm.seen);
            placed += confirm_match_place(&mm, i);
        }
    }
    free(mm.room);
    free(mm.at);
    free(mm.seen);
    return placed;
}

/* The host's verdict from its probes: compatible when every mdev fits on
 * a target that accepted it; otherwise the most telling refusal of an
 * mdev no target accepted, or no-capacity when each was accepted
 * somewhere but not all fit. Returns 0, or -1 when out of memory. */
static int confirm_settle(struct candidate *cand, size_t mdevs, const bool *accepts)
{
    const struct mdevmig_probe *worst = NULL;
    for (size_t i = 0; i < mdevs; i++) {
        bool accepted = false;
        for (size_t t = 0; t < cand->target_count && !accepted; t++)
            accepted = accepts[i * cand->target_count + t];
        if (accepted)
            continue;
        for (size_t p = 0; p < cand->probe_count; p++) {
            const struct mdevmig_probe *probe = &cand->probes[p];
            if (probe->mdev == i &&
                (worst == NULL || confirm_weight(probe->verdict) > confirm_weight(worst->verdict)))
                worst = probe;
        }
    }
    free(cand->error);
    cand->error = NULL;
    cand->err = 0;
    if (worst != NULL) {
        cand->verdict = worst->verdict;
        cand->err = worst->err;
        if (worst->error != NULL && (cand->error = strdup(worst->error)) == NULL)
            return -1;
        return 0;
    }
    long fit = confirm_fit(cand, mdevs, accepts);
    if (fit < 0)
        return -1;
    cand->verdict = (size_t)fit == mdevs ? MDEVMIG_COMPATIBLE : MDEVMIG_NO_CAPACITY;
    if (cand->verdict == MDEVMIG_NO_CAPACITY) {
        char text[512];
        snprintf(text, sizeof text,
                 "host %.255s: the parents that accept the VM's versions have room for %ld of "
                 "its %zu mdevs",
                 cand->host, fit, mdevs);
        if ((cand->error = strdup(text)) == NULL)
            return -1;
    }
    return 0;
}

/* Every probe's URL and body in one allocation: a job's URL is its host's
 * collector, the same pointer for all of a host's jobs, so a run of jobs
 * to one host shares one URL string; bodies come from probe_wire's text
 * codec (the bytes jansson would write, without a tree per probe). The
 * first pass sizes, the second writes. */
struct confirm_texts {
    char *arena;
    size_t size, used;
};

static const char *confirm_url(const struct confirm_job *job, const struct confirm_job *prev)
{
    return prev != NULL && prev->url == job->url ? NULL : job->url;
}

static size_t confirm_url_size(const char *base)
{
    return strlen(base) + sizeof "/v1/probe";
}

static const char *confirm_put_url(struct confirm_texts *t, const char *base)
{
    char *out = t->arena + t->used;
    size_t n = strlen(base);
    memcpy(out, base, n);
    memcpy(out + n, "/v1/probe", sizeof "/v1/probe");
    t->used += n + sizeof "/v1/probe";
    return out;
}

static size_t confirm_body_size(const struct confirm_job *job)
{
    return probe_wire_request_text(job->mdev->type, job->mdev->version, job->device, job->parent,
                                   NULL, 0) +
           1;
}

static const char *confirm_put_body(struct confirm_texts *t, const struct confirm_job *job,
                                    size_t *len)
{
    char *out = t->arena + t->used;
    *len = probe_wire_request_text(job->mdev->type, job->mdev->version, job->device, job->parent,
                                   out, t->size - t->used);
    t->used += *len + 1;
    return out;
}

/* strdup of a "/"-joined pair without a format string (one per probe). */
static char *confirm_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *out = malloc(na + nb + 2);
    if (out != NULL) {
        memcpy(out, a, na);
        out[na] = '/';
        memcpy(out + na + 1, b, nb + 1);
    }
    return out;
}

void confirm_probe_clear(struct mdevmig_probe *probe)
{
    free(probe->level);
    free(probe->target);
    free(probe->error);
    memset(probe, 0, sizeof *probe);
}

long confirm_run(struct mdevmig *m, struct confirm_job *jobs, size_t count, char *err,
                 size_t errlen)
{
    struct http_call *calls = calloc(count + 1, sizeof *calls);
    size_t *job_of = malloc((count + 1) * sizeof *job_of);
    struct confirm_texts texts = {0};
    const struct confirm_job *prev = NULL;
    bool unwritable = false;
    for (size_t k = 0; k < count; k++) {
        /* Every probe starts empty, so a failure half way frees only what was made. */
        memset(&jobs[k].probe, 0, sizeof jobs[k].probe);
        if (jobs[k].url == NULL)
            continue;
        /* No request can be written without them (the caller's bug). */
        if (jobs[k].mdev->type == NULL || jobs[k].mdev->version == NULL) {
            unwritable = true;
            continue;
        }
        const char *base = confirm_url(&jobs[k], prev);
        texts.size += (base != NULL ? confirm_url_size(base) : 0) + confirm_body_size(&jobs[k]);
        prev = &jobs[k];
    }
    texts.arena = unwritable ? NULL : malloc(texts.size + 1);
    int rc = calls != NULL && job_of != NULL && texts.arena != NULL ? 0 : -1;
    size_t n = 0;
    const char *url = NULL;
    prev = NULL;
    for (size_t k = 0; k < count && rc == 0; k++) {
        struct confirm_job *job = &jobs[k];
        struct mdevmig_probe *probe = &job->probe;
        bool device = job->device != NULL && job->device[0] != '\0';
        probe->level = strdup(device ? "device" : "type");
        probe->target = device ? strdup(job->device)
                               : confirm_join(job->parent != NULL ? job->parent : "",
                                              job->mdev->type != NULL ? job->mdev->type : "");
        if (probe->level == NULL || probe->target == NULL) {
            rc = -1;
            break;
        }
        if (job->url == NULL) {
            probe->verdict = MDEVMIG_UNREACHABLE;
            if ((probe->error = strdup("the host advertises no collector URL")) == NULL)
                rc = -1;
            continue;
        }
        const char *base = confirm_url(job, prev);
        if (base != NULL)
            url = confirm_put_url(&texts, base);
        prev = job;
        job_of[n] = k;
        calls[n].url = url;
        calls[n].peer_name = m->verify_host_identity ? job->host : NULL;
        calls[n].method = "POST";
        calls[n].body = confirm_put_body(&texts, job, &calls[n].body_len);
        n++;
    }
    if (rc < 0)
        snprintf(err, errlen, unwritable ? "a probe without a type or version" : "out of memory");
    if (rc == 0 && n > 0)
        rc = http_client_run(m->http, calls, n, err, errlen);

    struct registry_probe *cache = rc == 0 ? calloc(n + 1, sizeof *cache) : NULL;
    size_t cached = 0;
    time_t now = time(NULL);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct confirm_job *job = &jobs[job_of[i]];
        struct mdevmig_probe *probe = &job->probe;
        confirm_read(job, &calls[i], probe);
        enum registry_verdict rv;
        if (probe->verdict == MDEVMIG_COMPATIBLE)
            rv = REGISTRY_VERDICT_COMPATIBLE;
        else if (probe->verdict == MDEVMIG_INCOMPATIBLE)
            rv = REGISTRY_VERDICT_INCOMPATIBLE;
        else if (probe->verdict == MDEVMIG_UNSUPPORTED)
            rv = REGISTRY_VERDICT_UNSUPPORTED;
        else
            continue; /* unreachable or gone: nothing that holds to cache */
        if (cache == NULL)
            continue;
        bool device = job->device != NULL && job->device[0] != '\0';
        cache[cached++] = (struct registry_probe){
            .source_digest = job->mdev->digest,
            .target_host = job->host,
            .level = device ? REGISTRY_LEVEL_DEVICE : REGISTRY_LEVEL_TYPE,
            .target = device ? job->device : job->mdev->type,
            .target_digest = job->target_digest != NULL ? job->target_digest : "",
            .verdict = rv,
            .err_no = probe->err,
            .checked_at = (int64_t)now,
        };
    }
    if (rc == 0 && cached > 0) {
        char cache_err[512];
        pthread_mutex_lock(&m->registry_lock);
        /* A cache that cannot be written only costs ranking later. */
        int put = registry_probe_put_many(m->registry, cache, cached, cache_err, sizeof cache_err);
        pthread_mutex_unlock(&m->registry_lock);
        if (put < 0)
            log_warn("probe cache not updated: %s", cache_err);
    }
    free(cache);
    if (calls != NULL)
        http_calls_reset(calls, n);
    free(texts.arena);
    free(job_of);
    free(calls);
    if (rc < 0) {
        for (size_t k = 0; k < count; k++)
            confirm_probe_clear(&jobs[k].probe);
        return -1;
    }
    return (long)n;
}

long confirm_probe(struct mdevmig *m, const struct source *src, struct candidates *c, size_t from,
                   size_t to, char *err, size_t errlen)
{
    /* One job per (mdev, target of its type) on each host to probe. */
    size_t max_jobs = 0;
    for (size_t i = from; i < to; i++) {
        if (c->items[i].verdict == MDEVMIG_NOT_PROBED)
            max_jobs += src->mdev_count * c->items[i].target_count;
    }
    struct confirm_job *jobs = calloc(max_jobs + 1, sizeof *jobs);
    size_t *job_target = calloc(max_jobs + 1, sizeof *job_target);
    if (jobs == NULL || job_target == NULL) {
        free(jobs);
        free(job_target);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        const struct candidate *cand = &c->items[i];
        if (cand->verdict != MDEVMIG_NOT_PROBED)
            continue;
        for (size_t mi = 0; mi < src->mdev_count; mi++) {
            for (size_t t = 0; t < cand->target_count; t++) {
                const struct candidate_target *target = &cand->targets[t];
                if (target->type_index != cand->needs[mi].type_index)
                    continue;
                job_target[n] = t;
                jobs[n++] = (struct confirm_job){
                    .host = cand->host,
                    .url = cand->url,
                    .mdev = &src->mdevs[mi],
                    .parent = target->parent,
                    .device = target->device,
                    .target_digest = target->digest,
                };
            }
        }
    }
    long sent = confirm_run(m, jobs, n, err, errlen);
    if (sent < 0) {
        free(jobs);
        free(job_target);
        return -1;
    }
    /* The jobs come in candidate order, mdevs in order: hand them out. */
    size_t k = 0;
    int rc = 0;
    for (size_t i = from; i < to && rc == 0; i++) {
        struct candidate *cand = &c->items[i];
        if (cand->verdict != MDEVMIG_NOT_PROBED)
            continue;
        size_t first = k;
        while (k < n && jobs[k].host == cand->host)
            k++;
        cand->probes = calloc(k - first + 1, sizeof *cand->probes);
        bool *accepts = calloc(src->mdev_count * cand->target_count + 1, sizeof *accepts);
        if (cand->probes == NULL || accepts == NULL) {
            free(accepts);
            rc = -1;
            break;
        }
        cand->probe_count = k - first;
        for (size_t j = first; j < k; j++) {
            size_t mi = (size_t)(jobs[j].mdev - src->mdevs);
            struct mdevmig_probe *probe = &cand->probes[j - first];
            *probe = jobs[j].probe;
            memset(&jobs[j].probe, 0, sizeof jobs[j].probe);
            probe->mdev = mi;
            if (probe->verdict == MDEVMIG_COMPATIBLE)
                accepts[mi * cand->target_count + job_target[j]] = true;
        }
        rc = confirm_settle(cand, src->mdev_count, accepts);
        free(accepts);
    }
    for (size_t j = 0; j < n; j++)
        confirm_probe_clear(&jobs[j].probe);
    free(jobs);
    free(job_target);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return sent;
}
