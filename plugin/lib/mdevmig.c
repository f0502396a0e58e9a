/*
 * mdevmig — libmdevmig's entry points: select and filter, the result they
 * share, and its JSON. A select probes candidates in waves, best ranked
 * first, until it has as many confirmed destinations as asked for; a
 * filter probes every host it was given. Either way a host is returned as
 * able to take the VM only after its drivers accepted every mdev's version
 * in this very call.
 */
#include "ingest.h"
#include "internal.h"

#include "errname.h"
#include "json_text.h"
#include "keystone.h"
#include "placement.h"
#include "verdict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "MAJOR.MINOR.PATCH" from the public header this library was built with. */
#define MDEVMIG_TEXT_(x) #x
#define MDEVMIG_TEXT(x)  MDEVMIG_TEXT_(x)
#define MDEVMIG_VERSION_TEXT                                                                       \
    MDEVMIG_TEXT(MDEVMIG_VERSION_MAJOR)                                                            \
    "." MDEVMIG_TEXT(MDEVMIG_VERSION_MINOR) "." MDEVMIG_TEXT(MDEVMIG_VERSION_PATCH)

/* Probes per wave beyond the count asked for: a few spares absorb the
 * usual refusals without a second round trip. */
#define MDEVMIG_WAVE_SPARE 4
#define MDEVMIG_WAVE_MIN   8

/* A select waits this long for Placement before it falls back to the
 * registry: a slow Placement must not make Nova's scheduling slow. */
#define MDEVMIG_PLACEMENT_CONNECT_MS 1000
#define MDEVMIG_PLACEMENT_TIMEOUT_MS 3000

const char *mdevmig_version(void)
{
    return MDEVMIG_VERSION_TEXT;
}

/* The wire's own table (schema/verdict.c) names them; the orders differ. */
const char *mdevmig_verdict_name(enum mdevmig_verdict verdict)
{
    switch (verdict) {
    case MDEVMIG_COMPATIBLE:
        return verdict_name(VERDICT_COMPATIBLE);
    case MDEVMIG_INCOMPATIBLE:
        return verdict_name(VERDICT_INCOMPATIBLE);
    case MDEVMIG_NO_TYPE:
        return verdict_name(VERDICT_NO_TYPE);
    case MDEVMIG_NO_CAPACITY:
        return verdict_name(VERDICT_NO_CAPACITY);
    case MDEVMIG_UNSUPPORTED:
        return verdict_name(VERDICT_UNSUPPORTED);
    case MDEVMIG_UNREACHABLE:
        return verdict_name(VERDICT_UNREACHABLE);
    case MDEVMIG_NOT_PROBED:
        return verdict_name(VERDICT_NOT_PROBED);
    case MDEVMIG_SOURCE_HOST:
        return verdict_name(VERDICT_SOURCE_HOST);
    case MDEVMIG_NOT_MIGRATABLE:
        return verdict_name(VERDICT_NOT_MIGRATABLE);
    }
    return "unknown";
}

/* The Placement client when candidates come from Placement; nothing
 * otherwise, so registry users never load or reach it. */
static int mdevmig_open_placement(struct mdevmig *m, const struct mdevmig_options *o, char *err,
                                  size_t errlen)
{
    if (o->candidate_source == NULL || strcmp(o->candidate_source, "registry") == 0)
        return 0;
    if (strcmp(o->candidate_source, "placement") != 0) {
        snprintf(err, errlen, "candidate_source '%s': expected registry or placement",
                 o->candidate_source);
        return -1;
    }
    if (o->placement_url == NULL) {
        snprintf(err, errlen, "candidate_source = placement needs placement_url");
        return -1;
    }
    if (o->keystone_auth_url != NULL) {
        struct keystone_options ko = {
            .auth_url = o->keystone_auth_url,
            .username = o->keystone_username,
            .password = o->keystone_password,
            .project = o->keystone_project,
            .user_domain = o->keystone_user_domain,
            .project_domain = o->keystone_project_domain,
            .timeout_ms = MDEVMIG_PLACEMENT_TIMEOUT_MS,
            .ca_file = o->ca_file,
            .client_cert_file = o->tls_client_cert_file,
            .client_key_file = o->tls_client_key_file,
        };
        if ((m->keystone = keystone_new(&ko, err, errlen)) == NULL)
            return -1;
    } else if (o->placement_token == NULL) {
        snprintf(err, errlen, "Placement needs a token or Keystone credentials");
        return -1;
    }
    struct placement_options po = {
        .url = o->placement_url,
        .token = m->keystone != NULL ? NULL : o->placement_token,
        .keystone = m->keystone,
        .connect_timeout_ms = MDEVMIG_PLACEMENT_CONNECT_MS,
        .timeout_ms = MDEVMIG_PLACEMENT_TIMEOUT_MS,
        .user_agent = "mdevmig-sched",
        .ca_file = o->ca_file,
        .client_cert_file = o->tls_client_cert_file,
        .client_key_file = o->tls_client_key_file,
    };
    m->placement = placement_new(&po, err, errlen);
    return m->placement != NULL ? 0 : -1;
}

