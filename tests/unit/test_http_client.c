/*
 * test_http_client — common/http_client against libmicrohttpd servers in
 * this process, on 127.0.0.2..6 (five "hosts", port 0 each): replies,
 * bodies and the bearer token arrive; max_parallel and max_per_host hold
 * (the servers count requests in flight); timeouts, refused and
 * unanswered connections and bad URLs come back as operator text per
 * call, a dead host failing its queued calls at once; connections stay warm
 * across batches and are shared by four threads running batches at once
 * (the servers count the connections they accept). The blocking sessions
 * the same: their own headers, a response header kept, one connection for
 * a run of calls, the response cap (failing or cutting), a call's own
 * timeout, progress while waiting, and the same failure texts.
 *
 * Usage: test_http_client
 *
 * Paths the servers answer: /echo (the body back, "hello" for a GET),
 * /auth (the Authorization header, or "none"), /ctype (Content-Type),
 * /method, /delay/MS (sleeps, counting requests in flight), /status/N,
 * /empty, /big (HTTP_CLIENT_MAX_RESPONSE + 1 bytes), /token (201 with
 * "X-Subject-Token: tok-123", as Keystone answers).
 */
#include "http_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVERS 5

struct server {
    struct MHD_Daemon *daemon;
    int port;
    char base[64]; /* "http://127.0.0.N:PORT" */
    atomic_int connections;
    atomic_int in_flight, max_in_flight;
};

static struct server servers[SERVERS];
static atomic_int all_in_flight, all_max_in_flight;

