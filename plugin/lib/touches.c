/*
 * touches — the heartbeat table: for every host that heartbeats, the
 * generation the registry holds and the last_seen its latest heartbeat
 * gave, in memory under a lock of its own. A heartbeat of an unchanged
 * host is the common case by far (tens of thousands a second across a
 * large cloud), so it costs a hash lookup here and no SQLite at all: the
 * generation check reads the table (the registry only on a miss), and
 * last_seen is written in batches, one transaction for every pending one.
 *
 * Flush policy. A thread the library owns (started by the first
 * heartbeat) writes the pending last_seen values every
 * TOUCHES_FLUSH_INTERVAL_S, or sooner once TOUCHES_FLUSH_PENDING are
 * pending, so one transaction stays short. Readers see fresh values this
 * way: the library's own reads of last_seen for the inventory and the
 * host counts (/metrics) flush first (store.c), so they are exact; every
 * other reader (the stale marks of select, evacuate, readiness, matrix)
 * reads the registry directly and sees last_seen at most one interval
 * late, against a stale_after of minutes (at least 1 s; 180 s by
 * default): a host that heartbeats on time never looks stale for it. An
 * overlay in each of those queries would be exact too, but would put this
 * table into every registry read; a flush keeps them plain SQL, and the
 * CLI and other processes reading the file get the same bound.
 *
 * Lock order: registry_lock before the table's lock, never the other way.
 */
#include "ingest.h"
#include "internal.h"
#include "monotonic.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOUCHES_FLUSH_INTERVAL_S 1
#define TOUCHES_FLUSH_PENDING    8192
#define TOUCHES_BUCKETS_MIN      1024

/* One host. Entries are never freed before the table: a host that left
 * the registry costs its name until the process ends, and a pointer to an
 * entry (the pending list) stays valid. */
struct touch_entry {
    struct touch_entry *next; /* in its bucket */
    int64_t generation;       /* held by the registry; -1: ask it */
    int64_t last_seen;        /* the latest heartbeat's */
    bool pending;             /* last_seen not yet written */
    char name[];
};

struct touches {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct touch_entry **buckets;
    size_t bucket_count; /* a power of two */
    size_t count;
    struct touch_entry **pending; /* whose last_seen is to be written */
    size_t pending_count, pending_cap;
    bool thread_started, stopping;
    pthread_t thread;
    struct mdevmig *m; /* for the thread; set when it starts */
    atomic_ulong flushes;
};

/* FNV-1a: host names are short and not chosen by an attacker (the token
 * and the name rule stand before this table). */
static size_t touches_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

struct touches *touches_new(void)
{
    struct touches *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->bucket_count = TOUCHES_BUCKETS_MIN;
    t->buckets = calloc(t->bucket_count, sizeof *t->buckets);
    bool ok = t->buckets != NULL && pthread_mutex_init(&t->lock, NULL) == 0;
    if (ok && monotonic_cond_init(&t->wake) != 0) {
        pthread_mutex_destroy(&t->lock);
        ok = false;
    }
    if (!ok) {
        free(t->buckets);
        free(t);
        return NULL;
    }
    return t;
}

static struct touch_entry *touches_find(struct touches *t, const char *host)
{
    struct touch_entry *e = t->buckets[touches_hash(host) & (t->bucket_count - 1)];
    while (e != NULL && strcmp(e->name, host) != 0)
        e = e->next;
    return e;
}

/* Doubles the buckets past two entries per bucket; a failed growth only
 * makes lookups slower. */
