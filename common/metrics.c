/*
 * metrics — histograms are plain atomic counters bumped with relaxed
 * adds: an observation on a probe's path costs a few uncontended atomic
 * operations and never waits for a scrape. The writers own the format's
 * rules (escaping, number spelling, cumulative buckets) in one place.
 */
#include "metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Roughly 1-2.5-5 per decade: fine enough for a quantile to land within
 * a factor of 2.5, few enough lines per scrape. */
static const double metrics_le_sysfs_write[] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
static const double metrics_le_request[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                            1,      2.5,     5,      10};
static const double metrics_le_decision[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10,   30};

#define METRICS_COUNT(a) (sizeof(a) / sizeof((a)[0]))

const struct metrics_bounds metrics_bounds_sysfs_write = {metrics_le_sysfs_write,
                                                          METRICS_COUNT(metrics_le_sysfs_write)};
const struct metrics_bounds metrics_bounds_request = {metrics_le_request,
                                                      METRICS_COUNT(metrics_le_request)};
const struct metrics_bounds metrics_bounds_decision = {metrics_le_decision,
                                                       METRICS_COUNT(metrics_le_decision)};

static int metrics_bounds_check(const struct metrics_bounds *b)
{
    if (b == NULL || b->le == NULL || b->count == 0 || b->count > METRICS_BUCKETS_MAX)
        return -1;
    for (size_t i = 0; i < b->count; i++) {
        if (!isfinite(b->le[i]) || b->le[i] <= 0 || (i > 0 && b->le[i] <= b->le[i - 1]))
            return -1;
    }
    return 0;
}

int metrics_histogram_init(struct metrics_histogram *h, const struct metrics_bounds *bounds)
{
    /* Called before every observation: once set, a plain load answers,
     * with no write to the shared cache line. */
    const struct metrics_bounds *now = atomic_load_explicit(&h->bounds, memory_order_acquire);
    if (now != NULL)
        return now == bounds ? 0 : -1;
    if (metrics_bounds_check(bounds) < 0)
        return -1;
    if (atomic_compare_exchange_strong(&h->bounds, &now, bounds))
        return 0;
    /* now holds the bounds another thread installed first. */
    return now == bounds ? 0 : -1;
}

void metrics_histogram_observe_us(struct metrics_histogram *h, long us)
{
    if (us < 0)
        us = 0;
    const struct metrics_bounds *b = atomic_load_explicit(&h->bounds, memory_order_acquire);
    /* In seconds, not scaled bounds: us / 1e6 is correctly rounded, so it
     * equals a bound written as a decimal whenever the two are the same
     * number, and an observation on a bound lands in that bound's bucket
     * (le is inclusive). */
    double s = (double)us / 1e6;
    size_t i = METRICS_BUCKETS_MAX;
    if (b != NULL) {
        for (size_t k = 0; k < b->count; k++) {
            if (s <= b->le[k]) {
                i = k;
                break;
            }
        }
    }
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)us, memory_order_relaxed);
}

unsigned long long metrics_histogram_count(const struct metrics_histogram *h)
{
    unsigned long long n = 0;
    for (size_t i = 0; i <= METRICS_BUCKETS_MAX; i++)
        n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    return n;
}

long metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

/* Prometheus spells numbers as Go's ParseFloat reads them: the shortest
 * text that reads back the same, integers without an exponent. */
static void metrics_number(char out[40], double v)
{
    if (isnan(v))
        snprintf(out, 40, "NaN");
    else if (isinf(v))
        snprintf(out, 40, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v > -1e15 && v < 1e15 && (double)(long long)v == v)
        snprintf(out, 40, "%lld", (long long)v);
    else {
        snprintf(out, 40, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, 40, "%.17g", v);
    }
}

/* HELP text escapes backslash and newline; label values also the quote. */
static void metrics_escaped(struct textbuf *buf, const char *text, bool quote)
{
    const char *from = text;
    for (const char *p = text;; p++) {
        if (*p != '\0' && *p != '\\' && *p != '\n' && !(quote && *p == '"'))
            continue;
        textbuf_printf(buf, "%.*s", (int)(p - from), from);
        if (*p == '\0')
            return;
        textbuf_printf(buf, "%s", *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : "\\\"");
        from = p + 1;
    }
}

static void metrics_header(struct textbuf *buf, const char *type, const char *name,
                           const char *help)
{
    textbuf_printf(buf, "# HELP %s ", name);
    metrics_escaped(buf, help, false);
    textbuf_printf(buf, "\n# TYPE %s %s\n", name, type);
}

/* {a="x",b="y"} plus le when given; nothing when there is no label. */
static void metrics_labels(struct textbuf *buf, const struct metrics_label *labels, const char *le)
{
    bool any = false;
    for (size_t i = 0; i < METRICS_LABELS_MAX && labels[i].name != NULL; i++) {
        textbuf_printf(buf, "%s%s=\"", any ? "," : "{", labels[i].name);
        metrics_escaped(buf, labels[i].value != NULL ? labels[i].value : "", true);
        textbuf_printf(buf, "\"");
        any = true;
    }
    if (le != NULL) {
        textbuf_printf(buf, "%sle=\"%s\"", any ? "," : "{", le);
        any = true;
    }
    if (any)
        textbuf_printf(buf, "}");
}

void metrics_write(struct textbuf *buf, enum metrics_type type, const char *name, const char *help,
                   const struct metrics_sample *samples, size_t count)
{
    metrics_header(buf, type == METRICS_COUNTER ? "counter" : "gauge", name, help);
    for (size_t i = 0; i < count; i++) {
        char value[40];
        metrics_number(value, samples[i].value);
        textbuf_printf(buf, "%s", name);
        metrics_labels(buf, samples[i].labels, NULL);
        textbuf_printf(buf, " %s\n", value);
    }
}

void metrics_write_value(struct textbuf *buf, enum metrics_type type, const char *name,
                         const char *help, double value)
{
    struct metrics_sample sample = {.value = value};
    metrics_write(buf, type, name, help, &sample, 1);
}

static void metrics_write_series(struct textbuf *buf, const char *name,
                                 const struct metrics_series *s)
{
    const struct metrics_histogram *h = s->histogram;
    const struct metrics_bounds *b = atomic_load_explicit(&h->bounds, memory_order_acquire);
    size_t bounds = b != NULL ? b->count : 0;
    /* One pass over the counters: +Inf and _count are the same reading, so
     * they agree even while requests observe. */
    unsigned long long cumulative = 0;
    char le[40];
    for (size_t i = 0; i < bounds; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        metrics_number(le, b->le[i]);
        textbuf_printf(buf, "%s_bucket", name);
        metrics_labels(buf, s->labels, le);
        textbuf_printf(buf, " %llu\n", cumulative);
    }
    for (size_t i = bounds; i <= METRICS_BUCKETS_MAX; i++)
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    textbuf_printf(buf, "%s_bucket", name);
    metrics_labels(buf, s->labels, "+Inf");
    textbuf_printf(buf, " %llu\n", cumulative);
    char sum[40];
    metrics_number(sum, (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    textbuf_printf(buf, "%s_sum", name);
    metrics_labels(buf, s->labels, NULL);
    textbuf_printf(buf, " %s\n%s_count", sum, name);
    metrics_labels(buf, s->labels, NULL);
    textbuf_printf(buf, " %llu\n", cumulative);
}

void metrics_write_histogram(struct textbuf *buf, const char *name, const char *help,
                             const struct metrics_series *series, size_t count)
{
    metrics_header(buf, "histogram", name, help);
    for (size_t i = 0; i < count; i++)
        metrics_write_series(buf, name, &series[i]);
}
