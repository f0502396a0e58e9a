/*
 * mdevmig/mdevmig.h — the public API of libmdevmig, the scheduler
 * extension: which hosts can take a VM's mediated devices by live
 * migration, each answer confirmed by a real write-probe on that host's
 * driver in the same call; evacuation plans; the version matrix; and the
 * registry the collectors publish into.
 *
 * ABI rules (libmdevmig.so.0): only mdevmig_* is exported. Structs the
 * caller fills (options, requests) and the info structs the library fills
 * start with their size: set .size = sizeof(struct ...) (the *_INIT
 * macros do), and the library reads or writes no field past it, so a
 * field appended in a later version breaks no caller. Fields are only
 * ever appended. Results (select/filter, plans, matrices) are opaque:
 * read them as JSON or through the accessors. One struct mdevmig per
 * process is thread-safe.
 */
#ifndef MDEVMIG_MDEVMIG_H
#define MDEVMIG_MDEVMIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; these are its exports. */
#if defined(__GNUC__)
#define MDEVMIG_API __attribute__((visibility("default")))
#else
#define MDEVMIG_API
#endif

/* The version of this header; mdevmig_version() is the library's. CMake
 * reads the project version from these three lines. */
#define MDEVMIG_VERSION_MAJOR 0
#define MDEVMIG_VERSION_MINOR 1
#define MDEVMIG_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the library loaded at run time. */
MDEVMIG_API const char *mdevmig_version(void);

#define MDEVMIG_UUID_LEN   37
#define MDEVMIG_DIGEST_LEN 65

/* A host's answer for the VM (DESIGN.md §3). Values are stable; new ones
 * are only appended. */
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

/* The wire name ("compatible", "no-type", ...). */
MDEVMIG_API const char *mdevmig_verdict_name(enum mdevmig_verdict verdict);

/* What calls return when there is no answer (the message in err). */
enum mdevmig_status {
    MDEVMIG_OK = 0,
    MDEVMIG_ERR_INTERNAL = -1,  /* registry failure, out of memory */
    MDEVMIG_ERR_INPUT = -2,     /* a malformed request */
    MDEVMIG_ERR_NOT_FOUND = -3, /* an instance, host or device the registry does not know */
    MDEVMIG_ERR_FORBIDDEN = -4, /* ingest: the inventory names another host than the one given */
    MDEVMIG_ERR_CONFLICT = -5,  /* heartbeat: the registry holds another generation, or none */
};

/* ---- the handle ------------------------------------------------------- */

