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

/* "mode 664 lets others read it and its group write it; chmod g-w,o-rwx
 * it": each permission named, so the operator sees what was wrong, and the
 * one chmod that fixes all of it. */
static void keyfile_mode_fault(unsigned mode, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *word;
    } perms[] = {{04, "read"}, {02, "write"}, {01, "execute"}};
    size_t count = 0, said = 0;
    for (size_t i = 0; i < 3; i++)
        count += (mode & perms[i].bit) != 0;
    /* "others read, write and execute it" */
    char others[48] = "";
    size_t used = 0;
    for (size_t i = 0; i < 3; i++) {
        if ((mode & perms[i].bit) == 0)
            continue;
        const char *sep = said == 0 ? "others " : said + 1 == count ? " and " : ", ";
        used += (size_t)snprintf(others + used, sizeof others - used, "%s%s", sep, perms[i].word);
        said++;
    }
    bool group_write = (mode & 020) != 0;
    snprintf(buf, len, "mode %03o lets %s%s%s%s; chmod %s%s%s it", mode & 0777, others,
             count > 0 ? " it" : "", count > 0 && group_write ? " and " : "",
             group_write ? "its group write it" : "", group_write ? "g-w" : "",
             count > 0 && group_write ? "," : "", count > 0 ? "o-rwx" : "");
}

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
    /* The rule of DESIGN.md §7: nothing for others, and no group write (a
     * member of the group could replace the secret with one it knows); group
     * read is the operator's way to share it with one service user (e.g.
     * root:nova 0640 for nova-scheduler). */
    if (secret && (st.st_mode & KEYFILE_FORBIDDEN) != 0) {
        char why[96];
        keyfile_mode_fault((unsigned)st.st_mode, why, sizeof why);
        snprintf(err, errlen, "%s %s: %s (0600, or 0640 for a group that reads it)", what, path,
                 why);
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
