/*
 * test_syscalls — mdevsim as the kernel's sysfs looks from the syscall side.
 *
 * Every other suite (the collector, the probe, mdevctl driving a simulated
 * host) trusts mdevsim to answer like kernfs where mdevmig's verdicts
 * depend on it: which opens fail and with which errno, that one write(2)
 * is one store() call and never more than a page, that a read never
 * returns more than a page less one, that a removed device is gone at
 * once. The shell tests reach mdevsim through echo, cat and mdevctl, which
 * hide errno values and call counts; this program makes the raw calls and
 * checks each errno exactly, so a simulator drifting from the kernel shows
 * up here and not as a puzzling verdict elsewhere.
 *
 * Usage: test_syscalls MDEVSIM_BINARY FIXTURES_DIR
 *
 * Each cmocka group mounts one fixture with its own mdevsim in a fresh
 * /tmp/mdevsim-syscalls.* dir. The group teardown, which cmocka runs even
 * after a failed assertion, stops mdevsim, unmounts if it left the mount
 * behind and removes the dir; a signal handler and PR_SET_PDEATHSIG cover
 * the ways out that skip the teardown.
 */
/* strerrorname_np, PR_SET_PDEATHSIG; the build defines it for every file. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* kernfs: a store gets at most a page, a show returns less than a page. */
#define SIM_STORE_MAX 4096
#define SIM_SHOW_MAX  4095

/* A hung mdevsim must not hang the build: past this, SIGALRM's default
 * action ends the program and PR_SET_PDEATHSIG takes mdevsim down. */
#define SIM_GROUP_WATCHDOG_S 120

#define BUS_DEV(uuid) "sys/bus/mdev/devices/" uuid

/* t4.json: two T4 boards; devices take iommu groups from 40 in order. */
#define T4_PARENT        "sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0"
#define T4_PARENT_TARGET "pci0000:3a/0000:3a:00.0/0000:3b:00.0"
#define T4_222           T4_PARENT "/mdev_supported_types/nvidia-222"
#define T4_234           T4_PARENT "/mdev_supported_types/nvidia-234"
#define T4_D8_PARENT     "sys/devices/pci0000:d7/0000:d7:00.0/0000:d8:00.0"
#define T4_D8_222        T4_D8_PARENT "/mdev_supported_types/nvidia-222"
#define T4_D8_223        T4_D8_PARENT "/mdev_supported_types/nvidia-223"
#define T4_DEV1          "c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c01"
#define T4_DEV2          "c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c02"
#define T4_DEV3          "d27e0b44-9f1a-4c3e-8b6d-5a4c3b2a1f03"
#define T4_DEV1_GROUP    "40"
#define T4_222_VERSION   "10de:1eb8:nvidia-222-535.104"
#define T4_222_OLDER     "10de:1eb8:nvidia-222-535.103"
#define T4_222_NEWER     "10de:1eb8:nvidia-222-535.105"
#define T4_223_VERSION   "10de:1eb8:nvidia-223-535.104"

/* UUIDs the t4 tests create, one per test so a failure stays local. */
#define NEW_36     "7a6b5c4d-1e2f-4a3b-8c9d-000000000001"
#define NEW_37     "7a6b5c4d-1e2f-4a3b-8c9d-000000000002"
#define NEW_UPPER  "7A6B5C4D-1E2F-4A3B-8C9D-0000000000AB"
#define NEW_LOWER  "7a6b5c4d-1e2f-4a3b-8c9d-0000000000ab"
#define NEW_234    "7a6b5c4d-1e2f-4a3b-8c9d-000000000234"
#define NEW_234_2  "7a6b5c4d-1e2f-4a3b-8c9d-000000000235"
#define RM_ONE     "7a6b5c4d-1e2f-4a3b-8c9d-000000000101"
#define RM_ZERO    "7a6b5c4d-1e2f-4a3b-8c9d-000000000102"
#define RM_OTHER   "7a6b5c4d-1e2f-4a3b-8c9d-000000000103"
#define RM_KEPT    "7a6b5c4d-1e2f-4a3b-8c9d-000000000104"
#define NEVER_MADE "7a6b5c4d-1e2f-4a3b-8c9d-000000000999"

/* mtty.json: a device whose own exact rule overrides its type's list. */
#define MTTY_TYPES "sys/devices/virtual/mtty/mtty/mdev_supported_types"
#define MTTY_DEV   "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"

/* readfail.json: i915 GVT-g on an unsupported generation. */
#define RF_TYPE  "sys/devices/pci0000:00/0000:00:02.0/mdev_supported_types/i915-GVTg_V4_2"
#define RF_DEV   "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
#define RF_NEW   "9a8b7c6d-5e4f-4a3b-8c2d-000000000001"
#define RF_NEW_2 "9a8b7c6d-5e4f-4a3b-8c2d-000000000002"

/* One running mdevsim. Paths are computed up front so that sim_stop()
 * needs nothing but async-signal-safe calls and can run from a handler. */
struct sim {
    pid_t pid;
    char dir[PATH_MAX];
    char mount[PATH_MAX];
    char real_mount[PATH_MAX]; /* what realpath() of a path inside gives */
    char sock[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
    char log[PATH_MAX];
};

static struct sim sim_state;
static const char *sim_binary;
static const char *sim_fixtures;
/* cmocka does not count a failed group teardown in its result. */
static int sim_teardown_failures;

static void sim_note(const char *msg)
{
    ssize_t n = write(STDERR_FILENO, msg, strlen(msg));
    (void)n;
}

/* mdevsim's own words explain most failures to start or stop. */
static void sim_dump_log(void)
{
    int fd = open(sim_state.log, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    sim_note("---- mdevsim log ----\n");
    char buf[1024];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
        (void)w;
    }
    sim_note("---- end of mdevsim log ----\n");
    close(fd);
}

static void sim_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* A dead FUSE daemon leaves its mount answering ENOTCONN; a live or
 * stale mount shows as another device than the dir holding it. */
static bool sim_mounted(void)
{
    struct stat m, d;
    if (stat(sim_state.mount, &m) < 0)
        return errno == ENOTCONN;
    if (stat(sim_state.dir, &d) < 0)
        return false;
    return m.st_dev != d.st_dev;
}

static void sim_fusermount(const char *flag)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {"fusermount3", (char *)flag, sim_state.mount, NULL};
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid > 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
}

/* Take mdevsim down and leave nothing behind. Idempotent; returns -1 when
 * mdevsim did not stop and unmount cleanly on SIGTERM, as the README says
 * it does, after cleaning up regardless. Async-signal-safe. */
