/*
 * api — mdevmig-sched's HTTP API: collectors' snapshots in, the registry's
 * view out, the two questions a scheduler asks (select: where can this VM
 * go; filter: which of these hosts can take it), and the two an operator
 * asks of the whole cluster (evacuate: where does every VM of this host
 * go; matrix: which version can go where), answered by libmdevmig with
 * live probes; readiness and rollout are in api_fleet.c. Input is checked
 * here, before the library sees it.
 */
#include "api.h"
#include "service.h"

#include "buildinfo.h"
#include "heartbeat_wire.h"
#include "log.h"
#include "metrics_reply.h"
#include "textbuf.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHED_HOSTS_PREFIX "/v1/hosts/"
#define SCHED_MAX_LIST     100000 /* hosts in a filter */
#define SCHED_MAX_DEVICES  64     /* devices of one VM, as "mdevs" */

/* POST /v1/hosts/{host}/inventory */
static void sched_ingest(struct sched *s, const char *host, const struct http_request *req,
                         struct http_response *resp)
{
    /* Mutual TLS: a host publishes only for itself, so one compromised
     * host cannot point the sched's probes (and the token) elsewhere. */
    if (s->host_identity && !http_request_client_is(req, host)) {
        atomic_fetch_add(&s->ingest_rejected, 1);
        log_warn("ingest for host %s from %s refused: its client certificate does not name %s",
                 host, req->peer, host);
        http_response_error(resp, 403,
                            "the client certificate does not name host %s: under mutual TLS a "
                            "collector publishes only its own host's inventory",
                            host);
        return;
    }
    char err[1024];
    int64_t generation = 0;
    bool applied = false;
    int rc = mdevmig_ingest(s->lib, host, req->body, req->body_len, &generation, &applied, err,
                            sizeof err);
    if (rc == MDEVMIG_OK) {
        atomic_fetch_add(applied ? &s->ingest_applied : &s->ingest_ignored, 1);
        http_response_json(
            resp, 200,
            json_pack("{s:b, s:I}", "applied", applied, "generation", (json_int_t)generation));
        return;
    }
    if (rc == MDEVMIG_ERR_INTERNAL) {
        log_error("ingest from %s (host %s): %s", req->peer, host, err);
        http_response_error(resp, 500, "%s", err);
        return;
    }
    atomic_fetch_add(&s->ingest_rejected, 1);
    http_response_error(resp, rc == MDEVMIG_ERR_FORBIDDEN ? 403 : 400, "%s", err);
}

/* POST /v1/hosts/{host}/heartbeat {"generation": N}: 200 when the
 * registry holds exactly N (only last_seen moves), 409 naming what it
 * holds otherwise, which makes the collector send its inventory. */
static void sched_heartbeat(struct sched *s, const char *host, const struct http_request *req,
                            struct http_response *resp)
{
    /* The same rule as for snapshots: a host keeps only itself fresh. */
    if (s->host_identity && !http_request_client_is(req, host)) {
        atomic_fetch_add(&s->ingest_rejected, 1);
        log_warn("heartbeat for host %s from %s refused: its client certificate does not name %s",
                 host, req->peer, host);
        http_response_error(resp, 403,
                            "the client certificate does not name host %s: under mutual TLS a "
                            "collector heartbeats only for its own host",
                            host);
        return;
    }
    char err[1024];
    int64_t generation = -1;
    bool touched = false;
    int rc = mdevmig_heartbeat(s->lib, host, req->body, req->body_len, &generation, &touched, err,
                               sizeof err);
    if (rc == MDEVMIG_OK || rc == MDEVMIG_ERR_CONFLICT) {
        atomic_fetch_add(rc == MDEVMIG_OK ? &s->heartbeat_touched : &s->heartbeat_conflict, 1);
        const struct heartbeat_wire_reply reply = {
            .touched = rc == MDEVMIG_OK,
            .known = generation >= 0,
            .generation = generation,
            .error = rc == MDEVMIG_OK ? NULL : err,
        };
        http_response_json(resp, rc == MDEVMIG_OK ? 200 : 409,
                           heartbeat_wire_reply_to_json(&reply));
        return;
    }
    if (rc == MDEVMIG_ERR_INTERNAL) {
        log_error("heartbeat from %s (host %s): %s", req->peer, host, err);
        http_response_error(resp, 500, "%s", err);
        return;
    }
    atomic_fetch_add(&s->ingest_rejected, 1);
    http_response_error(resp, 400, "%s", err);
}

