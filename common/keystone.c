/*
 * keystone — gets and caches a project-scoped Keystone v3 token by
 * password (POST /v3/auth/tokens). The token is the X-Subject-Token
 * header of the 201 reply; its lifetime is the body's token.expires_at.
 * One mutex covers the cache and the request (on an HTTP session of its
 * own, http_client.h), so threads that find the token stale at once cause
 * one request, not one each.
 */
#include "keystone.h"

#include "http_client.h"
#include "http_url.h"
#include "log.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYSTONE_CONNECT_TIMEOUT_MS 2000L
#define KEYSTONE_TIMEOUT_MS         10000L
/* A token reply carries the service catalog: tens of KiB at most. */
#define KEYSTONE_REPLY_MAX (1024 * 1024)

struct keystone {
    pthread_mutex_t lock;
    char *tokens_url; /* .../v3/auth/tokens */
    char *body;       /* the auth request, with the password: wiped on free */
    struct http_session *http;

    char token[KEYSTONE_TOKEN_MAX]; /* cached; "" when none */
    time_t expires_at;              /* wall clock */
    unsigned long issued;
};

/* "2026-11-25T22:55:34.000000Z" as unix time; -1 when unreadable. */
static time_t keystone_parse_time(const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return -1;
    return timegm(&tm);
}

/* The reason Keystone gives: {"error": {"code", "title", "message"}}. */
static void keystone_reason(const struct http_call *call, char *out, size_t outlen)
{
    json_t *json = json_loadb(call->response, call->response_len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(json, "error"), "message"));
    if (msg != NULL) {
        snprintf(out, outlen, "%s", msg);
    } else {
        size_t n = 0;
        for (size_t i = 0; i < call->response_len && n + 1 < outlen && n < 200; i++) {
            unsigned char ch = (unsigned char)call->response[i];
            out[n++] = isprint(ch) ? (char)ch : ' ';
        }
        out[n] = '\0';
        if (n == 0)
            snprintf(out, outlen, "no reason given");
    }
    json_decref(json);
}

/* Ask Keystone for a new token; caller holds the lock. */
static int keystone_issue(struct keystone *ks, char *err, size_t errlen)
{
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    struct http_call call = {
        .url = ks->tokens_url,
        .method = "POST",
        .body = ks->body,
        .body_len = strlen(ks->body),
        .headers = headers,
        .reply_header = "X-Subject-Token",
    };
    int rc = -1;
    if (http_session_call(ks->http, &call) < 0) {
        snprintf(err, errlen, "%s: %s", ks->tokens_url, call.error);
        goto out;
    }
    if (call.status != 201 && call.status != 200) {
        char why[400];
        keystone_reason(&call, why, sizeof why);
        snprintf(err, errlen, "%s: HTTP %d: %s%s", ks->tokens_url, call.status, why,
                 call.status == 401 ? " (check the user, password file, project and domains)" : "");
        goto out;
    }
    json_t *json = json_loadb(call.response, call.response_len, 0, NULL);
    const char *expires =
        json_string_value(json_object_get(json_object_get(json, "token"), "expires_at"));
    time_t at = expires != NULL ? keystone_parse_time(expires) : -1;
    char until[64];
    snprintf(until, sizeof until, "%s", expires != NULL ? expires : "");
    json_decref(json);
    const char *subject = call.reply_header_value;
    if (subject == NULL || subject[0] == '\0' || strlen(subject) >= sizeof ks->token || at < 0) {
        snprintf(err, errlen, "%s: reply lacks X-Subject-Token or token.expires_at",
                 ks->tokens_url);
        goto out;
    }
    /* The token goes out again inside Placement's X-Auth-Token header: a
     * CR or another control byte (curl passes a bare CR through) would
     * write headers of its own. Fernet and JWS tokens are visible ASCII. */
    for (const unsigned char *c = (const unsigned char *)subject; *c != '\0'; c++) {
        if (*c <= 0x20 || *c >= 0x7f) {
            snprintf(err, errlen,
                     "%s: X-Subject-Token holds a control, space or non-ASCII byte (0x%02x): "
                     "refused",
                     ks->tokens_url, *c);
            goto out;
        }
    }
    memcpy(ks->token, subject, strlen(subject) + 1);
    ks->expires_at = at;
    ks->issued++;
    log_info("keystone: new token from %s, valid until %s", ks->tokens_url, until);
    rc = 0;
out:
    http_calls_reset(&call, 1); /* wipes the token's copy too */
    return rc;
}

