/*
 * service — the state of one mdevmig-sched: the library that answers select,
 * filter, evacuate and matrix and owns the registry the collectors'
 * snapshots go into, and the counters /metrics shows.
 */
#ifndef MDEVMIG_SCHED_SERVICE_H
#define MDEVMIG_SCHED_SERVICE_H

#include "auth.h"
#include "config.h"
#include "http_server.h"
#include "metrics.h"

#include <mdevmig/mdevmig.h>
#include <stdatomic.h>

struct sched {
    const struct sched_config *cfg;
    /* Mutual TLS: hosts must prove their names (ingest, probes); fixed
     * while running. */
    bool host_identity;
    struct auth_current token; /* the cluster token, replaced on SIGHUP */
    struct mdevmig *lib;       /* and through it the registry: one connection */

    atomic_ulong requests;
    atomic_ulong bad_requests;
    atomic_ulong unauthorized;
    atomic_ulong selects;
    atomic_ulong filters;
    atomic_ulong evacuations;
    atomic_ulong matrices;
    atomic_ulong readiness_asked; /* POST /v1/readiness */
    atomic_ulong rollouts;
    atomic_ulong probes_sent;
    atomic_ulong ingest_applied;
    atomic_ulong ingest_ignored;
    atomic_ulong ingest_rejected;
    /* POST /v1/hosts/{host}/heartbeat: touched (only last_seen moved) or
     * conflict (409: the collector sends its inventory next); refused
     * ones count as ingest_rejected. */
    atomic_ulong heartbeat_touched;
    atomic_ulong heartbeat_conflict;
    atomic_ulong decision_us_total;
    /* Zeroed with the rest; metrics_reply.c gives them their bounds. */
    struct metrics_histogram decision_select;
    struct metrics_histogram decision_filter;
    struct metrics_histogram decision_evacuate;
    struct metrics_histogram decision_matrix;
    struct metrics_histogram decision_readiness;
    struct metrics_histogram decision_rollout;
    struct metrics_histogram probe; /* every probe a decision reports as sent */
    /* Probes select, filter, evacuate and matrix sent, by their verdict
     * (enum mdevmig_verdict). */
    atomic_ulong probe_verdicts[MDEVMIG_NOT_MIGRATABLE + 1];
    struct sched_readiness *readiness; /* the periodic run; NULL when off */
};

/* The http_handler for a struct sched (ctx). */
void sched_api_handle(void *ctx, const struct http_request *req, struct http_response *resp);

#endif
