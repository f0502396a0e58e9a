/*
 * registry_checkpoint — WAL checkpoints off the writer's path. SQLite's
 * automatic checkpoint runs inside the commit that crosses its threshold:
 * the group commit's writer then copies ~40 MiB of pages back into the
 * file and fsyncs it while every reader and writer of the registry waits
 * behind the registry lock (a 300-500 ms stall every few thousand changed
 * snapshots). Here the commit only wakes a thread, which checkpoints
 * PASSIVE through a connection of its own: that takes no write lock, so
 * snapshots keep being written while it runs. Should it fall behind, the
 * writer still checkpoints itself past a hard limit, as before.
 */
#include "monotonic.h"
#include "registry.h"
#include "registry_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The background pass starts at SQLite's default threshold; the writer
 * takes over only at ten times that, the threshold it had alone. */
#define REGISTRY_CHECKPOINT_BACKGROUND_PAGES 1000
#define REGISTRY_CHECKPOINT_INLINE_PAGES     10000
/* Between two background passes: each pass copies every page changed
 * since the last one once, however often it changed, and costs two
 * fsyncs, so back-to-back passes under a stream of commits would copy the
 * same index pages over and over. */
#define REGISTRY_CHECKPOINT_PAUSE_MS 250

struct registry_checkpointer {
    struct registry *reg;
    sqlite3 *db; /* this thread's own connection to reg's file */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool pending; /* a commit crossed the background threshold */
    bool stopping;
    atomic_ulong runs, failures;
};

/* Called by SQLite after every commit on the registry's connection, by
 * the committing thread: it must stay cheap. */
static int registry_checkpoint_hook(void *arg, sqlite3 *db, const char *schema, int pages)
{
    struct registry_checkpointer *c = arg;
    if (pages >= REGISTRY_CHECKPOINT_INLINE_PAGES) {
        /* The background pass cannot keep up: bound the WAL as before. */
        (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    if (pages >= REGISTRY_CHECKPOINT_BACKGROUND_PAGES) {
        pthread_mutex_lock(&c->lock);
        c->pending = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

static void *registry_checkpoint_thread(void *arg)
{
    struct registry_checkpointer *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->pending && !c->stopping)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stopping)
            break;
        c->pending = false;
        pthread_mutex_unlock(&c->lock);
        int frames = -1;
        int rc = sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, &frames, NULL);
        /* BUSY: the writer checkpoints itself at this moment. No frames
         * (-1) although SQLite says OK: the connection saw no WAL. */
        if (rc == SQLITE_OK && frames >= 0)
            atomic_fetch_add(&c->runs, 1);
        else if (rc != SQLITE_BUSY)
            atomic_fetch_add(&c->failures, 1);
        pthread_mutex_lock(&c->lock);
        struct timespec until = monotonic_after_ns(REGISTRY_CHECKPOINT_PAUSE_MS * 1000000L);
        while (!c->stopping && pthread_cond_timedwait(&c->wake, &c->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int registry_checkpointer_start(struct registry *reg, struct registry_checkpointer **out, char *err,
                                size_t errlen)
{
    *out = NULL;
    /* An in-memory registry has no WAL and no other connection sees it. */
    if (strcmp(reg->path, ":memory:") == 0)
        return 0;
    struct registry_checkpointer *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "registry %s: out of memory", reg->path);
        return -1;
    }
    c->reg = reg;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        snprintf(err, errlen, "registry %s: cannot create a lock", reg->path);
        return -1;
    }
    /* The pause between passes is on the monotonic clock: a step of the
     * wall clock must not stop the checkpoints. */
    if (monotonic_cond_init(&c->wake) != 0) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        snprintf(err, errlen, "registry %s: cannot create a condition", reg->path);
        return -1;
    }
    /* Only this thread uses the connection. */
    int rc = sqlite3_open_v2(reg->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "registry %s: opening a connection for checkpoints: %s", reg->path,
                 c->db != NULL ? sqlite3_errmsg(c->db) : "out of memory");
        (void)sqlite3_close_v2(c->db);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return -1;
    }
    /* Until it has read the file, a connection does not know it is in
     * WAL mode and its checkpoints do nothing. */
    char *why = NULL;
    if (sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, &why) != SQLITE_OK) {
        snprintf(err, errlen, "registry %s: reading it for checkpoints: %s", reg->path,
                 why != NULL ? why : sqlite3_errmsg(c->db));
        sqlite3_free(why);
        (void)sqlite3_close_v2(c->db);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return -1;
    }
    if (pthread_create(&c->thread, NULL, registry_checkpoint_thread, c) != 0) {
        snprintf(err, errlen, "registry %s: cannot start the checkpoint thread", reg->path);
        (void)sqlite3_close_v2(c->db);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return -1;
    }
    /* Replaces the automatic checkpoint (one hook per connection). */
    (void)sqlite3_wal_hook(reg->db, registry_checkpoint_hook, c);
    *out = c;
    return 0;
}

void registry_checkpointer_stop(struct registry_checkpointer *c)
{
    if (c == NULL)
        return;
    /* Back to SQLite's own checkpoint, at the threshold the registry had. */
    (void)sqlite3_wal_autocheckpoint(c->reg->db, REGISTRY_CHECKPOINT_INLINE_PAGES);
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    (void)sqlite3_close_v2(c->db);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void registry_checkpointer_counts(const struct registry_checkpointer *c, uint64_t *runs,
                                  uint64_t *failures)
{
    *runs = c != NULL ? atomic_load(&c->runs) : 0;
    *failures = c != NULL ? atomic_load(&c->failures) : 0;
}
