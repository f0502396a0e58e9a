/*
 * versions_wire — strict in both directions, like probe_wire: unknown
 * fields are refused, every string is checked for its form, and a
 * version's digest is recomputed, never trusted, because what a scheduler
 * reads here becomes the source version it writes into every candidate's
 * driver and the key of its probe cache.
 */
#include "versions_wire.h"

#include "errname.h"
#include "json_text.h"
#include "version.h"
#include "wire.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSIONS_WIRE_TEXT_MAX   256
#define VERSIONS_WIRE_PARENT_MAX 255
#define VERSIONS_WIRE_ERRNO_MAX  4095

static int versions_wire_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int versions_wire_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The first key of json not among known, or NULL. */
static const char *versions_wire_stray(const json_t *json, const char *const *known, size_t count)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json, key, value)
    {
        bool ok = false;
        for (size_t i = 0; i < count && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok)
            return key;
    }
    return NULL;
}

/* ---- request --------------------------------------------------------- */

struct versions_wire_seen {
    const char *uuid;
    size_t index;
};

static int versions_wire_seen_cmp(const void *a, const void *b)
{
    const struct versions_wire_seen *x = a, *y = b;
    int c = strcmp(x->uuid, y->uuid);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* -1 with the first repeat (by its later index) named in err. Sorting
 * keeps the check O(n log n) at the maximum's 4096 UUIDs. */
static int versions_wire_unique(const struct versions_wire_request *req, char *err, size_t errlen)
{
    if (req->count < 2)
        return 0;
    struct versions_wire_seen *seen = malloc(req->count * sizeof *seen);
    if (seen == NULL)
        return versions_wire_fail(err, errlen, "out of memory");
    for (size_t i = 0; i < req->count; i++)
        seen[i] = (struct versions_wire_seen){.uuid = req->devices[i], .index = i};
    qsort(seen, req->count, sizeof *seen, versions_wire_seen_cmp);
    size_t first = 0, again = req->count;
    for (size_t i = 1; i < req->count; i++) {
        if (strcmp(seen[i - 1].uuid, seen[i].uuid) == 0 && seen[i].index < again) {
            first = seen[i - 1].index;
            again = seen[i].index;
        }
    }
    free(seen);
    if (again == req->count)
        return 0;
    return versions_wire_fail(err, errlen, "devices[%zu] repeats devices[%zu] (%s): name each once",
                              again, first, req->devices[again]);
}

int versions_wire_request_from_json(const json_t *json, struct versions_wire_request *out,
                                    char *err, size_t errlen)
{
    static const char *const known[] = {"devices", "type_table"};
    memset(out, 0, sizeof *out);
    if (!json_is_object(json))
        return versions_wire_fail(err, errlen, "the body must be a JSON object");
    const char *stray = versions_wire_stray(json, known, 2);
    if (stray != NULL)
        return versions_wire_fail(err, errlen,
                                  "unknown field \"%.64s\" (expected devices, type_table)", stray);
    const json_t *table = json_object_get(json, "type_table");
    if (table != NULL && !json_is_boolean(table))
        return versions_wire_fail(err, errlen, "\"type_table\" must be true or false");
    bool type_table = json_is_true(table);
    const json_t *devices = json_object_get(json, "devices");
    if (devices == NULL)
        return versions_wire_fail(err, errlen, "\"devices\" is required: a list of mdev UUIDs");
    if (!json_is_array(devices))
        return versions_wire_fail(err, errlen, "\"devices\" must be a list of mdev UUIDs");
    size_t count = json_array_size(devices);
    if (count == 0)
        return versions_wire_fail(err, errlen, "\"devices\" is empty: name at least one UUID");
    if (count > VERSIONS_WIRE_MAX_DEVICES)
        return versions_wire_fail(err, errlen,
                                  "\"devices\" lists %zu UUIDs: at most %d per request", count,
                                  VERSIONS_WIRE_MAX_DEVICES);
    out->devices = calloc(count, sizeof *out->devices);
    if (out->devices == NULL)
        return versions_wire_fail(err, errlen, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const json_t *v = json_array_get(devices, i);
        if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)) ||
            !wire_uuid_valid(json_string_value(v))) {
            versions_wire_request_clear(out);
            return versions_wire_fail(
                err, errlen, "devices[%zu] is not an mdev UUID (8-4-4-4-12 hex digits)", i);
        }
        const char *s = json_string_value(v);
        for (size_t k = 0; k < INV_UUID_LEN - 1; k++)
            out->devices[i][k] = (char)tolower((unsigned char)s[k]);
        out->count = i + 1;
    }
    if (versions_wire_unique(out, err, errlen) < 0) {
        versions_wire_request_clear(out);
        return -1;
    }
    out->type_table = type_table;
    return 0;
}