struct mdevmig_options {
    size_t size;               /* sizeof(struct mdevmig_options) */
    const char *registry_path; /* the SQLite registry (created 0600 when missing) */
    const char *token;         /* cluster bearer token for collectors; NULL: no probes */
    long connect_timeout_ms;   /* 0: 1000 */
    long timeout_ms;           /* 0: 3000, per probe */
    int max_parallel;          /* 0: 64 probes in flight */
    int64_t stale_after_s;     /* 0: 180; hosts not heard from longer are "stale" */
    size_t full_scan_max;      /* 0: 256; above this many offers, select ranks likely hosts
                                  and filter reads only its listed hosts' */
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

#define MDEVMIG_OPTIONS_INIT                                                                       \
    {                                                                                              \
        .size = sizeof(struct mdevmig_options)                                                     \
    }

struct mdevmig;

/* For a process that serves from the registry for a long time (the
 * sched): SQLite's page cache in one block of its own, so that pages read
 * during a fleet-wide answer do not keep that answer's freed memory
 * resident; and SQLite's memory statistics off (sqlite3_memory_used()
 * and the like), which cost every SQLite allocation a process-wide
 * mutex. Process-wide: call it before anything in the process uses
 * SQLite; a second call does nothing. MDEVMIG_OK, or MDEVMIG_ERR_INTERNAL
 * with a message (SQLite already in use, no memory): the process works
 * as before, with the cache in malloc's heaps. */
MDEVMIG_API int mdevmig_reserve_page_cache(char *err, size_t errlen);

/* NULL with a message (e.g. the registry cannot be opened). */
MDEVMIG_API struct mdevmig *mdevmig_open(const struct mdevmig_options *options, char *err,
                                         size_t errlen);
MDEVMIG_API void mdevmig_close(struct mdevmig *m);

/* Replace the cluster token and the TLS client files (a reload): calls
 * already under way finish with the old ones. MDEVMIG_OK, or
 * MDEVMIG_ERR_INPUT with a message when the token is unusable. */
MDEVMIG_API int mdevmig_set_credentials(struct mdevmig *m, const char *token, const char *ca_file,
                                        const char *tls_client_cert_file,
                                        const char *tls_client_key_file, char *err, size_t errlen);

/* The registry's integrity (SQLite's quick_check): MDEVMIG_OK, or
 * MDEVMIG_ERR_INTERNAL naming the damage. A service runs it at start. */
MDEVMIG_API int mdevmig_check(struct mdevmig *m, char *err, size_t errlen);

/* MDEVMIG_OK while the registry answers; MDEVMIG_ERR_INTERNAL with the
 * last failure while the latest registry access failed (a full disk, a
 * damaged page), until one succeeds again. For a health endpoint. */
MDEVMIG_API int mdevmig_health(struct mdevmig *m, char *err, size_t errlen);

/* ---- the registry ------------------------------------------------------ */

/* The one rule for host names, wherever one arrives: RFC 1123 labels,
 * at most 253 bytes. False with why filled (why may be NULL). */
MDEVMIG_API bool mdevmig_host_name_valid(const char *name, char *why, size_t whylen);
/* That rule in words, for error messages ("a host name: ..."). */
MDEVMIG_API const char *mdevmig_host_name_rule(void);
/* A UUID in the canonical 8-4-4-4-12 hex form (instances, devices). */
MDEVMIG_API bool mdevmig_uuid_valid(const char *s);

/* A collector's snapshot (the inventory JSON of DESIGN.md §4, body of
 * POST /v1/hosts/{host}/inventory) for host. A snapshot older than the
 * one held is ignored (*applied false). MDEVMIG_OK; ERR_INPUT when body
 * is not a valid inventory; ERR_FORBIDDEN when it is another host's;
 * ERR_INTERNAL when the registry fails. generation/applied may be NULL. */
MDEVMIG_API int mdevmig_ingest(struct mdevmig *m, const char *host, const char *body,
                               size_t body_len, int64_t *generation, bool *applied, char *err,
                               size_t errlen);

/* The registry's inventory as JSON text (malloc'd) in *out: host NULL
 * gives {"hosts": [entry...]}, a host name that host's entry alone:
 * {"host", "last_seen", "age_s", "stale", "inventory"}. ERR_NOT_FOUND
 * when the host is not in the registry. */
MDEVMIG_API int mdevmig_inventory_json(struct mdevmig *m, const char *host, char **out, char *err,
                                       size_t errlen);

/* How many hosts the registry holds, and how many of them are stale. */
MDEVMIG_API int mdevmig_host_counts(struct mdevmig *m, size_t *hosts, size_t *stale, char *err,
                                    size_t errlen);

/* ---- select and filter ------------------------------------------------- */

/* An mdev given by type and version instead of by a device in the
 * registry. Frozen: it is passed as an array. */
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
    size_t size; /* sizeof(struct mdevmig_request) */
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

#define MDEVMIG_REQUEST_INIT                                                                       \
    {                                                                                              \
        .size = sizeof(struct mdevmig_request)                                                     \
    }

struct mdevmig_result;

/* The best request->count destinations, each confirmed by live probes in
 * this call, and the verdict of every host considered. Returns MDEVMIG_OK
 * or an mdevmig_status error with a message. */
MDEVMIG_API int mdevmig_select(struct mdevmig *m, const struct mdevmig_request *request,
                               struct mdevmig_result **out, char *err, size_t errlen);

/* The candidates that can take the VM, in the order given, each confirmed
 * live. An instance the registry does not know (a new boot) passes all. */
MDEVMIG_API int mdevmig_filter(struct mdevmig *m, const struct mdevmig_request *request,
                               struct mdevmig_result **out, char *err, size_t errlen);

/* The result as JSON text (malloc'd; the sched's answer), or NULL when
 * out of memory. */
MDEVMIG_API char *mdevmig_result_json(const struct mdevmig_result *result);

MDEVMIG_API void mdevmig_result_free(struct mdevmig_result *result);

/* Accessors. Strings are borrowed from the result. Each *_info call
 * returns MDEVMIG_OK, or MDEVMIG_ERR_INPUT for an index out of range or a
 * size too small. */
struct mdevmig_result_info {
    size_t size;
    const char *instance;    /* or NULL */
    const char *source_host; /* or NULL for specs */
    bool known;              /* the instance is in the registry */
    bool source_stale;       /* source versions came from the registry: collector down */
    bool migratable;         /* every source mdev has a readable version */
    const char *reason;      /* why not migratable, or NULL */
    size_t mdev_count;
    size_t host_count;        /* every host considered */
    size_t destination_count; /* select: confirmed; filter: passing */
    size_t probes_sent;
    long elapsed_us;
    const char *candidate_source; /* "registry" or "placement" */
};

MDEVMIG_API int mdevmig_result_info(const struct mdevmig_result *result,
                                    struct mdevmig_result_info *info);

/* Destination i: select, best first; filter, in the order given. */
MDEVMIG_API const char *mdevmig_result_destination(const struct mdevmig_result *result, size_t i);

struct mdevmig_mdev_info {
    size_t size;
    const char *uuid; /* "" for a spec */
    const char *type;
    const char *version; /* NULL when not migratable */
    const char *digest;
    const char *reason; /* why it cannot migrate, or NULL */
};

MDEVMIG_API int mdevmig_result_mdev(const struct mdevmig_result *result, size_t i,
                                    struct mdevmig_mdev_info *info);

struct mdevmig_host_info {
    size_t size;
    const char *name;
    const char *url;
    enum mdevmig_verdict verdict;
    int err;                /* the errno of the refusal that decided, 0 if none */
    const char *error;      /* why, for an operator, or NULL */
    bool stale;             /* registry data older than stale_after_s */
    bool same_digest;       /* the host already reports the source's version */
    bool cached_compatible; /* a cached verdict ranked it up (never confirms) */
    int free_instances;     /* room for the VM's types */
    size_t probe_count;
};

/* Host i, best first (filter: in the order given). */
MDEVMIG_API int mdevmig_result_host(const struct mdevmig_result *result, size_t i,
                                    struct mdevmig_host_info *info);

/* One live write-probe. */
struct mdevmig_probe_info {
    size_t size;
    enum mdevmig_verdict verdict;
    const char *level;  /* "type" or "device" */
    const char *target; /* the parent/type or device UUID probed */
    int err;            /* errno the driver refused with, 0 if none */
    const char *error;  /* the collector's or transport's text, or NULL */
    long elapsed_us;
    size_t mdev;      /* select/filter: the index of the mdev whose version it wrote */
    const char *host; /* evacuate: the host probed (select/filter: NULL, see the host) */
    const char *type; /* evacuate: the type probed */
};

/* Probe i of host h. */
MDEVMIG_API int mdevmig_result_probe(const struct mdevmig_result *result, size_t h, size_t i,
                                     struct mdevmig_probe_info *info);

/* ---- long calls -------------------------------------------------------- */

/* How far an evacuation plan or a matrix has come, for a progress bar. It
 * is reported from the calling thread before the first and after every
 * wave of probes. The library fills it and the callback only reads it:
 * fields are only appended. */
struct mdevmig_progress {
    const char *phase;      /* "source", "probing", "done" (static) */
    size_t wave;            /* waves of probes started so far */
    size_t probes_sent;     /* so far, this wave included */
    size_t probes_answered; /* of probes_sent */
    size_t items;           /* VMs to place, or matrix cells */
    size_t items_done;      /* VMs placed in the current draft, or cells answered */
};

typedef void (*mdevmig_progress_fn)(void *ctx, const struct mdevmig_progress *progress);

/* ---- evacuation -------------------------------------------------------- */

/* How a plan fills the destinations. */
enum mdevmig_policy {
    MDEVMIG_POLICY_SPREAD, /* each VM to the host with the most room for it */
    MDEVMIG_POLICY_PACK,   /* each VM to the host with the least room that still fits it */
};

MDEVMIG_API const char *mdevmig_policy_name(enum mdevmig_policy policy);
/* 0 and *out set for "spread" or "pack", -1 otherwise. */
MDEVMIG_API int mdevmig_policy_parse(const char *name, enum mdevmig_policy *out);

struct mdevmig_evacuation {
    size_t size;      /* sizeof(struct mdevmig_evacuation) */
    const char *host; /* every VM with mdevs on it gets a destination or a reason */
    enum mdevmig_policy policy;
    mdevmig_progress_fn progress; /* may be NULL */
    void *progress_ctx;
};

#define MDEVMIG_EVACUATION_INIT                                                                    \
    {                                                                                              \
        .size = sizeof(struct mdevmig_evacuation)                                                  \
    }

struct mdevmig_plan;

/* A plan to move every VM with mdevs off a host: a destination for each
 * (all of its mdevs on one host, confirmed by live probes made in this
 * call) or the reason there is none. Capacity is spent as VMs are placed,
 * the most constrained first; the same cluster gives the same plan.
 * Returns MDEVMIG_OK, or an mdevmig_status error (NOT_FOUND: the host is
 * not in the registry). */
MDEVMIG_API int mdevmig_evacuate(struct mdevmig *m, const struct mdevmig_evacuation *request,
                                 struct mdevmig_plan **out, char *err, size_t errlen);

/* The plan as JSON text (malloc'd), or NULL when out of memory. */
MDEVMIG_API char *mdevmig_plan_json(const struct mdevmig_plan *plan);

MDEVMIG_API void mdevmig_plan_free(struct mdevmig_plan *plan);

struct mdevmig_plan_info {
    size_t size;
    const char *host;
    enum mdevmig_policy policy;
    bool source_stale; /* source versions from the registry: its collector is down */
    size_t vm_count;
    size_t placed;
    size_t vms_without_mdevs;
    size_t target_count;
    size_t candidate_hosts;
    size_t probe_count;
    size_t probes_sent;
    size_t waves;
    long elapsed_us;
};

MDEVMIG_API int mdevmig_plan_info(const struct mdevmig_plan *plan, struct mdevmig_plan_info *info);

/* One VM of the plan, in planning order. verdict: MDEVMIG_COMPATIBLE when
 * placed; otherwise why not. */
struct mdevmig_plan_vm_info {
    size_t size;
    const char *uuid;
    const char *name;
    const char *state;
    enum mdevmig_verdict verdict;
    const char *destination; /* NULL unless placed */
    const char *reason;      /* NULL when placed */
    size_t mdev_count;
    size_t order;         /* 1-based: the order to migrate in */
    size_t fitting_hosts; /* hosts that could take it on an empty plan */
};

MDEVMIG_API int mdevmig_plan_vm(const struct mdevmig_plan *plan, size_t i,
                                struct mdevmig_plan_vm_info *info);

/* Probe i of the plan: one per (source version, host, target version of a
 * type, or device); host and type are set. */
MDEVMIG_API int mdevmig_plan_probe(const struct mdevmig_plan *plan, size_t i,
                                   struct mdevmig_probe_info *info);

/* ---- compatibility matrix ---------------------------------------------- */

struct mdevmig_matrix;

/* Group hosts by (type, version) and probe one live representative of each
 * group with each group's version (the same type only). type: one type, or
 * NULL for all. NOT_FOUND when no host offers type. */
MDEVMIG_API int mdevmig_matrix(struct mdevmig *m, const char *type, mdevmig_progress_fn progress,
                               void *progress_ctx, struct mdevmig_matrix **out, char *err,
                               size_t errlen);

MDEVMIG_API char *mdevmig_matrix_json(const struct mdevmig_matrix *matrix);

MDEVMIG_API void mdevmig_matrix_free(struct mdevmig_matrix *matrix);

struct mdevmig_matrix_info {
    size_t size;
    size_t group_count;
    size_t cell_count;
    size_t probes_sent;
    long elapsed_us;
};

MDEVMIG_API int mdevmig_matrix_info(const struct mdevmig_matrix *matrix,
                                    struct mdevmig_matrix_info *info);

/* Can group from's version go into group to's driver (same type)? */
struct mdevmig_matrix_cell_info {
    size_t size;
    size_t from, to;              /* group indexes */
    enum mdevmig_verdict verdict; /* NOT_MIGRATABLE: from has no version to write */
    int err;
    const char *error;
    const char *host;   /* the representative of to that answered (or was last tried) */
    const char *target; /* parent/type written */
    long elapsed_us;
    size_t attempts; /* representatives tried: another when one is unreachable */
};

MDEVMIG_API int mdevmig_matrix_cell(const struct mdevmig_matrix *matrix, size_t i,
                                    struct mdevmig_matrix_cell_info *info);

/* ---- readiness and rollout ---------------------------------------------- */

struct mdevmig_readiness_request {
    size_t size;              /* sizeof(struct mdevmig_readiness_request) */
    const char *const *hosts; /* only the VMs on these hosts; NULL/0: every host */
    size_t host_count;
    bool stranded_only;           /* list only VMs without a destination (counts cover all) */
    size_t max_parallel;          /* probes at a time; 0: the HTTP client's bound */
    mdevmig_progress_fn progress; /* may be NULL */
    void *progress_ctx;
};

#define MDEVMIG_READINESS_INIT                                                                     \
    {                                                                                              \
        .size = sizeof(struct mdevmig_readiness_request)                                           \
    }

struct mdevmig_readiness;

/* For every VM with mdevs (on the hosts given), how many other hosts could
 * take all of its mdevs now: with room, and confirmed by a live probe of
 * its version, one probe per (source version, host, type target) shared
 * by every VM that needs it; the best one, or why there is none
 * (docs/READINESS.md). NOT_FOUND: a host given is not in the registry. */
MDEVMIG_API int mdevmig_readiness(struct mdevmig *m,
                                  const struct mdevmig_readiness_request *request,
                                  struct mdevmig_readiness **out, char *err, size_t errlen);

MDEVMIG_API char *mdevmig_readiness_json(const struct mdevmig_readiness *readiness);

MDEVMIG_API void mdevmig_readiness_free(struct mdevmig_readiness *readiness);

struct mdevmig_readiness_info {
    size_t size;
    size_t vm_count; /* VMs with mdevs considered */
    size_t vms_without_mdevs;
    size_t stranded; /* no destination */
    size_t single;   /* exactly one */
    size_t ready;    /* two or more */
    size_t source_hosts;
    size_t candidate_hosts;
    size_t unreachable_hosts;
    size_t triples; /* distinct (source version, host, type target) needed */
    size_t probes_sent;
    size_t waves;
    long elapsed_us;
};

MDEVMIG_API int mdevmig_readiness_info(const struct mdevmig_readiness *readiness,
                                       struct mdevmig_readiness_info *info);

struct mdevmig_rollout_request {
    size_t size;              /* sizeof(struct mdevmig_rollout_request) */
    const char *like;         /* the reference host: its driver is what the hosts get */
    const char *const *hosts; /* the hosts to upgrade, in the order an operator would */
    size_t host_count;
    size_t max_down;              /* hosts per wave; 0: 1 */
    bool what_if;                 /* no waves: the VMs stranded once all hosts run like's driver */
    size_t max_parallel;          /* probes at a time; 0: the HTTP client's bound */
    mdevmig_progress_fn progress; /* may be NULL */
    void *progress_ctx;
};

#define MDEVMIG_ROLLOUT_INIT                                                                       \
    {                                                                                              \
        .size = sizeof(struct mdevmig_rollout_request)                                             \
    }

struct mdevmig_rollout;

/* A driver rollout in waves of at most max_down hosts, each wave's VMs
 * moved first to destinations that accept them (live probes, or the
 * reference's driver for hosts upgraded earlier), capacity spent across
 * waves, in the host order that strands the fewest; or, what_if, the VMs
 * whose destinations drop to none (docs/READINESS.md). NOT_FOUND: like or
 * a host is not in the registry. */
MDEVMIG_API int mdevmig_rollout(struct mdevmig *m, const struct mdevmig_rollout_request *request,
                                struct mdevmig_rollout **out, char *err, size_t errlen);

MDEVMIG_API char *mdevmig_rollout_json(const struct mdevmig_rollout *rollout);

MDEVMIG_API void mdevmig_rollout_free(struct mdevmig_rollout *rollout);

struct mdevmig_rollout_info {
    size_t size;
    bool what_if;
    size_t wave_count;
    size_t vm_count; /* what_if: VMs considered; else VMs on the hosts to upgrade */
    size_t moves;
    size_t stranded; /* what_if: VMs whose destinations drop to none */
    size_t given_order_stranded;
    size_t triples;
    size_t probes_sent;
    long elapsed_us;
};

MDEVMIG_API int mdevmig_rollout_info(const struct mdevmig_rollout *rollout,
                                     struct mdevmig_rollout_info *info);

/* ---- heartbeats and ingest counters ----------------------------------- */

/* A collector's heartbeat (body of POST /v1/hosts/{host}/heartbeat:
 * {"generation": N}): its inventory is still generation N. MDEVMIG_OK
 * (*touched true) when the registry holds exactly N of host: only its
 * last_seen moves, kept in memory and written to the registry in batches
 * (every reader the library answers sees it). MDEVMIG_ERR_CONFLICT when
 * it holds another generation (*generation) or none (*generation -1):
 * the collector must send its full inventory (mdevmig_ingest).
 * ERR_INPUT for a malformed body; ERR_INTERNAL when the registry fails.
 * generation/touched may be NULL. */
MDEVMIG_API int mdevmig_heartbeat(struct mdevmig *m, const char *host, const char *body,
                                  size_t body_len, int64_t *generation, bool *touched, char *err,
                                  size_t errlen);

/* What ingest and heartbeats have done since mdevmig_open, for metrics. */
struct mdevmig_ingest_stats {
    size_t size;                  /* sizeof(struct mdevmig_ingest_stats) */
    uint64_t snapshots_written;   /* snapshots that rewrote a host's rows */
    uint64_t snapshots_unchanged; /* at the generation held: last_seen only */
    uint64_t snapshots_ignored;   /* older than the generation held */
    uint64_t snapshots_failed;    /* the registry failed them */
    uint64_t snapshot_batches;    /* write transactions the snapshots took */
    uint64_t heartbeats_touched;  /* at the generation held */
    uint64_t heartbeats_conflict; /* another generation or an unknown host */
    uint64_t touch_flushes;       /* transactions writing heartbeats' last_seen */
    uint64_t checkpoints;         /* WAL checkpoints done in the background */
    uint64_t checkpoint_failures; /* ... that failed (the WAL grows until one works) */
};

#define MDEVMIG_INGEST_STATS_INIT                                                                  \
    {                                                                                              \
        .size = sizeof(struct mdevmig_ingest_stats)                                                \
    }

/* MDEVMIG_OK, or ERR_INPUT when out->size is not set. */
MDEVMIG_API int mdevmig_ingest_stats(struct mdevmig *m, struct mdevmig_ingest_stats *out);

#ifdef __cplusplus
}
#endif

#endif
