/*
 * bench_fanout — the scheduler's probe fan-out against SERVERS stand-in
 * collectors (libmicrohttpd on 127.0.0.10 up, one polling thread each,
 * answering every POST with a well-formed compatible probe reply from
 * their own host name after a trivial hash of the body) in a child
 * process, so the figures split client and server CPU. CALLS POSTs per
 * batch, call i to server i % SERVERS for type (i / SERVERS) % TYPES, with
 * the body the sched sends for that type; ROUNDS batches after one
 * warm-up batch per client. A benchmark tool, not a test: figures go to
 * docs/BENCHMARKS.md (issue 4: 1,000 probes over 50 collectors <= 150 ms;
 * issue 15: the sched's CPU per probe <= 1.5 x a bare libcurl client's).
 *
 * bench_fanout [--client LIST] [--servers N] [--calls N] [--rounds N]
 *              [--parallel N] [--per-host N] [--threads N]
 *
 * --client is a comma-separated list of the clients to measure, one after
 * the other within each round against the same servers in the same run
 * (default http_client):
 *   http_client  common/http_client's fan-out (http_client_run), bodies
 *                only: no parsing;
 *   curl         a bare libcurl multi client (fanout_curl.c), the same
 *                URLs, bodies, headers, limits and kept connections;
 *   sched        libmdevmig's filter over a registry of the stand-ins
 *                (fanout_sched.c): the real probe path, replies parsed,
 *                verdicts cached; needs CALLS = SERVERS x types (<= 64);
 *   all          the three.
 * Per client it prints p50/p99/max ms per batch, its CPU per batch and per
 * call, the servers' CPU during its batches, and the TCP connections the
 * servers accepted per batch (0 when every batch reuses the warm ones);
 * with curl in the list, each other client's CPU per call over curl's.
 * --per-host 0 takes http_client's default (1). --threads runs that many
 * batches at once from as many threads on one client (each of CALLS
 * calls), as the sched service's HTTP pool would (http_client only).
 */
#include "fanout.h"
#include "http_client.h"

#include <curl/curl.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_SERVERS 200
#define BENCH_MAX_THREADS 16
#define BENCH_BODY_MAX    4096
#define BENCH_MAX_CLIENTS 3

/* Shared with the server process (MAP_SHARED before fork). */
struct bench_shared {
    atomic_long connections; /* accepted */
    atomic_long closed;
    atomic_int ready; /* 1 when every server listens, -1 when one could not */
    int ports[BENCH_MAX_SERVERS];
};

static struct bench_shared *bench_shared;

struct bench_request {
    char body[BENCH_BODY_MAX];
    size_t len;
};

static void bench_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                    enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    (void)conn;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&bench_shared->connections, 1);
    else
        atomic_fetch_add(&bench_shared->closed, 1);
}

static void bench_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static enum MHD_Result bench_access(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    (void)url;
    (void)method;
    (void)version;
    const char *host = cls;
    struct bench_request *req = *con_cls;
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
        size_t n = *upload_data_size;
        if (n > sizeof req->body - req->len)
            n = sizeof req->body - req->len;
        memcpy(req->body + req->len, upload_data, n);
        req->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The trivial work: a hash over the request, as a probe would read
     * and compare a version string. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < req->len; i++)
        h = (h ^ (unsigned char)req->body[i]) * 1099511628211ULL;
    /* A collector's reply (schema/probe_wire.c), from this host. */
    char reply[512];
    int n = snprintf(reply, sizeof reply,
                     "{\"compatible\":true,\"verdict\":\"compatible\",\"level\":\"type\","
                     "\"host\":\"%s\",\"parent\":\"" FANOUT_PARENT "\",\"errno\":null,"
                     "\"error\":null,\"target_version\":\"%016llx\",\"elapsed_us\":1}",
                     host, (unsigned long long)h);
    struct MHD_Response *r =
        MHD_create_response_from_buffer((size_t)n, reply, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Daemon *bench_server_start(uint32_t addr_host_order, const char *host, int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(addr_host_order)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        bench_access, (void *)host, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_CONNECTION, bench_notify_connection, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        bench_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (d == NULL)
        return NULL;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        MHD_stop_daemon(d);
        return NULL;
    }
    *port = info->port;
    return d;
}

