/*
 * wire — inventory <-> JSON. Parsing is strict: a collector that sends a
 * malformed snapshot is told exactly where (as a JSON path) instead of
 * having half of it stored. Digests are recomputed, never trusted.
 *
 * inventory_same_content is here, not in inventory.c, because it compares
 * two inventories' wire forms: so inventory.c knows nothing of JSON and
 * the dependency runs one way, wire on inventory. It keeps the inventory_
 * name its callers (the collector) know it by.
 */
#include "wire.h"

#include "errname.h"
#include "http_url.h"
#include "json_text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool wire_uuid_valid(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* ---- to JSON --------------------------------------------------------- */

json_t *wire_migration_to_json(const struct inv_migration *mig)
{
    if (!mig->supported)
        return json_pack("{s:b}", "supported", 0);
    if (mig->read_errno != 0) {
        const char *name = errname_of(mig->read_errno);
        return json_pack("{s:b, s:i, s:s?}", "supported", 1, "errno", mig->read_errno, "error",
                         name);
    }
    return json_pack("{s:b, s:s, s:s}", "supported", 1, "version",
                     mig->version != NULL ? mig->version : "", "digest", mig->digest);
}

void wire_migration_put(struct json_text *t, const struct inv_migration *mig)
{
    json_text_object_begin(t);
    json_text_key(t, "supported");
    json_text_bool(t, mig->supported);
    if (mig->supported && mig->read_errno != 0) {
        json_text_key(t, "errno");
        json_text_integer(t, mig->read_errno);
        json_text_key(t, "error");
        json_text_string(t, errname_of(mig->read_errno));
    } else if (mig->supported) {
        json_text_key(t, "version");
        json_text_string(t, mig->version != NULL ? mig->version : "");
        json_text_key(t, "digest");
        json_text_string(t, mig->digest);
    }
    json_text_object_end(t);
}

static json_t *wire_int_or_null(long long value)
{
    return value < 0 ? json_null() : json_integer(value);
}

static json_t *wire_str_or_null(const char *s)
{
    return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

json_t *wire_inventory_to_json(const struct inventory *inv)
{
    json_t *parents = json_array();
    json_t *devices = json_array();
    json_t *instances = json_array();
    json_t *root = json_pack("{s:i, s:s, s:o, s:I, s:I, s:o, s:o, s:o}", "schema_version",
                             WIRE_SCHEMA_VERSION, "host", inv->host ? inv->host : "",
                             "collector_url", wire_str_or_null(inv->collector_url), "generation",
                             (json_int_t)inv->generation, "scanned_at", (json_int_t)inv->scanned_at,
                             "parents", parents, "devices", devices, "instances", instances);
    if (root == NULL)
        return NULL;
    bool ok = true;
    for (size_t p = 0; p < inv->parent_count && ok; p++) {
        const struct inv_parent *parent = &inv->parents[p];
        json_t *types = json_array();
        for (size_t t = 0; t < parent->type_count && types != NULL && ok; t++) {
            const struct inv_type *type = &parent->types[t];
            json_t *jt = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", type->id, "name",
                                   type->name ? type->name : "", "description",
                                   type->description ? type->description : "", "device_api",
                                   type->device_api ? type->device_api : "", "available_instances",
                                   wire_int_or_null(type->available_instances), "migration",
                                   wire_migration_to_json(&type->migration));
            ok = ok && jt != NULL && json_array_append_new(types, jt) == 0;
        }
        json_t *jp = json_pack("{s:s, s:o}", "name", parent->name, "types", types);
        if (ok)
            ok = jp != NULL && json_array_append_new(parents, jp) == 0;
        else
            json_decref(jp);
    }
    for (size_t d = 0; d < inv->device_count && ok; d++) {
        const struct inv_device *dev = &inv->devices[d];
        json_t *jd = json_pack(
            "{s:s, s:s, s:s, s:o, s:o, s:o}", "uuid", dev->uuid, "parent", dev->parent, "type",
            dev->type, "iommu_group", wire_int_or_null(dev->iommu_group), "migration",
            wire_migration_to_json(&dev->migration), "instance", wire_str_or_null(dev->instance));
        ok = ok && jd != NULL && json_array_append_new(devices, jd) == 0;
    }
    for (size_t i = 0; i < inv->instance_count && ok; i++) {
        const struct inv_instance *vm = &inv->instances[i];
        json_t *mdevs = json_array();
        for (size_t m = 0; m < vm->mdev_count && mdevs != NULL && ok; m++)
            ok = ok && json_array_append_new(mdevs, json_string(vm->mdevs[m])) == 0;
        json_t *ji =
            json_pack("{s:s, s:s, s:s, s:o}", "uuid", vm->uuid, "name", vm->name ? vm->name : "",
                      "state", vm->state ? vm->state : "", "mdevs", mdevs);
        ok = ok && ji != NULL && json_array_append_new(instances, ji) == 0;
    }
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ---- comparing ------------------------------------------------------ */

bool inventory_same_content(const struct inventory *a, const struct inventory *b)
{
    json_t *ja = wire_inventory_to_json(a);
    json_t *jb = wire_inventory_to_json(b);
    bool same = false;
    if (ja != NULL && jb != NULL) {
        /* What identifies a snapshot, not what it holds. */
        static const char *const volatile_keys[] = {"generation", "scanned_at", "collector_url"};
        for (size_t i = 0; i < sizeof volatile_keys / sizeof volatile_keys[0]; i++) {
            json_object_del(ja, volatile_keys[i]);
            json_object_del(jb, volatile_keys[i]);
        }
        same = json_equal(ja, jb);
    }
    json_decref(ja);
    json_decref(jb);
    return same;
}

/* ---- from JSON ------------------------------------------------------- */

/* Names that end up in paths, tables and logs: printable ASCII, no space,
 * no '/', so a peer cannot smuggle terminal codes or path parts in. */
static bool wire_name_ok(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s <= 0x20 || *s > 0x7e || *s == '/')
            return false;
    }
    return true;
}

