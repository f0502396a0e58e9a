/*
 * keyfile — one read path for every secret and certificate, so the rules of
 * §7 hold everywhere a daemon loads one: at start and on every SIGHUP.
 */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int keyfile_read(const char *path, const char *what, bool secret, size_t max, char **out,
                 size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer forever. It has no effect on a regular file's reads. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s %s: not a regular file", what, path);
        close(fd);
        return -1;
    }
    if (secret && (st.st_mode & 007) != 0) {
        snprintf(err, errlen,
                 "%s %s: mode %03o lets others read it; chmod o-rwx it (0600, or 0640 for a "
                 "group)",
                 what, path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    if ((size_t)st.st_size > max) {
        snprintf(err, errlen, "%s %s: larger than %zu bytes", what, path, max);
        close(fd);
        return -1;
    }
    char *buf = malloc(max + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "%s %s: out of memory", what, path);
        close(fd);
        return -1;
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, max + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
            break;
        }
        if (n == 0) {
            close(fd);
            buf[got] = '\0';
            *out = buf;
            *len = got;
            return 0;
        }
        got += (size_t)n;
        if (got > max) {
            snprintf(err, errlen, "%s %s: larger than %zu bytes", what, path, max);
            break;
        }
    }
    close(fd);
    if (secret)
        explicit_bzero(buf, got < max + 1 ? got : max + 1);
    free(buf);
    return -1;
}
