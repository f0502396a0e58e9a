/*
 * traits — the Placement publisher thread. Per snapshot it works out the
 * traits each parent earns (traitset.h); when they equal what it last
 * applied it makes no call at all, so an unchanged host costs Placement
 * nothing. Otherwise it finds the host's provider tree (root by name =
 * host, Nova's pGPU children by name), maps each parent to its provider,
 * makes sure the custom traits exist, and then read-merge-writes each
 * provider of the tree with its generation: a provider no parent maps to
 * any more loses mdevmig's traits, nobody else's. A 409 (someone wrote
 * the provider between our read and write) is re-read and retried after
 * a jittered pause, a bounded number of times; any other failure fails
 * the round, which is retried with backoff on the newest snapshot.
 */
#include "traits.h"

#include "auth.h"
#include "inventory.h"
#include "keystone.h"
#include "log.h"
#include "monotonic.h"
#include "placement.h"
#include "traitset.h"
#include "wire.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TRAITS_BACKOFF_MIN_S 0.5
/* Shorter than the registry's: catching up after an outage is the point. */
#define TRAITS_BACKOFF_MAX_S 15.0
/* Writes on one provider lost to others before the round gives up (and
 * is retried with backoff); the pause doubles from the first. */
#define TRAITS_CONFLICT_TRIES   8
#define TRAITS_CONFLICT_PAUSE_S 0.05
#define TRAITS_HTTP_TIMEOUT_MS  5000L

/* The traits one parent earns, as last applied. */
struct traits_want {
    char *parent;
    struct traitset set;
};

struct traits_wants {
    struct traits_want *items;
    size_t count;
};

struct traits {
    char *host;
    bool create_providers;
    struct keystone *keystone;
    struct placement *placement;

    /* Thread-only state. */
    struct traits_wants applied; /* what Placement holds, as far as we know */
    bool have_applied;
    struct traitset known; /* custom traits known to exist in Placement */
    unsigned int seed;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    char *pending;
    int64_t pending_generation;
    bool stopping;
    pthread_t thread;
    struct traits_stats stats;
};

static void traits_wants_free(struct traits_wants *w)
{
    for (size_t i = 0; i < w->count; i++) {
        free(w->items[i].parent);
        traitset_free(&w->items[i].set);
    }
    free(w->items);
    w->items = NULL;
    w->count = 0;
}

static bool traits_wants_equal(const struct traits_wants *a, const struct traits_wants *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->items[i].parent, b->items[i].parent) != 0 ||
            !traitset_equal(&a->items[i].set, &b->items[i].set))
            return false;
    }
    return true;
}

/* Each parent's traits, in inventory order (the scan sorts parents). */
static int traits_wants_build(const struct inventory *inv, struct traits_wants *out, char *err,
                              size_t errlen)
{
    out->items = calloc(inv->parent_count + 1, sizeof *out->items);
    out->count = 0;
    if (out->items == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < inv->parent_count; i++) {
        struct traits_want *w = &out->items[i];
        out->count = i + 1;
        w->parent = strdup(inv->parents[i].name);
        if (w->parent == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        if (traitset_for_parent(&inv->parents[i], &w->set, err, errlen) < 0)
            goto fail;
    }
    return 0;
fail:
    traits_wants_free(out);
    return -1;
}

static void traits_count(struct traits *t, unsigned long *counter)
{
    pthread_mutex_lock(&t->lock);
    (*counter)++;
    pthread_mutex_unlock(&t->lock);
}

/* Sleep seconds unless asked to stop; true when stopping. */
static bool traits_pause(struct traits *t, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long long ns = (long long)(seconds * 1e9);
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec += (long)(ns % 1000000000LL);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        if (pthread_cond_timedwait(&t->wake, &t->lock, &until) == ETIMEDOUT)
            break;
    }
    bool stopping = t->stopping;
    pthread_mutex_unlock(&t->lock);
    return stopping;
}

