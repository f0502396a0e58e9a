/*
 * http_server — the HTTP/1.1 server every mdevmig daemon embeds
 * (libmicrohttpd, its own thread pool): it collects a request's body up to
 * a limit, hands one complete request to a handler, and sends the reply
 * with keep-alive intact.
 */
#ifndef MDEVMIG_HTTP_SERVER_H
#define MDEVMIG_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct http_request {
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated for convenience; body_len bytes */
    size_t body_len;
    const char *authorization; /* the header, or NULL */
    const char *peer;          /* client address, e.g. "127.0.0.1" */
};

struct http_response {
    int status;
    char *body; /* malloc'd; the server frees it */
    size_t body_len;
    const char *content_type; /* static string; default application/json */
    const char *allow;        /* static string for 405's Allow header, or NULL */
};

typedef void (*http_handler)(void *ctx, const struct http_request *req, struct http_response *resp);

struct http_server;

/* Listen on "ADDR:PORT" ("[ADDR]:PORT" for IPv6; port 0 picks one) and
 * serve with threads worker threads. Bodies over max_body get 413. */
struct http_server *http_server_start(const char *listen, int threads, size_t max_body,
                                      http_handler handler, void *ctx, char *err, size_t errlen);

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