struct request {
    char *body;
    size_t len;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void raise_max(atomic_int *max, int value)
{
    int seen = atomic_load(max);
    while (value > seen && !atomic_compare_exchange_weak(max, &seen, value)) {
    }
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    struct server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->connections, 1);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct request *req = *con_cls;
    if (req != NULL) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
                             size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct request *req = *con_cls;
    if (req == NULL) {
        /* Reply on a later call: libmicrohttpd 0.9.75 drops keep-alive for
         * replies queued on the first (see common/http_server.c). */
        req = calloc(1, sizeof *req);
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        char *grown = realloc(req->body, req->len + *upload_data_size + 1);
        if (grown == NULL)
            return MHD_NO;
        req->body = grown;
        memcpy(req->body + req->len, upload_data, *upload_data_size);
        req->len += *upload_data_size;
        req->body[req->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/echo") == 0) {
        if (req->body == NULL)
            return reply(conn, 200, "hello", 5);
        return reply(conn, 200, req->body, req->len);
    }
    if (strcmp(url, "/auth") == 0 || strcmp(url, "/ctype") == 0) {
        const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    url[1] == 'a' ? MHD_HTTP_HEADER_AUTHORIZATION
                                                                  : MHD_HTTP_HEADER_CONTENT_TYPE);
        if (v == NULL)
            v = "none";
        return reply(conn, 200, v, strlen(v));
    }
    if (strcmp(url, "/method") == 0)
        return reply(conn, 200, method, strlen(method));
    if (strncmp(url, "/delay/", 7) == 0) {
        int now = atomic_fetch_add(&s->in_flight, 1) + 1;
        raise_max(&s->max_in_flight, now);
        int all = atomic_fetch_add(&all_in_flight, 1) + 1;
        raise_max(&all_max_in_flight, all);
        usleep((useconds_t)atoi(url + 7) * 1000);
        atomic_fetch_sub(&s->in_flight, 1);
        atomic_fetch_sub(&all_in_flight, 1);
        return reply(conn, 200, "slept", 5);
    }
    if (strncmp(url, "/status/", 8) == 0)
        return reply(conn, (unsigned)atoi(url + 8), "{\"error\":\"nope\"}", 16);
    if (strcmp(url, "/empty") == 0)
        return reply(conn, 200, "", 0);
    if (strcmp(url, "/token") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
        if (r == NULL || MHD_add_response_header(r, "X-Subject-Token", " tok-123 ") != MHD_YES) {
            if (r != NULL)
                MHD_destroy_response(r);
            return MHD_NO;
        }
        enum MHD_Result ret = MHD_queue_response(conn, 201, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/big") == 0) {
        size_t len = HTTP_CLIENT_MAX_RESPONSE + 1;
        char *big = malloc(len);
        if (big == NULL)
            return MHD_NO;
        memset(big, 'x', len);
        struct MHD_Response *r = MHD_create_response_from_buffer(len, big, MHD_RESPMEM_MUST_FREE);
        if (r == NULL) {
            free(big);
            return MHD_NO;
        }
        enum MHD_Result ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    return reply(conn, 404, "no such path", 12);
}

static int servers_start(void **state)
{
    (void)state;
    for (int i = 0; i < SERVERS; i++) {
        struct server *s = &servers[i];
        char addr[16];
        snprintf(addr, sizeof addr, "127.0.0.%d", i + 2);
        struct sockaddr_in sa = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
            return -1;
        /* A thread per connection, so /delay sleeps without holding up
         * the other requests. */
        s->daemon = MHD_start_daemon(
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
            NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
        if (s->daemon == NULL) {
            fprintf(stderr, "cannot start a server on %s\n", addr);
            return -1;
        }
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        if (info == NULL || info->port == 0)
            return -1;
        s->port = info->port;
        snprintf(s->base, sizeof s->base, "http://%s:%d", addr, s->port);
    }
    return 0;
}

static int servers_stop(void **state)
{
    (void)state;
    for (int i = 0; i < SERVERS; i++)
        if (servers[i].daemon != NULL)
            MHD_stop_daemon(servers[i].daemon);
    return 0;
}

static int counters_reset(void **state)
{
    (void)state;
    for (int i = 0; i < SERVERS; i++) {
        atomic_store(&servers[i].connections, 0);
        atomic_store(&servers[i].max_in_flight, 0);
    }
    atomic_store(&all_max_in_flight, 0);
    return 0;
}

static int total_connections(void)
{
    int n = 0;
    for (int i = 0; i < SERVERS; i++)
        n += atomic_load(&servers[i].connections);
    return n;
}

static struct http_client *client_new(const struct http_client_options *opts)
{
    char err[256] = "";
    struct http_client *c = http_client_new(opts, err, sizeof err);
    if (c == NULL)
        fail_msg("http_client_new: %s", err);
    return c;
}

static void run_ok(struct http_client *c, struct http_call *calls, size_t count)
{
    char err[256] = "";
    if (http_client_run(c, calls, count, err, sizeof err) != 0)
        fail_msg("http_client_run: %s", err);
}

/* URLs live as long as a test: one buffer per call. */
struct urls {
    char (*v)[128];
};

static struct urls urls_new(size_t count)
{
    struct urls u = {.v = calloc(count, sizeof *u.v)};
    assert_non_null(u.v);
    return u;
}

/* --- cases ------------------------------------------------------------- */

static void test_replies_bodies_and_headers(void **state)
{
    (void)state;
    struct http_client *c = client_new(&(struct http_client_options){.token = "s3cret"});
    enum { N = 9 };
    struct urls u = urls_new(N);
    const char *paths[N] = {"/echo",  "/echo",   "/auth", "/ctype", "/status/404",
                            "/empty", "/method", "/auth", "/method"};
    for (int i = 0; i < N; i++)
        snprintf(u.v[i], sizeof u.v[i], "%s%s", servers[i % SERVERS].base, paths[i]);
    static const char json[] = "{\"type\":\"nvidia-35\",\"version\":\"1.0\"}";
    struct http_call calls[N] = {
        {.url = u.v[0]},
        {.url = u.v[1], .body = json, .body_len = sizeof json - 1},
        {.url = u.v[2]},
        {.url = u.v[3], .body = json, .body_len = sizeof json - 1},
        {.url = u.v[4]},
        {.url = u.v[5]},
        {.url = u.v[6], .method = "DELETE"},
        {.url = u.v[7], .method = "PUT", .body = "{}", .body_len = 2},
        {.url = u.v[8], .method = "POST"},
    };
    run_ok(c, calls, N);
    for (int i = 0; i < N; i++)
        assert_string_equal(calls[i].error, "");
    assert_int_equal(calls[0].status, 200);
    assert_string_equal(calls[0].response, "hello");
    assert_int_equal(calls[1].status, 200);
    assert_string_equal(calls[1].response, json);
    assert_int_equal(calls[1].response_len, sizeof json - 1);
    assert_string_equal(calls[2].response, "Bearer s3cret");
    assert_string_equal(calls[3].response, "application/json");
    /* An HTTP error is a response, not a transport error. */
    assert_int_equal(calls[4].status, 404);
    assert_string_equal(calls[4].response, "{\"error\":\"nope\"}");
    assert_non_null(calls[5].response);
    assert_int_equal(calls[5].response_len, 0);
    assert_string_equal(calls[6].response, "DELETE");
    assert_string_equal(calls[7].response, "Bearer s3cret");
    assert_string_equal(calls[8].response, "POST");
    for (int i = 0; i < N; i++)
        assert_true(calls[i].elapsed_us > 0);
    http_calls_reset(calls, N);
    assert_null(calls[0].response);
    assert_int_equal(calls[0].status, 0);
    http_client_free(c);
    free(u.v);
}

static void test_no_token_no_header(void **state)
{
    (void)state;
    struct http_client *c = client_new(NULL);
    char url[128];
    snprintf(url, sizeof url, "%s/auth", servers[0].base);
    struct http_call call = {.url = url};
    run_ok(c, &call, 1);
    assert_string_equal(call.error, "");
    assert_string_equal(call.response, "none");
    http_calls_reset(&call, 1);
    http_client_free(c);
}

/* 20 slow requests over five hosts never have more than max_parallel in
 * flight, and do reach it. */
static void test_max_parallel_bounds_requests(void **state)
{
    (void)state;
    struct http_client *c =
        client_new(&(struct http_client_options){.max_parallel = 3, .max_per_host = 4});
    enum { N = 20 };
    struct urls u = urls_new(N);
    struct http_call calls[N] = {0};
    for (int i = 0; i < N; i++) {
        snprintf(u.v[i], sizeof u.v[i], "%s/delay/50", servers[i % SERVERS].base);
        calls[i].url = u.v[i];
    }
    run_ok(c, calls, N);
    for (int i = 0; i < N; i++) {
        assert_string_equal(calls[i].error, "");
        assert_string_equal(calls[i].response, "slept");
    }
    assert_int_equal(atomic_load(&all_max_in_flight), 3);
    http_calls_reset(calls, N);
    http_client_free(c);
    free(u.v);
}

/* Many requests to one host: max_per_host in flight, on that many
 * connections. */
static void test_max_per_host_bounds_connections(void **state)
{
    (void)state;
    struct http_client *c = client_new(&(struct http_client_options){.max_per_host = 2});
    enum { N = 12 };
    char url[128];
    snprintf(url, sizeof url, "%s/delay/30", servers[1].base);
    struct http_call calls[N] = {0};
    for (int i = 0; i < N; i++)
        calls[i].url = url;
    run_ok(c, calls, N);
    for (int i = 0; i < N; i++)
        assert_string_equal(calls[i].error, "");
    assert_int_equal(atomic_load(&servers[1].max_in_flight), 2);
    assert_int_equal(atomic_load(&servers[1].connections), 2);
    http_calls_reset(calls, N);
    http_client_free(c);
}

static void test_timeout(void **state)
{
    (void)state;
    struct http_client *c = client_new(&(struct http_client_options){.timeout_ms = 200});
    char slow[128], fast[128];
    snprintf(slow, sizeof slow, "%s/delay/1000", servers[2].base);
    snprintf(fast, sizeof fast, "%s/echo", servers[3].base);
    struct http_call calls[2] = {{.url = slow}, {.url = fast}};
    int64_t start = mono_ms();
    run_ok(c, calls, 2);
    int64_t took = mono_ms() - start;
    assert_int_equal(calls[0].status, 0);
    assert_null(calls[0].response);
    assert_non_null(strstr(calls[0].error, "timed out"));
    char hostport[64];
    snprintf(hostport, sizeof hostport, "127.0.0.4:%d: ", servers[2].port);
    assert_ptr_equal(strstr(calls[0].error, hostport), calls[0].error);
    assert_true(calls[0].elapsed_us >= 150000);
    assert_true(took < 900);
    /* The slow host does not hold up the other one. */
    assert_string_equal(calls[1].error, "");
    assert_int_equal(calls[1].status, 200);
    http_calls_reset(calls, 2);
    http_client_free(c);
}

/* A port with nothing listening: every call to it fails at once, with the
 * host:port and libcurl's words, and the batch does not wait. */
static void test_connection_refused(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    int port = ntohs(sa.sin_port);
    close(fd); /* bound, never listened, now closed: nothing answers there */

    struct http_client *c = client_new(NULL);
    char dead[128], live[128];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d/v1/probe", port);
    snprintf(live, sizeof live, "%s/echo", servers[0].base);
    enum { N = 6 };
    struct http_call calls[N] = {0};
    for (int i = 0; i < N - 1; i++)
        calls[i].url = dead;
    calls[N - 1].url = live;
    int64_t start = mono_ms();
    run_ok(c, calls, N);
    assert_true(mono_ms() - start < 1000);
    char expect[128];
    snprintf(expect, sizeof expect, "127.0.0.1:%d: Couldn't connect to server", port);
    for (int i = 0; i < N - 1; i++) {
        assert_int_equal(calls[i].status, 0);
        assert_null(calls[i].response);
        assert_ptr_equal(strstr(calls[i].error, expect), calls[i].error);
        assert_non_null(strstr(calls[i].error, "refused"));
    }
    assert_string_equal(calls[N - 1].error, "");
    http_calls_reset(calls, N);
    http_client_free(c);
}

/* A host that never completes the handshake (a listener with a full
 * backlog drops further SYNs, like a host gone dark): the first call's
 * connect timeout fails the calls queued behind it too, so five calls
 * take one connect timeout, not five. */
static void test_unanswered_connect_fails_the_host_at_once(void **state)
{
    (void)state;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(listener >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(listener, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(listener, 0), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(listener, (struct sockaddr *)&sa, &len), 0);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fillers[i] >= 0);
        if (connect(fillers[i], (struct sockaddr *)&sa, sizeof sa) != 0) {
            /* EINPROGRESS: the backlog is what we want full, not these. */
        }
    }
    usleep(50 * 1000);

    struct http_client *c = client_new(&(struct http_client_options){.connect_timeout_ms = 200});
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/health", ntohs(sa.sin_port));
    enum { N = 5 };
    struct http_call calls[N] = {0};
    for (int i = 0; i < N; i++)
        calls[i].url = url;
    int64_t start = mono_ms();
    run_ok(c, calls, N);
    int64_t took = mono_ms() - start;
    for (int i = 0; i < N; i++) {
        assert_int_equal(calls[i].status, 0);
        assert_non_null(strstr(calls[i].error, "connect timed out after"));
    }
    assert_true(took >= 150);
    assert_true(took < 700);
    http_calls_reset(calls, N);
    http_client_free(c);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(listener);
}

static void test_bad_calls_fail_alone(void **state)
{
    (void)state;
    struct http_client *c = client_new(NULL);
    char good[128];
    snprintf(good, sizeof good, "%s/echo", servers[0].base);
    struct http_call calls[5] = {
        {.url = "not a url"}, {.url = "ftp://127.0.0.2/x"},
        {.url = NULL},        {.url = good, .method = "BREW"},
        {.url = good},
    };
    run_ok(c, calls, 5);
    assert_non_null(strstr(calls[0].error, "bad URL \"not a url\""));
    assert_non_null(strstr(calls[1].error, "only http:// and https://"));
    assert_string_equal(calls[2].error, "request without a URL");
    assert_non_null(strstr(calls[3].error, "method \"BREW\""));
    for (int i = 0; i < 4; i++) {
        assert_int_equal(calls[i].status, 0);
        assert_null(calls[i].response);
    }
    assert_string_equal(calls[4].error, "");
    assert_string_equal(calls[4].response, "hello");
    http_calls_reset(calls, 5);

    /* A batch of nothing but bad calls returns too. */
    run_ok(c, calls, 3);
    assert_non_null(strstr(calls[0].error, "bad URL"));
    http_calls_reset(calls, 5);
    http_client_free(c);
}

static void test_response_too_large(void **state)
{
    (void)state;
    struct http_client *c = client_new(NULL);
    char url[128];
    snprintf(url, sizeof url, "%s/big", servers[4].base);
    struct http_call call = {.url = url};
    run_ok(c, &call, 1);
    assert_int_equal(call.status, 0);
    assert_null(call.response);
    assert_non_null(strstr(call.error, "response larger than 1048576 bytes"));
    http_calls_reset(&call, 1);
    http_client_free(c);
}

/* Two batches on one client: the second opens no connection. */
static void test_connections_reused_across_runs(void **state)
{
    (void)state;
    struct http_client *c = client_new(&(struct http_client_options){.max_per_host = 1});
    enum { N = 50 };
    struct urls u = urls_new(N);
    struct http_call calls[N] = {0};
    for (int i = 0; i < N; i++) {
        snprintf(u.v[i], sizeof u.v[i], "%s/echo", servers[i % SERVERS].base);
        calls[i].url = u.v[i];
        calls[i].body = u.v[i];
        calls[i].body_len = strlen(u.v[i]);
    }
    run_ok(c, calls, N);
    for (int i = 0; i < N; i++)
        assert_string_equal(calls[i].error, "");
    assert_int_equal(total_connections(), SERVERS);
    /* Outputs left by the first run are freed by the second. */
    run_ok(c, calls, N);
    for (int i = 0; i < N; i++)
        assert_string_equal(calls[i].response, u.v[i]);
    assert_int_equal(total_connections(), SERVERS);
    http_calls_reset(calls, N);
    http_client_free(c);
    free(u.v);
}

/* One call in flight at a time over five hosts: libcurl's default cache
 * (4 x the handles in the multi) would keep 4 of the 5 connections; the
 * client keeps them all. */
static void test_idle_connections_outlive_the_batch(void **state)
{
    (void)state;
    struct http_client *c = client_new(&(struct http_client_options){.max_parallel = 1});
    struct urls u = urls_new(SERVERS);
    struct http_call calls[SERVERS] = {0};
    for (int i = 0; i < SERVERS; i++) {
        snprintf(u.v[i], sizeof u.v[i], "%s/echo", servers[i].base);
        calls[i].url = u.v[i];
    }
    for (int round = 0; round < 3; round++) {
        run_ok(c, calls, SERVERS);
        for (int i = 0; i < SERVERS; i++)
            assert_string_equal(calls[i].error, "");
        assert_int_equal(total_connections(), SERVERS);
    }
    http_calls_reset(calls, SERVERS);
    http_client_free(c);
    free(u.v);
}

/* One host busy past the deadline: the calls it could not start in time
 * fail as timed out, and the batch returns within about timeout_ms. */
static void test_queued_calls_keep_the_deadline(void **state)
{
    (void)state;
    struct http_client *c =
        client_new(&(struct http_client_options){.timeout_ms = 250, .max_per_host = 1});
    enum { N = 6 };
    char url[128];
    snprintf(url, sizeof url, "%s/delay/100", servers[0].base);
    struct http_call calls[N] = {0};
    for (int i = 0; i < N; i++)
        calls[i].url = url;
    int64_t start = mono_ms();
    run_ok(c, calls, N);
    int64_t took = mono_ms() - start;
    int ok = 0, timed_out = 0;
    for (int i = 0; i < N; i++) {
        if (calls[i].error[0] == '\0')
            ok++;
        else if (strstr(calls[i].error, "timed out") != NULL)
            timed_out++;
    }
    /* The last call never got a connection. */
    assert_non_null(strstr(calls[N - 1].error, "waiting for a free connection"));
    assert_true(ok >= 1);
    assert_true(timed_out >= 3);
    assert_int_equal(ok + timed_out, N);
    assert_true(took < 700);
    http_calls_reset(calls, N);
    http_client_free(c);
}

struct worker {
    struct http_client *client;
    int id;
    int failures;
    char err[256];
};

/* Each thread posts its own bodies and checks it gets its own back. */
static void *worker_run(void *arg)
{
    struct worker *w = arg;
    enum { N = 60 };
    static _Thread_local char urls[N][128], bodies[N][64];
    struct http_call calls[N];
    memset(calls, 0, sizeof calls);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(urls[i], sizeof urls[i], "%s/echo", servers[(i + w->id) % SERVERS].base);
            int n = snprintf(bodies[i], sizeof bodies[i], "{\"thread\":%d,\"round\":%d,\"i\":%d}",
                             w->id, round, i);
            calls[i].url = urls[i];
            calls[i].body = bodies[i];
            calls[i].body_len = (size_t)n;
        }
        if (http_client_run(w->client, calls, N, w->err, sizeof w->err) != 0) {
            w->failures = N;
            break;
        }
        for (int i = 0; i < N; i++)
            if (calls[i].error[0] != '\0' || calls[i].response == NULL ||
                strcmp(calls[i].response, bodies[i]) != 0)
                w->failures++;
    }
    http_calls_reset(calls, N);
    return NULL;
}

