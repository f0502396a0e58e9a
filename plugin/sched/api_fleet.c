/*
 * api_fleet — the questions an operator asks of the whole cloud before a
 * host fails or a driver rollout starts: POST /v1/readiness (which VMs
 * could move now, and where) and POST /v1/rollout (a safe upgrade order,
 * or what an upgrade would strand), answered by libmdevmig
 * (docs/READINESS.md).
 */
#include "api.h"
#include "log.h"
#include "metrics_reply.h"
#include "service.h"

#include <mdevmig/mdevmig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hosts a readiness or rollout request may name. */
#define SCHED_FLEET_MAX_HOSTS 10000

static void sched_bad(struct sched *s, struct http_response *resp, const char *what)
{
    atomic_fetch_add(&s->bad_requests, 1);
    http_response_error(resp, 400, "%s", what);
}

/* "hosts" as host names by the registry's rule; NULL with a 400 in resp,
 * or *count 0 when absent. */
static bool sched_fleet_hosts(struct sched *s, const json_t *array, const char ***out,
                              size_t *count, struct http_response *resp)
{
    *out = NULL;
    *count = 0;
    if (array == NULL)
        return true;
    char err[512];
    const char **hosts =
        sched_strings(array, "hosts", SCHED_FLEET_MAX_HOSTS, count, err, sizeof err);
    if (hosts == NULL) {
        sched_bad(s, resp, err);
        return false;
    }
    for (size_t i = 0; i < *count; i++) {
        char why[200];
        if (!mdevmig_host_name_valid(hosts[i], why, sizeof why)) {
            snprintf(err, sizeof err, "\"hosts\"[%zu]: %s; a host name must be %s", i, why,
                     mdevmig_host_name_rule());
            sched_bad(s, resp, err);
            free(hosts);
            return false;
        }
    }
    *out = hosts;
    return true;
}

/* POST /v1/readiness {"hosts": [H...]?, "stranded": bool?} */
void sched_readiness_answer(struct sched *s, const struct http_request *http,
                            struct http_response *resp)
{
    static const char *const known[] = {"hosts", "stranded"};
    static const char expected[] =
        "expected {} or {\"hosts\": [\"<host>\", ...], \"stranded\": true|false}";
    json_t *json = sched_object(s, http, known, 2, expected, resp);
    if (json == NULL)
        return;
    const json_t *stranded = json_object_get(json, "stranded");
    if (stranded != NULL && !json_is_boolean(stranded)) {
        sched_bad(s, resp, "\"stranded\" must be true or false");
        json_decref(json);
        return;
    }
    struct mdevmig_readiness_request req = MDEVMIG_READINESS_INIT;
    const char **hosts = NULL;
    if (!sched_fleet_hosts(s, json_object_get(json, "hosts"), &hosts, &req.host_count, resp)) {
        json_decref(json);
        return;
    }
    req.hosts = hosts;
    req.stranded_only = json_is_true(stranded);
    struct mdevmig_readiness *answer = NULL;
    char err[1024];
    int rc = mdevmig_readiness(s->lib, &req, &answer, err, sizeof err);
    free(hosts);
    json_decref(json);
    atomic_fetch_add(&s->readiness_asked, 1);
    if (rc != MDEVMIG_OK) {
        sched_fail(s, http, "readiness", rc, err, resp);
        return;
    }
    struct mdevmig_readiness_info info = {.size = sizeof info};
    mdevmig_readiness_info(answer, &info);
    atomic_fetch_add(&s->probes_sent, info.probes_sent);
    atomic_fetch_add(&s->decision_us_total, (unsigned long)info.elapsed_us);
    metrics_reply_sched_readiness(s, answer);
    log_info("readiness: %zu VMs, %zu stranded, %zu single, %zu ready; %zu probes for %zu "
             "triples, %ld us",
             info.vm_count, info.stranded, info.single, info.ready, info.probes_sent, info.triples,
             info.elapsed_us);
    char *text = mdevmig_readiness_json(answer);
    mdevmig_readiness_free(answer);
    http_response_take(resp, 200, "application/json", text, text != NULL ? strlen(text) : 0);
}

