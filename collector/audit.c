/*
 * audit — the probe audit trail (see audit.h). Probe threads append copies
 * to a chain of fixed-size blocks under a mutex; the writer thread takes
 * the whole chain in one pointer swap and writes it in one transaction
 * while probes go on filling a new chain. Blocks rather than one growing
 * array: taking, recycling and bounding the queue stay O(1), and nothing
 * large is copied while a probe waits on the mutex.
 */
#include "audit.h"

#include "log.h"
#include "monotonic.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ~88 KiB a block: small enough to stay on the heap, big enough that a
 * busy collector mallocs rarely. */
#define AUDIT_BLOCK_ENTRIES 128
/* Blocks kept for reuse after a batch, so a steady probe rate allocates
 * nothing; beyond this they go back to malloc. */
#define AUDIT_SPARE_BLOCKS 4
/* After a batch the writer waits this long for more (or for
 * AUDIT_BATCH_WAKE entries) so a busy collector commits ~20 times a
 * second, not once per probe. */
#define AUDIT_LINGER_MS  50
#define AUDIT_BATCH_WAKE 1024
/* How long one statement waits on another connection's lock (an operator
 * running sqlite3 on the file) before the batch is retried later. */
#define AUDIT_BUSY_TIMEOUT_MS 1000
#define AUDIT_RETRY_MIN_MS    100
#define AUDIT_RETRY_MAX_MS    5000

struct audit_block {
    struct audit_block *next;
    size_t len;
    struct audit_entry entries[AUDIT_BLOCK_ENTRIES];
};

enum audit_writer_state { AUDIT_WRITER_BUSY, AUDIT_WRITER_IDLE, AUDIT_WRITER_LINGER };

struct audit {
    char *path;
    sqlite3 *db;
    sqlite3_stmt *insert;
    pthread_t thread;

    pthread_mutex_t lock; /* guards everything down to stopping */
    pthread_cond_t wake;  /* the writer sleeps on it; CLOCK_MONOTONIC */
    struct audit_block *head, *tail;
    size_t queued;
    struct audit_block *spare;
    size_t spare_count;
    enum audit_writer_state writer;
    bool stopping;

    atomic_uint_least64_t dropped;
    atomic_uint_least64_t written;
};

static const char audit_schema[] = "CREATE TABLE IF NOT EXISTS probes ("
                                   " id INTEGER PRIMARY KEY,"
                                   " at_us INTEGER,"
                                   " peer TEXT,"
                                   " level TEXT,"
                                   " target TEXT,"
                                   " source_digest TEXT,"
                                   " verdict TEXT,"
                                   " errno INTEGER,"
                                   " elapsed_us INTEGER)";

static const char audit_insert_sql[] =
    "INSERT INTO probes (at_us, peer, level, target, source_digest, verdict, errno, elapsed_us)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

/* Open and prepare the file; on failure the message names the path and
 * what SQLite said. */
