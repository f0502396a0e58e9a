/*
 * readiness_run — the sched's own readiness run, one thread that sleeps
 * readiness_interval between runs and keeps the last run's counts for
 * /metrics. Only runs that finish move the timestamp: an alert on its age
 * then also catches a sched whose runs keep failing.
 */
#include "readiness_run.h"

#include "log.h"
#include "metrics.h"
#include "monotonic.h"
#include "service.h"
#include "textbuf.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The last finished run. */
struct sched_readiness_last {
    size_t stranded, single, ready;
    double finished_at; /* unix s; 0 before the first */
    double duration_s;
    unsigned long runs_ok, runs_error;
};

struct sched_readiness {
    struct sched *s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct sched_readiness_last last; /* under lock */
};

static void sched_readiness_once(struct sched_readiness *r)
{
    struct sched *s = r->s;
    struct mdevmig_readiness_request req = MDEVMIG_READINESS_INIT;
    req.max_parallel = (size_t)s->cfg->readiness_max_parallel;
    struct mdevmig_readiness *answer = NULL;
    char err[1024];
    int rc = mdevmig_readiness(s->lib, &req, &answer, err, sizeof err);
    struct mdevmig_readiness_info info = {.size = sizeof info};
    if (rc == MDEVMIG_OK)
        mdevmig_readiness_info(answer, &info);
    mdevmig_readiness_free(answer);
    /* A whole fleet's answer was just freed in this thread's arena, which
     * glibc would keep resident until the next run. */
    (void)malloc_trim(0);
    pthread_mutex_lock(&r->lock);
    if (rc == MDEVMIG_OK) {
        r->last.stranded = info.stranded;
        r->last.single = info.single;
        r->last.ready = info.ready;
        r->last.finished_at = (double)time(NULL);
        r->last.duration_s = (double)info.elapsed_us / 1e6;
        r->last.runs_ok++;
    } else {
        r->last.runs_error++;
    }
    pthread_mutex_unlock(&r->lock);
    if (rc != MDEVMIG_OK) {
        log_error("readiness run failed: %s", err);
        return;
    }
    atomic_fetch_add(&s->probes_sent, info.probes_sent);
    log_msg(info.stranded > 0 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
            "readiness run: %zu VMs with mdevs, %zu stranded, %zu with one destination, %zu ready; "
            "%zu probes in %zu waves, %.1f s",
            info.vm_count, info.stranded, info.single, info.ready, info.probes_sent, info.waves,
            (double)info.elapsed_us / 1e6);
}

static void *sched_readiness_main(void *arg)
{
    struct sched_readiness *r = arg;
    double interval = r->s->cfg->readiness_interval;
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)interval;
        until.tv_nsec += (long)((interval - (double)(time_t)interval) * 1e9);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&r->lock);
        int rc = 0;
        while (!r->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&r->wake, &r->lock, &until);
        bool stop = r->stop;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            return NULL;
        sched_readiness_once(r);
    }
}

int sched_readiness_start(struct sched *s, char *err, size_t errlen)
{
    if (s->cfg->readiness_interval <= 0)
        return 0;
    struct sched_readiness *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->s = s;
    int rc = pthread_mutex_init(&r->lock, NULL);
    if (rc == 0 && (rc = monotonic_cond_init(&r->wake)) != 0)
        pthread_mutex_destroy(&r->lock);
    if (rc == 0 && (rc = pthread_create(&r->thread, NULL, sched_readiness_main, r)) != 0) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
    }
    if (rc != 0) {
        free(r);
        snprintf(err, errlen, "readiness run: cannot start its thread: %s", strerror(rc));
        return -1;
    }
    s->readiness = r;
    log_info("readiness: a run every %.0f s, %d probes at a time", s->cfg->readiness_interval,
             s->cfg->readiness_max_parallel);
    return 0;
}

void sched_readiness_stop(struct sched *s)
{
    struct sched_readiness *r = s->readiness;
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
    s->readiness = NULL;
}

void sched_readiness_metrics(struct sched *s, struct textbuf *buf)
{
    struct sched_readiness_last last = {0};
    struct sched_readiness *r = s->readiness;
    if (r != NULL) {
        pthread_mutex_lock(&r->lock);
        last = r->last;
        pthread_mutex_unlock(&r->lock);
    }
    const struct metrics_sample vms[] = {
        {.labels = {{"readiness", "stranded"}}, .value = (double)last.stranded},
        {.labels = {{"readiness", "single"}}, .value = (double)last.single},
        {.labels = {{"readiness", "ready"}}, .value = (double)last.ready},
    };
    metrics_write(buf, METRICS_GAUGE, "mdevmig_sched_vms",
                  "VMs with mdevs by live-migration destinations in the last readiness run: "
                  "stranded (none), single (one), ready (two or more).",
                  vms, sizeof vms / sizeof vms[0]);
    metrics_write_value(buf, METRICS_GAUGE, "mdevmig_sched_readiness_last_run_timestamp_seconds",
                        "Unix time the last successful readiness run finished (0: none yet).",
                        last.finished_at);
    metrics_write_value(buf, METRICS_GAUGE, "mdevmig_sched_readiness_duration_seconds",
                        "How long the last successful readiness run took, probes included.",
                        last.duration_s);
    const struct metrics_sample runs[] = {
        {.labels = {{"outcome", "ok"}}, .value = (double)last.runs_ok},
        {.labels = {{"outcome", "error"}}, .value = (double)last.runs_error},
    };
    metrics_write(buf, METRICS_COUNTER, "mdevmig_sched_readiness_runs_total",
                  "Periodic readiness runs, by outcome.", runs, sizeof runs / sizeof runs[0]);
    metrics_write_value(buf, METRICS_GAUGE, "mdevmig_sched_readiness_interval_seconds",
                        "readiness_interval: seconds between readiness runs (0: off).",
                        s->cfg->readiness_interval);
}
