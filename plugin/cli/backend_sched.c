/*
 * backend_sched — answers from an mdevmig-sched service: GET /v1/inventory
 * (or one host's), POST /v1/select, /v1/filter, /v1/evacuate and
 * /v1/matrix, with the cluster token as a bearer token. One request at a
 * time, so one HTTP session (http_client.h) is all it takes; the response
 * cap is far above the library client's, because an inventory of 10,000
 * hosts is tens of megabytes.
 *
 * --url may list several scheds fed by the same collectors (DESIGN.md §7).
 * A request goes to one; when it cannot be reached, times out, fails with
 * HTTP 5xx (or another status that is not a 4xx) or sends no JSON object,
 * the next is asked. A 4xx is the sched's judgement of the request itself
 * (a wrong token, a refused client certificate, a bad request, an unknown
 * instance): every sched shares the token, the CA and the registry's
 * contents, so another would answer alike, and asking it would only hide
 * a mistake. Every question is read-only but for probe caches, so asking
 * again elsewhere after a timeout is safe.
 */
#include "backend_impl.h"
#include "http_client.h"
#include "http_url.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The whole request, probes included: the service's own probe timeout
 * (3 s by default) must fit inside with room to spare. */
#define BACKEND_SCHED_TIMEOUT_S 30.0
/* An evacuation plan or a matrix takes several waves of probes, each up
 * to the service's probe timeout. */
#define BACKEND_SCHED_LONG_TIMEOUT_S 600.0
/* How often a wait is reported to a progress display. */
#define BACKEND_SCHED_TICK_US      100000
#define BACKEND_SCHED_CONNECT_MS   5000L
#define BACKEND_SCHED_MAX_RESPONSE (512L * 1024 * 1024)
/* The most scheds --url may list: as many as a collector publishes to, so
 * that every one listed can be fed. */
#define BACKEND_SCHED_MAX_URLS 8

struct backend_sched {
    struct backend base;
    char *urls[BACKEND_SCHED_MAX_URLS]; /* each without a trailing '/' */
    size_t url_count;
    /* The one asked first: the last that answered. A sched that hangs costs
     * a whole timeout each time it is tried; once another has answered,
     * the rest of the run's requests go there. */
    size_t current;
    struct http_session *http;
    char *auth; /* "Authorization: Bearer <token>": wiped on close */
};

static void backend_sched_close(struct backend *b)
{
    struct backend_sched *s = (struct backend_sched *)b;
    http_session_free(s->http);
    if (s->auth != NULL)
        explicit_bzero(s->auth, strlen(s->auth));
    free(s->auth);
    explicit_bzero(&s->base.token, sizeof s->base.token);
    for (size_t i = 0; i < s->url_count; i++)
        free(s->urls[i]);
    free(s);
}

/* The service's {"error": "..."} text, or the start of whatever it sent. */
static void backend_sched_message(const char *text, const json_t *json, char *out, size_t len)
{
    const char *message = json_string_value(json_object_get(json, "error"));
    if (message != NULL)
        snprintf(out, len, "%s", message);
    else if (text != NULL && text[0] != '\0')
        snprintf(out, len, "%.200s", text);
    else
        snprintf(out, len, "(no message)");
}

/* Called by the HTTP session about once a second while the service works:
 * only the time waited is known. */
struct backend_sched_wait {
    const struct backend_progress *progress;
    struct timespec start;
    double last_s;
};

static double backend_sched_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void backend_sched_tick(void *ctx)
{
    struct backend_sched_wait *w = ctx;
    double waited = backend_sched_since(&w->start);
    if (waited - w->last_s >= BACKEND_SCHED_TICK_US / 1e6) {
        w->last_s = waited;
        w->progress->waiting(w->progress->ctx, waited);
    }
}

/* One request to the sched at base; on CLI_EXIT_OK, *text and *json hold
 * its 200 answer. Otherwise err says why: with *next set, only why (the
 * caller names the URL), as the next sched is worth asking; without it,
 * the whole message, as this one's answer stands. */
