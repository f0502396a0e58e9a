/*
 * bench_fanout — the scheduler's probe fan-out through common/http_client:
 * SERVERS stand-in collectors (libmicrohttpd on 127.0.0.10 up, one polling
 * thread each, a small JSON reply per POST after a trivial hash of the
 * body) in a child process, so the figures split client and server CPU;
 * CALLS POSTs spread over them per batch; ROUNDS batches after one
 * warm-up batch. Prints p50/p99/max ms per batch, CPU per batch, and the
 * TCP connections the servers accepted per batch (0 when every batch
 * reuses the warm ones). With 20 rounds p99 is the slowest batch. A
 * benchmark tool, not a test: figures go to docs/BENCHMARKS.md (issue 4
 * target: 1,000 probes over 50 collectors <= 150 ms).
 *
 * bench_fanout [--servers N] [--calls N] [--rounds N] [--parallel N]
 *              [--per-host N] [--threads N]
 *
 * --per-host 0 takes the client's default. --threads runs that many
 * batches at once from as many threads on one client (each of CALLS
 * calls), as the sched service's HTTP pool would.
 */
#include "http_client.h"

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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_SERVERS 200
#define BENCH_MAX_THREADS 16
#define BENCH_BODY_MAX    4096

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
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
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
    char reply[256];
    int n = snprintf(reply, sizeof reply,
                     "{\"compatible\":true,\"level\":\"type\",\"errno\":null,\"error\":null,"
                     "\"target_version\":\"%016llx\",\"elapsed_us\":1}",
                     (unsigned long long)h);
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