int keystone_token(struct keystone *ks, const char *stale, char *out, size_t outlen, char *err,
                   size_t errlen)
{
    pthread_mutex_lock(&ks->lock);
    time_t now = time(NULL);
    bool usable = ks->token[0] != '\0' && ks->expires_at - now > KEYSTONE_RENEW_MARGIN_S;
    /* Refused with the token we still hold: it is void, whatever its
     * expiry says. Refused with an older one: someone renewed already. */
    if (usable && stale != NULL && strcmp(stale, ks->token) == 0)
        usable = false;
    int rc = 0;
    if (!usable) {
        ks->token[0] = '\0';
        rc = keystone_issue(ks, err, errlen);
    }
    if (rc == 0) {
        if (strlen(ks->token) >= outlen) {
            snprintf(err, errlen, "Keystone token longer than %zu bytes", outlen - 1);
            rc = -1;
        } else {
            memcpy(out, ks->token, strlen(ks->token) + 1);
        }
    }
    pthread_mutex_unlock(&ks->lock);
    return rc;
}

unsigned long keystone_issued(struct keystone *ks)
{
    pthread_mutex_lock(&ks->lock);
    unsigned long n = ks->issued;
    pthread_mutex_unlock(&ks->lock);
    return n;
}

static json_t *keystone_request_body(const struct keystone_options *o)
{
    const char *udom = o->user_domain != NULL ? o->user_domain : "Default";
    const char *pdom = o->project_domain != NULL ? o->project_domain : "Default";
    return json_pack("{s:{s:{s:[s],s:{s:{s:s,s:{s:s},s:s}}},s:{s:{s:s,s:{s:s}}}}}", "auth",
                     "identity", "methods", "password", "password", "user", "name", o->username,
                     "domain", "name", udom, "password", o->password, "scope", "project", "name",
                     o->project, "domain", "name", pdom);
}

struct keystone *keystone_new(const struct keystone_options *opts, char *err, size_t errlen)
{
    const char *missing = opts->auth_url == NULL   ? "auth URL"
                          : opts->username == NULL ? "user name"
                          : opts->password == NULL ? "password"
                          : opts->project == NULL  ? "project"
                                                   : NULL;
    if (missing != NULL) {
        snprintf(err, errlen, "Keystone: no %s given", missing);
        return NULL;
    }
    char why[200];
    if (http_url_check_base(opts->auth_url, why, sizeof why) < 0) {
        snprintf(err, errlen, "Keystone auth URL \"%s\": %s", opts->auth_url, why);
        return NULL;
    }
    struct keystone *ks = calloc(1, sizeof *ks);
    if (ks == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* Operators give the auth URL with or without /v3 (as OS_AUTH_URL). */
    size_t n = strlen(opts->auth_url);
    while (n > 0 && opts->auth_url[n - 1] == '/')
        n--;
    bool has_v3 = n >= 3 && strncmp(opts->auth_url + n - 3, "/v3", 3) == 0;
    json_t *body = keystone_request_body(opts);
    if (asprintf(&ks->tokens_url, "%.*s%s/auth/tokens", (int)n, opts->auth_url,
                 has_v3 ? "" : "/v3") < 0)
        ks->tokens_url = NULL;
    ks->body = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body); /* holds the password too; jansson frees, cannot wipe */
    struct http_session_options so = {
        .connect_timeout_ms =
            opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : KEYSTONE_CONNECT_TIMEOUT_MS,
        .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : KEYSTONE_TIMEOUT_MS,
        .max_response = KEYSTONE_REPLY_MAX,
        .user_agent = "mdevmig",
        .ca_file = opts->ca_file,
        .client_cert_file = opts->client_cert_file,
        .client_key_file = opts->client_key_file,
    };
    char why_http[256] = "out of memory";
    if (ks->tokens_url == NULL || ks->body == NULL ||
        (ks->http = http_session_new(&so, why_http, sizeof why_http)) == NULL ||
        pthread_mutex_init(&ks->lock, NULL) != 0) {
        snprintf(err, errlen, "Keystone: %s",
                 ks->http == NULL ? why_http : "cannot create a mutex");
        http_session_free(ks->http);
        free(ks->tokens_url);
        if (ks->body != NULL)
            explicit_bzero(ks->body, strlen(ks->body));
        free(ks->body);
        free(ks);
        return NULL;
    }
    return ks;
}

void keystone_free(struct keystone *ks)
{
    if (ks == NULL)
        return;
    http_session_free(ks->http);
    pthread_mutex_destroy(&ks->lock);
    explicit_bzero(ks->body, strlen(ks->body));
    explicit_bzero(ks->token, sizeof ks->token);
    free(ks->body);
    free(ks->tokens_url);
    free(ks);
}