void versions_wire_request_clear(struct versions_wire_request *req)
{
    free(req->devices);
    memset(req, 0, sizeof *req);
}

json_t *versions_wire_request_to_json(const char *const *uuids, size_t count, bool type_table)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < count; i++) {
        if (json_array_append_new(list, json_string(uuids[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (list == NULL)
        return NULL;
    return type_table ? json_pack("{s:o, s:b}", "devices", list, "type_table", 1)
                      : json_pack("{s:o}", "devices", list);
}

/* ---- reply ----------------------------------------------------------- */

/* The "parent", "type" and "migration" members a device entry and a
 * type-table entry share. */
static void versions_wire_target_put(struct json_text *t, const struct versions_wire_device *d,
                                     const struct inv_migration *migration)
{
    json_text_key(t, "parent");
    json_text_string(t, d->parent);
    json_text_key(t, "type");
    json_text_string(t, d->type);
    json_text_key(t, "migration");
    wire_migration_put(t, migration);
}

/* The compact form's "types": each (parent, type) of the devices found
 * once, in the order first met. A host has few; each new one is looked
 * for among those listed. -1 when out of memory. */
static int versions_wire_types_put(struct json_text *t, const struct versions_wire_reply *reply)
{
    const struct versions_wire_device **listed = calloc(reply->count + 1, sizeof *listed);
    if (listed == NULL)
        return -1;
    size_t n = 0;
    json_text_array_begin(t);
    for (size_t i = 0; i < reply->count; i++) {
        const struct versions_wire_device *d = &reply->devices[i];
        bool seen = d->error != NULL;
        for (size_t k = n; !seen && k-- > 0;)
            seen =
                strcmp(listed[k]->type, d->type) == 0 && strcmp(listed[k]->parent, d->parent) == 0;
        if (seen)
            continue;
        listed[n++] = d;
        json_text_object_begin(t);
        versions_wire_target_put(t, d, &d->type_migration);
        json_text_object_end(t);
    }
    json_text_array_end(t);
    free(listed);
    return 0;
}

static void versions_wire_device_put(struct json_text *t, const struct versions_wire_device *d,
                                     bool type_table)
{
    json_text_object_begin(t);
    json_text_key(t, "uuid");
    json_text_string(t, d->uuid);
    if (d->error != NULL) {
        json_text_key(t, "error");
        json_text_string(t, d->error);
    } else {
        versions_wire_target_put(t, d, &d->migration);
        if (!type_table) {
            json_text_key(t, "type_migration");
            wire_migration_put(t, &d->type_migration);
        }
    }
    json_text_object_end(t);
}

char *versions_wire_reply_text(const struct versions_wire_reply *reply, size_t *len)
{
    struct json_text t = {0};
    json_text_object_begin(&t);
    json_text_key(&t, "host");
    json_text_string(&t, reply->host);
    if (reply->type_table) {
        json_text_key(&t, "types");
        if (versions_wire_types_put(&t, reply) < 0)
            t.buf.failed = true;
    }
    json_text_key(&t, "devices");
    json_text_array_begin(&t);
    for (size_t i = 0; i < reply->count; i++)
        versions_wire_device_put(&t, &reply->devices[i], reply->type_table);
    json_text_array_end(&t);
    json_text_key(&t, "elapsed_us");
    json_text_integer(&t, reply->elapsed_us);
    json_text_object_end(&t);
    return json_text_take(&t, len);
}

/* A string of 1..max bytes without NUL, or -1 naming path.key. */
static int versions_wire_string(const json_t *json, const char *path, const char *key, size_t max,
                                const char **out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(json, key);
    *out = NULL;
    if (v == NULL)
        return versions_wire_fail(err, errlen, "%s.%s is required", path, key);
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) != strlen(json_string_value(v)) || json_string_length(v) > max)
        return versions_wire_fail(
            err, errlen, "%s.%s must be a string of 1 to %zu bytes without NUL", path, key, max);
    *out = json_string_value(v);
    return 0;
}

/* A migration object as wire_migration_to_json writes it: its three
 * shapes (no attribute; a failed read with its errno; a version with its
 * digest), each with only its own keys. */
static int versions_wire_migration(const json_t *json, const char *path, const char *type_id,
                                   struct inv_migration *out, char *err, size_t errlen)
{
    static const char *const known[] = {"supported", "version", "digest", "errno", "error"};
    memset(out, 0, sizeof *out);
    if (!json_is_object(json))
        return versions_wire_fail(err, errlen, "%s must be an object", path);
    const char *stray = versions_wire_stray(json, known, sizeof known / sizeof known[0]);
    if (stray != NULL)
        return versions_wire_fail(err, errlen, "%s: unknown field \"%.64s\"", path, stray);
    const json_t *supported = json_object_get(json, "supported");
    if (!json_is_boolean(supported))
        return versions_wire_fail(err, errlen, "%s.supported must be true or false", path);
    out->supported = json_is_true(supported);
    const json_t *e = json_object_get(json, "errno");
    if (!out->supported) {
        if (json_object_size(json) > 1)
            return versions_wire_fail(err, errlen,
                                      "%s: an unsupported attribute has only "
                                      "\"supported\"",
                                      path);
        return 0;
    }
    if (e != NULL) {
        if (json_object_get(json, "version") != NULL || json_object_get(json, "digest") != NULL)
            return versions_wire_fail(
                err, errlen, "%s: a read that failed has no \"version\" or \"digest\"", path);
        if (!json_is_integer(e) || json_integer_value(e) < 1 ||
            json_integer_value(e) > VERSIONS_WIRE_ERRNO_MAX)
            return versions_wire_fail(err, errlen, "%s.errno must be an integer from 1 to %d", path,
                                      VERSIONS_WIRE_ERRNO_MAX);
        out->read_errno = (int)json_integer_value(e);
        const json_t *name = json_object_get(json, "error");
        const char *expected = errname_of(out->read_errno);
        /* null where errno has no name (wire_migration_to_json). */
        if (name != NULL && !json_is_null(name) &&
            (!json_is_string(name) || expected == NULL ||
             strcmp(json_string_value(name), expected) != 0 ||
             json_string_length(name) != strlen(expected)))
            return versions_wire_fail(err, errlen, "%s.error must be the errno's name", path);
        return 0;
    }
    if (json_object_get(json, "error") != NULL)
        return versions_wire_fail(err, errlen, "%s: \"error\" goes only with \"errno\"", path);
    const json_t *version = json_object_get(json, "version");
    if (!json_is_string(version))
        return versions_wire_fail(
            err, errlen, "%s.version is required (a string) when supported and no errno", path);
    char why[160];
    if (strlen(json_string_value(version)) != json_string_length(version) ||
        !version_validate(json_string_value(version), json_string_length(version), why, sizeof why))
        return versions_wire_fail(err, errlen, "%s.version: %s", path,
                                  strlen(json_string_value(version)) != json_string_length(version)
                                      ? "contains NUL"
                                      : why);
    out->version = strdup(json_string_value(version));
    if (out->version == NULL || version_digest(type_id, out->version, out->digest) < 0) {
        inv_migration_clear(out);
        return versions_wire_fail(err, errlen, "out of memory");
    }
    const json_t *digest = json_object_get(json, "digest");
    if (digest == NULL || !json_is_string(digest) ||
        strcmp(json_string_value(digest), out->digest) != 0) {
        inv_migration_clear(out);
        return versions_wire_fail(
            err, errlen, "%s.digest must be SHA-256 of type id, newline, version (hex)", path);
    }
    return 0;
}

/* The compact form's "types", decoded: each type node's migration once. */
struct versions_wire_type {
    const char *parent;
    const char *type;
    struct inv_migration migration;
};

struct versions_wire_types {
    struct versions_wire_type *items;
    size_t count;
};

static void versions_wire_types_clear(struct versions_wire_types *t)
{
    for (size_t i = 0; t->items != NULL && i < t->count; i++)
        inv_migration_clear(&t->items[i].migration);
    free(t->items);
    memset(t, 0, sizeof *t);
}

static const struct versions_wire_type *
versions_wire_types_find(const struct versions_wire_types *t, const char *parent, const char *type)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->items[i].type, type) == 0 && strcmp(t->items[i].parent, parent) == 0)
            return &t->items[i];
    return NULL;
}

