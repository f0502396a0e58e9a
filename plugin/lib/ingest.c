/*
 * ingest — collectors' news into the registry: full snapshots (POST
 * /v1/hosts/{host}/inventory) and heartbeats (POST .../heartbeat).
 *
 * Snapshots are parsed and checked in the caller's thread (the sched
 * serves each connection in one), then written by group commit: the
 * first caller to find no write under way becomes the writer, opens ONE
 * transaction and applies every snapshot queued, each with
 * registry_replace_host()'s rules and in arrival order, so an older
 * generation still never overwrites a newer one, even of one host twice
 * in a batch. Before it commits it takes in what was queued while it
 * wrote, and waits briefly for the snapshots other threads are parsing
 * right then (as PostgreSQL's commit_delay with commit_siblings, but
 * while the transaction works rather than before it starts): during a
 * driver rollout every connection has one in flight, and a commit of
 * changed snapshots dirties the same ~45 index pages whether it holds 3
 * or 8 of them. The callers whose snapshots it took wait, and one of
 * those queued after its commit writes the next batch. A lone snapshot
 * never waits. Every caller gets its own item's outcome.
 *
 * Heartbeats go to the heartbeat table (touches.c), which answers from
 * memory and writes last_seen in batches.
 */
#include "ingest.h"
#include "internal.h"

#include "heartbeat_wire.h"
#include "json_quick.h"
#include "monotonic.h"
#include "wire.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A batch bigger than this leaves the rest to the next writer, so one
 * transaction (and the registry lock every reader waits on) stays short. */
#define INGEST_BATCH_MAX 256

/* The longest an open transaction waits for a snapshot being parsed:
 * about two parses of a large host's snapshot. */
#define INGEST_COMMIT_DELAY_NS 1000000L

/* An open transaction takes in no more after this long, so a steady
 * stream still commits (and lets readers at the registry) often. */
#define INGEST_GROW_NS 20000000L

/* One caller's snapshot, on its stack until done. Its owner sleeps on
 * wake: woken when the item is done, or when it heads the queue and
 * nobody writes (so it writes). Waking only those, not every waiter,
 * spares a cross-CPU wake-up per waiter per batch. */
struct ingest_item {
    struct ingest_item *next;
    struct registry_replace replace;
    pthread_cond_t wake;
    bool done;
};

struct ingest {
    pthread_mutex_t lock;
    pthread_cond_t queued; /* for an open transaction: an item was queued, or a parse failed */
    struct ingest_item *head, **tail;
    size_t parsing; /* snapshots received and not yet queued */
    bool taking_in; /* an open transaction waits on queued */
    bool writing;
    atomic_ulong written, unchanged, ignored, failed, batches;
    atomic_ulong heartbeats_touched, heartbeats_conflict;
};

struct ingest *ingest_new(void)
{
    struct ingest *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    if (pthread_mutex_init(&q->lock, NULL) != 0) {
        free(q);
        return NULL;
    }
    /* The commit delay's deadline is on the monotonic clock: a step of
     * the wall clock must not hold a writer back. */
    if (monotonic_cond_init(&q->queued) != 0) {
        pthread_mutex_destroy(&q->lock);
        free(q);
        return NULL;
    }
    q->tail = &q->head;
    return q;
}

void ingest_free(struct ingest *q)
{
    if (q == NULL)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->queued);
    free(q);
}

/* Takes up to max items off the queue (q->lock held): the list, or NULL. */
static struct ingest_item *ingest_take(struct ingest *q, size_t max)
{
    struct ingest_item *first = q->head, *last = first;
    if (first == NULL || max == 0)
        return NULL;
    for (size_t taken = 1; taken < max && last->next != NULL; taken++)
        last = last->next;
    q->head = last->next;
    if (q->head == NULL)
        q->tail = &q->head;
    last->next = NULL;
    return first;
}

/* What the open transaction takes in next (q->lock not held): whatever
 * was queued meanwhile or, with nothing queued, what the threads parsing
 * right now queue within INGEST_COMMIT_DELAY_NS. NULL: commit. No more
 * once the batch holds max or has been open INGEST_GROW_NS. */
static struct ingest_item *ingest_take_more(struct ingest *q, size_t max,
                                            const struct timespec *began)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long open_ns = (now.tv_sec - began->tv_sec) * 1000000000L + (now.tv_nsec - began->tv_nsec);
    if (max == 0 || open_ns >= INGEST_GROW_NS)
        return NULL;
    pthread_mutex_lock(&q->lock);
    if (q->head == NULL && q->parsing > 0) {
        struct timespec until = monotonic_after_ns(INGEST_COMMIT_DELAY_NS);
        q->taking_in = true;
        while (q->head == NULL && q->parsing > 0 &&
               pthread_cond_timedwait(&q->queued, &q->lock, &until) == 0)
            ;
        q->taking_in = false;
    }
    struct ingest_item *more = ingest_take(q, max);
    pthread_mutex_unlock(&q->lock);
    return more;
}

