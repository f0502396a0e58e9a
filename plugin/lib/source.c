/*
 * source — who is moving and with what. The registry says where a VM runs
 * and which mdevs it holds; the versions are then read live from the
 * source's collector (device node first, type node second, as the kernel
 * proposal orders them), and only when that collector cannot be reached
 * does the registry's copy stand in, marked stale. Several devices are
 * read in one batch request (an evacuation reads a whole host's), so the
 * cost of reading live stays close to that of the registry's copy.
 */
#include "internal.h"

#include "errname.h"
#include "json_quick.h"
#include "log.h"
#include "version.h"
#include "versions_wire.h"
#include "wire.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void source_clear(struct source *src)
{
    for (size_t i = 0; i < src->mdev_count; i++) {
        free(src->mdevs[i].type);
        free(src->mdevs[i].version);
        free(src->mdevs[i].reason);
    }
    free(src->mdevs);
    free(src->no_device_attr);
    free(src->host);
    free(src->url);
    memset(src, 0, sizeof *src);
}

static char *source_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *source_strdup_printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

/* Take a migration_version as found (registry or live) into mdev. */
static int source_take(struct mdevmig_mdev *mdev, const struct inv_migration *mig,
                       const char *where)
{
    free(mdev->version);
    free(mdev->reason);
    mdev->version = NULL;
    mdev->reason = NULL;
    mdev->digest[0] = '\0';
    if (!mig->supported)
        mdev->reason = source_strdup_printf("%s has no migration_version attribute", where);
    else if (mig->read_errno != 0)
        mdev->reason = source_strdup_printf(
            "reading %s's migration_version fails with %s", where,
            errname_of(mig->read_errno) != NULL ? errname_of(mig->read_errno) : "an errno");
    else if (mig->version == NULL)
        mdev->reason = source_strdup_printf("%s has no version on record", where);
    else if ((mdev->version = strdup(mig->version)) == NULL ||
             version_digest(mdev->type, mdev->version, mdev->digest) < 0)
        return -1;
    return mdev->version != NULL || mdev->reason != NULL ? 0 : -1;
}

/* The migration object of a collector's device reply. */
static int source_parse_live(const char *body, struct inv_migration *out)
{
    memset(out, 0, sizeof *out);
    json_t *json = json_loads(body, 0, NULL);
    json_t *mig = json_object_get(json, "migration");
    int rc = -1;
    if (json_is_object(mig) && json_is_boolean(json_object_get(mig, "supported"))) {
        out->supported = json_is_true(json_object_get(mig, "supported"));
        json_t *e = json_object_get(mig, "errno");
        const char *v = json_string_value(json_object_get(mig, "version"));
        char why[128];
        if (!out->supported) {
            rc = 0;
        } else if (json_is_integer(e) && json_integer_value(e) > 0) {
            out->read_errno = (int)json_integer_value(e);
            rc = 0;
        } else if (v != NULL && version_validate(v, strlen(v), why, sizeof why) &&
                   (out->version = strdup(v)) != NULL) {
            rc = 0;
        }
    }
    json_decref(json);
    return rc;
}

/* What the live reads leave for the type-node fallback, per mdev of the
 * source: the registry's parent of each device, and its type node's
 * version when a batch read it live with the device. */
struct source_reads {
    bool *present; /* the registry lists the device on the host */
    const char **parents;
    bool *type_read; /* type_live holds the type node, read live */
    struct inv_migration *type_live;
};

static int source_reads_init(struct source_reads *r, size_t count)
{
    r->present = calloc(count + 1, sizeof *r->present);
    r->parents = calloc(count + 1, sizeof *r->parents);
    r->type_read = calloc(count + 1, sizeof *r->type_read);
    r->type_live = calloc(count + 1, sizeof *r->type_live);
    return r->present != NULL && r->parents != NULL && r->type_read != NULL && r->type_live != NULL
               ? 0
               : -1;
}

