/*
 * test_log — holds common/log.c to the two shapes of a line: under
 * systemd, with stderr the journal's stream (JOURNAL_STREAM names its
 * DEV:INODE), "<N>PROGRAM LEVEL: message" so journald gets the priority
 * and stamps the time; anywhere else "TIME PROGRAM LEVEL: message". The
 * test points stderr at a temp file and plays systemd by naming that
 * file's device and inode.
 *
 * Usage: test_log
 */
#include "log.h"

#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* stderr redirected into a temp file for one test, until the test reads
 * it back: cmocka reports failures on stderr, and they must be seen. */
struct capture {
    char path[64];
    int fd;
    int saved_stderr;
    char text[8192];
};

static int capture_setup(void **state)
{
    struct capture *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -1;
    snprintf(c->path, sizeof c->path, "/tmp/test_log.XXXXXX");
    c->fd = mkstemp(c->path);
    c->saved_stderr = dup(STDERR_FILENO);
    if (c->fd < 0 || c->saved_stderr < 0 || dup2(c->fd, STDERR_FILENO) < 0) {
        fprintf(stdout, "test_log: cannot redirect stderr\n");
        free(c);
        return -1;
    }
    unsetenv("JOURNAL_STREAM");
    *state = c;
    return 0;
}

static int capture_teardown(void **state)
{
    struct capture *c = *state;
    if (c->saved_stderr >= 0) {
        dup2(c->saved_stderr, STDERR_FILENO);
        close(c->saved_stderr);
    }
    close(c->fd);
    unlink(c->path);
    free(c);
    unsetenv("JOURNAL_STREAM");
    /* Back to the defaults for the next test. */
    log_init("mdevmig", LOG_LEVEL_INFO);
    return 0;
}

/* Put stderr back and return what was written to it meanwhile. */
static const char *capture_finish(struct capture *c)
{
    dup2(c->saved_stderr, STDERR_FILENO);
    close(c->saved_stderr);
    c->saved_stderr = -1;
    ssize_t n = pread(c->fd, c->text, sizeof c->text - 1, 0);
    assert_true(n >= 0);
    c->text[n] = '\0';
    return c->text;
}

/* JOURNAL_STREAM as systemd would set it for the file behind fd. */
static void set_journal_stream(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char value[64];
    snprintf(value, sizeof value, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", value, 1);
}

static void log_every_level(void)
{
    log_error("probe of %s failed: %s", "gpu-b", "EINVAL");
    log_warn("registry locked");
    log_info("serving on %s", "127.0.0.1:9440");
    log_debug("scan took %d ms", 12);
}

static void test_journal_prefix(void **state)
{
    struct capture *c = *state;
    set_journal_stream(c->fd);
    log_init("mdevmig-collector", LOG_LEVEL_DEBUG);
    log_every_level();
    assert_string_equal(capture_finish(c),
                        "<3>mdevmig-collector error: probe of gpu-b failed: EINVAL\n"
                        "<4>mdevmig-collector warn: registry locked\n"
                        "<6>mdevmig-collector info: serving on 127.0.0.1:9440\n"
                        "<7>mdevmig-collector debug: scan took 12 ms\n");
}

/* The level still filters; the journal does not change what is shown. */
static void test_journal_threshold(void **state)
{
    struct capture *c = *state;
    set_journal_stream(c->fd);
    log_init("mdevmig-sched", LOG_LEVEL_WARN);
    log_every_level();
    assert_string_equal(capture_finish(c), "<3>mdevmig-sched error: probe of gpu-b failed: EINVAL\n"
                                           "<4>mdevmig-sched warn: registry locked\n");
}

/* Every line of the output must be "TIME PROGRAM LEVEL: message", the
 * time in UTC to the millisecond. */
static void assert_timestamped(const char *text, const char *program)
{
    char pattern[256];
    snprintf(pattern, sizeof pattern,
             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z %s "
             "(error|warn|info|debug): [^<\n]+$",
             program);
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
    size_t lines = 0;
    for (const char *p = text; *p != '\0'; lines++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(nl - p), p);
        if (regexec(&re, line, 0, NULL, 0) != 0)
            fail_msg("not a timestamped line: '%s'", line);
        p = nl + 1;
    }
    regfree(&re);
    assert_int_equal(lines, 3);
}

static void test_timestamp_without_journal(void **state)
{
    struct capture *c = *state;
    log_init("mdevmig-collector", LOG_LEVEL_INFO);
    log_every_level();
    const char *text = capture_finish(c);
    assert_timestamped(text, "mdevmig-collector");
    assert_non_null(strstr(text, "Z mdevmig-collector error: probe of gpu-b failed: EINVAL\n"));
    assert_non_null(strstr(text, "Z mdevmig-collector info: serving on 127.0.0.1:9440\n"));
}

/* The variable is inherited by processes whose stderr went elsewhere
 * (a daemon run from a shell inside a service): it must name stderr. */
static void test_journal_stream_elsewhere(void **state)
{
    struct capture *c = *state;
    char other[64];
    snprintf(other, sizeof other, "/tmp/test_log_other.XXXXXX");
    int fd = mkstemp(other);
    assert_true(fd >= 0);
    set_journal_stream(fd);
    close(fd);
    unlink(other);
    log_init("mdevmig-collector", LOG_LEVEL_INFO);
    log_every_level();
    assert_timestamped(capture_finish(c), "mdevmig-collector");
}

static void test_journal_stream_malformed(void **state)
{
    struct capture *c = *state;
    struct stat st;
    assert_int_equal(fstat(c->fd, &st), 0);
    char dev[32], ino[32];
    snprintf(dev, sizeof dev, "%llu", (unsigned long long)st.st_dev);
    snprintf(ino, sizeof ino, "%llu", (unsigned long long)st.st_ino);
    /* Each close to the right value, none of them it. */
    char cases[7][80];
    snprintf(cases[0], sizeof cases[0], "%s", dev);
    snprintf(cases[1], sizeof cases[1], "%s:", dev);
    snprintf(cases[2], sizeof cases[2], ":%s", ino);
    snprintf(cases[3], sizeof cases[3], "%s:%sx", dev, ino);
    snprintf(cases[4], sizeof cases[4], " %s:%s", dev, ino);
    snprintf(cases[5], sizeof cases[5], "%s:%s:1", dev, ino);
    snprintf(cases[6], sizeof cases[6], "%s:+%s", dev, ino);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("JOURNAL_STREAM", cases[i], 1);
        log_init("mdevmig-collector", LOG_LEVEL_ERROR);
        log_error("case %zu", i);
    }
    const char *text = capture_finish(c);
    if (strchr(text, '<') != NULL)
        fail_msg("a malformed JOURNAL_STREAM was taken for the journal:\n%s", text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_journal_prefix, capture_setup, capture_teardown),
        cmocka_unit_test_setup_teardown(test_journal_threshold, capture_setup, capture_teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_without_journal, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_journal_stream_elsewhere, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_journal_stream_malformed, capture_setup,
                                        capture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