/* POST /v1/rollout {"like": H, "hosts": [H...], "max_down": N?, "what_if": bool?} */
void sched_rollout_answer(struct sched *s, const struct http_request *http,
                          struct http_response *resp)
{
    static const char *const known[] = {"like", "hosts", "max_down", "what_if"};
    static const char expected[] = "expected {\"like\": \"<reference host>\", \"hosts\": "
                                   "[\"<host>\", ...], \"max_down\": N, \"what_if\": false}";
    json_t *json = sched_object(s, http, known, 4, expected, resp);
    if (json == NULL)
        return;
    const json_t *like = json_object_get(json, "like");
    const json_t *hosts_json = json_object_get(json, "hosts");
    const json_t *max_down = json_object_get(json, "max_down");
    const json_t *what_if = json_object_get(json, "what_if");
    char rule[512];
    snprintf(rule, sizeof rule, "\"like\" must be %s", mdevmig_host_name_rule());
    const char *bad = NULL;
    if (like == NULL)
        bad = "\"like\" (the host whose driver the others get) is required";
    else if (!json_is_string(like) || json_string_length(like) == 0 ||
             json_string_length(like) > 255 ||
             strlen(json_string_value(like)) != json_string_length(like))
        bad = "\"like\" must be a host name (a non-empty string of at most 255 bytes)";
    else if (!mdevmig_host_name_valid(json_string_value(like), NULL, 0))
        bad = rule;
    else if (hosts_json == NULL || !json_is_array(hosts_json) || json_array_size(hosts_json) == 0)
        bad = "\"hosts\" (the hosts to upgrade) must be a non-empty array of host names";
    else if (max_down != NULL && (!json_is_integer(max_down) || json_integer_value(max_down) < 1 ||
                                  json_integer_value(max_down) > SCHED_FLEET_MAX_HOSTS))
        bad = "\"max_down\" must be an integer from 1 to 10000 (hosts upgraded at once)";
    else if (what_if != NULL && !json_is_boolean(what_if))
        bad = "\"what_if\" must be true or false";
    if (bad != NULL) {
        sched_bad(s, resp, bad);
        json_decref(json);
        return;
    }
    struct mdevmig_rollout_request req = MDEVMIG_ROLLOUT_INIT;
    const char **hosts = NULL;
    if (!sched_fleet_hosts(s, hosts_json, &hosts, &req.host_count, resp)) {
        json_decref(json);
        return;
    }
    req.like = json_string_value(like);
    req.hosts = hosts;
    req.max_down = max_down != NULL ? (size_t)json_integer_value(max_down) : 1;
    req.what_if = json_is_true(what_if);
    struct mdevmig_rollout *answer = NULL;
    char err[1024];
    int rc = mdevmig_rollout(s->lib, &req, &answer, err, sizeof err);
    free(hosts);
    json_decref(json);
    atomic_fetch_add(&s->rollouts, 1);
    if (rc != MDEVMIG_OK) {
        sched_fail(s, http, "rollout", rc, err, resp);
        return;
    }
    struct mdevmig_rollout_info info = {.size = sizeof info};
    mdevmig_rollout_info(answer, &info);
    atomic_fetch_add(&s->probes_sent, info.probes_sent);
    atomic_fetch_add(&s->decision_us_total, (unsigned long)info.elapsed_us);
    metrics_reply_sched_rollout(s, answer);
    if (info.what_if)
        log_info("rollout what-if: %zu VMs, %zu would be stranded; %zu probes, %ld us",
                 info.vm_count, info.stranded, info.probes_sent, info.elapsed_us);
    else
        log_info("rollout: %zu waves, %zu VMs, %zu moves, %zu stranded (the order given: %zu); "
                 "%zu probes, %ld us",
                 info.wave_count, info.vm_count, info.moves, info.stranded,
                 info.given_order_stranded, info.probes_sent, info.elapsed_us);
    char *text = mdevmig_rollout_json(answer);
    mdevmig_rollout_free(answer);
    http_response_take(resp, 200, "application/json", text, text != NULL ? strlen(text) : 0);
}
