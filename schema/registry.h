/*
 * registry — the embedded store of every host's inventory (DESIGN.md §3):
 * one SQLite file in WAL mode that collectors publish into and schedulers,
 * the sched service and the CLI read from, several processes at once. It
 * holds each host's latest snapshot, replaced whole and never by an older
 * generation, and the cache of probe verdicts, which a change of the
 * target's digest voids.
 *
 * A struct registry is one connection with its prepared statements: use
 * it from one thread at a time (open one per thread). Every function that
 * can fail returns -1 with a message for the operator in err; results are
 * owned by the caller and released with the matching _free function.
 */
#ifndef MDEVMIG_REGISTRY_H
#define MDEVMIG_REGISTRY_H

#include "inventory.h"
#include "verdict.h"
#include "version.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct registry;

/* Opens the registry file at path, creating it mode 0600 when missing (its
 * -wal and -shm files follow the database's mode), and brings its schema
 * up to date. Refuses a file of a newer mdevmig and a file that is not a
 * registry. *out is NULL on failure. */
int registry_open(const char *path, struct registry **out, char *err, size_t errlen);
void registry_close(struct registry *reg);

/* PRAGMA quick_check: 0 when the file is sound, -1 with the first damage
 * SQLite reports (a service refuses to start on a damaged registry rather
 * than answer 500 to every request). */
int registry_check(struct registry *reg, char *err, size_t errlen);

/* Gives SQLite a page cache of its own block (registry_memory.c), and
 * turns its memory statistics (a mutex per allocation) off, for the whole
 * process: call it before anything in the process uses SQLite. A second
 * call does nothing. */
int registry_reserve_page_cache(char *err, size_t errlen);

/* A thread that checkpoints the registry's WAL in the background
 * (registry_checkpoint.c), so that no commit stalls on copying pages back
 * into the file. *out stays NULL for an in-memory registry. Stop it
 * before registry_close(), with nothing else using the registry. */
struct registry_checkpointer;
int registry_checkpointer_start(struct registry *reg, struct registry_checkpointer **out, char *err,
                                size_t errlen);
void registry_checkpointer_stop(struct registry_checkpointer *c);
/* Checkpoints done, and failed, since the start (0 for NULL). */
void registry_checkpointer_counts(const struct registry_checkpointer *c, uint64_t *runs,
                                  uint64_t *failures);

/* ---- snapshots ---------------------------------------------------------- */

/* Stores inv as the whole state of inv->host, in one transaction; now
 * (unix seconds) becomes the host's last_seen. Returns 0 when applied, 1
 * when ignored because the registry holds a newer generation, -1 on error
 * (nothing changed). An equal generation is a heartbeat: only last_seen
 * is refreshed. */
int registry_replace_host(struct registry *reg, const struct inventory *inv, int64_t now, char *err,
                          size_t errlen);

/* Heartbeat without a snapshot: 0 when done, 1 when the host is unknown. */
int registry_touch_host(struct registry *reg, const char *host, int64_t now, char *err,
                        size_t errlen);

/* A heartbeat at a generation: last_seen moves (never back) only when the
 * registry holds exactly that generation of host. 0 when touched; 1 when
 * it holds another one or none, *held (may be NULL) then that generation,
 * or -1 when the host is unknown: the caller sends its full snapshot. */
int registry_touch_host_at(struct registry *reg, const char *host, int64_t generation, int64_t now,
                           int64_t *held, char *err, size_t errlen);

/* The generation held for host: 0 with *generation set, 1 when unknown. */
int registry_host_generation(struct registry *reg, const char *host, int64_t *generation, char *err,
                             size_t errlen);

/* Heartbeats gathered in memory, written in one transaction: each known
 * host's last_seen becomes last_seen unless it is already later; unknown
 * hosts are skipped. 0, or -1 (nothing written). */
struct registry_touch {
    const char *host; /* borrowed */
    int64_t last_seen;
};

int registry_touch_hosts(struct registry *reg, const struct registry_touch *touches, size_t count,
                         char *err, size_t errlen);

/* Group commit: several hosts' snapshots in ONE write transaction, each
 * with registry_replace_host()'s rules (an older generation never
 * overwrites a newer one, an equal one only refreshes last_seen), in the
 * order given, so two snapshots of one host in a batch leave the newer.
 * Each item gets its own outcome; one that fails is undone alone. */
enum registry_replace_outcome {
    REGISTRY_REPLACE_WRITTEN, /* the snapshot replaced the host's rows */
    REGISTRY_REPLACE_TOUCHED, /* the same generation was held: last_seen only */
    REGISTRY_REPLACE_IGNORED, /* a newer generation was held: nothing changed */
    REGISTRY_REPLACE_FAILED,  /* err says why; nothing of it changed */
};

