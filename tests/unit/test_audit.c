/*
 * test_audit — the probe audit trail. What audit_record() queues is in the
 * SQLite file, readable by anyone with sqlite3, once audit_close()
 * returns; with the file locked by another connection (an operator's
 * long transaction, a stalled disk) audit_record() still returns at once
 * and counts what the full queue cannot take; four threads recording at
 * once lose nothing; a file locked for good does not hang audit_close().
 *
 * Usage: test_audit
 */
#include "audit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char tmp_dir[] = "/tmp/test_audit.XXXXXX";

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void db_path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", tmp_dir, name);
}

static void make_entry(struct audit_entry *e, int thread, int seq)
{
    memset(e, 0, sizeof *e);
    e->at_us = 1700000000000000LL + seq;
    snprintf(e->peer, sizeof e->peer, "10.0.0.%d", thread);
    snprintf(e->level, sizeof e->level, "%s", seq % 2 == 0 ? "type" : "device");
    snprintf(e->target, sizeof e->target, "parent%d/nvidia-%d", thread, seq);
    snprintf(e->source_digest, sizeof e->source_digest, "%064x", seq);
    snprintf(e->verdict, sizeof e->verdict, "%s", seq % 3 == 0 ? "compatible" : "incompatible");
    e->err = seq % 3 == 0 ? 0 : EINVAL;
    e->elapsed_us = seq;
}

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
    return db;
}

static int64_t db_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void wait_for_total(struct audit *a, uint64_t total)
{
    int64_t deadline = mono_us() + 30 * 1000000LL;
    while (audit_written(a) + audit_dropped(a) < total) {
        if (mono_us() > deadline)
            fail_msg("after 30 s: %llu written + %llu dropped of %llu",
                     (unsigned long long)audit_written(a), (unsigned long long)audit_dropped(a),
                     (unsigned long long)total);
        usleep(1000);
    }
}

/* Close right after recording: close itself must flush the queue. */
static void test_written_and_readable(void **state)
{
    (void)state;
    char path[PATH_MAX];
    db_path(path, sizeof path, "written.db");
    char err[256] = "";
    struct audit *a = audit_open(path, err, sizeof err);
    if (a == NULL)
        fail_msg("audit_open: %s", err);
    enum { N = 1000 };
    for (int i = 0; i < N; i++) {
        struct audit_entry e;
        make_entry(&e, 1, i);
        if (i == 7)
            e.source_digest[0] = '\0'; /* no digest: stored as NULL */
        audit_record(a, &e);
    }
    assert_int_equal(audit_dropped(a), 0);
    audit_close(a);

    sqlite3 *db = db_open(path);
    assert_int_equal(db_int(db, "SELECT count(*) FROM probes"), N);
    assert_int_equal(db_int(db, "SELECT count(*) FROM probes WHERE source_digest IS NULL"), 1);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT at_us, peer, level, target, source_digest, "
                                        "verdict, errno, elapsed_us FROM probes WHERE "
                                        "elapsed_us = 4",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    struct audit_entry want;
    make_entry(&want, 1, 4);
    assert_int_equal(sqlite3_column_int64(s, 0), want.at_us);
    assert_string_equal((const char *)sqlite3_column_text(s, 1), want.peer);
    assert_string_equal((const char *)sqlite3_column_text(s, 2), "type");
    assert_string_equal((const char *)sqlite3_column_text(s, 3), want.target);
    assert_string_equal((const char *)sqlite3_column_text(s, 4), want.source_digest);
    assert_string_equal((const char *)sqlite3_column_text(s, 5), "incompatible");
    assert_int_equal(sqlite3_column_int(s, 6), EINVAL);
    assert_int_equal(sqlite3_column_int64(s, 7), 4);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    /* WAL is a property of the file: a reader never blocks the writer. */
    sqlite3_stmt *mode = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &mode, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(mode), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(mode, 0), "wal");
    sqlite3_finalize(mode);
    sqlite3_close(db);

    /* Reopening appends to the same table. */
    a = audit_open(path, err, sizeof err);
    if (a == NULL)
        fail_msg("audit_open again: %s", err);
    struct audit_entry e;
    make_entry(&e, 2, N);
    audit_record(a, &e);
    audit_close(a);
    db = db_open(path);
    assert_int_equal(db_int(db, "SELECT count(*) FROM probes"), N + 1);
    sqlite3_close(db);
}

/* Another connection holds the write lock, so the writer is stuck on the
 * disk; the queue fills, the rest is dropped and counted, and no
 * audit_record() call waits. Once the lock goes, everything queued lands. */
