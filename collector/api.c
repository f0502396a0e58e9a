/*
 * api — request handling for mdevmig-collector. Input is checked before
 * anything touches sysfs, and the attribute a probe writes is built only
 * from names the scan found, never from the request's text: a type id is
 * looked up in the inventory and the path made from the inventory's copy.
 */
#include "api.h"

#include "attrdir.h"
#include "audit.h"
#include "collector.h"
#include "errname.h"
#include "log.h"
#include "metrics.h"
#include "metrics_reply.h"
#include "probe.h"
#include "probe_wire.h"
#include "publish.h"
#include "scan.h"
#include "textbuf.h"
#include "version.h"
#include "versions.h"
#include "wire.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#define API_DEVICE_PREFIX  "/v1/devices/"
#define API_DEVICE_SUFFIX  "/migration_version"
#define API_VERSIONS_BATCH "/v1/devices/migration_versions"

static void api_health(struct collector *c, struct http_response *resp)
{
    pthread_rwlock_rdlock(&c->lock);
    http_response_text(resp, 200, "application/json", c->health_json, c->health_json_len);
    pthread_rwlock_unlock(&c->lock);
}

static void api_inventory(struct collector *c, struct http_response *resp)
{
    pthread_rwlock_rdlock(&c->lock);
    if (!c->have_inventory)
        http_response_error(resp, 503, "no inventory yet: the first scan has not completed");
    else
        http_response_text(resp, 200, "application/json", c->inventory_json, c->inventory_json_len);
    pthread_rwlock_unlock(&c->lock);
}

/* Where to write, chosen from the inventory under the read lock. */
struct api_probe_target {
    char dir[PATH_MAX]; /* holds the migration_version attribute */
    char parent[256];
    char target_version[VERSION_MAX + 1];
    bool have_target_version;
    bool type_mismatch;
    char device_type[256];
};

/* Returns 0, or an HTTP status with a message when there is nothing to
 * probe. Caller holds the read lock. */
static int api_probe_locate(struct collector *c, const struct probe_wire_request *req,
                            struct api_probe_target *t, char *err, size_t errlen)
{
    /* Not the whole struct: its paths are 8 KiB a probe would clear for
     * nothing; each field below is set before it is read. */
    t->dir[0] = t->parent[0] = t->target_version[0] = t->device_type[0] = '\0';
    t->have_target_version = t->type_mismatch = false;
    const struct inv_migration *mig = NULL;
    if (req->device[0] != '\0') {
        const struct inv_device *dev = inventory_find_device(&c->inv, req->device);
        if (dev == NULL) {
            snprintf(err, errlen, "no mdev device %s on host %s", req->device, c->cfg->host);
            return 404;
        }
        snprintf(t->parent, sizeof t->parent, "%s", dev->parent);
        snprintf(t->device_type, sizeof t->device_type, "%s", dev->type);
        t->type_mismatch = strcmp(dev->type, req->type) != 0;
        snprintf(t->dir, sizeof t->dir, "%s/bus/mdev/devices/%s", c->cfg->sysfs_root, dev->uuid);
        mig = &dev->migration;
    } else {
        const struct inv_parent *best = NULL;
        const struct inv_type *best_type = NULL;
        for (size_t p = 0; p < c->inv.parent_count; p++) {
            const struct inv_parent *parent = &c->inv.parents[p];
            if (req->parent != NULL && strcmp(parent->name, req->parent) != 0)
                continue;
            for (size_t i = 0; i < parent->type_count; i++) {
                const struct inv_type *type = &parent->types[i];
                if (strcmp(type->id, req->type) != 0)
                    continue;
                /* The parent a new device would land on: most room first. */
                if (best_type == NULL ||
                    type->available_instances > best_type->available_instances) {
                    best = parent;
                    best_type = type;
                }
            }
        }
        if (best == NULL) {
            if (req->parent != NULL)
                snprintf(err, errlen, "type %s is not offered by parent %.255s on host %s",
                         req->type, req->parent, c->cfg->host);
            else
                snprintf(err, errlen, "type %s is not offered on host %s", req->type, c->cfg->host);
            return 404;
        }
        snprintf(t->parent, sizeof t->parent, "%s", best->name);
        snprintf(t->dir, sizeof t->dir, "%s/class/mdev_bus/%s/mdev_supported_types/%s",
                 c->cfg->sysfs_root, best->name, best_type->id);
        mig = &best_type->migration;
    }
    if (mig->supported && mig->read_errno == 0 && mig->version != NULL) {
        snprintf(t->target_version, sizeof t->target_version, "%s", mig->version);
        t->have_target_version = true;
    }
    return 0;
}

/* Whether the directory that held the attribute has gone. */
static bool api_dir_gone(const char *dir)
{
    struct stat st;
    return stat(dir, &st) < 0 && errno == ENOENT;
}

