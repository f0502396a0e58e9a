/*
 * http_client — every libcurl transfer of mdevmig: the scheduler's fan-out
 * of probes to the collectors (DESIGN.md §3), and the blocking sessions of
 * the clients that send one request at a time (Placement, Keystone, the
 * publishers, the CLI). Both fill a struct http_call through the same
 * callbacks, options and error texts (the "one transfer" section), so TLS
 * verification, the response cap and what an operator reads on a failure
 * are the same for every request.
 *
 * The fan-out: one I/O thread per client owns one curl multi handle and
 * so one connection cache; http_client_run() hands its batch to that
 * thread and sleeps until the batch is done. Why not a multi per caller
 * sharing connections through a CURLSH: libcurl documents
 * CURL_LOCK_DATA_CONNECT as unsafe between concurrent threads (KNOWN_BUGS "A shared connection
 * cache is not thread-safe", curl#4915), and a multi per caller would warm
 * a separate set of connections per thread. With one owner thread every
 * caller reuses every warm connection and no curl handle is ever touched
 * by two threads.
 *
 * The thread queues calls per host:port itself and feeds the multi handle
 * at most max_parallel easy handles (reused), instead of adding a whole
 * batch and letting CURLMOPT_MAX_TOTAL_CONNECTIONS / MAX_HOST_CONNECTIONS
 * hold the rest pending: the total cap counts idle connections too, so a
 * cap below the number of warm connections closes them and reconnects
 * (hundreds of reconnects per 1,000-probe batch on the bench); a thousand
 * handles in the multi cost more CPU than 64; and our own queue can fail
 * a refused host's queued calls at once. One connection per host is the
 * default: on the fan-out bench more per host bought no speed, only
 * connections.
 */
#include "http_client.h"

#include "http_url.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define HTTP_DEFAULT_TIMEOUT_MS         3000
#define HTTP_DEFAULT_MAX_PARALLEL       64
#define HTTP_DEFAULT_MAX_PER_HOST       1
#define HTTP_DEFAULT_MAX_CONNECTIONS    256
#define HTTP_TLS_ALLOWANCE_MS           2000
/* Longest the I/O thread sleeps with nothing to do; work wakes it at once. */
#define HTTP_IDLE_POLL_MS 1000

enum http_slot_state { HTTP_SLOT_QUEUED, HTTP_SLOT_RUNNING, HTTP_SLOT_DONE };

struct http_host;
struct http_batch;

/* Where a call goes, worked out from its URL (and peer_name) before it
 * is sent. */
struct http_route {
    char *key;                     /* "scheme://host:port", malloc'd: a host's queue */
    const char *hostport;          /* "host:port" (inside key, or label) for messages */
    char *url;                     /* the URL asked for, when peer_name rewrote it */
    struct curl_slist *connect_to; /* where peer_name's URL really connects */
    char *label;                   /* "peer_name (host:port)" in messages, when rewritten */
};

/* One transfer under way: what libcurl's callbacks fill in. */
struct http_xfer {
    struct http_call *call;
    size_t max;     /* of call->response */
    bool truncate;  /* past max: keep the first max bytes and drop the rest */
    size_t cap;     /* of call->response */
    bool connected; /* a connection was ready for the request */
    bool too_large, out_of_memory;
    char curl_err[CURL_ERROR_SIZE];
};

/* The client's bookkeeping for one call of a batch. */
struct http_slot {
    struct http_call *call;
    struct http_batch *batch;
    struct http_host *host;        /* while queued or running */
    struct http_slot *prev, *next; /* in host->wait while queued */
    struct http_route route;
    struct http_xfer xfer;
    struct curl_slist *headers; /* the credentials' and the call's own, when it has some */
    CURL *easy;                 /* while running */
    unsigned generation;        /* of the credentials the request started with */
    enum http_slot_state state;
};

/* One http_client_run(): lives on the caller's stack until done is set. */
struct http_batch {
    struct http_slot *slots;
    size_t count;
    size_t remaining; /* slots not DONE */
    size_t queued;    /* slots QUEUED */
    int64_t start_us, deadline_us;
    pthread_cond_t done_cond;
    bool done;
    struct http_batch *next; /* in the incoming or active list */
};

/* The token's headers and the TLS files of one http_client_set_credentials.
 * Replaced ones are kept until the client is freed: a running request's
 * easy handle still points at its headers. */
struct http_creds {
    struct curl_slist *headers_get, *headers_body;
    char *token; /* to tell an unchanged reload */
    char *ca_file, *cert_file, *key_file;
    struct http_creds *older;
};

/* Calls queued for and running to one host:port (I/O thread only). */
struct http_host {
    struct http_host *hash_next;
    struct http_host *ring_next;
    struct http_slot *wait_head, *wait_tail;
    size_t waiting;
    int in_flight;
    bool in_ring;
    uint64_t hash;
    char key[];
};

struct http_client {
    long connect_timeout_ms, timeout_ms;
    int max_parallel, max_per_host, max_connections;
    CURLSH *share;
    CURLM *multi;
    pthread_t thread;

    pthread_mutex_t lock; /* guards incoming, pending and stopping */
    struct http_batch *incoming_head, *incoming_tail;
    struct http_creds *pending; /* from http_client_set_credentials, for the I/O thread */
    bool stopping;

    /* Everything below belongs to the I/O thread. */
    struct http_creds *creds; /* in use; ->older: replaced ones */
    unsigned generation;      /* bumped with each new creds */
    struct http_batch *active_head, *active_tail;
    struct http_host **buckets;
    size_t bucket_count, host_count;
    struct http_host *ring_head, *ring_tail; /* hosts with a call to start */
    int in_flight;
    CURL **spare; /* easy handles kept for reuse, up to max_parallel */
    int spare_count;
};

static pthread_once_t http_global_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc = CURLE_FAILED_INIT;

