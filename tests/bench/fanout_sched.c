/*
 * fanout_sched — the sched's real probe path in bench_fanout: libmdevmig
 * (the public API only, as mdevmig-sched calls it) over a fresh registry
 * in a temporary directory that holds one host per stand-in collector
 * (one parent offering the plan's types, its collector_url the stand-in),
 * and one round is mdevmig_filter of every host for one VM with one spec
 * per type: servers x types probes, each parsed as a probe reply, turned
 * into a verdict and cached, then the answer's JSON made, exactly as
 * POST /v1/filter does without the sched's own HTTP server in front
 * (reading the request, sending the answer). A round fails the hosts that
 * do not pass.
 */
#include "fanout.h"

#include "version.h"

#include <mdevmig/mdevmig.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What the stand-in hosts run: a newer minor than the source, so every
 * probe is one the sched must make (another digest than the source's). */
#define FANOUT_SCHED_HOST_DRIVER "535.129"

struct fanout_sched {
    const struct fanout_plan *plan;
    struct mdevmig *m;
    char dir[64];
    struct mdevmig_spec specs[FANOUT_MAX_TYPES];
    struct mdevmig_request request;
};

static void fanout_sched_remove_dir(const char *dir)
{
    static const char *const files[] = {"registry.sqlite", "registry.sqlite-wal",
                                        "registry.sqlite-shm", "registry.sqlite-journal"};
    char path[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void fanout_sched_free(void *ctx)
{
    struct fanout_sched *fs = ctx;
    if (fs == NULL)
        return;
    mdevmig_close(fs->m);
    if (fs->dir[0] != '\0')
        fanout_sched_remove_dir(fs->dir);
    free(fs);
}

static long fanout_sched_round(void *ctx, char *err, size_t errlen)
{
    struct fanout_sched *fs = ctx;
    struct mdevmig_result *result = NULL;
    int rc = mdevmig_filter(fs->m, &fs->request, &result, err, errlen);
    if (rc != MDEVMIG_OK)
        return -1;
    struct mdevmig_result_info info = {.size = sizeof info};
    long failures = -1;
    /* The sched's answer to POST /v1/filter. */
    char *answer = mdevmig_result_json(result);
    if (answer == NULL) {
        snprintf(err, errlen, "mdevmig_result_json: out of memory");
    } else if (mdevmig_result_info(result, &info) != MDEVMIG_OK) {
        snprintf(err, errlen, "mdevmig_result_info failed");
    } else if (info.probes_sent != (size_t)fs->plan->calls) {
        snprintf(err, errlen, "the filter sent %zu probes, not %ld", info.probes_sent,
                 fs->plan->calls);
    } else {
        failures = (long)(info.host_count - info.destination_count);
        for (size_t h = 0; failures > 0 && h < info.host_count; h++) {
            struct mdevmig_host_info host = {.size = sizeof host};
            if (mdevmig_result_host(result, h, &host) == MDEVMIG_OK &&
                host.verdict != MDEVMIG_COMPATIBLE) {
                fprintf(stderr, "bench_fanout: sched: first failure: %s %s: %s\n", host.name,
                        mdevmig_verdict_name(host.verdict), host.error ? host.error : "");
                break;
            }
        }
    }
    free(answer);
    mdevmig_result_free(result);
    return failures;
}

/* Host s's inventory, as its collector would publish it. */
static int fanout_sched_inventory(const struct fanout_plan *p, long s, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(
        out, outlen,
        "{\"schema_version\":1,\"host\":\"%s\",\"collector_url\":\"%s\","
        "\"generation\":1,\"scanned_at\":%lld,\"parents\":[{\"name\":\"" FANOUT_PARENT
        "\",\"types\":[",
        p->host_names[s], p->server_urls[s], (long long)time(NULL));
    for (long t = 0; t < p->types && n < outlen; t++) {
        /* The source's version with the host's driver: "...-535.104" ->
         * "...-535.129". */
        char version[256];
        const char *dash = strrchr(p->versions[t], '-');
        int keep = dash != NULL ? (int)(dash - p->versions[t]) : (int)strlen(p->versions[t]);
        snprintf(version, sizeof version, "%.*s-%s", keep, p->versions[t],
                 FANOUT_SCHED_HOST_DRIVER);
        char digest[VERSION_DIGEST_LEN];
        if (version_digest(p->type_ids[t], version, digest) < 0)
            return -1;
        n += (size_t)snprintf(out + n, outlen - n,
                              "%s{\"id\":\"%s\",\"name\":\"bench\",\"description\":\"\","
                              "\"device_api\":\"vfio-pci\",\"available_instances\":4,"
                              "\"migration\":{\"supported\":true,\"version\":\"%s\","
                              "\"digest\":\"%s\"}}",
                              t > 0 ? "," : "", p->type_ids[t], version, digest);
    }
    if (n < outlen)
        n += (size_t)snprintf(out + n, outlen - n, "]}],\"devices\":[],\"instances\":[]}");
    return n < outlen ? (int)n : -1;
}

int fanout_sched_new(const struct fanout_plan *plan, struct fanout_client *out, char *err,
                     size_t errlen)
{
    if (plan->calls != plan->servers * plan->types) {
        snprintf(err, errlen,
                 "the sched client needs --calls = %ld servers x N types, N at most %d (a "
                 "filter probes every (host, type))",
                 plan->servers, FANOUT_MAX_TYPES);
        return -1;
    }
    if (plan->per_host != 1) {
        snprintf(err, errlen, "the sched client keeps one connection per host: --per-host 1");
        return -1;
    }
    struct fanout_sched *fs = calloc(1, sizeof *fs);
    if (fs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fs->plan = plan;
    snprintf(fs->dir, sizeof fs->dir, "/tmp/bench_fanout.XXXXXX");
    if (mkdtemp(fs->dir) == NULL) {
        fs->dir[0] = '\0';
        snprintf(err, errlen, "cannot make a temporary directory");
        fanout_sched_free(fs);
        return -1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/registry.sqlite", fs->dir);
    struct mdevmig_options opts = MDEVMIG_OPTIONS_INIT;
    opts.registry_path = path;
    opts.token = plan->token;
    opts.max_parallel = plan->parallel;
    if ((fs->m = mdevmig_open(&opts, err, errlen)) == NULL) {
        fanout_sched_free(fs);
        return -1;
    }
    size_t cap = 1024 + (size_t)plan->types * 600;
    char *body = malloc(cap);
    int rc = body != NULL ? 0 : -1;
    for (long s = 0; rc == 0 && s < plan->servers; s++) {
        int len = fanout_sched_inventory(plan, s, body, cap);
        bool applied = false;
        rc = len < 0 ? -1
                     : mdevmig_ingest(fs->m, plan->host_names[s], body, (size_t)len, NULL, &applied,
                                      err, errlen);
        if (len < 0)
            snprintf(err, errlen, "an inventory too large for the bench");
    }
    free(body);
    if (rc != 0) {
        fanout_sched_free(fs);
        return -1;
    }
    for (long t = 0; t < plan->types; t++)
        fs->specs[t] =
            (struct mdevmig_spec){.type = plan->type_ids[t], .version = plan->versions[t]};
    fs->request = (struct mdevmig_request)MDEVMIG_REQUEST_INIT;
    fs->request.specs = fs->specs;
    fs->request.spec_count = (size_t)plan->types;
    fs->request.candidates = plan->host_names;
    fs->request.candidate_count = (size_t)plan->servers;
    *out = (struct fanout_client){
        .name = "sched", .ctx = fs, .round = fanout_sched_round, .free = fanout_sched_free};
    return 0;
}