/* The server process: listen, report the ports, serve until the parent
 * closes the pipe (or dies). */
static int bench_servers_main(long servers, char (*hosts)[16], int stop_fd)
{
    struct MHD_Daemon *daemons[BENCH_MAX_SERVERS] = {0};
    int rc = 0;
    for (long i = 0; i < servers; i++) {
        daemons[i] = bench_server_start((127u << 24) | (uint32_t)(10 + i), hosts[i],
                                        &bench_shared->ports[i]);
        if (daemons[i] == NULL) {
            fprintf(stderr, "bench_fanout: cannot start a server on 127.0.0.%ld\n", 10 + i);
            rc = 1;
            break;
        }
    }
    atomic_store(&bench_shared->ready, rc == 0 ? 1 : -1);
    char byte;
    while (rc == 0 && read(stop_fd, &byte, 1) > 0) {
    }
    for (long i = 0; i < servers; i++)
        if (daemons[i] != NULL)
            MHD_stop_daemon(daemons[i]);
    return rc;
}

static double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int bench_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* CPU time of a process in ms, all its threads (clock_getcpuclockid). */
static double bench_process_cpu_ms(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0)
        return 0;
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* --- the http_client client ----------------------------------------------- */

struct bench_worker {
    struct http_client *client;
    struct http_call *calls;
    size_t count;
    int rc;
    char err[256];
};

struct bench_http {
    struct http_client *client;
    struct bench_worker workers[BENCH_MAX_THREADS];
    int threads;
};

static void *bench_worker_run(void *arg)
{
    struct bench_worker *w = arg;
    w->rc = http_client_run(w->client, w->calls, w->count, w->err, sizeof w->err);
    return NULL;
}

/* One round: every thread runs its batch at once. Returns failed calls,
 * or -1 when a batch could not run. */
static long bench_http_round(void *ctx, char *err, size_t errlen)
{
    struct bench_http *bh = ctx;
    struct bench_worker *workers = bh->workers;
    pthread_t tids[BENCH_MAX_THREADS];
    for (int t = 0; t < bh->threads; t++)
        http_calls_reset(workers[t].calls, workers[t].count);
    if (bh->threads == 1) {
        bench_worker_run(&workers[0]);
    } else {
        for (int t = 0; t < bh->threads; t++)
            if (pthread_create(&tids[t], NULL, bench_worker_run, &workers[t]) != 0) {
                snprintf(err, errlen, "cannot start a thread");
                for (int j = 0; j < t; j++)
                    pthread_join(tids[j], NULL);
                return -1;
            }
        for (int t = 0; t < bh->threads; t++)
            pthread_join(tids[t], NULL);
    }
    long failures = 0;
    for (int t = 0; t < bh->threads; t++) {
        if (workers[t].rc != 0) {
            snprintf(err, errlen, "%s", workers[t].err);
            return -1;
        }
        for (size_t i = 0; i < workers[t].count; i++) {
            const struct http_call *c = &workers[t].calls[i];
            if (c->error[0] != '\0' || c->status != 200) {
                if (failures == 0)
                    fprintf(stderr, "bench_fanout: http_client: first failure: %d %s\n", c->status,
                            c->error);
                failures++;
            }
        }
    }
    return failures;
}

static void bench_http_free(void *ctx)
{
    struct bench_http *bh = ctx;
    if (bh == NULL)
        return;
    for (int t = 0; t < BENCH_MAX_THREADS; t++) {
        if (bh->workers[t].calls != NULL)
            http_calls_reset(bh->workers[t].calls, bh->workers[t].count);
        free(bh->workers[t].calls);
    }
    http_client_free(bh->client);
    free(bh);
}