static void touches_grow(struct touches *t)
{
    if (t->count < t->bucket_count * 2)
        return;
    size_t n = t->bucket_count * 2;
    struct touch_entry **b = calloc(n, sizeof *b);
    if (b == NULL)
        return;
    for (size_t i = 0; i < t->bucket_count; i++) {
        struct touch_entry *e = t->buckets[i];
        while (e != NULL) {
            struct touch_entry *next = e->next;
            size_t j = touches_hash(e->name) & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->bucket_count = n;
}

/* The entry of host, made when missing (generation -1: unknown). NULL
 * when out of memory. Under t->lock. */
static struct touch_entry *touches_get(struct touches *t, const char *host)
{
    struct touch_entry *e = touches_find(t, host);
    if (e != NULL)
        return e;
    size_t len = strlen(host);
    /* The name starts inside sizeof's tail padding: at 100,000 hosts that
     * is one malloc size class less each, 1.6 MiB. */
    size_t size = offsetof(struct touch_entry, name) + len + 1;
    e = calloc(1, size > sizeof *e ? size : sizeof *e);
    if (e == NULL)
        return NULL;
    memcpy(e->name, host, len + 1);
    e->generation = -1;
    size_t i = touches_hash(host) & (t->bucket_count - 1);
    e->next = t->buckets[i];
    t->buckets[i] = e;
    t->count++;
    touches_grow(t);
    return e;
}

/* Under t->lock. false when out of memory (the heartbeat is then refused
 * rather than lost silently). */
static bool touches_mark(struct touches *t, struct touch_entry *e, int64_t now)
{
    if (now > e->last_seen)
        e->last_seen = now;
    if (e->pending)
        return true;
    if (t->pending_count == t->pending_cap) {
        size_t cap = t->pending_cap == 0 ? 1024 : t->pending_cap * 2;
        struct touch_entry **p = realloc(t->pending, cap * sizeof *p);
        if (p == NULL)
            return false;
        t->pending = p;
        t->pending_cap = cap;
    }
    t->pending[t->pending_count++] = e;
    e->pending = true;
    if (t->pending_count >= TOUCHES_FLUSH_PENDING)
        pthread_cond_signal(&t->wake);
    return true;
}

static void *touches_thread(void *arg)
{
    struct touches *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += TOUCHES_FLUSH_INTERVAL_S;
        while (!t->stopping && t->pending_count < TOUCHES_FLUSH_PENDING &&
               pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT)
            ;
        if (t->stopping || t->pending_count == 0)
            continue;
        pthread_mutex_unlock(&t->lock);
        char err[512];
        if (touches_flush(t->m, err, sizeof err) < 0)
            store_outcome(t->m, MDEVMIG_ERR_INTERNAL, err);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* Under t->lock. A thread that cannot start leaves the flushes to the
 * library's own reads and writes and to close; it is tried again. */
static void touches_start(struct mdevmig *m, struct touches *t)
{
    if (t->thread_started || t->stopping)
        return;
    t->m = m;
    t->thread_started = pthread_create(&t->thread, NULL, touches_thread, t) == 0;
}

int touches_heartbeat(struct mdevmig *m, const char *host, int64_t generation, int64_t now,
                      int64_t *held, char *err, size_t errlen)
{
    struct touches *t = m->touches;
    *held = -1;
    pthread_mutex_lock(&t->lock);
    struct touch_entry *e = touches_find(t, host);
    if (e == NULL || e->generation < 0) {
        /* A miss: the registry says, once; then the table knows. */
        pthread_mutex_unlock(&t->lock);
        int64_t stored;
        pthread_mutex_lock(&m->registry_lock);
        int rc = registry_host_generation(m->registry, host, &stored, err, errlen);
        if (rc < 0) {
            pthread_mutex_unlock(&m->registry_lock);
            return -1;
        }
        pthread_mutex_lock(&t->lock);
        if (rc == 1) {
            /* Not remembered: its full snapshot comes next, and fills it. */
            pthread_mutex_unlock(&t->lock);
            pthread_mutex_unlock(&m->registry_lock);
            return 1;
        }
        /* Under registry_lock no snapshot can have changed it meanwhile. */
        e = touches_get(t, host);
        if (e != NULL)
            e->generation = stored;
        pthread_mutex_unlock(&m->registry_lock);
        if (e == NULL) {
            pthread_mutex_unlock(&t->lock);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    int rc = 1;
    *held = e->generation;
    if (e->generation == generation) {
        if (!touches_mark(t, e, now)) {
            pthread_mutex_unlock(&t->lock);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        touches_start(m, t);
        rc = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void touches_learn(struct mdevmig *m, const char *host, bool known, int64_t generation, int64_t now)
{
    struct touches *t = m->touches;
    pthread_mutex_lock(&t->lock);
    /* Only hosts that heartbeat need an entry: a snapshot of one the table
     * lacks makes one, since its heartbeats follow. Out of memory leaves
     * the host to a miss, which asks the registry. */
    struct touch_entry *e = known ? touches_get(t, host) : touches_find(t, host);
    if (e != NULL) {
        e->generation = known ? generation : -1;
        if (known && now > e->last_seen)
            e->last_seen = now;
    }
    pthread_mutex_unlock(&t->lock);
}

int touches_flush(struct mdevmig *m, char *err, size_t errlen)
{
    struct touches *t = m->touches;
    pthread_mutex_lock(&t->lock);
    bool idle = t->pending_count == 0;
    pthread_mutex_unlock(&t->lock);
    if (idle)
        return 0;
    /* registry_lock first: no snapshot writes between taking the pending
     * entries and writing them, and entries' names stay put (they are
     * never freed before the table). */
    pthread_mutex_lock(&m->registry_lock);
    pthread_mutex_lock(&t->lock);
    size_t n = t->pending_count;
    struct registry_touch *batch = n > 0 ? malloc(n * sizeof *batch) : NULL;
    if (n > 0 && batch == NULL) {
        pthread_mutex_unlock(&t->lock);
        pthread_mutex_unlock(&m->registry_lock);
        snprintf(err, errlen, "writing heartbeats: out of memory");
        return -1;
    }
    struct touch_entry **entries = t->pending;
    for (size_t i = 0; i < n; i++) {
        batch[i] =
            (struct registry_touch){.host = entries[i]->name, .last_seen = entries[i]->last_seen};
        entries[i]->pending = false;
    }
    t->pending = NULL;
    t->pending_count = t->pending_cap = 0;
    pthread_mutex_unlock(&t->lock);

    int rc = registry_touch_hosts(m->registry, batch, n, err, errlen);
    if (rc == 0 && n > 0)
        atomic_fetch_add(&t->flushes, 1);
    if (rc < 0) {
        /* Pending again, for the next flush. Heartbeats meanwhile only
         * moved last_seen on. */
        pthread_mutex_lock(&t->lock);
        for (size_t i = 0; i < n; i++)
            if (!touches_mark(t, entries[i], entries[i]->last_seen))
                break;
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&m->registry_lock);
    free(batch);
    free(entries);
    return rc;
}

uint64_t touches_flushes(const struct touches *t)
{
    return t != NULL ? atomic_load(&t->flushes) : 0;
}

void touches_free(struct mdevmig *m, struct touches *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    bool started = t->thread_started;
    pthread_mutex_unlock(&t->lock);
    if (started)
        pthread_join(t->thread, NULL);
    if (m->registry != NULL) {
        char err[512];
        if (touches_flush(m, err, sizeof err) < 0)
            store_outcome(m, MDEVMIG_ERR_INTERNAL, err);
    }
    for (size_t i = 0; i < t->bucket_count; i++) {
        struct touch_entry *e = t->buckets[i];
        while (e != NULL) {
            struct touch_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(t->buckets);
    free(t->pending);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->wake);
    free(t);
}