static void http_global_init(void)
{
    /* Never cleaned up: other parts of the process may still use libcurl,
     * and what it holds is freed at exit. */
    http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t http_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- options ----------------------------------------------------------- */

static bool http_token_ok(const char *token)
{
    if (token[0] == '\0')
        return false;
    /* A CR or LF would let the token write its own headers. */
    for (const unsigned char *p = (const unsigned char *)token; *p != '\0'; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

static bool http_options_apply(struct http_client *c, const struct http_client_options *o,
                               char *err, size_t errlen)
{
    struct http_client_options zero = {0};
    if (o == NULL)
        o = &zero;
    if (o->connect_timeout_ms < 0 || o->timeout_ms < 0 || o->max_parallel < 0 ||
        o->max_per_host < 0 || o->max_connections < 0) {
        snprintf(err, errlen, "HTTP client options must not be negative");
        return false;
    }
    if (o->max_parallel > 10000 || o->max_per_host > 10000 || o->max_connections > 100000) {
        snprintf(err, errlen,
                 "HTTP client limits too large (max_parallel and max_per_host at most 10000, "
                 "max_connections at most 100000)");
        return false;
    }
    if (o->token != NULL && !http_token_ok(o->token)) {
        snprintf(err, errlen, "the bearer token is empty or holds whitespace or control bytes");
        return false;
    }
    c->connect_timeout_ms =
        o->connect_timeout_ms > 0 ? o->connect_timeout_ms : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
    c->max_parallel = o->max_parallel > 0 ? o->max_parallel : HTTP_DEFAULT_MAX_PARALLEL;
    c->max_per_host = o->max_per_host > 0 ? o->max_per_host : HTTP_DEFAULT_MAX_PER_HOST;
    c->max_connections = o->max_connections > 0 ? o->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS;
    if (c->max_connections < c->max_parallel)
        c->max_connections = c->max_parallel;
    return true;
}

/* A header list may carry a token: it is wiped before it is freed. */
static void http_headers_free(struct curl_slist *list)
{
    for (struct curl_slist *h = list; h != NULL; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(list);
}

/* base's lines, then more's (NULL-terminated): the list of one request. */
static bool http_headers_build(const struct curl_slist *base, const char *const *more,
                               struct curl_slist **out)
{
    struct curl_slist *list = NULL, *l;
    for (; base != NULL; base = base->next) {
        if ((l = curl_slist_append(list, base->data)) == NULL)
            goto fail;
        list = l;
    }
    for (; more != NULL && *more != NULL; more++) {
        if ((l = curl_slist_append(list, *more)) == NULL)
            goto fail;
        list = l;
    }
    *out = list;
    return true;
fail:
    http_headers_free(list);
    *out = NULL;
    return false;
}

static void http_creds_free(struct http_creds *cr)
{
    while (cr != NULL) {
        struct http_creds *older = cr->older;
        http_headers_free(cr->headers_get);
        http_headers_free(cr->headers_body);
        if (cr->token != NULL)
            explicit_bzero(cr->token, strlen(cr->token));
        free(cr->token);
        free(cr->ca_file);
        free(cr->cert_file);
        free(cr->key_file);
        free(cr);
        cr = older;
    }
}

static bool http_strdup_opt(const char *in, char **out)
{
    *out = in != NULL ? strdup(in) : NULL;
    return in == NULL || *out != NULL;
}

static bool http_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The two header lists (requests with and without a body) and the TLS
 * files, built once per set of credentials. */
static struct http_creds *http_creds_new(const struct http_client_credentials *in, char *err,
                                         size_t errlen)
{
    if (in->token != NULL && !http_token_ok(in->token)) {
        snprintf(err, errlen, "the bearer token is empty or holds whitespace or control bytes");
        return NULL;
    }
    struct http_creds *cr = calloc(1, sizeof *cr);
    char *auth = NULL;
    bool ok = cr != NULL && http_strdup_opt(in->token, &cr->token) &&
              http_strdup_opt(in->ca_file, &cr->ca_file) &&
              http_strdup_opt(in->client_cert_file, &cr->cert_file) &&
              http_strdup_opt(in->client_key_file, &cr->key_file) &&
              (in->token == NULL || asprintf(&auth, "Authorization: Bearer %s", in->token) >= 0);
    if (!ok)
        auth = NULL;
    /* "Expect:" turns off libcurl's Expect: 100-continue, which would cost
     * a round trip (or a 1 s wait) before larger bodies. */
    const char *body_only[] = {"Content-Type: application/json", "Expect:"};
    struct curl_slist *l;
    if (ok && auth != NULL) {
        ok = (l = curl_slist_append(cr->headers_get, auth)) != NULL;
        if (ok)
            cr->headers_get = l;
        ok = ok && (l = curl_slist_append(cr->headers_body, auth)) != NULL;
        if (ok)
            cr->headers_body = l;
    }
    for (size_t i = 0; ok && i < sizeof body_only / sizeof body_only[0]; i++) {
        ok = (l = curl_slist_append(cr->headers_body, body_only[i])) != NULL;
        if (ok)
            cr->headers_body = l;
    }
    if (auth != NULL)
        explicit_bzero(auth, strlen(auth));
    free(auth);
    if (!ok) {
        http_creds_free(cr);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return cr;
}

/* I/O thread: take credentials handed over by http_client_set_credentials.
 * Idle easy handles carry the old TLS files, so they go; running ones are
 * dropped when they finish (their generation is old). */
static void http_creds_take(struct http_client *c, struct http_creds *fresh)
{
    if (fresh == NULL)
        return;
    struct http_creds *cur = c->creds;
    if (cur != NULL && http_same(cur->token, fresh->token) &&
        http_same(cur->ca_file, fresh->ca_file) && http_same(cur->cert_file, fresh->cert_file) &&
        http_same(cur->key_file, fresh->key_file)) {
        http_creds_free(fresh);
        return;
    }
    fresh->older = cur;
    c->creds = fresh;
    c->generation++;
    while (c->spare_count > 0)
        curl_easy_cleanup(c->spare[--c->spare_count]);
}

/* --- one transfer: shared by the fan-out and the sessions -------------- */

static void http_wipe_free(char *text)
{
    if (text != NULL)
        explicit_bzero(text, strlen(text));
    free(text);
}

/* Back to "not run": what an earlier run left is freed. */
static void http_call_clear(struct http_call *call)
{
    free(call->response);
    call->response = NULL;
    call->response_len = 0;
    http_wipe_free(call->reply_header_value);
    call->reply_header_value = NULL;
    call->too_large = false;
    call->status = 0;
    call->error[0] = '\0';
    call->elapsed_us = 0;
}

static void http_call_verror(struct http_call *call, const char *fmt, va_list ap)
{
    free(call->response);
    call->response = NULL;
    call->response_len = 0;
    http_wipe_free(call->reply_header_value);
    call->reply_header_value = NULL;
    call->status = 0;
    vsnprintf(call->error, sizeof call->error, fmt, ap);
}

static void http_call_error(struct http_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void http_call_error(struct http_call *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    http_call_verror(call, fmt, ap);
    va_end(ap);
}

static const char *http_method(const struct http_call *call)
{
    return call->method != NULL ? call->method : call->body != NULL ? "POST" : "GET";
}

/* A POST or PUT without a body still sends "Content-Length: 0". */
static bool http_has_body(const struct http_call *call)
{
    const char *method = http_method(call);
    return call->body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
}

/* The one write callback: the response into call->response, up to the cap. */
static size_t http_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_xfer *x = arg;
    struct http_call *call = x->call;
    size_t n = size * nmemb;
    size_t keep = n;
    if (n > x->max - call->response_len) {
        if (!x->truncate) {
            x->too_large = true;
            return 0; /* anything but n fails the transfer with CURLE_WRITE_ERROR */
        }
        /* Claim it all, so libcurl does not fail the transfer over it. */
        keep = x->max - call->response_len;
    }
    if (call->response_len + keep + 1 > x->cap) {
        size_t cap = x->cap == 0 ? 512 : x->cap;
        while (cap < call->response_len + keep + 1)
            cap *= 2;
        char *grown = realloc(call->response, cap);
        if (grown == NULL) {
            x->out_of_memory = true;
            return 0;
        }
        call->response = grown;
        x->cap = cap;
    }
    memcpy(call->response + call->response_len, data, keep);
    call->response_len += keep;
    call->response[call->response_len] = '\0';
    return n;
}

/* Keeps the value of the response header the call asked for; a later one
 * (after a 100 Continue, say) replaces an earlier one. */
static size_t http_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_xfer *x = arg;
    const char *name = x->call->reply_header;
    size_t n = size * nmemb;
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || n <= len || data[len] != ':' || strncasecmp(data, name, len) != 0)
        return n;
    const char *value = data + len + 1;
    const char *end = data + n;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && isspace((unsigned char)end[-1]))
        end--;
    char *copy = strndup(value, (size_t)(end - value));
    if (copy == NULL) {
        x->out_of_memory = true;
        return 0;
    }
    http_wipe_free(x->call->reply_header_value);
    x->call->reply_header_value = copy;
    return n;
}

/* Called once a connection (new or reused) is ready to carry the request:
 * tells a connect timeout from a slow response. */
static int http_prereq(void *arg, char *primary_ip, char *local_ip, int primary_port,
                       int local_port)
{
    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    struct http_xfer *x = arg;
    x->connected = true;
    return CURL_PREREQFUNC_OK;
}

static int http_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    struct http_xfer *x = arg;
    if (x->call->progress != NULL)
        x->call->progress(x->call->progress_ctx);
    return 0;
}

/* Keep the first failure: one error names the option that did not take. */
#define HTTP_SETOPT(rc, easy, opt, value)                                                          \
    do {                                                                                           \
        if ((rc) == CURLE_OK)                                                                      \
            (rc) = curl_easy_setopt((easy), (opt), (value));                                       \
    } while (0)

/* The options every handle carries, whoever sends on it. */
static CURLcode http_easy_base(CURL *easy, const char *ca_file, const char *cert_file,
                               const char *key_file)
{
    CURLcode rc = CURLE_OK;
    /* Timeouts must not use signals: these are threaded processes. */
    HTTP_SETOPT(rc, easy, CURLOPT_NOSIGNAL, 1L);
    HTTP_SETOPT(rc, easy, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Idle connections stay open between calls; TCP keep-alive notices a
     * server that went away while its connection sat idle. */
    HTTP_SETOPT(rc, easy, CURLOPT_TCP_KEEPALIVE, 1L);
    HTTP_SETOPT(rc, easy, CURLOPT_WRITEFUNCTION, http_write);
    HTTP_SETOPT(rc, easy, CURLOPT_HEADERFUNCTION, http_header);
    HTTP_SETOPT(rc, easy, CURLOPT_PREREQFUNCTION, http_prereq);
    HTTP_SETOPT(rc, easy, CURLOPT_XFERINFOFUNCTION, http_progress);
    /* Verification stays on (libcurl's default) whatever the files; the
     * CA file is re-read for each new connection, so a replaced one is
     * used without waiting for libcurl's CA cache to expire. */
    HTTP_SETOPT(rc, easy, CURLOPT_SSL_VERIFYPEER, 1L);
    HTTP_SETOPT(rc, easy, CURLOPT_SSL_VERIFYHOST, 2L);
    HTTP_SETOPT(rc, easy, CURLOPT_CA_CACHE_TIMEOUT, 0L);
    if (ca_file != NULL)
        HTTP_SETOPT(rc, easy, CURLOPT_CAINFO, ca_file);
    if (cert_file != NULL)
        HTTP_SETOPT(rc, easy, CURLOPT_SSLCERT, cert_file);
    if (key_file != NULL)
        HTTP_SETOPT(rc, easy, CURLOPT_SSLKEY, key_file);
    return rc;
}

/* What differs per request. Every option a previous request may have set
 * is set again, so a reused handle carries nothing over. */
static CURLcode http_easy_request(CURL *easy, struct http_xfer *x, const struct http_route *r,
                                  struct curl_slist *headers, long total_ms, long connect_ms)
{
    const struct http_call *call = x->call;
    CURLcode rc = CURLE_OK;
    x->curl_err[0] = '\0';
    HTTP_SETOPT(rc, easy, CURLOPT_URL, r->url != NULL ? r->url : call->url);
    HTTP_SETOPT(rc, easy, CURLOPT_CONNECT_TO, r->connect_to);
    HTTP_SETOPT(rc, easy, CURLOPT_ERRORBUFFER, x->curl_err);
    HTTP_SETOPT(rc, easy, CURLOPT_WRITEDATA, (void *)x);
    HTTP_SETOPT(rc, easy, CURLOPT_HEADERDATA, (void *)x);
    HTTP_SETOPT(rc, easy, CURLOPT_PREREQDATA, (void *)x);
    HTTP_SETOPT(rc, easy, CURLOPT_XFERINFODATA, (void *)x);
    HTTP_SETOPT(rc, easy, CURLOPT_NOPROGRESS, call->progress != NULL ? 0L : 1L);
    HTTP_SETOPT(rc, easy, CURLOPT_TIMEOUT_MS, total_ms);
    HTTP_SETOPT(rc, easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms < total_ms ? connect_ms : total_ms);
    HTTP_SETOPT(rc, easy, CURLOPT_HTTPHEADER, headers);
    const char *method = http_method(call);
    bool has_body = http_has_body(call);
    if (has_body) {
        HTTP_SETOPT(rc, easy, CURLOPT_POSTFIELDSIZE_LARGE,
                    (curl_off_t)(call->body != NULL ? call->body_len : 0));
        HTTP_SETOPT(rc, easy, CURLOPT_POSTFIELDS, call->body != NULL ? call->body : "");
    } else {
        HTTP_SETOPT(rc, easy, CURLOPT_HTTPGET, 1L);
    }
    /* GET and POST are what HTTPGET / POSTFIELDS already send. */
    bool plain = strcmp(method, has_body ? "POST" : "GET") == 0;
    HTTP_SETOPT(rc, easy, CURLOPT_CUSTOMREQUEST, plain ? NULL : method);
    return rc;
}

static bool http_is_connect_failure(CURLcode res, bool connected)
{
    return res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
           (res == CURLE_OPERATION_TIMEDOUT && !connected);
}

/* What went wrong, for an operator; the caller puts "host:port: " before. */
static void http_describe(const struct http_xfer *x, CURL *easy, CURLcode res, long took_ms,
                          char *out, size_t outlen)
{
    long os_errno = 0;
    const char *detail = x->curl_err[0] != '\0' ? x->curl_err : curl_easy_strerror(res);
    if (x->too_large) {
        snprintf(out, outlen, "response larger than %zu bytes", x->max);
    } else if (x->out_of_memory) {
        snprintf(out, outlen, "out of memory for the response");
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        snprintf(out, outlen,
                 x->connected ? "timed out after %ld ms waiting for the response"
                              : "connect timed out after %ld ms",
                 took_ms);
    } else if (res == CURLE_PEER_FAILED_VERIFICATION) {
        snprintf(out, outlen, "TLS: the server's certificate did not verify: %s", detail);
    } else if (res == CURLE_SSL_CONNECT_ERROR) {
        snprintf(out, outlen,
                 "TLS handshake failed: %s (a plain http:// server, or TLS settings "
                 "the server refuses?)",
                 detail);
    } else if (res == CURLE_SSL_CERTPROBLEM || res == CURLE_SSL_CACERT_BADFILE ||
               res == CURLE_SSL_CIPHER || res == CURLE_SSL_ISSUER_ERROR ||
               res == CURLE_SSL_CRL_BADFILE) {
        snprintf(out, outlen, "TLS settings: %s", detail);
    } else if (res == CURLE_GOT_NOTHING) {
        snprintf(out, outlen, "%s (an https:// server reached with http://?)",
                 curl_easy_strerror(res));
    } else if ((res == CURLE_COULDNT_CONNECT || res == CURLE_SEND_ERROR ||
                res == CURLE_RECV_ERROR) &&
               curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0) {
        /* Only for errors that set it: a reused handle keeps the last one. */
        char buf[128];
        snprintf(out, outlen, "%s (%s)", curl_easy_strerror(res),
                 strerror_r((int)os_errno, buf, sizeof buf));
    } else {
        snprintf(out, outlen, "%s", curl_easy_strerror(res));
    }
}

static void http_route_free(struct http_route *r)
{
    free(r->key);
    free(r->url);
    free(r->label);
    curl_slist_free_all(r->connect_to);
    *r = (struct http_route){.hostport = "?"};
}

/* peer_name differs from the URL's host: ask for https://PEER_NAME:PORT/...
 * so that libcurl checks the certificate against PEER_NAME (and sends it
 * as SNI), and connect to the URL's host:port instead (CONNECT_TO). The
 * host key is PEER_NAME's, so no connection made for one host name is
 * reused for another. */
static bool http_route_pin(struct http_route *r, struct http_call *call, CURLU *u, const char *host,
                           const char *port)
{
    const char *peer = call->peer_name;
    char *url = NULL, *route = NULL;
    CURLUcode urc = curl_url_set(u, CURLUPART_HOST, peer, 0);
    if (urc == CURLUE_OK)
        urc = curl_url_get(u, CURLUPART_URL, &url, 0);
    if (urc != CURLUE_OK) {
        http_call_error(call, "%s:%s: host name \"%.64s\" cannot stand in a URL: %s", host, port,
                        peer, curl_url_strerror(urc));
        return false;
    }
    bool ok = asprintf(&route, "%s:%s:%s:%s", peer, port, host, port) >= 0;
    if (!ok)
        route = NULL;
    ok = ok && (r->url = strdup(url)) != NULL;
    ok = ok && (r->connect_to = curl_slist_append(NULL, route)) != NULL;
    ok = ok && asprintf(&r->label, "%s (%s:%s)", peer, host, port) >= 0;
    if (!ok)
        r->label = NULL;
    ok = ok && asprintf(&r->key, "https://%s:%s", peer, port) >= 0;
    if (!ok)
        r->key = NULL;
    curl_free(url);
    free(route);
    if (!ok) {
        http_call_error(call, "out of memory");
        return false;
    }
    r->hostport = r->label;
    return true;
}

/* Check a call and find where it goes. False (with the call failed) when
 * it cannot run; r is freed by the caller either way. */
static bool http_route_prepare(struct http_route *r, struct http_call *call)
{
    r->hostport = "?";
    if (call->url == NULL) {
        http_call_error(call, "request without a URL");
        return false;
    }
    const char *method = call->method;
    if (method != NULL && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
        strcmp(method, "PUT") != 0 && strcmp(method, "DELETE") != 0) {
        http_call_error(call, "%s: method \"%.32s\" is not GET, POST, PUT or DELETE", call->url,
                        method);
        return false;
    }
    char why[200];
    if (http_url_check(call->url, why, sizeof why) < 0) {
        http_call_error(call, "bad URL \"%.160s\": %s", call->url, why);
        return false;
    }
    CURLU *u = curl_url();
    if (u == NULL) {
        http_call_error(call, "out of memory");
        return false;
    }
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLUcode urc = curl_url_set(u, CURLUPART_URL, call->url, 0);
    if (urc == CURLUE_OK)
        urc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (urc == CURLUE_OK)
        urc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (urc == CURLUE_OK)
        urc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    bool ok = false;
    if (urc != CURLUE_OK) {
        http_call_error(call, "bad URL \"%.160s\": %s", call->url, curl_url_strerror(urc));
    } else if (call->peer_name != NULL && strcmp(scheme, "https") != 0) {
        http_call_error(call,
                        "%s:%s: refused to call host %.64s over http://: only an https:// URL "
                        "can prove the server is that host (mutual TLS is on)",
                        host, port, call->peer_name);
    } else if (call->peer_name != NULL && strcmp(call->peer_name, host) != 0) {
        ok = http_route_pin(r, call, u, host, port);
    } else if (asprintf(&r->key, "%s://%s:%s", scheme, host, port) < 0) {
        r->key = NULL;
        http_call_error(call, "out of memory");
    } else {
        r->hostport = r->key + strlen(scheme) + 3;
        ok = true;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

/* A copy of src's route for a call that routes the same way (same URL,
 * peer name and method): a fan-out sends many calls to each collector's
 * one URL, and parsing it once per batch instead of once per call saves
 * the caller a URL parse and its allocations per probe. False when out of
 * memory (dst is then freed by the caller as usual). */
static bool http_route_copy(struct http_route *dst, const struct http_route *src)
{
    dst->hostport = "?";
    if ((dst->key = strdup(src->key)) == NULL)
        return false;
    if (src->label != NULL) {
        if ((dst->label = strdup(src->label)) == NULL)
            return false;
        dst->hostport = dst->label;
    } else {
        dst->hostport = dst->key + (src->hostport - src->key);
    }
    if (src->url != NULL && (dst->url = strdup(src->url)) == NULL)
        return false;
    if (src->connect_to != NULL &&
        (dst->connect_to = curl_slist_append(NULL, src->connect_to->data)) == NULL)
        return false;
    return true;
}

static bool http_same_text(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* --- hosts ------------------------------------------------------------- */

static uint64_t http_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static bool http_hosts_grow(struct http_client *c)
{
    size_t count = c->bucket_count == 0 ? 64 : c->bucket_count * 2;
    struct http_host **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL)
        return false;
    for (size_t i = 0; i < c->bucket_count; i++) {
        struct http_host *h = c->buckets[i];
        while (h != NULL) {
            struct http_host *next = h->hash_next;
            size_t b = h->hash & (count - 1);
            h->hash_next = buckets[b];
            buckets[b] = h;
            h = next;
        }
    }
    free(c->buckets);
    c->buckets = buckets;
    c->bucket_count = count;
    return true;
}

static struct http_host *http_host_get(struct http_client *c, const char *key)
{
    uint64_t hash = http_hash(key);
    if (c->bucket_count > 0) {
        for (struct http_host *h = c->buckets[hash & (c->bucket_count - 1)]; h != NULL;
             h = h->hash_next)
            if (h->hash == hash && strcmp(h->key, key) == 0)
                return h;
    }
    if (c->host_count >= c->bucket_count && !http_hosts_grow(c))
        return NULL;
    size_t len = strlen(key);
    struct http_host *h = calloc(1, sizeof *h + len + 1);
    if (h == NULL)
        return NULL;
    memcpy(h->key, key, len + 1);
    h->hash = hash;
    size_t b = hash & (c->bucket_count - 1);
    h->hash_next = c->buckets[b];
    c->buckets[b] = h;
    c->host_count++;
    return h;
}

static void http_ring_push(struct http_client *c, struct http_host *h)
{
    h->in_ring = true;
    h->ring_next = NULL;
    if (c->ring_tail != NULL)
        c->ring_tail->ring_next = h;
    else
        c->ring_head = h;
    c->ring_tail = h;
}

static struct http_host *http_ring_pop(struct http_client *c)
{
    struct http_host *h = c->ring_head;
    if (h == NULL)
        return NULL;
    c->ring_head = h->ring_next;
    if (c->ring_head == NULL)
        c->ring_tail = NULL;
    h->in_ring = false;
    h->ring_next = NULL;
    return h;
}

/* After a host's counts changed: make it startable, or drop it when idle
 * (the table holds only hosts with work, so it never grows with history). */
static void http_host_update(struct http_client *c, struct http_host *h)
{
    if (h->in_ring)
        return;
    if (h->waiting > 0 && h->in_flight < c->max_per_host) {
        http_ring_push(c, h);
        return;
    }
    if (h->waiting > 0 || h->in_flight > 0)
        return;
    struct http_host **p = &c->buckets[h->hash & (c->bucket_count - 1)];
    while (*p != h)
        p = &(*p)->hash_next;
    *p = h->hash_next;
    c->host_count--;
    free(h);
}

static void http_host_append(struct http_host *h, struct http_slot *s)
{
    s->host = h;
    s->next = NULL;
    s->prev = h->wait_tail;
    if (h->wait_tail != NULL)
        h->wait_tail->next = s;
    else
        h->wait_head = s;
    h->wait_tail = s;
    h->waiting++;
}

static void http_host_unlink(struct http_host *h, struct http_slot *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h->wait_head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        h->wait_tail = s->prev;
    s->prev = s->next = NULL;
    h->waiting--;
}

/* --- batches ----------------------------------------------------------- */

static void http_batch_unlink(struct http_client *c, struct http_batch *b)
{
    struct http_batch **p = &c->active_head;
    struct http_batch *prev = NULL;
    while (*p != b) {
        prev = *p;
        p = &(*p)->next;
    }
    *p = b->next;
    if (c->active_tail == b)
        c->active_tail = prev;
    b->next = NULL;
}

/* A slot is finished: once its batch has none left, wake the caller and
 * return true. From then on the batch and its slots belong to the caller
 * again (it may free them at once), so the I/O thread must not touch them. */
static bool http_slot_done(struct http_client *c, struct http_slot *s)
{
    struct http_batch *b = s->batch;
    if (s->state == HTTP_SLOT_QUEUED)
        b->queued--;
    s->state = HTTP_SLOT_DONE;
    if (--b->remaining > 0)
        return false;
    http_batch_unlink(c, b);
    pthread_mutex_lock(&c->lock);
    b->done = true;
    pthread_cond_signal(&b->done_cond);
    pthread_mutex_unlock(&c->lock);
    return true;
}

static void http_call_fail(struct http_slot *s, int64_t now_us, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void http_call_fail(struct http_slot *s, int64_t now_us, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    http_call_verror(s->call, fmt, ap);
    va_end(ap);
    s->call->elapsed_us = (long)(now_us - s->batch->start_us);
}

/* Fail a queued slot without running it (deadline passed, host refused).
 * The caller updates the host: it may be freed then. True when this
 * completed the slot's batch. */
static bool http_slot_drop(struct http_client *c, struct http_slot *s, int64_t now_us,
                           const char *why)
{
    http_host_unlink(s->host, s);
    s->host = NULL;
    http_call_fail(s, now_us, "%s: %s", s->route.hostport, why);
    return http_slot_done(c, s);
}

/* --- the fan-out's easy handles ------------------------------------------ */

/* A new easy handle with the options every request of the fan-out shares. */
static CURL *http_easy_new(struct http_client *c, CURLcode *rc)
{
    CURL *easy = curl_easy_init();
    if (easy == NULL) {
        *rc = CURLE_OUT_OF_MEMORY;
        return NULL;
    }
    *rc = http_easy_base(easy, c->creds->ca_file, c->creds->cert_file, c->creds->key_file);
    HTTP_SETOPT(*rc, easy, CURLOPT_SHARE, c->share);
    /* Collectors are reached directly: an http_proxy in an operator's
     * environment must not route probes (and the bearer token) through a
     * proxy. */
    HTTP_SETOPT(*rc, easy, CURLOPT_PROXY, "");
    HTTP_SETOPT(*rc, easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* Small requests and replies: no Nagle delay on either. */
    HTTP_SETOPT(*rc, easy, CURLOPT_TCP_NODELAY, 1L);
    HTTP_SETOPT(*rc, easy, CURLOPT_TCP_KEEPIDLE, 30L);
    HTTP_SETOPT(*rc, easy, CURLOPT_TCP_KEEPINTVL, 10L);
    if (*rc != CURLE_OK) {
        curl_easy_cleanup(easy);
        return NULL;
    }
    return easy;
}

/* Set what differs per request (http_easy_request), from the batch's
 * deadline and the credentials now in use. */
static CURLcode http_easy_prepare(struct http_client *c, CURL *easy, struct http_slot *s,
                                  int64_t now_us)
{
    const struct http_call *call = s->call;
    long left_ms = (long)((s->batch->deadline_us - now_us + 999) / 1000);
    if (call->timeout_ms > 0 && call->timeout_ms < left_ms)
        left_ms = call->timeout_ms;
    if (left_ms < 1)
        left_ms = 1;
    s->generation = c->generation;
    /* libcurl's connect timeout covers the TLS handshake too: a sched
     * that starts (or reloads its certificates) opens every collector's
     * connection in one wave, and on a busy host those handshakes take
     * longer than a TCP connect. An https connect gets HTTP_TLS_ALLOWANCE_MS
     * more, still within the request's own deadline. */
    long connect_ms = c->connect_timeout_ms;
    if (strncmp(s->route.key, "https:", 6) == 0)
        connect_ms += HTTP_TLS_ALLOWANCE_MS;
    struct curl_slist *headers =
        http_has_body(call) ? c->creds->headers_body : c->creds->headers_get;
    if (call->headers != NULL) {
        http_headers_free(s->headers);
        if (!http_headers_build(headers, call->headers, &s->headers))
            return CURLE_OUT_OF_MEMORY;
        headers = s->headers;
    }
    CURLcode rc = http_easy_request(easy, &s->xfer, &s->route, headers, left_ms, connect_ms);
    HTTP_SETOPT(rc, easy, CURLOPT_PRIVATE, (void *)s);
    return rc;
}

static void http_easy_release(struct http_client *c, CURL *easy, unsigned generation)
{
    if (generation == c->generation && c->spare_count < c->max_parallel)
        c->spare[c->spare_count++] = easy;
    else
        curl_easy_cleanup(easy);
}

/* --- the I/O thread ---------------------------------------------------- */

/* Start the next call of a host. False when it failed at once (and is done). */
static bool http_slot_start(struct http_client *c, struct http_host *h)
{
    struct http_slot *s = h->wait_head;
    int64_t now = http_now_us();
    http_host_unlink(h, s);
    s->batch->queued--;
    s->state = HTTP_SLOT_RUNNING;
    h->in_flight++;
    c->in_flight++;

    CURLcode rc = CURLE_OK;
    CURL *easy = c->spare_count > 0 ? c->spare[--c->spare_count] : http_easy_new(c, &rc);
    if (easy != NULL)
        rc = http_easy_prepare(c, easy, s, now);
    CURLMcode mrc = CURLM_OK;
    if (easy != NULL && rc == CURLE_OK)
        mrc = curl_multi_add_handle(c->multi, easy);
    if (easy != NULL && rc == CURLE_OK && mrc == CURLM_OK) {
        s->easy = easy;
        return true;
    }
    if (easy != NULL)
        curl_easy_cleanup(easy); /* its options may be half set */
    h->in_flight--;
    c->in_flight--;
    s->host = NULL;
    http_call_fail(s, now, "%s: cannot start the request: %s", s->route.hostport,
                   rc != CURLE_OK ? curl_easy_strerror(rc) : curl_multi_strerror(mrc));
    http_slot_done(c, s);
    http_host_update(c, h);
    return false;
}

/* Fill the free transfer slots, one call per host in turn, so every host
 * is busy before any host gets a second connection. */
static void http_start_ready(struct http_client *c)
{
    while (c->in_flight < c->max_parallel && c->ring_head != NULL) {
        struct http_host *h = http_ring_pop(c);
        if (h->waiting == 0 || h->in_flight >= c->max_per_host) {
            http_host_update(c, h);
            continue;
        }
        if (!http_slot_start(c, h))
            continue; /* the host was updated (or freed) with the failure */
        if (h->waiting > 0 && h->in_flight < c->max_per_host)
            http_ring_push(c, h);
    }
}

static void http_slot_finish(struct http_client *c, CURL *easy, CURLcode res)
{
    char *priv = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || priv == NULL)
        return; /* not ours: cannot happen, every handle carries its slot */
    struct http_slot *s = (struct http_slot *)(void *)priv;
    struct http_call *call = s->call;
    struct http_host *h = s->host;
    int64_t now = http_now_us();
    long status = 0;
    curl_off_t total_us = 0;
    if (res == CURLE_OK)
        res = curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us) != CURLE_OK)
        total_us = now - s->batch->start_us;
    char why[200] = "";
    if (res != CURLE_OK)
        http_describe(&s->xfer, easy, res, (long)(total_us / 1000), why, sizeof why);
    bool connect_failed = http_is_connect_failure(res, s->xfer.connected);

    CURLMcode mrc = curl_multi_remove_handle(c->multi, easy);
    if (mrc == CURLM_OK)
        http_easy_release(c, easy, s->generation);
    else
        curl_easy_cleanup(easy);
    s->easy = NULL;
    s->host = NULL;
    h->in_flight--;
    c->in_flight--;

    if (res == CURLE_OK && call->response == NULL) {
        call->response = strdup(""); /* callers parse without a NULL check */
        if (call->response == NULL)
            snprintf(why, sizeof why, "out of memory for the response");
    }
    call->too_large = s->xfer.too_large;
    if (why[0] != '\0') {
        http_call_fail(s, now, "%s: %s", s->route.hostport, why);
    } else {
        call->status = (int)status;
    }
    call->elapsed_us = (long)total_us;
    /* The calls still queued for a host that refused or never answered
     * the connect would only wait to fail the same way. */
    if (connect_failed)
        while (h->wait_head != NULL)
            http_slot_drop(c, h->wait_head, now, why);
    http_slot_done(c, s);
    http_host_update(c, h);
}

/* Take the batches callers handed over; put their calls in host queues. */
static void http_take_incoming(struct http_client *c, struct http_batch *incoming)
{
    while (incoming != NULL) {
        struct http_batch *b = incoming;
        incoming = b->next;
        b->next = NULL;
        if (c->active_tail != NULL)
            c->active_tail->next = b;
        else
            c->active_head = b;
        c->active_tail = b;
        int64_t now = http_now_us();
        for (size_t i = 0; i < b->count; i++) {
            struct http_slot *s = &b->slots[i];
            if (s->state != HTTP_SLOT_QUEUED)
                continue;
            struct http_host *h = http_host_get(c, s->route.key);
            if (h == NULL) {
                http_call_fail(s, now, "%s: out of memory", s->route.hostport);
                if (http_slot_done(c, s))
                    break;
                continue;
            }
            http_host_append(h, s);
            http_host_update(c, h);
        }
    }
}

/* Fail calls still queued past their batch's deadline; return the ms until
 * the next deadline of a queued call (the longest we may sleep). */
static long http_expire(struct http_client *c)
{
    int64_t now = http_now_us();
    long sleep_ms = HTTP_IDLE_POLL_MS;
    struct http_batch *b = c->active_head;
    while (b != NULL) {
        struct http_batch *next = b->next; /* b may complete and leave the list */
        if (b->queued > 0 && b->deadline_us <= now) {
            char why[96];
            snprintf(why, sizeof why, "timed out after %ld ms waiting for a free connection",
                     (long)((now - b->start_us) / 1000));
            for (size_t i = 0; i < b->count; i++) {
                struct http_slot *s = &b->slots[i];
                if (s->state != HTTP_SLOT_QUEUED)
                    continue;
                struct http_host *h = s->host;
                bool completed = http_slot_drop(c, s, now, why);
                http_host_update(c, h);
                if (completed)
                    break;
            }
        } else if (b->queued > 0) {
            long ms = (long)((b->deadline_us - now + 999) / 1000);
            if (ms < sleep_ms)
                sleep_ms = ms;
        }
        b = next;
    }
    return sleep_ms;
}

/* Shutting down: fail whatever is left so no caller waits forever. */
static void http_abort_all(struct http_client *c)
{
    int64_t now = http_now_us();
    while (c->active_head != NULL) {
        struct http_batch *b = c->active_head;
        for (size_t i = 0; i < b->count; i++) {
            struct http_slot *s = &b->slots[i];
            struct http_host *h = s->host;
            bool completed = false;
            if (s->state == HTTP_SLOT_QUEUED) {
                completed = http_slot_drop(c, s, now, "the HTTP client is shutting down");
            } else if (s->state == HTTP_SLOT_RUNNING) {
                if (curl_multi_remove_handle(c->multi, s->easy) != CURLM_OK) {
                    /* Nothing better to do: the multi is cleaned up next. */
                }
                curl_easy_cleanup(s->easy);
                s->easy = NULL;
                s->host = NULL;
                h->in_flight--;
                c->in_flight--;
                http_call_fail(s, now, "%s: the HTTP client is shutting down", s->route.hostport);
                completed = http_slot_done(c, s);
            } else {
                continue;
            }
            http_host_update(c, h);
            if (completed)
                break;
        }
    }
}

/* The multi handle itself failed (out of memory): fail every running call
 * and carry on with the queued ones. A finish may complete any batch, so
 * each search starts over. */
static void http_fail_running(struct http_client *c)
{
    for (;;) {
        CURL *easy = NULL;
        for (struct http_batch *b = c->active_head; b != NULL && easy == NULL; b = b->next)
            for (size_t i = 0; i < b->count && easy == NULL; i++)
                if (b->slots[i].state == HTTP_SLOT_RUNNING)
                    easy = b->slots[i].easy;
        if (easy == NULL)
            return;
        http_slot_finish(c, easy, CURLE_OUT_OF_MEMORY);
    }
}

static void *http_io_thread(void *arg)
{
    struct http_client *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        struct http_batch *incoming = c->incoming_head;
        c->incoming_head = c->incoming_tail = NULL;
        struct http_creds *fresh = c->pending;
        c->pending = NULL;
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->lock);

        http_creds_take(c, fresh);
        http_take_incoming(c, incoming);
        if (stopping) {
            http_abort_all(c);
            return NULL;
        }
        long sleep_ms = http_expire(c);
        /* Start, drive and reap until a round starts nothing new: a call
         * that ends frees a slot that the next queued call takes now. */
        for (;;) {
            http_start_ready(c);
            int running = 0;
            CURLMcode mrc = curl_multi_perform(c->multi, &running);
            if (mrc != CURLM_OK) {
                http_fail_running(c);
                break;
            }
            int finished = 0;
            CURLMsg *msg;
            int left;
            while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
                if (msg->msg != CURLMSG_DONE)
                    continue;
                http_slot_finish(c, msg->easy_handle, msg->data.result);
                finished++;
            }
            if (finished == 0 || c->ring_head == NULL)
                break;
        }
        /* Woken early by curl_multi_wakeup() when a batch arrives. */
        CURLMcode mrc = curl_multi_poll(c->multi, NULL, 0, (int)sleep_ms, NULL);
        if (mrc != CURLM_OK)
            http_fail_running(c);
    }
}

