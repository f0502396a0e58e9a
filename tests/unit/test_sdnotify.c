/*
 * test_sdnotify — holds common/sdnotify.c to systemd's notify protocol as
 * systemd itself would see it: the test plays the service manager, a
 * datagram socket named by NOTIFY_SOCKET, and checks each message byte for
 * byte; the watchdog interval comes from WATCHDOG_USEC/WATCHDOG_PID as
 * systemd sets them. Outside systemd (no NOTIFY_SOCKET) every call must be
 * a harmless no-op, as the daemons run by hand and in the other tests.
 *
 * Usage: test_sdnotify
 */
#include "sdnotify.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

/* The fake service manager: a temp dir holding the socket. */
struct manager {
    char dir[64];
    char path[128];
    int fd;
};

static int manager_setup(void **state)
{
    struct manager *m = calloc(1, sizeof *m);
    if (m == NULL)
        return -1;
    snprintf(m->dir, sizeof m->dir, "/tmp/test_sdnotify.XXXXXX");
    if (mkdtemp(m->dir) == NULL) {
        free(m);
        return -1;
    }
    snprintf(m->path, sizeof m->path, "%s/notify", m->dir);
    m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", m->path);
    if (m->fd < 0 || bind(m->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (m->fd >= 0)
            close(m->fd);
        rmdir(m->dir);
        free(m);
        return -1;
    }
    setenv("NOTIFY_SOCKET", m->path, 1);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    *state = m;
    return 0;
}

static int manager_teardown(void **state)
{
    struct manager *m = *state;
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    close(m->fd);
    unlink(m->path);
    rmdir(m->dir);
    free(m);
    return 0;
}

/* The next datagram, NUL-terminated; fails the test after a second of
 * silence rather than hanging it. */
static void expect_datagram(struct manager *m, const char *want)
{
    struct pollfd pfd = {.fd = m->fd, .events = POLLIN};
    int ready = poll(&pfd, 1, 1000);
    if (ready != 1)
        fail_msg("no datagram for '%s' (poll: %d)", want, ready);
    char buf[512];
    ssize_t n = recv(m->fd, buf, sizeof buf - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static void expect_silence(struct manager *m)
{
    char buf[512];
    ssize_t n = recv(m->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n >= 0)
        fail_msg("unexpected datagram '%.*s'", (int)n, buf);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void test_messages(void **state)
{
    struct manager *m = *state;
    sdnotify_ready("serving on 127.0.0.1:9440");
    expect_datagram(m, "READY=1\nSTATUS=serving on 127.0.0.1:9440");
    sdnotify_reloading();
    expect_datagram(m, "RELOADING=1");
    sdnotify_ready(NULL);
    expect_datagram(m, "READY=1");
    sdnotify_watchdog();
    expect_datagram(m, "WATCHDOG=1");
    sdnotify_stopping();
    expect_datagram(m, "STOPPING=1");
    expect_silence(m);
    /* Still set: the daemons notify again and again. */
    assert_string_equal(getenv("NOTIFY_SOCKET"), m->path);
}

/* A status is one assignment: text after a newline must not reach
 * systemd as another one. */
static void test_status_one_line(void **state)
{
    struct manager *m = *state;
    sdnotify_ready("reloaded\nWATCHDOG=trigger");
    expect_datagram(m, "READY=1\nSTATUS=reloaded");
    sdnotify_ready("");
    expect_datagram(m, "READY=1\nSTATUS=");
    expect_silence(m);
}

static void test_watchdog_interval(void **state)
{
    (void)state;
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());

    assert_int_equal(sdnotify_watchdog_interval_us(), 0);

    setenv("WATCHDOG_USEC", "30000000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(sdnotify_watchdog_interval_us(), 15000000);
    /* Asked every loop: the environment must still be there. */
    assert_int_equal(sdnotify_watchdog_interval_us(), 15000000);

    /* Without WATCHDOG_PID the watchdog is this process's. */
    unsetenv("WATCHDOG_PID");
    assert_int_equal(sdnotify_watchdog_interval_us(), 15000000);

    /* Meant for another process (our parent, say): not ours to ping. */
    snprintf(pid, sizeof pid, "%ld", (long)getppid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(sdnotify_watchdog_interval_us(), 0);

    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    setenv("WATCHDOG_USEC", "soon", 1);
    assert_int_equal(sdnotify_watchdog_interval_us(), 0);
    setenv("WATCHDOG_USEC", "0", 1);
    assert_int_equal(sdnotify_watchdog_interval_us(), 0);
}

/* By hand or under another supervisor: nothing sent, nothing fails. */
static void test_outside_systemd(void **state)
{
    struct manager *m = *state;
    unsetenv("NOTIFY_SOCKET");
    sdnotify_ready("serving");
    sdnotify_reloading();
    sdnotify_watchdog();
    sdnotify_stopping();
    assert_int_equal(sdnotify_watchdog_interval_us(), 0);
    expect_silence(m);
}

/* A socket that has gone away (the manager restarted) is not the
 * daemon's problem either. */
static void test_socket_gone(void **state)
{
    struct manager *m = *state;
    char gone[160];
    snprintf(gone, sizeof gone, "%s/missing", m->dir);
    setenv("NOTIFY_SOCKET", gone, 1);
    sdnotify_ready("serving");
    sdnotify_watchdog();
    sdnotify_stopping();
    expect_silence(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_messages, manager_setup, manager_teardown),
        cmocka_unit_test_setup_teardown(test_status_one_line, manager_setup, manager_teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_interval, manager_setup, manager_teardown),
        cmocka_unit_test_setup_teardown(test_outside_systemd, manager_setup, manager_teardown),
        cmocka_unit_test_setup_teardown(test_socket_gone, manager_setup, manager_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
