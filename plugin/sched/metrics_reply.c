/*
 * metrics_reply — mdevmig-sched's families, one writer call each, so every
 * sample sits under its own HELP and TYPE. The names are what dashboards,
 * alerts, tests and benchmarks read: keep them.
 */
#include "metrics_reply.h"

#include "buildinfo.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "readiness_run.h"
#include "service.h"
#include "textbuf.h"

#include <mdevmig/mdevmig.h>
#include <stdlib.h>

void metrics_reply_sched_init(struct sched *s)
{
    metrics_histogram_init(&s->decision_select, &metrics_bounds_decision);
    metrics_histogram_init(&s->decision_filter, &metrics_bounds_decision);
    metrics_histogram_init(&s->decision_evacuate, &metrics_bounds_decision);
    metrics_histogram_init(&s->decision_matrix, &metrics_bounds_decision);
    metrics_histogram_init(&s->decision_readiness, &metrics_bounds_decision);
    metrics_histogram_init(&s->decision_rollout, &metrics_bounds_decision);
    metrics_histogram_init(&s->probe, &metrics_bounds_request);
}

/* A probe that went out: one to a host with no collector URL is reported
 * unreachable without a request, and so without a time. */
static void metrics_reply_probe(struct sched *s, const struct mdevmig_probe_info *p)
{
    if ((size_t)p->verdict < sizeof s->probe_verdicts / sizeof s->probe_verdicts[0])
        atomic_fetch_add(&s->probe_verdicts[p->verdict], 1);
    if (p->verdict == MDEVMIG_UNREACHABLE && p->elapsed_us == 0)
        return;
    metrics_histogram_observe_us(&s->probe, p->elapsed_us);
}

void metrics_reply_sched_result(struct sched *s, bool filter, const struct mdevmig_result *r)
{
    struct mdevmig_result_info info = {.size = sizeof info};
    if (mdevmig_result_info(r, &info) != MDEVMIG_OK)
        return;
    metrics_histogram_observe_us(filter ? &s->decision_filter : &s->decision_select,
                                 info.elapsed_us);
    for (size_t h = 0; h < info.host_count; h++) {
        struct mdevmig_host_info host = {.size = sizeof host};
        mdevmig_result_host(r, h, &host);
        for (size_t p = 0; p < host.probe_count; p++) {
            struct mdevmig_probe_info probe = {.size = sizeof probe};
            if (mdevmig_result_probe(r, h, p, &probe) == MDEVMIG_OK)
                metrics_reply_probe(s, &probe);
        }
    }
}

void metrics_reply_sched_plan(struct sched *s, const struct mdevmig_plan *plan)
{
    struct mdevmig_plan_info info = {.size = sizeof info};
    if (mdevmig_plan_info(plan, &info) != MDEVMIG_OK)
        return;
    metrics_histogram_observe_us(&s->decision_evacuate, info.elapsed_us);
    for (size_t p = 0; p < info.probe_count; p++) {
        struct mdevmig_probe_info probe = {.size = sizeof probe};
        if (mdevmig_plan_probe(plan, p, &probe) == MDEVMIG_OK)
            metrics_reply_probe(s, &probe);
    }
}

void metrics_reply_sched_readiness(struct sched *s, const struct mdevmig_readiness *r)
{
    struct mdevmig_readiness_info info = {.size = sizeof info};
    if (mdevmig_readiness_info(r, &info) == MDEVMIG_OK)
        metrics_histogram_observe_us(&s->decision_readiness, info.elapsed_us);
}

void metrics_reply_sched_rollout(struct sched *s, const struct mdevmig_rollout *r)
{
    struct mdevmig_rollout_info info = {.size = sizeof info};
    if (mdevmig_rollout_info(r, &info) == MDEVMIG_OK)
        metrics_histogram_observe_us(&s->decision_rollout, info.elapsed_us);
}

