/*
 * bench_ingest — what collectors send a sched, at the rate of a large
 * cloud: many hosts over several kept-alive connections at once, timed.
 * bench-scale's load client (heartbeats of unchanged hosts; changed
 * snapshots). A benchmark tool, not a test.
 *
 * bench_ingest heartbeat --sched ADDR:PORT --token-file F --hosts N
 *              [--prefix P] [--generation G] [--requests R] [--connections C]
 *     POST /v1/hosts/{host}/heartbeat {"generation": G}, R requests
 *     round-robin over the shape's first N hosts.
 * bench_ingest snapshot --sched ADDR:PORT --token-file F --hosts N
 *              [--shape-hosts H] [--types T] [--prefix P] [--release R]
 *              [--dead-url URL] [--vms V] [--generation G] [--connections C]
 *     POST /v1/hosts/{host}/inventory with each of the first N hosts of
 *     the shape (synth_host.h; H hosts and V VMs in all) at generation G
 *     and release R: one full snapshot per host, every body built and
 *     serialised before the clock starts.
 *
 * Prints one line of key=value: requests, seconds, rate (requests/s over
 * the whole run), min_window_rate (the slowest whole second), the replies
 * by status, applied (replies saying "applied": true), transport errors,
 * p50/p99 in microseconds, reconnects.
 */
#include "bench_conn.h"
#include "synth_host.h"
#include "wire.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INGEST_MAX_CONNECTIONS 128 /* the sched's default per-address limit */
#define INGEST_MAX_SECONDS     3600

static const char ingest_usage[] =
    "usage: bench_ingest heartbeat|snapshot --sched ADDR:PORT --token-file F --hosts N\n"
    "         [--shape-hosts H] [--types T] [--prefix P] [--release R] [--dead-url URL]\n"
    "         [--vms V] [--generation G] [--requests R] [--connections C]\n";

struct ingest {
    bool snapshot;
    char address[64];
    int port;
    char token[256];
    struct synth_shape shape;
    size_t hosts;
    long long generation;
    size_t requests;
    int connections;
    char **bodies; /* snapshot: one per host */
    size_t *body_lens;
    double start;
    atomic_size_t next;
    float *latency_us;                                /* per request */
    atomic_size_t per_second[INGEST_MAX_SECONDS + 1]; /* completions by second */
    atomic_size_t by_status[6];                       /* 2xx: [2], 4xx: [4] ... */
    atomic_size_t status_200, status_404, status_409, applied, errors, reconnects;
    char first_error[512];
    pthread_mutex_t lock;
};

static double ingest_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ingest_float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* "applied": true, in whatever spacing the server's JSON writer uses. */
static bool ingest_applied(const char *reply)
{
    const char *p = strstr(reply, "\"applied\"");
    if (p == NULL)
        return false;
    p += strlen("\"applied\"");
    while (*p == ' ' || *p == ':')
        p++;
    return strncmp(p, "true", 4) == 0;
}

static void ingest_note_error(struct ingest *g, const char *what)
{
    atomic_fetch_add(&g->errors, 1);
    pthread_mutex_lock(&g->lock);
    if (g->first_error[0] == '\0')
        snprintf(g->first_error, sizeof g->first_error, "%s", what);
    pthread_mutex_unlock(&g->lock);
}

static void *ingest_worker(void *arg)
{
    struct ingest *g = arg;
    struct bench_conn conn;
    char err[256];
    if (bench_conn_open(&conn, g->address, g->port, err, sizeof err) < 0) {
        ingest_note_error(g, err);
        return NULL;
    }
    char head[1024], body[64], host[64];
    for (;;) {
        size_t k = atomic_fetch_add(&g->next, 1);
        if (k >= g->requests)
            break;
        size_t i = k % g->hosts;
        synth_host_name(&g->shape, i, host, sizeof host);
        const char *b;
        size_t blen;
        if (g->snapshot) {
            b = g->bodies[i];
            blen = g->body_lens[i];
        } else {
            blen = (size_t)snprintf(body, sizeof body, "{\"generation\":%lld}", g->generation);
            b = body;
        }
        int hlen = snprintf(head, sizeof head,
                            "POST /v1/hosts/%s/%s HTTP/1.1\r\nHost: %s:%d\r\n"
                            "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            host, g->snapshot ? "inventory" : "heartbeat", g->address, g->port,
                            g->token, blen);
        double t0 = ingest_now();
        int status = 0;
        const char *reply;
        size_t reply_len;
        if (bench_conn_request(&conn, head, (size_t)hlen, b, blen, &status, &reply, &reply_len, err,
                               sizeof err) < 0) {
            ingest_note_error(g, err);
            g->latency_us[k] = -1;
            continue;
        }
        double t1 = ingest_now();
        g->latency_us[k] = (float)((t1 - t0) * 1e6);
        size_t second = (size_t)(t1 - g->start);
        atomic_fetch_add(&g->per_second[second < INGEST_MAX_SECONDS ? second : INGEST_MAX_SECONDS],
                         1);
        atomic_fetch_add(&g->by_status[status / 100 >= 1 && status / 100 <= 5 ? status / 100 : 0],
                         1);
        if (status == 200)
            atomic_fetch_add(&g->status_200, 1);
        else if (status == 404)
            atomic_fetch_add(&g->status_404, 1);
        else if (status == 409)
            atomic_fetch_add(&g->status_409, 1);
        if (status == 200 && ingest_applied(reply))
            atomic_fetch_add(&g->applied, 1);
        if (status != 200 && status != 409) {
            char what[320];
            snprintf(what, sizeof what, "HTTP %d: %.*s", status,
                     (int)(reply_len < 200 ? reply_len : 200), reply);
            pthread_mutex_lock(&g->lock);
            if (g->first_error[0] == '\0')
                snprintf(g->first_error, sizeof g->first_error, "%s", what);
            pthread_mutex_unlock(&g->lock);
        }
    }
    atomic_fetch_add(&g->reconnects, conn.reconnects);
    bench_conn_close(&conn);
    return NULL;
}