bool wire_host_name_valid(const char *s, char *why, size_t whylen)
{
    size_t total = strlen(s);
    const char *problem = NULL;
    if (total == 0)
        problem = "is empty";
    else if (total > 253)
        problem = "is longer than 253 bytes";
    for (const char *label = s; problem == NULL;) {
        const char *dot = strchr(label, '.');
        size_t len = dot != NULL ? (size_t)(dot - label) : strlen(label);
        if (len == 0)
            problem = "has an empty label";
        else if (len > 63)
            problem = "has a label longer than 63 bytes";
        else if (label[0] == '-' || label[len - 1] == '-')
            problem = "has a label that starts or ends with '-'";
        for (size_t i = 0; i < len && problem == NULL; i++)
            if (!isalnum((unsigned char)label[i]) && label[i] != '-')
                problem = "holds a byte that is not a letter, digit, '-' or '.'";
        if (dot == NULL)
            break;
        label = dot + 1;
    }
    if (problem != NULL && why != NULL)
        snprintf(why, whylen, "%s", problem);
    return problem == NULL;
}

/* Where a value is in the document ("inventory.parents[1].types[0].id"),
 * chained on the stack as the parser descends and written out only when
 * a message needs it: a valid snapshot costs no formatting at all. */
struct wire_path {
    const struct wire_path *up; /* NULL at the document's root */
    const char *key;            /* NULL: item index of the array up */
    size_t index;
};

#define WIRE_KEY(up_, key_) (&(const struct wire_path){.up = (up_), .key = (key_)})
#define WIRE_ITEM(up_, i_)  (&(const struct wire_path){.up = (up_), .index = (i_)})
#define WIRE_ROOT           WIRE_KEY(NULL, "inventory")

/* Appends path to buf[*used..size), truncating quietly. */
static void wire_path_format(const struct wire_path *path, char *buf, size_t size, size_t *used)
{
    if (path->up != NULL)
        wire_path_format(path->up, buf, size, used);
    if (*used >= size)
        return;
    int n = path->key == NULL  ? snprintf(buf + *used, size - *used, "[%zu]", path->index)
            : path->up == NULL ? snprintf(buf + *used, size - *used, "%s", path->key)
                               : snprintf(buf + *used, size - *used, ".%s", path->key);
    *used += n < 0 ? 0 : (size_t)n;
}

struct wire_ctx {
    char *err;
    size_t errlen;
};

static int wire_fail(struct wire_ctx *ctx, const struct wire_path *path, const char *what)
{
    char where[512];
    size_t used = 0;
    where[0] = '\0';
    wire_path_format(path, where, sizeof where, &used);
    snprintf(ctx->err, ctx->errlen, "%s: %s", where, what);
    return -1;
}

struct wire_key {
    const char *key;
    size_t index;
};

