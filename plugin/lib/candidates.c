/*
 * candidates — the hosts that could take a VM, from the registry's rows:
 * which offer every type it needs, with room for all of its mdevs, ranked
 * so the likeliest answers are probed first (the same version already
 * there, then a version a cached verdict says accepts it, then the most
 * room). Nothing here confirms anything: confirm.c does, live. With
 * candidate_source = placement, a select asks Placement which hosts to
 * read (candidates_placement.c) and only their rows are folded here.
 */
#include "candidates_internal.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void candidates_clear(struct candidates *c)
{
    for (size_t i = 0; i < c->count; i++) {
        struct candidate *cand = &c->items[i];
        free(cand->host);
        free(cand->url);
        free(cand->needs);
        free(cand->targets);
        for (size_t p = 0; p < cand->probe_count; p++) {
            free(cand->probes[p].level);
            free(cand->probes[p].target);
            free(cand->probes[p].error);
        }
        free(cand->probes);
        free(cand->error);
    }
    free(c->items);
    memset(c, 0, sizeof *c);
}

/* One registry row, tagged with the source mdev type it answers. */
struct candidates_row {
    const struct registry_offer *offer;
    size_t type_index;
};

static int candidates_row_cmp(const void *a, const void *b)
{
    const struct candidates_row *x = a, *y = b;
    int c = strcmp(x->offer->host, y->offer->host);
    if (c != 0)
        return c;
    if (x->type_index != y->type_index)
        return x->type_index < y->type_index ? -1 : 1;
    /* A type's parents grouped by version: each group is one target. */
    if ((c = strcmp(x->offer->digest, y->offer->digest)) != 0)
        return c;
    return strcmp(x->offer->parent, y->offer->parent);
}

static int candidates_types_of(const struct source *src, struct candidates_types *t, char *err,
                               size_t errlen)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < src->mdev_count; i++) {
        size_t k = 0;
        while (k < t->count && strcmp(t->type[k], src->mdevs[i].type) != 0)
            k++;
        if (k == t->count) {
            if (t->count == 64) {
                snprintf(err, errlen, "a VM with more than 64 mdev types is not supported");
                return -1;
            }
            t->type[t->count++] = src->mdevs[i].type;
        }
        t->demand[k]++;
    }
    return 0;
}

static size_t candidates_type_index(const struct candidates_types *types, const char *type)
{
    size_t k = 0;
    while (k < types->count && strcmp(types->type[k], type) != 0)
        k++;
    return k;
}

/* The targets among one host's rows (sorted by type, digest, parent):
 * one per (type, version) with room. Probe where a new device would be
 * made (the parent with most free instances), or an unused device when
 * that is all the room there is. Returns the count, or -1 (no memory). */
static long candidates_targets_of(struct candidate *cand, const struct candidates_row *rows,
                                  size_t n)
{
    cand->targets = calloc(n + 1, sizeof *cand->targets);
    if (cand->targets == NULL)
        return -1;
    for (size_t r = 0; r < n;) {
        const struct registry_offer *first = rows[r].offer;
        const struct registry_offer *roomiest = NULL, *unused = NULL;
        int capacity = 0;
        size_t end = r;
        for (; end < n && rows[end].type_index == rows[r].type_index &&
               strcmp(rows[end].offer->digest, first->digest) == 0;
             end++) {
            const struct registry_offer *o = rows[end].offer;
            int free_here = o->available_instances > 0 ? o->available_instances : 0;
            capacity += free_here + (o->unused_device[0] != '\0');
            if (free_here > 0 && (roomiest == NULL || free_here > roomiest->available_instances))
                roomiest = o;
            if (o->unused_device[0] != '\0' && unused == NULL)
                unused = o;
        }
        if (capacity > 0) {
            struct candidate_target *t = &cand->targets[cand->target_count++];
            const struct registry_offer *at = roomiest != NULL ? roomiest : unused;
            t->type_index = rows[r].type_index;
            t->capacity = capacity;
            snprintf(t->parent, sizeof t->parent, "%s", at->parent);
            snprintf(t->digest, sizeof t->digest, "%s", at->digest);
            if (roomiest == NULL)
                snprintf(t->device, sizeof t->device, "%s", at->unused_device);
        }
        r = end;
    }
    return (long)cand->target_count;
}