/* GET /v1/inventory and GET /v1/hosts/{host}/inventory */
static void sched_inventory(struct sched *s, const char *only, struct http_response *resp)
{
    char err[1024];
    char *text = NULL;
    int rc = mdevmig_inventory_json(s->lib, only, &text, err, sizeof err);
    if (rc != MDEVMIG_OK) {
        http_response_error(resp, rc == MDEVMIG_ERR_NOT_FOUND ? 404 : 500, "%s", err);
        return;
    }
    http_response_take(resp, 200, "application/json", text, strlen(text));
}

static int sched_strcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Strings of a JSON array, borrowed from json; at most max of them, none
 * twice. */
const char **sched_strings(const json_t *array, const char *what, size_t max, size_t *count,
                           char *err, size_t errlen)
{
    *count = 0;
    if (!json_is_array(array)) {
        snprintf(err, errlen, "\"%s\" must be an array of strings", what);
        return NULL;
    }
    if (json_array_size(array) > max) {
        snprintf(err, errlen, "\"%s\" has more than %zu entries", what, max);
        return NULL;
    }
    const char **out = calloc(json_array_size(array) + 1, sizeof *out);
    if (out == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        if (!json_is_string(item) || json_string_length(item) == 0 ||
            json_string_length(item) > 255 ||
            strlen(json_string_value(item)) != json_string_length(item)) {
            snprintf(err, errlen, "\"%s\"[%zu] must be a non-empty string (at most 255 bytes)",
                     what, i);
            free(out);
            return NULL;
        }
        out[i] = json_string_value(item);
    }
    *count = json_array_size(array);
    /* A repeated entry is a caller's bug that would only multiply work
     * (100,000 copies of one device once ran for 19 s): refused. */
    const char **sorted = calloc(*count + 1, sizeof *sorted);
    if (sorted == NULL) {
        snprintf(err, errlen, "out of memory");
        free(out);
        *count = 0;
        return NULL;
    }
    memcpy(sorted, out, *count * sizeof *sorted);
    qsort(sorted, *count, sizeof *sorted, sched_strcmp);
    for (size_t k = 1; k < *count; k++) {
        if (strcmp(sorted[k - 1], sorted[k]) == 0) {
            snprintf(err, errlen, "\"%s\" names \"%.255s\" more than once", what, sorted[k]);
            free(sorted);
            free(out);
            *count = 0;
            return NULL;
        }
    }
    free(sorted);
    return out;
}

/* The parts of a select or filter request, pointing into json. */
struct sched_request {
    struct mdevmig_request req;
    const char **devices;
    const char **hosts;
    struct mdevmig_spec *specs;
};

static void sched_request_clear(struct sched_request *r)
{
    free(r->devices);
    free(r->hosts);
    free(r->specs);
}

