/*
 * versions — the source side of a migration asks what its devices' drivers
 * say now, not what the last scan saw: a version read at the scan may
 * predate a driver upgrade. Both endpoints read each attribute live at the
 * request, through the one reader here (versions_read, the scan's rules),
 * and build its path only from names the scan found, never from the
 * request's text.
 *
 * The batch is what makes an evacuation's source reads cheap: one request
 * instead of one per device, the inventory consulted once under its lock,
 * each type node read once however many of the devices share it, and each
 * attribute read on a descriptor kept open from the last time (attrread.h:
 * the descriptor is kept, never what it read).
 */
#include "versions.h"

#include "attrdir.h"
#include "collector.h"
#include "log.h"
#include "metrics.h"
#include "metrics_reply.h"
#include "version.h"
#include "versions_wire.h"
#include "wire.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One attribute, read the way the scan reads it (scan_read_migration's
 * rules: missing means unsupported, an errno on open or read means the
 * same with the errno kept, otherwise the string less one trailing
 * newline, checked) but through the collector's kept fds (attrdir.h): a
 * kept read fd of the attribute itself where there is one, read again at
 * offset 0 (the driver's show() runs for each such read), else opened
 * through a kept directory fd, as probes open what they write. By full
 * path every read would look up each component again (a dozen FUSE
 * requests on mdevsim, through the class/mdev_bus or bus/mdev/devices
 * links), and even from a kept directory the open and close were most of
 * a batch's time.
 * 0, or the errno that kept the read from reaching the driver, so nothing
 * read now would be its answer: ENOTCONN (sysfs itself is gone), EMFILE or
 * ENFILE (this process is out of file descriptors). */
static int versions_read(const struct collector *c, const char *dir, const char *name,
                         const char *type_id, struct inv_migration *out)
{
    memset(out, 0, sizeof *out);
    char buf[VERSION_MAX + 2];
    ssize_t n = attrdir_read(c->attrdirs, dir, name, buf, sizeof buf - 1);
    int err = n < 0 ? (int)-n : 0;
    if (err == ENOTCONN || err == ECONNABORTED) {
        /* A dead mount: kept fds into it answer nothing and keep it busy. */
        attrdir_clear(c->attrdirs);
        return err;
    }
    if (err == EMFILE || err == ENFILE)
        return err;
    if (err == ENOENT)
        return 0; /* no attribute: the driver does not support migration */
    out->supported = true;
    if (err != 0) {
        out->read_errno = err;
        return 0;
    }
    size_t len = version_normalised_len(buf, (size_t)n);
    char why[160];
    if (!version_validate(buf, len, why, sizeof why) || memchr(buf, '\0', len) != NULL) {
        log_warn("%s/%s: the driver printed an invalid version (%s); recorded as EINVAL", dir, name,
                 why);
        out->read_errno = EINVAL;
        return 0;
    }
    buf[len] = '\0';
    out->version = strdup(buf);
    if (out->version == NULL || version_digest(type_id, out->version, out->digest) < 0) {
        inv_migration_clear(out);
        out->supported = true;
        out->read_errno = ENOMEM;
    }
    return 0;
}

/* A device node's attribute (uuid lower case, as the scan found it),
 * opened below its parent's directory (where bus/mdev/devices/<uuid>
 * leads): one kept directory fd per parent, not one per device; the
 * attributes' own kept fds are bounded by attribute_fds. */
static int versions_read_device(const struct collector *c, const char *parent, const char *uuid,
                                const char *type, struct inv_migration *out)
{
    char dir[PATH_MAX], name[INV_UUID_LEN + 32];
    snprintf(dir, sizeof dir, "%s/class/mdev_bus/%s", c->cfg->sysfs_root, parent);
    snprintf(name, sizeof name, "%s/migration_version", uuid);
    return versions_read(c, dir, name, type, out);
}

/* A type node's attribute on one parent (the type-level probes' directory). */
static int versions_read_type(const struct collector *c, const char *parent, const char *type,
                              struct inv_migration *out)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/class/mdev_bus/%s/mdev_supported_types/%s", c->cfg->sysfs_root,
             parent, type);
    return versions_read(c, dir, "migration_version", type, out);
}

