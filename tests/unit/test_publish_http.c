/*
 * test_publish_http — the publisher's http(s) targets (mdevmig-sched's
 * ingest, DESIGN.md §3) against an in-process libmicrohttpd stub on
 * loopback that records every request and answers from a script. The
 * stub must get the snapshot's exact bytes at /v1/hosts/<host>/inventory
 * (host percent-encoded) with the bearer token; 5xx, transport failures,
 * 401 and 403 are retried with backoff; any other 4xx waits for the next
 * snapshot; a heartbeat sends {"generation": N} alone to
 * /v1/hosts/<host>/heartbeat over the kept connection, the whole snapshot
 * at once when the sched answers 409, and as heartbeats when it answers
 * 404 (an older sched); sqlite targets still work beside http ones.
 *
 * Usage: test_publish_http
 */
#include "log.h"
#include "publish.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOKEN        "s3cret-token-for-tests"
#define STUB_MAX     64
#define WAIT_LIMIT_S 10.0

/* ---- the stub sched ---------------------------------------------------- */

struct stub_request {
    char method[16];
    char uri[512]; /* as sent, before any unescaping */
    char auth[256];
    char content_type[128];
    char *body;
    size_t body_len;
};

struct stub_reply {
    unsigned status;
    const char *body;
};

struct stub {
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t lock;
    struct stub_request requests[STUB_MAX];
    size_t count;
    size_t connections;              /* TCP connections opened: keep-alive keeps this at 1 */
    const struct stub_reply *script; /* the last reply repeats */
    size_t script_len;
};

/* One request in flight: its raw URI and the body so far. */
struct stub_conn {
    char *uri;
    char *body;
    size_t len;
    bool started;
};

static const struct stub_reply reply_applied = {200, "{\"applied\": true, \"generation\": 1}"};

/* Called first for every request with the URI as it arrived; what it
 * returns becomes the request's context. */
static void *stub_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    (void)cls;
    (void)con;
    struct stub_conn *sc = calloc(1, sizeof *sc);
    if (sc != NULL)
        sc->uri = strdup(uri);
    return sc;
}

static void stub_completed(void *cls, struct MHD_Connection *con, void **req_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con;
    (void)toe;
    struct stub_conn *sc = *req_cls;
    if (sc != NULL) {
        free(sc->uri);
        free(sc->body);
        free(sc);
    }
    *req_cls = NULL;
}

static void stub_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
    (void)con;
    (void)socket_context;
    struct stub *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&s->lock);
        s->connections++;
        pthread_mutex_unlock(&s->lock);
    }
}

static void stub_copy(char *out, size_t outlen, const char *value)
{
    snprintf(out, outlen, "%s", value != NULL ? value : "");
}