/* An entry's "parent" and "type", checked; path names the entry. */
static int versions_wire_place(const json_t *json, const char *path, const char **parent,
                               const char **type, char *err, size_t errlen)
{
    if (versions_wire_string(json, path, "parent", VERSIONS_WIRE_PARENT_MAX, parent, err, errlen) <
            0 ||
        versions_wire_string(json, path, "type", 128, type, err, errlen) < 0)
        return -1;
    if (!version_type_id_valid(*type))
        return versions_wire_fail(err, errlen, "%s.type is not an mdev type id like nvidia-222",
                                  path);
    return 0;
}

static int versions_wire_types_from_json(const json_t *json, struct versions_wire_types *out,
                                         char *err, size_t errlen)
{
    static const char *const known[] = {"parent", "type", "migration"};
    memset(out, 0, sizeof *out);
    if (!json_is_array(json))
        return versions_wire_fail(err, errlen, "\"types\" must be a list");
    size_t count = json_array_size(json);
    if (count > VERSIONS_WIRE_MAX_DEVICES)
        return versions_wire_fail(err, errlen, "\"types\" has %zu entries: at most %d", count,
                                  VERSIONS_WIRE_MAX_DEVICES);
    out->items = calloc(count + 1, sizeof *out->items);
    if (out->items == NULL)
        return versions_wire_fail(err, errlen, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const json_t *entry = json_array_get(json, i);
        struct versions_wire_type *t = &out->items[i];
        char path[64], where[96];
        snprintf(path, sizeof path, "types[%zu]", i);
        snprintf(where, sizeof where, "%s.migration", path);
        const char *stray = json_is_object(entry) ? versions_wire_stray(entry, known, 3) : NULL;
        int rc = !json_is_object(entry)
                     ? versions_wire_fail(err, errlen, "%s must be an object", path)
                 : stray != NULL
                     ? versions_wire_fail(err, errlen, "%s: unknown field \"%.64s\"", path, stray)
                     : versions_wire_place(entry, path, &t->parent, &t->type, err, errlen);
        if (rc == 0 && versions_wire_types_find(out, t->parent, t->type) != NULL)
            rc = versions_wire_fail(err, errlen, "%s repeats parent %s, type %s", path, t->parent,
                                    t->type);
        const json_t *mig = json_object_get(entry, "migration");
        if (rc == 0 && mig == NULL)
            rc = versions_wire_fail(err, errlen, "%s is required", where);
        if (rc == 0)
            rc = versions_wire_migration(mig, where, t->type, &t->migration, err, errlen);
        if (rc < 0) {
            versions_wire_types_clear(out);
            return -1;
        }
        out->count = i + 1;
    }
    return 0;
}

