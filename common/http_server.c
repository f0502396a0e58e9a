/*
 * http_server — libmicrohttpd glue. Two details matter for speed and
 * correctness: a reply is queued only on a later call of the access
 * handler (libmicrohttpd 0.9.75 closes the connection after replies queued
 * on the first call, which loses keep-alive), and bodies are gathered into
 * one buffer so handlers see a whole request.
 *
 * TLS: libmicrohttpd's GnuTLS takes our certificate through its callback
 * (tls_server.c swaps it on reload). Under mutual TLS a connection's client
 * certificate is verified once, on its first request, and the result kept
 * with the connection for the requests that follow on it.
 */
#include "http_server.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HTTP_DEFAULT_MAX_CONNECTIONS 1024u
#define HTTP_DEFAULT_MAX_PER_ADDRESS 128u
#define HTTP_DEFAULT_IDLE_TIMEOUT_S  15u
/* A body over the limit but not over this is read and dropped, so that a
 * client that sends before it reads still sees its 413. */
#define HTTP_DISCARD_MAX (64ull * 1024 * 1024)
/* Far more than libmicrohttpd's per-connection buffer: a distance past it
 * between the path and the version means they are not one request line. */
#define HTTP_REQUEST_LINE_MAX (1024u * 1024)
/* A connection's own thread runs a whole decision (SQLite, jansson, the
 * library's sorting): room to spare, reserved lazily by the kernel. */
#define HTTP_THREAD_STACK (2u * 1024 * 1024)

struct http_server {
    struct MHD_Daemon *daemon;
    http_handler handler;
    void *ctx;
    size_t max_body;
    size_t trim_after_bytes;
    int port;
    struct tls_server *tls; /* NULL: plain HTTP */
};

/* One TCP connection (libmicrohttpd's socket context), from accept to close. */
struct http_conn {
    struct http_server *server;
    int verified;             /* mutual TLS: 0 not yet, 1 verified, -1 refused */
    gnutls_x509_crt_t client; /* the verified client certificate */
    char refused[256];        /* why it was refused */
};

/* Per-request state between calls of the access handler. */
struct http_pending {
    char *body;
    size_t len;
    size_t cap;
    bool too_large;
    /* The request target as it came, before libmicrohttpd unescapes it
     * in place (http_uri_seen): where it starts and how long it is up to
     * its first NUL, and whether it spells a NUL as %00. */
    const char *raw_uri;
    size_t raw_len;
    bool escaped_nul;
    bool started; /* the handler has seen the request */
};

bool http_parse_listen(const char *listen, struct sockaddr_storage *addr, size_t *addr_len,
                       char *err, size_t errlen)
{
    char host[128];
    const char *colon;
    memset(addr, 0, sizeof *addr);
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof host) {
            snprintf(err, errlen, "listen address \"%s\" is not [ADDR]:PORT", listen);
            return false;
        }
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL || (size_t)(colon - listen) >= sizeof host) {
            snprintf(err, errlen, "listen address \"%s\" is not ADDR:PORT", listen);
            return false;
        }
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
        snprintf(err, errlen, "listen address \"%s\" has a bad port", listen);
        return false;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *addr_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *addr_len = sizeof *v6;
    } else {
        snprintf(err, errlen, "listen address \"%s\": \"%s\" is not an IP address", listen, host);
        return false;
    }
    return true;
}

void http_response_text(struct http_response *resp, int status, const char *content_type,
                        const char *text, size_t len)
{
    resp->status = status;
    resp->content_type = content_type;
    resp->body = malloc(len + 1);
    if (resp->body == NULL) {
        resp->status = 500;
        resp->body_len = 0;
        return;
    }
    memcpy(resp->body, text, len);
    resp->body[len] = '\0';
    resp->body_len = len;
}

void http_response_take(struct http_response *resp, int status, const char *content_type,
                        char *body, size_t len)
{
    if (body == NULL) {
        http_response_error(resp, 500, "out of memory");
        return;
    }
    resp->status = status;
    resp->content_type = content_type;
    resp->body = body;
    resp->body_len = len;
}

void http_response_json(struct http_response *resp, int status, struct json_t *json)
{
    char *text = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    http_response_take(resp, status, "application/json", text, text != NULL ? strlen(text) : 0);
}