static void test_queue_full_drops(void **state)
{
    (void)state;
    char path[PATH_MAX];
    db_path(path, sizeof path, "full.db");
    char err[256] = "";
    struct audit *a = audit_open(path, err, sizeof err);
    if (a == NULL)
        fail_msg("audit_open: %s", err);
    sqlite3 *blocker = db_open(path);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    enum { N = AUDIT_QUEUE_MAX + 20000 };
    int64_t worst = 0;
    for (int i = 0; i < N; i++) {
        struct audit_entry e;
        make_entry(&e, 1, i);
        int64_t t0 = mono_us();
        audit_record(a, &e);
        int64_t dt = mono_us() - t0;
        if (dt > worst)
            worst = dt;
    }
    /* Every call returned while the file was still locked: none waited
     * for the disk. The writer holds at most one batch it took before
     * the queue filled. */
    uint64_t dropped = audit_dropped(a);
    assert_true(dropped > 0);
    assert_true(dropped <= (uint64_t)(N - AUDIT_QUEUE_MAX));
    assert_int_equal(audit_written(a), 0);
    /* Far below the writer's busy timeout (1 s): a mutex and a copy. */
    if (worst > 200000)
        fail_msg("one audit_record() took %lld us", (long long)worst);

    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    wait_for_total(a, N);
    uint64_t written = audit_written(a);
    assert_int_equal(written + audit_dropped(a), N);
    assert_int_equal(audit_dropped(a), dropped);
    audit_close(a);
    assert_int_equal(db_int(blocker, "SELECT count(*) FROM probes"), (int64_t)written);
    sqlite3_close(blocker);
}

struct recorder {
    struct audit *audit;
    int thread;
    int count;
};

static void *record_many(void *arg)
{
    struct recorder *r = arg;
    for (int i = 0; i < r->count; i++) {
        struct audit_entry e;
        make_entry(&e, r->thread, i);
        audit_record(r->audit, &e);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    char path[PATH_MAX];
    db_path(path, sizeof path, "concurrent.db");
    char err[256] = "";
    struct audit *a = audit_open(path, err, sizeof err);
    if (a == NULL)
        fail_msg("audit_open: %s", err);
    /* Under the queue bound in total, so nothing may be dropped. */
    enum { THREADS = 4, EACH = AUDIT_QUEUE_MAX / 8 };
    pthread_t threads[THREADS];
    struct recorder r[THREADS];
    for (int t = 0; t < THREADS; t++) {
        r[t] = (struct recorder){a, t, EACH};
        assert_int_equal(pthread_create(&threads[t], NULL, record_many, &r[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    wait_for_total(a, THREADS * EACH);
    assert_int_equal(audit_dropped(a), 0);
    assert_int_equal(audit_written(a), THREADS * EACH);
    audit_close(a);

    sqlite3 *db = db_open(path);
    assert_int_equal(db_int(db, "SELECT count(*) FROM probes"), THREADS * EACH);
    /* Each thread's entries are all there, once each, intact. */
    for (int t = 0; t < THREADS; t++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(DISTINCT elapsed_us) FROM probes WHERE peer = '10.0.0.%d' AND "
                 "target = 'parent%d/nvidia-' || elapsed_us",
                 t, t);
        assert_int_equal(db_int(db, sql), EACH);
    }
    sqlite3_close(db);
}

/* A file locked for good (a dead disk, a forgotten transaction) must not
 * hang shutdown: close gives up after one busy timeout per batch. */
static void test_close_gives_up(void **state)
{
    (void)state;
    char path[PATH_MAX];
    db_path(path, sizeof path, "locked.db");
    char err[256] = "";
    struct audit *a = audit_open(path, err, sizeof err);
    if (a == NULL)
        fail_msg("audit_open: %s", err);
    sqlite3 *blocker = db_open(path);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 10; i++) {
        struct audit_entry e;
        make_entry(&e, 1, i);
        audit_record(a, &e);
    }
    int64_t t0 = mono_us();
    audit_close(a);
    int64_t took = mono_us() - t0;
    if (took > 10 * 1000000LL)
        fail_msg("audit_close took %lld us on a locked file", (long long)took);
    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(db_int(blocker, "SELECT count(*) FROM probes"), 0);
    sqlite3_close(blocker);
}

static void test_open_error(void **state)
{
    (void)state;
    char err[256] = "";
    struct audit *a = audit_open("/nonexistent/mdevmig/audit.db", err, sizeof err);
    assert_null(a);
    if (strstr(err, "/nonexistent/mdevmig/audit.db") == NULL)
        fail_msg("the message does not name the file: %s", err);
    audit_close(NULL);
}

static int remove_tmp(void **state)
{
    (void)state;
    const char *names[] = {"written.db", "full.db", "concurrent.db", "locked.db"};
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (size_t j = 0; j < sizeof suffixes / sizeof suffixes[0]; j++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s%s", tmp_dir, names[i], suffixes[j]);
            unlink(path);
        }
    }
    return rmdir(tmp_dir) == 0 ? 0 : -1;
}

int main(void)
{
    if (mkdtemp(tmp_dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written_and_readable), cmocka_unit_test(test_queue_full_drops),
        cmocka_unit_test(test_concurrent),           cmocka_unit_test(test_close_gives_up),
        cmocka_unit_test(test_open_error),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, remove_tmp) == 0 ? 0 : 1;
}