/* A copy of a decoded migration (its version duplicated). */
static int versions_wire_migration_copy(const struct inv_migration *from, struct inv_migration *to)
{
    *to = *from;
    to->version = NULL;
    if (from->version != NULL && (to->version = strdup(from->version)) == NULL)
        return -1;
    return 0;
}

/* One device entry; with types (the compact form) it has no
 * "type_migration" and takes its type node's from there. */
static int versions_wire_entry(const json_t *json, size_t index,
                               const struct versions_wire_types *types,
                               struct versions_wire_device *out, char *err, size_t errlen)
{
    static const char *const found[] = {"uuid", "parent", "type", "migration", "type_migration"};
    static const char *const missing[] = {"uuid", "error"};
    char path[64];
    snprintf(path, sizeof path, "devices[%zu]", index);
    if (!json_is_object(json))
        return versions_wire_fail(err, errlen, "%s must be an object", path);
    if (versions_wire_string(json, path, "uuid", INV_UUID_LEN - 1, &out->uuid, err, errlen) < 0)
        return -1;
    if (!wire_uuid_valid(out->uuid))
        return versions_wire_fail(err, errlen, "%s.uuid is not an mdev UUID", path);
    bool is_error = json_object_get(json, "error") != NULL;
    const char *stray = is_error ? versions_wire_stray(json, missing, 2)
                                 : versions_wire_stray(json, found, types != NULL ? 4 : 5);
    if (stray != NULL)
        return versions_wire_fail(err, errlen, "%s: unknown field \"%.64s\"%s", path, stray,
                                  is_error        ? " (an entry with \"error\" has only \"uuid\")"
                                  : types != NULL ? " (its type's migration is in \"types\")"
                                                  : "");
    if (is_error)
        return versions_wire_string(json, path, "error", VERSIONS_WIRE_TEXT_MAX, &out->error, err,
                                    errlen);
    if (versions_wire_place(json, path, &out->parent, &out->type, err, errlen) < 0)
        return -1;
    char where[96];
    snprintf(where, sizeof where, "%s.migration", path);
    const json_t *mig = json_object_get(json, "migration");
    if (mig == NULL)
        return versions_wire_fail(err, errlen, "%s is required", where);
    if (versions_wire_migration(mig, where, out->type, &out->migration, err, errlen) < 0)
        return -1;
    if (types != NULL) {
        const struct versions_wire_type *t =
            versions_wire_types_find(types, out->parent, out->type);
        if (t == NULL)
            return versions_wire_fail(err, errlen, "%s: \"types\" has no parent %s, type %s", path,
                                      out->parent, out->type);
        if (versions_wire_migration_copy(&t->migration, &out->type_migration) < 0)
            return versions_wire_fail(err, errlen, "out of memory");
        return 0;
    }
    snprintf(where, sizeof where, "%s.type_migration", path);
    mig = json_object_get(json, "type_migration");
    if (mig == NULL)
        return versions_wire_fail(err, errlen, "%s is required", where);
    return versions_wire_migration(mig, where, out->type, &out->type_migration, err, errlen);
}