struct registry_replace {
    const struct inventory *inv; /* borrowed */
    int64_t now;                 /* unix s: the host's last_seen */
    enum registry_replace_outcome outcome;
    char err[512];
};

/* 0 when the transaction committed (each item's outcome set), -1 when it
 * did not (every item FAILED with the reason, which is also in err). */
int registry_replace_hosts(struct registry *reg, struct registry_replace *items, size_t count,
                           char *err, size_t errlen);

/* registry_replace_hosts in its steps, for a batch that grows while it is
 * written (the sched's group commit takes in snapshots that arrive
 * meanwhile): begin, add each item, commit. add gives the item its
 * outcome (one that fails is undone alone) and is -1 only when the
 * transaction itself is gone; then, or when commit fails, nothing of the
 * batch was kept and the caller marks every item it added as failed.
 * After an add's -1, abort. */
int registry_replace_begin(struct registry *reg, char *err, size_t errlen);
int registry_replace_add(struct registry *reg, struct registry_replace *item, char *err,
                         size_t errlen);
int registry_replace_commit(struct registry *reg, char *err, size_t errlen);
void registry_replace_abort(struct registry *reg);

/* Removes a host with everything it had, its cached probe verdicts
 * included (a decommissioned host). 0 when done, 1 when unknown. */
int registry_forget_host(struct registry *reg, const char *host, char *err, size_t errlen);

/* ---- hosts -------------------------------------------------------------- */

struct registry_host {
    char *name;
    char *collector_url; /* NULL when the collector advertised none */
    int64_t generation;
    int64_t last_seen;  /* unix s of the last snapshot or heartbeat */
    int64_t scanned_at; /* unix s the snapshot was taken */
};

struct registry_hosts {
    struct registry_host *items; /* by name */
    size_t count;
};

int registry_list_hosts(struct registry *reg, struct registry_hosts *out, char *err, size_t errlen);
void registry_hosts_free(struct registry_hosts *hosts);

/* The stored snapshot of host, as it was published (last_seen aside), in
 * one consistent read. 0 when found, 1 when the host is unknown (out left
 * empty); free with inventory_free(). */
int registry_load_host(struct registry *reg, const char *host, struct inventory *out, char *err,
                       size_t errlen);

/* ---- candidates --------------------------------------------------------- */

/* One type on one parent of one host. */
struct registry_offer {
    char *host;
    char *collector_url; /* NULL when none was advertised */
    int64_t last_seen;
    char *parent;
    char *type_id;
    int available_instances;          /* -1: could not be read */
    char digest[VERSION_DIGEST_LEN];  /* "" when the type has no readable version */
    char unused_device[INV_UUID_LEN]; /* a created mdev of this type no VM uses, or "" */
};

struct registry_offers {
    struct registry_offer *items;
    size_t count;
};

/* Parents offering type_id with available_instances > 0: most room first,
 * then by host and parent. */
int registry_offers_by_type(struct registry *reg, const char *type_id, struct registry_offers *out,
                            char *err, size_t errlen);

/* Every parent offering type_id, full or not (the scheduler reports the
 * full ones as no-capacity), by host and parent. */
int registry_offers_all_by_type(struct registry *reg, const char *type_id,
                                struct registry_offers *out, char *err, size_t errlen);

/* The limit parents of type_id with the most free instances (ties by host
 * and parent): a bounded look at a very large registry. */
int registry_offers_top_by_type(struct registry *reg, const char *type_id, size_t limit,
                                struct registry_offers *out, char *err, size_t errlen);

/* Every parent of host offering type_id, full or not. */
int registry_offers_on_host(struct registry *reg, const char *type_id, const char *host,
                            struct registry_offers *out, char *err, size_t errlen);

/* How many parents, on all hosts, offer type_id, counting no further than
 * cap (ask cap = N + 1 to learn whether there are more than N). */
int registry_offers_count(struct registry *reg, const char *type_id, size_t cap, size_t *count,
                          char *err, size_t errlen);

/* Parents whose type has exactly this version (digest), free or not: these
 * need no probe type-wise. By host and parent. */
int registry_offers_by_digest(struct registry *reg, const char *digest, struct registry_offers *out,
                              char *err, size_t errlen);

void registry_offers_free(struct registry_offers *offers);

/* ---- versions ----------------------------------------------------------- */

/* One type on one parent of one host with its migration_version as stored:
 * the rows `mdevmig matrix` groups into (type, version) groups. */
