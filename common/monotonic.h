/*
 * monotonic — timed waits on the monotonic clock: every worker thread that
 * sleeps until a deadline (the commit delay, the checkpointer's pause,
 * heartbeat flushes, readiness runs, the collector's publishers) waits on
 * a condition variable set to CLOCK_MONOTONIC, so that a step of the wall
 * clock (NTP, an operator's date) neither stalls nor hurries it.
 */
#ifndef MDEVMIG_MONOTONIC_H
#define MDEVMIG_MONOTONIC_H

#include <pthread.h>
#include <time.h>

/* cond initialised for pthread_cond_timedwait with monotonic deadlines:
 * 0, or the errno of the step that failed (cond is then not initialised). */
int monotonic_cond_init(pthread_cond_t *cond);

/* The monotonic time ns nanoseconds from now, as such a deadline. */
struct timespec monotonic_after_ns(long ns);

#endif