/* Every host's snapshot body, built before the clock starts. */
static int ingest_build_bodies(struct ingest *g, char *err, size_t errlen)
{
    g->bodies = calloc(g->hosts, sizeof *g->bodies);
    g->body_lens = calloc(g->hosts, sizeof *g->body_lens);
    if (g->bodies == NULL || g->body_lens == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < g->hosts; i++) {
        struct inventory inv;
        if (synth_host_build(&g->shape, i, g->generation, now, &inv, err, errlen) < 0)
            return -1;
        json_t *json = wire_inventory_to_json(&inv);
        inventory_free(&inv);
        g->bodies[i] = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;
        json_decref(json);
        if (g->bodies[i] == NULL) {
            snprintf(err, errlen, "out of memory serialising host %zu", i);
            return -1;
        }
        g->body_lens[i] = strlen(g->bodies[i]);
    }
    return 0;
}

static int ingest_read_token(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    bool ok = fgets(out, (int)outlen, f) != NULL;
    fclose(f);
    out[ok ? strcspn(out, " \t\r\n") : 0] = '\0';
    if (out[0] == '\0') {
        snprintf(err, errlen, "%s holds no token", path);
        return -1;
    }
    return 0;
}

static long long ingest_number(const char *s, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
        return -1;
    return v;
}