/* Fold one host's rows (all types, all parents) into cand. Returns 0, or
 * -1 when out of memory. */
static int candidates_fold(struct candidate *cand, const struct source *src,
                           const struct candidates_types *types, const struct candidates_row *rows,
                           size_t n)
{
    bool offered[64] = {false};
    for (size_t r = 0; r < n; r++) {
        const struct registry_offer *o = rows[r].offer;
        offered[rows[r].type_index] = true;
        if (r == 0 || o->last_seen > cand->last_seen)
            cand->last_seen = o->last_seen;
        if (cand->url == NULL && o->collector_url != NULL)
            cand->url = strdup(o->collector_url);
    }
    if (candidates_targets_of(cand, rows, n) < 0)
        return -1;
    int capacity[64] = {0};
    for (size_t t = 0; t < cand->target_count; t++) {
        capacity[cand->targets[t].type_index] += cand->targets[t].capacity;
        cand->free_instances += cand->targets[t].capacity;
    }
    cand->verdict = MDEVMIG_NOT_PROBED;
    cand->same_digest = src->mdev_count > 0;
    for (size_t i = 0; i < src->mdev_count; i++) {
        struct candidate_need *need = &cand->needs[i];
        size_t k = candidates_type_index(types, src->mdevs[i].type);
        need->type_index = k;
        need->offered = offered[k];
        need->capacity = capacity[k];
        for (size_t t = 0; t < cand->target_count; t++) {
            const struct candidate_target *target = &cand->targets[t];
            need->same_digest =
                need->same_digest ||
                (target->type_index == k && strcmp(target->digest, src->mdevs[i].digest) == 0);
        }
        cand->same_digest = cand->same_digest && need->same_digest;
        if (!need->offered)
            cand->verdict = MDEVMIG_NO_TYPE;
        else if (capacity[k] < types->demand[k] && cand->verdict != MDEVMIG_NO_TYPE)
            cand->verdict = MDEVMIG_NO_CAPACITY;
    }
    return 0;
}

static int candidates_reason(struct candidate *cand, const struct source *src)
{
    char text[512];
    for (size_t i = 0; i < src->mdev_count; i++) {
        const struct candidate_need *need = &cand->needs[i];
        if (cand->verdict == MDEVMIG_NO_TYPE && !need->offered) {
            snprintf(text, sizeof text, "host %s does not offer type %s", cand->host,
                     src->mdevs[i].type);
            break;
        }
        if (cand->verdict == MDEVMIG_NO_CAPACITY) {
            snprintf(text, sizeof text, "host %s has room for %d %s, the VM needs more", cand->host,
                     need->capacity, src->mdevs[i].type);
            if (need->capacity < 1)
                snprintf(text, sizeof text, "host %s has no free %s", cand->host,
                         src->mdevs[i].type);
            break;
        }
    }
    if (cand->verdict == MDEVMIG_NO_TYPE || cand->verdict == MDEVMIG_NO_CAPACITY) {
        cand->error = strdup(text);
        return cand->error == NULL ? -1 : 0;
    }
    return 0;
}

static int candidates_digest_key(const void *key, const void *item)
{
    return strcmp(key, item);
}

static bool candidates_digest_in(const struct registry_digests *digests, const char *digest)
{
    return digests->count > 0 && bsearch(digest, digests->items, digests->count,
                                         sizeof *digests->items, candidates_digest_key) != NULL;
}

/* Mark a candidate whose every need has a target at a version the probe
 * cache says accepts the source's: the host's own verdict for the version
 * it has now when there is one (a host that refused stays refused),
 * otherwise any host's at that version (the driver, not the host, decides:
 * a version the matrix or another select saw accept ranks every host at
 * it up). Only ranks; never confirms, so a cache that cannot be read
 * ranks as if it knew nothing. The host's own verdicts are looked up one
 * seek each, in one read transaction under the registry lock, not read for
 * every host beforehand: a warm cache holds one per host the fleet has,
 * for each version. */