struct mdevmig *mdevmig_open(const struct mdevmig_options *given, char *err, size_t errlen)
{
    if (given == NULL || given->size < sizeof(size_t)) {
        snprintf(err, errlen, "mdevmig_open: options.size is not set (use MDEVMIG_OPTIONS_INIT)");
        return NULL;
    }
    /* Only what the caller's version of the struct has; the rest zero. */
    struct mdevmig_options copy = {0};
    memcpy(&copy, given, given->size < sizeof copy ? given->size : sizeof copy);
    const struct mdevmig_options *options = &copy;
    struct mdevmig *m = calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->stale_after_s = options->stale_after_s > 0 ? options->stale_after_s : 180;
    m->full_scan_max = options->full_scan_max > 0 ? options->full_scan_max : 256;
    struct http_client_options http = {
        .connect_timeout_ms = options->connect_timeout_ms > 0 ? options->connect_timeout_ms : 1000,
        .timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : 3000,
        .max_parallel = options->max_parallel > 0 ? options->max_parallel : 64,
        .token = options->token,
        .ca_file = options->ca_file,
        .client_cert_file = options->tls_client_cert_file,
        .client_key_file = options->tls_client_key_file,
    };
    m->verify_host_identity = options->verify_host_identity;
    if (pthread_mutex_init(&m->registry_lock, NULL) != 0) {
        free(m);
        snprintf(err, errlen, "cannot create a lock");
        return NULL;
    }
    if (pthread_mutex_init(&m->health_lock, NULL) != 0) {
        pthread_mutex_destroy(&m->registry_lock);
        free(m);
        snprintf(err, errlen, "cannot create a lock");
        return NULL;
    }
    if ((m->touches = touches_new()) == NULL || (m->ingest = ingest_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        mdevmig_close(m);
        return NULL;
    }
    if (registry_open(options->registry_path, &m->registry, err, errlen) < 0 ||
        registry_checkpointer_start(m->registry, &m->checkpointer, err, errlen) < 0 ||
        (m->http = http_client_new(&http, err, errlen)) == NULL ||
        mdevmig_open_placement(m, options, err, errlen) < 0) {
        mdevmig_close(m);
        return NULL;
    }
    return m;
}

int mdevmig_set_credentials(struct mdevmig *m, const char *token, const char *ca_file,
                            const char *tls_client_cert_file, const char *tls_client_key_file,
                            char *err, size_t errlen)
{
    struct http_client_credentials cred = {
        .token = token,
        .ca_file = ca_file,
        .client_cert_file = tls_client_cert_file,
        .client_key_file = tls_client_key_file,
    };
    return http_client_set_credentials(m->http, &cred, err, errlen) == 0 ? MDEVMIG_OK
                                                                         : MDEVMIG_ERR_INPUT;
}

int mdevmig_reserve_page_cache(char *err, size_t errlen)
{
    return registry_reserve_page_cache(err, errlen) == 0 ? MDEVMIG_OK : MDEVMIG_ERR_INTERNAL;
}

void mdevmig_close(struct mdevmig *m)
{
    if (m == NULL)
        return;
    /* Pending heartbeats reach the registry before it closes. */
    touches_free(m, m->touches);
    ingest_free(m->ingest);
    registry_checkpointer_stop(m->checkpointer);
    registry_close(m->registry);
    http_client_free(m->http);
    placement_free(m->placement);
    keystone_free(m->keystone);
    pthread_mutex_destroy(&m->registry_lock);
    pthread_mutex_destroy(&m->health_lock);
    free(m);
}

void mdevmig_result_free(struct mdevmig_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->mdev_count; i++) {
        free(r->mdevs[i].type);
        free(r->mdevs[i].version);
        free(r->mdevs[i].reason);
    }
    free(r->mdevs);
    for (size_t h = 0; h < r->host_count; h++) {
        struct mdevmig_host *host = &r->hosts[h];
        free(host->name);
        free(host->url);
        free(host->error);
        for (size_t p = 0; p < host->probe_count; p++) {
            free(host->probes[p].level);
            free(host->probes[p].target);
            free(host->probes[p].error);
        }
        free(host->probes);
    }
    free(r->hosts);
    free(r->destinations);
    free(r->instance);
    free(r->source_host);
    free(r->reason);
    free(r);
}