void versions_device(struct collector *c, const char *uuid_text, struct http_response *resp)
{
    if (!wire_uuid_valid(uuid_text)) {
        http_response_error(resp, 400, "\"%.64s\" is not an mdev UUID (8-4-4-4-12 hex digits)",
                            uuid_text);
        return;
    }
    char uuid[INV_UUID_LEN];
    snprintf(uuid, sizeof uuid, "%s", uuid_text);
    for (char *p = uuid; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    char type[256] = "", parent[256] = "";
    pthread_rwlock_rdlock(&c->lock);
    const struct inv_device *dev = inventory_find_device(&c->inv, uuid);
    if (dev != NULL) {
        snprintf(type, sizeof type, "%s", dev->type);
        snprintf(parent, sizeof parent, "%s", dev->parent);
    }
    pthread_rwlock_unlock(&c->lock);
    if (type[0] == '\0') {
        http_response_error(resp, 404, "no mdev device %s on host %s", uuid, c->cfg->host);
        return;
    }
    struct inv_migration mig;
    int failed = versions_read_device(c, parent, uuid, type, &mig);
    if (failed != 0) {
        http_response_error(resp, 503, "cannot read migration_version on host %s now: %s",
                            c->cfg->host, strerror(failed));
        return;
    }
    json_t *json =
        json_pack("{s:s, s:s, s:s, s:s, s:o}", "host", c->cfg->host, "device", uuid, "type", type,
                  "parent", parent, "migration", wire_migration_to_json(&mig));
    inv_migration_clear(&mig);
    http_response_json(resp, 200, json);
}

/* ---- the batch -------------------------------------------------------- */

/* A type node some of the batch's devices share: read once. Owns copies
 * of the scan's names, so the reads run without the inventory's lock. */
struct versions_node {
    char *parent;
    char *type;
    struct inv_migration migration;
};

struct versions_batch {
    struct versions_wire_request req;
    size_t *node_of; /* per requested device: its node, or SIZE_MAX when not on this host */
    struct versions_node *nodes;
    size_t node_count;
    struct versions_wire_device *out; /* the reply's entries, in request order */
};

static void versions_batch_free(struct versions_batch *b)
{
    for (size_t i = 0; i < b->node_count; i++) {
        free(b->nodes[i].parent);
        free(b->nodes[i].type);
        inv_migration_clear(&b->nodes[i].migration);
    }
    /* An entry's type_migration is its node's, cleared above. */
    for (size_t i = 0; b->out != NULL && i < b->req.count; i++)
        inv_migration_clear(&b->out[i].migration);
    free(b->nodes);
    free(b->node_of);
    free(b->out);
    versions_wire_request_clear(&b->req);
}

static int versions_dev_cmp(const void *a, const void *b)
{
    const struct inv_device *x = *(const struct inv_device *const *)a;
    const struct inv_device *y = *(const struct inv_device *const *)b;
    return strcmp(x->uuid, y->uuid);
}

static int versions_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, (*(const struct inv_device *const *)elem)->uuid);
}

/* The node of (parent, type), added when new. A host has few of them
 * (parents x types), and a batch's devices come in runs of the same one:
 * the last hit is tried first. SIZE_MAX when out of memory. */
static size_t versions_node(struct versions_batch *b, const char *parent, const char *type,
                            size_t *last)
{
    if (*last < b->node_count && strcmp(b->nodes[*last].parent, parent) == 0 &&
        strcmp(b->nodes[*last].type, type) == 0)
        return *last;
    for (size_t i = 0; i < b->node_count; i++) {
        if (strcmp(b->nodes[i].parent, parent) == 0 && strcmp(b->nodes[i].type, type) == 0)
            return *last = i;
    }
    struct versions_node *n = &b->nodes[b->node_count];
    n->parent = strdup(parent);
    n->type = strdup(type);
    if (n->parent == NULL || n->type == NULL) {
        free(n->parent);
        free(n->type);
        n->parent = n->type = NULL;
        return SIZE_MAX;
    }
    return *last = b->node_count++;
}

/* Which requested devices this host has, and their type nodes, from the
 * inventory under its read lock. 0, 503 (no inventory yet) or 500. */
static int versions_locate(struct collector *c, struct versions_batch *b)
{
    int status = 0;
    pthread_rwlock_rdlock(&c->lock);
    if (!c->have_inventory) {
        pthread_rwlock_unlock(&c->lock);
        return 503;
    }
    /* Sorted once, so a batch costs O((devices + asked) log devices) of
     * lookups instead of a scan of the inventory per UUID. */
    size_t count = c->inv.device_count;
    const struct inv_device **by_uuid = calloc(count + 1, sizeof *by_uuid);
    if (by_uuid == NULL) {
        pthread_rwlock_unlock(&c->lock);
        return 500;
    }
    for (size_t i = 0; i < count; i++)
        by_uuid[i] = &c->inv.devices[i];
    qsort(by_uuid, count, sizeof *by_uuid, versions_dev_cmp);
    size_t last = SIZE_MAX;
    for (size_t i = 0; i < b->req.count && status == 0; i++) {
        const struct inv_device *const *hit =
            bsearch(b->req.devices[i], by_uuid, count, sizeof *by_uuid, versions_key_cmp);
        b->node_of[i] =
            hit == NULL ? SIZE_MAX : versions_node(b, (*hit)->parent, (*hit)->type, &last);
        if (hit != NULL && b->node_of[i] == SIZE_MAX)
            status = 500;
    }
    pthread_rwlock_unlock(&c->lock);
    free(by_uuid);
    return status;
}

/* A batch's device reads are spread over a few threads: each read waits
 * on the driver (a FUSE daemon's round trips on mdevsim, a vendor's
 * show() on real sysfs), and the waits overlap. A small batch is read on
 * the request's own thread; beyond VERSIONS_PER_READER devices a reader
 * is added, up to VERSIONS_READERS. */
#define VERSIONS_READERS    8
#define VERSIONS_PER_READER 64