static int wire_key_cmp(const void *a, const void *b)
{
    const struct wire_key *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The index of the first item whose key repeats an earlier item's, or n
 * when none does; -1 when out of memory. Sorted, not pairwise: an ingest
 * of a large host must not cost n² comparisons. */
static int wire_first_repeat(const char *(*key_of)(const void *items, size_t i), const void *items,
                             size_t n, size_t *repeat)
{
    *repeat = n;
    if (n < 2)
        return 0;
    struct wire_key *keys = malloc(n * sizeof *keys);
    if (keys == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        keys[i] = (struct wire_key){key_of(items, i), i};
    qsort(keys, n, sizeof *keys, wire_key_cmp);
    for (size_t i = 1; i < n; i++) {
        /* Within a run of equal keys the second is the first repeat. */
        if (strcmp(keys[i - 1].key, keys[i].key) == 0 && keys[i].index < *repeat &&
            (i < 2 || strcmp(keys[i - 2].key, keys[i].key) != 0))
            *repeat = keys[i].index;
    }
    free(keys);
    return 0;
}

static const char *wire_type_key(const void *items, size_t i)
{
    return ((const struct inv_type *)items)[i].id;
}

static const char *wire_parent_key(const void *items, size_t i)
{
    return ((const struct inv_parent *)items)[i].name;
}

static const char *wire_device_key(const void *items, size_t i)
{
    return ((const struct inv_device *)items)[i].uuid;
}

static const char *wire_instance_key(const void *items, size_t i)
{
    return ((const struct inv_instance *)items)[i].uuid;
}

/* Fails with "<array>[i]: what" for the first repeated key. */
static int wire_unique(struct wire_ctx *ctx, const struct wire_path *array,
                       const char *(*key_of)(const void *items, size_t i), const void *items,
                       size_t n, const char *what)
{
    size_t repeat;
    if (wire_first_repeat(key_of, items, n, &repeat) < 0)
        return wire_fail(ctx, array, "out of memory");
    if (repeat == n)
        return 0;
    return wire_fail(ctx, WIRE_ITEM(array, repeat), what);
}

static int wire_keys(struct wire_ctx *ctx, const json_t *obj, const struct wire_path *path,
                     const char *const *allowed, size_t count)
{
    if (!json_is_object(obj))
        return wire_fail(ctx, path, "must be an object");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        bool ok = false;
        for (size_t i = 0; i < count && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char what[320];
            snprintf(what, sizeof what, "unknown key \"%.256s\"", key);
            return wire_fail(ctx, path, what);
        }
    }
    return 0;
}

/* A required string of at most max bytes; copied into *out. */
static int wire_string(struct wire_ctx *ctx, const json_t *obj, const char *key,
                       const struct wire_path *path, size_t max, bool required, char **out)
{
    const struct wire_path *where = WIRE_KEY(path, key);
    const json_t *v = json_object_get(obj, key);
    if (v == NULL && !required) {
        *out = strdup("");
        return *out == NULL ? wire_fail(ctx, where, "out of memory") : 0;
    }
    if (!json_is_string(v))
        return wire_fail(ctx, where, v == NULL ? "is missing" : "must be a string");
    if (json_string_length(v) > max) {
        char what[64];
        snprintf(what, sizeof what, "is longer than %zu bytes", max);
        return wire_fail(ctx, where, what);
    }
    if (strlen(json_string_value(v)) != json_string_length(v))
        return wire_fail(ctx, where, "contains a NUL byte");
    *out = strdup(json_string_value(v));
    return *out == NULL ? wire_fail(ctx, where, "out of memory") : 0;
}

static int wire_uuid(struct wire_ctx *ctx, const json_t *v, const struct wire_path *where,
                     char out[INV_UUID_LEN])
{
    if (!json_is_string(v) || json_string_length(v) != 36 || !wire_uuid_valid(json_string_value(v)))
        return wire_fail(ctx, where, "must be a UUID (8-4-4-4-12 hex digits)");
    const char *s = json_string_value(v);
    for (size_t i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = '\0';
    return 0;
}

static int wire_int_field(struct wire_ctx *ctx, const json_t *obj, const char *key,
                          const struct wire_path *path, long long min, long long max, bool nullable,
                          long long *out)
{
    const struct wire_path *where = WIRE_KEY(path, key);
    const json_t *v = json_object_get(obj, key);
    if (nullable && (v == NULL || json_is_null(v))) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(v))
        return wire_fail(ctx, where, v == NULL ? "is missing" : "must be an integer");
    long long value = json_integer_value(v);
    if (value < min || value > max) {
        char what[96];
        snprintf(what, sizeof what, "must be from %lld to %lld", min, max);
        return wire_fail(ctx, where, what);
    }
    *out = value;
    return 0;
}

static int wire_migration(struct wire_ctx *ctx, const json_t *json, const struct wire_path *path,
                          const char *type_id, struct inv_migration *out)
{
    static const char *const keys[] = {"supported", "version", "digest", "errno", "error"};
    if (wire_keys(ctx, json, path, keys, sizeof keys / sizeof keys[0]) < 0)
        return -1;
    const json_t *supported = json_object_get(json, "supported");
    if (!json_is_boolean(supported))
        return wire_fail(ctx, WIRE_KEY(path, "supported"), "must be true or false");
    memset(out, 0, sizeof *out);
    out->supported = json_is_true(supported);
    const json_t *err_json = json_object_get(json, "errno");
    bool has_errno = err_json != NULL && !json_is_null(err_json);
    /* Each of the three shapes has its own keys; a key of another shape
     * would be dropped on the way through, so it is refused instead. */
    const char *stray = NULL;
    if (!out->supported)
        stray =
            json_object_size(json) > 1 ? "an unsupported attribute has only \"supported\"" : NULL;
    else if (has_errno && (json_object_get(json, "version") || json_object_get(json, "digest")))
        stray = "a read that failed has no \"version\" or \"digest\"";
    else if (!has_errno && json_object_get(json, "error") != NULL)
        stray = "\"error\" goes only with \"errno\"";
    if (stray != NULL)
        return wire_fail(ctx, path, stray);
    if (!out->supported)
        return 0;
    if (has_errno) {
        long long e;
        if (wire_int_field(ctx, json, "errno", path, 1, 4095, false, &e) < 0)
            return -1;
        out->read_errno = (int)e;
        const json_t *name = json_object_get(json, "error");
        const char *expected = errname_of(out->read_errno);
        if (name != NULL && !json_is_null(name) &&
            (!json_is_string(name) || expected == NULL ||
             strcmp(json_string_value(name), expected) != 0 ||
             json_string_length(name) != strlen(expected)))
            return wire_fail(ctx, WIRE_KEY(path, "error"),
                             "must be the errno's name (as errno says)");
        return 0;
    }
    const json_t *version = json_object_get(json, "version");
    const struct wire_path *where = WIRE_KEY(path, "version");
    if (!json_is_string(version))
        return wire_fail(ctx, where, "is required (a string) when supported and no errno");
    char why[160];
    if (!version_validate(json_string_value(version), json_string_length(version), why,
                          sizeof why) ||
        strlen(json_string_value(version)) != json_string_length(version))
        return wire_fail(ctx, where, why);
    out->version = strdup(json_string_value(version));
    if (out->version == NULL || version_digest(type_id, out->version, out->digest) < 0)
        return wire_fail(ctx, where, "out of memory");
    const json_t *digest = json_object_get(json, "digest");
    if (digest != NULL && (!json_is_string(digest) || json_string_length(digest) != 64 ||
                           strcmp(json_string_value(digest), out->digest) != 0))
        return wire_fail(ctx, WIRE_KEY(path, "digest"),
                         "does not match SHA-256 of type id, newline, version");
    return 0;
}

static int wire_type(struct wire_ctx *ctx, const json_t *json, const struct wire_path *path,
                     struct inv_type *out)
{
    static const char *const keys[] = {
        "id", "name", "description", "device_api", "available_instances", "migration"};
    if (wire_keys(ctx, json, path, keys, sizeof keys / sizeof keys[0]) < 0)
        return -1;
    if (wire_string(ctx, json, "id", path, 128, true, &out->id) < 0)
        return -1;
    if (!version_type_id_valid(out->id))
        return wire_fail(ctx, WIRE_KEY(path, "id"), "is not a type id like \"nvidia-222\"");
    long long available;
    if (wire_string(ctx, json, "name", path, 4096, false, &out->name) < 0 ||
        wire_string(ctx, json, "description", path, 4096, false, &out->description) < 0 ||
        wire_string(ctx, json, "device_api", path, 64, false, &out->device_api) < 0 ||
        wire_int_field(ctx, json, "available_instances", path, 0, 1 << 20, true, &available) < 0)
        return -1;
    out->available_instances = (int)available;
    const struct wire_path *where = WIRE_KEY(path, "migration");
    const json_t *mig = json_object_get(json, "migration");
    if (mig == NULL)
        return wire_fail(ctx, where, "is missing");
    return wire_migration(ctx, mig, where, out->id, &out->migration);
}

static int wire_parent(struct wire_ctx *ctx, const json_t *json, const struct wire_path *path,
                       struct inv_parent *out)
{
    static const char *const keys[] = {"name", "types"};
    if (wire_keys(ctx, json, path, keys, sizeof keys / sizeof keys[0]) < 0)
        return -1;
    if (wire_string(ctx, json, "name", path, 255, true, &out->name) < 0)
        return -1;
    if (!wire_name_ok(out->name) || strcmp(out->name, "..") == 0 || strcmp(out->name, ".") == 0)
        return wire_fail(ctx, WIRE_KEY(path, "name"), "is not a device name like \"0000:3b:00.0\"");
    const json_t *types = json_object_get(json, "types");
    const struct wire_path *where = WIRE_KEY(path, "types");
    if (!json_is_array(types))
        return wire_fail(ctx, where, "must be an array");
    out->types = calloc(json_array_size(types) + 1, sizeof *out->types);
    if (out->types == NULL)
        return wire_fail(ctx, where, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(types, i, item)
    {
        out->type_count = i + 1;
        if (wire_type(ctx, item, WIRE_ITEM(where, i), &out->types[i]) < 0)
            return -1;
    }
    return wire_unique(ctx, where, wire_type_key, out->types, out->type_count,
                       "repeats a type id of this parent");
}

static int wire_device(struct wire_ctx *ctx, const json_t *json, const struct wire_path *path,
                       struct inv_device *out)
{
    static const char *const keys[] = {"uuid",        "parent",    "type",
                                       "iommu_group", "migration", "instance"};
    if (wire_keys(ctx, json, path, keys, sizeof keys / sizeof keys[0]) < 0)
        return -1;
    if (wire_uuid(ctx, json_object_get(json, "uuid"), WIRE_KEY(path, "uuid"), out->uuid) < 0)
        return -1;
    long long group;
    if (wire_string(ctx, json, "parent", path, 255, true, &out->parent) < 0 ||
        wire_string(ctx, json, "type", path, 128, true, &out->type) < 0 ||
        wire_int_field(ctx, json, "iommu_group", path, 0, 1 << 30, true, &group) < 0)
        return -1;
    out->iommu_group = (int)group;
    const json_t *instance = json_object_get(json, "instance");
    if (instance != NULL && !json_is_null(instance) &&
        wire_uuid(ctx, instance, WIRE_KEY(path, "instance"), out->instance) < 0)
        return -1;
    const struct wire_path *where = WIRE_KEY(path, "migration");
    const json_t *mig = json_object_get(json, "migration");
    if (mig == NULL)
        return wire_fail(ctx, where, "is missing");
    return wire_migration(ctx, mig, where, out->type, &out->migration);
}

static int wire_instance(struct wire_ctx *ctx, const json_t *json, const struct wire_path *path,
                         struct inv_instance *out)
{
    static const char *const keys[] = {"uuid", "name", "state", "mdevs"};
    if (wire_keys(ctx, json, path, keys, sizeof keys / sizeof keys[0]) < 0)
        return -1;
    if (wire_uuid(ctx, json_object_get(json, "uuid"), WIRE_KEY(path, "uuid"), out->uuid) < 0)
        return -1;
    if (wire_string(ctx, json, "name", path, 1024, false, &out->name) < 0 ||
        wire_string(ctx, json, "state", path, 32, false, &out->state) < 0)
        return -1;
    const json_t *mdevs = json_object_get(json, "mdevs");
    const struct wire_path *where = WIRE_KEY(path, "mdevs");
    if (!json_is_array(mdevs))
        return wire_fail(ctx, where, "must be an array of mdev UUIDs");
    out->mdevs = calloc(json_array_size(mdevs) + 1, sizeof *out->mdevs);
    if (out->mdevs == NULL)
        return wire_fail(ctx, where, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(mdevs, i, item)
    {
        if (wire_uuid(ctx, item, WIRE_ITEM(where, i), out->mdevs[i]) < 0)
            return -1;
        out->mdev_count = i + 1;
    }
    return 0;
}

static int wire_parse(struct wire_ctx *ctx, const json_t *json, struct inventory *out)
{
    static const char *const keys[] = {"schema_version", "host",    "collector_url", "generation",
                                       "scanned_at",     "parents", "devices",       "instances"};
    if (wire_keys(ctx, json, WIRE_ROOT, keys, sizeof keys / sizeof keys[0]) < 0)
        return -1;
    long long schema, generation, scanned_at;
    if (wire_int_field(ctx, json, "schema_version", WIRE_ROOT, 1, WIRE_SCHEMA_VERSION, false,
                       &schema) < 0 ||
        wire_int_field(ctx, json, "generation", WIRE_ROOT, 0, INT64_MAX, false, &generation) < 0 ||
        wire_int_field(ctx, json, "scanned_at", WIRE_ROOT, 0, INT64_MAX, false, &scanned_at) < 0)
        return -1;
    out->generation = generation;
    out->scanned_at = scanned_at;
    if (wire_string(ctx, json, "host", WIRE_ROOT, 255, true, &out->host) < 0)
        return -1;
    char why[96], what[320];
    if (!wire_host_name_valid(out->host, why, sizeof why)) {
        snprintf(what, sizeof what, "must be " WIRE_HOST_RULE "; this one %s", why);
        return wire_fail(ctx, WIRE_KEY(WIRE_ROOT, "host"), what);
    }
    const json_t *url = json_object_get(json, "collector_url");
    if (url != NULL && !json_is_null(url)) {
        if (wire_string(ctx, json, "collector_url", WIRE_ROOT, 2048, true, &out->collector_url) < 0)
            return -1;
        /* The rule the collector's advertise_url was held to (http_url.h),
         * so a snapshot is refused for exactly the URLs a collector could
         * not have been configured with; the sched appends its paths. */
        char url_why[200], url_what[300];
        if (http_url_check_base(out->collector_url, url_why, sizeof url_why) < 0) {
            snprintf(url_what, sizeof url_what, "must be an http:// or https:// URL: %s", url_why);
            return wire_fail(ctx, WIRE_KEY(WIRE_ROOT, "collector_url"), url_what);
        }
    }

    const json_t *parents = json_object_get(json, "parents");
    const json_t *devices = json_object_get(json, "devices");
    const json_t *instances = json_object_get(json, "instances");
    const struct wire_path *parents_path = WIRE_KEY(WIRE_ROOT, "parents");
    const struct wire_path *devices_path = WIRE_KEY(WIRE_ROOT, "devices");
    const struct wire_path *instances_path = WIRE_KEY(WIRE_ROOT, "instances");
    if (!json_is_array(parents))
        return wire_fail(ctx, parents_path, "must be an array");
    if (!json_is_array(devices))
        return wire_fail(ctx, devices_path, "must be an array");
    if (!json_is_array(instances))
        return wire_fail(ctx, instances_path, "must be an array");
    out->parents = calloc(json_array_size(parents) + 1, sizeof *out->parents);
    out->devices = calloc(json_array_size(devices) + 1, sizeof *out->devices);
    out->instances = calloc(json_array_size(instances) + 1, sizeof *out->instances);
    if (out->parents == NULL || out->devices == NULL || out->instances == NULL)
        return wire_fail(ctx, WIRE_ROOT, "out of memory");

    size_t i;
    json_t *item;
    json_array_foreach(parents, i, item)
    {
        out->parent_count = i + 1;
        if (wire_parent(ctx, item, WIRE_ITEM(parents_path, i), &out->parents[i]) < 0)
            return -1;
    }
    if (wire_unique(ctx, parents_path, wire_parent_key, out->parents, out->parent_count,
                    "repeats a parent name") < 0)
        return -1;
    json_array_foreach(devices, i, item)
    {
        const struct wire_path *path = WIRE_ITEM(devices_path, i);
        out->device_count = i + 1;
        if (wire_device(ctx, item, path, &out->devices[i]) < 0)
            return -1;
        if (inventory_find_type(out, out->devices[i].parent, out->devices[i].type) == NULL)
            return wire_fail(ctx, path, "names a parent and type not in parents");
    }
    if (wire_unique(ctx, devices_path, wire_device_key, out->devices, out->device_count,
                    "repeats a device UUID") < 0)
        return -1;
    json_array_foreach(instances, i, item)
    {
        out->instance_count = i + 1;
        if (wire_instance(ctx, item, WIRE_ITEM(instances_path, i), &out->instances[i]) < 0)
            return -1;
    }
    return wire_unique(ctx, instances_path, wire_instance_key, out->instances, out->instance_count,
                       "repeats an instance UUID");
}

int wire_inventory_from_json(const json_t *json, struct inventory *out, char *err, size_t errlen)
{
    struct wire_ctx ctx = {.err = err, .errlen = errlen};
    memset(out, 0, sizeof *out);
    if (wire_parse(&ctx, json, out) < 0) {
        inventory_free(out);
        return -1;
    }
    return 0;
}