/* --- public ------------------------------------------------------------ */

static void http_client_destroy(struct http_client *c)
{
    for (int i = 0; i < c->spare_count; i++)
        curl_easy_cleanup(c->spare[i]);
    free(c->spare);
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi); /* closes the cached connections */
    if (c->share != NULL)
        curl_share_cleanup(c->share);
    http_creds_free(c->creds);
    http_creds_free(c->pending);
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

struct http_client *http_client_new(const struct http_client_options *opts, char *err,
                                    size_t errlen)
{
    pthread_once(&http_global_once, http_global_init);
    if (http_global_rc != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl: %s", curl_easy_strerror(http_global_rc));
        return NULL;
    }
    struct http_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        snprintf(err, errlen, "cannot create a mutex");
        free(c);
        return NULL;
    }
    struct http_client_credentials cred = {0};
    if (opts != NULL)
        cred = (struct http_client_credentials){
            .token = opts->token,
            .ca_file = opts->ca_file,
            .client_cert_file = opts->client_cert_file,
            .client_key_file = opts->client_key_file,
        };
    if (!http_options_apply(c, opts, err, errlen) ||
        (c->creds = http_creds_new(&cred, err, errlen)) == NULL) {
        http_client_destroy(c);
        return NULL;
    }
    c->spare = calloc((size_t)c->max_parallel, sizeof *c->spare);
    c->multi = curl_multi_init();
    c->share = curl_share_init();
    if (c->spare == NULL || c->multi == NULL || c->share == NULL) {
        snprintf(err, errlen, "out of memory");
        http_client_destroy(c);
        return NULL;
    }
    /* Only the I/O thread uses the share, so it needs no lock callbacks.
     * It holds the TLS sessions (per easy handle otherwise, so a new https
     * connection resumes a session whichever handle opened the last one)
     * and DNS answers. Connections stay in the multi handle's own cache. */
    CURLSHcode src = curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (src == CURLSHE_OK)
        src = curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    /* MAXCONNECTS defaults to 4 x the handles in the multi, which shrinks
     * the cache to a few connections as a batch drains; the transfer
     * limits stay off (see the top of the file). */
    CURLMcode mrc = curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_connections);
    if (src != CURLSHE_OK || mrc != CURLM_OK) {
        snprintf(err, errlen, "cannot set up libcurl: %s",
                 src != CURLSHE_OK ? curl_share_strerror(src) : curl_multi_strerror(mrc));
        http_client_destroy(c);
        return NULL;
    }
    int prc = pthread_create(&c->thread, NULL, http_io_thread, c);
    if (prc != 0) {
        snprintf(err, errlen, "cannot start the HTTP client thread: %s", strerror(prc));
        http_client_destroy(c);
        return NULL;
    }
    return c;
}

