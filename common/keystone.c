/*
 * keystone — gets and caches a project-scoped Keystone v3 token by
 * password (POST /v3/auth/tokens). The token is the X-Subject-Token
 * header of the 201 reply; its lifetime is the body's token.expires_at.
 * One mutex covers the cache and the request, so threads that find the
 * token stale at once cause one request, not one each.
 */
#include "keystone.h"

#include "log.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KEYSTONE_CONNECT_TIMEOUT_MS 2000L
#define KEYSTONE_TIMEOUT_MS         10000L
/* A token reply carries the service catalog: tens of KiB at most. */
#define KEYSTONE_REPLY_MAX (1024 * 1024)

struct keystone {
    pthread_mutex_t lock;
    char *tokens_url; /* .../v3/auth/tokens */
    char *body;       /* the auth request, with the password: wiped on free */
    CURL *curl;
    struct curl_slist *headers;
    char curl_err[CURL_ERROR_SIZE];
    char reply[KEYSTONE_REPLY_MAX + 1];
    size_t reply_len;
    bool reply_overflow;
    char subject[KEYSTONE_TOKEN_MAX]; /* X-Subject-Token of the reply being read */

    char token[KEYSTONE_TOKEN_MAX]; /* cached; "" when none */
    time_t expires_at;              /* wall clock */
    unsigned long issued;
};

static size_t keystone_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct keystone *ks = arg;
    size_t n = size * nmemb;
    if (ks->reply_len + n > KEYSTONE_REPLY_MAX) {
        ks->reply_overflow = true;
        return 0;
    }
    memcpy(ks->reply + ks->reply_len, data, n);
    ks->reply_len += n;
    return n;
}

static size_t keystone_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct keystone *ks = arg;
    size_t n = size * nmemb;
    static const char name[] = "X-Subject-Token:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1;
        const char *end = data + n;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && isspace((unsigned char)end[-1]))
            end--;
        size_t len = (size_t)(end - v);
        if (len < sizeof ks->subject) {
            memcpy(ks->subject, v, len);
            ks->subject[len] = '\0';
        }
    }
    return n;
}

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
static void keystone_reason(struct keystone *ks, char *out, size_t outlen)
{
    json_t *json = json_loadb(ks->reply, ks->reply_len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(json, "error"), "message"));
    if (msg != NULL) {
        snprintf(out, outlen, "%s", msg);
    } else {
        size_t n = 0;
        for (size_t i = 0; i < ks->reply_len && n + 1 < outlen && n < 200; i++) {
            unsigned char ch = (unsigned char)ks->reply[i];
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
    ks->reply_len = 0;
    ks->reply_overflow = false;
    ks->subject[0] = '\0';
    ks->curl_err[0] = '\0';
    CURLcode cc = curl_easy_perform(ks->curl);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", ks->tokens_url,
                 ks->reply_overflow        ? "reply larger than 1 MiB"
                 : ks->curl_err[0] != '\0' ? ks->curl_err
                                           : curl_easy_strerror(cc));
        return -1;
    }
    ks->reply[ks->reply_len] = '\0';
    long status = 0;
    curl_easy_getinfo(ks->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 201 && status != 200) {
        char why[400];
        keystone_reason(ks, why, sizeof why);
        snprintf(err, errlen, "%s: HTTP %ld: %s%s", ks->tokens_url, status, why,
                 status == 401 ? " (check the user, password file, project and domains)" : "");
        return -1;
    }
    json_t *json = json_loadb(ks->reply, ks->reply_len, 0, NULL);
    const char *expires =
        json_string_value(json_object_get(json_object_get(json, "token"), "expires_at"));
    time_t at = expires != NULL ? keystone_parse_time(expires) : -1;
    char until[64];
    snprintf(until, sizeof until, "%s", expires != NULL ? expires : "");
    json_decref(json);
    if (ks->subject[0] == '\0' || at < 0) {
        snprintf(err, errlen, "%s: reply lacks X-Subject-Token or token.expires_at",
                 ks->tokens_url);
        return -1;
    }
    memcpy(ks->token, ks->subject, sizeof ks->token);
    explicit_bzero(ks->subject, sizeof ks->subject);
    ks->expires_at = at;
    ks->issued++;
    log_info("keystone: new token from %s, valid until %s", ks->tokens_url, until);
    return 0;
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
    if (strncmp(opts->auth_url, "http://", 7) != 0 && strncmp(opts->auth_url, "https://", 8) != 0) {
        snprintf(err, errlen, "Keystone auth URL \"%s\" is not http:// or https://",
                 opts->auth_url);
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
    ks->curl = curl_easy_init();
    ks->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (ks->tokens_url == NULL || ks->body == NULL || ks->curl == NULL || ks->headers == NULL ||
        pthread_mutex_init(&ks->lock, NULL) != 0) {
        snprintf(err, errlen, "out of memory (or libcurl cannot start)");
        curl_easy_cleanup(ks->curl);
        curl_slist_free_all(ks->headers);
        free(ks->tokens_url);
        if (ks->body != NULL)
            explicit_bzero(ks->body, strlen(ks->body));
        free(ks->body);
        free(ks);
        return NULL;
    }
    CURL *c = ks->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_URL, ks->tokens_url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, ks->headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, ks->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(ks->body));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mdevmig");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                                  : KEYSTONE_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     opts->timeout_ms > 0 ? opts->timeout_ms : KEYSTONE_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keystone_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, ks);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keystone_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, ks);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ks->curl_err);
    if (opts->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, opts->ca_file);
    if (opts->client_cert_file != NULL)
        curl_easy_setopt(c, CURLOPT_SSLCERT, opts->client_cert_file);
    if (opts->client_key_file != NULL)
        curl_easy_setopt(c, CURLOPT_SSLKEY, opts->client_key_file);
    return ks;
}

void keystone_free(struct keystone *ks)
{
    if (ks == NULL)
        return;
    curl_easy_cleanup(ks->curl);
    curl_slist_free_all(ks->headers);
    pthread_mutex_destroy(&ks->lock);
    explicit_bzero(ks->body, strlen(ks->body));
    explicit_bzero(ks->token, sizeof ks->token);
    free(ks->body);
    free(ks->tokens_url);
    free(ks);
}