static void api_count_verdict(struct collector *c, enum probe_wire_verdict verdict)
{
    switch (verdict) {
    case PROBE_WIRE_COMPATIBLE:
        atomic_fetch_add(&c->metrics.probes_compatible, 1);
        break;
    case PROBE_WIRE_INCOMPATIBLE:
        atomic_fetch_add(&c->metrics.probes_incompatible, 1);
        break;
    case PROBE_WIRE_UNSUPPORTED:
        atomic_fetch_add(&c->metrics.probes_unsupported, 1);
        break;
    case PROBE_WIRE_NO_TYPE:
        atomic_fetch_add(&c->metrics.probes_no_type, 1);
        break;
    }
}

/* A scheduler probes many hosts with one source version, and a host sees
 * the same few versions again and again: each worker remembers the last
 * digest it made, so SHA-256 runs once per new (type, version). */
struct api_digest_memo {
    char type[256];
    char version[VERSION_MAX + 1];
    size_t version_len;
    char digest[VERSION_DIGEST_LEN];
};

static void api_source_digest(const struct probe_wire_request *req, char digest[VERSION_DIGEST_LEN])
{
    static _Thread_local struct api_digest_memo memo;
    size_t type_len = strlen(req->type);
    if (memo.digest[0] != '\0' && memo.version_len == req->version_len &&
        memcmp(memo.version, req->version, req->version_len) == 0 &&
        strcmp(memo.type, req->type) == 0) {
        memcpy(digest, memo.digest, VERSION_DIGEST_LEN);
        return;
    }
    if (version_digest(req->type, req->version, digest) < 0) {
        digest[0] = '\0';
        return;
    }
    memo.digest[0] = '\0';
    if (type_len < sizeof memo.type && req->version_len < sizeof memo.version) {
        memcpy(memo.type, req->type, type_len + 1);
        memcpy(memo.version, req->version, req->version_len);
        memo.version_len = req->version_len;
        memcpy(memo.digest, digest, VERSION_DIGEST_LEN);
    }
}

static void api_audit(struct collector *c, const struct http_request *http,
                      const struct probe_wire_request *req, const struct api_probe_target *t,
                      const char *verdict, int err, long elapsed_us)
{
    if (c->audit == NULL)
        return;
    struct audit_entry e;
    memset(&e, 0, sizeof e);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    e.at_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    snprintf(e.peer, sizeof e.peer, "%s", http->peer);
    snprintf(e.level, sizeof e.level, "%s", req->device[0] != '\0' ? "device" : "type");
    if (req->device[0] != '\0')
        snprintf(e.target, sizeof e.target, "%s", req->device);
    else
        snprintf(e.target, sizeof e.target, "%s/%s", t->parent, req->type);
    /* The digest the scheduler keys its cache on; the audit never keeps
     * the version itself, which is the vendor's and may be long. */
    api_source_digest(req, e.source_digest);
    snprintf(e.verdict, sizeof e.verdict, "%s", verdict);
    e.err = err;
    e.elapsed_us = elapsed_us;
    audit_record(c->audit, &e);
}

static void api_probe(struct collector *c, const struct http_request *http,
                      struct http_response *resp)
{
    json_error_t jerr;
    json_t *body = json_loadb(http->body, http->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        atomic_fetch_add(&c->metrics.bad_requests, 1);
        http_response_error(resp, 400, "invalid JSON at line %d, column %d: %s", jerr.line,
                            jerr.column, jerr.text);
        return;
    }
    struct probe_wire_request req;
    char err[512];
    if (probe_wire_request_from_json(body, &req, err, sizeof err) < 0) {
        atomic_fetch_add(&c->metrics.bad_requests, 1);
        http_response_error(resp, 400, "%s", err);
        json_decref(body);
        return;
    }
    struct api_probe_target *t = malloc(sizeof *t);
    if (t == NULL) {
        http_response_error(resp, 500, "out of memory");
        json_decref(body);
        return;
    }
    pthread_rwlock_rdlock(&c->lock);
    int status = c->have_inventory ? api_probe_locate(c, &req, t, err, sizeof err) : 503;
    pthread_rwlock_unlock(&c->lock);
    if (status == 503)
        snprintf(err, sizeof err, "no inventory yet: the first scan has not completed");
    if (status != 0) {
        http_response_error(resp, status, "%s", err);
        free(t);
        json_decref(body);
        return;
    }