static int audit_db_open(struct audit *a, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(a->path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", a->path,
                 a->db != NULL ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
        return -1;
    }
    sqlite3_extended_result_codes(a->db, 1);
    if (sqlite3_busy_timeout(a->db, AUDIT_BUSY_TIMEOUT_MS) != SQLITE_OK)
        goto fail;

    /* WAL so an operator's reader never blocks the writer; NORMAL because
     * in WAL it fsyncs only at checkpoints, and losing the last
     * transactions on power loss is acceptable for an audit trail. */
    sqlite3_stmt *wal = NULL;
    if (sqlite3_prepare_v2(a->db, "PRAGMA journal_mode=WAL", -1, &wal, NULL) != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(wal);
    const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(wal, 0) : NULL;
    bool is_wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
    sqlite3_finalize(wal);
    if (rc != SQLITE_ROW)
        goto fail;
    if (!is_wal) {
        snprintf(err, errlen, "%s: cannot use WAL journal mode (a network or read-only file?)",
                 a->path);
        return -1;
    }
    /* The audit only appends: a page cache beyond the b-tree's right edge
     * is memory held for nothing (SQLite's default is 2 MiB). */
    if (sqlite3_exec(a->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(a->db, "PRAGMA cache_size=-256", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(a->db, audit_schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(a->db, audit_insert_sql, -1, &a->insert, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot set up %s: %s", a->path, sqlite3_errmsg(a->db));
    return -1;
}

static int audit_bind_text(sqlite3_stmt *stmt, int col, const char *text)
{
    if (text[0] == '\0')
        return sqlite3_bind_null(stmt, col);
    return sqlite3_bind_text(stmt, col, text, -1, SQLITE_STATIC);
}

static int audit_insert(struct audit *a, const struct audit_entry *e)
{
    sqlite3_stmt *s = a->insert;
    int rc = sqlite3_bind_int64(s, 1, e->at_us);
    if (rc == SQLITE_OK)
        rc = audit_bind_text(s, 2, e->peer);
    if (rc == SQLITE_OK)
        rc = audit_bind_text(s, 3, e->level);
    if (rc == SQLITE_OK)
        rc = audit_bind_text(s, 4, e->target);
    if (rc == SQLITE_OK)
        rc = audit_bind_text(s, 5, e->source_digest);
    if (rc == SQLITE_OK)
        rc = audit_bind_text(s, 6, e->verdict);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 7, e->err);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 8, e->elapsed_us);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_OK ? 0 : -1;
}

/* One transaction for the whole chain: all of it is in the file, or none. */
static int audit_write_chain(struct audit *a, const struct audit_block *chain, char *err,
                             size_t errlen)
{
    if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(a->db));
        return -1;
    }
    for (const struct audit_block *b = chain; b != NULL; b = b->next) {
        for (size_t i = 0; i < b->len; i++) {
            if (audit_insert(a, &b->entries[i]) < 0)
                goto rollback;
        }
    }
    if (sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 0;
rollback:
    snprintf(err, errlen, "%s", sqlite3_errmsg(a->db));
    /* After some errors SQLite has already rolled back; a failing
     * ROLLBACK then is expected and harmless. */
    if (!sqlite3_get_autocommit(a->db))
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static size_t audit_chain_len(const struct audit_block *chain)
{
    size_t n = 0;
    for (; chain != NULL; chain = chain->next)
        n += chain->len;
    return n;
}

static void audit_deadline(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Write chain, retrying with backoff while the collector runs: a locked
 * or full disk is usually temporary. Once stopping, a failed attempt is
 * final and its entries are counted as dropped, so close cannot hang on a
 * dead disk (it waits one busy timeout per batch at most). */
static void audit_write_with_retry(struct audit *a, const struct audit_block *chain)
{
    size_t n = audit_chain_len(chain);
    long backoff = AUDIT_RETRY_MIN_MS;
    bool warned = false;
    for (;;) {
        char err[256];
        if (audit_write_chain(a, chain, err, sizeof err) == 0) {
            atomic_fetch_add(&a->written, n);
            if (warned)
                log_info("audit: writing to %s again", a->path);
            return;
        }
        pthread_mutex_lock(&a->lock);
        bool stopping = a->stopping;
        pthread_mutex_unlock(&a->lock);
        if (stopping) {
            atomic_fetch_add(&a->dropped, n);
            log_error("audit: dropped %zu entries: cannot write to %s: %s", n, a->path, err);
            return;
        }
        if (!warned)
            log_warn("audit: cannot write to %s: %s (retrying; new entries are queued)", a->path,
                     err);
        warned = true;
        struct timespec deadline;
        audit_deadline(&deadline, backoff);
        pthread_mutex_lock(&a->lock);
        while (!a->stopping && pthread_cond_timedwait(&a->wake, &a->lock, &deadline) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&a->lock);
        backoff = backoff * 2 > AUDIT_RETRY_MAX_MS ? AUDIT_RETRY_MAX_MS : backoff * 2;
    }
}

/* Give written blocks back: a few kept for the producers, the rest freed
 * outside the lock. */
static void audit_recycle(struct audit *a, struct audit_block *chain)
{
    pthread_mutex_lock(&a->lock);
    while (chain != NULL && a->spare_count < AUDIT_SPARE_BLOCKS) {
        struct audit_block *next = chain->next;
        chain->next = a->spare;
        a->spare = chain;
        a->spare_count++;
        chain = next;
    }
    pthread_mutex_unlock(&a->lock);
    while (chain != NULL) {
        struct audit_block *next = chain->next;
        free(chain);
        chain = next;
    }
}

static void *audit_writer(void *arg)
{
    struct audit *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (a->queued == 0 && !a->stopping) {
            a->writer = AUDIT_WRITER_IDLE;
            pthread_cond_wait(&a->wake, &a->lock);
        }
        if (a->queued == 0 && a->stopping)
            break;
        struct audit_block *chain = a->head;
        a->head = a->tail = NULL;
        a->queued = 0;
        a->writer = AUDIT_WRITER_BUSY;
        pthread_mutex_unlock(&a->lock);

        audit_write_with_retry(a, chain);
        audit_recycle(a, chain);

        pthread_mutex_lock(&a->lock);
        if (!a->stopping && a->queued < AUDIT_BATCH_WAKE) {
            struct timespec deadline;
            audit_deadline(&deadline, AUDIT_LINGER_MS);
            a->writer = AUDIT_WRITER_LINGER;
            while (!a->stopping && a->queued < AUDIT_BATCH_WAKE &&
                   pthread_cond_timedwait(&a->wake, &a->lock, &deadline) != ETIMEDOUT) {
            }
            a->writer = AUDIT_WRITER_BUSY;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

void audit_record(struct audit *a, const struct audit_entry *e)
{
    pthread_mutex_lock(&a->lock);
    if (a->queued >= AUDIT_QUEUE_MAX) {
        pthread_mutex_unlock(&a->lock);
        atomic_fetch_add(&a->dropped, 1);
        return;
    }
    struct audit_block *b = a->tail;
    if (b == NULL || b->len == AUDIT_BLOCK_ENTRIES) {
        if (a->spare != NULL) {
            b = a->spare;
            a->spare = b->next;
            a->spare_count--;
        } else {
            b = malloc(sizeof *b);
            if (b == NULL) {
                pthread_mutex_unlock(&a->lock);
                atomic_fetch_add(&a->dropped, 1);
                return;
            }
        }
        b->next = NULL;
        b->len = 0;
        if (a->tail != NULL)
            a->tail->next = b;
        else
            a->head = b;
        a->tail = b;
    }
    struct audit_entry *copy = &b->entries[b->len++];
    *copy = *e;
    /* The writer hands these to SQLite as C strings. */
    copy->peer[sizeof copy->peer - 1] = '\0';
    copy->level[sizeof copy->level - 1] = '\0';
    copy->target[sizeof copy->target - 1] = '\0';
    copy->source_digest[sizeof copy->source_digest - 1] = '\0';
    copy->verdict[sizeof copy->verdict - 1] = '\0';
    a->queued++;
    /* Wake the writer only when it waits for exactly this: a first entry,
     * or a full batch while it lingers. Otherwise no syscall here. */
    bool wake = (a->writer == AUDIT_WRITER_IDLE && a->queued == 1) ||
                (a->writer == AUDIT_WRITER_LINGER && a->queued == AUDIT_BATCH_WAKE);
    pthread_mutex_unlock(&a->lock);
    if (wake)
        pthread_cond_signal(&a->wake);
}

uint64_t audit_dropped(struct audit *a)
{
    return atomic_load(&a->dropped);
}

uint64_t audit_written(struct audit *a)
{
    return atomic_load(&a->written);
}

static void audit_free_blocks(struct audit_block *b)
{
    while (b != NULL) {
        struct audit_block *next = b->next;
        free(b);
        b = next;
    }
}

/* Everything but the thread, which audit_open starts last. */
static void audit_free(struct audit *a)
{
    sqlite3_finalize(a->insert);
    /* The last connection to close checkpoints the WAL into the file. */
    if (a->db != NULL && sqlite3_close(a->db) != SQLITE_OK)
        log_error("audit: closing %s: %s", a->path, sqlite3_errmsg(a->db));
    audit_free_blocks(a->head);
    audit_free_blocks(a->spare);
    free(a->path);
    free(a);
}

struct audit *audit_open(const char *path, char *err, size_t errlen)
{
    struct audit *a = calloc(1, sizeof *a);
    if (a == NULL || (a->path = strdup(path)) == NULL) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (audit_db_open(a, err, errlen) < 0) {
        audit_free(a);
        return NULL;
    }
    int rc = monotonic_cond_init(&a->wake);
    if (rc != 0) {
        snprintf(err, errlen, "cannot initialise the audit queue: %s", strerror(rc));
        audit_free(a);
        return NULL;
    }
    if ((rc = pthread_mutex_init(&a->lock, NULL)) != 0) {
        pthread_cond_destroy(&a->wake);
        snprintf(err, errlen, "cannot initialise the audit queue: %s", strerror(rc));
        audit_free(a);
        return NULL;
    }
    /* Signals belong to main's signal thread; the writer must never be
     * the thread the kernel picks for a SIGTERM. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&a->thread, NULL, audit_writer, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the audit writer thread: %s", strerror(rc));
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->wake);
        audit_free(a);
        return NULL;
    }
    return a;
}

void audit_close(struct audit *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_mutex_unlock(&a->lock);
    pthread_cond_signal(&a->wake);
    pthread_join(a->thread, NULL);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->wake);
    audit_free(a);
}
