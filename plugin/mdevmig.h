/*
 * mdevmig.h — the public API of libmdevmig, the scheduler extension: which
 * hosts can take a VM's mediated devices by live migration, each answer
 * confirmed by a real write-probe on that host's driver in the same call.
 *
 * One struct mdevmig per process (thread-safe); results are plain structs
 * the caller frees, or JSON text for services.
 */
#ifndef MDEVMIG_H
#define MDEVMIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MDEVMIG_UUID_LEN   37
#define MDEVMIG_DIGEST_LEN 65

/* A host's answer for the VM (DESIGN.md §3). */
enum mdevmig_verdict {
    MDEVMIG_COMPATIBLE,     /* every mdev's probe was accepted in this call */
    MDEVMIG_INCOMPATIBLE,   /* a driver refused a probe (errno kept) */
    MDEVMIG_NO_TYPE,        /* the host does not offer an mdev's type */
    MDEVMIG_NO_CAPACITY,    /* it offers the types, without room for all mdevs */
    MDEVMIG_UNSUPPORTED,    /* the target has no migration_version attribute */
    MDEVMIG_UNREACHABLE,    /* its collector did not answer in time */
    MDEVMIG_NOT_PROBED,     /* a candidate not needed: enough were confirmed */
    MDEVMIG_SOURCE_HOST,    /* a filter listed the host the VM runs on */
    MDEVMIG_NOT_MIGRATABLE, /* evacuate, matrix: the source side has no readable version */
};

const char *mdevmig_verdict_name(enum mdevmig_verdict verdict);

struct mdevmig_options {
    const char *registry_path; /* the SQLite registry */
    const char *token;         /* cluster bearer token for collectors */
    long connect_timeout_ms;   /* 0: 1000 */
    long timeout_ms;           /* 0: 3000, per probe */
    int max_parallel;          /* 0: 64 probes in flight */
    int64_t stale_after_s;     /* 0: 180; hosts not heard from longer are "stale" */
    size_t full_scan_max;      /* 0: 256; above this many offers, select ranks likely hosts */
    /* Where select finds candidate hosts: NULL or "registry" (every host
     * the registry knows), or "placement" (hosts whose providers carry the
     * VM's version and type traits; the registry still gives their rows,
     * and select falls back to it when Placement fails). */
    const char *candidate_source;
    const char *placement_url;     /* needed for "placement" */
    const char *placement_token;   /* static X-Auth-Token (the value, not a file) */
    const char *keystone_auth_url; /* instead of the token: Keystone v3 password auth */
    const char *keystone_username;
    const char *keystone_password; /* the value; copied, not kept */
    const char *keystone_project;
    const char *keystone_user_domain;    /* NULL: "Default" */
    const char *keystone_project_domain; /* NULL: "Default" */
    /* TLS for every call the library makes (collectors, Placement,
     * Keystone): the CA bundle servers must chain to (NULL: the system's
     * store) and the client certificate and key presented to servers that
     * ask (mutual TLS). */
    const char *ca_file;
    const char *tls_client_cert_file;
    const char *tls_client_key_file; /* NULL: in tls_client_cert_file */
    /* Per-host identity (DESIGN.md §7): probe and read a collector only
     * over https:// and only when its certificate names the host's
     * registry name, whatever host its URL names. */
    bool verify_host_identity;
};

struct mdevmig;

/* NULL with a message (e.g. the registry cannot be opened). */
struct mdevmig *mdevmig_open(const struct mdevmig_options *options, char *err, size_t errlen);
void mdevmig_close(struct mdevmig *m);

/* Replace the cluster token and the TLS client files (a reload): calls
 * already under way finish with the old ones. MDEVMIG_OK, or
 * MDEVMIG_ERR_INPUT with a message when the token is unusable. */
int mdevmig_set_credentials(struct mdevmig *m, const char *token, const char *ca_file,
                            const char *tls_client_cert_file, const char *tls_client_key_file,
                            char *err, size_t errlen);

/* An mdev given by type and version instead of by a device in the registry. */
struct mdevmig_spec {
    const char *type;
    const char *version;
};

/* What to move, and where it may go. Exactly one source form:
 *  - instance: the VM's UUID (its host and mdevs come from the registry,
 *    versions live from the source collector);
 *  - host + devices: mdevs on a host by UUID;
 *  - specs: explicit type + version pairs (no source host). */