int versions_wire_reply_from_json(const json_t *json, struct versions_wire_reply *out, char *err,
                                  size_t errlen)
{
    static const char *const known[] = {"host", "types", "devices", "elapsed_us"};
    memset(out, 0, sizeof *out);
    if (!json_is_object(json))
        return versions_wire_fail(err, errlen, "not a JSON object");
    const char *stray = versions_wire_stray(json, known, sizeof known / sizeof known[0]);
    if (stray != NULL)
        return versions_wire_fail(err, errlen, "unknown field \"%.64s\"", stray);
    const json_t *host = json_object_get(json, "host");
    char why[160];
    if (!json_is_string(host) || json_string_length(host) != strlen(json_string_value(host)) ||
        !wire_host_name_valid(json_string_value(host), why, sizeof why))
        return versions_wire_fail(err, errlen, "\"host\" must be %s", WIRE_HOST_RULE);
    const json_t *elapsed = json_object_get(json, "elapsed_us");
    if (!json_is_integer(elapsed) || json_integer_value(elapsed) < 0)
        return versions_wire_fail(err, errlen, "\"elapsed_us\" must be an integer of at least 0");
    const json_t *devices = json_object_get(json, "devices");
    if (!json_is_array(devices))
        return versions_wire_fail(err, errlen, "\"devices\" must be a list");
    size_t count = json_array_size(devices);
    if (count > VERSIONS_WIRE_MAX_DEVICES)
        return versions_wire_fail(err, errlen,
                                  "\"devices\" has %zu entries: a request names at "
                                  "most %d",
                                  count, VERSIONS_WIRE_MAX_DEVICES);
    struct versions_wire_types types = {0};
    const json_t *types_json = json_object_get(json, "types");
    if (types_json != NULL && versions_wire_types_from_json(types_json, &types, err, errlen) < 0)
        return -1;
    out->devices = calloc(count + 1, sizeof *out->devices);
    if (out->devices == NULL) {
        versions_wire_types_clear(&types);
        return versions_wire_fail(err, errlen, "out of memory");
    }
    out->host = json_string_value(host);
    out->elapsed_us = (long)json_integer_value(elapsed);
    out->type_table = types_json != NULL;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        out->count = i + 1;
        rc = versions_wire_entry(json_array_get(devices, i), i, types_json != NULL ? &types : NULL,
                                 &out->devices[i], err, errlen);
    }
    versions_wire_types_clear(&types);
    if (rc < 0)
        versions_wire_reply_clear(out);
    return rc;
}

void versions_wire_reply_clear(struct versions_wire_reply *reply)
{
    for (size_t i = 0; reply->devices != NULL && i < reply->count; i++) {
        inv_migration_clear(&reply->devices[i].migration);
        inv_migration_clear(&reply->devices[i].type_migration);
    }
    free(reply->devices);
    memset(reply, 0, sizeof *reply);
}
