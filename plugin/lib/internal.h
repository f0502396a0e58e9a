/*
 * internal.h — what the parts of libmdevmig share and the public header
 * does not show: the library handle, the resolved source, and the working
 * set of candidate hosts a select or filter builds and probes.
 */
#ifndef MDEVMIG_INTERNAL_H
#define MDEVMIG_INTERNAL_H

#include "http_client.h"
#include "inventory.h"
#include "registry.h"
#include "results.h"

#include <pthread.h>

struct mdevmig {
    struct registry *registry;
    struct registry_checkpointer *checkpointer; /* NULL: SQLite checkpoints inline */
    pthread_mutex_t registry_lock;              /* one SQLite connection, many callers */
    struct http_client *http;
    int64_t stale_after_s;
    size_t full_scan_max;
    struct keystone *keystone;   /* NULL unless Placement uses Keystone */
    struct placement *placement; /* NULL: candidates come from the registry */
    bool verify_host_identity;   /* collectors must prove their host name (TLS) */
    /* The latest registry failure a call met ("" once one succeeds), for
     * mdevmig_health; its own lock, so health never waits on a query. */
    pthread_mutex_t health_lock;
    char registry_error[256];
    /* Heartbeats' last_seen and each host's generation, in memory
     * (touches.c), and the group commit of snapshots (ingest.c). */
    struct touches *touches;
    struct ingest *ingest;
};

/* store.c: record how a call that used the registry ended (status an
 * mdevmig_status; only OK and ERR_INTERNAL say anything of it). */
void store_outcome(struct mdevmig *m, int status, const char *err);

/* The VM's side: where it runs and what it must take along. */
struct source {
    char *host; /* NULL for explicit specs */
    char *url;
    bool known;
    bool stale;
    struct mdevmig_mdev *mdevs;
    size_t mdev_count;
    /* Per mdev: its device node has no migration_version attribute, so its
     * type node's version stands in (the seed's other place). A device
     * whose read FAILS is not migratable and never falls back. */
    bool *no_device_attr;
};

/* source.c: fill src from the request (registry + live reads). Returns 0,
 * 1 when the instance is unknown, -1 on bad input or failure. */
int source_resolve(struct mdevmig *m, const struct mdevmig_request *req, struct source *src,
                   char *err, size_t errlen);
void source_clear(struct source *src);

/* Where on a candidate one of the VM's types can go: the type's parents
 * there at one target version, probed once at the parent with most room
 * (type level), or at an unused device already created (device level)
 * when none has a free instance. The driver answers a probe from the
 * version its type node reports, so parents at the same version answer
 * alike; parents at different versions are separate targets, each
 * probed, and only the room of the targets that accept counts. */
struct candidate_target {
    size_t type_index;               /* in the VM's distinct types */
    char parent[256];                /* type-level target ... */
    char device[INV_UUID_LEN];       /* ... or device-level, when no free instance */
    char digest[VERSION_DIGEST_LEN]; /* the target's version digest ("" when none) */
    int capacity;                    /* free instances plus unused created devices */
};

/* What one candidate offers for one source mdev. */
struct candidate_need {
    size_t type_index; /* of its type, as in candidate_target */
    bool offered;      /* the host has the type at all */
    int capacity;      /* over all its targets */
    bool same_digest;
    bool cached_compatible;
};

struct candidate {
    char *host;
    char *url;
    int64_t last_seen;
    int free_instances;
    struct candidate_need *needs;     /* one per source mdev */
    struct candidate_target *targets; /* those with room, by type then digest */
    size_t target_count;
    enum mdevmig_verdict verdict; /* before probing: NO_TYPE, NO_CAPACITY or NOT_PROBED */
    bool same_digest;
    bool cached_compatible;
    int order; /* filter: position in the given list */
    struct mdevmig_probe *probes;
    size_t probe_count;
    int err;
    char *error;
};

struct candidates {
    struct candidate *items;
    size_t count;
    const char *source; /* "registry" or "placement" (static) */
};

/* candidates.c: every host that could take src, with pre-probe verdicts
 * and ranked best first. For a filter, only the hosts listed (in order). */
int candidates_build(struct mdevmig *m, const struct source *src, const struct mdevmig_request *req,
                     bool filter, struct candidates *out, char *err, size_t errlen);
void candidates_clear(struct candidates *c);

/* One live probe of a wave: write mdev's version into a target on host.
 * The inputs are borrowed; probe is filled in (free with
 * confirm_probe_clear). */
struct confirm_job {
    const char *host;
    const char *url;                 /* the host's collector; NULL: unreachable */
    const struct mdevmig_mdev *mdev; /* type, version and digest written */
    const char *parent;              /* a type-level target ... */
    const char *device;              /* ... or a device-level one ("" or NULL: none) */
    const char *target_digest;       /* the target's digest now, for the cache */
    struct mdevmig_probe probe;
};

/* confirm.c: every job at once, live, in parallel (bounded by the HTTP
 * client); what holds is cached. Returns the number of probes sent, or -1
 * (nothing filled in). */
long confirm_run(struct mdevmig *m, struct confirm_job *jobs, size_t count, char *err,
                 size_t errlen);
void confirm_probe_clear(struct mdevmig_probe *probe);

/* confirm.c: probe candidates [from, to) that are still NOT_PROBED, live,
 * in parallel; set each one's verdict from its probes and cache them.
 * Returns the number of probes sent, or -1. */
long confirm_probe(struct mdevmig *m, const struct source *src, struct candidates *c, size_t from,
                   size_t to, char *err, size_t errlen);

#endif