struct versions_reader {
    struct collector *c;
    struct versions_batch *b;
    size_t first, step; /* the devices it reads: first, first + step, ... */
    int failed;         /* why a read could not reach the driver; 0: none */
};

static void *versions_reader_run(void *arg)
{
    struct versions_reader *r = arg;
    struct versions_batch *b = r->b;
    for (size_t i = r->first; i < b->req.count && r->failed == 0; i += r->step) {
        struct versions_wire_device *d = &b->out[i];
        if (d->error == NULL)
            r->failed = versions_read_device(r->c, d->parent, d->uuid, d->type, &d->migration);
    }
    return NULL;
}

/* Every attribute the batch needs, read live: each type node once, then
 * each device. 0, or the errno that kept a read from the driver. */
static int versions_read_all(struct collector *c, struct versions_batch *b)
{
    for (size_t i = 0; i < b->node_count; i++) {
        int failed =
            versions_read_type(c, b->nodes[i].parent, b->nodes[i].type, &b->nodes[i].migration);
        if (failed != 0)
            return failed;
    }
    for (size_t i = 0; i < b->req.count; i++) {
        struct versions_wire_device *d = &b->out[i];
        d->uuid = b->req.devices[i];
        if (b->node_of[i] == SIZE_MAX) {
            d->error = VERSIONS_WIRE_NOT_FOUND;
            continue;
        }
        const struct versions_node *n = &b->nodes[b->node_of[i]];
        d->parent = n->parent;
        d->type = n->type;
        /* The node's migration is shared, not copied: the reply only
         * encodes it, and versions_batch_free clears it once, by the node. */
        d->type_migration = n->migration;
    }
    size_t readers = 1 + b->req.count / VERSIONS_PER_READER;
    if (readers > VERSIONS_READERS)
        readers = VERSIONS_READERS;
    struct versions_reader r[VERSIONS_READERS];
    pthread_t threads[VERSIONS_READERS];
    bool started[VERSIONS_READERS] = {false};
    for (size_t k = 0; k < readers; k++) {
        r[k] = (struct versions_reader){.c = c, .b = b, .first = k, .step = readers};
        /* Reader 0 is this thread; one that cannot start leaves its share
         * to this thread too, read after the others are under way. */
        started[k] = k > 0 && pthread_create(&threads[k], NULL, versions_reader_run, &r[k]) == 0;
    }
    for (size_t k = 0; k < readers; k++) {
        if (!started[k])
            versions_reader_run(&r[k]);
    }
    int failed = 0;
    for (size_t k = 0; k < readers; k++) {
        if (started[k])
            pthread_join(threads[k], NULL);
        if (failed == 0)
            failed = r[k].failed;
    }
    return failed;
}

/* Answer a checked request: 0 with resp filled, or an HTTP status with
 * why in err. */
static int versions_answer(struct collector *c, struct versions_batch *b,
                           struct http_response *resp, size_t *found, char *err, size_t errlen)
{
    b->node_of = calloc(b->req.count, sizeof *b->node_of);
    b->nodes = calloc(b->req.count, sizeof *b->nodes);
    b->out = calloc(b->req.count, sizeof *b->out);
    int status =
        b->node_of == NULL || b->nodes == NULL || b->out == NULL ? 500 : versions_locate(c, b);
    if (status == 503) {
        snprintf(err, errlen, "no inventory yet: the first scan has not completed");
        return status;
    }
    if (status != 0) {
        snprintf(err, errlen, "out of memory");
        return status;
    }
    long start = metrics_now_us();
    int failed = versions_read_all(c, b);
    if (failed != 0) {
        snprintf(err, errlen, "cannot read migration_version on host %s now: %s", c->cfg->host,
                 strerror(failed));
        return 503;
    }
    struct versions_wire_reply reply = {
        .host = c->cfg->host,
        .devices = b->out,
        .count = b->req.count,
        .elapsed_us = metrics_now_us() - start,
        .type_table = b->req.type_table,
    };
    size_t len;
    char *text = versions_wire_reply_text(&reply, &len);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return 500;
    }
    *found = 0;
    for (size_t i = 0; i < b->req.count; i++)
        *found += b->node_of[i] != SIZE_MAX;
    http_response_take(resp, 200, "application/json", text, len);
    return 0;
}

void versions_batch(struct collector *c, const struct http_request *http,
                    struct http_response *resp)
{
    json_error_t jerr;
    json_t *body = json_loadb(http->body, http->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        metrics_reply_collector_batch(c, false, 0);
        http_response_error(resp, 400, "invalid JSON at line %d, column %d: %s", jerr.line,
                            jerr.column, jerr.text);
        return;
    }
    struct versions_batch b = {0};
    char err[512];
    int rc = versions_wire_request_from_json(body, &b.req, err, sizeof err);
    json_decref(body);
    if (rc < 0) {
        metrics_reply_collector_batch(c, false, 0);
        http_response_error(resp, 400, "%s", err);
        return;
    }
    size_t found = 0;
    int status = versions_answer(c, &b, resp, &found, err, sizeof err);
    if (status != 0)
        http_response_error(resp, status, "%s", err);
    metrics_reply_collector_batch(c, status == 0, found);
    versions_batch_free(&b);
}
