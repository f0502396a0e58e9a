/*
 * probe — one open/write/close on the attribute. Nothing else runs on this
 * path: no logging, no allocation, so the measured time is the driver's.
 */
#include "probe.h"

#include "attrdir.h"

#include "verdict.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long probe_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

void probe_write(struct attrdir *dirs, const char *attr_dir, const char *version, size_t len,
                 struct probe_outcome *out)
{
    memset(out, 0, sizeof *out);
    char buf[VERSION_MAX + 2];
    if (len > VERSION_MAX)
        len = VERSION_MAX;
    memcpy(buf, version, len);
    buf[len] = '\n';
    out->write_us = -1;
    long start = probe_now_us();
    /* O_NOFOLLOW: a kernel attribute is never a symlink; one planted in
     * a tree that is not real sysfs must not lead the write elsewhere. */
    int fd = attrdir_open(dirs, attr_dir, "migration_version", O_WRONLY | O_NOFOLLOW);
    if (fd < 0) {
        /* Only store() answers for the driver; an open that fails for any
         * other reason than a missing attribute never reached it. */
        out->err = -fd;
        out->verdict = out->err == ENOENT ? PROBE_UNSUPPORTED : PROBE_ERROR;
        if (out->err == ENOENT)
            out->err = 0;
        out->elapsed_us = probe_now_us() - start;
        return;
    }
    ssize_t n;
    long write_start = probe_now_us();
    do {
        n = write(fd, buf, len + 1);
    } while (n < 0 && errno == EINTR);
    int saved = errno;
    out->write_us = probe_now_us() - write_start;
    close(fd);
    out->elapsed_us = probe_now_us() - start;
    if (n < 0) {
        out->err = saved;
        out->verdict = probe_errno_is_transport(saved) ? PROBE_ERROR : PROBE_INCOMPATIBLE;
    } else if ((size_t)n != len + 1) {
        out->short_write = true;
        out->verdict = PROBE_INCOMPATIBLE;
    } else {
        out->verdict = PROBE_COMPATIBLE;
    }
}

const char *probe_verdict_name(enum probe_verdict verdict)
{
    switch (verdict) {
    case PROBE_COMPATIBLE:
        return verdict_name(VERDICT_COMPATIBLE);
    case PROBE_INCOMPATIBLE:
        return verdict_name(VERDICT_INCOMPATIBLE);
    case PROBE_UNSUPPORTED:
        return verdict_name(VERDICT_UNSUPPORTED);
    case PROBE_ERROR:
        return "error"; /* no verdict, so never a wire name: the reply is a 503 */
    }
    return "unknown";
}

bool probe_errno_is_transport(int err)
{
    switch (err) {
    case ENOTCONN:     /* the FUSE daemon is gone (until unmounted) */
    case ECONNABORTED: /* the FUSE connection was aborted mid-request */
    case ESTALE:       /* the file behind the handle went away underneath */
    case EBADF:        /* our descriptor, not the driver */
    case EFAULT:       /* our buffer, not the driver */
    case EINTR:        /* interrupted: the write never completed (after a retry) */
        return true;
    default:
        return false;
    }
}
