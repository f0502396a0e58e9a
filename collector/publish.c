/*
 * publish — the publisher thread. It always publishes the newest snapshot
 * (older pending ones are dropped: the registry only wants the latest),
 * retries a failing target with exponential backoff, and sends the last
 * snapshot again as a heartbeat so the registry's last_seen stays fresh.
 */
#include "publish.h"

#include "log.h"
#include "registry.h"
#include "wire.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUBLISH_BACKOFF_MIN_S 0.5
#define PUBLISH_BACKOFF_MAX_S 30.0

struct publish_target {
    char *spec;
    char *path; /* sqlite: file */
    struct registry *registry;
    int64_t done_generation; /* newest generation this target has taken */
    double backoff_s;
    struct timespec retry_at;
};

struct publish {
    struct publish_target *targets;
    size_t count;
    double heartbeat_s;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    char *pending; /* newest snapshot JSON */
    int64_t pending_generation;
    bool stopping;
    pthread_t thread;

    struct publish_stats stats;
};

static void publish_now(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

static void publish_add(struct timespec *ts, double seconds)
{
    long long ns = (long long)(seconds * 1e9);
    ts->tv_sec += (time_t)(ns / 1000000000LL);
    ts->tv_nsec += (long)(ns % 1000000000LL);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool publish_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Apply one snapshot to one target. Returns 0 or -1 with err. */
static int publish_to(struct publish_target *t, const struct inventory *inv, char *err,
                      size_t errlen)
{
    if (t->registry == NULL && registry_open(t->path, &t->registry, err, errlen) < 0)
        return -1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int rc = registry_replace_host(t->registry, inv, (int64_t)now.tv_sec, err, errlen);
    if (rc < 0) {
        /* Reopen next time: the file may have been replaced or repaired. */
        registry_close(t->registry);
        t->registry = NULL;
        return -1;
    }
    if (rc == 1)
        log_warn("publish %s: the registry holds a newer generation of %s than %lld; "
                 "another collector with the same host name?",
                 t->spec, inv->host, (long long)inv->generation);
    return 0;
}

/* One round: every target that is due gets the newest snapshot. *retry
 * becomes the earliest time a failing target wants another try (left
 * alone when none fails). */
static void publish_round(struct publish *p, const char *snapshot, int64_t generation,
                          bool heartbeat, struct timespec *retry)
{
    json_error_t jerr;
    json_t *json = json_loads(snapshot, 0, &jerr);
    struct inventory inv;
    char err[1024];
    if (json == NULL || wire_inventory_from_json(json, &inv, err, sizeof err) < 0) {
        /* Our own output did not parse back: a bug, not a target failure. */
        log_error("publish: snapshot %lld does not parse: %s", (long long)generation,
                  json == NULL ? jerr.text : err);
        json_decref(json);
        return;
    }
    json_decref(json);
    struct timespec now;
    publish_now(&now);
    for (size_t i = 0; i < p->count; i++) {
        struct publish_target *t = &p->targets[i];
        if (!heartbeat && t->done_generation >= generation)
            continue;
        if (t->backoff_s > 0 && publish_before(&now, &t->retry_at)) {
            if (publish_before(&t->retry_at, retry))
                *retry = t->retry_at;
            continue;
        }
        if (publish_to(t, &inv, err, sizeof err) < 0) {
            t->backoff_s = t->backoff_s == 0 ? PUBLISH_BACKOFF_MIN_S : t->backoff_s * 2;
            if (t->backoff_s > PUBLISH_BACKOFF_MAX_S)
                t->backoff_s = PUBLISH_BACKOFF_MAX_S;
            t->retry_at = now;
            publish_add(&t->retry_at, t->backoff_s);
            if (publish_before(&t->retry_at, retry))
                *retry = t->retry_at;
            pthread_mutex_lock(&p->lock);
            p->stats.failures++;
            pthread_mutex_unlock(&p->lock);
            log_warn("publish %s: %s; retrying in %.1f s", t->spec, err, t->backoff_s);
            continue;
        }
        if (t->backoff_s > 0)
            log_info("publish %s: target is back; generation %lld published", t->spec,
                     (long long)generation);
        t->backoff_s = 0;
        bool was_new = t->done_generation < generation;
        t->done_generation = generation;
        pthread_mutex_lock(&p->lock);
        if (was_new)
            p->stats.published++;
        else
            p->stats.heartbeats++;
        pthread_mutex_unlock(&p->lock);
    }
    int64_t everyone = generation;
    for (size_t i = 0; i < p->count; i++) {
        if (p->targets[i].done_generation < everyone)
            everyone = p->targets[i].done_generation;
    }
    pthread_mutex_lock(&p->lock);
    p->stats.last_generation = everyone;
    pthread_mutex_unlock(&p->lock);
    inventory_free(&inv);
}

static void *publish_thread(void *arg)
{
    struct publish *p = arg;
    struct timespec heartbeat_at, retry_at, now;
    publish_now(&heartbeat_at);
    publish_add(&heartbeat_at, p->heartbeat_s);
    bool retry_pending = false;
    int64_t attempted = -1;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        publish_now(&now);
        bool fresh = p->pending != NULL && p->pending_generation > attempted;
        bool heartbeat = p->pending != NULL && !publish_before(&now, &heartbeat_at);
        bool retry = retry_pending && !publish_before(&now, &retry_at);
        if (!fresh && !heartbeat && !retry && !p->stopping) {
            struct timespec until = heartbeat_at;
            if (retry_pending && publish_before(&retry_at, &until))
                until = retry_at;
            pthread_cond_timedwait(&p->wake, &p->lock, &until);
            continue;
        }
        char *snapshot = p->pending != NULL ? strdup(p->pending) : NULL;
        int64_t generation = p->pending_generation;
        bool stopping = p->stopping;
        pthread_mutex_unlock(&p->lock);

        if (snapshot != NULL) {
            struct timespec earliest = now;
            publish_add(&earliest, 365.0 * 86400);
            retry_at = earliest;
            publish_round(p, snapshot, generation, heartbeat, &retry_at);
            retry_pending = publish_before(&retry_at, &earliest);
            attempted = generation;
        }
        if (heartbeat) {
            heartbeat_at = now;
            publish_add(&heartbeat_at, p->heartbeat_s);
        }
        free(snapshot);

        pthread_mutex_lock(&p->lock);
        if (stopping)
            break;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct publish *publish_start(char *const *targets, size_t count, double heartbeat_s, char *err,
                              size_t errlen)
{
    struct publish *p = calloc(1, sizeof *p);
    if (p == NULL || (p->targets = calloc(count + 1, sizeof *p->targets)) == NULL) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->heartbeat_s = heartbeat_s;
    p->pending_generation = -1;
    for (size_t i = 0; i < count; i++) {
        struct publish_target *t = &p->targets[i];
        t->done_generation = -1;
        if (strncmp(targets[i], "sqlite:", 7) != 0 || targets[i][7] == '\0') {
            snprintf(err, errlen,
                     "registry target \"%s\": this build publishes only to sqlite:PATH "
                     "(the HTTP ingest of mdevmig-sched is not part of it yet)",
                     targets[i]);
            goto fail;
        }
        t->spec = strdup(targets[i]);
        t->path = strdup(targets[i] + 7);
        p->count = i + 1;
        if (t->spec == NULL || t->path == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &attr);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&p->thread, NULL, publish_thread, p);
    if (rc != 0) {
        snprintf(err, errlen, "publisher thread: %s", strerror(rc));
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        goto fail;
    }
    return p;
fail:
    for (size_t i = 0; i < p->count; i++) {
        free(p->targets[i].spec);
        free(p->targets[i].path);
    }
    free(p->targets);
    free(p);
    return NULL;
}

void publish_offer(struct publish *p, const char *json, size_t len, int64_t generation)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        log_error("publish: out of memory; generation %lld not queued", (long long)generation);
        return;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    pthread_mutex_lock(&p->lock);
    free(p->pending);
    p->pending = copy;
    p->pending_generation = generation;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void publish_get_stats(struct publish *p, struct publish_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->stats;
    pthread_mutex_unlock(&p->lock);
}

void publish_stop(struct publish *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->count; i++) {
        registry_close(p->targets[i].registry);
        free(p->targets[i].spec);
        free(p->targets[i].path);
    }
    free(p->targets);
    free(p->pending);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p);
}
