/*
 * gen_registry — writes synthetic hosts (synth_host.h) into a new registry
 * file, for bench-scale's sched to open with --registry: 100,000 hosts
 * through the sched's HTTP ingest would take minutes, written here
 * directly they take well under one. A benchmark tool, not a test.
 *
 * gen_registry --out FILE --hosts N [--types T] [--prefix P] [--release R]
 *              [--dead-url URL] [--free N] [--vms N] [--generation G]
 *              [--batch N] [--over]
 *
 * --over writes into an existing file instead (give a later --generation):
 * the registry writer's own cost for changed snapshots, without HTTP.
 *
 * --batch N (default 1000) writes N hosts per transaction with
 * registry_replace_hosts(), the sched's own group commit; --batch 0 one
 * registry_replace_host() per host, the path a collector's sqlite:
 * target takes (a commit per host rewrites ~50 B-tree pages of the type
 * indexes each time: about 250 hosts/s on the 2-vCPU VM).
 *
 * Prints one line: hosts=N types=T vms=N seconds=S hosts_per_s=R path=...
 * (path: how the snapshots were written).
 */
#include "registry.h"
#include "synth_host.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char gen_usage[] =
    "usage: gen_registry --out FILE --hosts N [--types T] [--prefix P] [--release R]\n"
    "                    [--dead-url URL] [--free N] [--vms N] [--generation G] [--batch N]\n"
    "                    [--over]\n";

static double gen_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A non-negative decimal that fits max, or -1. */
static long long gen_number(const char *s, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
        return -1;
    return v;
}

/* A registry_replace_host() per host: 0, or -1 with err. */
static int gen_one_by_one(struct registry *reg, const struct synth_shape *shape,
                          long long generation, int64_t now, char *err, size_t errlen)
{
    for (size_t i = 0; i < shape->host_count; i++) {
        struct inventory inv;
        if (synth_host_build(shape, i, generation, now, &inv, err, errlen) < 0)
            return -1;
        int rc = registry_replace_host(reg, &inv, now, err, errlen);
        inventory_free(&inv);
        if (rc != 0) {
            if (rc > 0)
                snprintf(err, errlen, "host %zu: a newer generation is already held", i);
            return -1;
        }
    }
    return 0;
}

/* batch hosts per registry_replace_hosts() transaction: 0, or -1 with err. */
static int gen_batched(struct registry *reg, const struct synth_shape *shape, size_t batch,
                       long long generation, int64_t now, char *err, size_t errlen)
{
    struct inventory *invs = calloc(batch, sizeof *invs);
    struct registry_replace *items = calloc(batch, sizeof *items);
    int status = invs != NULL && items != NULL ? 0 : -1;
    if (status < 0)
        snprintf(err, errlen, "out of memory");
    for (size_t first = 0; first < shape->host_count && status == 0; first += batch) {
        size_t n = shape->host_count - first < batch ? shape->host_count - first : batch;
        size_t built = 0;
        while (built < n && status == 0) {
            if (synth_host_build(shape, first + built, generation, now, &invs[built], err, errlen) <
                0)
                status = -1;
            else
                items[built] = (struct registry_replace){.inv = &invs[built], .now = now};
            built++;
        }
        if (status == 0 && registry_replace_hosts(reg, items, n, err, errlen) < 0)
            status = -1;
        for (size_t k = 0; k < n && status == 0; k++) {
            if (items[k].outcome != REGISTRY_REPLACE_WRITTEN) {
                snprintf(err, errlen, "host %zu: %s", first + k,
                         items[k].outcome == REGISTRY_REPLACE_FAILED ? items[k].err
                                                                     : "not written");
                status = -1;
            }
        }
        for (size_t k = 0; k < built; k++)
            inventory_free(&invs[k]);
    }
    free(invs);
    free(items);
    return status;
}

int main(int argc, char **argv)
{
    struct synth_shape shape = {.prefix = "syn",
                                .type_count = 20,
                                .release = "535.54",
                                .collector_url = "http://127.0.3.1:9",
                                .free_instances = 0};
    const char *out = NULL;
    long long generation = 1;
    size_t batch = 1000;
    bool over = false;
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"hosts", required_argument, NULL, 'n'},
        {"types", required_argument, NULL, 't'},
        {"prefix", required_argument, NULL, 'p'},
        {"release", required_argument, NULL, 'r'},
        {"dead-url", required_argument, NULL, 'u'},
        {"free", required_argument, NULL, 'f'},
        {"vms", required_argument, NULL, 'v'},
        {"generation", required_argument, NULL, 'g'},
        {"batch", required_argument, NULL, 'b'},
        {"over", no_argument, NULL, 'O'},
        {NULL, 0, NULL, 0},
    };
    int c;
    long long v = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'p':
            shape.prefix = optarg;
            break;
        case 'r':
            shape.release = optarg;
            break;
        case 'u':
            shape.collector_url = optarg;
            break;
        case 'O':
            over = true;
            break;
        case 'n':
        case 't':
        case 'f':
        case 'v':
        case 'g':
        case 'b':
            if ((v = gen_number(optarg, 100000000)) < 0) {
                fprintf(stderr, "gen_registry: bad number %s\n%s", optarg, gen_usage);
                return 2;
            }
            if (c == 'n')
                shape.host_count = (size_t)v;
            else if (c == 't')
                shape.type_count = (size_t)v;
            else if (c == 'f')
                shape.free_instances = (int)v;
            else if (c == 'v')
                shape.vm_count = (size_t)v;
            else if (c == 'b')
                batch = (size_t)v;
            else
                generation = v;
            break;
        default:
            fputs(gen_usage, stderr);
            return 2;
        }
    }
    char err[1024];
    if (out == NULL || optind != argc || synth_shape_prepare(&shape, err, sizeof err) < 0) {
        fprintf(stderr, "gen_registry: %s\n%s", out == NULL ? "--out is required" : err, gen_usage);
        return 2;
    }
    /* A fresh file only: adding to a registry another run left would mix
     * two shapes into the figures. */
    if ((access(out, F_OK) == 0) != over) {
        fprintf(stderr,
                over ? "gen_registry: %s does not exist; --over writes into one\n"
                     : "gen_registry: %s exists; give a new file\n",
                out);
        return 2;
    }
    struct registry *reg;
    if (registry_open(out, &reg, err, sizeof err) < 0) {
        fprintf(stderr, "gen_registry: %s\n", err);
        return 1;
    }
    int64_t now = (int64_t)time(NULL);
    double start = gen_now();
    int status = batch > 0 ? gen_batched(reg, &shape, batch, generation, now, err, sizeof err)
                           : gen_one_by_one(reg, &shape, generation, now, err, sizeof err);
    double seconds = gen_now() - start;
    registry_close(reg);
    if (status != 0) {
        fprintf(stderr, "gen_registry: %s\n", err);
        return 1;
    }
    char path[64] = "registry_replace_host";
    if (batch > 0)
        snprintf(path, sizeof path, "registry_replace_hosts/%zu", batch);
    printf("hosts=%zu types=%zu vms=%zu seconds=%.2f hosts_per_s=%.0f path=%s\n", shape.host_count,
           shape.type_count, shape.vm_count, seconds,
           (double)shape.host_count / (seconds > 0 ? seconds : 1e-9), path);
    return 0;
}
