/*
 * metrics_reply — mdevmig-sched's GET /metrics: every family it exports
 * (DESIGN.md §7: clean under `promtool check metrics`), and the latency
 * histograms each answered decision and its probes are observed into.
 */
#ifndef MDEVMIG_SCHED_METRICS_REPLY_H
#define MDEVMIG_SCHED_METRICS_REPLY_H

#include <stdbool.h>

struct sched;
struct http_response;

/* Give the histograms their buckets (main, before the server starts). */
void metrics_reply_sched_init(struct sched *s);
struct mdevmig_result;
struct mdevmig_plan;
struct mdevmig_matrix;
struct mdevmig_readiness;
struct mdevmig_rollout;

/* The Prometheus text of s's counters, gauges and histograms, with the
 * registry's host counts. */
void metrics_reply_sched(struct sched *s, struct http_response *resp);

/* An answered select (filter false) or filter: its time and its probes. */
void metrics_reply_sched_result(struct sched *s, bool filter, const struct mdevmig_result *r);

/* An answered evacuation plan: its time and its probes. */
void metrics_reply_sched_plan(struct sched *s, const struct mdevmig_plan *plan);

/* An answered matrix: its time and the last probe of every cell. */
void metrics_reply_sched_matrix(struct sched *s, const struct mdevmig_matrix *matrix);

/* An answered readiness or rollout: its time. */
void metrics_reply_sched_readiness(struct sched *s, const struct mdevmig_readiness *r);
void metrics_reply_sched_rollout(struct sched *s, const struct mdevmig_rollout *r);

#endif
