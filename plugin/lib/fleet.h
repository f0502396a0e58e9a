/*
 * fleet.h — the whole cloud at once, for readiness and rollout plans:
 * every host's snapshot from the registry, every VM with mdevs, every
 * (type, version) seen anywhere, and the destinations' room as slots
 * grouped per probe target, with one live probe per (source version,
 * group) shared by every VM that needs it. Evacuate looks at one source
 * host; the fleet looks at all of them and lets a rollout change, in
 * thought, which driver a host runs. Private to plugin/lib/.
 *
 *   fleet.c         loading it from the registry
 *   fleet_probe.c   probe keys, their waves and verdicts
 *   fleet_fit.c     whether a host can take a VM, and how good it is
 */
#ifndef MDEVMIG_FLEET_H
#define MDEVMIG_FLEET_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLEET_NONE SIZE_MAX

/* A (type, version) seen anywhere, as a probe would write it. */
struct fleet_version {
    struct mdevmig_mdev mdev; /* uuid "", type and version owned */
    size_t type;
};

struct fleet_host {
    struct registry_host row; /* owned */
    const char *name;         /* row's */
    const char *url;          /* row's; NULL: none advertised */
    bool stale;
    bool probed;   /* asked at least once in this call */
    bool down;     /* a probe found its collector down: never a destination */
    bool upgraded; /* rollout: runs the reference's driver from now on */
    struct inventory inv;
    size_t vms; /* VMs with mdevs on it */
};

/* One type on one parent of a host. */
struct fleet_slot {
    size_t host, type, group;
    const char *parent;
    int capacity;  /* free instances, plus an unused created mdev */
    int remaining; /* as a plan spends and frees it */
};

/* A host's parents of one type at one version: one probe answers for
 * them all. */
struct fleet_group {
    size_t host, type;
    size_t version;      /* FLEET_NONE when the type has no version there */
    const char *digest;  /* "" when none */
    size_t first, count; /* slots */
    const char *parent;  /* type-level probe target: the parent with most room */
    const char *device;  /* device-level instead, when only an unused mdev is left */
};

/* One mdev of a VM. */
struct fleet_need {
    const char *uuid;
    size_t type;
    size_t version; /* FLEET_NONE: not migratable */
    size_t slot;    /* where it is now, FLEET_NONE when the host lacks it */
};

struct fleet_vm {
    const struct inv_instance *inst;
    size_t host;
    struct fleet_need *needs;
    size_t need_count;
    char *reason; /* not migratable: why */
};

struct fleet_probe {
    size_t version, group;
    struct mdevmig_probe probe;
};

struct fleet {
    struct mdevmig *m;
    int64_t now;
    /* The hosts worth reading: those with VMs with mdevs, those with room
     * for their types, and those a caller names; a full host that runs no
     * VM is only counted (type_elsewhere). */
    struct fleet_host *hosts; /* by name */
    size_t host_count;
    size_t host_sorted;             /* while loading: how many are sorted by name */
    struct registry_vms rvms;       /* every VM with mdevs, as read */
    struct inv_instance *instances; /* one per VM kept, naming rvms' strings */
    size_t instance_count;
    char **types; /* type ids, sorted */
    size_t type_count;
    size_t *type_elsewhere; /* per type: hosts offering it that were not read (full) */
    struct fleet_version *versions;
    size_t version_count;
    struct fleet_slot *slots; /* by type, host, digest, parent */
    size_t slot_count;
    struct fleet_group *groups;
    size_t group_count;
    size_t *host_groups; /* per (host, type): its first group, then its end */
    /* Rollout: per type, the group an upgraded host's type answers by (a
     * host already at the reference's version) and that version;
     * FLEET_NONE where the reference lacks the type. NULL otherwise. */
    size_t *ref_group;
    size_t *ref_version;
    struct fleet_vm *vms; /* by host, then UUID */
    size_t vm_count;
    size_t without_mdevs;
    /* Probe keys: one per (version, group). */
    size_t *key_probe; /* index into probes, or FLEET_NONE */
    size_t *key_mark;  /* fleet_ask's mark */
    size_t mark;
    size_t *queue; /* keys asked for and not sent yet */
    size_t queue_count, queue_cap;
    size_t asked; /* distinct keys ever queued: the triples a call needed */
    struct fleet_probe *probes;
    size_t probe_count;
    size_t probes_sent;
    size_t waves;
    size_t max_parallel; /* probes at a time; 0: the HTTP client's bound */
    mdevmig_progress_fn progress;
    void *progress_ctx;
    size_t progress_items;
    size_t progress_done;
};

/* fleet.c: read the hosts that matter (see struct fleet) and those named
 * (NOT_FOUND when one is not in the registry). An mdevmig_status. */
int fleet_load(struct fleet *f, struct mdevmig *m, const char *const *named, size_t named_count,
               char *err, size_t errlen);
void fleet_clear(struct fleet *f);
/* The index of a host (FLEET_NONE when unknown), a type, a version. */
size_t fleet_host_index(const struct fleet *f, const char *name);
size_t fleet_type_index(const struct fleet *f, const char *type);
size_t fleet_version_index(const struct fleet *f, size_t type, const char *digest);
/* Groups of type on host h: [*first, *end). */
void fleet_host_type_groups(const struct fleet *f, size_t h, size_t type, size_t *first,
                            size_t *end);
int fleet_oom(char *err, size_t errlen);
/* Hosts not read (full, no VMs) that offer every one of the types: the
 * fewest offering one of them, as no host list says which. */
size_t fleet_full_elsewhere(const struct fleet *f, const size_t *types, size_t count);

/* fleet_probe.c. The verdict of key (version, group): NOT_PROBED when
 * nobody asked yet. */
size_t fleet_key(const struct fleet *f, size_t version, size_t group);
enum mdevmig_verdict fleet_verdict(const struct fleet *f, size_t version, size_t group,
                                   const struct mdevmig_probe **probe);
/* Queue a key for the next fleet_send, once; 1 when queued. */
int fleet_ask(struct fleet *f, size_t version, size_t group);
/* Probe every queued key: first one key per host never asked (is its
 * collector up?), then the rest on the hosts that answered; at most
 * max_parallel at a time. The queue is emptied. An mdevmig_status. */
int fleet_send(struct fleet *f, char *err, size_t errlen);
/* How many keys are queued. */
size_t fleet_queued(const struct fleet *f);

/* fleet_fit.c: what a VM's mdevs need, as a rollout may change them. */
struct fleet_fit {
    bool optimistic; /* an unprobed key counts as compatible */
    bool empty;      /* capacity as loaded, not as spent */
    bool compat;     /* false: capacity alone */
};

/* Whether host h can take the versions (one per mdev, types given):
 * chosen gets a slot per mdev (scratch of need_count); room the free
 * instances of its types there; same whether each slot runs the mdev's
 * version; unknown whether an unprobed key was counted as compatible. */
bool fleet_fit(const struct fleet *f, const size_t *types, const size_t *versions, size_t count,
               size_t h, const struct fleet_fit *how, size_t *chosen, long *room, bool *same,
               bool *unknown);
/* The key a group answers by: its own, or, on an upgraded host, the
 * reference group's of its type (set by a rollout; FLEET_NONE: none). */
size_t fleet_effective_group(const struct fleet *f, size_t group);
/* The version an mdev of type runs on a slot's group as things stand. */
size_t fleet_group_version(const struct fleet *f, size_t group);
/* The version mdev k of vm sends: on a host upgraded in thought, the
 * reference's version of its type. */
size_t fleet_vm_version(const struct fleet *f, const struct fleet_vm *vm, size_t k);

#endif