bool http_method_allowed(const struct http_request *req, struct http_response *resp,
                         const char *allowed)
{
    if (strcmp(req->method, allowed) == 0)
        return true;
    http_response_error(resp, 405, "%s is not allowed on %s; use %s", req->method, req->path,
                        allowed);
    resp->allow = allowed;
    return false;
}

void http_response_error(struct http_response *resp, int status, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    /* Escape by hand: messages are ours, but may quote client input. */
    char body[2200];
    size_t n = 0;
    n += (size_t)snprintf(body, sizeof body, "{\"error\":\"");
    for (const char *p = message; *p != '\0' && n < sizeof body - 8; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            body[n++] = '\\';
            body[n++] = (char)c;
        } else if (c < 0x20 || c > 0x7e) {
            n += (size_t)snprintf(body + n, sizeof body - n, "\\u%04x", c);
        } else {
            body[n++] = (char)c;
        }
    }
    n += (size_t)snprintf(body + n, sizeof body - n, "\"}\n");
    http_response_text(resp, status, "application/json", body, n);
}

static void http_peer(struct MHD_Connection *conn, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, outlen, "?");
    if (info == NULL || info->client_addr == NULL)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
}

/* Frees a large body once sent, and then every arena's free pages. */
static void http_free_and_trim(void *body)
{
    free(body);
    (void)malloc_trim(0);
}

static enum MHD_Result http_send(const struct http_server *server, struct MHD_Connection *conn,
                                 struct http_response *resp)
{
    bool trim = resp->body != NULL && server->trim_after_bytes > 0 &&
                resp->body_len >= server->trim_after_bytes;
    struct MHD_Response *r =
        trim ? MHD_create_response_from_buffer_with_free_callback(resp->body_len, resp->body,
                                                                  http_free_and_trim)
             : MHD_create_response_from_buffer(
                   resp->body_len, resp->body != NULL ? resp->body : (void *)"",
                   resp->body != NULL ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(resp->body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type != NULL ? resp->content_type : "application/json");
    if (resp->allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static struct http_conn *http_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

/* Mutual TLS: check the client's certificate once per connection. */
static void http_verify_client(struct MHD_Connection *conn)
{
    struct http_conn *hc = http_conn_of(conn);
    if (hc == NULL || hc->verified != 0)
        return;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info == NULL || info->tls_session == NULL) {
        hc->verified = -1;
        snprintf(hc->refused, sizeof hc->refused, "no TLS session");
        return;
    }
    char why[256];
    if (tls_server_verify_client(hc->server->tls, info->tls_session, &hc->client, why, sizeof why) <
        0) {
        hc->verified = -1;
        snprintf(hc->refused, sizeof hc->refused, "%s", why);
        char peer[64];
        http_peer(conn, peer, sizeof peer);
        log_warn("TLS client %s refused: %s", peer, why);
        return;
    }
    hc->verified = 1;
}

bool http_request_client_is(const struct http_request *req, const char *host)
{
    return req->conn != NULL && req->conn->verified == 1 &&
           tls_server_cert_names(req->conn->client, host);
}

/* libmicrohttpd's connection start and end: our per-connection state. */
static void http_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                   enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *hc = calloc(1, sizeof *hc);
        if (hc != NULL)
            hc->server = cls;
        *socket_context = hc; /* NULL (out of memory): mutual TLS refuses it */
        return;
    }
    struct http_conn *hc = *socket_context;
    if (hc != NULL) {
        if (hc->client != NULL)
            gnutls_x509_crt_deinit(hc->client);
        free(hc);
        *socket_context = NULL;
    }
}

/* GnuTLS asks, at each handshake, for the certificate to present. The
 * session's pointer is libmicrohttpd's connection (it sets it so). */
static int http_tls_certificate(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn,
                                int nreqs, const gnutls_pk_algorithm_t *pk_algos,
                                int pk_algos_length, gnutls_pcert_st **pcert,
                                unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    struct MHD_Connection *conn = gnutls_session_get_ptr(session);
    struct http_conn *hc = conn != NULL ? http_conn_of(conn) : NULL;
    if (hc == NULL || hc->server->tls == NULL)
        return -1;
    tls_server_current(hc->server->tls, pcert, pcert_length, privkey);
    return 0;
}