static int bench_http_new(const struct fanout_plan *plan, int threads, int per_host_option,
                          struct fanout_client *out, char *err, size_t errlen)
{
    struct bench_http *bh = calloc(1, sizeof *bh);
    if (bh == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bh->threads = threads;
    struct http_client_options opts = {
        .max_parallel = plan->parallel, .max_per_host = per_host_option, .token = plan->token};
    if ((bh->client = http_client_new(&opts, err, errlen)) == NULL) {
        bench_http_free(bh);
        return -1;
    }
    for (int t = 0; t < threads; t++) {
        struct bench_worker *w = &bh->workers[t];
        w->client = bh->client;
        w->count = (size_t)plan->calls;
        if ((w->calls = calloc((size_t)plan->calls, sizeof *w->calls)) == NULL) {
            snprintf(err, errlen, "out of memory");
            bench_http_free(bh);
            return -1;
        }
        for (long i = 0; i < plan->calls; i++) {
            /* Thread t starts one server further: each batch touches every
             * server. */
            long k = (i + t) % plan->calls;
            w->calls[i].url = plan->urls[k];
            w->calls[i].body = plan->bodies[k];
            w->calls[i].body_len = plan->body_lens[k];
        }
    }
    *out = (struct fanout_client){
        .name = "http_client", .ctx = bh, .round = bench_http_round, .free = bench_http_free};
    return 0;
}

/* --- the plan ------------------------------------------------------------- */

/* Everything fanout_plan points at. */
struct bench_plan_data {
    char (*server_urls)[64];
    char (*urls)[96];
    char (*bodies)[256];
    const char **server_url_ptrs, **host_ptrs, **url_ptrs, **body_ptrs;
    size_t *body_lens;
    char type_ids[FANOUT_MAX_TYPES][32];
    char versions[FANOUT_MAX_TYPES][64];
    const char *type_ptrs[FANOUT_MAX_TYPES], *version_ptrs[FANOUT_MAX_TYPES];
};

static void bench_plan_free(struct bench_plan_data *d)
{
    free(d->server_urls);
    free(d->urls);
    free(d->bodies);
    free(d->server_url_ptrs);
    free(d->host_ptrs);
    free(d->url_ptrs);
    free(d->body_ptrs);
    free(d->body_lens);
}

/* The calls, with the bodies confirm.c sends for a type-level probe
 * (jansson's compact output keeps this key order). */
static int bench_plan_make(struct fanout_plan *p, struct bench_plan_data *d, char (*hosts)[16])
{
    size_t servers = (size_t)p->servers, calls = (size_t)p->calls;
    d->server_urls = calloc(servers, sizeof *d->server_urls);
    d->urls = calloc(calls, sizeof *d->urls);
    d->bodies = calloc(calls, sizeof *d->bodies);
    d->server_url_ptrs = calloc(servers, sizeof *d->server_url_ptrs);
    d->host_ptrs = calloc(servers, sizeof *d->host_ptrs);
    d->url_ptrs = calloc(calls, sizeof *d->url_ptrs);
    d->body_ptrs = calloc(calls, sizeof *d->body_ptrs);
    d->body_lens = calloc(calls, sizeof *d->body_lens);
    if (d->server_urls == NULL || d->urls == NULL || d->bodies == NULL ||
        d->server_url_ptrs == NULL || d->host_ptrs == NULL || d->url_ptrs == NULL ||
        d->body_ptrs == NULL || d->body_lens == NULL)
        return -1;
    for (long t = 0; t < p->types; t++) {
        /* As bench-sched's fixture: an A40-like GPU's vGPU types. */
        snprintf(d->type_ids[t], sizeof d->type_ids[t], "nvidia-%ld", 556 + t);
        snprintf(d->versions[t], sizeof d->versions[t], "10de:2235:nvidia-%ld-535.104", 556 + t);
        d->type_ptrs[t] = d->type_ids[t];
        d->version_ptrs[t] = d->versions[t];
    }
    for (size_t s = 0; s < servers; s++) {
        snprintf(d->server_urls[s], sizeof d->server_urls[s], "http://127.0.0.%zu:%d", 10 + s,
                 bench_shared->ports[s]);
        d->server_url_ptrs[s] = d->server_urls[s];
        d->host_ptrs[s] = hosts[s];
    }
    for (size_t i = 0; i < calls; i++) {
        size_t s = i % servers, t = (i / servers) % (size_t)p->types;
        snprintf(d->urls[i], sizeof d->urls[i], "%s/v1/probe", d->server_urls[s]);
        int n = snprintf(d->bodies[i], sizeof d->bodies[i],
                         "{\"type\":\"%s\",\"version\":\"%s\",\"parent\":\"" FANOUT_PARENT "\"}",
                         d->type_ids[t], d->versions[t]);
        d->url_ptrs[i] = d->urls[i];
        d->body_ptrs[i] = d->bodies[i];
        d->body_lens[i] = (size_t)n;
    }
    p->server_urls = d->server_url_ptrs;
    p->host_names = d->host_ptrs;
    p->type_ids = d->type_ptrs;
    p->versions = d->version_ptrs;
    p->urls = d->url_ptrs;
    p->bodies = d->body_ptrs;
    p->body_lens = d->body_lens;
    return 0;
}

/* --- measuring ------------------------------------------------------------ */

struct bench_figures {
    double *samples; /* ms per timed batch */
    long *connects;  /* new server connections per timed batch */
    double client_cpu_ms, server_cpu_ms;
    double cold_ms;
    long cold_connects, failures;
};

/* One batch of client c, timed; its CPU and the servers' added to f. */
static long bench_batch(const struct fanout_client *c, clockid_t server_clock, double *ms,
                        long *connects, struct bench_figures *f)
{
    char err[512] = "";
    long before = atomic_load(&bench_shared->connections);
    double cpu0 = bench_process_cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
    double server0 = bench_process_cpu_ms(server_clock);
    double start = bench_now_ms();
    long failures = c->round(c->ctx, err, sizeof err);
    *ms = bench_now_ms() - start;
    if (f != NULL) {
        f->client_cpu_ms += bench_process_cpu_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
        f->server_cpu_ms += bench_process_cpu_ms(server_clock) - server0;
    }
    *connects = atomic_load(&bench_shared->connections) - before;
    if (failures < 0)
        fprintf(stderr, "bench_fanout: %s: %s\n", c->name, err);
    return failures;
}

static long bench_arg(const char *name, const char *text, long lo, long hi)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_fanout: --%s must be %ld..%ld\n", name, lo, hi);
        return -1;
    }
    return v;
}

