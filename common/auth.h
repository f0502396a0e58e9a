/*
 * auth — the cluster token that authenticates collector <-> sched calls
 * (DESIGN.md §3 Trust): read from a file, compared in constant time.
 */
#ifndef MDEVMIG_AUTH_H
#define MDEVMIG_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define AUTH_TOKEN_MAX 512

struct auth_token {
    char value[AUTH_TOKEN_MAX + 1];
    size_t len;
};

/* Read the token (surrounding whitespace dropped) from path. Refuses an
 * empty token, one with inner whitespace or control bytes, anything but a
 * regular file, and a file others may use or its group may write (0600,
 * or 0640 for a group such as nova: keyfile.h). */
int auth_token_load(const char *path, struct auth_token *out, char *err, size_t errlen);

/* Check an "Authorization: Bearer TOKEN" header value in constant time
 * (for the token's length). header may be NULL. */
bool auth_bearer_ok(const struct auth_token *token, const char *header);

/* The token a daemon checks requests against, which a reload (SIGHUP) may
 * replace while requests are being checked. */
struct auth_current {
    pthread_rwlock_t lock;
    struct auth_token token;
};

int auth_current_init(struct auth_current *a);
void auth_current_destroy(struct auth_current *a);
void auth_current_set(struct auth_current *a, const struct auth_token *token);
/* auth_bearer_ok against the token in force. */
bool auth_current_ok(struct auth_current *a, const char *header);

#endif