static long mdevmig_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

/* Move the source and the candidates into a result (they are emptied). */
static int mdevmig_collect(struct mdevmig *m, const struct mdevmig_request *req, struct source *src,
                           struct candidates *c, bool filter, struct mdevmig_result *r)
{
    r->instance = req->instance != NULL ? strdup(req->instance) : NULL;
    r->source_host = src->host;
    src->host = NULL;
    r->known = src->known;
    r->source_stale = src->stale;
    r->mdevs = src->mdevs;
    r->mdev_count = src->mdev_count;
    src->mdevs = NULL;
    src->mdev_count = 0;
    r->migratable = true;
    for (size_t i = 0; i < r->mdev_count && r->migratable; i++) {
        if (r->mdevs[i].version == NULL) {
            r->migratable = false;
            r->reason =
                strdup(r->mdevs[i].reason != NULL ? r->mdevs[i].reason : "an mdev has no version");
        }
    }
    r->hosts = calloc(c->count + 1, sizeof *r->hosts);
    r->destinations = calloc(c->count + 1, sizeof *r->destinations);
    if (r->hosts == NULL || r->destinations == NULL)
        return -1;
    int64_t now = (int64_t)time(NULL);
    size_t wanted = req->count > 0 ? req->count : 1;
    /* Select: confirmed hosts first, in rank order; the rest after. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < c->count; i++) {
            struct candidate *cand = &c->items[i];
            bool ok = cand->verdict == MDEVMIG_COMPATIBLE;
            if (!filter && (pass == 0) != ok)
                continue;
            if (filter && pass == 1)
                continue;
            struct mdevmig_host *h = &r->hosts[r->host_count++];
            h->name = cand->host;
            h->url = cand->url;
            h->error = cand->error;
            h->probes = cand->probes;
            h->probe_count = cand->probe_count;
            cand->host = cand->url = cand->error = NULL;
            cand->probes = NULL;
            cand->probe_count = 0;
            h->verdict = cand->verdict;
            h->err = cand->err;
            h->stale = cand->last_seen > 0 && now - cand->last_seen > m->stale_after_s;
            h->same_digest = cand->same_digest;
            h->cached_compatible = cand->cached_compatible;
            h->free_instances = cand->free_instances;
            if (ok && (filter || r->destination_count < wanted))
                r->destinations[r->destination_count++] = h->name;
        }
    }
    return r->instance == NULL && req->instance != NULL ? -1 : 0;
}

static int mdevmig_run(struct mdevmig *m, const struct mdevmig_request *req, bool filter,
                       struct mdevmig_result **out, char *err, size_t errlen)
{
    *out = NULL;
    long start = mdevmig_now_us();
    if (filter && req->candidate_count > 0 && req->candidates == NULL) {
        snprintf(err, errlen, "candidates missing");
        return MDEVMIG_ERR_INPUT;
    }
    struct source src;
    int rc = source_resolve(m, req, &src, err, errlen);
    if (rc < 0)
        return rc;
    struct mdevmig_result *r = calloc(1, sizeof *r);
    if (r == NULL) {
        source_clear(&src);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (rc == 0 && req->instance != NULL && src.mdev_count == 0 && filter) {
        /* A known VM with no mdevs: nothing of ours to keep it anywhere. */
        rc = 1;
    }
    if (rc == 1) {
        /* An instance no collector reports: a new boot, in Nova's terms. */
        source_clear(&src);
        if (!filter) {
            free(r);
            snprintf(err, errlen, "instance %s is not known to the registry (no host reports it)",
                     req->instance);
            return MDEVMIG_ERR_NOT_FOUND;
        }
        r->instance = strdup(req->instance);
        r->migratable = true;
        r->destinations = calloc(req->candidate_count + 1, sizeof *r->destinations);
        r->hosts = calloc(req->candidate_count + 1, sizeof *r->hosts);
        if (r->instance == NULL || r->destinations == NULL || r->hosts == NULL) {
            mdevmig_result_free(r);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < req->candidate_count; i++) {
            struct mdevmig_host *h = &r->hosts[r->host_count++];
            if ((h->name = strdup(req->candidates[i])) == NULL) {
                mdevmig_result_free(r);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            h->verdict = MDEVMIG_COMPATIBLE;
            r->destinations[r->destination_count++] = h->name;
        }
        r->elapsed_us = mdevmig_now_us() - start;
        *out = r;
        return 0;
    }

    bool migratable = true;
    for (size_t i = 0; i < src.mdev_count; i++)
        migratable = migratable && src.mdevs[i].version != NULL;
    struct candidates c = {0};
    if (migratable && candidates_build(m, &src, req, filter, &c, err, errlen) < 0) {
        source_clear(&src);
        free(r);
        return -1;
    }
    size_t wanted = req->count > 0 ? req->count : 1;
    size_t probed_to = 0, confirmed = 0;
    long sent = 0;
    while (migratable && probed_to < c.count && (filter || confirmed < wanted)) {
        size_t wave = filter ? c.count : (wanted - confirmed) + MDEVMIG_WAVE_SPARE;
        if (!filter && wave < MDEVMIG_WAVE_MIN)
            wave = MDEVMIG_WAVE_MIN;
        size_t to = probed_to + wave < c.count ? probed_to + wave : c.count;
        long n = confirm_probe(m, &src, &c, probed_to, to, err, errlen);
        if (n < 0) {
            candidates_clear(&c);
            source_clear(&src);
            free(r);
            return -1;
        }
        sent += n;
        for (size_t i = probed_to; i < to; i++)
            confirmed += c.items[i].verdict == MDEVMIG_COMPATIBLE;
        probed_to = to;
        /* Ranked hosts past the first that cannot be probed end it. */
        if (probed_to < c.count && c.items[probed_to].verdict != MDEVMIG_NOT_PROBED)
            break;
    }
    r->probes_sent = (size_t)sent;
    r->candidate_source = c.source;
    int collected = mdevmig_collect(m, req, &src, &c, filter, r);
    candidates_clear(&c);
    source_clear(&src);
    if (collected < 0) {
        mdevmig_result_free(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->elapsed_us = mdevmig_now_us() - start;
    *out = r;
    return 0;
}

/* The request as this version of the library knows it: the caller's
 * fields up to its size, the rest zero. */
static int mdevmig_decide(struct mdevmig *m, const struct mdevmig_request *given, bool filter,
                          struct mdevmig_result **out, char *err, size_t errlen)
{
    *out = NULL;
    if (given == NULL || given->size < sizeof(size_t)) {
        snprintf(err, errlen, "the request's size is not set (use MDEVMIG_REQUEST_INIT)");
        return MDEVMIG_ERR_INPUT;
    }
    struct mdevmig_request request = {0};
    memcpy(&request, given, given->size < sizeof request ? given->size : sizeof request);
    int rc = mdevmig_run(m, &request, filter, out, err, errlen);
    store_outcome(m, rc, err);
    return rc;
}

int mdevmig_select(struct mdevmig *m, const struct mdevmig_request *request,
                   struct mdevmig_result **out, char *err, size_t errlen)
{
    return mdevmig_decide(m, request, false, out, err, errlen);
}

int mdevmig_filter(struct mdevmig *m, const struct mdevmig_request *request,
                   struct mdevmig_result **out, char *err, size_t errlen)
{
    return mdevmig_decide(m, request, true, out, err, errlen);
}

static void mdevmig_put_errno(struct json_text *t, int err)
{
    if (err != 0)
        json_text_integer(t, err);
    else
        json_text_null(t);
}

static void mdevmig_put_host(struct json_text *t, const struct mdevmig_host *host)
{
    json_text_object_begin(t);
    json_text_key(t, "host");
    json_text_string(t, host->name);
    json_text_key(t, "verdict");
    json_text_string(t, mdevmig_verdict_name(host->verdict));
    json_text_key(t, "errno");
    mdevmig_put_errno(t, host->err);
    json_text_key(t, "errno_name");
    json_text_string(t, host->err ? errname_of(host->err) : NULL);
    json_text_key(t, "error");
    json_text_string(t, host->error);
    json_text_key(t, "stale");
    json_text_bool(t, host->stale);
    json_text_key(t, "same_version");
    json_text_bool(t, host->same_digest);
    json_text_key(t, "cached_compatible");
    json_text_bool(t, host->cached_compatible);
    json_text_key(t, "free_instances");
    json_text_integer(t, host->free_instances);
    json_text_key(t, "probes");
    json_text_array_begin(t);
    for (size_t p = 0; p < host->probe_count; p++) {
        const struct mdevmig_probe *probe = &host->probes[p];
        json_text_object_begin(t);
        json_text_key(t, "mdev");
        json_text_integer(t, (long long)probe->mdev);
        json_text_key(t, "verdict");
        json_text_string(t, mdevmig_verdict_name(probe->verdict));
        json_text_key(t, "level");
        json_text_string(t, probe->level);
        json_text_key(t, "target");
        json_text_string(t, probe->target);
        json_text_key(t, "errno");
        mdevmig_put_errno(t, probe->err);
        json_text_key(t, "error");
        json_text_string(t, probe->error);
        json_text_key(t, "elapsed_us");
        json_text_integer(t, (long long)probe->elapsed_us);
        json_text_object_end(t);
    }
    json_text_array_end(t);
    json_text_object_end(t);
}

/* Written, not built with jansson: a filter's answer holds an object per
 * probe, and a tree of them cost 4-5 us per probe (json_text.h). */
char *mdevmig_result_json(const struct mdevmig_result *r)
{
    struct json_text t = {0};
    json_text_object_begin(&t);
    json_text_key(&t, "instance");
    json_text_string(&t, r->instance);
    json_text_key(&t, "source_host");
    json_text_string(&t, r->source_host);
    json_text_key(&t, "known");
    json_text_bool(&t, r->known);
    json_text_key(&t, "source_stale");
    json_text_bool(&t, r->source_stale);
    json_text_key(&t, "migratable");
    json_text_bool(&t, r->migratable);
    json_text_key(&t, "reason");
    json_text_string(&t, r->reason);
    json_text_key(&t, "mdevs");
    json_text_array_begin(&t);
    for (size_t i = 0; i < r->mdev_count; i++) {
        const struct mdevmig_mdev *mdev = &r->mdevs[i];
        json_text_object_begin(&t);
        json_text_key(&t, "uuid");
        json_text_string(&t, mdev->uuid[0] ? mdev->uuid : NULL);
        json_text_key(&t, "type");
        json_text_string(&t, mdev->type);
        json_text_key(&t, "version");
        json_text_string(&t, mdev->version);
        json_text_key(&t, "digest");
        json_text_string(&t, mdev->digest[0] ? mdev->digest : NULL);
        json_text_key(&t, "reason");
        json_text_string(&t, mdev->reason);
        json_text_object_end(&t);
    }
    json_text_array_end(&t);
    json_text_key(&t, "destinations");
    json_text_array_begin(&t);
    for (size_t d = 0; d < r->destination_count; d++)
        json_text_string(&t, r->destinations[d]);
    json_text_array_end(&t);
    json_text_key(&t, "hosts");
    json_text_array_begin(&t);
    size_t not_probed = 0;
    for (size_t h = 0; h < r->host_count; h++) {
        /* Thousands of rows of "not needed" help nobody: count them. */
        if (r->hosts[h].verdict == MDEVMIG_NOT_PROBED)
            not_probed++;
        else
            mdevmig_put_host(&t, &r->hosts[h]);
    }
    json_text_array_end(&t);
    json_text_key(&t, "not_probed");
    json_text_integer(&t, (long long)not_probed);
    json_text_key(&t, "probes_sent");
    json_text_integer(&t, (long long)r->probes_sent);
    json_text_key(&t, "elapsed_us");
    json_text_integer(&t, (long long)r->elapsed_us);
    json_text_key(&t, "candidate_source");
    json_text_string(&t, r->candidate_source);
    json_text_object_end(&t);
    return json_text_take(&t, NULL);
}