/* Called with the raw request target before libmicrohttpd unescapes it;
 * what it returns becomes the request's context. */
static void *http_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    struct http_pending *pending = calloc(1, sizeof *pending);
    if (pending != NULL && uri != NULL) {
        pending->raw_uri = uri;
        pending->raw_len = strlen(uri);
        pending->escaped_nul = strstr(uri, "%00") != NULL;
    }
    return pending;
}

/* Whether the path held a NUL, raw or as %00. libmicrohttpd hands the
 * path on as a C string, so either would serve the path before it. The
 * raw target lies in the request line, in place, up to the space before
 * the version ("HTTP/d.d", which libmicrohttpd requires): a target whose
 * C string ends before that space held a raw NUL. */
static bool http_path_has_nul(const struct http_pending *pending, const char *url,
                              const char *version)
{
    if (pending->escaped_nul)
        return true;
    if (pending->raw_uri == NULL || url != pending->raw_uri || version == NULL || version <= url ||
        (size_t)(version - url) > HTTP_REQUEST_LINE_MAX)
        return false;
    return (size_t)(version - 1 - url) != pending->raw_len;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    struct http_server *server = cls;
    struct http_pending *pending = *con_cls;
    if (pending == NULL || !pending->started) {
        if (pending == NULL && (pending = calloc(1, sizeof *pending)) == NULL)
            return MHD_NO;
        *con_cls = pending;
        pending->started = true;
        if (http_path_has_nul(pending, url, version)) {
            struct http_response resp = {.status = 400};
            http_response_error(&resp, 400, "the request target holds a NUL byte (raw or as %%00)");
            return http_send(server, conn, &resp);
        }
        if (server->tls != NULL && tls_server_mutual(server->tls))
            http_verify_client(conn);
        const char *length =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *expect =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        unsigned long long announced = length != NULL ? strtoull(length, NULL, 10) : 0;
        bool absurd =
            length != NULL && (strlen(length) > 20 || length[0] == '-' ||
                               (announced > HTTP_DISCARD_MAX && announced > server->max_body));
        if (absurd || (announced > server->max_body && expect != NULL)) {
            /* Answered now, before any body (and instead of "100
             * Continue"): a body this far over the limit, or one the
             * client waits to send, would only hold the connection.
             * libmicrohttpd closes it after this reply. A body a little
             * over is read and dropped instead, so a client that sends
             * before it reads still gets its 413. */
            struct http_response resp = {.status = 413};
            http_response_error(&resp, 413, "request body is larger than %zu bytes",
                                server->max_body);
            return http_send(server, conn, &resp);
        }
        if (announced > server->max_body)
            pending->too_large = true;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t chunk = *upload_data_size;
        *upload_data_size = 0;
        if (pending->too_large || pending->len + chunk > server->max_body) {
            pending->too_large = true;
            return MHD_YES;
        }
        if (pending->len + chunk + 1 > pending->cap) {
            size_t cap = pending->cap == 0 ? 1024 : pending->cap;
            while (cap < pending->len + chunk + 1)
                cap *= 2;
            char *grown = realloc(pending->body, cap);
            if (grown == NULL)
                return MHD_NO;
            pending->body = grown;
            pending->cap = cap;
        }
        memcpy(pending->body + pending->len, upload_data, chunk);
        pending->len += chunk;
        return MHD_YES;
    }

    struct http_response resp = {.status = 500};
    struct http_conn *hc = http_conn_of(conn);
    if (server->tls != NULL && tls_server_mutual(server->tls) &&
        (hc == NULL || hc->verified != 1)) {
        http_response_error(&resp, 403, "%s",
                            hc != NULL ? hc->refused : "client certificate not checked");
    } else if (pending->too_large) {
        http_response_error(&resp, 413, "request body is larger than %zu bytes", server->max_body);
    } else {
        char peer[64];
        http_peer(conn, peer, sizeof peer);
        struct http_request req = {
            .method = method,
            .path = url,
            .body = pending->body != NULL ? pending->body : "",
            .body_len = pending->len,
            .authorization =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
            .peer = peer,
            .tls = server->tls != NULL,
            .conn = hc,
        };
        if (pending->body != NULL)
            pending->body[pending->len] = '\0';
        server->handler(server->ctx, &req, &resp);
    }
    return http_send(server, conn, &resp);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct http_pending *pending = *con_cls;
    if (pending != NULL) {
        free(pending->body);
        free(pending);
        *con_cls = NULL;
    }
}