static int backend_sched_attempt(struct backend_sched *s, const char *base, const char *path,
                                 const char *body, long timeout_ms,
                                 const struct backend_progress *progress,
                                 struct backend_sched_wait *wait, char **text, json_t **json,
                                 bool *next, char *err, size_t errlen)
{
    *next = false;
    char url[4096];
    if ((size_t)snprintf(url, sizeof url, "%s%s", base, path) >= sizeof url) {
        snprintf(err, errlen, "the request URL would be longer than %zu bytes", sizeof url);
        return CLI_EXIT_USAGE;
    }
    const char *headers[] = {s->auth, "Content-Type: application/json", "Accept: application/json",
                             NULL};
    struct http_call call = {
        .url = url,
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
        .headers = headers,
        .timeout_ms = timeout_ms,
    };
    if (progress != NULL && progress->waiting != NULL) {
        call.progress = backend_sched_tick;
        call.progress_ctx = wait;
    }
    if (http_session_call(s->http, &call) < 0) {
        /* Too big would be the same anywhere. */
        if (call.too_large) {
            snprintf(err, errlen, "mdevmig-sched at %s: the answer to %s is larger than %ld MiB",
                     base, path, BACKEND_SCHED_MAX_RESPONSE >> 20);
        } else {
            *next = true;
            snprintf(err, errlen, "%s", call.error);
        }
        http_calls_reset(&call, 1);
        return CLI_EXIT_BACKEND;
    }
    long status = call.status;
    /* The answer's text is the caller's on success: taken from the call. */
    char *answer = call.response;
    call.response = NULL;
    http_calls_reset(&call, 1);
    json_t *parsed = answer != NULL ? json_loads(answer, 0, NULL) : NULL;
    char message[1200];
    int code = CLI_EXIT_OK;
    if (status != 200)
        backend_sched_message(answer, parsed, message, sizeof message);
    if (status == 200 && !json_is_object(parsed)) {
        *next = true;
        snprintf(err, errlen, "answered %s with something that is not a JSON object", path);
        code = CLI_EXIT_BACKEND;
    } else if (status == 400) {
        snprintf(err, errlen, "mdevmig-sched refused the request: %s", message);
        code = CLI_EXIT_USAGE;
    } else if (status == 401) {
        snprintf(err, errlen,
                 "mdevmig-sched at %s refused the token (%s): is --token-file the cluster "
                 "token the service was started with?",
                 base, message);
        code = CLI_EXIT_BACKEND;
    } else if (status == 403) {
        snprintf(err, errlen,
                 "mdevmig-sched at %s refused the request (HTTP 403: %s); with mutual TLS, "
                 "give --tls-client-cert-file and --tls-client-key-file a certificate of the "
                 "cluster's CA",
                 base, message);
        code = CLI_EXIT_BACKEND;
    } else if (status == 404 && json_is_string(json_object_get(parsed, "error")) &&
               strncmp(message, "no such endpoint", 16) != 0) {
        /* The service's own "no such instance/host/device". */
        snprintf(err, errlen, "%s", message);
        code = CLI_EXIT_NOT_FOUND;
    } else if (status == 404) {
        snprintf(err, errlen, "%s answered HTTP 404 on %s (%s): is that mdevmig-sched's address?",
                 base, path, message);
        code = CLI_EXIT_BACKEND;
    } else if (status >= 400 && status < 500) {
        snprintf(err, errlen, "mdevmig-sched at %s refused the request: HTTP %ld on %s: %s", base,
                 status, path, message);
        code = CLI_EXIT_BACKEND;
    } else if (status != 200) {
        *next = true;
        snprintf(err, errlen, "HTTP %ld on %s: %s", status, path, message);
        code = CLI_EXIT_BACKEND;
    }
    if (code != CLI_EXIT_OK) {
        json_decref(parsed);
        free(answer);
        return code;
    }
    *text = answer;
    *json = parsed;
    return CLI_EXIT_OK;
}

/* base is the sched a request goes to first from now on. */
static void backend_sched_use(struct backend_sched *s, size_t at)
{
    s->current = at;
    snprintf(s->base.name, sizeof s->base.name, "mdevmig-sched at %.500s", s->urls[at]);
}

/* Appends "; " (unless first) and text to out, as much as fits. */
static void backend_sched_append(char *out, size_t len, const char *text)
{
    size_t used = strlen(out);
    if (used + 1 < len)
        snprintf(out + used, len - used, "%s%s", used > 0 ? "; " : "", text);
}