static struct MHD_Daemon *bench_server_start(uint32_t addr_host_order, int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(addr_host_order)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        bench_access, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
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
static int bench_servers_main(long servers, int stop_fd)
{
    struct MHD_Daemon *daemons[BENCH_MAX_SERVERS] = {0};
    int rc = 0;
    for (long i = 0; i < servers; i++) {
        daemons[i] = bench_server_start((127u << 24) | (uint32_t)(10 + i), &bench_shared->ports[i]);
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

static double bench_cpu_ms(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int bench_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct bench_worker {
    struct http_client *client;
    struct http_call *calls;
    size_t count;
    int rc;
    char err[256];
};

static void *bench_worker_run(void *arg)
{
    struct bench_worker *w = arg;
    w->rc = http_client_run(w->client, w->calls, w->count, w->err, sizeof w->err);
    return NULL;
}

/* One round: every thread runs its batch at once. Returns failed calls,
 * or -1 when a batch could not run. */
static long bench_round(struct bench_worker *workers, int threads)
{
    pthread_t tids[BENCH_MAX_THREADS];
    for (int t = 0; t < threads; t++)
        http_calls_reset(workers[t].calls, workers[t].count);
    if (threads == 1) {
        bench_worker_run(&workers[0]);
    } else {
        for (int t = 0; t < threads; t++)
            if (pthread_create(&tids[t], NULL, bench_worker_run, &workers[t]) != 0) {
                fprintf(stderr, "bench_fanout: cannot start a thread\n");
                return -1;
            }
        for (int t = 0; t < threads; t++)
            pthread_join(tids[t], NULL);
    }
    long failures = 0;
    for (int t = 0; t < threads; t++) {
        if (workers[t].rc != 0) {
            fprintf(stderr, "bench_fanout: %s\n", workers[t].err);
            return -1;
        }
        for (size_t i = 0; i < workers[t].count; i++) {
            const struct http_call *c = &workers[t].calls[i];
            if (c->error[0] != '\0' || c->status != 200) {
                if (failures == 0)
                    fprintf(stderr, "bench_fanout: first failure: %d %s\n", c->status, c->error);
                failures++;
            }
        }
    }
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

int main(int argc, char **argv)
{
    long servers = 50, calls = 1000, rounds = 20, parallel = 64, per_host = 0, threads = 1;
    static const struct option longopts[] = {{"servers", required_argument, NULL, 's'},
                                             {"calls", required_argument, NULL, 'c'},
                                             {"rounds", required_argument, NULL, 'r'},
                                             {"parallel", required_argument, NULL, 'p'},
                                             {"per-host", required_argument, NULL, 'h'},
                                             {"threads", required_argument, NULL, 't'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        long *dst = opt == 's'   ? &servers
                    : opt == 'c' ? &calls
                    : opt == 'r' ? &rounds
                    : opt == 'p' ? &parallel
                    : opt == 'h' ? &per_host
                    : opt == 't' ? &threads
                                 : NULL;
        if (dst == NULL) {
            fprintf(stderr, "usage: bench_fanout [--servers N] [--calls N] [--rounds N] "
                            "[--parallel N] [--per-host N] [--threads N]\n");
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

    /* Fork before any thread exists: the servers run in a child so that
     * getrusage() here is the client's CPU alone. */
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
        return bench_servers_main(servers, stop[0]);
    }
    close(stop[0]);

    char(*urls)[64] = calloc((size_t)servers, sizeof *urls);
    struct bench_worker workers[BENCH_MAX_THREADS] = {0};
    double *samples = calloc((size_t)rounds, sizeof *samples);
    long *connects = calloc((size_t)rounds, sizeof *connects);
    int rc = 1;
    struct http_client *client = NULL;
    if (urls == NULL || samples == NULL || connects == NULL) {
        fprintf(stderr, "bench_fanout: out of memory\n");
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
    for (long i = 0; i < servers; i++)
        snprintf(urls[i], sizeof urls[i], "http://127.0.0.%ld:%d/v1/probe", 10 + i,
                 bench_shared->ports[i]);

    char err[256];
    struct http_client_options opts = {
        .max_parallel = (int)parallel, .max_per_host = (int)per_host, .token = "bench-token"};
    client = http_client_new(&opts, err, sizeof err);
    if (client == NULL) {
        fprintf(stderr, "bench_fanout: %s\n", err);
        goto out;
    }
    static const char body[] = "{\"type\":\"nvidia-35\",\"version\":\"530.30.02;A100;pf-1\"}";
    for (long t = 0; t < threads; t++) {
        workers[t].client = client;
        workers[t].count = (size_t)calls;
        workers[t].calls = calloc((size_t)calls, sizeof *workers[t].calls);
        if (workers[t].calls == NULL) {
            fprintf(stderr, "bench_fanout: out of memory\n");
            goto out;
        }
        for (long i = 0; i < calls; i++) {
            /* Call i to server i % N: each batch touches every server. */
            workers[t].calls[i].url = urls[(i + t) % servers];
            workers[t].calls[i].body = body;
            workers[t].calls[i].body_len = sizeof body - 1;
        }
    }

    long before = atomic_load(&bench_shared->connections);
    double start = bench_now_ms();
    long failures = bench_round(workers, (int)threads);
    double cold_ms = bench_now_ms() - start;
    long cold_connects = atomic_load(&bench_shared->connections) - before;
    if (failures != 0) {
        fprintf(stderr, "bench_fanout: warm-up batch: %ld failures\n", failures);
        goto out;
    }
    long total_failures = 0;
    double cpu_start = bench_cpu_ms(RUSAGE_SELF);
    for (long r = 0; r < rounds; r++) {
        before = atomic_load(&bench_shared->connections);
        start = bench_now_ms();
        failures = bench_round(workers, (int)threads);
        samples[r] = bench_now_ms() - start;
        connects[r] = atomic_load(&bench_shared->connections) - before;
        if (failures < 0)
            goto out;
        total_failures += failures;
    }
    double client_cpu = (bench_cpu_ms(RUSAGE_SELF) - cpu_start) / (double)rounds;
    double connects_mean = 0;
    long connects_max = 0;
    for (long r = 0; r < rounds; r++) {
        connects_mean += (double)connects[r] / (double)rounds;
        if (connects[r] > connects_max)
            connects_max = connects[r];
    }
    long closed = atomic_load(&bench_shared->closed);
    /* Stop the servers now to learn their CPU (over every batch, warm-up
     * included, and their start). */
    http_client_free(client);
    client = NULL;
    close(stop[1]);
    stop[1] = -1;
    int status = 0;
    if (waitpid(child, &status, 0) == child)
        child = -1;
    double server_cpu = bench_cpu_ms(RUSAGE_CHILDREN) / (double)(rounds + 1);
    qsort(samples, (size_t)rounds, sizeof *samples, bench_compare);
    printf("servers=%ld calls=%ld threads=%ld parallel=%ld per_host=%ld rounds=%ld "
           "cold_ms=%.1f cold_new_connections=%ld p50_ms=%.1f p99_ms=%.1f max_ms=%.1f "
           "client_cpu_ms_per_batch=%.1f server_cpu_ms_per_batch=%.1f "
           "new_connections_per_batch_mean=%.1f new_connections_per_batch_max=%ld "
           "closed_during_run=%ld failures=%ld\n",
           servers, calls, threads, parallel, per_host, rounds, cold_ms, cold_connects,
           samples[rounds / 2], samples[(rounds * 99) / 100], samples[rounds - 1], client_cpu,
           server_cpu, connects_mean, connects_max, closed, total_failures);
    rc = total_failures == 0 ? 0 : 1;
out:
    for (long t = 0; t < threads; t++) {
        if (workers[t].calls != NULL)
            http_calls_reset(workers[t].calls, workers[t].count);
        free(workers[t].calls);
    }
    http_client_free(client);
    if (stop[1] >= 0)
        close(stop[1]);
    if (child > 0)
        waitpid(child, NULL, 0);
    free(urls);
    free(samples);
    free(connects);
    return rc;
}
