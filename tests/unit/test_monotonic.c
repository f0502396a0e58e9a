/*
 * test_monotonic — common/monotonic: a deadline is "now + ns" on the
 * monotonic clock with its nanoseconds in range, and a condition variable
 * it makes times out against such a deadline, not the wall clock's.
 */
#include "monotonic.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <time.h>

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static void test_after_ns(void **state)
{
    (void)state;
    static const long steps[] = {0, 1, 999999999L, 1000000000L, 1500000000L, 2999999999L};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct timespec before, after;
        clock_gettime(CLOCK_MONOTONIC, &before);
        struct timespec t = monotonic_after_ns(steps[i]);
        clock_gettime(CLOCK_MONOTONIC, &after);
        assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
        assert_true(ns_of(&t) >= ns_of(&before) + steps[i]);
        assert_true(ns_of(&t) <= ns_of(&after) + steps[i]);
    }
}

static void test_cond_times_out(void **state)
{
    (void)state;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond;
    assert_int_equal(monotonic_cond_init(&cond), 0);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct timespec until = monotonic_after_ns(20000000L);
    pthread_mutex_lock(&lock);
    int rc = 0;
    while (rc == 0)
        rc = pthread_cond_timedwait(&cond, &lock, &until);
    pthread_mutex_unlock(&lock);
    clock_gettime(CLOCK_MONOTONIC, &end);
    assert_int_equal(rc, ETIMEDOUT);
    /* A monotonic deadline read as a wall-clock one would be decades in
     * the past and return at once. */
    assert_true(ns_of(&end) - ns_of(&start) >= 20000000LL);
    pthread_cond_destroy(&cond);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_after_ns),
        cmocka_unit_test(test_cond_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
