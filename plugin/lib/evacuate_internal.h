/*
 * evacuate_internal.h — what the parts of an evacuation plan share: the
 * working set one mdevmig_evacuate call builds (the source's VMs, the
 * destinations' slots grouped per probe target, the probe keys and the
 * VM profiles) and the steps that fill and read it. Private to
 * plugin/lib/evacuate*.c.
 *
 *   evacuate.c               the public entry: the loop of drafts and waves
 *   evacuate_source.c        the VMs to move and their mdevs' versions
 *   evacuate_destinations.c  slots, groups, probe keys, profiles
 *   evacuate_draft.c         one draft of the plan from what is known now
 *   evacuate_answer.c        the plan the caller gets, and its JSON
 */
#ifndef MDEVMIG_EVACUATE_INTERNAL_H
#define MDEVMIG_EVACUATE_INTERNAL_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVACUATE_NONE SIZE_MAX
/* Runner-up hosts a draft keeps per VM, for spare probes. */
#define EVACUATE_ALTS 2

/* One type on one parent of a destination host. */
struct evacuate_slot {
    const struct registry_offer *offer;
    size_t type;
    size_t host;
    size_t group;
    int capacity;  /* free instances, plus an unused created mdev */
    int remaining; /* in the current draft */
};

/* A host's parents of one type at one target version: one probe per
 * source version answers for all of them. */
struct evacuate_group {
    size_t host, type;
    size_t first, count; /* slots */
    const char *digest;  /* the target's version ("" when none) */
    const char *parent;  /* type-level probe target: the parent with most free instances */
    const char *device;  /* a device-level target instead, when only unused mdevs are left */
};

struct evacuate_host {
    const char *name;
    const char *url;
    bool stale;
    bool unreachable; /* a probe found its collector down: nothing more goes there */
    bool probed;
    size_t vms; /* in the current draft */
};

/* A source version: what a probe writes. */
struct evacuate_version {
    const struct mdevmig_mdev *mdev; /* an mdev that has it (until the answer takes it) */
    char digest[MDEVMIG_DIGEST_LEN];
    size_t type;
    size_t keys; /* its first key; one key per group of its type */
};

/* One mdev of a VM. */
struct evacuate_need {
    struct mdevmig_mdev mdev; /* owned until it moves into the plan */
    size_t type, version;     /* EVACUATE_NONE when the VM cannot migrate */
    size_t slot;              /* in the current draft */
};

struct evacuate_vm {
    const struct inv_instance *inst;
    struct evacuate_need *needs;
    size_t need_count;
    char *reason;   /* not migratable: why */
    size_t profile; /* EVACUATE_NONE when not migratable */
    /* the current draft */
    size_t host;
    size_t alts[EVACUATE_ALTS]; /* runner-up hosts, for spare probes */
    bool pending;               /* placed on a probe not yet made */
};

/* VMs that need the same (type, version) pairs: they fit the same hosts. */
struct evacuate_profile {
    size_t vm; /* one of them */
    size_t *hosts;
    size_t host_count;
    size_t fitting; /* hosts that could take one on an empty plan */
    /* Those hosts, this draft: the only ones a draft tries. At 100,000
     * registry hosts, most full, trying every host per VM would cost more
     * than the rest of the plan. */
    size_t *room;
};

struct evacuate_probe {
    size_t version, group, wave;
    struct mdevmig_probe probe;
    size_t vms;
};

/* One mdevmig_evacuate call's working set; evacuate.c frees it. */
struct evacuate {
    struct mdevmig *m;
    const struct mdevmig_evacuation *req;
    bool spread;
    int64_t now;
    struct inventory inv;
    struct source src;
    struct evacuate_vm *vms;
    size_t vm_count;
    size_t without_mdevs;
    const char **types; /* borrowed from the needs */
    size_t type_count;
    struct registry_offers *offers; /* per type */
    struct evacuate_slot *slots;
    size_t slot_count;
    struct evacuate_group *groups;
    size_t group_count;
    size_t *type_groups; /* per type its first group; [type_count] = group_count */
    struct evacuate_host *hosts;
    size_t host_count;
    size_t *host_first, *host_end; /* per (host, type): its groups */
    struct evacuate_version *versions;
    size_t version_count;
    size_t *key_probe; /* per key: index into probes, or EVACUATE_NONE */
    size_t *key_mark;  /* per key: the wave it was queued for */
    size_t key_count;
    struct evacuate_probe *probes;
    size_t probe_count;
    struct evacuate_profile *profiles;
    size_t profile_count;
    size_t *order; /* VM indexes in planning order */
    size_t *scratch;
    size_t need_max;
    size_t waves;
    size_t probes_sent;
};

/* evacuate.c: "out of memory" in err; MDEVMIG_ERR_INTERNAL. */
int evacuate_oom(char *err, size_t errlen);

/* evacuate_source.c: the host's VMs and their mdevs' versions: live where
 * the collector answers (source.c), as the registry has them otherwise.
 * An mdevmig_status. */
int evacuate_source(struct evacuate *e, char *err, size_t errlen);

/* evacuate_destinations.c, in this order after evacuate_source: every row
 * of the types needed on every other host, as slots grouped by (type,
 * host, target version); the source versions with one probe key per group
 * of their type; the VMs' profiles. Each an mdevmig_status. */
int evacuate_destinations(struct evacuate *e, char *err, size_t errlen);
int evacuate_keys(struct evacuate *e, char *err, size_t errlen);
int evacuate_profiles(struct evacuate *e, char *err, size_t errlen);
/* The probe key of a source version on a group. */
size_t evacuate_key(const struct evacuate *e, size_t version, size_t group);

/* evacuate_draft.c: whether host h can take vm (on an empty plan when
 * empty): chosen gets a slot per mdev, room the room the host has for the
 * VM's types, same whether every slot runs the mdev's version. */
bool evacuate_fit(const struct evacuate *e, const struct evacuate_vm *vm, size_t h, bool empty,
                  size_t *chosen, long *room, bool *same);
/* One draft of the whole plan from what is known now; e->order becomes
 * the planning order. The number of VMs placed. */
size_t evacuate_draft(struct evacuate *e);

/* evacuate_answer.c: the settled draft as the caller's plan (moving the
 * mdevs and probes into it). 0, or -1 when out of memory. */
int evacuate_answer(struct evacuate *e, struct mdevmig_plan *plan);

#endif