static int sim_stop(void)
{
    int rc = 0;
    if (sim_state.pid > 0) {
        kill(sim_state.pid, SIGTERM);
        bool exited = false;
        int status = 0;
        for (int i = 0; i < 500 && !exited; i++) {
            pid_t r = waitpid(sim_state.pid, &status, WNOHANG);
            if (r == sim_state.pid || (r < 0 && errno == ECHILD))
                exited = true;
            else
                sim_sleep_ms(10);
        }
        if (!exited) {
            sim_note("test_syscalls: mdevsim ignored SIGTERM for 5 s; killing it\n");
            kill(sim_state.pid, SIGKILL);
            while (waitpid(sim_state.pid, &status, 0) < 0 && errno == EINTR)
                ;
            rc = -1;
        }
        if (!exited || WIFSIGNALED(status)) {
            sim_note("test_syscalls: mdevsim was killed by a signal\n");
            sim_dump_log();
        } else if (WEXITSTATUS(status) != 0) {
            /* Not a failure: the README promises a clean unmount on
             * SIGTERM, checked below, not an exit status. */
            char num[4] = "";
            int i = 3;
            for (int v = WEXITSTATUS(status); v > 0 && i > 0; v /= 10)
                num[--i] = (char)('0' + v % 10);
            sim_note("test_syscalls: note: mdevsim exited with status ");
            sim_note(num + i);
            sim_note(" on SIGTERM\n");
        }
        sim_state.pid = 0;
    }
    if (sim_state.dir[0] != '\0') {
        if (sim_mounted()) {
            sim_note("test_syscalls: mdevsim left its mount behind; fusermount3 -u\n");
            rc = -1;
            sim_fusermount("-u");
            if (sim_mounted())
                sim_fusermount("-uz");
        }
        unlink(sim_state.sock);
        unlink(sim_state.log);
        rmdir(sim_state.mount);
        if (rmdir(sim_state.dir) < 0) {
            sim_note("test_syscalls: could not remove ");
            sim_note(sim_state.dir);
            sim_note("\n");
            rc = -1;
        }
        sim_state.dir[0] = '\0';
    }
    return rc;
}

