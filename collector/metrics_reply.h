/*
 * metrics_reply — the collector's GET /metrics: every family it exports
 * (DESIGN.md §7: clean under `promtool check metrics`), and the probe
 * latency histograms the request path observes into.
 */
#ifndef MDEVMIG_COLLECTOR_METRICS_REPLY_H
#define MDEVMIG_COLLECTOR_METRICS_REPLY_H

#include <stdbool.h>
#include <stddef.h>

struct collector;
struct collector_metrics;
struct http_response;

/* Give the histograms their buckets (collector_init, before any thread). */
void metrics_reply_collector_init(struct collector_metrics *m);

/* The Prometheus text of c's counters, gauges and histograms. */
void metrics_reply_collector(struct collector *c, struct http_response *resp);

/* One probe's write(2) into the attribute, in microseconds. */
void metrics_reply_collector_write(struct collector *c, long us);

/* One whole POST /v1/probe, whatever its answer, in microseconds. */
void metrics_reply_collector_request(struct collector *c, long us);

/* One POST /v1/devices/migration_versions: answered (200) or not (a
 * refused body, no inventory, sysfs gone), and how many of its devices
 * the host had and read. */
void metrics_reply_collector_batch(struct collector *c, bool answered, size_t devices);

#endif