static void source_reads_free(struct source_reads *r, size_t count)
{
    for (size_t i = 0; r->type_live != NULL && i < count; i++)
        inv_migration_clear(&r->type_live[i]);
    free(r->present);
    free(r->parents);
    free(r->type_read);
    free(r->type_live);
    memset(r, 0, sizeof *r);
}

/* One device's live answer (a GET's or a batch entry's) into src. */
static int source_take_live(struct source *src, size_t i, const struct inv_migration *live)
{
    char where[128];
    snprintf(where, sizeof where, "device %s", src->mdevs[i].uuid);
    src->no_device_attr[i] = !live->supported;
    return source_take(&src->mdevs[i], live, where);
}

/* One GET /v1/devices/{uuid}/migration_version per device still pending
 * (a single device, or a collector older than the batch endpoint). Marks
 * the source stale (the registry's versions stay) for each that gets no
 * usable answer. */
static int source_read_each(struct mdevmig *m, struct source *src, const bool *pending, char *err,
                            size_t errlen)
{
    struct http_call *calls = calloc(src->mdev_count + 1, sizeof *calls);
    char(*urls)[512] = calloc(src->mdev_count + 1, sizeof *urls);
    if (calls == NULL || urls == NULL) {
        free(calls);
        free(urls);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < src->mdev_count; i++) {
        if (!pending[i])
            continue;
        snprintf(urls[n], sizeof urls[n], "%s/v1/devices/%s/migration_version", src->url,
                 src->mdevs[i].uuid);
        calls[n].url = urls[n];
        calls[n].peer_name = m->verify_host_identity ? src->host : NULL;
        calls[n].method = "GET";
        n++;
    }
    int rc = n > 0 ? http_client_run(m->http, calls, n, err, errlen) : 0;
    size_t k = 0;
    for (size_t i = 0; i < src->mdev_count && rc == 0; i++) {
        if (!pending[i])
            continue;
        struct http_call *call = &calls[k++];
        struct inv_migration live;
        if (call->status != 200 || source_parse_live(call->response, &live) < 0) {
            /* The registry's copy stands in; the answer says so. */
            src->stale = true;
            continue;
        }
        if (source_take_live(src, i, &live) < 0)
            rc = -1;
        inv_migration_clear(&live);
    }
    http_calls_reset(calls, n);
    free(calls);
    free(urls);
    if (rc < 0 && err[0] == '\0')
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* A batch's reply is held to ~3/4 of what a client takes in (1 MiB), by
 * an estimate from the registry's versions: an entry is ~300 bytes of
 * JSON besides its names and its two copies of the version (device and
 * type node). A live version much longer than the registry's can still
 * overflow a part: that part is then read device by device. */
#define SOURCE_BATCH_BUDGET (HTTP_CLIENT_MAX_RESPONSE / 4 * 3)

static size_t source_batch_estimate(const struct mdevmig_mdev *mdev)
{
    size_t version = mdev->version != NULL ? strlen(mdev->version) : 64;
    return 384 + strlen(mdev->type) + 2 * version;
}

/* One part of a batch: the mdevs it asks for (indices into src) and its
 * request. */
struct source_part {
    size_t first, count; /* into the batch's index list */
    char *body;
    size_t call; /* its call in this round */
    bool again;  /* refused the compact form: ask in the full one */
};

/* Take one part's reply into src. 0 when it was taken or the collector
 * gave no usable answer (stale); 1 when it must be read device by device
 * (an older collector, a reply too large); 2 when it must be asked again
 * without "type_table" (a collector older than the compact form); -1 out
 * of memory. */
static int source_batch_take(struct source *src, const size_t *idx, size_t count,
                             const struct http_call *call, bool type_table,
                             struct source_reads *reads, char *err, size_t errlen)
{
    if (call->status == 404 || call->too_large)
        return 1;
    if (type_table && call->status == 400 && call->response != NULL &&
        strstr(call->response, "type_table") != NULL)
        return 2;
    if (call->status != 200) {
        /* Not answering, or sysfs gone (503): the registry's copies stand
         * in, as they would for each device's GET. */
        src->stale = true;
        return 0;
    }
    json_t *json = json_quick_loadb(call->response, call->response_len, 0, NULL);
    struct versions_wire_reply reply;
    char why[256];
    int rc = versions_wire_reply_from_json(json, &reply, why, sizeof why);
    if (rc == 0 && src->host != NULL && strcmp(reply.host, src->host) != 0) {
        snprintf(why, sizeof why, "host %s answered", reply.host);
        rc = -1;
    }
    if (rc == 0 && reply.count != count) {
        snprintf(why, sizeof why, "%zu devices answered, %zu asked", reply.count, count);
        rc = -1;
    }
    for (size_t k = 0; rc == 0 && k < reply.count; k++) {
        if (strcasecmp(reply.devices[k].uuid, src->mdevs[idx[k]].uuid) != 0) {
            snprintf(why, sizeof why, "devices[%zu] is %s, not the one asked", k,
                     reply.devices[k].uuid);
            rc = -1;
        }
    }
    if (rc < 0) {
        log_warn("batch read of %s's versions from %s: not a batch reply (%s); the registry's "
                 "versions stand in",
                 src->host != NULL ? src->host : "?", src->url, why);
        src->stale = true;
        json_decref(json);
        return 0;
    }
    for (size_t k = 0; k < reply.count && rc == 0; k++) {
        struct versions_wire_device *d = &reply.devices[k];
        size_t i = idx[k];
        if (d->error != NULL) {
            /* As a 404 to its GET: the registry's copy stands in. */
            src->stale = true;
            continue;
        }
        if (source_take_live(src, i, &d->migration) < 0) {
            rc = -1;
            break;
        }
        /* The type node's version moves to the fallback's working set. */
        reads->type_live[i] = d->type_migration;
        reads->type_read[i] = true;
        d->type_migration = (struct inv_migration){0};
    }
    versions_wire_reply_clear(&reply);
    json_decref(json);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* The devices' versions in one POST /v1/devices/migration_versions (in
 * parts when there are many), each device and type node read live by the
 * collector at that moment. pending[i] is left true for the devices still
 * to be read one by one. */
static int source_read_batch(struct mdevmig *m, struct source *src, struct source_reads *reads,
                             bool *pending, char *err, size_t errlen)
{
    size_t *idx = calloc(src->mdev_count + 1, sizeof *idx);
    const char **uuids = calloc(src->mdev_count + 1, sizeof *uuids);
    struct source_part *parts = calloc(src->mdev_count + 1, sizeof *parts);
    struct http_call *calls = calloc(src->mdev_count + 1, sizeof *calls);
    char url[512];
    snprintf(url, sizeof url, "%s/v1/devices/migration_versions", src->url);
    int rc = idx == NULL || uuids == NULL || parts == NULL || calls == NULL ? -1 : 0;
    size_t n = 0, part_count = 0, budget = 0;
    for (size_t i = 0; i < src->mdev_count && rc == 0; i++) {
        if (!pending[i])
            continue;
        size_t cost = source_batch_estimate(&src->mdevs[i]);
        struct source_part *part = part_count > 0 ? &parts[part_count - 1] : NULL;
        if (part == NULL || part->count == VERSIONS_WIRE_MAX_DEVICES ||
            budget + cost > SOURCE_BATCH_BUDGET) {
            part = &parts[part_count++];
            part->first = n;
            budget = 0;
        }
        idx[n] = i;
        uuids[n] = src->mdevs[i].uuid;
        n++;
        part->count++;
        budget += cost;
    }
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    /* The compact reply first; parts a collector older than it refused
     * are asked again in the full form. */
    for (int round = 0; round < 2 && rc == 0; round++) {
        bool type_table = round == 0;
        size_t asked = 0;
        for (size_t p = 0; p < part_count && rc == 0; p++) {
            if (!parts[p].again && !type_table)
                continue;
            free(parts[p].body);
            json_t *body =
                versions_wire_request_to_json(uuids + parts[p].first, parts[p].count, type_table);
            parts[p].body = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
            json_decref(body);
            if (parts[p].body == NULL) {
                rc = -1;
                snprintf(err, errlen, "out of memory");
                break;
            }
            calls[asked] = (struct http_call){
                .url = url,
                .method = "POST",
                .body = parts[p].body,
                .body_len = strlen(parts[p].body),
                .peer_name = m->verify_host_identity ? src->host : NULL,
            };
            parts[p].call = asked++;
        }
        if (rc == 0 && asked > 0)
            rc = http_client_run(m->http, calls, asked, err, errlen);
        for (size_t p = 0; p < part_count && rc == 0; p++) {
            struct source_part *part = &parts[p];
            if (!part->again && !type_table)
                continue;
            int taken = source_batch_take(src, idx + part->first, part->count, &calls[part->call],
                                          type_table, reads, err, errlen);
            part->again = taken == 2;
            if (taken < 0)
                rc = -1;
            for (size_t k = 0; taken == 0 && k < part->count; k++)
                pending[idx[part->first + k]] = false;
        }
        http_calls_reset(calls, asked);
    }
    for (size_t p = 0; parts != NULL && p < part_count; p++)
        free(parts[p].body);
    free(calls);
    free(parts);
    free(uuids);
    free(idx);
    return rc;
}

/* Live reads of every device from the source collector: one batch when
 * there are several (a GET each from a collector that predates it), a GET
 * for one. Marks the source stale (and keeps the registry's versions)
 * when the collector does not answer. */
static int source_read_live(struct mdevmig *m, struct source *src, struct source_reads *reads,
                            char *err, size_t errlen)
{
    if (src->url == NULL) {
        src->stale = true;
        return 0;
    }
    bool *pending = calloc(src->mdev_count + 1, sizeof *pending);
    if (pending == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < src->mdev_count; i++) {
        pending[i] = reads->present[i];
        n += pending[i] ? 1 : 0;
    }
    int rc = n > 1 ? source_read_batch(m, src, reads, pending, err, errlen) : 0;
    if (rc == 0)
        rc = source_read_each(m, src, pending, err, errlen);
    free(pending);
    return rc;
}

/* A device without its own attribute migrates by its type node's version
 * (the seed's first place): the one a batch read live with the device,
 * else the source host's snapshot in the registry (then stale). */
static int source_type_fallback(struct mdevmig *m, struct source *src,
                                const struct source_reads *reads, char *err, size_t errlen)
{
    bool needed = false;
    for (size_t i = 0; i < src->mdev_count; i++) {
        struct mdevmig_mdev *mdev = &src->mdevs[i];
        if (mdev->version != NULL || reads->parents[i] == NULL || !src->no_device_attr[i])
            continue;
        if (!reads->type_read[i]) {
            needed = true;
            continue;
        }
        const struct inv_migration *live = &reads->type_live[i];
        if (!live->supported || live->read_errno != 0)
            continue; /* keep the device's reason: neither place has a version */
        char where[320];
        snprintf(where, sizeof where, "type %s on %s", mdev->type, reads->parents[i]);
        if (source_take(mdev, live, where) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (!needed || src->host == NULL)
        return 0;
    struct inventory inv;
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_load_host(m->registry, src->host, &inv, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    for (size_t i = 0; i < src->mdev_count; i++) {
        struct mdevmig_mdev *mdev = &src->mdevs[i];
        if (mdev->version != NULL || reads->parents[i] == NULL || !src->no_device_attr[i] ||
            reads->type_read[i])
            continue;
        const struct inv_type *type = inventory_find_type(&inv, reads->parents[i], mdev->type);
        if (type == NULL || !type->migration.supported || type->migration.read_errno != 0)
            continue; /* keep the device's reason: neither place has a version */
        char where[320];
        snprintf(where, sizeof where, "type %s on %s", mdev->type, reads->parents[i]);
        /* The type node is read from the registry, not live: say so. */
        src->stale = true;
        if (source_take(mdev, &type->migration, where) < 0) {
            inventory_free(&inv);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    inventory_free(&inv);
    return 0;
}

static int source_from_instance(struct mdevmig *m, const char *uuid, struct source *src, char *err,
                                size_t errlen)
{
    struct registry_instance inst;
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_instance_get(m->registry, uuid, &inst, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (rc != 0)
        return rc;
    /* The running placement comes first: during a migration that is the
     * host the VM still lives on. */
    const struct registry_placement *pl = &inst.placements[0];
    src->known = true;
    src->host = strdup(pl->host);
    src->url = pl->collector_url != NULL ? strdup(pl->collector_url) : NULL;
    src->mdevs = calloc(pl->mdev_count + 1, sizeof *src->mdevs);
    src->no_device_attr = calloc(pl->mdev_count + 1, sizeof *src->no_device_attr);
    struct source_reads reads = {0};
    rc = src->host == NULL || src->mdevs == NULL || src->no_device_attr == NULL ||
                 source_reads_init(&reads, pl->mdev_count) < 0
             ? -1
             : 0;
    for (size_t i = 0; i < pl->mdev_count && rc == 0; i++) {
        const struct registry_mdev *rm = &pl->mdevs[i];
        struct mdevmig_mdev *mdev = &src->mdevs[i];
        src->mdev_count = i + 1;
        memcpy(mdev->uuid, rm->uuid, sizeof mdev->uuid);
        reads.present[i] = rm->present;
        reads.parents[i] = rm->parent;
        if (!rm->present) {
            mdev->type = strdup("");
            mdev->reason =
                source_strdup_printf("host %s does not list mdev %s", pl->host, rm->uuid);
            rc = mdev->type != NULL && mdev->reason != NULL ? 0 : -1;
            continue;
        }
        char where[128];
        snprintf(where, sizeof where, "device %s", rm->uuid);
        src->no_device_attr[i] = !rm->migration.supported;
        if ((mdev->type = strdup(rm->type_id)) == NULL ||
            source_take(mdev, &rm->migration, where) < 0)
            rc = -1;
    }
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    if (rc == 0)
        rc = source_read_live(m, src, &reads, err, errlen);
    if (rc == 0)
        rc = source_type_fallback(m, src, &reads, err, errlen);
    source_reads_free(&reads, src->mdev_count);
    registry_instance_free(&inst);
    return rc;
}

static int source_from_devices(struct mdevmig *m, const struct mdevmig_request *req,
                               struct source *src, char *err, size_t errlen)
{
    struct inventory inv;
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_load_host(m->registry, req->host, &inv, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (rc == 1) {
        snprintf(err, errlen, "host %s is not in the registry", req->host);
        return MDEVMIG_ERR_NOT_FOUND;
    }
    if (rc < 0)
        return -1;
    src->known = true;
    src->host = strdup(req->host);
    src->url = inv.collector_url != NULL ? strdup(inv.collector_url) : NULL;
    src->mdevs = calloc(req->device_count + 1, sizeof *src->mdevs);
    src->no_device_attr = calloc(req->device_count + 1, sizeof *src->no_device_attr);
    struct source_reads reads = {0};
    rc = src->host == NULL || src->mdevs == NULL || src->no_device_attr == NULL ||
                 source_reads_init(&reads, req->device_count) < 0
             ? -1
             : 0;
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; i < req->device_count && rc == 0; i++) {
        struct mdevmig_mdev *mdev = &src->mdevs[i];
        src->mdev_count = i + 1;
        for (size_t k = 0; k < 36; k++)
            mdev->uuid[k] = (char)tolower((unsigned char)req->devices[i][k]);
        const struct inv_device *dev = inventory_find_device(&inv, mdev->uuid);
        if (dev == NULL) {
            snprintf(err, errlen, "host %s has no mdev %s", req->host, mdev->uuid);
            rc = MDEVMIG_ERR_NOT_FOUND;
            break;
        }
        reads.present[i] = true;
        reads.parents[i] = dev->parent;
        char where[128];
        snprintf(where, sizeof where, "device %s", dev->uuid);
        src->no_device_attr[i] = !dev->migration.supported;
        if ((mdev->type = strdup(dev->type)) == NULL ||
            source_take(mdev, &dev->migration, where) < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    if (rc == 0)
        rc = source_read_live(m, src, &reads, err, errlen);
    if (rc == 0)
        rc = source_type_fallback(m, src, &reads, err, errlen);
    source_reads_free(&reads, src->mdev_count);
    inventory_free(&inv);
    return rc;
}

static int source_from_specs(const struct mdevmig_request *req, struct source *src, char *err,
                             size_t errlen)
{
    src->known = true;
    src->mdevs = calloc(req->spec_count + 1, sizeof *src->mdevs);
    if (src->mdevs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < req->spec_count; i++) {
        const struct mdevmig_spec *spec = &req->specs[i];
        char why[160];
        if (spec->type == NULL || !version_type_id_valid(spec->type)) {
            snprintf(err, errlen, "mdevs[%zu].type is not an mdev type id like nvidia-222", i);
            return MDEVMIG_ERR_INPUT;
        }
        if (spec->version == NULL ||
            !version_validate(spec->version, strlen(spec->version), why, sizeof why)) {
            snprintf(err, errlen, "mdevs[%zu].version: %s", i,
                     spec->version == NULL ? "is required" : why);
            return MDEVMIG_ERR_INPUT;
        }
        struct mdevmig_mdev *mdev = &src->mdevs[i];
        src->mdev_count = i + 1;
        mdev->type = strdup(spec->type);
        mdev->version = strdup(spec->version);
        if (mdev->type == NULL || mdev->version == NULL ||
            version_digest(mdev->type, mdev->version, mdev->digest) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

int source_resolve(struct mdevmig *m, const struct mdevmig_request *req, struct source *src,
                   char *err, size_t errlen)
{
    memset(src, 0, sizeof *src);
    int forms = (req->instance != NULL) + (req->host != NULL) + (req->spec_count > 0);
    if (forms != 1) {
        snprintf(err, errlen,
                 "give exactly one source: an instance, a host with devices, or "
                 "mdevs as type and version");
        return MDEVMIG_ERR_INPUT;
    }
    int rc;
    if (req->instance != NULL) {
        if (!wire_uuid_valid(req->instance)) {
            snprintf(err, errlen, "instance \"%.64s\" is not a UUID", req->instance);
            return MDEVMIG_ERR_INPUT;
        }
        rc = source_from_instance(m, req->instance, src, err, errlen);
    } else if (req->host != NULL) {
        if (req->device_count == 0) {
            snprintf(err, errlen, "host %s: name the devices to move", req->host);
            return MDEVMIG_ERR_INPUT;
        }
        for (size_t i = 0; i < req->device_count; i++) {
            if (req->devices[i] == NULL || !wire_uuid_valid(req->devices[i])) {
                snprintf(err, errlen, "devices[%zu] is not an mdev UUID", i);
                return MDEVMIG_ERR_INPUT;
            }
        }
        rc = source_from_devices(m, req, src, err, errlen);
    } else {
        rc = source_from_specs(req, src, err, errlen);
    }
    if (rc != 0)
        source_clear(src);
    return rc;
}