static void candidates_mark(struct mdevmig *m, struct candidate *cand, const struct source *src,
                            const struct candidates_known *known)
{
    cand->cached_compatible = cand->verdict == MDEVMIG_NOT_PROBED && src->mdev_count > 0;
    if (!cand->cached_compatible)
        return;
    char err[256];
    pthread_mutex_lock(&m->registry_lock);
    /* Without it each lookup still works, only slower. */
    bool one_read = registry_read_begin(m->registry, err, sizeof err) == 0;
    for (size_t mi = 0; mi < src->mdev_count; mi++) {
        struct candidate_need *need = &cand->needs[mi];
        const struct candidates_known_version *v = &known->versions[known->of[mi]];
        struct registry_cached_verdict own;
        bool has_own =
            registry_probe_cached_on(m->registry, src->mdevs[mi].digest, REGISTRY_LEVEL_TYPE,
                                     src->mdevs[mi].type, cand->host, &own, err, sizeof err) == 1;
        bool hit = false;
        for (size_t t = 0; t < cand->target_count && !hit; t++) {
            const struct candidate_target *target = &cand->targets[t];
            if (target->type_index != need->type_index)
                continue;
            if (has_own && strcmp(own.target_digest, target->digest) == 0)
                hit = own.verdict == REGISTRY_VERDICT_COMPATIBLE;
            else
                hit = candidates_digest_in(&v->accepting, target->digest);
        }
        need->cached_compatible = hit;
        cand->cached_compatible = cand->cached_compatible && hit;
    }
    if (one_read)
        registry_read_end(m->registry);
    pthread_mutex_unlock(&m->registry_lock);
}

static void candidates_known_clear(struct candidates_known *known)
{
    for (size_t i = 0; i < known->version_count; i++) {
        registry_digests_free(&known->versions[i].accepting);
    }
    free(known->versions);
    free(known->of);
    memset(known, 0, sizeof *known);
}

/* What the probe cache knows of each of the source's (digest, type): the
 * versions that accepted it, one query per distinct one (each host's own
 * verdict is looked up as the host is marked). Caller holds the registry
 * lock. */
static int candidates_known_load(struct mdevmig *m, const struct source *src,
                                 struct candidates_known *known, char *err, size_t errlen)
{
    memset(known, 0, sizeof *known);
    known->versions = calloc(src->mdev_count + 1, sizeof *known->versions);
    known->of = calloc(src->mdev_count + 1, sizeof *known->of);
    if (known->versions == NULL || known->of == NULL) {
        candidates_known_clear(known);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t mi = 0; mi < src->mdev_count; mi++) {
        const struct mdevmig_mdev *mdev = &src->mdevs[mi];
        size_t same = 0;
        while (same < mi && (strcmp(src->mdevs[same].digest, mdev->digest) != 0 ||
                             strcmp(src->mdevs[same].type, mdev->type) != 0))
            same++;
        if (same < mi) {
            known->of[mi] = known->of[same];
            continue;
        }
        struct candidates_known_version *v = &known->versions[known->version_count];
        known->of[mi] = known->version_count++;
        if (registry_accepting_digests(m->registry, mdev->digest, mdev->type, &v->accepting, err,
                                       errlen) < 0) {
            candidates_known_clear(known);
            return -1;
        }
    }
    return 0;
}

static int candidates_rank_cmp(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    /* Probe-worthy first; among those, the likeliest yes first. */
    int px = x->verdict == MDEVMIG_NOT_PROBED ? 0 : x->verdict == MDEVMIG_NO_CAPACITY ? 1 : 2;
    int py = y->verdict == MDEVMIG_NOT_PROBED ? 0 : y->verdict == MDEVMIG_NO_CAPACITY ? 1 : 2;
    if (px != py)
        return px - py;
    if (x->same_digest != y->same_digest)
        return x->same_digest ? -1 : 1;
    if (x->cached_compatible != y->cached_compatible)
        return x->cached_compatible ? -1 : 1;
    if (x->free_instances != y->free_instances)
        return x->free_instances > y->free_instances ? -1 : 1;
    return strcmp(x->host, y->host);
}

/* A filter's host list, sorted for lookups: Nova may send thousands. */
struct candidates_name {
    const char *name;
    size_t index; /* position in the list as given */
    bool seen;    /* the registry has rows for it */
    bool repeat;  /* a later copy of a name listed before */
};