int http_client_set_credentials(struct http_client *c, const struct http_client_credentials *cred,
                                char *err, size_t errlen)
{
    struct http_creds *fresh = http_creds_new(cred, err, errlen);
    if (fresh == NULL)
        return -1;
    pthread_mutex_lock(&c->lock);
    struct http_creds *replaced = c->pending;
    c->pending = fresh;
    pthread_mutex_unlock(&c->lock);
    http_creds_free(replaced);
    if (curl_multi_wakeup(c->multi) != CURLM_OK) {
        /* The thread still takes them within HTTP_IDLE_POLL_MS. */
    }
    return 0;
}

void http_client_free(struct http_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_mutex_unlock(&c->lock);
    if (curl_multi_wakeup(c->multi) != CURLM_OK) {
        /* The thread still sees stopping within HTTP_IDLE_POLL_MS. */
    }
    pthread_join(c->thread, NULL);
    http_client_destroy(c);
}

/* In the caller's thread, so the I/O thread only schedules. prev is the
 * batch's previous slot when it was prepared, else NULL: a call routed as
 * prev's takes a copy of its route. False (with the call failed) when it
 * cannot run. */
static bool http_slot_prepare(struct http_slot *s, const struct http_slot *prev, int64_t now)
{
    const struct http_call *call = s->call;
    if (prev != NULL && http_same_text(call->url, prev->call->url) &&
        http_same_text(call->peer_name, prev->call->peer_name) &&
        http_same_text(call->method, prev->call->method)) {
        if (http_route_copy(&s->route, &prev->route))
            return true;
        http_call_error(s->call, "out of memory");
    } else if (http_route_prepare(&s->route, s->call)) {
        return true;
    }
    s->call->elapsed_us = (long)(now - s->batch->start_us);
    return false;
}

