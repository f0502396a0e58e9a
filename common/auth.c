/*
 * auth — bearer tokens. The comparison takes the same time whatever the
 * first differing byte is, so a peer cannot guess the token byte by byte.
 */
#include "auth.h"

#include "keyfile.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int auth_token_load(const char *path, struct auth_token *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    size_t n = 0;
    if (keyfile_read(path, "token file", true, AUTH_TOKEN_MAX + 64, &buf, &n, err, errlen) < 0)
        return -1;
    char *start = buf;
    while (*start != '\0' && isspace((unsigned char)*start))
        start++;
    size_t len = strlen(start);
    while (len > 0 && isspace((unsigned char)start[len - 1]))
        len--;
    int rc = -1;
    if (len == 0) {
        snprintf(err, errlen, "token file %s is empty", path);
    } else if (len > AUTH_TOKEN_MAX) {
        snprintf(err, errlen, "token in %s is longer than %d bytes", path, AUTH_TOKEN_MAX);
    } else {
        rc = 0;
        for (size_t i = 0; i < len && rc == 0; i++) {
            if (!isgraph((unsigned char)start[i])) {
                snprintf(err, errlen, "token in %s has whitespace or a control byte at %zu", path,
                         i);
                rc = -1;
            }
        }
    }
    if (rc == 0) {
        memcpy(out->value, start, len);
        out->len = len;
    }
    explicit_bzero(buf, n);
    free(buf);
    return rc;
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

int auth_current_init(struct auth_current *a)
{
    memset(&a->token, 0, sizeof a->token);
    return pthread_rwlock_init(&a->lock, NULL) == 0 ? 0 : -1;
}

void auth_current_destroy(struct auth_current *a)
{
    explicit_bzero(&a->token, sizeof a->token);
    pthread_rwlock_destroy(&a->lock);
}

void auth_current_set(struct auth_current *a, const struct auth_token *token)
{
    pthread_rwlock_wrlock(&a->lock);
    a->token = *token;
    pthread_rwlock_unlock(&a->lock);
}

bool auth_current_ok(struct auth_current *a, const char *header)
{
    pthread_rwlock_rdlock(&a->lock);
    bool ok = auth_bearer_ok(&a->token, header);
    pthread_rwlock_unlock(&a->lock);
    return ok;
}