static void http_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char message[512];
    vsnprintf(message, sizeof message, fmt, ap);
    size_t len = strlen(message);
    while (len > 0 && message[len - 1] == '\n')
        message[--len] = '\0';
    log_debug("http: %s", message);
}

struct http_server *http_server_start(const struct http_server_options *o, http_handler handler,
                                      void *ctx, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    size_t addr_len;
    if (!http_parse_listen(o->listen, &addr, &addr_len, err, errlen))
        return NULL;
    struct http_server *server = calloc(1, sizeof *server);
    if (server == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    server->handler = handler;
    server->ctx = ctx;
    server->max_body = o->max_body;
    server->trim_after_bytes = o->trim_after_bytes;
    if (o->tls != NULL &&
        (o->tls->cert_file != NULL || o->tls->key_file != NULL || o->tls->client_ca_file != NULL)) {
        if (o->tls->cert_file == NULL || o->tls->key_file == NULL) {
            snprintf(err, errlen, "TLS needs both tls_cert_file and tls_key_file%s",
                     o->tls->client_ca_file != NULL ? " (tls_client_ca_file alone is not enough)"
                                                    : "");
            free(server);
            return NULL;
        }
        if ((server->tls = tls_server_new(o->tls, err, errlen)) == NULL) {
            free(server);
            return NULL;
        }
    }
    /* A pool of epoll threads serves many quick requests cheaply; a thread
     * per connection keeps a request that waits (on a hung collector, say)
     * from holding up the others. */
    bool per_connection = o->threads <= 0;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
        (per_connection ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL : MHD_USE_EPOLL);
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (server->tls != NULL)
        flags |= MHD_USE_TLS;
    /* Options that only TLS takes come last, so plain HTTP ends the list
     * before them. */
    const char *trust = server->tls != NULL ? tls_server_client_ca_pem(server->tls) : NULL;
    struct MHD_OptionItem threading[] = {
        per_connection
            ? (struct MHD_OptionItem){MHD_OPTION_THREAD_STACK_SIZE, HTTP_THREAD_STACK, NULL}
            : (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem tls_options[] = {
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)http_tls_certificate},
        {trust != NULL ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, (void *)trust},
        {MHD_OPTION_END, 0, NULL},
    };
    server->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_access, server, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_ARRAY, threading, MHD_OPTION_NOTIFY_COMPLETED, http_completed, server,
        MHD_OPTION_URI_LOG_CALLBACK, http_uri_seen, server, MHD_OPTION_NOTIFY_CONNECTION,
        http_notify_connection, server, MHD_OPTION_CONNECTION_TIMEOUT,
        o->idle_timeout_s > 0 ? o->idle_timeout_s : HTTP_DEFAULT_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT,
        o->max_connections > 0 ? o->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        o->max_per_address > 0 ? o->max_per_address : HTTP_DEFAULT_MAX_PER_ADDRESS,
        /* HTTP/1.1 without Host, or a space in the URL: 400. */
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_EXTERNAL_LOGGER, http_log, server,
        MHD_OPTION_ARRAY, server->tls != NULL ? tls_options : &tls_options[2], MHD_OPTION_END);
    if (server->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s (address in use, or not local?)", o->listen);
        tls_server_free(server->tls);
        free(server);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info != NULL ? (int)info->port : 0;
    return server;
}

int http_server_reload_tls(struct http_server *server, const struct tls_server_files *tls,
                           bool *changed, char *err, size_t errlen)
{
    *changed = false;
    bool want = tls != NULL && (tls->cert_file != NULL || tls->key_file != NULL);
    if (want != (server->tls != NULL)) {
        snprintf(err, errlen, "tls_cert_file: switching between HTTP and HTTPS needs a restart");
        return -1;
    }
    if (server->tls == NULL)
        return 0;
    return tls_server_reload(server->tls, tls, changed, err, errlen);
}

bool http_server_is_tls(const struct http_server *server)
{
    return server->tls != NULL;
}

int http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_stop(struct http_server *server)
{
    if (server == NULL)
        return;
    MHD_stop_daemon(server->daemon);
    tls_server_free(server->tls);
    free(server);
}