/* One request, to each listed sched in turn from the last that answered
 * until one answers (see the top of the file); on CLI_EXIT_OK, *text and
 * *json hold the 200 answer. timeout_s applies to each sched unless
 * --timeout was given; progress (may be NULL) hears how long the answer
 * has been waited for, over all of them. When none answers, err names
 * each URL and why. */
static int backend_sched_call(struct backend_sched *s, const char *path, const char *body,
                              double default_timeout_s, const struct backend_progress *progress,
                              char **text, json_t **json, char *err, size_t errlen)
{
    double timeout_s = s->base.timeout_s > 0 ? s->base.timeout_s : default_timeout_s;
    long timeout_ms = (long)(timeout_s * 1000);
    struct backend_sched_wait wait = {.progress = progress};
    clock_gettime(CLOCK_MONOTONIC, &wait.start);
    char failed[2048] = "";
    for (size_t i = 0; i < s->url_count; i++) {
        size_t at = (s->current + i) % s->url_count;
        char reason[1200];
        bool next = false;
        int rc = backend_sched_attempt(s, s->urls[at], path, body, timeout_ms, progress, &wait,
                                       text, json, &next, reason, sizeof reason);
        if (!next) {
            if (rc != CLI_EXIT_OK)
                snprintf(err, errlen, "%s", reason);
            if (at != s->current) {
                /* On stderr, so that whoever runs it knows a sched is
                 * down; the answer on stdout is whole all the same. */
                log_warn("mdevmig-sched did not answer at %s; %s answered", failed, s->urls[at]);
                backend_sched_use(s, at);
            }
            return rc;
        }
        char one[1800];
        snprintf(one, sizeof one, "%.500s: %s", s->urls[at], reason);
        backend_sched_append(failed, sizeof failed, one);
    }
    if (s->url_count == 1)
        snprintf(err, errlen, "mdevmig-sched at %s", failed);
    else
        snprintf(err, errlen, "none of the %zu mdevmig-sched URLs answered: %s", s->url_count,
                 failed);
    return CLI_EXIT_BACKEND;
}

static int backend_sched_inventory(struct backend *b, const char *only, json_t **out, char *err,
                                   size_t errlen)
{
    struct backend_sched *s = (struct backend_sched *)b;
    char path[1024] = "/v1/inventory";
    if (only != NULL) {
        char *escaped = http_url_escape(only);
        if (escaped == NULL) {
            snprintf(err, errlen, "out of memory");
            return CLI_EXIT_BACKEND;
        }
        snprintf(path, sizeof path, "/v1/hosts/%.900s/inventory", escaped);
        free(escaped);
    }
    char *text = NULL;
    json_t *json = NULL;
    int rc =
        backend_sched_call(s, path, NULL, BACKEND_SCHED_TIMEOUT_S, NULL, &text, &json, err, errlen);
    free(text);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* One host's endpoint answers with the entry itself: list it, so
     * both forms have the listing's shape. */
    if (only != NULL) {
        *out = json_pack("{s:[o]}", "hosts", json);
        json = NULL;
    } else if (json_is_array(json_object_get(json, "hosts"))) {
        *out = json;
        json = NULL;
    } else {
        json_decref(json);
        snprintf(err, errlen, "mdevmig-sched at %s: the inventory has no \"hosts\" list",
                 s->urls[s->current]);
        return CLI_EXIT_BACKEND;
    }
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return CLI_EXIT_BACKEND;
    }
    return CLI_EXIT_OK;
}

