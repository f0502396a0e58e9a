/*
 * auth — the cluster token that authenticates collector <-> sched calls
 * (DESIGN.md §3 Trust): read from a file, compared in constant time.
 */
#ifndef MDEVMIG_AUTH_H
#define MDEVMIG_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_TOKEN_MAX 512

struct auth_token {
    char value[AUTH_TOKEN_MAX + 1];
    size_t len;
};

/* Read the token (surrounding whitespace dropped) from path. Refuses an
 * empty token, one with inner whitespace or control bytes, and a file that
 * others than its owner may read (it must be mode 0600 or stricter). */
int auth_token_load(const char *path, struct auth_token *out, char *err, size_t errlen);

/* Check an "Authorization: Bearer TOKEN" header value in constant time
 * (for the token's length). header may be NULL. */
bool auth_bearer_ok(const struct auth_token *token, const char *header);

#endif