static enum MHD_Result stub_access(void *cls, struct MHD_Connection *con, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
    (void)url;
    (void)version;
    struct stub *s = cls;
    struct stub_conn *sc = *req_cls;
    if (sc == NULL || sc->uri == NULL)
        return MHD_NO;
    if (!sc->started) {
        sc->started = true;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        char *more = realloc(sc->body, sc->len + *upload_data_size + 1);
        if (more == NULL)
            return MHD_NO;
        memcpy(more + sc->len, upload_data, *upload_data_size);
        sc->body = more;
        sc->len += *upload_data_size;
        sc->body[sc->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->lock);
    struct stub_reply reply = reply_applied;
    if (s->script_len > 0)
        reply = s->script[s->count < s->script_len ? s->count : s->script_len - 1];
    if (s->count < STUB_MAX) {
        struct stub_request *r = &s->requests[s->count];
        stub_copy(r->method, sizeof r->method, method);
        stub_copy(r->uri, sizeof r->uri, sc->uri);
        stub_copy(r->auth, sizeof r->auth,
                  MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization"));
        stub_copy(r->content_type, sizeof r->content_type,
                  MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type"));
        r->body = sc->body != NULL ? sc->body : strdup("");
        r->body_len = sc->len;
        sc->body = NULL;
    }
    s->count++;
    pthread_mutex_unlock(&s->lock);

    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(reply.body), (void *)reply.body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(con, reply.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void stub_start(struct stub *s, const struct stub_reply *script, size_t script_len)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->script = script;
    s->script_len = script_len;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, stub_access, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_URI_LOG_CALLBACK, stub_uri, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, stub_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, stub_connection, s, MHD_OPTION_END);
    assert_non_null(s->daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    s->port = info->port;
    assert_true(s->port != 0);
}

static void stub_stop(struct stub *s)
{
    MHD_stop_daemon(s->daemon);
    for (size_t i = 0; i < s->count && i < STUB_MAX; i++)
        free(s->requests[i].body);
    pthread_mutex_destroy(&s->lock);
}

static size_t stub_count(struct stub *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void stub_url(const struct stub *s, char *out, size_t outlen, const char *suffix)
{
    snprintf(out, outlen, "http://127.0.0.1:%u%s", (unsigned)s->port, suffix);
}

/* ---- helpers ----------------------------------------------------------- */

/* A compact inventory, as the collector serves it on GET /v1/inventory. */
static char *inventory_json(const char *host, int64_t generation)
{
    char *text = NULL;
    int n = asprintf(
        &text,
        "{\"schema_version\":1,\"host\":\"%s\",\"collector_url\":\"http://127.0.0.1:7301\","
        "\"generation\":%lld,\"scanned_at\":1732560000,\"parents\":[{\"name\":\"0000:3b:00.0\","
        "\"types\":[{\"id\":\"nvidia-222\",\"name\":\"GRID T4-2Q\",\"description\":\"num_heads=4"
        "\",\"device_api\":\"vfio-pci\",\"available_instances\":7,\"migration\":{\"supported\":"
        "true,\"version\":\"10de:1eb8-nvidia-222-535.161.08\",\"digest\":\"892389fd1b58d4560bdbdf"
        "c7f380dd002e92fa85e9d6aa8fa66f0d4fd6d90c3d\"}}]}],\"devices\":[],\"instances\":[]}",
        host, (long long)generation);
    assert_true(n > 0);
    return text;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void pause_s(double seconds)
{
    double until = mono_s() + seconds;
    while (mono_s() < until)
        nap();
}

/* Wait until the stub has seen at least `requests` requests and the
 * publisher's stats are at least the given ones; fail after a while. */
static void wait_for(struct stub *s, struct publish *p, size_t requests, unsigned long published,
                     unsigned long heartbeats, unsigned long failures)
{
    double deadline = mono_s() + WAIT_LIMIT_S;
    struct publish_stats st;
    for (;;) {
        publish_get_stats(p, &st);
        size_t n = s != NULL ? stub_count(s) : 0;
        if (n >= requests && st.published >= published && st.heartbeats >= heartbeats &&
            st.failures >= failures)
            return;
        if (mono_s() > deadline)
            fail_msg("timed out: %zu requests (want %zu), published %lu (want %lu), heartbeats "
                     "%lu (want %lu), failures %lu (want %lu)",
                     n, requests, st.published, published, st.heartbeats, heartbeats, st.failures,
                     failures);
        nap();
    }
}

static struct publish *start(char *const *targets, size_t count, double heartbeat_s)
{
    char err[1024] = "";
    struct publish *p = publish_start(targets, count, &(struct publish_credentials){.token = TOKEN},
                                      heartbeat_s, err, sizeof err);
    if (p == NULL)
        fail_msg("publish_start: %s", err);
    return p;
}

/* The request a snapshot must arrive as. */
static void check_request(struct stub *s, size_t i, const char *path, const char *json)
{
    pthread_mutex_lock(&s->lock);
    assert_true(i < s->count);
    struct stub_request r = s->requests[i];
    pthread_mutex_unlock(&s->lock);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.uri, path);
    assert_string_equal(r.auth, "Bearer " TOKEN);
    assert_string_equal(r.content_type, "application/json");
    assert_int_equal(r.body_len, strlen(json));
    assert_memory_equal(r.body, json, r.body_len);
}

/* ---- cases ------------------------------------------------------------- */

/* The snapshot's bytes, the path and the token arrive; a base URL with or
 * without a trailing slash gives the same path. */
static void test_publish_applied(void **state)
{
    (void)state;
    struct stub s;
    stub_start(&s, NULL, 0);
    char a[128], b[128];
    stub_url(&s, a, sizeof a, "");
    stub_url(&s, b, sizeof b, "/");
    char *targets[] = {a, b};
    struct publish *p = start(targets, 2, 60);
    char *json = inventory_json("gpu-a", 1);
    publish_offer(p, json, strlen(json), 1);
    wait_for(&s, p, 2, 2, 0, 0);
    publish_stop(p);

    assert_int_equal(stub_count(&s), 2);
    check_request(&s, 0, "/v1/hosts/gpu-a/inventory", json);
    check_request(&s, 1, "/v1/hosts/gpu-a/inventory", json);
    free(json);
    stub_stop(&s);
}

/* A 500 is retried after the backoff and then succeeds. */
static void test_publish_retry_after_500(void **state)
{
    (void)state;
    static const struct stub_reply script[] = {
        {500, "{\"error\": \"database is locked\"}"},
        {200, "{\"applied\": true, \"generation\": 3}"},
    };
    struct stub s;
    stub_start(&s, script, 2);
    char url[128];
    stub_url(&s, url, sizeof url, "");
    char *targets[] = {url};
    struct publish *p = start(targets, 1, 60);
    char *json = inventory_json("gpu-a", 3);
    publish_offer(p, json, strlen(json), 3);
    wait_for(&s, p, 2, 1, 0, 1);
    struct publish_stats st;
    publish_get_stats(p, &st);
    publish_stop(p);

    assert_true(st.failures >= 1);
    assert_int_equal(st.published, 1);
    assert_int_equal(st.last_generation, 3);
    check_request(&s, 0, "/v1/hosts/gpu-a/inventory", json);
    check_request(&s, 1, "/v1/hosts/gpu-a/inventory", json);
    free(json);
    stub_stop(&s);
}

/* With nothing changing, each heartbeat sends the generation alone. */
static void test_publish_heartbeat(void **state)
{
    (void)state;
    static const struct stub_reply script[] = {
        {200, "{\"applied\": true, \"generation\": 5}"},
        {200, "{\"generation\": 5, \"touched\": true}"},
    };
    struct stub s;
    stub_start(&s, script, 2);
    char url[128];
    stub_url(&s, url, sizeof url, "");
    char *targets[] = {url};
    struct publish *p = start(targets, 1, 0.2);
    char *json = inventory_json("gpu-a", 5);
    publish_offer(p, json, strlen(json), 5);
    wait_for(&s, p, 3, 1, 2, 0);
    struct publish_stats st;
    publish_get_stats(p, &st);
    publish_stop(p);

    assert_int_equal(st.published, 1);
    assert_true(st.heartbeats >= 2);
    assert_int_equal(st.failures, 0);
    /* One kept connection carries the first POST and every heartbeat. */
    pthread_mutex_lock(&s.lock);
    size_t connections = s.connections;
    pthread_mutex_unlock(&s.lock);
    assert_int_equal(connections, 1);
    check_request(&s, 0, "/v1/hosts/gpu-a/inventory", json);
    size_t n = stub_count(&s);
    for (size_t i = 1; i < n && i < STUB_MAX; i++)
        check_request(&s, i, "/v1/hosts/gpu-a/heartbeat", "{\"generation\":5}");
    free(json);
    stub_stop(&s);
}

/* A 409 (the sched restarted on an empty registry, or holds another
 * generation) gets the whole snapshot at once, then heartbeats again. */
static void test_publish_heartbeat_conflict(void **state)
{
    (void)state;
    static const struct stub_reply script[] = {
        {200, "{\"applied\": true, \"generation\": 6}"},
        {409, "{\"error\": \"host gpu-a is not in the registry: send the full inventory\", "
              "\"generation\": null}"},
        {200, "{\"applied\": true, \"generation\": 6}"},
        {200, "{\"generation\": 6, \"touched\": true}"},
    };
    struct stub s;
    stub_start(&s, script, 4);
    char url[128];
    stub_url(&s, url, sizeof url, "");
    char *targets[] = {url};
    struct publish *p = start(targets, 1, 0.2);
    char *json = inventory_json("gpu-a", 6);
    publish_offer(p, json, strlen(json), 6);
    wait_for(&s, p, 5, 2, 1, 0);
    struct publish_stats st;
    publish_get_stats(p, &st);
    publish_stop(p);

    assert_int_equal(st.published, 2);
    assert_int_equal(st.failures, 0);
    check_request(&s, 0, "/v1/hosts/gpu-a/inventory", json);
    check_request(&s, 1, "/v1/hosts/gpu-a/heartbeat", "{\"generation\":6}");
    check_request(&s, 2, "/v1/hosts/gpu-a/inventory", json);
    check_request(&s, 3, "/v1/hosts/gpu-a/heartbeat", "{\"generation\":6}");
    check_request(&s, 4, "/v1/hosts/gpu-a/heartbeat", "{\"generation\":6}");
    free(json);
    stub_stop(&s);
}

/* A sched without the endpoint (404) gets the whole snapshot, and from
 * then on every heartbeat is the whole snapshot, as before heartbeats. */
static void test_publish_heartbeat_old_sched(void **state)
{
    (void)state;
    static const struct stub_reply script[] = {
        {200, "{\"applied\": true, \"generation\": 7}"},
        {404, "{\"error\": \"no such endpoint: /v1/hosts/gpu-a/heartbeat\"}"},
        {200, "{\"applied\": true, \"generation\": 7}"},
    };
    struct stub s;
    stub_start(&s, script, 3);
    char url[128];
    stub_url(&s, url, sizeof url, "");
    char *targets[] = {url};
    struct publish *p = start(targets, 1, 0.2);
    char *json = inventory_json("gpu-a", 7);
    publish_offer(p, json, strlen(json), 7);
    wait_for(&s, p, 5, 1, 3, 0);
    struct publish_stats st;
    publish_get_stats(p, &st);
    publish_stop(p);

    assert_int_equal(st.published, 1);
    assert_int_equal(st.failures, 0);
    check_request(&s, 0, "/v1/hosts/gpu-a/inventory", json);
    check_request(&s, 1, "/v1/hosts/gpu-a/heartbeat", "{\"generation\":7}");
    size_t n = stub_count(&s);
    for (size_t i = 2; i < n && i < STUB_MAX; i++)
        check_request(&s, i, "/v1/hosts/gpu-a/inventory", json);
    free(json);
    stub_stop(&s);
}

/* A host name with URL-significant characters is percent-encoded. (A
 * space would be simplest, but the wire format refuses it in host.) */
/* Host names follow RFC 1123 (wire_host_name_valid), so nothing in one
 * needs escaping; a dotted FQDN goes into the path as it is. */
static void test_publish_host_in_path(void **state)
{
    (void)state;
    struct stub s;
    stub_start(&s, NULL, 0);
    char url[128];
    stub_url(&s, url, sizeof url, "/");
    char *targets[] = {url};
    struct publish *p = start(targets, 1, 60);
    char *json = inventory_json("gpu-a.rack-7.example.org", 1);
    publish_offer(p, json, strlen(json), 1);
    wait_for(&s, p, 1, 1, 0, 0);
    publish_stop(p);

    check_request(&s, 0, "/v1/hosts/gpu-a.rack-7.example.org/inventory", json);
    free(json);
    stub_stop(&s);
}

/* 401 and 403 are an operator's matter, perhaps a token mid-rotation:
 * retried with backoff until the sched takes the snapshot. */
static void test_publish_denied_retried(void **state)
{
    (void)state;
    static const struct stub_reply script[] = {
        {403, "{\"error\": \"host in the path is not the inventory's host\"}"},
        {401, "{\"error\": \"missing or wrong token\"}"},
        {200, "{\"applied\": true, \"generation\": 2}"},
    };
    struct stub s;
    stub_start(&s, script, 3);
    char url[128];
    stub_url(&s, url, sizeof url, "");
    char *targets[] = {url};
    struct publish *p = start(targets, 1, 60);
    char *json = inventory_json("gpu-a", 2);
    publish_offer(p, json, strlen(json), 2);
    wait_for(&s, p, 3, 1, 0, 2);
    struct publish_stats st;
    publish_get_stats(p, &st);
    publish_stop(p);

    assert_int_equal(st.failures, 2);
    assert_int_equal(st.published, 1);
    assert_int_equal(stub_count(&s), 3);
    free(json);
    stub_stop(&s);
}

/* A 400 says the snapshot is bad: neither retries nor heartbeats send it
 * again, but the next snapshot goes out at once. */
static void test_publish_rejected_waits(void **state)
{
    (void)state;
    static const struct stub_reply script[] = {
        {400, "{\"error\": \"inventory.parents[0].types[0].id: missing\"}"},
        {200, "{\"applied\": true, \"generation\": 2}"},
    };
    struct stub s;
    stub_start(&s, script, 2);
    char url[128];
    stub_url(&s, url, sizeof url, "");
    char *targets[] = {url};
    struct publish *p = start(targets, 1, 0.2);
    char *json1 = inventory_json("gpu-a", 1);
    publish_offer(p, json1, strlen(json1), 1);
    wait_for(&s, p, 1, 0, 0, 1);
    /* Past the first backoff (0.5 s) and several heartbeats. */
    pause_s(1.2);
    struct publish_stats st;
    publish_get_stats(p, &st);
    assert_int_equal(stub_count(&s), 1);
    assert_int_equal(st.failures, 1);
    assert_int_equal(st.published, 0);

    char *json2 = inventory_json("gpu-a", 2);
    publish_offer(p, json2, strlen(json2), 2);
    wait_for(&s, p, 2, 1, 0, 1);
    publish_get_stats(p, &st);
    publish_stop(p);
    assert_int_equal(st.last_generation, 2);
    check_request(&s, 0, "/v1/hosts/gpu-a/inventory", json1);
    check_request(&s, 1, "/v1/hosts/gpu-a/inventory", json2);
    free(json1);
    free(json2);
    stub_stop(&s);
}

/* Nothing listening: a transport failure, retried with backoff. */
static void test_publish_unreachable(void **state)
{
    (void)state;
    /* A loopback port that was free a moment ago. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    socklen_t len = sizeof addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
    char *targets[] = {url};
    struct publish *p = start(targets, 1, 60);
    char *json = inventory_json("gpu-a", 1);
    publish_offer(p, json, strlen(json), 1);
    wait_for(NULL, p, 0, 0, 0, 2);
    struct publish_stats st;
    publish_get_stats(p, &st);
    publish_stop(p);
    assert_int_equal(st.published, 0);
    assert_int_equal(st.last_generation, -1);
    free(json);
}

/* sqlite and http targets side by side each get the snapshot. */
static void test_publish_sqlite_beside_http(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_publish_http.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sqlite[256];
    snprintf(sqlite, sizeof sqlite, "sqlite:%s/registry.db", dir);
    struct stub s;
    stub_start(&s, NULL, 0);
    char url[128];
    stub_url(&s, url, sizeof url, "");
    char *targets[] = {sqlite, url};
    struct publish *p = start(targets, 2, 60);
    char *json = inventory_json("gpu-a", 4);
    publish_offer(p, json, strlen(json), 4);
    wait_for(&s, p, 1, 2, 0, 0);
    struct publish_stats st;
    publish_get_stats(p, &st);
    publish_stop(p);
    assert_int_equal(st.failures, 0);
    assert_int_equal(st.last_generation, 4);
    check_request(&s, 0, "/v1/hosts/gpu-a/inventory", json);
    free(json);
    stub_stop(&s);

    char path[300];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/registry.db%s", dir, suffixes[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
}

/* Targets refused up front, each with a message saying why. */
static void test_publish_start_refuses(void **state)
{
    (void)state;
    struct {
        const char *target;
        const char *token;
        const char *message;
    } cases[] = {
        {"http://127.0.0.1:7400", NULL, "token"},
        {"http://127.0.0.1:7400", "", "token"},
        {"http://127.0.0.1:7400/?x=1", TOKEN, "'?'"},
        {"https://sched.example/#frag", TOKEN, "'#'"},
        {"http://[::1", TOKEN, "Bad IPv6 address"},
        {"http:///v1", TOKEN, "no host name"},
        {"http://sched.example:0", TOKEN, "port"},
        {"ftp://sched.example", TOKEN, "not sqlite:PATH"},
        {"sqlite:", TOKEN, "not sqlite:PATH"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024] = "";
        char *targets[] = {(char *)cases[i].target};
        struct publish *p =
            publish_start(targets, 1, &(struct publish_credentials){.token = cases[i].token}, 60,
                          err, sizeof err);
        if (p != NULL) {
            publish_stop(p);
            fail_msg("%s: accepted", cases[i].target);
        }
        if (strstr(err, cases[i].message) == NULL)
            fail_msg("%s: message \"%s\" does not say \"%s\"", cases[i].target, err,
                     cases[i].message);
    }
    /* sqlite-only publishing needs no token. */
    char err[1024] = "";
    char *targets[] = {"sqlite:/nonexistent/never-opened.db"};
    struct publish *p =
        publish_start(targets, 1, &(struct publish_credentials){0}, 60, err, sizeof err);
    assert_non_null(p);
    publish_stop(p);
}

int main(void)
{
    log_init("test_publish_http", LOG_LEVEL_INFO);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_applied),
        cmocka_unit_test(test_publish_retry_after_500),
        cmocka_unit_test(test_publish_heartbeat),
        cmocka_unit_test(test_publish_heartbeat_conflict),
        cmocka_unit_test(test_publish_heartbeat_old_sched),
        cmocka_unit_test(test_publish_host_in_path),
        cmocka_unit_test(test_publish_denied_retried),
        cmocka_unit_test(test_publish_rejected_waits),
        cmocka_unit_test(test_publish_unreachable),
        cmocka_unit_test(test_publish_sqlite_beside_http),
        cmocka_unit_test(test_publish_start_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
