/*
 * keystone — Keystone v3 password authentication for clients of OpenStack
 * services (Placement): POST /v3/auth/tokens scoped to a project, the
 * token (X-Subject-Token) cached until shortly before its expires_at, and
 * a fresh one on demand when a service refuses the cached one (401).
 *
 * Thread-safe: callers share one token.
 */
#ifndef MDEVMIG_KEYSTONE_H
#define MDEVMIG_KEYSTONE_H

#include <stdbool.h>
#include <stddef.h>

/* A token within this many seconds of expiring is renewed before use, so
 * it cannot expire between being handed out and being checked. */
#define KEYSTONE_RENEW_MARGIN_S 120

/* Fernet tokens are about 200 bytes; JWS ones under 1 KiB. */
#define KEYSTONE_TOKEN_MAX 4096

struct keystone_options {
    const char *auth_url; /* e.g. http://controller:5000/v3 (a trailing /v3 is optional) */
    const char *username;
    const char *password;         /* copied; wiped on free */
    const char *user_domain;      /* domain name; NULL: "Default" */
    const char *project;          /* project name the token is scoped to */
    const char *project_domain;   /* NULL: "Default" */
    const char *ca_file;          /* for https://; NULL: system CAs */
    const char *client_cert_file; /* presented to a server that asks (mutual TLS); NULL: none */
    const char *client_key_file;  /* NULL: in client_cert_file */
    long connect_timeout_ms;      /* 0: 2000 */
    long timeout_ms;              /* 0: 10000 */
};

struct keystone;

struct keystone *keystone_new(const struct keystone_options *opts, char *err, size_t errlen);
void keystone_free(struct keystone *ks);

/* The token to send as X-Auth-Token: the cached one while it is valid for
 * more than KEYSTONE_RENEW_MARGIN_S, else a new one. renew: the caller was
 * refused with the token it last got (stale) — get a new one unless
 * another thread already did. 0, or -1 with a message. */
int keystone_token(struct keystone *ks, const char *stale, char *out, size_t outlen, char *err,
                   size_t errlen);

/* Tokens issued to this client so far (for /metrics and tests). */
unsigned long keystone_issued(struct keystone *ks);

#endif
