/*
 * auth — bearer tokens. The comparison takes the same time whatever the
 * first differing byte is, so a peer cannot guess the token byte by byte.
 */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int auth_token_load(const char *path, struct auth_token *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "token file %s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errlen, "token file %s: mode %03o lets others read it; chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    char buf[AUTH_TOKEN_MAX + 64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int saved = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "token file %s: %s", path, strerror(saved));
        return -1;
    }
    buf[n] = '\0';
    char *start = buf;
    while (*start != '\0' && isspace((unsigned char)*start))
        start++;
    size_t len = strlen(start);
    while (len > 0 && isspace((unsigned char)start[len - 1]))
        len--;
    if (len == 0) {
        snprintf(err, errlen, "token file %s is empty", path);
        return -1;
    }
    if (len > AUTH_TOKEN_MAX) {
        snprintf(err, errlen, "token in %s is longer than %d bytes", path, AUTH_TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isgraph((unsigned char)start[i])) {
            snprintf(err, errlen, "token in %s has whitespace or a control byte at %zu", path, i);
            return -1;
        }
    }
    memcpy(out->value, start, len);
    out->len = len;
    return 0;
}

bool auth_bearer_ok(const struct auth_token *token, const char *header)
{
    static const char prefix[] = "Bearer ";
    if (header == NULL || strncmp(header, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *given = header + sizeof prefix - 1;
    size_t given_len = strlen(given);
    /* Compare equal-length buffers only; the length itself is not secret. */
    if (given_len != token->len)
        return false;
    return CRYPTO_memcmp(given, token->value, token->len) == 0;
}