void metrics_reply_sched_matrix(struct sched *s, const struct mdevmig_matrix *matrix)
{
    struct mdevmig_matrix_info info = {.size = sizeof info};
    if (mdevmig_matrix_info(matrix, &info) != MDEVMIG_OK)
        return;
    metrics_histogram_observe_us(&s->decision_matrix, info.elapsed_us);
    /* A cell keeps only its last attempt's time: earlier attempts at
     * representatives that did not answer are not observed. */
    for (size_t i = 0; i < info.cell_count; i++) {
        struct mdevmig_matrix_cell_info cell = {.size = sizeof cell};
        if (mdevmig_matrix_cell(matrix, i, &cell) != MDEVMIG_OK || cell.attempts == 0)
            continue;
        const struct mdevmig_probe_info last = {.verdict = cell.verdict,
                                                .elapsed_us = cell.elapsed_us};
        metrics_reply_probe(s, &last);
    }
}

static void metrics_reply_counter(struct textbuf *buf, const char *name, const char *help,
                                  unsigned long long value)
{
    metrics_write_value(buf, METRICS_COUNTER, name, help, (double)value);
}

void metrics_reply_sched(struct sched *s, struct http_response *resp)
{
    char err[512];
    size_t host_count = 0, stale = 0;
    if (mdevmig_host_counts(s->lib, &host_count, &stale, err, sizeof err) != MDEVMIG_OK)
        log_warn("metrics: the registry's hosts cannot be listed: %s", err);

    struct textbuf buf = {0};
    const struct metrics_sample build = {
        .labels = {{"version", buildinfo_version()}, {"commit", buildinfo_commit()}},
        .value = 1,
    };
    metrics_write(&buf, METRICS_GAUGE, "mdevmig_build_info",
                  "Which mdevmig build answers: its version and git commit (always 1).", &build, 1);

    metrics_reply_counter(&buf, "mdevmig_sched_requests_total",
                          "HTTP requests received, every endpoint.", atomic_load(&s->requests));
    metrics_reply_counter(&buf, "mdevmig_sched_bad_requests_total",
                          "Requests refused with 400: bad input.", atomic_load(&s->bad_requests));
    metrics_reply_counter(&buf, "mdevmig_sched_unauthorized_total",
                          "Requests refused with 401: no bearer token or the wrong one.",
                          atomic_load(&s->unauthorized));

    const struct metrics_sample decisions[] = {
        {.labels = {{"kind", "select"}}, .value = (double)atomic_load(&s->selects)},
        {.labels = {{"kind", "filter"}}, .value = (double)atomic_load(&s->filters)},
        {.labels = {{"kind", "evacuate"}}, .value = (double)atomic_load(&s->evacuations)},
        {.labels = {{"kind", "matrix"}}, .value = (double)atomic_load(&s->matrices)},
        {.labels = {{"kind", "readiness"}}, .value = (double)atomic_load(&s->readiness_asked)},
        {.labels = {{"kind", "rollout"}}, .value = (double)atomic_load(&s->rollouts)},
    };
    metrics_write(&buf, METRICS_COUNTER, "mdevmig_sched_decisions_total",
                  "Decisions asked of the library, by kind, answered or failed.", decisions,
                  sizeof decisions / sizeof decisions[0]);
    metrics_write_value(&buf, METRICS_COUNTER, "mdevmig_sched_decision_seconds_total",
                        "Time the library spent on answered decisions, every kind.",
                        (double)atomic_load(&s->decision_us_total) / 1e6);
    const struct metrics_series durations[] = {
        {.labels = {{"op", "select"}}, .histogram = &s->decision_select},
        {.labels = {{"op", "filter"}}, .histogram = &s->decision_filter},
        {.labels = {{"op", "evacuate"}}, .histogram = &s->decision_evacuate},
        {.labels = {{"op", "matrix"}}, .histogram = &s->decision_matrix},
        {.labels = {{"op", "readiness"}}, .histogram = &s->decision_readiness},
        {.labels = {{"op", "rollout"}}, .histogram = &s->decision_rollout},
    };
    metrics_write_histogram(&buf, "mdevmig_sched_decision_duration_seconds",
                            "Answered decisions by the library's time, probes included.", durations,
                            sizeof durations / sizeof durations[0]);

    metrics_reply_counter(&buf, "mdevmig_sched_probes_sent_total",
                          "Write-probes sent to collectors, every decision.",
                          atomic_load(&s->probes_sent));
    static const enum mdevmig_verdict probe_verdicts[] = {MDEVMIG_COMPATIBLE, MDEVMIG_INCOMPATIBLE,
                                                          MDEVMIG_UNSUPPORTED, MDEVMIG_NO_TYPE,
                                                          MDEVMIG_UNREACHABLE};
    struct metrics_sample verdicts[sizeof probe_verdicts / sizeof probe_verdicts[0]];
    for (size_t i = 0; i < sizeof probe_verdicts / sizeof probe_verdicts[0]; i++)
        verdicts[i] = (struct metrics_sample){
            .labels = {{"verdict", mdevmig_verdict_name(probe_verdicts[i])}},
            .value = (double)atomic_load(&s->probe_verdicts[probe_verdicts[i]])};
    metrics_write(&buf, METRICS_COUNTER, "mdevmig_sched_probes_total",
                  "Probes select, filter, evacuate and matrix sent, by verdict: unreachable is "
                  "a collector that did not answer, never a driver's answer.",
                  verdicts, sizeof verdicts / sizeof verdicts[0]);
    const struct metrics_series probe = {.histogram = &s->probe};
    metrics_write_histogram(&buf, "mdevmig_sched_probe_duration_seconds",
                            "Probes the answered decisions sent, by time: the collector's write "
                            "when it answered, else the round trip until the failure.",
                            &probe, 1);

    const struct metrics_sample ingest[] = {
        {.labels = {{"outcome", "applied"}}, .value = (double)atomic_load(&s->ingest_applied)},
        {.labels = {{"outcome", "ignored"}}, .value = (double)atomic_load(&s->ingest_ignored)},
        {.labels = {{"outcome", "rejected"}}, .value = (double)atomic_load(&s->ingest_rejected)},
        {.labels = {{"outcome", "heartbeat"}}, .value = (double)atomic_load(&s->heartbeat_touched)},
        {.labels = {{"outcome", "heartbeat_conflict"}},
         .value = (double)atomic_load(&s->heartbeat_conflict)},
    };
    metrics_write(&buf, METRICS_COUNTER, "mdevmig_sched_ingest_total",
                  "Collector snapshots and heartbeats received: applied, ignored (not newer) or "
                  "rejected snapshots; heartbeats that only refreshed last_seen, or met another "
                  "generation (409: the full inventory follows).",
                  ingest, sizeof ingest / sizeof ingest[0]);
    /* The library counts the writes: a snapshot at the generation held is
     * applied but rewrites nothing. */
    struct mdevmig_ingest_stats stats = MDEVMIG_INGEST_STATS_INIT;
    if (mdevmig_ingest_stats(s->lib, &stats) != MDEVMIG_OK)
        stats = (struct mdevmig_ingest_stats)MDEVMIG_INGEST_STATS_INIT;
    metrics_reply_counter(&buf, "mdevmig_sched_snapshot_writes_total",
                          "Snapshots that rewrote a host's rows in the registry (heartbeats and "
                          "unchanged snapshots rewrite none).",
                          stats.snapshots_written);
    metrics_reply_counter(&buf, "mdevmig_sched_snapshot_batches_total",
                          "Write transactions the snapshots took: several at once share one.",
                          stats.snapshot_batches);
    metrics_reply_counter(&buf, "mdevmig_sched_registry_checkpoints_total",
                          "WAL checkpoints the registry's background thread did.",
                          stats.checkpoints);
    metrics_reply_counter(&buf, "mdevmig_sched_registry_checkpoint_failures_total",
                          "Background WAL checkpoints that failed: the WAL grows until the "
                          "writer checkpoints itself (see the registry file's disk).",
                          stats.checkpoint_failures);

    sched_readiness_metrics(s, &buf);
    metrics_write_value(&buf, METRICS_GAUGE, "mdevmig_sched_hosts", "Hosts in the registry.",
                        (double)host_count);
    metrics_write_value(&buf, METRICS_GAUGE, "mdevmig_sched_hosts_stale",
                        "Hosts in the registry not heard from within stale_after.", (double)stale);
    size_t len;
    char *text = textbuf_take(&buf, &len);
    http_response_take(resp, 200, "text/plain; version=0.0.4", text, len);
}
