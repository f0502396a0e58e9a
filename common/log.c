/*
 * log — stderr lines: "TIME PROGRAM LEVEL: message". One write per line so
 * lines from several threads never interleave. When stderr is journald's
 * stream (a systemd service), a line is "<N>PROGRAM LEVEL: message"
 * instead: journald reads the syslog priority from <N>, so `journalctl -p
 * warning` works, and stamps the time itself.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "mdevmig";
static atomic_int log_threshold = LOG_LEVEL_INFO;
/* Decided by log_init; atomic as a reload may call it again while other
 * threads log. */
static atomic_bool log_journal = false;

static const char *const log_names[] = {"error", "warn", "info", "debug"};
static const char *const log_priorities[] = {SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG};

/* A decimal number from text up to exactly stop, where *end then points. */
static bool log_parse_number(const char *text, char stop, const char **end, unsigned long long *out)
{
    if (text[0] < '0' || text[0] > '9')
        return false;
    char *p = NULL;
    errno = 0;
    *out = strtoull(text, &p, 10);
    if (errno != 0 || *p != stop)
        return false;
    *end = p;
    return true;
}

/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is the
 * journal. A child inherits the variable even when its stderr was
 * redirected, so the variable alone does not say where stderr goes:
 * systemd.exec(5) has it compared with stderr itself. */
static bool log_stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    if (env == NULL)
        return false;
    unsigned long long dev, ino;
    const char *p = env;
    if (!log_parse_number(p, ':', &p, &dev) || !log_parse_number(p + 1, '\0', &p, &ino))
        return false;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *program, enum log_level level)
{
    log_program = program;
    atomic_store(&log_journal, log_stderr_is_journal());
    atomic_store(&log_threshold, (int)level);
}

void log_set_level(enum log_level level)
{
    atomic_store(&log_threshold, (int)level);
}

bool log_level_parse(const char *text, enum log_level *out)
{
    for (int i = 0; i <= LOG_LEVEL_DEBUG; i++) {
        if (strcmp(text, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

bool log_enabled(enum log_level level)
{
    return (int)level <= atomic_load(&log_threshold);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[2048];
    int n;
    if (atomic_load(&log_journal)) {
        n = snprintf(line, sizeof line, "%s%s %s: ", log_priorities[level], log_program,
                     log_names[level]);
    } else {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(tv.tv_usec / 1000), log_program, log_names[level]);
    }
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* stderr may be a pipe that closed; nothing useful to do about it. */
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}