int http_client_run(struct http_client *c, struct http_call *calls, size_t count, char *err,
                    size_t errlen)
{
    if (c == NULL || (calls == NULL && count > 0)) {
        snprintf(err, errlen, "http_client_run: no client or no calls");
        return -1;
    }
    if (count == 0)
        return 0;
    struct http_batch batch = {.count = count, .remaining = count};
    batch.slots = calloc(count, sizeof *batch.slots);
    if (batch.slots == NULL) {
        snprintf(err, errlen, "out of memory for a batch of %zu requests", count);
        return -1;
    }
    if (pthread_cond_init(&batch.done_cond, NULL) != 0) {
        snprintf(err, errlen, "cannot create a condition variable");
        free(batch.slots);
        return -1;
    }
    batch.start_us = http_now_us();
    batch.deadline_us = batch.start_us + (int64_t)c->timeout_ms * 1000;
    for (size_t i = 0; i < count; i++) {
        struct http_slot *s = &batch.slots[i];
        s->call = &calls[i];
        s->batch = &batch;
        s->xfer = (struct http_xfer){.call = &calls[i], .max = HTTP_CLIENT_MAX_RESPONSE};
        http_call_clear(&calls[i]);
        const struct http_slot *prev =
            i > 0 && batch.slots[i - 1].state != HTTP_SLOT_DONE ? &batch.slots[i - 1] : NULL;
        if (http_slot_prepare(s, prev, batch.start_us)) {
            batch.queued++;
        } else {
            s->state = HTTP_SLOT_DONE;
            batch.remaining--;
        }
    }

    int rc = 0;
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        snprintf(err, errlen, "the HTTP client is shutting down");
        rc = -1;
    } else if (batch.remaining > 0) {
        if (c->incoming_tail != NULL)
            c->incoming_tail->next = &batch;
        else
            c->incoming_head = &batch;
        c->incoming_tail = &batch;
        pthread_mutex_unlock(&c->lock);
        if (curl_multi_wakeup(c->multi) != CURLM_OK) {
            /* The thread still picks the batch up within HTTP_IDLE_POLL_MS. */
        }
        pthread_mutex_lock(&c->lock);
        while (!batch.done)
            pthread_cond_wait(&batch.done_cond, &c->lock);
    }
    pthread_mutex_unlock(&c->lock);

    pthread_cond_destroy(&batch.done_cond);
    for (size_t i = 0; i < count; i++) {
        http_route_free(&batch.slots[i].route);
        http_headers_free(batch.slots[i].headers);
    }
    free(batch.slots);
    return rc;
}

