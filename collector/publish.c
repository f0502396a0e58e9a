/*
 * publish — the publisher thread. It always publishes the newest snapshot
 * (older pending ones are dropped: the registry only wants the latest),
 * retries a failing target with exponential backoff, and heartbeats so
 * the registry's last_seen stays fresh. A heartbeat carries only the
 * generation the target already has (DESIGN.md §7, Scale: a large cloud's
 * unchanged hosts must cost the sched a hash lookup, not a snapshot):
 * POST <sched>/v1/hosts/<host>/heartbeat {"generation": N}, or for a
 * registry file a touch of last_seen at that generation. When the target
 * holds another generation or none (409; the sched restarted on an empty
 * registry, say) the full snapshot goes at once; a sched without the
 * endpoint (404: an older mdevmig) gets full snapshots as heartbeats, as
 * before, and is asked again now and then in case it was upgraded.
 * A target is the registry file itself (sqlite:PATH) or mdevmig-sched's
 * ingest endpoint (http(s)://), which gets the snapshot text unchanged
 * over an HTTP session of its own (http_client.h), so its connection is
 * kept from one publish to the next.
 */
#include "publish.h"

#include "heartbeat_wire.h"
#include "http_client.h"
#include "http_url.h"
#include "log.h"
#include "monotonic.h"
#include "registry.h"
#include "wire.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUBLISH_BACKOFF_MIN_S 0.5
#define PUBLISH_BACKOFF_MAX_S 30.0

#define PUBLISH_HTTP_CONNECT_TIMEOUT_MS 2000L
#define PUBLISH_HTTP_TIMEOUT_MS         10000L
/* A sched that answered 404 to a heartbeat (older than the endpoint) is
 * sent full snapshots for this long before a heartbeat is tried again. */
#define PUBLISH_HEARTBEAT_RETRY_S 600.0

/* The sched's replies are a line of JSON; more than this is not read. */
#define PUBLISH_HTTP_REPLY_MAX 4096

enum publish_kind { PUBLISH_SQLITE, PUBLISH_HTTP };

/* A copy of struct publish_credentials that the publisher thread owns. */
struct publish_creds {
    char *token, *ca_file, *cert_file, *key_file;
};

struct publish_target;
static void publish_creds_free(struct publish_creds *c);
static int publish_http_configure(struct publish_target *t, const struct publish_creds *c,
                                  char *err, size_t errlen);

/* What one attempt came to: it decides whether and when to try again. */
enum publish_outcome {
    PUBLISH_DONE,     /* the target has this generation (or a newer one) */
    PUBLISH_FAILED,   /* transient (down, 5xx, timeout): retry with backoff */
    PUBLISH_DENIED,   /* 401/403: an operator must act, but a token rotation may be
                         under way, so retry with backoff too */
    PUBLISH_REJECTED, /* the target calls the snapshot bad: our bug, and sending the
                         same bytes again cannot help; wait for the next snapshot */
};

struct publish_target {
    char *spec;
    enum publish_kind kind;
    char *path; /* sqlite: file */
    struct registry *registry;
    char *base_url;              /* http(s): the target without trailing '/' */
    struct http_session *http;   /* http(s): one per target, kept so the connection is reused */
    char *auth;                  /* http(s): "Authorization: Bearer <token>", wiped on free */
    int64_t done_generation;     /* newest generation this target has taken */
    int64_t rejected_generation; /* newest generation it refused as bad; -1: none */
    bool no_heartbeat;           /* http(s): the sched lacks the heartbeat endpoint ... */
    struct timespec heartbeat_retry_at; /* ... until then */
    double backoff_s;
    struct timespec retry_at;
};

struct publish {
    struct publish_target *targets;
    size_t count;
    double heartbeat_s;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct publish_creds *new_creds; /* from publish_set_credentials, not yet taken */
    char *pending;                   /* newest snapshot JSON */
    int64_t pending_generation;
    bool stopping;
    pthread_t thread;

    struct publish_stats stats;
};

