/*
 * http_server — the HTTP/1.1 server every mdevmig daemon embeds
 * (libmicrohttpd, its own thread pool): it collects a request's body up to
 * a limit, hands one complete request to a handler, and sends the reply
 * with keep-alive intact. With a certificate it serves HTTPS only; with a
 * client CA too it serves only clients whose certificate chains to it
 * (mutual TLS), and tells the handler whom the certificate names.
 */
#ifndef MDEVMIG_HTTP_SERVER_H
#define MDEVMIG_HTTP_SERVER_H

#include "tls_server.h"

#include <stdbool.h>
#include <stddef.h>

struct http_conn;

struct http_request {
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated for convenience; body_len bytes */
    size_t body_len;
    const char *authorization; /* the header, or NULL */
    const char *peer;          /* client address, e.g. "127.0.0.1" */
    bool tls;                  /* arrived over TLS */
    /* The connection; under mutual TLS it holds the client's verified
     * certificate (http_request_client_is). */
    const struct http_conn *conn;
};

/* Whether the request came with a verified client certificate (mutual
 * TLS) that names host (tls_server_cert_names). */
bool http_request_client_is(const struct http_request *req, const char *host);

struct http_response {
    int status;
    char *body; /* malloc'd; the server frees it */
    size_t body_len;
    const char *content_type; /* static string; default application/json */
    const char *allow;        /* static string for 405's Allow header, or NULL */
};

typedef void (*http_handler)(void *ctx, const struct http_request *req, struct http_response *resp);

struct http_server;

struct http_server_options {
    const char *listen; /* "ADDR:PORT" ("[ADDR]:PORT" for IPv6; port 0 picks one) */
    int threads;        /* worker threads; 0: a thread for each connection, so no request
                           waits for another's slow handler */
    size_t max_body;    /* bodies over it get 413 */
    /* NULL, or no cert_file: plain HTTP. Otherwise HTTPS only, and with
     * client_ca_file mutual TLS: a request without a certificate that
     * chains to it gets 403 and never reaches the handler. */
    const struct tls_server_files *tls;
    /* Bounds against slow and greedy clients (DESIGN.md §7); 0: the
     * default. A client address past max_per_address connections, or any
     * past max_connections, is refused at accept, so one slow client (a
     * slowloris) cannot take the slots health checks and probes need. */
    unsigned max_connections; /* default 1024 */
    unsigned max_per_address; /* default 128 */
    unsigned idle_timeout_s;  /* a connection silent this long is closed; default 15 */
    /* After sending a response body at least this large (0: never), give
     * the memory freed since back to the system (malloc_trim): what built
     * a large answer was freed in the serving thread's arena, where glibc
     * would keep it resident for good. */
    size_t trim_after_bytes;
};

struct http_server *http_server_start(const struct http_server_options *options,
                                      http_handler handler, void *ctx, char *err, size_t errlen);

/* Re-read the certificate, key and client CA (SIGHUP): later handshakes
 * use the new ones, open connections keep theirs. On error (unreadable,
 * mismatched, or a switch between HTTP and HTTPS or mutual TLS on/off,
 * which need a restart) nothing changes and err says why. *changed tells
 * whether anything new was loaded. */
int http_server_reload_tls(struct http_server *server, const struct tls_server_files *tls,
                           bool *changed, char *err, size_t errlen);

/* Whether the server speaks HTTPS. */
bool http_server_is_tls(const struct http_server *server);

/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *server);

/* Stop accepting, finish in-flight requests, free. */
void http_server_stop(struct http_server *server);

/* Fill resp with a JSON body {"error": message} and status. */
void http_response_error(struct http_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Take body (malloc'd, len bytes) as the reply; NULL body gives a 500. */
void http_response_take(struct http_response *resp, int status, const char *content_type,
                        char *body, size_t len);

/* The reply is json (its reference is consumed), compact. */
struct json_t;
void http_response_json(struct http_response *resp, int status, struct json_t *json);

/* True when req->method is allowed; otherwise resp is a 405 naming it,
 * with the Allow header. allowed must be a static string. */
bool http_method_allowed(const struct http_request *req, struct http_response *resp,
                         const char *allowed);

/* Fill resp with text (copied) and status. */
void http_response_text(struct http_response *resp, int status, const char *content_type,
                        const char *text, size_t len);

/* Split "ADDR:PORT" into a socket address; false with a message if bad. */
struct sockaddr_storage;
bool http_parse_listen(const char *listen, struct sockaddr_storage *addr, size_t *addr_len,
                       char *err, size_t errlen);

#endif