/* Writes batch, taken off the queue, in one transaction that also takes
 * in what is queued while it is written, and tells the heartbeat table
 * what the registry now holds. The items taken in are appended to batch,
 * so its caller marks them all done. */
static void ingest_write(struct mdevmig *m, struct ingest_item *batch)
{
    struct ingest *q = m->ingest;
    if (batch == NULL)
        return;
    struct timespec began;
    clock_gettime(CLOCK_MONOTONIC, &began);
    char err[512] = "";
    size_t n = 0;
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_replace_begin(m->registry, err, sizeof err);
    for (struct ingest_item *it = batch, *last = NULL; rc == 0;) {
        for (; it != NULL && rc == 0; last = it, it = it->next, n++)
            rc = registry_replace_add(m->registry, &it->replace, err, sizeof err);
        if (rc == 0 && (it = ingest_take_more(q, INGEST_BATCH_MAX - n, &began)) != NULL)
            last->next = it;
        else
            break;
    }
    if (rc == 0)
        rc = registry_replace_commit(m->registry, err, sizeof err);
    else
        registry_replace_abort(m->registry);
    for (struct ingest_item *it = batch; it != NULL; it = it->next) {
        struct registry_replace *r = &it->replace;
        if (rc < 0) {
            /* Whatever an item was told, none of the batch was kept; one
             * not added yet never was. */
            r->outcome = REGISTRY_REPLACE_FAILED;
            snprintf(r->err, sizeof r->err, "%s", err);
            continue;
        }
        bool held =
            r->outcome == REGISTRY_REPLACE_WRITTEN || r->outcome == REGISTRY_REPLACE_TOUCHED;
        /* An ignored snapshot says only that a newer generation is held:
         * which one, the next heartbeat asks the registry. */
        if (r->outcome != REGISTRY_REPLACE_FAILED)
            touches_learn(m, r->inv->host, held, r->inv->generation, r->now);
    }
    pthread_mutex_unlock(&m->registry_lock);
    store_outcome(m, rc < 0 ? MDEVMIG_ERR_INTERNAL : MDEVMIG_OK, err);
    atomic_fetch_add(&q->batches, 1);
    for (struct ingest_item *it = batch; it != NULL; it = it->next) {
        switch (it->replace.outcome) {
        case REGISTRY_REPLACE_WRITTEN:
            atomic_fetch_add(&q->written, 1);
            break;
        case REGISTRY_REPLACE_TOUCHED:
            atomic_fetch_add(&q->unchanged, 1);
            break;
        case REGISTRY_REPLACE_IGNORED:
            atomic_fetch_add(&q->ignored, 1);
            break;
        case REGISTRY_REPLACE_FAILED:
            atomic_fetch_add(&q->failed, 1);
            break;
        }
    }
}

/* A snapshot arrived (parsing) or was refused before it was queued. */
static void ingest_parsing(struct ingest *q, bool started)
{
    pthread_mutex_lock(&q->lock);
    if (started) {
        q->parsing++;
    } else {
        q->parsing--;
        /* A transaction waiting for it need not wait any more. */
        if (q->taking_in && q->parsing == 0)
            pthread_cond_signal(&q->queued);
    }
    pthread_mutex_unlock(&q->lock);
}

/* Queues item, parsed, and returns once it is written, by this thread or
 * another. */
static void ingest_submit(struct mdevmig *m, struct ingest_item *item)
{
    struct ingest *q = m->ingest;
    pthread_mutex_lock(&q->lock);
    item->next = NULL;
    *q->tail = item;
    q->tail = &item->next;
    q->parsing--;
    if (q->taking_in)
        pthread_cond_signal(&q->queued);
    while (!item->done) {
        if (q->writing) {
            pthread_cond_wait(&item->wake, &q->lock);
            continue;
        }
        /* Nobody writes: this thread writes whatever is queued, its own
         * item first among them or already done by an earlier writer. */
        q->writing = true;
        struct ingest_item *batch = ingest_take(q, INGEST_BATCH_MAX);
        pthread_mutex_unlock(&q->lock);

        ingest_write(m, batch);

        pthread_mutex_lock(&q->lock);
        for (struct ingest_item *it = batch; it != NULL;) {
            struct ingest_item *next = it->next;
            it->done = true; /* its owner may free it from here on */
            if (it != item)
                pthread_cond_signal(&it->wake);
            it = next;
        }
        q->writing = false;
        /* What was queued after this batch: its first owner writes it. */
        if (q->head != NULL)
            pthread_cond_signal(&q->head->wake);
    }
    pthread_mutex_unlock(&q->lock);
}

