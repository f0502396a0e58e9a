/*
 * metrics_reply — the collector's families, one writer call each, so
 * every sample sits under its own HELP and TYPE. The names are what
 * dashboards, alerts, tests and benchmarks read: keep them.
 */
#include "metrics_reply.h"

#include "attrdir.h"
#include "audit.h"
#include "buildinfo.h"
#include "collector.h"
#include "http_server.h"
#include "metrics.h"
#include "publish.h"
#include "textbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

void metrics_reply_collector_init(struct collector_metrics *m)
{
    metrics_histogram_init(&m->probe_write, &metrics_bounds_sysfs_write);
    metrics_histogram_init(&m->probe_request, &metrics_bounds_request);
}

void metrics_reply_collector_write(struct collector *c, long us)
{
    metrics_histogram_observe_us(&c->metrics.probe_write, us);
}

void metrics_reply_collector_request(struct collector *c, long us)
{
    metrics_histogram_observe_us(&c->metrics.probe_request, us);
}

/* Batch reads are counted here rather than in struct collector_metrics
 * (collector.h), which the rest of the collector shares: a process runs
 * one collector, so process-wide counters are that collector's. */
static atomic_ulong metrics_reply_batches_answered;
static atomic_ulong metrics_reply_batches_refused;
static atomic_ulong metrics_reply_batch_devices;

void metrics_reply_collector_batch(struct collector *c, bool answered, size_t devices)
{
    (void)c;
    atomic_fetch_add(answered ? &metrics_reply_batches_answered : &metrics_reply_batches_refused,
                     1);
    atomic_fetch_add(&metrics_reply_batch_devices, (unsigned long)devices);
}

static void metrics_reply_counter(struct textbuf *buf, const char *name, const char *help,
                                  unsigned long long value)
{
    metrics_write_value(buf, METRICS_COUNTER, name, help, (double)value);
}

static void metrics_reply_gauge(struct textbuf *buf, const char *name, const char *help,
                                double value)
{
    metrics_write_value(buf, METRICS_GAUGE, name, help, value);
}