static int sched_request_parse(const json_t *json, bool filter, struct sched_request *r, char *err,
                               size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->req.size = sizeof r->req;
    if (!json_is_object(json)) {
        snprintf(err, errlen, "the body must be a JSON object");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json, key, value)
    {
        static const char *const known[] = {"instance", "host",  "devices",
                                            "mdevs",    "count", "hosts"};
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0] && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok || (filter && strcmp(key, "count") == 0) ||
            (!filter && strcmp(key, "hosts") == 0)) {
            snprintf(err, errlen,
                     "unknown field \"%.64s\" (expected instance, or host and devices, or "
                     "mdevs%s)",
                     key, filter ? "; and hosts" : "; and count");
            return -1;
        }
    }
    const json_t *instance = json_object_get(json, "instance");
    if (instance != NULL && !json_is_string(instance)) {
        snprintf(err, errlen, "\"instance\" must be a UUID string");
        return -1;
    }
    r->req.instance = json_string_value(instance);
    const json_t *host = json_object_get(json, "host");
    if (host != NULL && (!json_is_string(host) || json_string_length(host) == 0)) {
        snprintf(err, errlen, "\"host\" must be a host name");
        return -1;
    }
    r->req.host = json_string_value(host);
    char why[96];
    if (r->req.host != NULL && !mdevmig_host_name_valid(r->req.host, why, sizeof why)) {
        snprintf(err, errlen, "\"host\" %s; it must be %s", why, mdevmig_host_name_rule());
        return -1;
    }
    const json_t *devices = json_object_get(json, "devices");
    if (devices != NULL) {
        if (host == NULL) {
            snprintf(err, errlen, "\"devices\" goes with \"host\"");
            return -1;
        }
        if ((r->devices = sched_strings(devices, "devices", SCHED_MAX_DEVICES, &r->req.device_count,
                                        err, errlen)) == NULL)
            return -1;
        r->req.devices = r->devices;
    }
    const json_t *mdevs = json_object_get(json, "mdevs");
    if (mdevs != NULL) {
        if (!json_is_array(mdevs) || json_array_size(mdevs) == 0 || json_array_size(mdevs) > 64) {
            snprintf(err, errlen, "\"mdevs\" must be an array of 1 to 64 {type, version}");
            return -1;
        }
        r->specs = calloc(json_array_size(mdevs), sizeof *r->specs);
        if (r->specs == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        size_t i;
        json_t *item;
        json_array_foreach(mdevs, i, item)
        {
            const json_t *type = json_object_get(item, "type");
            const json_t *version = json_object_get(item, "version");
            if (!json_is_object(item) || json_object_size(item) != 2 || !json_is_string(type) ||
                !json_is_string(version) ||
                strlen(json_string_value(version)) != json_string_length(version)) {
                snprintf(err, errlen, "\"mdevs\"[%zu] must be {\"type\": ..., \"version\": ...}",
                         i);
                return -1;
            }
            r->specs[i].type = json_string_value(type);
            r->specs[i].version = json_string_value(version);
        }
        r->req.specs = r->specs;
        r->req.spec_count = json_array_size(mdevs);
    }
    const json_t *count = json_object_get(json, "count");
    if (count != NULL) {
        if (!json_is_integer(count) || json_integer_value(count) < 1 ||
            json_integer_value(count) > 10000) {
            snprintf(err, errlen, "\"count\" must be an integer from 1 to 10000");
            return -1;
        }
        r->req.count = (size_t)json_integer_value(count);
    }
    if (filter) {
        const json_t *hosts = json_object_get(json, "hosts");
        if (hosts == NULL) {
            snprintf(err, errlen, "\"hosts\" (the candidate host names) is required");
            return -1;
        }
        if ((r->hosts = sched_strings(hosts, "hosts", SCHED_MAX_LIST, &r->req.candidate_count, err,
                                      errlen)) == NULL)
            return -1;
        for (size_t i = 0; i < r->req.candidate_count; i++) {
            if (!mdevmig_host_name_valid(r->hosts[i], why, sizeof why)) {
                snprintf(err, errlen, "\"hosts\"[%zu] %s; it must be %s", i, why,
                         mdevmig_host_name_rule());
                return -1;
            }
        }
        r->req.candidates = r->hosts;
    }
    return 0;
}

