/*
 * traitset — the pure part of publishing traits to Placement (DESIGN.md
 * §3, Placement): which provider a parent device's traits belong on (its
 * Nova pGPU provider name), which traits a parent earns, and how they are
 * merged into what a provider already carries without touching traits
 * mdevmig does not own. No I/O here, so the rules are unit-tested alone.
 */
#ifndef MDEVMIG_COLLECTOR_TRAITSET_H
#define MDEVMIG_COLLECTOR_TRAITSET_H

#include "inventory.h"

#include <stdbool.h>
#include <stddef.h>

/* The trait prefixes mdevmig owns; any other trait is someone else's. */
#define TRAITSET_TYPE_PREFIX    "CUSTOM_MDEV_TYPE_"
#define TRAITSET_VERSION_PREFIX "CUSTOM_MDEVMIG_"

/* A set of trait names, kept sorted and unique. */
struct traitset {
    char **names;
    size_t count;
};

/* Nova's name for the provider of the PCI device parent on host:
 * "<host>_pci_<domain>_<bus>_<slot>_<func>" (0000:3b:00.0 on gpu-a gives
 * gpu-a_pci_0000_3b_00_0). 0, or -1 when parent is not a PCI address
 * (such a parent's traits go on the host's root provider) or the name
 * would pass Placement's 200 characters. */
int traitset_provider_name(const char *host, const char *parent, char *out, size_t outlen);

/* True for a trait mdevmig owns (one of the two prefixes). */
bool traitset_owned(const char *trait);

/* Add name unless present. 0, or -1 out of memory. */
int traitset_add(struct traitset *set, const char *name);
bool traitset_has(const struct traitset *set, const char *name);
bool traitset_equal(const struct traitset *a, const struct traitset *b);
/* Add every name of from. */
int traitset_union(struct traitset *set, const struct traitset *from);
void traitset_free(struct traitset *set);

/* Add the traits parent earns: CUSTOM_MDEV_TYPE_<TYPE> and
 * CUSTOM_MDEVMIG_<digest> for each type whose migration_version exists
 * and reads (a type without one cannot be migrated, so it advertises
 * nothing). 0, or -1 with a message. */
int traitset_for_parent(const struct inv_parent *parent, struct traitset *out, char *err,
                        size_t errlen);

/* The provider's new trait list: current without the owned traits that
 * desired lacks, plus desired. *changed: the result differs from current
 * as a set (so no write is needed when false). 0, or -1 out of memory. */
int traitset_merge(const char *const *current, size_t count, const struct traitset *desired,
                   struct traitset *out, bool *changed);

#endif