int mdevmig_ingest(struct mdevmig *m, const char *host, const char *body, size_t body_len,
                   int64_t *generation, bool *applied, char *err, size_t errlen)
{
    /* Counted from here until queued, so a writer knows to wait for it. */
    ingest_parsing(m->ingest, true);
    json_error_t jerr;
    json_t *json = json_quick_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (json == NULL) {
        ingest_parsing(m->ingest, false);
        snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return MDEVMIG_ERR_INPUT;
    }
    struct inventory inv;
    int rc = wire_inventory_from_json(json, &inv, err, errlen);
    json_decref(json);
    if (rc < 0) {
        ingest_parsing(m->ingest, false);
        return MDEVMIG_ERR_INPUT;
    }
    if (strcmp(inv.host, host) != 0) {
        ingest_parsing(m->ingest, false);
        snprintf(err, errlen, "the inventory is host %s's, not %s's", inv.host, host);
        inventory_free(&inv);
        return MDEVMIG_ERR_FORBIDDEN;
    }
    struct ingest_item item = {.replace = {.inv = &inv, .now = (int64_t)time(NULL)}};
    if (pthread_cond_init(&item.wake, NULL) != 0) {
        ingest_parsing(m->ingest, false);
        snprintf(err, errlen, "storing host %s's snapshot: out of resources", inv.host);
        inventory_free(&inv);
        return MDEVMIG_ERR_INTERNAL;
    }
    ingest_submit(m, &item);
    pthread_cond_destroy(&item.wake);
    int status = MDEVMIG_OK;
    if (item.replace.outcome == REGISTRY_REPLACE_FAILED) {
        snprintf(err, errlen, "%s", item.replace.err);
        status = MDEVMIG_ERR_INTERNAL;
    }
    if (generation != NULL)
        *generation = inv.generation;
    /* As before batches: a snapshot at the generation held counts as
     * applied (it refreshed last_seen); only an older one does not. */
    if (applied != NULL)
        *applied = item.replace.outcome == REGISTRY_REPLACE_WRITTEN ||
                   item.replace.outcome == REGISTRY_REPLACE_TOUCHED;
    inventory_free(&inv);
    return status;
}

int mdevmig_heartbeat(struct mdevmig *m, const char *host, const char *body, size_t body_len,
                      int64_t *generation, bool *touched, char *err, size_t errlen)
{
    if (touched != NULL)
        *touched = false;
    if (generation != NULL)
        *generation = -1;
    char why[128];
    if (host == NULL || !mdevmig_host_name_valid(host, why, sizeof why)) {
        snprintf(err, errlen, "the host name %s", host == NULL ? "is missing" : why);
        return MDEVMIG_ERR_INPUT;
    }
    json_error_t jerr;
    json_t *json = json_quick_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (json == NULL) {
        snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return MDEVMIG_ERR_INPUT;
    }
    int64_t given;
    int rc = heartbeat_wire_request_from_json(json, &given, err, errlen);
    json_decref(json);
    if (rc < 0)
        return MDEVMIG_ERR_INPUT;
    int64_t held;
    rc = touches_heartbeat(m, host, given, (int64_t)time(NULL), &held, err, errlen);
    if (rc < 0) {
        store_outcome(m, MDEVMIG_ERR_INTERNAL, err);
        return MDEVMIG_ERR_INTERNAL;
    }
    if (generation != NULL)
        *generation = rc == 0 ? given : held;
    if (rc == 0) {
        atomic_fetch_add(&m->ingest->heartbeats_touched, 1);
        if (touched != NULL)
            *touched = true;
        return MDEVMIG_OK;
    }
    atomic_fetch_add(&m->ingest->heartbeats_conflict, 1);
    if (held < 0)
        snprintf(err, errlen, "host %s is not in the registry: send the full inventory", host);
    else
        snprintf(err, errlen,
                 "the registry holds generation %lld of host %s, not %lld: send the full inventory",
                 (long long)held, host, (long long)given);
    return MDEVMIG_ERR_CONFLICT;
}

int mdevmig_ingest_stats(struct mdevmig *m, struct mdevmig_ingest_stats *out)
{
    if (out == NULL || out->size < sizeof(size_t))
        return MDEVMIG_ERR_INPUT;
    struct ingest *q = m->ingest;
    uint64_t checkpoints, checkpoint_failures;
    registry_checkpointer_counts(m->checkpointer, &checkpoints, &checkpoint_failures);
    const struct mdevmig_ingest_stats full = {
        .size = sizeof full,
        .snapshots_written = atomic_load(&q->written),
        .snapshots_unchanged = atomic_load(&q->unchanged),
        .snapshots_ignored = atomic_load(&q->ignored),
        .snapshots_failed = atomic_load(&q->failed),
        .snapshot_batches = atomic_load(&q->batches),
        .heartbeats_touched = atomic_load(&q->heartbeats_touched),
        .heartbeats_conflict = atomic_load(&q->heartbeats_conflict),
        .touch_flushes = touches_flushes(m->touches),
        .checkpoints = checkpoints,
        .checkpoint_failures = checkpoint_failures,
    };
    /* Only as much as the caller's version of the struct has. */
    size_t want = out->size < sizeof full ? out->size : sizeof full;
    memcpy((char *)out + sizeof full.size, (const char *)&full + sizeof full.size,
           want - sizeof full.size);
    return MDEVMIG_OK;
}