/* The request body mdevmig-sched's API takes (plugin/sched/api.c). */
static json_t *backend_sched_body(enum backend_question q, const struct mdevmig_request *req)
{
    json_t *body = json_object();
    bool ok = body != NULL;
    if (ok && req->instance != NULL)
        ok = json_object_set_new(body, "instance", json_string(req->instance)) == 0;
    if (ok && req->host != NULL) {
        json_t *devices = json_array();
        for (size_t i = 0; i < req->device_count && devices != NULL; i++)
            ok = ok && json_array_append_new(devices, json_string(req->devices[i])) == 0;
        ok = ok && json_object_set_new(body, "host", json_string(req->host)) == 0 &&
             json_object_set_new(body, "devices", devices) == 0;
    }
    if (ok && req->spec_count > 0) {
        json_t *mdevs = json_array();
        for (size_t i = 0; i < req->spec_count && mdevs != NULL; i++)
            ok = ok &&
                 json_array_append_new(mdevs, json_pack("{s:s, s:s}", "type", req->specs[i].type,
                                                        "version", req->specs[i].version)) == 0;
        ok = ok && json_object_set_new(body, "mdevs", mdevs) == 0;
    }
    if (ok && q == BACKEND_SELECT && req->count > 0)
        ok = json_object_set_new(body, "count", json_integer((json_int_t)req->count)) == 0;
    if (ok && q == BACKEND_FILTER) {
        json_t *hosts = json_array();
        for (size_t i = 0; i < req->candidate_count && hosts != NULL; i++)
            ok = ok && json_array_append_new(hosts, json_string(req->candidates[i])) == 0;
        ok = ok && json_object_set_new(body, "hosts", hosts) == 0;
    }
    if (!ok) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static int backend_sched_decide(struct backend *b, enum backend_question q,
                                const struct mdevmig_request *req, char **text, json_t **json,
                                char *err, size_t errlen)
{
    struct backend_sched *s = (struct backend_sched *)b;
    json_t *body = backend_sched_body(q, req);
    char *payload = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (payload == NULL) {
        snprintf(err, errlen, "out of memory");
        return CLI_EXIT_BACKEND;
    }
    int rc = backend_sched_call(s, q == BACKEND_SELECT ? "/v1/select" : "/v1/filter", payload,
                                BACKEND_SCHED_TIMEOUT_S, NULL, text, json, err, errlen);
    free(payload);
    return rc;
}

/* A POST of body (consumed) whose answer takes waves of probes. */
static int backend_sched_long(struct backend_sched *s, const char *path, json_t *body,
                              const struct backend_progress *progress, char **text, json_t **json,
                              char *err, size_t errlen)
{
    char *payload = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (payload == NULL) {
        snprintf(err, errlen, "out of memory");
        return CLI_EXIT_BACKEND;
    }
    int rc = backend_sched_call(s, path, payload, BACKEND_SCHED_LONG_TIMEOUT_S, progress, text,
                                json, err, errlen);
    free(payload);
    return rc;
}

static int backend_sched_evacuate(struct backend *b, const char *host, enum mdevmig_policy policy,
                                  const struct backend_progress *progress, char **text,
                                  json_t **json, char *err, size_t errlen)
{
    json_t *body = json_pack("{s:s, s:s}", "host", host, "policy", mdevmig_policy_name(policy));
    return backend_sched_long((struct backend_sched *)b, "/v1/evacuate", body, progress, text, json,
                              err, errlen);
}

static int backend_sched_matrix(struct backend *b, const char *type,
                                const struct backend_progress *progress, char **text, json_t **json,
                                char *err, size_t errlen)
{
    json_t *body = type != NULL ? json_pack("{s:s}", "type", type) : json_object();
    return backend_sched_long((struct backend_sched *)b, "/v1/matrix", body, progress, text, json,
                              err, errlen);
}

/* The host names as a JSON array. */
static json_t *backend_sched_names(const char *const *names, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < count; i++) {
        if (json_array_append_new(list, json_string(names[i])) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static int backend_sched_readiness(struct backend *b, const struct mdevmig_readiness_request *req,
                                   const struct backend_progress *progress, char **text,
                                   json_t **json, char *err, size_t errlen)
{
    json_t *body = json_pack("{s:b}", "stranded", req->stranded_only);
    if (body != NULL && req->host_count > 0)
        json_object_set_new(body, "hosts", backend_sched_names(req->hosts, req->host_count));
    return backend_sched_long((struct backend_sched *)b, "/v1/readiness", body, progress, text,
                              json, err, errlen);
}

static int backend_sched_rollout(struct backend *b, const struct mdevmig_rollout_request *req,
                                 const struct backend_progress *progress, char **text,
                                 json_t **json, char *err, size_t errlen)
{
    json_t *body =
        json_pack("{s:s, s:o, s:I, s:b}", "like", req->like, "hosts",
                  backend_sched_names(req->hosts, req->host_count), "max_down",
                  (json_int_t)(req->max_down > 0 ? req->max_down : 1), "what_if", req->what_if);
    return backend_sched_long((struct backend_sched *)b, "/v1/rollout", body, progress, text, json,
                              err, errlen);
}

static const struct backend_ops backend_sched_ops = {
    .inventory = backend_sched_inventory,
    .decide = backend_sched_decide,
    .evacuate = backend_sched_evacuate,
    .matrix = backend_sched_matrix,
    .readiness = backend_sched_readiness,
    .rollout = backend_sched_rollout,
    .close = backend_sched_close,
};

/* Splits list (--url's comma-separated URLs) into s->urls: each trimmed
 * of blanks and trailing '/', http(s), a repeat merged into the first. */
static int backend_sched_urls(struct backend_sched *s, const char *list, char *err, size_t errlen)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0) {
            snprintf(err, errlen,
                     "--url or MDEVMIG_URL \"%.200s\": an empty URL in the list (give "
                     "URL[,URL...])",
                     list);
            return CLI_EXIT_USAGE;
        }
        char *one = strndup(p, len);
        char why[200];
        if (one == NULL) {
            snprintf(err, errlen, "out of memory");
            return CLI_EXIT_BACKEND;
        }
        int bad = http_url_check_base(one, why, sizeof why);
        free(one);
        if (bad < 0) {
            snprintf(err, errlen,
                     "URL \"%.*s\" (--url or MDEVMIG_URL): expected mdevmig-sched's address as "
                     "http://HOST:PORT or https://HOST:PORT: %s",
                     (int)(len < 200 ? len : 200), p, why);
            return CLI_EXIT_USAGE;
        }
        while (len > 0 && p[len - 1] == '/')
            len--;
        bool seen = false;
        for (size_t i = 0; i < s->url_count && !seen; i++)
            seen = strlen(s->urls[i]) == len && strncmp(s->urls[i], p, len) == 0;
        if (!seen && s->url_count == BACKEND_SCHED_MAX_URLS) {
            snprintf(err, errlen, "--url or MDEVMIG_URL: more than %d URLs in the list",
                     BACKEND_SCHED_MAX_URLS);
            return CLI_EXIT_USAGE;
        }
        if (!seen && (s->urls[s->url_count] = strndup(p, len)) == NULL) {
            snprintf(err, errlen, "out of memory");
            return CLI_EXIT_BACKEND;
        }
        if (!seen)
            s->url_count++;
        if (comma == NULL)
            return CLI_EXIT_OK;
        p = comma + 1;
    }
}

