/*
 * http_client — the HTTP client side of mdevmig (libcurl): many requests
 * to many collectors at once, with bounded concurrency, connect and total
 * timeouts, a bearer token, and connections kept warm across calls (one
 * per host) so a scheduler's probes do not pay a TCP handshake each time.
 *
 * One client serves a whole process: every thread's batches go through
 * the client's one connection cache, so a connection one thread opened is
 * reused by the next thread that talks to that collector.
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

/* One request of a batch: fill the inputs, read the outputs. */
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
    /* out: the call succeeded (a response arrived) exactly when error[0] == '\0' */
    int status;     /* HTTP status (4xx/5xx are not errors here); 0 on error */
    char *response; /* malloc'd, NUL-terminated ("" for an empty body), NULL on error;
                       free with http_calls_reset */
    size_t response_len;
    char error[256]; /* "HOST:PORT: what went wrong" for operators; "" if none */
    long elapsed_us; /* the request's own time (CURLINFO_TOTAL_TIME_T), or the time
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

#endif