void http_calls_reset(struct http_call *calls, size_t count)
{
    for (size_t i = 0; i < count; i++)
        http_call_clear(&calls[i]);
}

/* --- sessions: one request at a time on a kept connection -------------- */

#define HTTP_SESSION_CONNECT_TIMEOUT_MS 2000
#define HTTP_SESSION_TIMEOUT_MS         10000

struct http_session {
    CURL *easy; /* kept across calls: its connection cache holds the connection */
    long connect_timeout_ms, timeout_ms;
    size_t max_response;
    bool truncate;
    char *user_agent;
    char *ca_file, *cert_file, *key_file;
};

void http_session_free(struct http_session *s)
{
    if (s == NULL)
        return;
    if (s->easy != NULL)
        curl_easy_cleanup(s->easy);
    free(s->user_agent);
    free(s->ca_file);
    free(s->cert_file);
    free(s->key_file);
    free(s);
}

struct http_session *http_session_new(const struct http_session_options *opts, char *err,
                                      size_t errlen)
{
    pthread_once(&http_global_once, http_global_init);
    if (http_global_rc != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl: %s", curl_easy_strerror(http_global_rc));
        return NULL;
    }
    struct http_session_options zero = {0};
    const struct http_session_options *o = opts != NULL ? opts : &zero;
    if (o->connect_timeout_ms < 0 || o->timeout_ms < 0) {
        snprintf(err, errlen, "HTTP session timeouts must not be negative");
        return NULL;
    }
    struct http_session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->connect_timeout_ms =
        o->connect_timeout_ms > 0 ? o->connect_timeout_ms : HTTP_SESSION_CONNECT_TIMEOUT_MS;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : HTTP_SESSION_TIMEOUT_MS;
    s->max_response = o->max_response > 0 ? o->max_response : HTTP_CLIENT_MAX_RESPONSE;
    s->truncate = o->truncate_response;
    if (!http_strdup_opt(o->user_agent, &s->user_agent) ||
        http_session_set_tls(s, o->ca_file, o->client_cert_file, o->client_key_file, err, errlen) <
            0 ||
        (s->easy = curl_easy_init()) == NULL) {
        snprintf(err, errlen, "out of memory");
        http_session_free(s);
        return NULL;
    }
    return s;
}

