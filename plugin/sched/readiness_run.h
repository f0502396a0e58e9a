/*
 * readiness_run — mdevmig-sched's periodic readiness run: every
 * readiness_interval seconds the library's readiness over the whole cloud,
 * its probes held to readiness_max_parallel at a time, and the last
 * result kept for /metrics, so an alert sees a stranded VM before a host
 * fails rather than after.
 */
#ifndef MDEVMIG_SCHED_READINESS_RUN_H
#define MDEVMIG_SCHED_READINESS_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sched;
struct textbuf;

/* Start the run's thread (nothing when the interval is 0). 0, or -1 with
 * a message. */
int sched_readiness_start(struct sched *s, char *err, size_t errlen);
/* Stop it and wait for it: a run under way is finished first (its probes
 * are bounded by probe_timeout). */
void sched_readiness_stop(struct sched *s);

/* The families of the last run, zeros before the first (and when off). */
void sched_readiness_metrics(struct sched *s, struct textbuf *buf);

#endif