int backend_sched_open(const char *urls, const struct auth_token *token, double timeout_s,
                       const struct backend_tls *tls, struct backend **out, char *err,
                       size_t errlen)
{
    struct backend_sched *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return CLI_EXIT_BACKEND;
    }
    int rc = backend_sched_urls(s, urls, err, errlen);
    if (rc != CLI_EXIT_OK) {
        backend_sched_close(&s->base);
        return rc;
    }
    s->base.ops = &backend_sched_ops;
    backend_sched_use(s, 0);
    s->base.timeout_s = timeout_s;
    s->base.tls = *tls;
    s->base.token = *token;
    s->base.have_token = true;
    /* Verification is never turned off; the files only say against what,
     * and which certificate to present to a sched with mutual TLS. */
    struct http_session_options so = {
        .connect_timeout_ms = BACKEND_SCHED_CONNECT_MS,
        .timeout_ms = (long)(BACKEND_SCHED_TIMEOUT_S * 1000),
        .max_response = BACKEND_SCHED_MAX_RESPONSE,
        .ca_file = tls->ca_file,
        .client_cert_file = tls->client_cert_file,
        .client_key_file = tls->client_key_file,
    };
    if (asprintf(&s->auth, "Authorization: Bearer %s", token->value) < 0) {
        s->auth = NULL;
        snprintf(err, errlen, "out of memory");
        backend_sched_close(&s->base);
        return CLI_EXIT_BACKEND;
    }
    if ((s->http = http_session_new(&so, err, errlen)) == NULL) {
        backend_sched_close(&s->base);
        return CLI_EXIT_BACKEND;
    }
    *out = &s->base;
    return CLI_EXIT_OK;
}