/* "http_client,curl,sched" or "all" into names (in the order given). */
static int bench_clients_parse(const char *text, const char **names, int *count)
{
    static const char *const known[] = {"http_client", "curl", "sched"};
    *count = 0;
    if (strcmp(text, "all") == 0) {
        for (int i = 0; i < 3; i++)
            names[(*count)++] = known[i];
        return 0;
    }
    const char *p = text;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < 3; i++)
            if (strlen(known[i]) == len && strncmp(p, known[i], len) == 0)
                found = i;
        for (int j = 0; found >= 0 && j < *count; j++)
            if (names[j] == known[found])
                found = -1;
        if (found < 0 || *count == BENCH_MAX_CLIENTS)
            return -1;
        names[(*count)++] = known[found];
        p += len;
        if (*p == ',')
            p++;
    }
    return *count > 0 ? 0 : -1;
}

static void bench_usage(void)
{
    fprintf(stderr, "usage: bench_fanout [--client http_client|curl|sched[,...]|all] "
                    "[--servers N] [--calls N] [--rounds N] [--parallel N] [--per-host N] "
                    "[--threads N]\n");
}

int main(int argc, char **argv)
{
    long servers = 50, calls = 1000, rounds = 20, parallel = 64, per_host = 0, threads = 1;
    const char *client_names[BENCH_MAX_CLIENTS];
    int client_count = 1;
    client_names[0] = "http_client";
    static const struct option longopts[] = {
        {"servers", required_argument, NULL, 's'},  {"calls", required_argument, NULL, 'c'},
        {"rounds", required_argument, NULL, 'r'},   {"parallel", required_argument, NULL, 'p'},
        {"per-host", required_argument, NULL, 'h'}, {"threads", required_argument, NULL, 't'},
        {"client", required_argument, NULL, 'C'},   {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 'C') {
            if (bench_clients_parse(optarg, client_names, &client_count) < 0) {
                fprintf(stderr, "bench_fanout: --client takes http_client, curl, sched "
                                "(comma-separated, each once) or all\n");
                return 2;
            }
            continue;
        }
        long *dst = opt == 's'   ? &servers
                    : opt == 'c' ? &calls
                    : opt == 'r' ? &rounds
                    : opt == 'p' ? &parallel
                    : opt == 'h' ? &per_host
                    : opt == 't' ? &threads
                                 : NULL;
        if (dst == NULL) {
            bench_usage();
            return 2;
        }
        long hi = opt == 's' ? BENCH_MAX_SERVERS : opt == 't' ? BENCH_MAX_THREADS : 100000;
        const char *name = "";
        for (const struct option *o = longopts; o->name != NULL; o++)
            if (o->val == opt)
                name = o->name;
        *dst = bench_arg(name, optarg, opt == 'h' ? 0 : 1, hi);
        if (*dst < 0)
            return 2;
    }
    if (optind != argc) {
        bench_usage();
        return 2;
    }
    if (threads > 1 && (client_count > 1 || strcmp(client_names[0], "http_client") != 0)) {
        fprintf(stderr, "bench_fanout: --threads is for the http_client client alone\n");
        return 2;
    }
    long types = (calls + servers - 1) / servers;
    if (types > FANOUT_MAX_TYPES)
        types = FANOUT_MAX_TYPES;
    char(*hosts)[16] = calloc((size_t)servers, sizeof *hosts);
    if (hosts == NULL) {
        fprintf(stderr, "bench_fanout: out of memory\n");
        return 1;
    }
    for (long i = 0; i < servers; i++)
        snprintf(hosts[i], sizeof hosts[i], "fan-%03ld", i);

    /* Fork before any thread exists: the servers run in a child so that
     * this process's CPU is the client's alone. */
    bench_shared =
        mmap(NULL, sizeof *bench_shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int stop[2];
    if (bench_shared == MAP_FAILED || pipe(stop) != 0) {
        perror("bench_fanout: mmap/pipe");
        return 1;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        perror("bench_fanout: fork");
        return 1;
    }
    if (child == 0) {
        close(stop[1]);
        int child_rc = bench_servers_main(servers, hosts, stop[0]);
        free(hosts);
        return child_rc;
    }
    close(stop[0]);

    struct fanout_plan plan = {.servers = servers,
                               .calls = calls,
                               .types = types,
                               .parallel = (int)parallel,
                               .per_host = per_host > 0 ? (int)per_host : 1,
                               .token = "bench-token"};
    struct bench_plan_data data = {0};
    struct fanout_client clients[BENCH_MAX_CLIENTS] = {0};
    struct bench_figures figs[BENCH_MAX_CLIENTS] = {0};
    int rc = 1;
    clockid_t server_clock;
    if (clock_getcpuclockid(child, &server_clock) != 0) {
        fprintf(stderr, "bench_fanout: no CPU clock for the server process\n");
        goto out;
    }
    for (int waited = 0; atomic_load(&bench_shared->ready) == 0; waited++) {
        if (waited > 10000) {
            fprintf(stderr, "bench_fanout: the servers did not start within 10 s\n");
            goto out;
        }
        poll(NULL, 0, 1);
    }
    if (atomic_load(&bench_shared->ready) < 0)
        goto out;
    if (bench_plan_make(&plan, &data, hosts) < 0) {
        fprintf(stderr, "bench_fanout: out of memory\n");
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int k = 0; k < client_count; k++) {
        char err[512] = "";
        int made =
            strcmp(client_names[k], "curl") == 0
                ? fanout_curl_new(&plan, &clients[k], err, sizeof err)
            : strcmp(client_names[k], "sched") == 0
                ? fanout_sched_new(&plan, &clients[k], err, sizeof err)
                : bench_http_new(&plan, (int)threads, (int)per_host, &clients[k], err, sizeof err);
        figs[k].samples = calloc((size_t)rounds, sizeof *figs[k].samples);
        figs[k].connects = calloc((size_t)rounds, sizeof *figs[k].connects);
        if (made < 0 || figs[k].samples == NULL || figs[k].connects == NULL) {
            fprintf(stderr, "bench_fanout: %s: %s\n", client_names[k],
                    err[0] != '\0' ? err : "out of memory");
            goto out;
        }
    }
    /* A warm-up batch per client opens its connections. */
    for (int k = 0; k < client_count; k++) {
        long failures =
            bench_batch(&clients[k], server_clock, &figs[k].cold_ms, &figs[k].cold_connects, NULL);
        if (failures != 0) {
            fprintf(stderr, "bench_fanout: %s: warm-up batch: %ld failures\n", clients[k].name,
                    failures);
            goto out;
        }
    }
    /* The clients take turns within each round, so the machine's drift
     * over the run weighs on all of them alike. */
    for (long r = 0; r < rounds; r++) {
        for (int k = 0; k < client_count; k++) {
            long failures = bench_batch(&clients[k], server_clock, &figs[k].samples[r],
                                        &figs[k].connects[r], &figs[k]);
            if (failures < 0)
                goto out;
            figs[k].failures += failures;
        }
    }
    long closed = atomic_load(&bench_shared->closed);
    long total_failures = 0;
    double curl_cpu_per_call = 0;
    long calls_per_batch = calls * threads;
    for (int k = 0; k < client_count; k++) {
        struct bench_figures *f = &figs[k];
        double connects_mean = 0;
        long connects_max = 0;
        for (long r = 0; r < rounds; r++) {
            connects_mean += (double)f->connects[r] / (double)rounds;
            if (f->connects[r] > connects_max)
                connects_max = f->connects[r];
        }
        qsort(f->samples, (size_t)rounds, sizeof *f->samples, bench_compare);
        double cpu_per_call_us = f->client_cpu_ms * 1e3 / (double)(rounds * calls_per_batch);
        if (strcmp(clients[k].name, "curl") == 0)
            curl_cpu_per_call = cpu_per_call_us;
        printf("client=%s servers=%ld calls=%ld types=%ld threads=%ld parallel=%ld per_host=%d "
               "rounds=%ld cold_ms=%.1f cold_new_connections=%ld p50_ms=%.1f p99_ms=%.1f "
               "max_ms=%.1f client_cpu_ms_per_batch=%.2f client_cpu_us_per_call=%.2f "
               "server_cpu_ms_per_batch=%.2f new_connections_per_batch_mean=%.1f "
               "new_connections_per_batch_max=%ld failures=%ld\n",
               clients[k].name, servers, calls, types, threads, parallel, plan.per_host, rounds,
               f->cold_ms, f->cold_connects, f->samples[rounds / 2],
               f->samples[(rounds * 99) / 100], f->samples[rounds - 1],
               f->client_cpu_ms / (double)rounds, cpu_per_call_us,
               f->server_cpu_ms / (double)rounds, connects_mean, connects_max, f->failures);
        total_failures += f->failures;
    }
    for (int k = 0; k < client_count && curl_cpu_per_call > 0; k++) {
        if (strcmp(clients[k].name, "curl") == 0)
            continue;
        double per_call = figs[k].client_cpu_ms * 1e3 / (double)(rounds * calls_per_batch);
        printf("ratio client=%s cpu_per_call_over_curl=%.2f\n", clients[k].name,
               per_call / curl_cpu_per_call);
    }
    printf("closed_during_run=%ld\n", closed);
    rc = total_failures == 0 ? 0 : 1;
out:
    for (int k = 0; k < client_count; k++) {
        if (clients[k].free != NULL)
            clients[k].free(clients[k].ctx);
        free(figs[k].samples);
        free(figs[k].connects);
    }
    if (stop[1] >= 0)
        close(stop[1]);
    if (child > 0)
        waitpid(child, NULL, 0);
    bench_plan_free(&data);
    free(hosts);
    return rc;
}