/* Four threads at once on one client; their batches share connections:
 * the servers never see more than max_per_host from the whole process. */
static void test_four_threads_share_one_client(void **state)
{
    (void)state;
    struct http_client *c = client_new(&(struct http_client_options){.max_per_host = 2});
    pthread_t tids[4];
    struct worker workers[4];
    for (int t = 0; t < 4; t++) {
        workers[t] = (struct worker){.client = c, .id = t};
        assert_int_equal(pthread_create(&tids[t], NULL, worker_run, &workers[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        assert_int_equal(pthread_join(tids[t], NULL), 0);
        if (workers[t].failures != 0)
            fail_msg("thread %d: %d failed calls %s", t, workers[t].failures, workers[t].err);
    }
    assert_true(total_connections() <= SERVERS * 2);
    http_client_free(c);
}

static void test_bad_options(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(http_client_new(&(struct http_client_options){.timeout_ms = -1}, err, sizeof err));
    assert_non_null(strstr(err, "must not be negative"));
    err[0] = '\0';
    assert_null(http_client_new(&(struct http_client_options){.token = "abc\r\nX-Evil: 1"}, err,
                                sizeof err));
    assert_non_null(strstr(err, "token"));
    /* Nothing to run is not an error; no calls at all is. */
    struct http_client *c = client_new(NULL);
    assert_int_equal(http_client_run(c, NULL, 0, err, sizeof err), 0);
    assert_int_equal(http_client_run(c, NULL, 3, err, sizeof err), -1);
    http_client_free(c);
    http_client_free(NULL);
}

/* --- sessions ---------------------------------------------------------- */

static struct http_session *session_new(const struct http_session_options *opts)
{
    char err[256] = "";
    struct http_session *s = http_session_new(opts, err, sizeof err);
    if (s == NULL)
        fail_msg("http_session_new: %s", err);
    return s;
}

/* One call after another on one session: methods, bodies, the call's own
 * headers and a kept response header, all over one connection. */
static void test_session_requests(void **state)
{
    (void)state;
    struct http_session *s = session_new(&(struct http_session_options){.user_agent = "t"});
    char url[128];
    static const char json[] = "{\"a\":1}";
    const char *auth[] = {"Authorization: Bearer s3cret", NULL};
    const char *ctype[] = {"Content-Type: application/json", "Expect:", NULL};
    struct {
        const char *path, *method, *body;
        const char *const *headers;
        int status;
        const char *response;
    } cases[] = {
        {"/echo", NULL, NULL, NULL, 200, "hello"},
        {"/echo", NULL, json, NULL, 200, json},
        {"/auth", NULL, NULL, auth, 200, "Bearer s3cret"},
        {"/auth", NULL, NULL, NULL, 200, "none"},
        {"/ctype", "PUT", json, ctype, 200, "application/json"},
        {"/method", "PUT", NULL, NULL, 200, "PUT"},
        {"/method", "DELETE", NULL, NULL, 200, "DELETE"},
        {"/status/409", "POST", json, NULL, 409, "{\"error\":\"nope\"}"},
        {"/empty", NULL, NULL, NULL, 200, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(url, sizeof url, "%s%s", servers[0].base, cases[i].path);
        struct http_call call = {
            .url = url,
            .method = cases[i].method,
            .body = cases[i].body,
            .body_len = cases[i].body != NULL ? strlen(cases[i].body) : 0,
            .headers = cases[i].headers,
        };
        if (http_session_call(s, &call) != 0)
            fail_msg("%s: %s", cases[i].path, call.error);
        assert_string_equal(call.error, "");
        assert_int_equal(call.status, cases[i].status);
        assert_string_equal(call.response, cases[i].response);
        assert_true(call.elapsed_us > 0);
        http_calls_reset(&call, 1);
    }
    snprintf(url, sizeof url, "%s/token", servers[0].base);
    struct http_call call = {.url = url, .method = "POST", .reply_header = "x-subject-token"};
    assert_int_equal(http_session_call(s, &call), 0);
    assert_int_equal(call.status, 201);
    assert_string_equal(call.reply_header_value, "tok-123");
    /* A second call frees what the first left. */
    call.reply_header = NULL;
    assert_int_equal(http_session_call(s, &call), 0);
    assert_null(call.reply_header_value);
    http_calls_reset(&call, 1);
    assert_null(call.response);
    assert_int_equal(atomic_load(&servers[0].connections), 1);
    http_session_free(s);
    http_session_free(NULL);
}

/* Failures come back as "HOST:PORT: why", as the fan-out's do. */
static void test_session_failures(void **state)
{
    (void)state;
    struct http_session *s = session_new(&(struct http_session_options){.timeout_ms = 3000});
    char url[128];
    struct http_call call = {.url = "ftp://127.0.0.2/x"};
    assert_int_equal(http_session_call(s, &call), -1);
    assert_non_null(strstr(call.error, "only http:// and https://"));

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    int port = ntohs(sa.sin_port);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/hosts", port);
    call = (struct http_call){.url = url};
    assert_int_equal(http_session_call(s, &call), -1);
    char expect[128];
    snprintf(expect, sizeof expect, "127.0.0.1:%d: Couldn't connect to server", port);
    assert_ptr_equal(strstr(call.error, expect), call.error);
    assert_non_null(strstr(call.error, "refused"));
    assert_int_equal(call.status, 0);
    assert_null(call.response);

    /* The call's own timeout, shorter than the session's. */
    snprintf(url, sizeof url, "%s/delay/1000", servers[1].base);
    call = (struct http_call){.url = url, .timeout_ms = 200};
    int64_t start = mono_ms();
    assert_int_equal(http_session_call(s, &call), -1);
    assert_true(mono_ms() - start < 900);
    snprintf(expect, sizeof expect, "127.0.0.3:%d: timed out after", servers[1].port);
    assert_ptr_equal(strstr(call.error, expect), call.error);
    assert_non_null(strstr(call.error, "waiting for the response"));

    snprintf(url, sizeof url, "%s/big", servers[1].base);
    call = (struct http_call){.url = url};
    assert_int_equal(http_session_call(s, &call), -1);
    assert_true(call.too_large);
    assert_non_null(strstr(call.error, "response larger than 1048576 bytes"));
    assert_null(call.response);
    http_calls_reset(&call, 1);
    assert_false(call.too_large);
    http_session_free(s);
}

/* A session that cuts long replies keeps their start and succeeds. */
static void test_session_truncates(void **state)
{
    (void)state;
    struct http_session *s =
        session_new(&(struct http_session_options){.max_response = 4, .truncate_response = true});
    char url[128];
    snprintf(url, sizeof url, "%s/echo", servers[2].base);
    struct http_call call = {.url = url, .body = "abcdefgh", .body_len = 8};
    assert_int_equal(http_session_call(s, &call), 0);
    assert_int_equal(call.status, 200);
    assert_string_equal(call.response, "abcd");
    assert_int_equal(call.response_len, 4);
    assert_false(call.too_large);
    snprintf(url, sizeof url, "%s/big", servers[2].base);
    assert_int_equal(http_session_call(s, &call), 0);
    assert_string_equal(call.response, "xxxx");
    http_calls_reset(&call, 1);
    http_session_free(s);
}

static void count_progress(void *ctx)
{
    (*(int *)ctx)++;
}

/* A caller waiting on a slow answer hears about it while it waits. */
static void test_session_progress(void **state)
{
    (void)state;
    struct http_session *s = session_new(NULL);
    char url[128];
    snprintf(url, sizeof url, "%s/delay/1500", servers[3].base);
    int ticks = 0;
    struct http_call call = {.url = url, .progress = count_progress, .progress_ctx = &ticks};
    assert_int_equal(http_session_call(s, &call), 0);
    assert_string_equal(call.response, "slept");
    assert_true(ticks >= 1);
    http_calls_reset(&call, 1);
    http_session_free(s);

    char err[256] = "";
    assert_null(
        http_session_new(&(struct http_session_options){.timeout_ms = -1}, err, sizeof err));
    assert_non_null(strstr(err, "must not be negative"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_replies_bodies_and_headers, counters_reset),
        cmocka_unit_test_setup(test_no_token_no_header, counters_reset),
        cmocka_unit_test_setup(test_max_parallel_bounds_requests, counters_reset),
        cmocka_unit_test_setup(test_max_per_host_bounds_connections, counters_reset),
        cmocka_unit_test_setup(test_timeout, counters_reset),
        cmocka_unit_test_setup(test_connection_refused, counters_reset),
        cmocka_unit_test_setup(test_unanswered_connect_fails_the_host_at_once, counters_reset),
        cmocka_unit_test_setup(test_bad_calls_fail_alone, counters_reset),
        cmocka_unit_test_setup(test_response_too_large, counters_reset),
        cmocka_unit_test_setup(test_connections_reused_across_runs, counters_reset),
        cmocka_unit_test_setup(test_idle_connections_outlive_the_batch, counters_reset),
        cmocka_unit_test_setup(test_queued_calls_keep_the_deadline, counters_reset),
        cmocka_unit_test_setup(test_four_threads_share_one_client, counters_reset),
        cmocka_unit_test_setup(test_bad_options, counters_reset),
        cmocka_unit_test_setup(test_session_requests, counters_reset),
        cmocka_unit_test_setup(test_session_failures, counters_reset),
        cmocka_unit_test_setup(test_session_truncates, counters_reset),
        cmocka_unit_test_setup(test_session_progress, counters_reset),
    };
    return cmocka_run_group_tests(tests, servers_start, servers_stop);
}