/* Read-merge-write one provider until it holds desired (and everything
 * else it held), retrying lost races. */
static int traits_write_provider(struct traits *t, const struct placement_provider *p,
                                 const struct traitset *desired, char *err, size_t errlen)
{
    struct placement_error perr;
    double pause = TRAITS_CONFLICT_PAUSE_S;
    for (int attempt = 1;; attempt++) {
        struct placement_traits current = {0};
        if (placement_traits_get(t->placement, p->uuid, &current, &perr) < 0) {
            snprintf(err, errlen, "%s", perr.message);
            return -1;
        }
        struct traitset merged;
        bool changed = false;
        int rc = traitset_merge((const char *const *)current.names, current.count, desired, &merged,
                                &changed);
        int64_t generation = current.generation;
        placement_traits_free(&current);
        if (rc < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (!changed) {
            traitset_free(&merged);
            return 0;
        }
        rc = placement_traits_put(t->placement, p->uuid, (const char *const *)merged.names,
                                  merged.count, generation, NULL, &perr);
        traitset_free(&merged);
        if (rc == 0) {
            traits_count(t, &t->stats.writes);
            log_debug("placement: provider %s (%s) traits written at generation %lld", p->name,
                      p->uuid, (long long)generation);
            return 0;
        }
        if (!placement_error_is_conflict(&perr)) {
            if (perr.status == 400)
                traitset_free(&t->known); /* a custom trait may have been deleted */
            snprintf(err, errlen, "%s", perr.message);
            return -1;
        }
        traits_count(t, &t->stats.conflicts);
        if (attempt == TRAITS_CONFLICT_TRIES) {
            snprintf(err, errlen,
                     "provider %s (%s): lost %d writes in a row to others changing it; "
                     "trying again later",
                     p->name, p->uuid, attempt);
            return -1;
        }
        /* Jitter: 50-100% of the pause, so two writers that collided do
         * not collide again in step. */
        double wait = pause * (0.5 + 0.5 * (double)rand_r(&t->seed) / RAND_MAX);
        log_info("placement: provider %s changed between our read and write (409 %s); "
                 "re-reading in %.0f ms (attempt %d of %d)",
                 p->name, perr.code, wait * 1000, attempt + 1, TRAITS_CONFLICT_TRIES);
        if (traits_pause(t, wait)) {
            snprintf(err, errlen, "stopping");
            return -1;
        }
        pause *= 2;
    }
}

/* The host's root provider: found by name, or made when allowed. */
static int traits_root(struct traits *t, struct placement_provider *root, char *err, size_t errlen)
{
    struct placement_error perr;
    int found = placement_provider_find(t->placement, t->host, root, &perr);
    if (found < 0) {
        snprintf(err, errlen, "%s", perr.message);
        return -1;
    }
    if (found == 1)
        return 0;
    if (!t->create_providers) {
        snprintf(err, errlen,
                 "Placement has no resource provider named \"%s\" (Nova's compute service "
                 "makes it; or set create_providers = true)",
                 t->host);
        return -1;
    }
    if (placement_provider_create(t->placement, t->host, NULL, root, &perr) < 0) {
        snprintf(err, errlen, "%s", perr.message);
        return -1;
    }
    log_info("placement: created root provider %s (%s)", root->name, root->uuid);
    return 0;
}

/* Index in tree of the provider named name, or -1. */
static long traits_find(const struct placement_provider_list *tree, const char *name)
{
    for (size_t i = 0; i < tree->count; i++) {
        if (strcmp(tree->items[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

static int traits_tree_add(struct placement_provider_list *tree, const struct placement_provider *p)
{
    struct placement_provider *grown = realloc(tree->items, (tree->count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    tree->items = grown;
    tree->items[tree->count++] = *p;
    return 0;
}

/* Make every custom trait in set exist (each once per process). A
 * restarted collector first asks which already exist, so a fleet
 * restarting after an upgrade costs Placement one GET per host, not a PUT
 * per trait. */
static int traits_ensure(struct traits *t, const struct traitset *set, char *err, size_t errlen)
{
    const char **unknown = calloc(set->count + 1, sizeof *unknown);
    bool *exists = calloc(set->count + 1, sizeof *exists);
    int rc = -1;
    if (unknown == NULL || exists == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < set->count; i++) {
        if (!traitset_has(&t->known, set->names[i]))
            unknown[n++] = set->names[i];
    }
    struct placement_error perr;
    if (n > 1 && placement_traits_existing(t->placement, unknown, n, exists, &perr) < 0) {
        snprintf(err, errlen, "%s", perr.message);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!exists[i] && placement_trait_ensure(t->placement, unknown[i], &perr) < 0) {
            snprintf(err, errlen, "%s", perr.message);
            goto out;
        }
        if (traitset_add(&t->known, unknown[i]) < 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    free(unknown);
    free(exists);
    return rc;
}

/* Make Placement hold wants on the host's provider tree. */
static int traits_apply(struct traits *t, const struct traits_wants *wants, char *err,
                        size_t errlen)
{
    struct placement_provider root;
    if (traits_root(t, &root, err, errlen) < 0)
        return -1;
    struct placement_provider_list tree = {0};
    struct placement_error perr;
    if (placement_provider_tree(t->placement, root.uuid, &tree, &perr) < 0) {
        snprintf(err, errlen, "%s", perr.message);
        return -1;
    }
    int rc = -1;
    /* desired[i]: the traits tree.items[i] must carry. */
    struct traitset *desired = NULL;
    struct traitset all = {0};
    size_t root_at = 0;
    long found = traits_find(&tree, root.name);
    if (found < 0 && traits_tree_add(&tree, &root) < 0)
        goto oom;
    root_at = found < 0 ? tree.count - 1 : (size_t)found;
    size_t slots = tree.count + wants->count;
    desired = calloc(slots + 1, sizeof *desired);
    if (desired == NULL)
        goto oom;
    for (size_t w = 0; w < wants->count; w++) {
        const struct traits_want *want = &wants->items[w];
        char name[PLACEMENT_NAME_MAX];
        size_t at = root_at;
        if (traitset_provider_name(t->host, want->parent, name, sizeof name) == 0) {
            long i = traits_find(&tree, name);
            if (i >= 0) {
                at = (size_t)i;
            } else if (t->create_providers && want->set.count > 0) {
                struct placement_provider child;
                if (placement_provider_create(t->placement, name, root.uuid, &child, &perr) < 0) {
                    snprintf(err, errlen, "%s", perr.message);
                    goto out;
                }
                log_info("placement: created provider %s (%s) for parent %s", child.name,
                         child.uuid, want->parent);
                if (traits_tree_add(&tree, &child) < 0)
                    goto oom;
                at = tree.count - 1;
            }
        }
        if (traitset_union(&desired[at], &want->set) < 0 || traitset_union(&all, &want->set) < 0)
            goto oom;
    }
    if (traits_ensure(t, &all, err, errlen) < 0)
        goto out;
    for (size_t i = 0; i < tree.count; i++) {
        if (traits_write_provider(t, &tree.items[i], &desired[i], err, errlen) < 0)
            goto out;
    }
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    if (desired != NULL) {
        for (size_t i = 0; i < slots; i++)
            traitset_free(&desired[i]);
    }
    free(desired);
    traitset_free(&all);
    placement_provider_list_free(&tree);
    return rc;
}

/* One round on a snapshot: 0 applied (or nothing to do), -1 failed. */
static int traits_round(struct traits *t, const char *snapshot, int64_t generation)
{
    json_error_t jerr;
    json_t *json = json_loads(snapshot, 0, &jerr);
    struct inventory inv;
    char err[1024];
    if (json == NULL || wire_inventory_from_json(json, &inv, err, sizeof err) < 0) {
        /* Our own output did not parse back: a bug, not Placement's fault. */
        log_error("placement: snapshot %lld does not parse: %s", (long long)generation,
                  json == NULL ? jerr.text : err);
        json_decref(json);
        return 0;
    }
    json_decref(json);
    struct traits_wants wants;
    int rc = traits_wants_build(&inv, &wants, err, sizeof err);
    inventory_free(&inv);
    if (rc < 0) {
        log_error("placement: generation %lld: %s", (long long)generation, err);
        return 0;
    }
    if (t->have_applied && traits_wants_equal(&wants, &t->applied)) {
        traits_wants_free(&wants);
        traits_count(t, &t->stats.unchanged);
        return 0;
    }
    if (traits_apply(t, &wants, err, sizeof err) < 0) {
        traits_wants_free(&wants);
        pthread_mutex_lock(&t->lock);
        bool stopping = t->stopping;
        pthread_mutex_unlock(&t->lock);
        if (!stopping)
            log_warn("placement: generation %lld not published: %s", (long long)generation, err);
        return -1;
    }
    traits_wants_free(&t->applied);
    t->applied = wants;
    t->have_applied = true;
    traits_count(t, &t->stats.applied);
    log_info("placement: traits of generation %lld published", (long long)generation);
    return 0;
}

static void traits_after(struct timespec *ts, double seconds)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    long long ns = (long long)(seconds * 1e9);
    ts->tv_sec += (time_t)(ns / 1000000000LL);
    ts->tv_nsec += (long)(ns % 1000000000LL);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *traits_thread(void *arg)
{
    struct traits *t = arg;
    int64_t attempted = -1;
    double backoff = 0;
    struct timespec retry_at = {0};
    pthread_mutex_lock(&t->lock);
    for (;;) {
        if (t->stopping)
            break;
        bool fresh = t->pending != NULL && t->pending_generation > attempted;
        if (backoff > 0) {
            /* Failing: wait out the pause, then try the newest snapshot. */
            if (pthread_cond_timedwait(&t->wake, &t->lock, &retry_at) != ETIMEDOUT)
                continue;
        } else if (!fresh) {
            pthread_cond_wait(&t->wake, &t->lock);
            continue;
        }
        char *snapshot = strdup(t->pending);
        int64_t generation = t->pending_generation;
        pthread_mutex_unlock(&t->lock);

        int rc = snapshot != NULL ? traits_round(t, snapshot, generation) : -1;
        free(snapshot);
        pthread_mutex_lock(&t->lock);
        attempted = generation;
        if (rc == 0) {
            if (backoff > 0)
                log_info("placement: back; generation %lld published", (long long)generation);
            backoff = 0;
            t->stats.last_generation = generation;
        } else {
            t->stats.failures++;
            backoff = backoff == 0 ? TRAITS_BACKOFF_MIN_S : backoff * 2;
            if (backoff > TRAITS_BACKOFF_MAX_S)
                backoff = TRAITS_BACKOFF_MAX_S;
            traits_after(&retry_at, backoff);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static void traits_free(struct traits *t)
{
    placement_free(t->placement);
    keystone_free(t->keystone);
    traits_wants_free(&t->applied);
    traitset_free(&t->known);
    free(t->pending);
    free(t->host);
    free(t);
}

/* The Keystone client, from the options and the password file. */
static int traits_keystone(struct traits *t, const struct traits_options *o, char *err,
                           size_t errlen)
{
    if (o->keystone_username == NULL || o->keystone_password_file == NULL ||
        o->keystone_project == NULL) {
        snprintf(err, errlen,
                 "keystone_auth_url needs keystone_username, keystone_password_file and "
                 "keystone_project");
        return -1;
    }
    struct auth_token password;
    char why[512];
    if (auth_token_load(o->keystone_password_file, &password, why, sizeof why) < 0) {
        snprintf(err, errlen, "keystone_password_file: %s", why);
        return -1;
    }
    struct keystone_options ko = {
        .auth_url = o->keystone_auth_url,
        .username = o->keystone_username,
        .password = password.value,
        .project = o->keystone_project,
        .user_domain = o->keystone_user_domain,
        .project_domain = o->keystone_project_domain,
        .timeout_ms = TRAITS_HTTP_TIMEOUT_MS,
        .ca_file = o->ca_file,
        .client_cert_file = o->client_cert_file,
        .client_key_file = o->client_key_file,
    };
    t->keystone = keystone_new(&ko, err, errlen);
    explicit_bzero(&password, sizeof password);
    return t->keystone != NULL ? 0 : -1;
}

struct traits *traits_start(const struct traits_options *o, char *err, size_t errlen)
{
    struct traits *t = calloc(1, sizeof *t);
    if (t == NULL || (t->host = strdup(o->host)) == NULL) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->create_providers = o->create_providers;
    t->pending_generation = -1;
    t->stats.last_generation = -1;
    t->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();

    struct auth_token token = {0};
    bool keystone = o->keystone_auth_url != NULL;
    if (keystone && (o->token != NULL || o->token_file != NULL))
        log_warn("placement: Keystone credentials and a static token are both set; using "
                 "Keystone");
    else if (o->token != NULL && o->token_file != NULL)
        log_warn("placement: placement_token and placement_token_file are both set; using "
                 "the file");
    if (keystone) {
        if (traits_keystone(t, o, err, errlen) < 0) {
            traits_free(t);
            return NULL;
        }
    } else if (o->token_file != NULL) {
        char why[512];
        if (auth_token_load(o->token_file, &token, why, sizeof why) < 0) {
            snprintf(err, errlen, "placement_token_file: %s", why);
            traits_free(t);
            return NULL;
        }
    } else if (o->token != NULL) {
        snprintf(token.value, sizeof token.value, "%s", o->token);
    } else {
        snprintf(err, errlen,
                 "placement_url needs placement_token_file (or placement_token), or Keystone "
                 "credentials (keystone_auth_url ...)");
        traits_free(t);
        return NULL;
    }
    struct placement_options po = {
        .url = o->url,
        .token = keystone ? NULL : token.value,
        .keystone = t->keystone,
        .timeout_ms = TRAITS_HTTP_TIMEOUT_MS,
        .user_agent = "mdevmig-collector",
        .ca_file = o->ca_file,
        .client_cert_file = o->client_cert_file,
        .client_key_file = o->client_key_file,
    };
    t->placement = placement_new(&po, err, errlen);
    explicit_bzero(&token, sizeof token);
    if (t->placement == NULL) {
        traits_free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    int rc = monotonic_cond_init(&t->wake);
    if (rc != 0) {
        snprintf(err, errlen, "Placement publisher: cannot create its wake-up: %s", strerror(rc));
        pthread_mutex_destroy(&t->lock);
        traits_free(t);
        return NULL;
    }
    rc = pthread_create(&t->thread, NULL, traits_thread, t);
    if (rc != 0) {
        snprintf(err, errlen, "Placement publisher thread: %s", strerror(rc));
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->wake);
        traits_free(t);
        return NULL;
    }
    log_info("placement: publishing traits of host %s to %s (%s)", t->host, o->url,
             keystone ? "Keystone auth" : "static token");
    return t;
}

void traits_offer(struct traits *t, const char *json, size_t len, int64_t generation)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        log_error("placement: out of memory; generation %lld not queued", (long long)generation);
        return;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    pthread_mutex_lock(&t->lock);
    free(t->pending);
    t->pending = copy;
    t->pending_generation = generation;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
}

void traits_get_stats(struct traits *t, struct traits_stats *out)
{
    pthread_mutex_lock(&t->lock);
    *out = t->stats;
    pthread_mutex_unlock(&t->lock);
}

void traits_stop(struct traits *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->wake);
    traits_free(t);
}