static void publish_now(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

static void publish_add(struct timespec *ts, double seconds)
{
    long long ns = (long long)(seconds * 1e9);
    ts->tv_sec += (time_t)(ns / 1000000000LL);
    ts->tv_nsec += (long)(ns % 1000000000LL);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool publish_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The header carries the token: do not leave it in freed memory. */
static void publish_auth_free(char *auth)
{
    if (auth != NULL)
        explicit_bzero(auth, strlen(auth));
    free(auth);
}

/* Apply one snapshot to a registry file. */
static enum publish_outcome publish_to_sqlite(struct publish_target *t, const struct inventory *inv,
                                              char *err, size_t errlen)
{
    if (t->registry == NULL && registry_open(t->path, &t->registry, err, errlen) < 0)
        return PUBLISH_FAILED;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int rc = registry_replace_host(t->registry, inv, (int64_t)now.tv_sec, err, errlen);
    if (rc < 0) {
        /* Reopen next time: the file may have been replaced or repaired. */
        registry_close(t->registry);
        t->registry = NULL;
        return PUBLISH_FAILED;
    }
    if (rc == 1)
        log_warn("publish %s: the registry holds a newer generation of %s than %lld; "
                 "another collector with the same host name?",
                 t->spec, inv->host, (long long)inv->generation);
    return PUBLISH_DONE;
}

/* A heartbeat into a registry file: last_seen moves only if the file holds
 * exactly this generation; otherwise (a restored or replaced file, or
 * another writer) the full snapshot goes at once. */
static enum publish_outcome publish_touch_sqlite(struct publish_target *t,
                                                 const struct inventory *inv, bool *full, char *err,
                                                 size_t errlen)
{
    *full = false;
    if (t->registry == NULL && registry_open(t->path, &t->registry, err, errlen) < 0)
        return PUBLISH_FAILED;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t held;
    int rc = registry_touch_host_at(t->registry, inv->host, inv->generation, (int64_t)now.tv_sec,
                                    &held, err, errlen);
    if (rc < 0) {
        registry_close(t->registry);
        t->registry = NULL;
        return PUBLISH_FAILED;
    }
    if (rc == 0)
        return PUBLISH_DONE;
    if (held < 0)
        log_info("publish %s: the registry lacks host %s; publishing the whole inventory", t->spec,
                 inv->host);
    else
        log_info("publish %s: the registry holds generation %lld of %s, not %lld; publishing the "
                 "whole inventory",
                 t->spec, (long long)held, inv->host, (long long)inv->generation);
    *full = true;
    return publish_to_sqlite(t, inv, err, errlen);
}

/* The reason a refusal gives: its {"error": ...} text, else the start of
 * the body with control bytes masked (it goes into a log line). */
static void publish_http_reason(const struct http_call *call, char *out, size_t outlen)
{
    json_t *json = json_loadb(call->response, call->response_len, 0, NULL);
    const char *text = json_string_value(json_object_get(json, "error"));
    if (text != NULL) {
        snprintf(out, outlen, "%s", text);
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

/* A 2xx reply: {"applied": bool, "generation": N}. Not applied at an equal
 * generation is a heartbeat; at a newer one someone else publishes as us. */
static void publish_http_applied(const struct publish_target *t, const struct http_call *call,
                                 const struct inventory *inv)
{
    json_error_t jerr;
    json_t *json = json_loadb(call->response, call->response_len, 0, &jerr);
    json_t *applied = json_object_get(json, "applied");
    json_t *generation = json_object_get(json, "generation");
    if (!json_is_boolean(applied) || !json_is_integer(generation)) {
        /* It took the snapshot; the reply only informs. Say so, go on. */
        log_warn("publish %s: reply to generation %lld is not {\"applied\", \"generation\"}; "
                 "taking it as applied",
                 t->spec, (long long)inv->generation);
    } else if (!json_is_true(applied) && json_integer_value(generation) > inv->generation) {
        log_warn("publish %s: the sched holds generation %lld of %s, newer than our %lld; "
                 "another collector with the same host name?",
                 t->spec, (long long)json_integer_value(generation), inv->host,
                 (long long)inv->generation);
    }
    json_decref(json);
}

/* What a response to a snapshot means for the next attempt. */
static enum publish_outcome publish_http_outcome(const struct publish_target *t,
                                                 const struct http_call *call,
                                                 const struct inventory *inv, char *err,
                                                 size_t errlen)
{
    if (call->status >= 200 && call->status <= 299) {
        publish_http_applied(t, call, inv);
        return PUBLISH_DONE;
    }
    char why[256];
    publish_http_reason(call, why, sizeof why);
    if (call->status == 401) {
        snprintf(err, errlen,
                 "the sched refused the cluster token (HTTP 401: %s); the token_file here must "
                 "hold the same token as the sched's (if it is being rotated, this clears once "
                 "both sides have the new one)",
                 why);
        return PUBLISH_DENIED;
    }
    if (call->status == 403) {
        snprintf(err, errlen,
                 "the sched refused inventory for host \"%s\" (HTTP 403: %s); check this "
                 "collector's host setting and the sched's view of this host",
                 inv->host, why);
        return PUBLISH_DENIED;
    }
    /* 408 and 429 are the server's load, not a fault in the snapshot. */
    if (call->status >= 400 && call->status <= 499 && call->status != 408 && call->status != 429) {
        snprintf(err, errlen,
                 "the sched rejected generation %lld (HTTP %d: %s); this is a bug in mdevmig: "
                 "please report it. Not sent again until the inventory changes",
                 (long long)inv->generation, call->status, why);
        return PUBLISH_REJECTED;
    }
    if (call->status >= 300 && call->status <= 399)
        snprintf(err, errlen, "HTTP %d: redirects are not followed; give the sched's own URL",
                 call->status);
    else
        snprintf(err, errlen, "HTTP %d: %s", call->status, why);
    return PUBLISH_FAILED;
}

/* POST one snapshot (the text exactly as GET /v1/inventory serves it) to
 * the sched's ingest endpoint for inv->host. */
static enum publish_outcome publish_to_http(struct publish_target *t, const struct inventory *inv,
                                            const char *snapshot, char *err, size_t errlen)
{
    char *host = http_url_escape(inv->host);
    char *url = NULL;
    if (host == NULL || asprintf(&url, "%s/v1/hosts/%s/inventory", t->base_url, host) < 0) {
        free(host);
        snprintf(err, errlen, "out of memory");
        return PUBLISH_FAILED;
    }
    free(host);
    const char *headers[] = {t->auth, "Content-Type: application/json", "Accept: application/json",
                             /* no 100-continue wait on bodies over 1 KiB */
                             "Expect:", NULL};
    struct http_call call = {
        .url = url,
        .method = "POST",
        .body = snapshot,
        .body_len = strlen(snapshot),
        .headers = headers,
    };
    int called = http_session_call(t->http, &call);
    free(url);
    enum publish_outcome outcome;
    if (called < 0) {
        snprintf(err, errlen, "%s", call.error);
        outcome = PUBLISH_FAILED;
    } else {
        outcome = publish_http_outcome(t, &call, inv, err, errlen);
    }
    http_calls_reset(&call, 1);
    return outcome;
}

/* POST {"generation": N} to the sched's heartbeat endpoint for inv->host.
 * *full is set when the sched lacked the generation and was sent the
 * snapshot instead. */
static enum publish_outcome publish_heartbeat_http(struct publish_target *t,
                                                   const struct inventory *inv,
                                                   const char *snapshot, bool *full, char *err,
                                                   size_t errlen)
{
    *full = false;
    char *host = http_url_escape(inv->host);
    char *url = NULL;
    json_t *json = heartbeat_wire_request_to_json(inv->generation);
    char *body = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (host == NULL || body == NULL ||
        asprintf(&url, "%s/v1/hosts/%s/heartbeat", t->base_url, host) < 0) {
        free(host);
        free(body);
        snprintf(err, errlen, "out of memory");
        return PUBLISH_FAILED;
    }
    free(host);
    const char *headers[] = {t->auth, "Content-Type: application/json", "Accept: application/json",
                             NULL};
    struct http_call call = {
        .url = url,
        .method = "POST",
        .body = body,
        .body_len = strlen(body),
        .headers = headers,
    };
    int called = http_session_call(t->http, &call);
    free(url);
    free(body);
    enum publish_outcome outcome = PUBLISH_DONE;
    bool send_full = false;
    bool call_status_conflict = called >= 0 && call.status == 409;
    if (called < 0) {
        snprintf(err, errlen, "%s", call.error);
        outcome = PUBLISH_FAILED;
    } else if (call.status == 200) {
        json_t *reply_json = json_loadb(call.response, call.response_len, 0, NULL);
        struct heartbeat_wire_reply reply;
        char why[256];
        if (heartbeat_wire_reply_from_json(reply_json, &reply, why, sizeof why) < 0)
            log_warn("publish %s: the reply to heartbeat %lld is not a heartbeat reply (%s); "
                     "taking it as touched",
                     t->spec, (long long)inv->generation, why);
        else if (reply.generation != inv->generation)
            log_warn("publish %s: the sched touched generation %lld of %s for our %lld", t->spec,
                     (long long)reply.generation, inv->host, (long long)inv->generation);
        json_decref(reply_json);
    } else if (call.status == 409) {
        /* The sched lacks this generation: the snapshot, now. */
        char why[256];
        publish_http_reason(&call, why, sizeof why);
        log_info("publish %s: heartbeat %lld refused (%s); publishing the whole inventory", t->spec,
                 (long long)inv->generation, why);
        send_full = true;
    } else if (call.status == 404) {
        log_info("publish %s: the sched has no heartbeat endpoint (an older mdevmig); "
                 "heartbeats send the whole inventory for %.0f s",
                 t->spec, PUBLISH_HEARTBEAT_RETRY_S);
        t->no_heartbeat = true;
        publish_now(&t->heartbeat_retry_at);
        publish_add(&t->heartbeat_retry_at, PUBLISH_HEARTBEAT_RETRY_S);
        send_full = true;
    } else {
        outcome = publish_http_outcome(t, &call, inv, err, errlen);
        /* A heartbeat the sched calls bad is our bug; the snapshot it
         * replaces still keeps last_seen fresh. */
        if (outcome == PUBLISH_REJECTED) {
            log_error("publish %s: %s", t->spec, err);
            send_full = true;
        }
    }
    http_calls_reset(&call, 1);
    if (!send_full)
        return outcome;
    /* Only a sched that lacks the generation makes it a publish; a full
     * snapshot in a heartbeat's place is still a heartbeat. */
    *full = call_status_conflict;
    return publish_to_http(t, inv, snapshot, err, errlen);
}

/* One attempt at one target: the snapshot when the target lacks this
 * generation, else a heartbeat. *full: the target needed the snapshot
 * (a publish, not a heartbeat, in the stats). */
static enum publish_outcome publish_send(struct publish_target *t, const struct inventory *inv,
                                         const char *snapshot, int64_t generation, bool *full,
                                         char *err, size_t errlen)
{
    *full = true;
    bool heartbeat = t->done_generation >= generation;
    if (heartbeat && t->kind == PUBLISH_SQLITE)
        return publish_touch_sqlite(t, inv, full, err, errlen);
    if (heartbeat && t->no_heartbeat) {
        struct timespec now;
        publish_now(&now);
        t->no_heartbeat = publish_before(&now, &t->heartbeat_retry_at);
    }
    if (heartbeat && !t->no_heartbeat)
        return publish_heartbeat_http(t, inv, snapshot, full, err, errlen);
    *full = !heartbeat;
    return t->kind == PUBLISH_SQLITE ? publish_to_sqlite(t, inv, err, errlen)
                                     : publish_to_http(t, inv, snapshot, err, errlen);
}

/* One round: every target that is due gets the newest snapshot. *retry
 * becomes the earliest time a failing target wants another try (left
 * alone when none fails). */
static void publish_round(struct publish *p, const char *snapshot, int64_t generation,
                          bool heartbeat, struct timespec *retry)
{
    json_error_t jerr;
    json_t *json = json_loads(snapshot, 0, &jerr);
    struct inventory inv;
    char err[1024];
    if (json == NULL || wire_inventory_from_json(json, &inv, err, sizeof err) < 0) {
        /* Our own output did not parse back: a bug, not a target failure. */
        log_error("publish: snapshot %lld does not parse: %s", (long long)generation,
                  json == NULL ? jerr.text : err);
        json_decref(json);
        return;
    }
    json_decref(json);
    struct timespec now;
    publish_now(&now);
    for (size_t i = 0; i < p->count; i++) {
        struct publish_target *t = &p->targets[i];
        if (!heartbeat && t->done_generation >= generation)
            continue;
        if (t->rejected_generation >= generation)
            continue;
        if (t->backoff_s > 0 && publish_before(&now, &t->retry_at)) {
            if (publish_before(&t->retry_at, retry))
                *retry = t->retry_at;
            continue;
        }
        bool full;
        enum publish_outcome outcome =
            publish_send(t, &inv, snapshot, generation, &full, err, sizeof err);
        if (outcome != PUBLISH_DONE) {
            pthread_mutex_lock(&p->lock);
            p->stats.failures++;
            pthread_mutex_unlock(&p->lock);
        }
        if (outcome == PUBLISH_REJECTED) {
            t->rejected_generation = generation;
            /* The next snapshot goes out at once. */
            t->backoff_s = 0;
            log_error("publish %s: %s", t->spec, err);
            continue;
        }
        if (outcome == PUBLISH_FAILED || outcome == PUBLISH_DENIED) {
            t->backoff_s = t->backoff_s == 0 ? PUBLISH_BACKOFF_MIN_S : t->backoff_s * 2;
            if (t->backoff_s > PUBLISH_BACKOFF_MAX_S)
                t->backoff_s = PUBLISH_BACKOFF_MAX_S;
            t->retry_at = now;
            publish_add(&t->retry_at, t->backoff_s);
            if (publish_before(&t->retry_at, retry))
                *retry = t->retry_at;
            log_msg(outcome == PUBLISH_DENIED ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN,
                    "publish %s: %s; retrying in %.1f s", t->spec, err, t->backoff_s);
            continue;
        }
        if (t->backoff_s > 0)
            log_info("publish %s: target is back; generation %lld published", t->spec,
                     (long long)generation);
        t->backoff_s = 0;
        t->done_generation = generation;
        pthread_mutex_lock(&p->lock);
        if (full)
            p->stats.published++;
        else
            p->stats.heartbeats++;
        pthread_mutex_unlock(&p->lock);
    }
    int64_t everyone = generation;
    for (size_t i = 0; i < p->count; i++) {
        if (p->targets[i].done_generation < everyone)
            everyone = p->targets[i].done_generation;
    }
    pthread_mutex_lock(&p->lock);
    p->stats.last_generation = everyone;
    pthread_mutex_unlock(&p->lock);
    inventory_free(&inv);
}

/* New credentials apply to every http(s) target's session; its open
 * connection is kept (libcurl opens a new one when the TLS files differ). */
static void publish_take_creds(struct publish *p, struct publish_creds *creds)
{
    if (creds == NULL)
        return;
    for (size_t i = 0; i < p->count; i++) {
        struct publish_target *t = &p->targets[i];
        char err[512];
        if (t->kind == PUBLISH_HTTP && publish_http_configure(t, creds, err, sizeof err) < 0)
            log_error("publish %s: new credentials not taken: %s", t->spec, err);
    }
    publish_creds_free(creds);
}

static void *publish_thread(void *arg)
{
    struct publish *p = arg;
    struct timespec heartbeat_at, retry_at, now;
    publish_now(&heartbeat_at);
    publish_add(&heartbeat_at, p->heartbeat_s);
    bool retry_pending = false;
    int64_t attempted = -1;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        publish_now(&now);
        bool fresh = p->pending != NULL && p->pending_generation > attempted;
        bool heartbeat = p->pending != NULL && !publish_before(&now, &heartbeat_at);
        bool retry = retry_pending && !publish_before(&now, &retry_at);
        if (!fresh && !heartbeat && !retry && !p->stopping) {
            struct timespec until = heartbeat_at;
            if (retry_pending && publish_before(&retry_at, &until))
                until = retry_at;
            pthread_cond_timedwait(&p->wake, &p->lock, &until);
            continue;
        }
        char *snapshot = p->pending != NULL ? strdup(p->pending) : NULL;
        int64_t generation = p->pending_generation;
        bool stopping = p->stopping;
        struct publish_creds *creds = p->new_creds;
        p->new_creds = NULL;
        pthread_mutex_unlock(&p->lock);

        publish_take_creds(p, creds);

        if (snapshot != NULL) {
            struct timespec earliest = now;
            publish_add(&earliest, 365.0 * 86400);
            retry_at = earliest;
            publish_round(p, snapshot, generation, heartbeat, &retry_at);
            retry_pending = publish_before(&retry_at, &earliest);
            attempted = generation;
        }
        if (heartbeat) {
            heartbeat_at = now;
            publish_add(&heartbeat_at, p->heartbeat_s);
        }
        free(snapshot);

        pthread_mutex_lock(&p->lock);
        if (stopping)
            break;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void publish_creds_free(struct publish_creds *c)
{
    if (c == NULL)
        return;
    if (c->token != NULL)
        explicit_bzero(c->token, strlen(c->token));
    free(c->token);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c);
}

static bool publish_dup(const char *in, char **out)
{
    *out = in != NULL ? strdup(in) : NULL;
    return in == NULL || *out != NULL;
}

static struct publish_creds *publish_creds_new(const struct publish_credentials *in, char *err,
                                               size_t errlen)
{
    struct publish_creds *c = calloc(1, sizeof *c);
    if (c == NULL || !publish_dup(in->token, &c->token) || !publish_dup(in->ca_file, &c->ca_file) ||
        !publish_dup(in->client_cert_file, &c->cert_file) ||
        !publish_dup(in->client_key_file, &c->key_file)) {
        publish_creds_free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return c;
}

/* The token's header and the TLS files of a target's session. */
static int publish_http_configure(struct publish_target *t, const struct publish_creds *c,
                                  char *err, size_t errlen)
{
    if (c->token == NULL || c->token[0] == '\0') {
        snprintf(err, errlen, "registry target \"%s\": an http(s) target needs the cluster token",
                 t->spec);
        return -1;
    }
    if (strlen(c->token) > 1024) {
        snprintf(err, errlen, "registry target \"%s\": the cluster token is too long", t->spec);
        return -1;
    }
    char *auth = NULL;
    if (asprintf(&auth, "Authorization: Bearer %s", c->token) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Verification stays on whatever the files (http_client.h). */
    if (http_session_set_tls(t->http, c->ca_file, c->cert_file, c->key_file, err, errlen) < 0) {
        publish_auth_free(auth);
        return -1;
    }
    publish_auth_free(t->auth);
    t->auth = auth;
    return 0;
}

/* An http(s) target: a base URL that takes our path after it. */
static int publish_http_init(struct publish_target *t, const char *spec,
                             const struct publish_creds *creds, char *err, size_t errlen)
{
    if (creds->token == NULL || creds->token[0] == '\0') {
        snprintf(err, errlen, "registry target \"%s\": an http(s) target needs the cluster token",
                 spec);
        return -1;
    }
    t->kind = PUBLISH_HTTP;
    t->base_url = strdup(spec);
    if (t->base_url == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = strlen(t->base_url);
    while (n > 0 && t->base_url[n - 1] == '/')
        t->base_url[--n] = '\0';
    /* The sched's replies are a line of JSON: a longer one (a proxy's
     * page) is cut, not failed, as its status is what counts. */
    struct http_session_options so = {
        .connect_timeout_ms = PUBLISH_HTTP_CONNECT_TIMEOUT_MS,
        .timeout_ms = PUBLISH_HTTP_TIMEOUT_MS,
        .max_response = PUBLISH_HTTP_REPLY_MAX,
        .truncate_response = true,
        .user_agent = "mdevmig-collector",
    };
    char why[256];
    t->http = http_session_new(&so, why, sizeof why);
    if (t->http == NULL) {
        snprintf(err, errlen, "registry target \"%s\": %s", spec, why);
        return -1;
    }
    return publish_http_configure(t, creds, err, errlen);
}

static void publish_target_free(struct publish_target *t)
{
    registry_close(t->registry);
    http_session_free(t->http);
    publish_auth_free(t->auth);
    free(t->spec);
    free(t->path);
    free(t->base_url);
}

/* A "sqlite:PATH" target: true. "sqlite:" alone: false, with why set;
 * anything else: false, why "". */
static bool publish_target_is_sqlite(const char *target, char *why, size_t whylen)
{
    why[0] = '\0';
    if (strncmp(target, "sqlite:", 7) != 0)
        return false;
    if (target[7] == '\0')
        snprintf(why, whylen, "sqlite: needs the registry file's path after it");
    return target[7] != '\0';
}

struct publish *publish_start(char *const *targets, size_t count,
                              const struct publish_credentials *credentials, double heartbeat_s,
                              char *err, size_t errlen)
{
    struct publish *p = calloc(1, sizeof *p);
    if (p == NULL || (p->targets = calloc(count + 1, sizeof *p->targets)) == NULL) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct publish_creds *creds = publish_creds_new(credentials, err, errlen);
    if (creds == NULL) {
        free(p->targets);
        free(p);
        return NULL;
    }
    p->heartbeat_s = heartbeat_s;
    p->pending_generation = -1;
    for (size_t i = 0; i < count; i++) {
        struct publish_target *t = &p->targets[i];
        t->done_generation = -1;
        t->rejected_generation = -1;
        p->count = i + 1;
        char why[200];
        bool sqlite = publish_target_is_sqlite(targets[i], why, sizeof why);
        bool http =
            !sqlite && why[0] == '\0' && http_url_check_base(targets[i], why, sizeof why) == 0;
        if (!sqlite && !http) {
            snprintf(err, errlen,
                     "registry target \"%s\": not sqlite:PATH, http://... or https://...: %s",
                     targets[i], why);
            goto fail;
        }
        t->spec = strdup(targets[i]);
        if (t->spec == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        if (sqlite) {
            t->kind = PUBLISH_SQLITE;
            t->path = strdup(targets[i] + 7);
            if (t->path == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            continue;
        }
        if (publish_http_init(t, targets[i], creds, err, errlen) < 0)
            goto fail;
    }
    publish_creds_free(creds);
    creds = NULL;
    pthread_mutex_init(&p->lock, NULL);
    int rc = monotonic_cond_init(&p->wake);
    if (rc != 0) {
        snprintf(err, errlen, "publisher: cannot create its wake-up: %s", strerror(rc));
        pthread_mutex_destroy(&p->lock);
        goto fail;
    }
    rc = pthread_create(&p->thread, NULL, publish_thread, p);
    if (rc != 0) {
        snprintf(err, errlen, "publisher thread: %s", strerror(rc));
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        goto fail;
    }
    return p;
fail:
    publish_creds_free(creds);
    for (size_t i = 0; i < p->count; i++)
        publish_target_free(&p->targets[i]);
    free(p->targets);
    free(p);
    return NULL;
}

void publish_offer(struct publish *p, const char *json, size_t len, int64_t generation)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        log_error("publish: out of memory; generation %lld not queued", (long long)generation);
        return;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    pthread_mutex_lock(&p->lock);
    free(p->pending);
    p->pending = copy;
    p->pending_generation = generation;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

int publish_set_credentials(struct publish *p, const struct publish_credentials *credentials,
                            char *err, size_t errlen)
{
    struct publish_creds *fresh = publish_creds_new(credentials, err, errlen);
    if (fresh == NULL)
        return -1;
    pthread_mutex_lock(&p->lock);
    struct publish_creds *replaced = p->new_creds;
    p->new_creds = fresh;
    pthread_mutex_unlock(&p->lock);
    publish_creds_free(replaced);
    return 0;
}

void publish_get_stats(struct publish *p, struct publish_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->stats;
    pthread_mutex_unlock(&p->lock);
}

void publish_stop(struct publish *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->count; i++)
        publish_target_free(&p->targets[i]);
    free(p->targets);
    free(p->pending);
    publish_creds_free(p->new_creds);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p);
}