static int candidates_name_cmp(const void *a, const void *b)
{
    const struct candidates_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

static int candidates_name_key(const void *key, const void *item)
{
    return strcmp(key, ((const struct candidates_name *)item)->name);
}

/* The first listing of host, or NULL. */
static struct candidates_name *candidates_find_name(struct candidates_name *names, size_t count,
                                                    const char *host)
{
    struct candidates_name *hit = bsearch(host, names, count, sizeof *names, candidates_name_key);
    while (hit != NULL && hit > names && strcmp(hit[-1].name, host) == 0)
        hit--;
    return hit;
}

static int candidates_order_cmp(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    return x->order - y->order;
}

void candidates_sets_clear(struct candidates_sets *sets)
{
    for (size_t i = 0; i < sets->count; i++)
        registry_offers_free(&sets->items[i].offers);
    free(sets->items);
    memset(sets, 0, sizeof *sets);
}

static struct candidates_set *candidates_sets_add(struct candidates_sets *sets)
{
    if (sets->count == sets->cap) {
        size_t cap = sets->cap == 0 ? 16 : sets->cap * 2;
        struct candidates_set *grown = realloc(sets->items, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        sets->items = grown;
        sets->cap = cap;
    }
    struct candidates_set *set = &sets->items[sets->count++];
    memset(set, 0, sizeof *set);
    return set;
}

int candidates_hosts_add(struct candidates_hosts *h, const char *name)
{
    if (h->count == h->cap) {
        size_t cap = h->cap == 0 ? 64 : h->cap * 2;
        char **grown = realloc(h->names, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        h->names = grown;
        h->cap = cap;
    }
    if ((h->names[h->count] = strdup(name)) == NULL)
        return -1;
    h->count++;
    return 0;
}

static int candidates_hosts_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void candidates_hosts_unique(struct candidates_hosts *h)
{
    if (h->count < 2)
        return;
    qsort(h->names, h->count, sizeof *h->names, candidates_hosts_cmp);
    size_t kept = 1;
    for (size_t i = 1; i < h->count; i++) {
        if (strcmp(h->names[i], h->names[kept - 1]) == 0)
            free(h->names[i]);
        else
            h->names[kept++] = h->names[i];
    }
    h->count = kept;
}

void candidates_hosts_clear(struct candidates_hosts *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->names[i]);
    free(h->names);
    memset(h, 0, sizeof *h);
}

bool candidates_hosts_has(const struct candidates_hosts *hosts, const char *name)
{
    return hosts->count > 0 && bsearch(&name, hosts->names, hosts->count, sizeof *hosts->names,
                                       candidates_hosts_cmp) != NULL;
}

static int candidates_hosts_from(struct candidates_hosts *h, const struct registry_offers *o)
{
    for (size_t i = 0; i < o->count; i++) {
        if (candidates_hosts_add(h, o->items[i].host) < 0)
            return -1;
    }
    return 0;
}

/* Above this many offers of a type, a select looks at the likeliest
 * hosts only: those already at the source's version, those at a version
 * known to accept it, and those with the most room. Reading every row of
 * a 10,000-host registry would cost more than all the probes. */
#define CANDIDATES_TOP_ROOMY 64

size_t candidates_roomy_limit(const struct mdevmig_request *req)
{
    return CANDIDATES_TOP_ROOMY + 4 * (req->count > 0 ? req->count : 1);
}

/* The hosts with rows at digest: added to hosts. */
static int candidates_hosts_at(struct mdevmig *m, const char *digest,
                               struct candidates_hosts *hosts, char *err, size_t errlen)
{
    struct registry_offers found;
    if (registry_offers_by_digest(m->registry, digest, &found, err, errlen) < 0)
        return -1;
    int rc = candidates_hosts_from(hosts, &found);
    registry_offers_free(&found);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* The bounded look: gather likely hosts, then every row they have for
 * each of the VM's types. Caller holds the registry lock. */
static int candidates_gather_likely(struct mdevmig *m, const struct source *src,
                                    const struct candidates_types *types,
                                    const struct candidates_known *known,
                                    const struct mdevmig_request *req, struct candidates_sets *sets,
                                    char *err, size_t errlen)
{
    struct candidates_hosts hosts = {0};
    int rc = 0;
    err[0] = '\0';
    size_t limit = candidates_roomy_limit(req);
    for (size_t k = 0; k < types->count && rc == 0; k++) {
        struct registry_offers found;
        rc = registry_offers_top_by_type(m->registry, types->type[k], limit, &found, err, errlen);
        if (rc == 0) {
            rc = candidates_hosts_from(&hosts, &found);
            registry_offers_free(&found);
        }
    }
    for (size_t i = 0; i < src->mdev_count && rc == 0; i++)
        rc = candidates_hosts_at(m, src->mdevs[i].digest, &hosts, err, errlen);
    /* The versions known to accept the source's rank next: their hosts
     * must be read whatever their room. */
    for (size_t v = 0; v < known->version_count && rc == 0; v++) {
        const struct registry_digests *accepting = &known->versions[v].accepting;
        for (size_t d = 0; d < accepting->count && rc == 0; d++) {
            bool source = false;
            for (size_t i = 0; i < src->mdev_count && !source; i++)
                source = strcmp(src->mdevs[i].digest, accepting->items[d]) == 0;
            if (!source)
                rc = candidates_hosts_at(m, accepting->items[d], &hosts, err, errlen);
        }
    }
    candidates_hosts_unique(&hosts);
    for (size_t h = 0; h < hosts.count && rc == 0; h++) {
        for (size_t k = 0; k < types->count && rc == 0; k++) {
            struct candidates_set *set = candidates_sets_add(sets);
            if (set == NULL) {
                rc = -1;
                break;
            }
            set->type_index = k;
            rc = registry_offers_on_host(m->registry, types->type[k], hosts.names[h], &set->offers,
                                         err, errlen);
        }
    }
    if (rc < 0 && err[0] == '\0')
        snprintf(err, errlen, "out of memory");
    candidates_hosts_clear(&hosts);
    return rc;
}

/* Keep only the rows of offers whose host is in hosts. */
static void candidates_offers_within(struct registry_offers *offers,
                                     const struct candidates_hosts *hosts)
{
    size_t kept = 0;
    for (size_t i = 0; i < offers->count; i++) {
        struct registry_offer *o = &offers->items[i];
        if (candidates_hosts_has(hosts, o->host)) {
            offers->items[kept++] = *o;
        } else {
            free(o->host);
            free(o->collector_url);
            free(o->parent);
            free(o->type_id);
        }
    }
    offers->count = kept;
}

/* Above full_scan_max hosts, one read of all the type's rows, filtered,
 * costs far less than a query per host (thousands of them from a large
 * Placement); both give the same rows. */
int candidates_gather_hosts(struct mdevmig *m, const struct candidates_types *types,
                            const struct candidates_hosts *hosts, struct candidates_sets *sets,
                            char *err, size_t errlen)
{
    bool scan = hosts->count > m->full_scan_max;
    size_t queries = scan ? types->count : hosts->count * types->count;
    for (size_t q = 0; q < queries; q++) {
        size_t k = q % types->count;
        struct candidates_set *set = candidates_sets_add(sets);
        if (set == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        set->type_index = k;
        int rc = scan ? registry_offers_all_by_type(m->registry, types->type[k], &set->offers, err,
                                                    errlen)
                      : registry_offers_on_host(m->registry, types->type[k],
                                                hosts->names[q / types->count], &set->offers, err,
                                                errlen);
        if (rc < 0)
            return -1;
        if (scan)
            candidates_offers_within(&set->offers, hosts);
    }
    return 0;
}

/* A filter's rows: Nova's listed hosts' rows of the VM's types. A type
 * with few rows in all (at most full_scan_max, or the list's length) is
 * read whole, as it always was; past that, each listed host's rows are
 * read by themselves, so a filter over 50 hosts in a fleet of 100,000
 * reads 50 hosts' rows, not the fleet's. Caller holds the registry lock. */
static int candidates_gather_listed(struct mdevmig *m, const struct candidates_types *types,
                                    const struct mdevmig_request *req, struct candidates_sets *sets,
                                    char *err, size_t errlen)
{
    struct candidates_hosts hosts = {0};
    int rc = 0;
    for (size_t i = 0; i < req->candidate_count && rc == 0; i++)
        rc = candidates_hosts_add(&hosts, req->candidates[i]);
    if (rc < 0) {
        candidates_hosts_clear(&hosts);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    candidates_hosts_unique(&hosts);
    size_t bound = hosts.count > m->full_scan_max ? hosts.count : m->full_scan_max;
    for (size_t k = 0; k < types->count && rc == 0; k++) {
        size_t rows = 0;
        rc = registry_offers_count(m->registry, types->type[k], bound + 1, &rows, err, errlen);
        bool whole = rows <= bound;
        size_t reads = whole ? 1 : hosts.count;
        for (size_t h = 0; h < reads && rc == 0; h++) {
            struct candidates_set *set = candidates_sets_add(sets);
            if (set == NULL) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            set->type_index = k;
            rc = whole ? registry_offers_all_by_type(m->registry, types->type[k], &set->offers, err,
                                                     errlen)
                       : registry_offers_on_host(m->registry, types->type[k], hosts.names[h],
                                                 &set->offers, err, errlen);
        }
    }
    candidates_hosts_clear(&hosts);
    return rc;
}

/* Every row of the VM's types. Caller holds the registry lock. */
static int candidates_gather_all(struct mdevmig *m, const struct candidates_types *types,
                                 struct candidates_sets *sets, char *err, size_t errlen)
{
    for (size_t k = 0; k < types->count; k++) {
        struct candidates_set *set = candidates_sets_add(sets);
        if (set == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        set->type_index = k;
        if (registry_offers_all_by_type(m->registry, types->type[k], &set->offers, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int candidates_gather(struct mdevmig *m, const struct source *src,
                      const struct candidates_types *types, const struct candidates_known *known,
                      const struct mdevmig_request *req, struct candidates_sets *sets, char *err,
                      size_t errlen)
{
    size_t most = 0;
    for (size_t k = 0; k < types->count; k++) {
        size_t count;
        if (registry_offers_count(m->registry, types->type[k], m->full_scan_max + 1, &count, err,
                                  errlen) < 0)
            return -1;
        most = count > most ? count : most;
    }
    if (most > m->full_scan_max)
        return candidates_gather_likely(m, src, types, known, req, sets, err, errlen);
    return candidates_gather_all(m, types, sets, err, errlen);
}

/* A filter's listed hosts that have no row at all: no type here, the
 * VM's own host, or unknown. */
static int candidates_add_unlisted(const struct source *src, const struct mdevmig_request *req,
                                   const struct candidates_name *names, struct candidates *out,
                                   char *err, size_t errlen)
{
    for (size_t k = 0; k < req->candidate_count; k++) {
        if (names[k].seen || names[k].repeat)
            continue;
        size_t i = names[k].index;
        bool source = src->host != NULL && strcmp(req->candidates[i], src->host) == 0;
        struct candidate *cand = &out->items[out->count++];
        cand->order = (int)i;
        cand->verdict = source ? MDEVMIG_SOURCE_HOST : MDEVMIG_NO_TYPE;
        cand->host = strdup(req->candidates[i]);
        char text[512];
        if (source)
            snprintf(text, sizeof text, "the VM runs on %.200s: not a destination",
                     req->candidates[i]);
        else
            snprintf(text, sizeof text, "host %.200s offers none of the VM's mdev types",
                     req->candidates[i]);
        cand->error = strdup(text);
        cand->needs = calloc(src->mdev_count + 1, sizeof *cand->needs);
        if (cand->host == NULL || cand->error == NULL || cand->needs == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* A filter's host list, sorted, repeats marked; NULL when out of memory. */
static struct candidates_name *candidates_names_of(const struct mdevmig_request *req)
{
    struct candidates_name *names = calloc(req->candidate_count + 1, sizeof *names);
    if (names == NULL)
        return NULL;
    for (size_t i = 0; i < req->candidate_count; i++)
        names[i] = (struct candidates_name){.name = req->candidates[i], .index = i};
    if (req->candidate_count > 1)
        qsort(names, req->candidate_count, sizeof *names, candidates_name_cmp);
    for (size_t i = 1; i < req->candidate_count; i++)
        names[i].repeat = strcmp(names[i].name, names[i - 1].name) == 0;
    return names;
}

int candidates_add_rows(struct mdevmig *m, const struct source *src,
                        const struct candidates_types *types, const struct candidates_known *known,
                        const struct candidates_sets *sets, bool filter,
                        const struct mdevmig_request *req, struct candidates *out, char *err,
                        size_t errlen)
{
    (void)m;
    size_t total = 0;
    for (size_t i = 0; i < sets->count; i++)
        total += sets->items[i].offers.count;
    struct candidates_row *rows = calloc(total + 1, sizeof *rows);
    struct candidates_name *names = filter ? candidates_names_of(req) : NULL;
    /* One candidate per host in the rows; a filter adds its listed hosts
     * that offer nothing (no-type) and drops the rest. */
    size_t room = out->count + (filter ? req->candidate_count : total) + 1;
    struct candidate *grown = rows != NULL ? realloc(out->items, room * sizeof *grown) : NULL;
    if (rows == NULL || (filter && names == NULL) || grown == NULL) {
        free(rows);
        free(names);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->items = grown;
    memset(&out->items[out->count], 0, (room - out->count) * sizeof *out->items);
    size_t n = 0;
    for (size_t i = 0; i < sets->count; i++) {
        const struct registry_offers *offers = &sets->items[i].offers;
        for (size_t r = 0; r < offers->count; r++) {
            if (src->host != NULL && strcmp(offers->items[r].host, src->host) == 0)
                continue; /* never the host it runs on */
            rows[n].offer = &offers->items[r];
            rows[n].type_index = sets->items[i].type_index;
            n++;
        }
    }
    qsort(rows, n, sizeof *rows, candidates_row_cmp);

    int rc = 0;
    for (size_t r = 0; r < n && rc == 0;) {
        size_t end = r + 1;
        while (end < n && strcmp(rows[end].offer->host, rows[r].offer->host) == 0)
            end++;
        int order = -1;
        struct candidates_name *listed =
            filter ? candidates_find_name(names, req->candidate_count, rows[r].offer->host) : NULL;
        if (listed != NULL) {
            listed->seen = true;
            order = (int)listed->index;
        }
        if (!filter || order >= 0) {
            struct candidate *cand = &out->items[out->count++];
            cand->order = order;
            cand->host = strdup(rows[r].offer->host);
            cand->needs = calloc(src->mdev_count + 1, sizeof *cand->needs);
            if (cand->host == NULL || cand->needs == NULL ||
                candidates_fold(cand, src, types, &rows[r], end - r) < 0 ||
                candidates_reason(cand, src) < 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            } else {
                candidates_mark(m, cand, src, known);
            }
        }
        r = end;
    }
    if (rc == 0 && filter) {
        rc = candidates_add_unlisted(src, req, names, out, err, errlen);
        if (rc == 0 && out->count > 1)
            qsort(out->items, out->count, sizeof *out->items, candidates_order_cmp);
    }
    free(rows);
    free(names);
    return rc;
}

int candidates_build(struct mdevmig *m, const struct source *src, const struct mdevmig_request *req,
                     bool filter, struct candidates *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct candidates_types types;
    if (candidates_types_of(src, &types, err, errlen) < 0)
        return -1;
    struct candidates_known known;
    pthread_mutex_lock(&m->registry_lock);
    int rc = candidates_known_load(m, src, &known, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (rc < 0)
        return -1;
    /* A filter is given its hosts by Nova; only a select asks Placement. */
    int placed = 0;
    if (!filter && m->placement != NULL) {
        char why[1024] = "";
        placed =
            candidates_placement(m, src, req, &types, &known, out, why, sizeof why, err, errlen);
        if (placed == 0) {
            log_warn("placement: %s; select falls back to the registry's candidates", why);
            candidates_clear(out);
        }
    }
    if (placed < 0) {
        rc = -1;
    } else if (placed > 0) {
        out->source = "placement";
    } else {
        out->source = "registry";
        struct candidates_sets sets = {0};
        pthread_mutex_lock(&m->registry_lock);
        rc = filter ? candidates_gather_listed(m, &types, req, &sets, err, errlen)
                    : candidates_gather(m, src, &types, &known, req, &sets, err, errlen);
        pthread_mutex_unlock(&m->registry_lock);
        if (rc == 0)
            rc = candidates_add_rows(m, src, &types, &known, &sets, filter, req, out, err, errlen);
        candidates_sets_clear(&sets);
    }
    if (rc == 0 && !filter && out->count > 1)
        qsort(out->items, out->count, sizeof *out->items, candidates_rank_cmp);
    candidates_known_clear(&known);
    if (rc < 0)
        candidates_clear(out);
    return rc;
}