struct mdevmig_request {
    const char *instance;
    const char *host;
    const char *const *devices;
    size_t device_count;
    const struct mdevmig_spec *specs;
    size_t spec_count;
    /* filter: the candidate hosts (Nova's list); select: NULL for all. */
    const char *const *candidates;
    size_t candidate_count;
    /* select: how many confirmed destinations are wanted (0: 1). */
    size_t count;
};

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

/* What select and filter return when there is no answer (*out NULL, the
 * message in err): the caller maps these to its own status codes. */
enum mdevmig_status {
    MDEVMIG_OK = 0,
    MDEVMIG_ERR_INTERNAL = -1,  /* registry failure, out of memory */
    MDEVMIG_ERR_INPUT = -2,     /* a malformed request */
    MDEVMIG_ERR_NOT_FOUND = -3, /* an instance, host or device the registry does not know */
};

/* The best request->count destinations, each confirmed by live probes in
 * this call, and the verdict of every host considered. Returns MDEVMIG_OK
 * or an mdevmig_status error with a message. */
int mdevmig_select(struct mdevmig *m, const struct mdevmig_request *request,
                   struct mdevmig_result **out, char *err, size_t errlen);

/* The candidates that can take the VM, in the order given, each confirmed
 * live. An instance the registry does not know (a new boot) passes all. */
int mdevmig_filter(struct mdevmig *m, const struct mdevmig_request *request,
                   struct mdevmig_result **out, char *err, size_t errlen);

/* The result as JSON text (malloc'd), or NULL when out of memory. */
char *mdevmig_result_json(const struct mdevmig_result *result);

void mdevmig_result_free(struct mdevmig_result *result);

/* ---- long calls ------------------------------------------------------ */

/* How far an evacuation plan or a matrix has come, for a progress bar. It
 * is reported from the calling thread before the first and after every
 * wave of probes (a wave runs in parallel and is not split up). */
struct mdevmig_progress {
    const char *phase;      /* "source", "probing", "done" (static) */
    size_t wave;            /* waves of probes started so far */
    size_t probes_sent;     /* so far, this wave included */
    size_t probes_answered; /* of probes_sent */
    size_t items;           /* VMs to place, or matrix cells */
    size_t items_done;      /* VMs placed in the current draft, or cells answered */
};

typedef void (*mdevmig_progress_fn)(void *ctx, const struct mdevmig_progress *progress);

/* ---- evacuation (evacuate.c) ------------------------------------------ */

/* How a plan fills the destinations. */
enum mdevmig_policy {
    MDEVMIG_POLICY_SPREAD, /* each VM to the host with the most room for it */
    MDEVMIG_POLICY_PACK,   /* each VM to the host with the least room that still fits it */
};

const char *mdevmig_policy_name(enum mdevmig_policy policy);
/* 0 and *out set for "spread" or "pack", -1 otherwise. */
int mdevmig_policy_parse(const char *name, enum mdevmig_policy *out);

struct mdevmig_evacuation {
    const char *host; /* every VM with mdevs on it gets a destination or a reason */
    enum mdevmig_policy policy;
    mdevmig_progress_fn progress; /* may be NULL */
    void *progress_ctx;
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

/* A plan to move every VM with mdevs off a host: a destination for each
 * (all of its mdevs on one host, confirmed by live probes made in this
 * call) or the reason there is none. Capacity is spent as VMs are placed,
 * the most constrained first; the same cluster gives the same plan.
 * Returns MDEVMIG_OK, or an mdevmig_status error (NOT_FOUND: the host is
 * not in the registry). */
int mdevmig_evacuate(struct mdevmig *m, const struct mdevmig_evacuation *request,
                     struct mdevmig_plan **out, char *err, size_t errlen);

/* The plan as JSON text (malloc'd), or NULL when out of memory. */
char *mdevmig_plan_json(const struct mdevmig_plan *plan);

void mdevmig_plan_free(struct mdevmig_plan *plan);

/* ---- compatibility matrix (matrix.c) ----------------------------------- */

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

/* Group hosts by (type, version) and probe one live representative of each
 * group with each group's version (the same type only). type: one type, or
 * NULL for all. NOT_FOUND when no host offers type. */
int mdevmig_matrix(struct mdevmig *m, const char *type, mdevmig_progress_fn progress,
                   void *progress_ctx, struct mdevmig_matrix **out, char *err, size_t errlen);

char *mdevmig_matrix_json(const struct mdevmig_matrix *matrix);

void mdevmig_matrix_free(struct mdevmig_matrix *matrix);

#endif