static void sim_on_signal(int sig)
{
    sim_stop();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* An assertion that fails longjmps out of the test; fds it left open on
 * the mount would keep a plain unmount busy. */
static void sim_close_leaked_fds(void)
{
    char prefix[PATH_MAX + 1];
    int len = snprintf(prefix, sizeof prefix, "%s/", sim_state.mount);
    if (len < 0 || (size_t)len >= sizeof prefix)
        return;
    for (int fd = 3; fd < 1024; fd++) {
        char link[64], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        if (strncmp(target, prefix, (size_t)len) == 0)
            close(fd);
    }
}

static int sim_start(const char *fixture)
{
    char fixture_path[PATH_MAX];
    if (snprintf(fixture_path, sizeof fixture_path, "%s/%s.json", sim_fixtures, fixture) >=
        (int)sizeof fixture_path)
        return -1;
    if (access(fixture_path, R_OK) < 0) {
        fprintf(stderr, "test_syscalls: fixture %s: %s\n", fixture_path, strerror(errno));
        return -1;
    }

    char tmpl[] = "/tmp/mdevsim-syscalls.XXXXXX";
    if (mkdtemp(tmpl) == NULL) {
        fprintf(stderr, "test_syscalls: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    memset(&sim_state, 0, sizeof sim_state);
    snprintf(sim_state.dir, sizeof sim_state.dir, "%s", tmpl);
    snprintf(sim_state.mount, sizeof sim_state.mount, "%s/root", tmpl);
    snprintf(sim_state.sock, sizeof sim_state.sock, "%s/control.sock", tmpl);
    snprintf(sim_state.log, sizeof sim_state.log, "%s/mdevsim.log", tmpl);
    if (mkdir(sim_state.mount, 0755) < 0) {
        fprintf(stderr, "test_syscalls: mkdir %s: %s\n", sim_state.mount, strerror(errno));
        return -1;
    }
    /* Resolved before mounting, so no FUSE request is involved. */
    char real_dir[PATH_MAX];
    if (realpath(sim_state.dir, real_dir) == NULL) {
        fprintf(stderr, "test_syscalls: realpath %s: %s\n", sim_state.dir, strerror(errno));
        return -1;
    }
    snprintf(sim_state.real_mount, sizeof sim_state.real_mount, "%.*s/root", PATH_MAX - 6,
             real_dir);

    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "test_syscalls: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* If this program dies where no teardown runs (SIGKILL, the
         * watchdog), mdevsim still gets its SIGTERM and unmounts. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int log = open(sim_state.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (log < 0 || null < 0)
            _exit(127);
        dup2(null, STDIN_FILENO);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        char *argv[] = {(char *)sim_binary, "--fixture", fixture_path,   "--mount",
                        sim_state.mount,    "--control", sim_state.sock, NULL};
        execv(sim_binary, argv);
        dprintf(STDERR_FILENO, "execv %s: %s\n", sim_binary, strerror(errno));
        _exit(127);
    }
    sim_state.pid = pid;

    char class_dir[PATH_MAX];
    snprintf(class_dir, sizeof class_dir, "%.*s/sys/class", PATH_MAX - 16, sim_state.mount);
    for (int i = 0; i < 250; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            sim_state.pid = 0;
            fprintf(stderr, "test_syscalls: mdevsim exited early (status 0x%x) on %s\n", status,
                    fixture);
            sim_dump_log();
            return -1;
        }
        struct stat st, sock;
        if (stat(class_dir, &st) == 0 && S_ISDIR(st.st_mode) && stat(sim_state.sock, &sock) == 0 &&
            S_ISSOCK(sock.st_mode))
            return 0;
        sim_sleep_ms(20);
    }
    fprintf(stderr, "test_syscalls: mdevsim did not serve %s within 5 s\n", class_dir);
    sim_dump_log();
    return -1;
}

/* cmocka's _fail() longjmps out of the running test but is not declared
 * noreturn; declaring this one so keeps the compiler's flow analysis (and
 * -Warray-bounds at -O2) from following a path that never runs. */
__attribute__((noreturn, format(printf, 3, 4))) static void sim_fail(const char *file, int line,
                                                                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_error(fmt, ap);
    va_end(ap);
    print_error("\n");
    _fail(file, line);
    abort();
}

#define sim_fail_msg(...) sim_fail(__FILE__, __LINE__, __VA_ARGS__)

/* The absolute path of a path relative to the mount. A few rotating
 * buffers so one call can name two paths (rename, link). */
static const char *sim_path(const char *rel)
{
    static char bufs[8][PATH_MAX];
    static unsigned next;
    char *buf = bufs[next++ % 8];
    int n = snprintf(buf, PATH_MAX, "%s/%s", sim_state.mount, rel);
    if (n < 0 || n >= PATH_MAX)
        sim_fail_msg("path too long: %s", rel);
    return buf;
}

/* ---- control channel -------------------------------------------------- */

/* One command on a fresh connection, one reply line back. Returns 0 on
 * "ok", 1 on "err", -1 when the socket does not answer (reply says why). */
static int sim_ctl_line(char *reply, size_t size, const char *cmd)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(reply, size, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, sim_state.sock, sizeof addr.sun_path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        snprintf(reply, size, "connect %s: %s", sim_state.sock, strerror(errno));
        close(fd);
        return -1;
    }
    size_t len = strlen(cmd);
    for (size_t off = 0; off < len;) {
        /* MSG_NOSIGNAL: a closed socket is a test failure, not SIGPIPE. */
        ssize_t n = send(fd, cmd + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            snprintf(reply, size, "send: %s", strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    size_t got = 0;
    bool line = false;
    while (!line && got + 1 < size) {
        ssize_t n = read(fd, reply + got, 1);
        if (n <= 0)
            break;
        if (reply[got] == '\n')
            line = true;
        else
            got++;
    }
    reply[got] = '\0';
    close(fd);
    if (!line) {
        snprintf(reply, size, "no reply line from mdevsim");
        return -1;
    }
    if (strcmp(reply, "ok") == 0 || strncmp(reply, "ok ", 3) == 0)
        return 0;
    return strncmp(reply, "err", 3) == 0 ? 1 : -1;
}

/* The command line, newline included, in cmd (8 KiB: a version may be
 * a page long). */
static int sim_ctl_format(char *cmd, size_t size, const char *fmt, va_list ap)
{
    int len = vsnprintf(cmd, size - 1, fmt, ap);
    if (len < 0 || (size_t)len >= size - 1)
        return -1;
    cmd[len] = '\n';
    cmd[len + 1] = '\0';
    return 0;
}

__attribute__((format(printf, 3, 4))) static int sim_ctl(char *reply, size_t size, const char *fmt,
                                                         ...)
{
    static char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int rc = sim_ctl_format(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        snprintf(reply, size, "command too long");
        return -1;
    }
    return sim_ctl_line(reply, size, cmd);
}

/* A command the test needs to succeed; fails the test otherwise. */
__attribute__((format(printf, 3, 4))) static void sim_ctl_ok(char *reply, size_t size,
                                                             const char *fmt, ...)
{
    static char cmd[8192];
    char own[512];
    if (reply == NULL) {
        reply = own;
        size = sizeof own;
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = sim_ctl_format(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (rc < 0)
        sim_fail_msg("control command too long: %.120s", fmt);
    if (sim_ctl_line(reply, size, cmd) != 0)
        sim_fail_msg("control command \"%.120s\" answered \"%s\"", strtok(cmd, "\n"), reply);
}

struct sim_counts {
    unsigned long reads;
    unsigned long writes;
};

static struct sim_counts sim_counts(const char *rel)
{
    char reply[256];
    struct sim_counts c = {0, 0};
    sim_ctl_ok(reply, sizeof reply, "counts %s", rel);
    if (sscanf(reply, "ok reads=%lu writes=%lu", &c.reads, &c.writes) != 2)
        sim_fail_msg("counts %s: unexpected reply \"%s\"", rel, reply);
    return c;
}

/* ---- syscall helpers -------------------------------------------------- */

/* Results compare as one number: a byte count (or 0), or -errno. */
static ssize_t sim_rc(ssize_t rc)
{
    return rc < 0 ? -errno : rc;
}

static const char *sim_result_str(ssize_t r, char *buf, size_t size)
{
    if (r >= 0) {
        snprintf(buf, size, "%zd", r);
    } else {
        const char *name = strerrorname_np((int)-r);
        snprintf(buf, size, "-1 %s (%s)", name != NULL ? name : "?", strerror((int)-r));
    }
    return buf;
}

static void sim_check_result(ssize_t got, ssize_t want, const char *expr, const char *file,
                             int line)
{
    if (got == want)
        return;
    char g[128], w[128];
    print_error("%s\n    expected %s, got %s\n", expr, sim_result_str(want, w, sizeof w),
                sim_result_str(got, g, sizeof g));
    _fail(file, line);
}

/* Expect a result (bytes or -errno); the message names the call. */
#define sim_assert_result(got, want) sim_check_result((got), (want), #got, __FILE__, __LINE__)

/* 0 when open(2) succeeds (the fd is closed again), else -errno. */
static ssize_t sim_open_result(const char *rel, int flags)
{
    int fd = open(sim_path(rel), flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

static int sim_open_or_fail(const char *rel, int flags)
{
    int fd = open(sim_path(rel), flags | O_CLOEXEC);
    if (fd < 0)
        sim_fail_msg("open %s: %s", rel, strerror(errno));
    return fd;
}

/* What userspace does with an attribute: open, one write(2), close. */
static ssize_t sim_write_attr(const char *rel, const void *buf, size_t len)
{
    int fd = sim_open_or_fail(rel, O_WRONLY);
    ssize_t r = sim_rc(write(fd, buf, len));
    close(fd);
    return r;
}

static ssize_t sim_write_str(const char *rel, const char *s)
{
    return sim_write_attr(rel, s, strlen(s));
}

/* Open, one read(2) at offset 0, close; buf is NUL-terminated. */
static ssize_t sim_read_attr(const char *rel, char *buf, size_t size)
{
    int fd = sim_open_or_fail(rel, O_RDONLY);
    ssize_t r = sim_rc(read(fd, buf, size - 1));
    close(fd);
    buf[r > 0 ? r : 0] = '\0';
    return r;
}

static long sim_read_long(const char *rel)
{
    char buf[64];
    ssize_t n = sim_read_attr(rel, buf, sizeof buf);
    char *end = NULL;
    long v = n > 0 ? strtol(buf, &end, 10) : -1;
    if (n <= 0 || end == buf || strcmp(end, "\n") != 0)
        sim_fail_msg("%s: expected a number and a newline, got \"%s\"", rel, buf);
    return v;
}

static void sim_assert_mode(const char *rel, mode_t want)
{
    struct stat st;
    if (lstat(sim_path(rel), &st) < 0)
        sim_fail_msg("lstat %s: %s", rel, strerror(errno));
    mode_t got = st.st_mode & (S_IFMT | 07777);
    if (got != want)
        sim_fail_msg("%s: mode 0%o, expected 0%o", rel, (unsigned)got, (unsigned)want);
}

static void sim_assert_is_dir(const char *rel)
{
    struct stat st;
    if (stat(sim_path(rel), &st) < 0)
        sim_fail_msg("stat %s: %s", rel, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        sim_fail_msg("%s is not a directory", rel);
}

/* readlink(2) gives exactly want (relative, as sysfs makes them) and the
 * link resolves inside the mount to target. */
static void sim_assert_link(const char *rel, const char *want, const char *target)
{
    char got[PATH_MAX];
    ssize_t n = readlink(sim_path(rel), got, sizeof got - 1);
    if (n < 0)
        sim_fail_msg("readlink %s: %s", rel, strerror(errno));
    got[n] = '\0';
    if (strcmp(got, want) != 0)
        sim_fail_msg("readlink %s\n    expected \"%s\"\n    got      \"%s\"", rel, want, got);

    char real[PATH_MAX], expect[PATH_MAX + 64];
    if (realpath(sim_path(rel), real) == NULL)
        sim_fail_msg("realpath %s: %s", rel, strerror(errno));
    snprintf(expect, sizeof expect, "%s/%s", sim_state.real_mount, target);
    if (strcmp(real, expect) != 0)
        sim_fail_msg("realpath %s\n    expected \"%s\"\n    got      \"%s\"", rel, expect, real);
}

/* ---- group fixtures --------------------------------------------------- */

static int sim_setup(const char *fixture)
{
    alarm(SIM_GROUP_WATCHDOG_S);
    if (sim_start(fixture) < 0)
        return -1;
    char reply[256];
    if (sim_ctl(reply, sizeof reply, "ping") != 0) {
        fprintf(stderr, "test_syscalls: control ping: %s\n", reply);
        return -1;
    }
    return 0;
}

static int sim_setup_t4(void **state)
{
    (void)state;
    return sim_setup("t4");
}

static int sim_setup_mtty(void **state)
{
    (void)state;
    return sim_setup("mtty");
}

static int sim_setup_readfail(void **state)
{
    (void)state;
    return sim_setup("readfail");
}

static int sim_teardown(void **state)
{
    (void)state;
    sim_close_leaked_fds();
    int rc = sim_stop();
    alarm(0);
    if (rc < 0)
        sim_teardown_failures++;
    return rc;
}

/* ---- opens and namespace changes -------------------------------------- */

/* kernfs refuses a mode the attribute lacks even to root. */
static void test_open_write_only_attr_for_reading_eacces(void **state)
{
    (void)state;
    sim_assert_result(sim_open_result(T4_222 "/create", O_RDONLY), -EACCES);
    sim_assert_result(sim_open_result(T4_222 "/create", O_RDWR), -EACCES);
    sim_assert_result(sim_open_result(T4_PARENT "/" T4_DEV1 "/remove", O_RDONLY), -EACCES);
    sim_assert_result(sim_open_result(BUS_DEV(T4_DEV1) "/remove", O_RDWR), -EACCES);
}

static void test_open_read_only_attr_for_writing_eacces(void **state)
{
    (void)state;
    sim_assert_result(sim_open_result(T4_222 "/name", O_WRONLY), -EACCES);
    sim_assert_result(sim_open_result(T4_222 "/available_instances", O_WRONLY), -EACCES);
    sim_assert_result(sim_open_result(T4_222 "/device_api", O_WRONLY), -EACCES);
    sim_assert_result(sim_open_result(T4_222 "/description", O_RDWR), -EACCES);
}

static void test_create_file_in_type_dir_eacces(void **state)
{
    (void)state;
    sim_assert_result(sim_open_result(T4_222 "/new_attr", O_WRONLY | O_CREAT), -EACCES);
    sim_assert_result(sim_open_result(BUS_DEV(T4_DEV1) "/new_attr", O_WRONLY | O_CREAT | O_EXCL),
                      -EACCES);
    struct stat st;
    sim_assert_result(sim_rc(stat(sim_path(T4_222 "/new_attr"), &st)), -ENOENT);
}

static void test_mkdir_eperm(void **state)
{
    (void)state;
    sim_assert_result(sim_rc(mkdir(sim_path(T4_222 "/new_dir"), 0755)), -EPERM);
    sim_assert_result(sim_rc(mkdir(sim_path(BUS_DEV(NEVER_MADE)), 0755)), -EPERM);
}

static void test_unlink_attr_eperm(void **state)
{
    (void)state;
    sim_assert_result(sim_rc(unlink(sim_path(T4_222 "/name"))), -EPERM);
    sim_assert_result(sim_rc(unlink(sim_path(BUS_DEV(T4_DEV1) "/migration_version"))), -EPERM);
    sim_assert_mode(T4_222 "/name", S_IFREG | 0444);
    sim_assert_mode(BUS_DEV(T4_DEV1) "/migration_version", S_IFREG | 0644);
}

/* The README lists these with mkdir and unlink: sysfs has no such ops. */
static void test_rename_symlink_link_mknod_eperm(void **state)
{
    (void)state;
    sim_assert_result(sim_rc(rename(sim_path(T4_222 "/name"), sim_path(T4_222 "/name2"))), -EPERM);
    sim_assert_result(sim_rc(symlink("name", sim_path(T4_222 "/name_link"))), -EPERM);
    sim_assert_result(sim_rc(link(sim_path(T4_222 "/name"), sim_path(T4_222 "/name_link"))),
                      -EPERM);
    sim_assert_result(sim_rc(mknod(sim_path(T4_222 "/fifo"), S_IFIFO | 0644, 0)), -EPERM);
}

static void test_attribute_modes(void **state)
{
    (void)state;
    sim_assert_mode(T4_222 "/create", S_IFREG | 0200);
    sim_assert_mode(T4_222 "/name", S_IFREG | 0444);
    sim_assert_mode(T4_222 "/description", S_IFREG | 0444);
    sim_assert_mode(T4_222 "/device_api", S_IFREG | 0444);
    sim_assert_mode(T4_222 "/available_instances", S_IFREG | 0444);
    sim_assert_mode(T4_222 "/migration_version", S_IFREG | 0644);
    sim_assert_mode(T4_222 "/devices/" T4_DEV1, S_IFLNK | 0777);
    sim_assert_mode(T4_PARENT "/" T4_DEV1 "/remove", S_IFREG | 0200);
    sim_assert_mode(T4_PARENT "/" T4_DEV1 "/migration_version", S_IFREG | 0644);
    sim_assert_mode(T4_PARENT "/" T4_DEV1 "/uevent", S_IFREG | 0644);
    sim_assert_mode(T4_PARENT "/" T4_DEV1 "/mdev_type", S_IFLNK | 0777);
    sim_assert_mode(T4_PARENT "/" T4_DEV1 "/iommu_group", S_IFLNK | 0777);
    sim_assert_mode(BUS_DEV(T4_DEV1), S_IFLNK | 0777);
}

/* ---- migration_version: reads ----------------------------------------- */

static void test_read_version_with_newline(void **state)
{
    (void)state;
    char buf[8192];
    sim_assert_result(sim_read_attr(BUS_DEV(T4_DEV1) "/migration_version", buf, sizeof buf),
                      (ssize_t)strlen(T4_222_VERSION "\n"));
    assert_string_equal(buf, T4_222_VERSION "\n");
    sim_assert_result(sim_read_attr(T4_222 "/migration_version", buf, sizeof buf),
                      (ssize_t)strlen(T4_222_VERSION "\n"));
    assert_string_equal(buf, T4_222_VERSION "\n");

    /* A second read on the same fd is at the end: nothing more. */
    int fd = sim_open_or_fail(T4_PARENT "/" T4_DEV1 "/migration_version", O_RDONLY);
    ssize_t first = sim_rc(read(fd, buf, sizeof buf));
    ssize_t second = sim_rc(read(fd, buf, sizeof buf));
    close(fd);
    sim_assert_result(first, (ssize_t)strlen(T4_222_VERSION "\n"));
    sim_assert_result(second, 0);
}

/* show() fills one page and the kernel keeps its last byte for the NUL. */
static void test_read_capped_at_4095(void **state)
{
    (void)state;
    /* version and migration name the type's or device's directory. */
    const char *dir = T4_D8_223;
    const char *attr = T4_D8_223 "/migration_version";
    /* A version well past a page shows the cap best, but mdevsim may hold
     * versions to the seed's limit (PATH_MAX with show()'s newline). A
     * 4095-byte one is within any reading of that limit and still
     * overflows a 4095-byte read once the newline is added, so it is the
     * fallback that must be accepted. */
    static const size_t lengths[] = {4500, 4096, 4095};
    static char version[4600];
    char reply[512];
    size_t used = 0;
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0] && used == 0; i++) {
        size_t len = lengths[i];
        /* Shaped <prefix>-<major>.<minor> to satisfy the newer-minor rule. */
        memset(version, 'a', len - 4);
        memcpy(version + len - 4, "-1.0", 5);
        int rc = sim_ctl(reply, sizeof reply, "version %s %s", dir, version);
        if (rc == 0)
            used = len;
        else if (rc < 0 || i + 1 == sizeof lengths / sizeof lengths[0])
            sim_fail_msg("version %s <%zu bytes>: %s", dir, len, reply);
        else
            print_message("mdevsim refuses a %zu-byte version (%s); trying shorter\n", len, reply);
    }
    if (used != lengths[0])
        print_message("read cap tested with a %zu-byte version\n", used);

    /* The device follows its type live, so both show the long string. */
    const char *const paths[] = {attr, BUS_DEV(T4_DEV3) "/migration_version"};
    for (size_t p = 0; p < 2; p++) {
        char buf[8192];
        int fd = sim_open_or_fail(paths[p], O_RDONLY);
        ssize_t first = sim_rc(read(fd, buf, sizeof buf));
        bool prefix_ok = first == SIM_SHOW_MAX && memcmp(buf, version, SIM_SHOW_MAX) == 0;
        /* Whatever follows must still come in reads of at most 4095
         * bytes and be the rest of the version and its newline. */
        ssize_t later_max = 0;
        size_t off = first > 0 ? (size_t)first : 0;
        bool rest_ok = true;
        for (int i = 0; i < 4 && first > 0; i++) {
            ssize_t n = sim_rc(read(fd, buf, sizeof buf));
            if (n <= 0)
                break;
            later_max = n > later_max ? n : later_max;
            for (ssize_t k = 0; k < n; k++, off++)
                rest_ok = rest_ok && buf[k] == (off < used ? version[off] : '\n') && off <= used;
        }
        close(fd);
        sim_assert_result(first, SIM_SHOW_MAX);
        assert_true(prefix_ok);
        assert_true(later_max <= SIM_SHOW_MAX);
        assert_true(rest_ok);
    }
    sim_ctl_ok(NULL, 0, "version %s %s", dir, T4_223_VERSION);
}

/* Only a read at offset 0 is a show() call; reading on to EOF is not. */
static void test_counts_reads_at_offset_zero_only(void **state)
{
    (void)state;
    const char *attr = BUS_DEV(T4_DEV1) "/migration_version";
    const size_t len = strlen(T4_222_VERSION "\n");
    sim_ctl_ok(NULL, 0, "reset-counts %s", attr);
    struct sim_counts c = sim_counts(attr);
    assert_int_equal(c.reads, 0);
    assert_int_equal(c.writes, 0);

    char buf[8192];
    int fd = sim_open_or_fail(attr, O_RDONLY);
    ssize_t first = sim_rc(read(fd, buf, sizeof buf));
    struct sim_counts after_first = sim_counts(attr);
    ssize_t at_eof = sim_rc(read(fd, buf, sizeof buf));
    struct sim_counts after_eof = sim_counts(attr);
    ssize_t again = sim_rc(pread(fd, buf, sizeof buf, 0));
    struct sim_counts after_pread = sim_counts(attr);
    close(fd);

    sim_assert_result(first, (ssize_t)len);
    assert_int_equal(after_first.reads, 1);
    sim_assert_result(at_eof, 0);
    assert_int_equal(after_eof.reads, 1);
    sim_assert_result(again, (ssize_t)len);
    assert_int_equal(after_pread.reads, 2);
    assert_int_equal(after_pread.writes, 0);

    /* Any alias names the same attribute and the same counters. */
    sim_assert_result(sim_read_attr(T4_PARENT "/" T4_DEV1 "/migration_version", buf, sizeof buf),
                      (ssize_t)len);
    assert_int_equal(sim_counts(attr).reads, 3);
    assert_int_equal(sim_counts(T4_PARENT "/" T4_DEV1 "/migration_version").reads, 3);
}

/* ---- migration_version: writes ---------------------------------------- */

/* Shells write with `>`, which opens with O_TRUNC: kernfs accepts it and
 * no store() happens until the write. */
static void test_open_trunc_accepted(void **state)
{
    (void)state;
    const char *attr = T4_PARENT "/" T4_DEV1 "/migration_version";
    struct sim_counts before = sim_counts(attr);

    int fd = open(sim_path(attr), O_WRONLY | O_TRUNC | O_CLOEXEC);
    ssize_t opened = sim_rc(fd);
    struct sim_counts after_open = sim_counts(attr);
    ssize_t wrote = fd >= 0 ? sim_rc(write(fd, T4_222_OLDER "\n", strlen(T4_222_OLDER "\n"))) : 0;
    if (fd >= 0)
        close(fd);
    sim_assert_result(opened >= 0 ? 0 : opened, 0);
    assert_int_equal(after_open.writes, before.writes);
    sim_assert_result(wrote, (ssize_t)strlen(T4_222_OLDER "\n"));

    fd = open(sim_path(attr), O_WRONLY | O_TRUNC | O_CLOEXEC);
    opened = sim_rc(fd);
    wrote = fd >= 0 ? sim_rc(write(fd, T4_222_NEWER "\n", strlen(T4_222_NEWER "\n"))) : 0;
    if (fd >= 0)
        close(fd);
    sim_assert_result(opened >= 0 ? 0 : opened, 0);
    sim_assert_result(wrote, -EINVAL);

    /* Truncating changed nothing the driver shows. */
    char buf[256];
    sim_read_attr(attr, buf, sizeof buf);
    assert_string_equal(buf, T4_222_VERSION "\n");
}

static void test_write_is_one_store_call(void **state)
{
    (void)state;
    const char *attr = BUS_DEV(T4_DEV1) "/migration_version";
    struct sim_counts before = sim_counts(attr);
    sim_assert_result(sim_write_str(attr, T4_222_VERSION "\n"),
                      (ssize_t)strlen(T4_222_VERSION "\n"));
    struct sim_counts after = sim_counts(attr);
    assert_int_equal(after.writes, before.writes + 1);
    assert_int_equal(after.reads, before.reads);

    /* Without the newline too: the rule judges the string, not the \n. */
    sim_assert_result(sim_write_str(attr, T4_222_VERSION), (ssize_t)strlen(T4_222_VERSION));
    assert_int_equal(sim_counts(attr).writes, before.writes + 2);
}

/* kernfs hands store() one page: a longer write is short, not split. */
static void test_long_write_is_short_single_store(void **state)
{
    (void)state;
    const char *dir = BUS_DEV(T4_DEV2); /* migration names the device's dir */
    const char *attr = BUS_DEV(T4_DEV2) "/migration_version";
    /* A driver that accepts the first page: 4095 'a' and a newline. */
    static char entry[SIM_STORE_MAX];
    memset(entry, 'a', SIM_STORE_MAX - 1);
    entry[SIM_STORE_MAX - 1] = '\0';
    sim_ctl_ok(NULL, 0,
               "migration %s {\"version\":\"v-1.0\",\"accept\":\"list\",\"accept_list\":[\"%s\"]}",
               dir, entry);

    static char buf[5000];
    memset(buf, 'a', SIM_STORE_MAX - 1);
    buf[SIM_STORE_MAX - 1] = '\n';
    memset(buf + SIM_STORE_MAX, 'b', sizeof buf - SIM_STORE_MAX);

    struct sim_counts before = sim_counts(attr);
    ssize_t wrote = sim_write_attr(attr, buf, sizeof buf);
    struct sim_counts after = sim_counts(attr);
    sim_ctl_ok(NULL, 0, "migration %s \"inherit\"", dir);
    sim_assert_result(wrote, SIM_STORE_MAX);
    assert_int_equal(after.writes, before.writes + 1);
}

/* ---- faults injected through the control channel ---------------------- */

static void test_fault_read_eio_once(void **state)
{
    (void)state;
    const char *attr = BUS_DEV(T4_DEV3) "/migration_version";
    char buf[256];
    sim_ctl_ok(NULL, 0, "clear %s", attr);
    sim_ctl_ok(NULL, 0, "fault %s read EIO 1", attr);
    ssize_t failed = sim_read_attr(attr, buf, sizeof buf);
    ssize_t next = sim_read_attr(attr, buf, sizeof buf);
    sim_ctl_ok(NULL, 0, "clear %s", attr);
    sim_assert_result(failed, -EIO);
    sim_assert_result(next, (ssize_t)strlen(T4_223_VERSION "\n"));
    assert_string_equal(buf, T4_223_VERSION "\n");
}

static void test_fault_write_enospc_twice(void **state)
{
    (void)state;
    const char *attr = T4_D8_223 "/migration_version";
    const char *v = T4_223_VERSION "\n";
    sim_ctl_ok(NULL, 0, "clear %s", attr);
    sim_ctl_ok(NULL, 0, "fault %s write ENOSPC 2", attr);
    ssize_t r1 = sim_write_str(attr, v);
    ssize_t r2 = sim_write_str(attr, v);
    ssize_t r3 = sim_write_str(attr, v);
    sim_ctl_ok(NULL, 0, "clear %s", attr);
    sim_assert_result(r1, -ENOSPC);
    sim_assert_result(r2, -ENOSPC);
    sim_assert_result(r3, (ssize_t)strlen(v));
}

/* ---- create ----------------------------------------------------------- */

static void test_create_uuid_36(void **state)
{
    (void)state;
    long avail = sim_read_long(T4_222 "/available_instances");
    sim_assert_result(sim_write_str(T4_222 "/create", NEW_36), 36);
    sim_assert_is_dir(BUS_DEV(NEW_36));
    sim_assert_is_dir(T4_PARENT "/" NEW_36);
    sim_assert_is_dir(T4_222 "/devices/" NEW_36);
    assert_int_equal(sim_read_long(T4_222 "/available_instances"), avail - 1);
}

/* `echo UUID > create` writes 37 bytes. */
static void test_create_uuid_37_newline(void **state)
{
    (void)state;
    sim_assert_result(sim_write_str(T4_222 "/create", NEW_37 "\n"), 37);
    sim_assert_is_dir(BUS_DEV(NEW_37));
}

static void test_create_upper_case_stored_lower(void **state)
{
    (void)state;
    sim_assert_result(sim_write_str(T4_222 "/create", NEW_UPPER), 36);
    sim_assert_is_dir(BUS_DEV(NEW_LOWER));
    sim_assert_is_dir(T4_PARENT "/" NEW_LOWER);
    struct stat st;
    sim_assert_result(sim_rc(stat(sim_path(BUS_DEV(NEW_UPPER)), &st)), -ENOENT);
}

/* UUIDs are one namespace (bus/mdev/devices), across types and parents. */
static void test_create_duplicate_eexist(void **state)
{
    (void)state;
    sim_assert_result(sim_write_str(T4_222 "/create", T4_DEV1), -EEXIST);
    sim_assert_result(sim_write_str(T4_222 "/create", T4_DEV1 "\n"), -EEXIST);
    sim_assert_result(sim_write_str(T4_222 "/create", "C1A7F3D2-5B7E-4A51-9D0C-3E2F1A6B8C01"),
                      -EEXIST);
    sim_assert_result(sim_write_str(T4_D8_222 "/create", T4_DEV1), -EEXIST);
}

static void test_create_malformed_einval(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "7a6b5c4d-1e2f-4a3b-8c9d-00000000003",      /* 35 characters */
        "7a6b5c4d-1e2f-4a3b-8c9d-00000000003g",     /* not hex */
        "7a6b5c4d01e2f-4a3b-8c9d-000000000031",     /* a dash missing */
        "7a6b5c4d-1e2f-4a3b-8c9d-000000000031\n\n", /* 38 bytes */
        "7a6b5c4d-1e2f-4a3b-8c9d-000000000031ab",   /* 38 characters */
        "7a6b5c4d-1e2f-4a3b-8c9d-000000000031x",    /* 37, not a newline */
    };
    long avail = sim_read_long(T4_222 "/available_instances");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssize_t r = sim_write_str(T4_222 "/create", bad[i]);
        if (r != -EINVAL)
            print_error("create \"%s\" (%zu bytes)\n", bad[i], strlen(bad[i]));
        sim_assert_result(r, -EINVAL);
    }
    assert_int_equal(sim_read_long(T4_222 "/available_instances"), avail);
}

static void test_create_exhausted_enospc(void **state)
{
    (void)state;
    assert_int_equal(sim_read_long(T4_234 "/available_instances"), 1);
    sim_assert_result(sim_write_str(T4_234 "/create", NEW_234), 36);
    assert_int_equal(sim_read_long(T4_234 "/available_instances"), 0);
    sim_assert_result(sim_write_str(T4_234 "/create", NEW_234_2), -ENOSPC);
    struct stat st;
    sim_assert_result(sim_rc(stat(sim_path(BUS_DEV(NEW_234_2)), &st)), -ENOENT);
}

/* ---- remove ----------------------------------------------------------- */

static void test_remove_one_gone_at_once(void **state)
{
    (void)state;
    sim_assert_result(sim_write_str(T4_222 "/create", RM_ONE), 36);
    sim_assert_is_dir(BUS_DEV(RM_ONE));
    long avail = sim_read_long(T4_222 "/available_instances");

    sim_assert_result(sim_write_str(BUS_DEV(RM_ONE) "/remove", "1"), 1);
    /* Straight after: a cached entry would still answer here. */
    struct stat st;
    sim_assert_result(sim_rc(stat(sim_path(BUS_DEV(RM_ONE)), &st)), -ENOENT);
    sim_assert_result(sim_rc(lstat(sim_path(BUS_DEV(RM_ONE)), &st)), -ENOENT);
    sim_assert_result(sim_rc(stat(sim_path(T4_PARENT "/" RM_ONE), &st)), -ENOENT);
    sim_assert_result(sim_rc(lstat(sim_path(T4_222 "/devices/" RM_ONE), &st)), -ENOENT);
    assert_int_equal(sim_read_long(T4_222 "/available_instances"), avail + 1);
}

static void test_remove_zero_noop(void **state)
{
    (void)state;
    sim_assert_result(sim_write_str(T4_222 "/create", RM_ZERO), 36);
    sim_assert_result(sim_write_str(BUS_DEV(RM_ZERO) "/remove", "0"), 1);
    sim_assert_result(sim_write_str(BUS_DEV(RM_ZERO) "/remove", "0\n"), 2);
    sim_assert_is_dir(BUS_DEV(RM_ZERO));
}

static void test_remove_other_einval(void **state)
{
    (void)state;
    sim_assert_result(sim_write_str(T4_222 "/create", RM_OTHER), 36);
    sim_assert_result(sim_write_str(BUS_DEV(RM_OTHER) "/remove", "x"), -EINVAL);
    sim_assert_is_dir(BUS_DEV(RM_OTHER));
}

/* A consumer that opened the attribute before the device went away. */
static void test_removed_device_open_file_enodev(void **state)
{
    (void)state;
    const char *attr = BUS_DEV(RM_KEPT) "/migration_version";
    sim_assert_result(sim_write_str(T4_222 "/create", RM_KEPT), 36);
    int rfd = sim_open_or_fail(attr, O_RDONLY);
    int wfd = sim_open_or_fail(attr, O_WRONLY);
    ssize_t removed = sim_write_str(T4_PARENT "/" RM_KEPT "/remove", "1");
    char buf[256];
    ssize_t r = sim_rc(pread(rfd, buf, sizeof buf, 0));
    ssize_t w = sim_rc(write(wfd, T4_222_VERSION "\n", strlen(T4_222_VERSION "\n")));
    close(rfd);
    close(wfd);
    sim_assert_result(removed, 1);
    sim_assert_result(r, -ENODEV);
    sim_assert_result(w, -ENODEV);
}

/* ---- links ------------------------------------------------------------ */

static void test_readlink_device_links(void **state)
{
    (void)state;
    sim_assert_link(BUS_DEV(T4_DEV1), "../../../devices/" T4_PARENT_TARGET "/" T4_DEV1,
                    T4_PARENT "/" T4_DEV1);
    sim_assert_link(T4_PARENT "/" T4_DEV1 "/mdev_type", "../mdev_supported_types/nvidia-222",
                    T4_222);
    sim_assert_link(T4_PARENT "/" T4_DEV1 "/iommu_group",
                    "../../../../../kernel/iommu_groups/" T4_DEV1_GROUP,
                    "sys/kernel/iommu_groups/" T4_DEV1_GROUP);
    /* Through the bus alias, as mdevctl reads it. */
    sim_assert_link(BUS_DEV(T4_DEV1) "/mdev_type", "../mdev_supported_types/nvidia-222", T4_222);
}

static void test_readlink_other_links(void **state)
{
    (void)state;
    sim_assert_link("sys/class/mdev_bus/0000:3b:00.0", "../../devices/" T4_PARENT_TARGET,
                    T4_PARENT);
    sim_assert_link(T4_222 "/devices/" T4_DEV1, "../../../" T4_DEV1, T4_PARENT "/" T4_DEV1);
    sim_assert_link("sys/kernel/iommu_groups/" T4_DEV1_GROUP "/devices/" T4_DEV1,
                    "../../../../devices/" T4_PARENT_TARGET "/" T4_DEV1, T4_PARENT "/" T4_DEV1);
    sim_assert_link(T4_PARENT "/" T4_DEV1 "/subsystem", "../../../../../bus/mdev", "sys/bus/mdev");
}

/* ---- mtty.json: list and exact rules, custom refuse errno ------------- */

static void test_read_device_rule_overrides_type(void **state)
{
    (void)state;
    char buf[256];
    sim_read_attr(BUS_DEV(MTTY_DEV) "/migration_version", buf, sizeof buf);
    assert_string_equal(buf, "mtty-2-dev-v2\n");
    sim_read_attr(MTTY_TYPES "/mtty-2/migration_version", buf, sizeof buf);
    assert_string_equal(buf, "mtty-2-v2\n");
}

static void test_write_refused_default_einval(void **state)
{
    (void)state;
    const char *attr = BUS_DEV(MTTY_DEV) "/migration_version";
    struct sim_counts before = sim_counts(attr);
    /* The device's own exact rule, not its type's list, judges. */
    sim_assert_result(sim_write_str(attr, "mtty-2-v2\n"), -EINVAL);
    assert_int_equal(sim_counts(attr).writes, before.writes + 1);
    sim_assert_result(sim_write_str(attr, "mtty-2-dev-v2"), 13);
    sim_assert_result(sim_write_str(MTTY_TYPES "/mtty-1/migration_version", "mtty-1-v1\n"), 10);
    sim_assert_result(sim_write_str(MTTY_TYPES "/mtty-1/migration_version", "mtty-1-v3\n"),
                      -EINVAL);
}

static void test_write_refused_custom_errno(void **state)
{
    (void)state;
    const char *attr = MTTY_TYPES "/mtty-2/migration_version";
    struct sim_counts before = sim_counts(attr);
    sim_assert_result(sim_write_str(attr, "mtty-2-v1\n"), -EOPNOTSUPP);
    assert_int_equal(sim_counts(attr).writes, before.writes + 1);
    sim_assert_result(sim_write_str(attr, "mtty-2-v2\n"), 10);
    assert_int_equal(sim_counts(attr).writes, before.writes + 2);
}

/* ---- readfail.json: i915 on an unsupported generation ----------------- */

static void test_read_errno_enodev(void **state)
{
    (void)state;
    static const char *const attrs[] = {RF_TYPE "/migration_version",
                                        BUS_DEV(RF_DEV) "/migration_version"};
    for (size_t i = 0; i < 2; i++) {
        char buf[256];
        sim_assert_result(sim_open_result(attrs[i], O_RDONLY), 0);
        sim_assert_result(sim_read_attr(attrs[i], buf, sizeof buf), -ENODEV);
        /* write_errno defaults to read_errno, as GVT-g fails both. */
        sim_assert_result(sim_write_str(attrs[i], "8086-1912-GVTg_V4_2-00000001\n"), -ENODEV);
    }
}

static void test_create_exhausted_custom_errno(void **state)
{
    (void)state;
    sim_assert_result(sim_write_str(RF_TYPE "/create", RF_NEW), 36);
    sim_assert_result(sim_write_str(RF_TYPE "/create", RF_NEW_2), -EBUSY);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MDEVSIM_BINARY FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    sim_binary = argv[1];
    sim_fixtures = argv[2];
    if (access(sim_binary, X_OK) < 0) {
        fprintf(stderr, "test_syscalls: %s: %s\n", sim_binary, strerror(errno));
        return 1;
    }
    struct sigaction sa = {.sa_handler = sim_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    const struct CMUnitTest t4_tests[] = {
        cmocka_unit_test(test_open_write_only_attr_for_reading_eacces),
        cmocka_unit_test(test_open_read_only_attr_for_writing_eacces),
        cmocka_unit_test(test_create_file_in_type_dir_eacces),
        cmocka_unit_test(test_mkdir_eperm),
        cmocka_unit_test(test_unlink_attr_eperm),
        cmocka_unit_test(test_rename_symlink_link_mknod_eperm),
        cmocka_unit_test(test_attribute_modes),
        cmocka_unit_test(test_readlink_device_links),
        cmocka_unit_test(test_readlink_other_links),
        cmocka_unit_test(test_read_version_with_newline),
        cmocka_unit_test(test_counts_reads_at_offset_zero_only),
        cmocka_unit_test(test_open_trunc_accepted),
        cmocka_unit_test(test_write_is_one_store_call),
        cmocka_unit_test(test_long_write_is_short_single_store),
        cmocka_unit_test(test_fault_read_eio_once),
        cmocka_unit_test(test_fault_write_enospc_twice),
        cmocka_unit_test(test_read_capped_at_4095),
        cmocka_unit_test(test_create_uuid_36),
        cmocka_unit_test(test_create_uuid_37_newline),
        cmocka_unit_test(test_create_upper_case_stored_lower),
        cmocka_unit_test(test_create_duplicate_eexist),
        cmocka_unit_test(test_create_malformed_einval),
        cmocka_unit_test(test_create_exhausted_enospc),
        cmocka_unit_test(test_remove_one_gone_at_once),
        cmocka_unit_test(test_remove_zero_noop),
        cmocka_unit_test(test_remove_other_einval),
        cmocka_unit_test(test_removed_device_open_file_enodev),
    };
    const struct CMUnitTest mtty_tests[] = {
        cmocka_unit_test(test_read_device_rule_overrides_type),
        cmocka_unit_test(test_write_refused_default_einval),
        cmocka_unit_test(test_write_refused_custom_errno),
    };
    const struct CMUnitTest readfail_tests[] = {
        cmocka_unit_test(test_read_errno_enodev),
        cmocka_unit_test(test_create_exhausted_custom_errno),
    };

    int failed = 0;
    failed += cmocka_run_group_tests_name("mdevsim t4.json", t4_tests, sim_setup_t4, sim_teardown);
    failed +=
        cmocka_run_group_tests_name("mdevsim mtty.json", mtty_tests, sim_setup_mtty, sim_teardown);
    failed += cmocka_run_group_tests_name("mdevsim readfail.json", readfail_tests,
                                          sim_setup_readfail, sim_teardown);
    if (sim_teardown_failures > 0)
        fprintf(stderr, "test_syscalls: %d group teardown(s) failed\n", sim_teardown_failures);
    return failed != 0 || sim_teardown_failures != 0 ? 1 : 0;
}