    struct probe_wire_reply reply = {
        .device_level = req.device[0] != '\0',
        .host = c->cfg->host,
        .parent = t->parent,
        .device = req.device[0] != '\0' ? req.device : NULL,
        .target_version = t->have_target_version ? t->target_version : NULL,
    };
    char error_text[256] = "";
    if (t->type_mismatch) {
        reply.verdict = PROBE_WIRE_NO_TYPE;
        snprintf(error_text, sizeof error_text, "device %s is of type %s, not %s", req.device,
                 t->device_type, req.type);
    } else {
        struct probe_outcome outcome;
        probe_write(c->attrdirs, t->dir, req.version, req.version_len, &outcome);
        if (outcome.write_us >= 0)
            metrics_reply_collector_write(c, outcome.write_us);
        if (outcome.verdict == PROBE_UNSUPPORTED && api_dir_gone(t->dir)) {
            /* Not "no attribute": the type or device itself went away
             * since the scan. Nothing to cache; the next scan will show. */
            collector_request_rescan(c);
            http_response_error(resp, 404, "%s is gone from host %s since the last scan",
                                req.device[0] != '\0' ? req.device : req.type, c->cfg->host);
            free(t);
            json_decref(body);
            return;
        }
        if (outcome.verdict == PROBE_ERROR) {
            /* The path to the driver failed, so the driver said nothing: a
             * verdict here would be cached as its refusal. A dead mount's
             * kept directory fds would also keep it busy: drop them. */
            if (outcome.err == ENOTCONN || outcome.err == ECONNABORTED) {
                attrdir_clear(c->attrdirs);
                collector_request_rescan(c);
            }
            atomic_fetch_add(&c->metrics.probe_errors, 1);
            log_warn("probe of %s/migration_version failed before the driver answered: %s", t->dir,
                     strerror(outcome.err));
            const char *why = outcome.err == EXDEV   ? "its directory resolves outside sysfs_root"
                              : outcome.err == ELOOP ? "migration_version is a symbolic link"
                                                     : strerror(outcome.err);
            http_response_error(resp, 503,
                                "the write to %s/migration_version on host %s did not reach the "
                                "driver (%s: %s): no verdict",
                                t->dir, c->cfg->host,
                                errname_of(outcome.err) != NULL ? errname_of(outcome.err) : "E?",
                                why);
            free(t);
            json_decref(body);
            return;
        }
        reply.verdict = outcome.verdict == PROBE_COMPATIBLE    ? PROBE_WIRE_COMPATIBLE
                        : outcome.verdict == PROBE_UNSUPPORTED ? PROBE_WIRE_UNSUPPORTED
                                                               : PROBE_WIRE_INCOMPATIBLE;
        reply.err = reply.verdict == PROBE_WIRE_INCOMPATIBLE ? outcome.err : 0;
        reply.elapsed_us = outcome.elapsed_us;
        if (outcome.short_write)
            snprintf(error_text, sizeof error_text, "short write: the driver took part of it");
        else if (outcome.verdict == PROBE_UNSUPPORTED)
            snprintf(error_text, sizeof error_text, "no migration_version attribute on the target");
        else if (reply.err != 0)
            snprintf(error_text, sizeof error_text, "%s: %s",
                     errname_of(reply.err) != NULL ? errname_of(reply.err) : "E?",
                     strerror(reply.err));
    }
    reply.error = error_text[0] != '\0' ? error_text : NULL;
    api_count_verdict(c, reply.verdict);
    api_audit(c, http, &req, t, probe_wire_verdict_name(reply.verdict), reply.err,
              reply.elapsed_us);
    json_t *json = probe_wire_reply_to_json(&reply);
    free(t);
    json_decref(body);
    http_response_json(resp, 200, json);
}

void api_handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
    struct collector *c = ctx;
    atomic_fetch_add(&c->metrics.requests, 1);
    if (strcmp(req->path, "/v1/health") == 0) {
        if (http_method_allowed(req, resp, "GET"))
            api_health(c, resp);
        return;
    }
    if (!auth_current_ok(&c->token, req->authorization)) {
        atomic_fetch_add(&c->metrics.unauthorized, 1);
        http_response_error(resp, 401,
                            req->authorization == NULL
                                ? "missing Authorization: Bearer <cluster token>"
                                : "wrong bearer token");
        return;
    }
    if (strcmp(req->path, "/v1/inventory") == 0) {
        if (http_method_allowed(req, resp, "GET"))
            api_inventory(c, resp);
    } else if (strcmp(req->path, "/v1/probe") == 0) {
        if (http_method_allowed(req, resp, "POST")) {
            long start = metrics_now_us();
            api_probe(c, req, resp);
            metrics_reply_collector_request(c, metrics_now_us() - start);
        }
    } else if (strcmp(req->path, "/metrics") == 0) {
        if (http_method_allowed(req, resp, "GET"))
            metrics_reply_collector(c, resp);
    } else if (strcmp(req->path, API_VERSIONS_BATCH) == 0) {
        if (http_method_allowed(req, resp, "POST"))
            versions_batch(c, req, resp);
    } else if (strncmp(req->path, API_DEVICE_PREFIX, strlen(API_DEVICE_PREFIX)) == 0) {
        const char *uuid = req->path + strlen(API_DEVICE_PREFIX);
        const char *suffix = strchr(uuid, '/');
        if (suffix == NULL || strcmp(suffix, API_DEVICE_SUFFIX) != 0) {
            http_response_error(resp, 404, "no such endpoint: %.200s", req->path);
            return;
        }
        char uuid_text[64];
        size_t n = (size_t)(suffix - uuid);
        snprintf(uuid_text, sizeof uuid_text, "%.*s", (int)(n < 63 ? n : 63), uuid);
        if (http_method_allowed(req, resp, "GET"))
            versions_device(c, n < 63 ? uuid_text : "(too long)", resp);
    } else {
        http_response_error(resp, 404, "no such endpoint: %.200s", req->path);
    }
}
