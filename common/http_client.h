/*
 * http_client — the HTTP client side of mdevmig, and the one owner of
 * libcurl's transfers (DESIGN.md §7). Two ways to send a struct http_call:
 *
 * - http_client_run: many requests to many collectors at once, with
 *   bounded concurrency, connect and total timeouts, a bearer token, and
 *   connections kept warm across calls (one per host) so a scheduler's
 *   probes do not pay a TCP handshake each time. One client serves a
 *   whole process: every thread's batches go through the client's one
 *   connection cache, so a connection one thread opened is reused by the
 *   next thread that talks to that collector.
 * - http_session_call: one request at a time, blocking, on a session that
 *   keeps its connection alive from one call to the next (Placement,
 *   Keystone, a publisher's target, the CLI's mdevmig-sched).
 *
 * Both verify TLS servers always, read the CA file afresh for each new
 * connection, and report a failure as "HOST:PORT: what went wrong".
 */
#ifndef MDEVMIG_HTTP_CLIENT_H
#define MDEVMIG_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* A response body beyond this fails the call ("response larger than ..."). */
#define HTTP_CLIENT_MAX_RESPONSE (1024 * 1024)

/* Zero (or NULL) in any field means its default. */
struct http_client_options {
    long connect_timeout_ms;      /* per request; default 1000 */
    long timeout_ms;              /* per request, total, counted from http_client_run (queueing
                                     included), so a batch returns within it; default 3000 */
    int max_parallel;             /* requests in flight at once, over every thread's batches;
                                     default 64 */
    const char *token;            /* "Authorization: Bearer <token>"; NULL: none */
    const char *ca_file;          /* verifies https:// servers; NULL: the system's CA store */
    const char *client_cert_file; /* PEM certificate presented to https:// servers (mutual
                                     TLS); NULL: none */
    const char *client_key_file;  /* its PEM key; NULL: in client_cert_file */
    int max_per_host;             /* requests (so connections) in flight to one host:port;
                                     default 1 */
    int max_connections;          /* connections kept open, idle ones warm for later calls;
                                     the least recently used idle one is closed beyond it;
                                     default 256 (at least max_parallel) */
};

/* One request, of a batch or of a session: fill the inputs, read the
 * outputs. Zero every field first (calloc, or a designated initialiser). */
struct http_call {
    /* in */
    const char *url;    /* http:// or https:// */
    const char *method; /* "GET", "POST", "PUT" or "DELETE"; NULL: POST with a body, else GET */
    const char *body;   /* request body (JSON), or NULL; must stay valid during the run */
    size_t body_len;
    /* The host the server must prove to be: its certificate must name it,
     * whatever host the URL names (which is then only where to connect).
     * Needs an https:// URL; NULL: the URL's host is checked as usual. */
    const char *peer_name;
    /* More request header lines ("Name: value"), NULL-terminated; NULL:
     * none. They may carry a token: libcurl's copies are wiped once the
     * request is done. */
    const char *const *headers;
    /* The name of a response header to keep (e.g. "X-Subject-Token");
     * NULL: none. */
    const char *reply_header;
    /* This request's own total time in ms, if shorter than the batch's or
     * the session's; 0: theirs. */
    long timeout_ms;
    /* Called about once a second (more often while data flows) until the
     * request is done, e.g. to show a wait; NULL: none. In a batch it runs
     * on the client's I/O thread: it must be quick and thread-safe. */
    void (*progress)(void *ctx);
    void *progress_ctx;
    /* out: the call succeeded (a response arrived) exactly when error[0] == '\0' */
    int status;     /* HTTP status (4xx/5xx are not errors here); 0 on error */
    char *response; /* malloc'd, NUL-terminated ("" for an empty body), NULL on error;
                       free with http_calls_reset */
    size_t response_len;
    char *reply_header_value; /* malloc'd value of reply_header, NULL when none came;
                                 wiped and freed by http_calls_reset */
    bool too_large;           /* failed: the response was larger than allowed */
    char error[256];          /* "HOST:PORT: what went wrong" for operators; "" if none */
    long elapsed_us;          /* the request's own time (CURLINFO_TOTAL_TIME_T), or the time
                                 since http_client_run for a call that never started */
};

struct http_client;

/* Shared by every thread of a process; thread-safe. NULL with a message. */
struct http_client *http_client_new(const struct http_client_options *opts, char *err,
                                    size_t errlen);
/* Call only once no http_client_run is under way. NULL is a no-op. */
void http_client_free(struct http_client *client);

/* What a reload may change: the token and the TLS files (same meaning as
 * in http_client_options; NULL is "none"). Requests already running keep
 * what they started with; the next ones, and new connections, use these.
 * -1 with a message when the token is unusable (nothing changes then). */
struct http_client_credentials {
    const char *token;
    const char *ca_file;
    const char *client_cert_file;
    const char *client_key_file;
};
int http_client_set_credentials(struct http_client *client,
                                const struct http_client_credentials *credentials, char *err,
                                size_t errlen);

/* Run all calls concurrently (at most max_parallel in flight, max_per_host
 * to any one host, round-robin over hosts) and return when every one has
 * finished or timed out. A connection refused or timed out fails the
 * calls still queued for that host at once. Outputs must be zero or left
 * by an earlier run (a previous response is freed). Returns 0, or -1 when
 * the batch could not run at all (err says why); per-call failures are in
 * the calls. Any number of threads may run batches at once. */
int http_client_run(struct http_client *client, struct http_call *calls, size_t count, char *err,
                    size_t errlen);

/* Free the responses of a batch (and clear the outputs) so it can be reused. */
void http_calls_reset(struct http_call *calls, size_t count);

/* Zero (or NULL) in any field means its default. */
struct http_session_options {
    long connect_timeout_ms;      /* default 2000, at most the request's total time */
    long timeout_ms;              /* per request, total; default 10000 */
    size_t max_response;          /* default HTTP_CLIENT_MAX_RESPONSE */
    bool truncate_response;       /* beyond max_response the rest is dropped and the call
                                     succeeds with the first max_response bytes; false:
                                     the call fails ("response larger than ...") */
    const char *user_agent;       /* NULL: no User-Agent header */
    const char *ca_file;          /* verifies https:// servers; NULL: the system's CA store */
    const char *client_cert_file; /* PEM certificate presented to https:// servers that ask
                                     for one (mutual TLS); NULL: none */
    const char *client_key_file;  /* its PEM key; NULL: in client_cert_file */
};

/* One connection kept alive across blocking requests to the same server.
 * Not thread-safe: its owner makes one call at a time. */
struct http_session;

/* NULL with a message. */
struct http_session *http_session_new(const struct http_session_options *opts, char *err,
                                      size_t errlen);
void http_session_free(struct http_session *session); /* NULL is a no-op */

/* New TLS files (a reload; NULL is "none", as in the options) for the next
 * requests. A kept connection made with other files is not reused. -1
 * with a message (nothing changes) when out of memory. */
int http_session_set_tls(struct http_session *session, const char *ca_file,
                         const char *client_cert_file, const char *client_key_file, char *err,
                         size_t errlen);

/* Send one request and wait for its response. Outputs must be zero or
 * left by an earlier call (which are freed). 0 when a response arrived
 * (whatever its status), -1 when none did (call->error says why). */
int http_session_call(struct http_session *session, struct http_call *call);

#endif
