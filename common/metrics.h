/*
 * metrics — Prometheus exposition for both daemons: lock-free latency
 * histograms that request threads observe into, and writers that emit a
 * whole family (HELP, TYPE, samples) at a time, so no sample can end up
 * under another family's TYPE line and `promtool check metrics` stays
 * clean (DESIGN.md §7).
 */
#ifndef MDEVMIG_METRICS_H
#define MDEVMIG_METRICS_H

#include "textbuf.h"

#include <stdatomic.h>
#include <stddef.h>

/* The most bucket bounds a histogram takes (+Inf not counted). */
#define METRICS_BUCKETS_MAX 20

/* Upper bounds of a histogram's buckets, in seconds, strictly ascending;
 * +Inf is implied. Static: a histogram keeps a pointer to it. */
struct metrics_bounds {
    const double *le;
    size_t count;
};

/* The layouts the daemons use. */
extern const struct metrics_bounds metrics_bounds_sysfs_write; /* 50 µs .. 1 s */
extern const struct metrics_bounds metrics_bounds_request;     /* 100 µs .. 10 s */
extern const struct metrics_bounds metrics_bounds_decision;    /* 1 ms .. 30 s */

/* All zero is a valid histogram with no bounds yet: what it observes
 * before metrics_histogram_init() counts only in +Inf. */
struct metrics_histogram {
    _Atomic(const struct metrics_bounds *) bounds;
    /* Per bucket, not cumulative; [METRICS_BUCKETS_MAX] is above every bound. */
    atomic_ullong counts[METRICS_BUCKETS_MAX + 1];
    atomic_ullong sum_us;
};

/* Give h its bounds. Idempotent and thread-safe, and it keeps the counts,
 * so a histogram inside a struct that someone else zeroes can be given
 * its bounds where it is first used. Returns -1 when bounds is invalid
 * (empty, too many, not ascending, not positive and finite) or h already
 * has other bounds. */
int metrics_histogram_init(struct metrics_histogram *h, const struct metrics_bounds *bounds);

/* Count one observation of us microseconds (negative counts as 0). */
void metrics_histogram_observe_us(struct metrics_histogram *h, long us);

/* Observations so far (the +Inf bucket). */
unsigned long long metrics_histogram_count(const struct metrics_histogram *h);

/* CLOCK_MONOTONIC in microseconds, for timing what is observed. */
long metrics_now_us(void);

/* ---- text writers ---------------------------------------------------- */

#define METRICS_LABELS_MAX 4

/* A label's value is escaped by the writer; its name is code's. */
struct metrics_label {
    const char *name; /* NULL ends the list */
    const char *value;
};

struct metrics_sample {
    struct metrics_label labels[METRICS_LABELS_MAX];
    double value;
};

enum metrics_type {
    METRICS_COUNTER, /* name ends in _total */
    METRICS_GAUGE,
};

/* One family: HELP, TYPE and every sample given (one per label set). */
void metrics_write(struct textbuf *buf, enum metrics_type type, const char *name, const char *help,
                   const struct metrics_sample *samples, size_t count);

/* One family of one unlabelled sample. */
void metrics_write_value(struct textbuf *buf, enum metrics_type type, const char *name,
                         const char *help, double value);

/* One histogram series: fixed labels (e.g. op="select") and its counts. */
struct metrics_series {
    struct metrics_label labels[METRICS_LABELS_MAX];
    const struct metrics_histogram *histogram;
};

/* One histogram family, name in base units (…_seconds): per series the
 * cumulative name_bucket{…,le="…"} lines up to +Inf, name_sum (seconds)
 * and name_count. */
void metrics_write_histogram(struct textbuf *buf, const char *name, const char *help,
                             const struct metrics_series *series, size_t count);

#endif
