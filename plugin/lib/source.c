/*
 * source — who is moving and with what. The registry says where a VM runs
 * and which mdevs it holds; the versions are then read live from the
 * source's collector (device node first, type node second, as the kernel
 * proposal orders them), and only when that collector cannot be reached
 * does the registry's copy stand in, marked stale.
 */
#include "internal.h"

#include "errname.h"
#include "version.h"
#include "wire.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Live reads of every device from the source collector. Marks the source
 * stale (and keeps the registry's versions) when the collector does not
 * answer. */
static int source_read_live(struct mdevmig *m, struct source *src, const bool *present, char *err,
                            size_t errlen)
{
    if (src->url == NULL) {
        src->stale = true;
        return 0;
    }
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
        if (!present[i])
            continue;
        snprintf(urls[n], sizeof urls[n], "%s/v1/devices/%s/migration_version", src->url,
                 src->mdevs[i].uuid);
        calls[n].url = urls[n];
        calls[n].peer_name = m->verify_host_identity ? src->host : NULL;
        calls[n].method = "GET";
        n++;
    }
    int rc = http_client_run(m->http, calls, n, err, errlen);
    size_t k = 0;
    for (size_t i = 0; i < src->mdev_count && rc == 0; i++) {
        if (!present[i])
            continue;
        struct http_call *call = &calls[k++];
        struct inv_migration live;
        if (call->status != 200 || source_parse_live(call->response, &live) < 0) {
            /* The registry's copy stands in; the answer says so. */
            src->stale = true;
            continue;
        }
        char where[128];
        snprintf(where, sizeof where, "device %s", src->mdevs[i].uuid);
        src->no_device_attr[i] = !live.supported;
        if (source_take(&src->mdevs[i], &live, where) < 0)
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

/* A device without its own attribute migrates by its type node's version
 * (the seed's first place), read from the source host's snapshot. */
static int source_type_fallback(struct mdevmig *m, struct source *src, const char *const *parents,
                                char *err, size_t errlen)
{
    bool needed = false;
    for (size_t i = 0; i < src->mdev_count; i++)
        needed = needed ||
                 (src->mdevs[i].version == NULL && parents[i] != NULL && src->no_device_attr[i]);
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
        if (mdev->version != NULL || parents[i] == NULL || !src->no_device_attr[i])
            continue;
        const struct inv_type *type = inventory_find_type(&inv, parents[i], mdev->type);
        if (type == NULL || !type->migration.supported || type->migration.read_errno != 0)
            continue; /* keep the device's reason: neither place has a version */
        char where[320];
        snprintf(where, sizeof where, "type %s on %s", mdev->type, parents[i]);
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
    bool *present = calloc(pl->mdev_count + 1, sizeof *present);
    const char **parents = calloc(pl->mdev_count + 1, sizeof *parents);
    rc = src->host == NULL || src->mdevs == NULL || src->no_device_attr == NULL ||
                 present == NULL || parents == NULL
             ? -1
             : 0;
    for (size_t i = 0; i < pl->mdev_count && rc == 0; i++) {
        const struct registry_mdev *rm = &pl->mdevs[i];
        struct mdevmig_mdev *mdev = &src->mdevs[i];
        src->mdev_count = i + 1;
        memcpy(mdev->uuid, rm->uuid, sizeof mdev->uuid);
        present[i] = rm->present;
        parents[i] = rm->parent;
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
        rc = source_read_live(m, src, present, err, errlen);
    if (rc == 0)
        rc = source_type_fallback(m, src, parents, err, errlen);
    free(present);
    free(parents);
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
    bool *present = calloc(req->device_count + 1, sizeof *present);
    const char **parents = calloc(req->device_count + 1, sizeof *parents);
    rc = src->host == NULL || src->mdevs == NULL || src->no_device_attr == NULL ||
                 present == NULL || parents == NULL
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
        present[i] = true;
        parents[i] = dev->parent;
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
        rc = source_read_live(m, src, present, err, errlen);
    if (rc == 0)
        rc = source_type_fallback(m, src, parents, err, errlen);
    free(present);
    free(parents);
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
