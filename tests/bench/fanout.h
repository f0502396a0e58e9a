/*
 * fanout — what bench_fanout's clients share: one plan of calls (the same
 * URLs and bodies for every client) and one way to run a round, so that
 * every client is measured the same way against the same stand-in
 * collectors in the same run (bench_fanout.c measures, the clients only
 * send).
 */
#ifndef MDEVMIG_BENCH_FANOUT_H
#define MDEVMIG_BENCH_FANOUT_H

#include <stddef.h>

/* The stand-ins are collectors with one parent offering these types. */
#define FANOUT_PARENT    "0000:18:00.0"
#define FANOUT_MAX_TYPES 64

/* Call i goes to server i % servers and probes type (i / servers) % types,
 * so a batch touches every server and, when calls = servers x types, every
 * (server, type) once: the sched's 1,000-probe filter over 50 hosts and
 * 20 specs. */
struct fanout_plan {
    long servers, calls, types;
    int parallel; /* requests in flight at once */
    int per_host; /* requests (connections) in flight to one server */
    const char *token;
    const char *const *server_urls; /* per server: "http://127.0.0.N:PORT" */
    const char *const *host_names;  /* per server: its host name in replies */
    const char *const *type_ids;    /* per type */
    const char *const *versions;    /* per type: the source's version */
    const char *const *urls;        /* per call: ".../v1/probe" */
    const char *const *bodies;      /* per call: the sched's probe request */
    const size_t *body_lens;
};

/* A client under test. round() sends one batch of the plan's calls and
 * returns how many failed (or -1 with err when the batch could not run). */
struct fanout_client {
    const char *name;
    void *ctx;
    long (*round)(void *ctx, char *err, size_t errlen);
    void (*free)(void *ctx);
};

/* fanout_curl.c: a bare libcurl multi client. 0, or -1 with err. */
int fanout_curl_new(const struct fanout_plan *plan, struct fanout_client *out, char *err,
                    size_t errlen);

/* fanout_sched.c: libmdevmig's filter over a registry of the stand-ins.
 * 0, or -1 with err. */
int fanout_sched_new(const struct fanout_plan *plan, struct fanout_client *out, char *err,
                     size_t errlen);

#endif