void metrics_reply_collector(struct collector *c, struct http_response *resp)
{
    struct collector_metrics *m = &c->metrics;
    pthread_rwlock_rdlock(&c->lock);
    long long generation = c->inv.generation;
    size_t devices = c->inv.device_count, instances = c->inv.instance_count;
    pthread_rwlock_unlock(&c->lock);

    struct textbuf buf = {0};
    const struct metrics_sample build = {
        .labels = {{"version", buildinfo_version()}, {"commit", buildinfo_commit()}},
        .value = 1,
    };
    metrics_write(&buf, METRICS_GAUGE, "mdevmig_build_info",
                  "Which mdevmig build answers: its version and git commit (always 1).", &build, 1);

    const struct metrics_sample probes[] = {
        {.labels = {{"verdict", "compatible"}},
         .value = (double)atomic_load(&m->probes_compatible)},
        {.labels = {{"verdict", "incompatible"}},
         .value = (double)atomic_load(&m->probes_incompatible)},
        {.labels = {{"verdict", "unsupported"}},
         .value = (double)atomic_load(&m->probes_unsupported)},
        {.labels = {{"verdict", "no-type"}}, .value = (double)atomic_load(&m->probes_no_type)},
    };
    metrics_write(&buf, METRICS_COUNTER, "mdevmig_collector_probes_total",
                  "Write-probes answered, by verdict.", probes, sizeof probes / sizeof probes[0]);
    const struct metrics_series durations[] = {
        {.labels = {{"phase", "write"}}, .histogram = &m->probe_write},
        {.labels = {{"phase", "request"}}, .histogram = &m->probe_request},
    };
    metrics_write_histogram(&buf, "mdevmig_collector_probe_duration_seconds",
                            "Write-probes by time taken: phase=\"write\" the write(2) into "
                            "migration_version alone (the driver's answer), phase=\"request\" "
                            "the whole POST /v1/probe.",
                            durations, sizeof durations / sizeof durations[0]);

    metrics_reply_counter(&buf, "mdevmig_collector_probe_errors_total",
                          "Write-probes answered 503 because the write never reached the "
                          "driver (a dead sysfs mount, a failed open): no verdict.",
                          atomic_load(&m->probe_errors));
    const struct metrics_sample batches[] = {
        {.labels = {{"result", "answered"}},
         .value = (double)atomic_load(&metrics_reply_batches_answered)},
        {.labels = {{"result", "refused"}},
         .value = (double)atomic_load(&metrics_reply_batches_refused)},
    };
    metrics_write(&buf, METRICS_COUNTER, "mdevmig_collector_version_batches_total",
                  "POST /v1/devices/migration_versions requests: answered, or refused (a bad "
                  "body with 400, no inventory or no sysfs with 503).",
                  batches, sizeof batches / sizeof batches[0]);
    metrics_reply_counter(&buf, "mdevmig_collector_version_batch_devices_total",
                          "Devices whose migration_version a batch read live (found on this "
                          "host).",
                          atomic_load(&metrics_reply_batch_devices));
    metrics_reply_counter(&buf, "mdevmig_collector_requests_total",
                          "HTTP requests received, every endpoint.", atomic_load(&m->requests));
    metrics_reply_counter(&buf, "mdevmig_collector_bad_requests_total",
                          "Probe requests refused with 400: the body was not a valid probe.",
                          atomic_load(&m->bad_requests));
    metrics_reply_counter(&buf, "mdevmig_collector_unauthorized_total",
                          "Requests refused with 401: no bearer token or the wrong one.",
                          atomic_load(&m->unauthorized));

    metrics_reply_counter(&buf, "mdevmig_collector_scans_total", "Sysfs scans run.",
                          atomic_load(&m->scans));
    metrics_reply_counter(&buf, "mdevmig_collector_scan_failures_total",
                          "Sysfs scans that failed; the last good inventory stays.",
                          atomic_load(&m->scan_failures));
    metrics_reply_counter(&buf, "mdevmig_collector_scan_skipped_total",
                          "Parents, types or devices that vanished mid-scan.",
                          atomic_load(&m->scan_skipped));
    metrics_reply_counter(&buf, "mdevmig_collector_scan_errors_total",
                          "Sysfs attributes a scan could not read (EIO, ...).",
                          atomic_load(&m->scan_errors));
    metrics_reply_counter(&buf, "mdevmig_collector_libvirt_failures_total",
                          "Times libvirt could not list the VMs; the last list stays.",
                          atomic_load(&m->libvirt_failures));
    metrics_reply_gauge(&buf, "mdevmig_collector_last_scan_seconds",
                        "How long the last sysfs scan took.",
                        (double)atomic_load(&m->last_scan_us) / 1e6);
    metrics_reply_gauge(&buf, "mdevmig_collector_generation",
                        "The inventory's generation, bumped by every change.", (double)generation);
    metrics_reply_gauge(&buf, "mdevmig_collector_devices", "Mdev devices in the inventory.",
                        (double)devices);
    metrics_reply_gauge(&buf, "mdevmig_collector_instances",
                        "VMs in the inventory (libvirt domains using this host's mdevs).",
                        (double)instances);
    metrics_reply_gauge(&buf, "mdevmig_collector_probe_dirs_kept",
                        "Attribute directories probes open through a kept fd.",
                        (double)attrdir_count(c->attrdirs));

    if (c->publish != NULL) {
        struct publish_stats ps;
        publish_get_stats(c->publish, &ps);
        metrics_reply_counter(&buf, "mdevmig_collector_publish_total",
                              "Inventory snapshots applied, all targets.", ps.published);
        metrics_reply_counter(&buf, "mdevmig_collector_publish_heartbeats_total",
                              "Heartbeats of an unchanged inventory, all targets.", ps.heartbeats);
        metrics_reply_counter(&buf, "mdevmig_collector_publish_failures_total",
                              "Publishes that failed, all targets (retried).", ps.failures);
        metrics_reply_gauge(&buf, "mdevmig_collector_published_generation",
                            "The newest generation every publish target has.",
                            (double)ps.last_generation);
    }
    if (c->audit != NULL)
        metrics_reply_counter(&buf, "mdevmig_collector_audit_dropped_total",
                              "Probe audit entries that never reached the audit database.",
                              (unsigned long long)audit_dropped(c->audit));
    size_t len;
    char *text = textbuf_take(&buf, &len);
    http_response_take(resp, 200, "text/plain; version=0.0.4", text, len);
}