int http_session_set_tls(struct http_session *s, const char *ca_file, const char *client_cert_file,
                         const char *client_key_file, char *err, size_t errlen)
{
    char *ca = NULL, *cert = NULL, *key = NULL;
    if (!http_strdup_opt(ca_file, &ca) || !http_strdup_opt(client_cert_file, &cert) ||
        !http_strdup_opt(client_key_file, &key)) {
        free(ca);
        free(cert);
        free(key);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(s->ca_file);
    free(s->cert_file);
    free(s->key_file);
    s->ca_file = ca;
    s->cert_file = cert;
    s->key_file = key;
    return 0;
}

int http_session_call(struct http_session *s, struct http_call *call)
{
    http_call_clear(call);
    struct http_route route = {.hostport = "?"};
    if (!http_route_prepare(&route, call)) {
        http_route_free(&route);
        return -1;
    }
    struct http_xfer x = {.call = call, .max = s->max_response, .truncate = s->truncate};
    long total_ms = call->timeout_ms > 0 ? call->timeout_ms : s->timeout_ms;
    struct curl_slist *headers = NULL;
    CURLcode rc =
        http_headers_build(NULL, call->headers, &headers) ? CURLE_OK : CURLE_OUT_OF_MEMORY;
    /* Every option is set anew, so nothing of the last request (or of the
     * last TLS files) carries over; a reset keeps the live connection. */
    curl_easy_reset(s->easy);
    if (rc == CURLE_OK)
        rc = http_easy_base(s->easy, s->ca_file, s->cert_file, s->key_file);
    if (s->user_agent != NULL)
        HTTP_SETOPT(rc, s->easy, CURLOPT_USERAGENT, s->user_agent);
    if (rc == CURLE_OK)
        rc = http_easy_request(s->easy, &x, &route, headers, total_ms, s->connect_timeout_ms);
    long status = 0;
    curl_off_t total_us = 0;
    char why[200] = "";
    if (rc != CURLE_OK) {
        snprintf(why, sizeof why, "cannot set up the request: %s", curl_easy_strerror(rc));
    } else {
        CURLcode res = curl_easy_perform(s->easy);
        if (res == CURLE_OK)
            res = curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        if (curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME_T, &total_us) != CURLE_OK)
            total_us = 0;
        if (res != CURLE_OK)
            http_describe(&x, s->easy, res, (long)(total_us / 1000), why, sizeof why);
    }
    if (why[0] == '\0' && call->response == NULL && (call->response = strdup("")) == NULL)
        snprintf(why, sizeof why, "out of memory for the response");
    /* Leave libcurl no pointer to the body, the headers or x. */
    curl_easy_reset(s->easy);
    http_headers_free(headers);
    call->too_large = x.too_large;
    int result = 0;
    if (why[0] != '\0') {
        http_call_error(call, "%s: %s", route.hostport, why);
        result = -1;
    } else {
        call->status = (int)status;
    }
    call->elapsed_us = (long)total_us;
    http_route_free(&route);
    return result;
}
