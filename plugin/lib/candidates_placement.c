/*
 * candidates_placement — which hosts a select reads, asked of Placement's
 * traits (DESIGN.md §3) with candidate_source = placement. Placement is
 * asked only for what the select can use, likeliest first, and no further
 * once the candidates would fill the select's first probe wave:
 *
 *   1. required=in:<the source's version traits>: hosts already at the
 *      VM's versions;
 *   2. required=in:<the version traits the probe cache knows accept them>
 *      (a compatible verdict at that version on any host, from selects or
 *      the matrix); asked only when the registry says the hosts at those
 *      versions could fill the wave, since step 3 would hold them anyway;
 *   3. the type, bounded: required=in:<the type traits> while the
 *      registry counts no more of the type's parents than a select looks
 *      at (candidates_roomy_limit); beyond that, Placement has no way to
 *      name a few of a trait's providers (GET /resource_providers has no
 *      limit or paging, in_tree names one tree, /allocation_candidates
 *      builds every candidate before its limit cuts), so the rest come from
 *      the registry's bounded look, the same hosts a select from the
 *      registry reads.
 *
 * The registry still gives every host's rows (capacity, collector), and
 * the candidates rank as from the registry: the same-version hosts, then
 * the known-compatible ones, then the roomiest. Each step's hosts hold
 * every host of the ranks it stands for, so stopping after it leaves the
 * first wave what a registry-sourced select would probe.
 */
#include "candidates_internal.h"

#include "log.h"
#include "placement.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first probe wave of a select (mdevmig.c: MDEVMIG_WAVE_SPARE and
 * MDEVMIG_WAVE_MIN): the count asked for plus spares for the usual
 * refusals, at least 8. Candidates enough to fill it end the asking. */
#define CANDIDATES_WAVE_SPARE 4
#define CANDIDATES_WAVE_MIN   8

static size_t candidates_placement_wave(const struct mdevmig_request *req)
{
    size_t wave = (req->count > 0 ? req->count : 1) + CANDIDATES_WAVE_SPARE;
    return wave < CANDIDATES_WAVE_MIN ? CANDIDATES_WAVE_MIN : wave;
}

/* Candidates worth a probe that rank among the same-version hosts (or,
 * with known, the known-compatible ones too). */
static size_t candidates_placement_worthy(const struct candidates *c, bool known)
{
    size_t n = 0;
    for (size_t i = 0; i < c->count; i++) {
        const struct candidate *cand = &c->items[i];
        n += cand->verdict == MDEVMIG_NOT_PROBED &&
             (cand->same_digest || (known && cand->cached_compatible));
    }
    return n;
}

/* Trait names, each once. */
struct candidates_traits {
    char (*names)[VERSION_TRAIT_MAX];
    const char **list; /* into names, for the client */
    size_t count, cap;
};

static int candidates_traits_add(struct candidates_traits *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->names[i], name) == 0)
            return 0;
    }
    if (t->count == t->cap) {
        size_t cap = t->cap == 0 ? 8 : t->cap * 2;
        char(*names)[VERSION_TRAIT_MAX] = realloc(t->names, cap * sizeof *names);
        if (names == NULL)
            return -1;
        t->names = names;
        const char **list = realloc(t->list, cap * sizeof *list);
        if (list == NULL)
            return -1;
        t->list = list;
        t->cap = cap;
    }
    snprintf(t->names[t->count++], VERSION_TRAIT_MAX, "%s", name);
    for (size_t i = 0; i < t->count; i++)
        t->list[i] = t->names[i];
    return 0;
}

static void candidates_traits_clear(struct candidates_traits *t)
{
    free(t->names);
    free(t->list);
    memset(t, 0, sizeof *t);
}

/* The trait of a version digest, once; a digest that names none is
 * skipped (it can only be a version no host publishes). */
static int candidates_traits_digest(struct candidates_traits *t, const char *digest)
{
    char trait[VERSION_TRAIT_MAX];
    if (digest[0] == '\0' || version_digest_trait(digest, trait) < 0)
        return 0;
    return candidates_traits_add(t, trait);
}

/* The hosts with a provider carrying any of traits: one query. A trait
 * Placement has never seen makes it refuse the whole query (400, naming
 * the trait): no provider has it, so it is dropped and the rest asked
 * again. -1 (perr) when Placement fails otherwise. */