struct registry_version_row {
    char *type_id;
    char *host;
    char *parent;
    char *collector_url; /* NULL when none was advertised */
    int64_t last_seen;
    int available_instances; /* -1: could not be read */
    struct inv_migration migration;
};

struct registry_version_rows {
    struct registry_version_row *items;
    size_t count;
};

/* Every (host, parent, type) of type_id (NULL: of every type), by type,
 * digest (rows without a version last), host and parent, in one read. */
int registry_versions(struct registry *reg, const char *type_id, struct registry_version_rows *out,
                      char *err, size_t errlen);
void registry_version_rows_free(struct registry_version_rows *rows);

/* ---- instances ---------------------------------------------------------- */

/* An mdev a VM uses, as its host reports it. */
struct registry_mdev {
    char uuid[INV_UUID_LEN];
    bool present; /* false: the VM names it but the host has no such device */
    char *parent; /* NULL unless present */
    char *type_id;
    struct inv_migration migration; /* all zero unless present */
};

/* An instance as one host reports it. */
struct registry_placement {
    char *host;
    char *collector_url; /* NULL when none was advertised */
    int64_t last_seen;
    char *name;
    char *state;
    struct registry_mdev *mdevs; /* in the domain's order */
    size_t mdev_count;
};

/* During a live migration both hosts list the VM, so an instance may have
 * more than one placement: the running one comes first, then the most
 * recently seen. */
struct registry_instance {
    char uuid[INV_UUID_LEN];
    struct registry_placement *placements;
    size_t placement_count;
};

/* 0 when found (placement_count >= 1), 1 when no host reports uuid. */
int registry_instance_get(struct registry *reg, const char *uuid, struct registry_instance *out,
                          char *err, size_t errlen);
void registry_instance_free(struct registry_instance *instance);

/* A read transaction: the reads until registry_read_end see one snapshot
 * and take the file's read lock once instead of once each, which is most
 * of a point lookup's cost. Not inside another transaction. */
int registry_read_begin(struct registry *reg, char *err, size_t errlen);
void registry_read_end(struct registry *reg);

/* ---- probe cache -------------------------------------------------------- */

enum registry_level {
    REGISTRY_LEVEL_TYPE,   /* against a type's migration_version */
    REGISTRY_LEVEL_DEVICE, /* against a device's migration_version */
};

/* Only verdicts a real probe gives, and that hold until a digest changes,
 * are cached: not an unreachable host, not a lack of capacity. Named by
 * verdict.h. */
enum registry_verdict {
    REGISTRY_VERDICT_COMPATIBLE = VERDICT_COMPATIBLE,
    REGISTRY_VERDICT_INCOMPATIBLE = VERDICT_INCOMPATIBLE, /* the target refused the write: err_no */
    REGISTRY_VERDICT_UNSUPPORTED = VERDICT_UNSUPPORTED,   /* the target has no migration_version */
};

/* The strings stored and shown: "type"/"device"; "compatible", ... (NULL
 * for a value that is none of them). */
const char *registry_level_name(enum registry_level level);
const char *registry_verdict_name(enum registry_verdict verdict);
/* 0 and *out set, or -1 for a name that is none of them. */
int registry_level_parse(const char *name, enum registry_level *out);
int registry_verdict_parse(const char *name, enum registry_verdict *out);

/* One probe: the key (source_digest, target_host, level, target), the
 * target's digest when it was probed, and the outcome. Strings are
 * borrowed. */
struct registry_probe {
    const char *source_digest; /* digest of the version written */
    const char *target_host;
    enum registry_level level;
    const char *target;        /* type id, or device UUID */
    const char *target_digest; /* "" when the target has no version */
    enum registry_verdict verdict;
    int err_no; /* errno of the refused write; 0 otherwise */
    int64_t checked_at;
};

/* Records a verdict for a known host; a verdict older (checked_at) than
 * the stored one for the same key is dropped, so probes racing each
 * other leave the newest. The verdict already stored, checked less than
 * REGISTRY_PROBE_REFRESH_S before, is not written again: checked_at is
 * when a probe last gave the stored verdict, to within that. 0 or -1. */
#define REGISTRY_PROBE_REFRESH_S 300

int registry_probe_put(struct registry *reg, const struct registry_probe *probe, char *err,
                       size_t errlen);

/* registry_probe_put for a batch, in one transaction (one commit for a
 * whole fan-out instead of one per probe); all or none. */
int registry_probe_put_many(struct registry *reg, const struct registry_probe *probes, size_t count,
                            char *err, size_t errlen);