static int ingest_parse(struct ingest *g, int argc, char **argv, char *err, size_t errlen)
{
    if (argc < 2 || (strcmp(argv[1], "heartbeat") != 0 && strcmp(argv[1], "snapshot") != 0)) {
        snprintf(err, errlen, "the first word is heartbeat or snapshot");
        return -1;
    }
    g->snapshot = strcmp(argv[1], "snapshot") == 0;
    g->shape = (struct synth_shape){.prefix = "syn",
                                    .type_count = 20,
                                    .release = "535.54",
                                    .collector_url = "http://127.0.3.1:9"};
    g->generation = 1;
    g->connections = 8;
    const char *sched = NULL, *token_file = NULL;
    static const struct option options[] = {
        {"sched", required_argument, NULL, 's'},
        {"token-file", required_argument, NULL, 'k'},
        {"hosts", required_argument, NULL, 'n'},
        {"shape-hosts", required_argument, NULL, 'H'},
        {"types", required_argument, NULL, 't'},
        {"prefix", required_argument, NULL, 'p'},
        {"release", required_argument, NULL, 'r'},
        {"dead-url", required_argument, NULL, 'u'},
        {"vms", required_argument, NULL, 'v'},
        {"generation", required_argument, NULL, 'g'},
        {"requests", required_argument, NULL, 'R'},
        {"connections", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        long long v = 0;
        if (strchr("nHtvgRc", c) != NULL && (v = ingest_number(optarg, 100000000)) < 0) {
            snprintf(err, errlen, "bad number %s", optarg);
            return -1;
        }
        switch (c) {
        case 's':
            sched = optarg;
            break;
        case 'k':
            token_file = optarg;
            break;
        case 'p':
            g->shape.prefix = optarg;
            break;
        case 'r':
            g->shape.release = optarg;
            break;
        case 'u':
            g->shape.collector_url = optarg;
            break;
        case 'n':
            g->hosts = (size_t)v;
            break;
        case 'H':
            g->shape.host_count = (size_t)v;
            break;
        case 't':
            g->shape.type_count = (size_t)v;
            break;
        case 'v':
            g->shape.vm_count = (size_t)v;
            break;
        case 'g':
            g->generation = v;
            break;
        case 'R':
            g->requests = (size_t)v;
            break;
        case 'c':
            g->connections = (int)v;
            break;
        default:
            snprintf(err, errlen, "unknown option");
            return -1;
        }
    }
    const char *colon = sched != NULL ? strrchr(sched, ':') : NULL;
    if (optind != argc || colon == NULL || (size_t)(colon - sched) >= sizeof g->address ||
        token_file == NULL || g->hosts == 0) {
        snprintf(err, errlen, "--sched ADDR:PORT, --token-file and --hosts are required");
        return -1;
    }
    snprintf(g->address, sizeof g->address, "%.*s", (int)(colon - sched), sched);
    g->port = atoi(colon + 1);
    if (g->connections < 1 || g->connections > INGEST_MAX_CONNECTIONS) {
        snprintf(err, errlen, "--connections must be 1 to %d", INGEST_MAX_CONNECTIONS);
        return -1;
    }
    if (g->shape.host_count == 0)
        g->shape.host_count = g->hosts;
    if (g->hosts > g->shape.host_count) {
        snprintf(err, errlen, "--hosts is more than --shape-hosts");
        return -1;
    }
    if (g->snapshot || g->requests == 0)
        g->requests = g->hosts;
    if (synth_shape_prepare(&g->shape, err, errlen) < 0)
        return -1;
    return ingest_read_token(token_file, g->token, sizeof g->token, err, errlen);
}

int main(int argc, char **argv)
{
    static struct ingest g; /* large: the per-second counters */
    char err[1024];
    pthread_mutex_init(&g.lock, NULL);
    if (ingest_parse(&g, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "bench_ingest: %s\n%s", err, ingest_usage);
        return 2;
    }
    double built = ingest_now();
    if (g.snapshot && ingest_build_bodies(&g, err, sizeof err) < 0) {
        fprintf(stderr, "bench_ingest: %s\n", err);
        return 1;
    }
    built = ingest_now() - built;
    if ((g.latency_us = calloc(g.requests, sizeof *g.latency_us)) == NULL) {
        fprintf(stderr, "bench_ingest: out of memory\n");
        return 1;
    }
    pthread_t threads[INGEST_MAX_CONNECTIONS];
    g.start = ingest_now();
    int started = 0;
    for (int t = 0; t < g.connections; t++) {
        if (pthread_create(&threads[t], NULL, ingest_worker, &g) != 0)
            break;
        started++;
    }
    for (int t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    double seconds = ingest_now() - g.start;

    /* The slowest whole second, the last partial one left out. */
    size_t whole = (size_t)seconds, min_window = 0;
    for (size_t s = 0; s < whole && s < INGEST_MAX_SECONDS; s++) {
        size_t n = atomic_load(&g.per_second[s]);
        if (s == 0 || n < min_window)
            min_window = n;
    }
    size_t timed = 0;
    for (size_t k = 0; k < g.requests; k++) {
        if (g.latency_us[k] >= 0)
            g.latency_us[timed++] = g.latency_us[k];
    }
    qsort(g.latency_us, timed, sizeof *g.latency_us, ingest_float_cmp);
    double p50 = timed ? g.latency_us[timed / 2] : 0;
    double p99 = timed ? g.latency_us[timed * 99 / 100] : 0;
    char window[32] = "-";
    if (whole >= 1)
        snprintf(window, sizeof window, "%zu", min_window);
    size_t body_bytes = 0;
    for (size_t i = 0; g.snapshot && i < g.hosts; i++)
        body_bytes += g.body_lens[i];
    printf("mode=%s requests=%zu hosts=%zu connections=%d seconds=%.3f rate=%.1f "
           "min_window_rate=%s status_200=%zu status_409=%zu status_404=%zu status_2xx=%zu "
           "status_4xx=%zu status_5xx=%zu applied=%zu errors=%zu p50_us=%.1f p99_us=%.1f "
           "reconnects=%zu body_bytes_mean=%.0f build_seconds=%.2f",
           g.snapshot ? "snapshot" : "heartbeat", g.requests, g.hosts, started, seconds,
           (double)timed / (seconds > 0 ? seconds : 1e-9), window, atomic_load(&g.status_200),
           atomic_load(&g.status_409), atomic_load(&g.status_404), atomic_load(&g.by_status[2]),
           atomic_load(&g.by_status[4]), atomic_load(&g.by_status[5]), atomic_load(&g.applied),
           atomic_load(&g.errors), p50, p99, atomic_load(&g.reconnects),
           g.snapshot ? (double)body_bytes / (double)g.hosts : 0.0, built);
    if (g.first_error[0] != '\0')
        printf(" first_error=%s", g.first_error);
    printf("\n");
    return atomic_load(&g.errors) > 0 && atomic_load(&g.by_status[2]) == 0 ? 1 : 0;
}