static int candidates_placement_ask(struct mdevmig *m, struct candidates_traits *traits,
                                    struct placement_hosts *found, struct placement_error *perr)
{
    memset(found, 0, sizeof *found);
    size_t n = traits->count;
    while (n > 0) {
        if (placement_hosts_with_any_trait(m->placement, traits->list, n, found, perr) == 0)
            return 0;
        if (!placement_error_is_unknown_trait(perr))
            return -1;
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            if (!placement_error_names_trait(perr, traits->list[i]))
                traits->list[kept++] = traits->list[i];
        }
        if (kept == n) {
            log_debug("placement: %s; no provider carries those traits", perr->message);
            return 0;
        }
        log_debug("placement: %s; asking for the other %zu", perr->message, kept);
        n = kept;
    }
    return 0;
}

/* Fold the rows of found's hosts not folded before (built, sorted) into
 * out, and remember them. Registry failures are -1 (err). */
static int candidates_placement_add(struct mdevmig *m, const struct source *src,
                                    const struct candidates_types *types,
                                    const struct candidates_known *known,
                                    const struct mdevmig_request *req,
                                    const struct placement_hosts *found,
                                    struct candidates_hosts *built, struct candidates *out,
                                    char *err, size_t errlen)
{
    struct candidates_hosts fresh = {0};
    for (size_t i = 0; i < found->count; i++) {
        if (candidates_hosts_has(built, found->names[i]))
            continue;
        if (candidates_hosts_add(&fresh, found->names[i]) < 0) {
            candidates_hosts_clear(&fresh);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (fresh.count == 0)
        return 0;
    candidates_hosts_unique(&fresh);
    struct candidates_sets sets = {0};
    pthread_mutex_lock(&m->registry_lock);
    int rc = candidates_gather_hosts(m, types, &fresh, &sets, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (rc == 0)
        rc = candidates_add_rows(m, src, types, known, &sets, false, req, out, err, errlen);
    candidates_sets_clear(&sets);
    for (size_t i = 0; i < fresh.count && rc == 0; i++) {
        if (candidates_hosts_add(built, fresh.names[i]) < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    candidates_hosts_unique(built);
    candidates_hosts_clear(&fresh);
    return rc;
}

/* Drop the rows of hosts already folded. */
static void candidates_placement_unbuilt(struct candidates_sets *sets,
                                         const struct candidates_hosts *built)
{
    for (size_t i = 0; i < sets->count; i++) {
        struct registry_offers *offers = &sets->items[i].offers;
        size_t kept = 0;
        for (size_t r = 0; r < offers->count; r++) {
            struct registry_offer *o = &offers->items[r];
            if (!candidates_hosts_has(built, o->host)) {
                offers->items[kept++] = *o;
                continue;
            }
            free(o->host);
            free(o->collector_url);
            free(o->parent);
            free(o->type_id);
        }
        offers->count = kept;
    }
}

/* Whether step 3 may ask Placement for the type traits: the registry
 * counts no more of each type's parents than a select would look at. */
static int candidates_placement_type_small(struct mdevmig *m, const struct candidates_types *types,
                                           const struct mdevmig_request *req, bool *small,
                                           char *err, size_t errlen)
{
    size_t bound = candidates_roomy_limit(req);
    if (m->full_scan_max < bound)
        bound = m->full_scan_max;
    *small = true;
    pthread_mutex_lock(&m->registry_lock);
    int rc = 0;
    for (size_t k = 0; k < types->count && rc == 0 && *small; k++) {
        size_t count;
        rc = registry_offers_count(m->registry, types->type[k], bound + 1, &count, err, errlen);
        *small = rc == 0 && count <= bound;
    }
    pthread_mutex_unlock(&m->registry_lock);
    return rc;
}

/* Step 2's traits: the versions known to accept one of the source's,
 * other than the source's own (step 1 asked for those). */
static int candidates_placement_accepting(const struct source *src,
                                          const struct candidates_known *known,
                                          struct candidates_traits *traits,
                                          struct candidates_traits *digests)
{
    for (size_t v = 0; v < known->version_count; v++) {
        const struct registry_digests *accepting = &known->versions[v].accepting;
        for (size_t d = 0; d < accepting->count; d++) {
            bool source = false;
            for (size_t i = 0; i < src->mdev_count && !source; i++)
                source = strcmp(src->mdevs[i].digest, accepting->items[d]) == 0;
            if (!source && (candidates_traits_digest(traits, accepting->items[d]) < 0 ||
                            candidates_traits_add(digests, accepting->items[d]) < 0))
                return -1;
        }
    }
    return 0;
}

/* Whether the hosts at the source's versions and at those known to
 * accept them could fill the wave, by the registry's room. */
static int candidates_placement_could_fill(struct mdevmig *m, const struct source *src,
                                           struct candidates_traits *digests, size_t wave,
                                           bool *fill, char *err, size_t errlen)
{
    for (size_t i = 0; i < src->mdev_count; i++) {
        if (candidates_traits_add(digests, src->mdevs[i].digest) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    size_t hosts = 0;
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_hosts_with_room_at(m->registry, digests->list, digests->count, src->host,
                                         wave, &hosts, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    *fill = hosts >= wave;
    return rc;
}

/* Step 3 beyond what Placement can bound: the registry's own look for a
 * select, less the hosts already folded. */
static int candidates_placement_registry_look(struct mdevmig *m, const struct source *src,
                                              const struct candidates_types *types,
                                              const struct candidates_known *known,
                                              const struct mdevmig_request *req,
                                              const struct candidates_hosts *built,
                                              struct candidates *out, char *err, size_t errlen)
{
    struct candidates_sets sets = {0};
    pthread_mutex_lock(&m->registry_lock);
    int rc = candidates_gather(m, src, types, known, req, &sets, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (rc == 0) {
        candidates_placement_unbuilt(&sets, built);
        rc = candidates_add_rows(m, src, types, known, &sets, false, req, out, err, errlen);
    }
    candidates_sets_clear(&sets);
    return rc;
}

int candidates_placement(struct mdevmig *m, const struct source *src,
                         const struct mdevmig_request *req, const struct candidates_types *types,
                         const struct candidates_known *known, struct candidates *out, char *why,
                         size_t whylen, char *err, size_t errlen)
{
    if (types->count == 0)
        return 1;
    size_t wave = candidates_placement_wave(req);
    struct candidates_traits traits = {0}, digests = {0};
    struct candidates_hosts built = {0};
    struct placement_hosts found = {0};
    struct placement_error perr = {0};
    int rc = -1;
    bool placement_failed = false;

    /* 1: the source's own versions. */
    for (size_t i = 0; i < src->mdev_count; i++) {
        if (candidates_traits_digest(&traits, src->mdevs[i].digest) < 0)
            goto oom;
    }
    if (traits.count > 0) {
        if (candidates_placement_ask(m, &traits, &found, &perr) < 0) {
            placement_failed = true;
            goto out;
        }
        if (candidates_placement_add(m, src, types, known, req, &found, &built, out, err, errlen) <
            0)
            goto out;
        placement_hosts_free(&found);
        if (candidates_placement_worthy(out, false) >= wave) {
            rc = 1;
            goto out;
        }
    }

    /* 2: versions known to accept the source's, when they could be enough. */
    candidates_traits_clear(&traits);
    if (candidates_placement_accepting(src, known, &traits, &digests) < 0)
        goto oom;
    if (traits.count > 0) {
        bool fill = false;
        if (candidates_placement_could_fill(m, src, &digests, wave, &fill, err, errlen) < 0)
            goto out;
        if (fill) {
            if (candidates_placement_ask(m, &traits, &found, &perr) < 0) {
                placement_failed = true;
                goto out;
            }
            if (candidates_placement_add(m, src, types, known, req, &found, &built, out, err,
                                         errlen) < 0)
                goto out;
            placement_hosts_free(&found);
            if (candidates_placement_worthy(out, true) >= wave) {
                rc = 1;
                goto out;
            }
        }
    }

    /* 3: the type, bounded. */
    bool small;
    if (candidates_placement_type_small(m, types, req, &small, err, errlen) < 0)
        goto out;
    if (!small) {
        rc = candidates_placement_registry_look(m, src, types, known, req, &built, out, err,
                                                errlen) < 0
                 ? -1
                 : 1;
        goto out;
    }
    candidates_traits_clear(&traits);
    for (size_t k = 0; k < types->count; k++) {
        char trait[VERSION_TRAIT_MAX];
        if (version_type_trait(types->type[k], trait) < 0) {
            snprintf(why, whylen, "type %s has no Placement trait name", types->type[k]);
            rc = 0;
            goto out;
        }
        if (candidates_traits_add(&traits, trait) < 0)
            goto oom;
    }
    if (candidates_placement_ask(m, &traits, &found, &perr) < 0) {
        placement_failed = true;
        goto out;
    }
    rc = candidates_placement_add(m, src, types, known, req, &found, &built, out, err, errlen) < 0
             ? -1
             : 1;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    if (placement_failed) {
        snprintf(why, whylen, "%s", perr.message);
        rc = 0;
    }
    placement_hosts_free(&found);
    candidates_traits_clear(&traits);
    candidates_traits_clear(&digests);
    candidates_hosts_clear(&built);
    return rc;
}