/* POST /v1/select and POST /v1/filter */
static void sched_decide(struct sched *s, const struct http_request *http, bool filter,
                         struct http_response *resp)
{
    json_error_t jerr;
    json_t *json = json_loadb(http->body, http->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (json == NULL) {
        atomic_fetch_add(&s->bad_requests, 1);
        http_response_error(resp, 400, "invalid JSON at line %d, column %d: %s", jerr.line,
                            jerr.column, jerr.text);
        return;
    }
    struct sched_request r;
    char err[1024];
    if (sched_request_parse(json, filter, &r, err, sizeof err) < 0) {
        atomic_fetch_add(&s->bad_requests, 1);
        http_response_error(resp, 400, "%s", err);
        sched_request_clear(&r);
        json_decref(json);
        return;
    }
    struct mdevmig_result *result = NULL;
    int rc = filter ? mdevmig_filter(s->lib, &r.req, &result, err, sizeof err)
                    : mdevmig_select(s->lib, &r.req, &result, err, sizeof err);
    sched_request_clear(&r);
    json_decref(json);
    atomic_fetch_add(filter ? &s->filters : &s->selects, 1);
    if (rc != MDEVMIG_OK) {
        int status = rc == MDEVMIG_ERR_INPUT ? 400 : rc == MDEVMIG_ERR_NOT_FOUND ? 404 : 500;
        if (status == 400)
            atomic_fetch_add(&s->bad_requests, 1);
        if (status == 500)
            log_error("%s from %s: %s", filter ? "filter" : "select", http->peer, err);
        http_response_error(resp, status, "%s", err);
        return;
    }
    struct mdevmig_result_info info = {.size = sizeof info};
    mdevmig_result_info(result, &info);
    atomic_fetch_add(&s->probes_sent, info.probes_sent);
    atomic_fetch_add(&s->decision_us_total, (unsigned long)info.elapsed_us);
    metrics_reply_sched_result(s, filter, result);
    log_info("%s %s: %zu of %zu hosts pass, %zu probes, %ld us%s", filter ? "filter" : "select",
             info.instance != NULL ? info.instance : "(mdevs)", info.destination_count,
             info.host_count, info.probes_sent, info.elapsed_us,
             info.source_stale ? " (source collector down: versions from the registry)" : "");
    char *text = mdevmig_result_json(result);
    mdevmig_result_free(result);
    http_response_take(resp, 200, "application/json", text, text != NULL ? strlen(text) : 0);
}

/* The body of a POST that takes a JSON object of known fields only:
 * parsed, or NULL with a 400 already in resp. */
json_t *sched_object(struct sched *s, const struct http_request *http, const char *const *known,
                     size_t known_count, const char *expected, struct http_response *resp)
{
    json_error_t jerr;
    json_t *json = json_loadb(http->body, http->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (json == NULL) {
        atomic_fetch_add(&s->bad_requests, 1);
        http_response_error(resp, 400, "invalid JSON at line %d, column %d: %s", jerr.line,
                            jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(json)) {
        atomic_fetch_add(&s->bad_requests, 1);
        http_response_error(resp, 400, "the body must be a JSON object (%s)", expected);
        json_decref(json);
        return NULL;
    }
    const char *key;
    json_t *value;
    json_object_foreach(json, key, value)
    {
        bool ok = false;
        for (size_t i = 0; i < known_count && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            atomic_fetch_add(&s->bad_requests, 1);
            http_response_error(resp, 400, "unknown field \"%.64s\" (%s)", key, expected);
            json_decref(json);
            return NULL;
        }
    }
    return json;
}

/* The library's error as an HTTP status. */
void sched_fail(struct sched *s, const struct http_request *http, const char *what, int rc,
                const char *err, struct http_response *resp)
{
    int status = rc == MDEVMIG_ERR_INPUT ? 400 : rc == MDEVMIG_ERR_NOT_FOUND ? 404 : 500;
    if (status == 400)
        atomic_fetch_add(&s->bad_requests, 1);
    if (status == 500)
        log_error("%s from %s: %s", what, http->peer, err);
    http_response_error(resp, status, "%s", err);
}

/* POST /v1/evacuate {"host": H, "policy": "spread"|"pack"} */
static void sched_evacuate(struct sched *s, const struct http_request *http,
                           struct http_response *resp)
{
    static const char *const known[] = {"host", "policy"};
    static const char expected[] = "expected \"host\" and optionally \"policy\": \"spread\" or "
                                   "\"pack\"";
    json_t *json = sched_object(s, http, known, 2, expected, resp);
    if (json == NULL)
        return;
    const json_t *host = json_object_get(json, "host");
    const json_t *policy = json_object_get(json, "policy");
    struct mdevmig_evacuation req = MDEVMIG_EVACUATION_INIT;
    req.policy = MDEVMIG_POLICY_SPREAD;
    char rule[512];
    snprintf(rule, sizeof rule, "\"host\" must be %s", mdevmig_host_name_rule());
    const char *bad = NULL;
    if (host == NULL)
        bad = "\"host\" (the host to evacuate) is required";
    else if (!json_is_string(host) || json_string_length(host) == 0 ||
             json_string_length(host) > 255 ||
             strlen(json_string_value(host)) != json_string_length(host))
        bad = "\"host\" must be a host name (a non-empty string of at most 255 bytes)";
    else if (!mdevmig_host_name_valid(json_string_value(host), NULL, 0))
        bad = rule;
    else if (policy != NULL && (!json_is_string(policy) ||
                                mdevmig_policy_parse(json_string_value(policy), &req.policy) < 0))
        bad = "\"policy\" must be \"spread\" or \"pack\"";
    if (bad != NULL) {
        atomic_fetch_add(&s->bad_requests, 1);
        http_response_error(resp, 400, "%s", bad);
        json_decref(json);
        return;
    }
    req.host = json_string_value(host);
    struct mdevmig_plan *plan = NULL;
    char err[1024];
    int rc = mdevmig_evacuate(s->lib, &req, &plan, err, sizeof err);
    atomic_fetch_add(&s->evacuations, 1);
    if (rc != MDEVMIG_OK) {
        sched_fail(s, http, "evacuate", rc, err, resp);
        json_decref(json);
        return;
    }
    struct mdevmig_plan_info info = {.size = sizeof info};
    mdevmig_plan_info(plan, &info);
    atomic_fetch_add(&s->probes_sent, info.probes_sent);
    atomic_fetch_add(&s->decision_us_total, (unsigned long)info.elapsed_us);
    metrics_reply_sched_plan(s, plan);
    log_info("evacuate %s (%s): %zu of %zu VMs placed, %zu probes in %zu waves, %ld us%s",
             info.host, mdevmig_policy_name(info.policy), info.placed, info.vm_count,
             info.probes_sent, info.waves, info.elapsed_us,
             info.source_stale ? " (source collector down: versions from the registry)" : "");
    json_decref(json);
    char *text = mdevmig_plan_json(plan);
    mdevmig_plan_free(plan);
    http_response_take(resp, 200, "application/json", text, text != NULL ? strlen(text) : 0);
}

/* POST /v1/matrix {"type": T?} */
static void sched_matrix(struct sched *s, const struct http_request *http,
                         struct http_response *resp)
{
    static const char *const known[] = {"type"};
    static const char expected[] = "expected {} or {\"type\": \"<mdev type id>\"}";
    json_t *json = sched_object(s, http, known, 1, expected, resp);
    if (json == NULL)
        return;
    const json_t *type = json_object_get(json, "type");
    if (type != NULL &&
        (!json_is_string(type) || strlen(json_string_value(type)) != json_string_length(type))) {
        atomic_fetch_add(&s->bad_requests, 1);
        http_response_error(resp, 400, "\"type\" must be an mdev type id like nvidia-222");
        json_decref(json);
        return;
    }
    struct mdevmig_matrix *matrix = NULL;
    char err[1024];
    int rc = mdevmig_matrix(s->lib, json_string_value(type), NULL, NULL, &matrix, err, sizeof err);
    json_decref(json);
    atomic_fetch_add(&s->matrices, 1);
    if (rc != MDEVMIG_OK) {
        sched_fail(s, http, "matrix", rc, err, resp);
        return;
    }
    struct mdevmig_matrix_info info = {.size = sizeof info};
    mdevmig_matrix_info(matrix, &info);
    atomic_fetch_add(&s->probes_sent, info.probes_sent);
    atomic_fetch_add(&s->decision_us_total, (unsigned long)info.elapsed_us);
    metrics_reply_sched_matrix(s, matrix);
    log_info("matrix: %zu groups, %zu cells, %zu probes, %ld us", info.group_count, info.cell_count,
             info.probes_sent, info.elapsed_us);
    char *text = mdevmig_matrix_json(matrix);
    mdevmig_matrix_free(matrix);
    http_response_take(resp, 200, "application/json", text, text != NULL ? strlen(text) : 0);
}

/* GET /v1/health: 503 "degraded" while the registry fails the requests
 * that need it, so a load balancer sends them to another sched. */
static void sched_health(struct sched *s, struct http_response *resp)
{
    char error[256] = "";
    if (mdevmig_health(s->lib, error, sizeof error) == MDEVMIG_OK)
        error[0] = '\0';
    json_t *json = json_pack("{s:s, s:s, s:s}", "status", error[0] != '\0' ? "degraded" : "ok",
                             "version", buildinfo_version(), "commit", buildinfo_commit());
    if (json != NULL && error[0] != '\0')
        json_object_set_new(json, "error", json_string(error));
    http_response_json(resp, error[0] != '\0' ? 503 : 200, json);
}

void sched_api_handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
    struct sched *s = ctx;
    atomic_fetch_add(&s->requests, 1);
    if (strcmp(req->path, "/v1/health") == 0) {
        if (http_method_allowed(req, resp, "GET"))
            sched_health(s, resp);
        return;
    }
    if (!auth_current_ok(&s->token, req->authorization)) {
        atomic_fetch_add(&s->unauthorized, 1);
        http_response_error(resp, 401,
                            req->authorization == NULL
                                ? "missing Authorization: Bearer <cluster token>"
                                : "wrong bearer token");
        return;
    }
    if (strcmp(req->path, "/v1/select") == 0) {
        if (http_method_allowed(req, resp, "POST"))
            sched_decide(s, req, false, resp);
    } else if (strcmp(req->path, "/v1/filter") == 0) {
        if (http_method_allowed(req, resp, "POST"))
            sched_decide(s, req, true, resp);
    } else if (strcmp(req->path, "/v1/evacuate") == 0) {
        if (http_method_allowed(req, resp, "POST"))
            sched_evacuate(s, req, resp);
    } else if (strcmp(req->path, "/v1/matrix") == 0) {
        if (http_method_allowed(req, resp, "POST"))
            sched_matrix(s, req, resp);
    } else if (strcmp(req->path, "/v1/readiness") == 0) {
        if (http_method_allowed(req, resp, "POST"))
            sched_readiness_answer(s, req, resp);
    } else if (strcmp(req->path, "/v1/rollout") == 0) {
        if (http_method_allowed(req, resp, "POST"))
            sched_rollout_answer(s, req, resp);
    } else if (strcmp(req->path, "/v1/inventory") == 0) {
        if (http_method_allowed(req, resp, "GET"))
            sched_inventory(s, NULL, resp);
    } else if (strcmp(req->path, "/metrics") == 0) {
        if (http_method_allowed(req, resp, "GET"))
            metrics_reply_sched(s, resp);
    } else if (strncmp(req->path, SCHED_HOSTS_PREFIX, strlen(SCHED_HOSTS_PREFIX)) == 0) {
        const char *host = req->path + strlen(SCHED_HOSTS_PREFIX);
        const char *slash = strchr(host, '/');
        bool heartbeat = slash != NULL && strcmp(slash, "/heartbeat") == 0;
        if (slash == NULL || (strcmp(slash, "/inventory") != 0 && !heartbeat) || slash == host ||
            slash - host > 255) {
            http_response_error(resp, 404, "no such endpoint: %.200s", req->path);
            return;
        }
        char name[256], why[96];
        snprintf(name, sizeof name, "%.*s", (int)(slash - host), host);
        if (!mdevmig_host_name_valid(name, why, sizeof why)) {
            atomic_fetch_add(&s->bad_requests, 1);
            http_response_error(resp, 400, "the host in the path %s; it must be %s", why,
                                mdevmig_host_name_rule());
            return;
        }
        if (heartbeat) {
            if (http_method_allowed(req, resp, "POST"))
                sched_heartbeat(s, name, req, resp);
        } else if (strcmp(req->method, "POST") == 0)
            sched_ingest(s, name, req, resp);
        else if (strcmp(req->method, "GET") == 0)
            sched_inventory(s, name, resp);
        else {
            http_response_error(resp, 405, "%s is not allowed on %s; use GET or POST", req->method,
                                req->path);
            resp->allow = "GET, POST";
        }
    } else {
        http_response_error(resp, 404, "no such endpoint: %.200s", req->path);
    }
}
