/*
 * candidates_internal.h — what candidates.c (the registry's rows, folded
 * into ranked candidates) and candidates_placement.c (which hosts to fold,
 * asked of Placement) share. Private to plugin/lib/candidates*.c.
 */
#ifndef MDEVMIG_CANDIDATES_INTERNAL_H
#define MDEVMIG_CANDIDATES_INTERNAL_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>

/* The distinct types the source needs, and how many mdevs of each. */
struct candidates_types {
    const char *type[64];
    int demand[64];
    size_t count;
};

/* What the probe cache knows of one (source digest, type): every host's
 * own cached verdict (sorted by host), and the versions some host's
 * driver accepted it at. Shared by the source's mdevs of one version. */
struct candidates_known_version {
    struct registry_digests accepting;
};

struct candidates_known {
    struct candidates_known_version *versions;
    size_t version_count;
    size_t *of; /* per source mdev: its entry in versions */
};

/* Host names gathered from several lists (thousands from a large registry
 * or from Placement): appended as found, then sorted and made unique once
 * (candidates_hosts_unique) before use. */
struct candidates_hosts {
    char **names;
    size_t count;
    size_t cap;
};

int candidates_hosts_add(struct candidates_hosts *h, const char *name);
void candidates_hosts_unique(struct candidates_hosts *h);
void candidates_hosts_clear(struct candidates_hosts *h);
/* Whether name is in hosts (sorted and unique). */
bool candidates_hosts_has(const struct candidates_hosts *hosts, const char *name);

/* Registry rows, each set for one of the VM's types. */
struct candidates_set {
    struct registry_offers offers;
    size_t type_index;
};

struct candidates_sets {
    struct candidates_set *items;
    size_t count;
    size_t cap;
};

void candidates_sets_clear(struct candidates_sets *sets);

/* How many parents of a type a select looks at when the registry holds
 * more than full_scan_max: the roomiest, beyond the hosts already likely
 * (same version, or a version known to accept it). */
size_t candidates_roomy_limit(const struct mdevmig_request *req);

/* The registry's own look for a select (caller holds the registry lock):
 * every row of the VM's types while they have at most full_scan_max
 * parents, beyond that the rows of the likely hosts only (the source's
 * versions, versions known to accept them, the roomiest). */
int candidates_gather(struct mdevmig *m, const struct source *src,
                      const struct candidates_types *types, const struct candidates_known *known,
                      const struct mdevmig_request *req, struct candidates_sets *sets, char *err,
                      size_t errlen);

/* Every registry row of the given hosts (sorted and unique), per type.
 * Caller holds the registry lock. */
int candidates_gather_hosts(struct mdevmig *m, const struct candidates_types *types,
                            const struct candidates_hosts *hosts, struct candidates_sets *sets,
                            char *err, size_t errlen);

/* Fold sets into candidates, one per host, appended to out, each with
 * its pre-probe verdict and ranking marks; the source's own host is never
 * one. For a filter (one call only), the listed hosts in the list's order.
 * Not ranked: candidates_build ranks once all are in. */
int candidates_add_rows(struct mdevmig *m, const struct source *src,
                        const struct candidates_types *types, const struct candidates_known *known,
                        const struct candidates_sets *sets, bool filter,
                        const struct mdevmig_request *req, struct candidates *out, char *err,
                        size_t errlen);

/* candidates_placement.c: a select's candidates from Placement's traits
 * (DESIGN.md §3). 1 when Placement answered (out holds the candidates,
 * unranked), 0 when it could not (why says why; out is left empty for
 * the registry to fill), -1 on any other failure (err). */
int candidates_placement(struct mdevmig *m, const struct source *src,
                         const struct mdevmig_request *req, const struct candidates_types *types,
                         const struct candidates_known *known, struct candidates *out, char *why,
                         size_t whylen, char *err, size_t errlen);

#endif