/* Looks up the key fields of probe, with target_digest the target's digest
 * now. 1 on a hit (verdict, err_no and checked_at filled in); 0 when
 * nothing is cached or the cached verdict was for another target digest;
 * -1 on error. */
int registry_probe_get(struct registry *reg, struct registry_probe *probe, char *err,
                       size_t errlen);

/* The cached verdict of one source digest on one target (a type id or
 * device UUID) of one host, whatever digest the target had when probed:
 * ranking compares target_digest with the host's digest now (a verdict
 * holds only while they are equal). A seek per host, not a read of every
 * host's verdict, so a select costs the same however many hosts the cache
 * knows. 1 when cached (out filled in), 0 when not, -1 on error. */
struct registry_cached_verdict {
    char target_digest[VERSION_DIGEST_LEN];
    enum registry_verdict verdict;
    int err_no;
};

int registry_probe_cached_on(struct registry *reg, const char *source_digest,
                             enum registry_level level, const char *target, const char *host,
                             struct registry_cached_verdict *out, char *err, size_t errlen);

/* Drops verdicts checked before `before` (unix s); *removed (may be NULL)
 * gets how many. Stale entries are never wrong, only dead weight: this
 * keeps a long-lived registry small. */
int registry_probe_expire(struct registry *reg, int64_t before, size_t *removed, char *err,
                          size_t errlen);

/* ---- the fleet (readiness, rollout) -------------------------------------- */

struct registry_names {
    char **items;
    size_t count;
};

void registry_names_free(struct registry_names *names);

/* Hosts running at least one VM that uses an mdev, by name. */
int registry_hosts_with_vms(struct registry *reg, struct registry_names *out, char *err,
                            size_t errlen);

/* Hosts where type_id has room (a free instance, or a created mdev no VM
 * uses), by name. */
int registry_hosts_with_room(struct registry *reg, const char *type_id, struct registry_names *out,
                             char *err, size_t errlen);

/* How many hosts offer type_id at all, full or not. */
int registry_type_hosts(struct registry *reg, const char *type_id, size_t *count, char *err,
                        size_t errlen);

/* One host's row: 0, 1 when the registry does not know it (out empty);
 * free with registry_host_clear(). */
int registry_host_get(struct registry *reg, const char *name, struct registry_host *out, char *err,
                      size_t errlen);
void registry_host_clear(struct registry_host *host);

/* One mdev of a VM as its host reports it, with the version it would
 * send: its own attribute, and its type node's (the fallback). */
struct registry_vm_mdev {
    char uuid[INV_UUID_LEN];
    bool present; /* false: the VM names it but the host has no such device */
    char *parent; /* NULL unless present */
    char *type_id;
    struct inv_migration migration;      /* the device's */
    struct inv_migration type_migration; /* its type node's on that parent */
};

/* A VM with mdevs, as one host reports it. */
struct registry_vm {
    char *host;
    char uuid[INV_UUID_LEN];
    char *name, *state;
    struct registry_vm_mdev *mdevs; /* in the domain's order */
    size_t mdev_count;
};

struct registry_vms {
    struct registry_vm *items; /* by host, then UUID */
    size_t count;
};

/* How many hosts the registry holds, and how many of them were last seen
 * before seen_before (unix s): a count, not a list, for every scrape. */
int registry_host_counts(struct registry *reg, int64_t seen_before, size_t *count, size_t *stale,
                         char *err, size_t errlen);

/* Every VM with mdevs on every host, in one read. */
int registry_fleet_vms(struct registry *reg, struct registry_vms *out, char *err, size_t errlen);
void registry_vms_free(struct registry_vms *vms);

/* registry_accepts.c */

/* Version digests, each once, sorted. */
struct registry_digests {
    char (*items)[VERSION_DIGEST_LEN];
    size_t count;
};

void registry_digests_free(struct registry_digests *digests);

/* The digests of type_id's versions at which a cached type-level verdict
 * says the driver accepted source_digest, on whichever host, and that
 * some host runs now: what selects and the matrix have learnt about
 * versions, not hosts. */
int registry_accepting_digests(struct registry *reg, const char *source_digest, const char *type_id,
                               struct registry_digests *out, char *err, size_t errlen);

/* How many hosts other than except (NULL: none) have room at one of
 * digests (a parent of that version with a free instance or an unused
 * mdev), counted up to stop_at and no further: whether those versions
 * could hold stop_at candidates. */
int registry_hosts_with_room_at(struct registry *reg, const char *const *digests, size_t count,
                                const char *except, size_t stop_at, size_t *hosts, char *err,
                                size_t errlen);

#endif
