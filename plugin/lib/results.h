/*
 * results.h — what select, filter, evacuate and matrix build, as the
 * library's own code sees it. Callers get these as opaque handles (the
 * public header, include/mdevmig/mdevmig.h) and read them as JSON or
 * through the accessors in access.c, so these structs may change freely.
 */
#ifndef MDEVMIG_RESULTS_H
#define MDEVMIG_RESULTS_H

#include "mdevmig/mdevmig.h"

#include <jansson.h>

/* One source mdev, resolved. */
struct mdevmig_mdev {
    char uuid[MDEVMIG_UUID_LEN]; /* "" for a spec */
    char *type;
    char *version; /* NULL when not migratable */
    char digest[MDEVMIG_DIGEST_LEN];
    char *reason; /* why it cannot migrate, or NULL */
};

/* One mdev's probe on one host. */
struct mdevmig_probe {
    enum mdevmig_verdict verdict;
    char *level;  /* "type" or "device" */
    char *target; /* the parent/type or device UUID probed */
    int err;      /* errno the driver refused with, 0 if none */
    char *error;  /* the collector's or transport's text, or NULL */
    long elapsed_us;
    size_t mdev; /* select/filter: the index in the result's mdevs whose version it wrote */
};

struct mdevmig_host {
    char *name;
    char *url;
    enum mdevmig_verdict verdict;
    int err;                /* the errno of the first refusing probe */
    char *error;            /* why, for an operator */
    bool stale;             /* registry data older than stale_after_s */
    bool same_digest;       /* the host already reports the source's version */
    bool cached_compatible; /* a cached verdict ranked it up (never confirms) */
    int free_instances;     /* room for the VM's types: free instances plus unused created mdevs */
    struct mdevmig_probe *probes; /* per source mdev, one per target probed */
    size_t probe_count;
};

struct mdevmig_result {
    char *instance;    /* or NULL */
    char *source_host; /* or NULL for specs */
    bool known;        /* the instance is in the registry */
    bool source_stale; /* source versions came from the registry: collector down */
    bool migratable;   /* every source mdev has a readable version */
    char *reason;      /* why not migratable, or NULL */
    struct mdevmig_mdev *mdevs;
    size_t mdev_count;
    struct mdevmig_host *hosts; /* every host considered, best first */
    size_t host_count;
    char **destinations; /* select: confirmed, best first; filter: passing, in input order */
    size_t destination_count;
    size_t probes_sent;
    long elapsed_us;
    /* Where the candidates came from: "registry" or "placement" (static). */
    const char *candidate_source;
};

/* One VM of the plan. verdict: MDEVMIG_COMPATIBLE when placed (every mdev
 * on destination, each confirmed live); otherwise why not:
 * MDEVMIG_NOT_MIGRATABLE (its own mdevs), NO_CAPACITY (hosts that would
 * take it are full, or were filled by VMs placed before it), INCOMPATIBLE
 * or UNSUPPORTED (the drivers with room refused), UNREACHABLE (their
 * collectors did not answer), NO_TYPE (no host offers its types). */
struct mdevmig_plan_vm {
    char uuid[MDEVMIG_UUID_LEN];
    char *name;
    char *state;
    enum mdevmig_verdict verdict;
    char *destination; /* NULL unless placed */
    char *reason;      /* NULL when placed */
    struct mdevmig_mdev *mdevs;
    char **parents; /* per mdev: the destination parent, when placed */
    size_t mdev_count;
    size_t order;         /* 1-based: most constrained first, the order to migrate in */
    size_t fitting_hosts; /* hosts that could take it on an empty plan, as known at the end */
    /* Why the other hosts did not take it (unplaced VMs; 0 otherwise). */
    size_t hosts_full;        /* too little room before the plan */
    size_t hosts_filled;      /* room taken by VMs placed before it */
    size_t hosts_refused;     /* a driver refused one of its versions */
    size_t hosts_unreachable; /* collector down */
    size_t hosts_no_type;     /* a type it needs is not offered */
};

/* One probe the plan made: one per (source version, host, target version
 * of a type, or device), answering for every VM that shares it. */
struct mdevmig_plan_probe {
    char *host;
    char *type;
    char source_digest[MDEVMIG_DIGEST_LEN];
    struct mdevmig_probe probe;
    size_t wave; /* 1-based */
    size_t vms;  /* VMs of the plan placed on its answer */
};

/* A parent of a destination: its room before the plan and the plan's use. */
struct mdevmig_plan_slot {
    char *parent;
    char *type;
    int free_instances; /* free instances, plus an unused created mdev */
    int planned;
};

/* A host the plan probed or placed VMs on. */
struct mdevmig_plan_target {
    char *name;
    bool stale;       /* registry data older than stale_after_s */
    bool unreachable; /* a probe found its collector down */
    size_t vms;       /* VMs planned onto it */
    struct mdevmig_plan_slot *slots;
    size_t slot_count;
};

struct mdevmig_plan {
    char *host;
    enum mdevmig_policy policy;
    bool source_stale;           /* source versions from the registry: its collector is down */
    struct mdevmig_plan_vm *vms; /* in planning order */
    size_t vm_count;
    size_t placed;
    size_t vms_without_mdevs;            /* VMs on the host with no mdev: nothing to plan */
    struct mdevmig_plan_target *targets; /* by host name */
    size_t target_count;
    size_t candidate_hosts;            /* hosts offering at least one of the types needed */
    struct mdevmig_plan_probe *probes; /* in the order sent */
    size_t probe_count;
    size_t probes_sent; /* HTTP probes (a host without a URL is not sent one) */
    size_t waves;
    long elapsed_us;
};

/* Hosts offering a type with one version (or none readable). */
struct mdevmig_matrix_group {
    char *type;
    char *version; /* NULL: no readable version */
    char digest[MDEVMIG_DIGEST_LEN];
    bool supported; /* the attribute exists */
    int read_errno; /* reading it failed with this */
    char **hosts;   /* by name */
    bool *stale;    /* per host */
    size_t host_count;
    long long free_instances;
};

/* Can group from's version go into group to's driver (same type)? */
struct mdevmig_matrix_cell {
    size_t from, to;              /* indexes into groups */
    enum mdevmig_verdict verdict; /* NOT_MIGRATABLE: from has no version to write */
    int err;
    char *error;
    char *host;   /* the representative of to that answered (or was last tried) */
    char *target; /* parent/type written */
    long elapsed_us;
    size_t attempts; /* representatives tried: another when one is unreachable */
};

struct mdevmig_matrix {
    struct mdevmig_matrix_group *groups; /* by type, then version (natural order) */
    size_t group_count;
    struct mdevmig_matrix_cell *cells; /* by type, from, to */
    size_t cell_count;
    size_t probes_sent;
    long elapsed_us;
};

/* Readiness and rollout answers are built as their JSON documents; the
 * info is what a caller reads without parsing them. */
struct mdevmig_readiness {
    json_t *doc;
    struct mdevmig_readiness_info info;
};

struct mdevmig_rollout {
    json_t *doc;
    struct mdevmig_rollout_info info;
};

#endif
