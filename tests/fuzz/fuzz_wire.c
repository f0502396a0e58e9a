/*
 * fuzz_wire — the inventory wire format (schema/wire.c), the one codec every
 * collector's snapshot goes through before the sched stores it. Any JSON
 * text is parsed as the sched's ingest parses it; what is refused must come
 * back with a message and nothing held, and what is accepted must survive
 * the round trip the system makes with it: encode, send as text, decode,
 * encode again. Both encodings must be the same text and both decoded
 * inventories the same, field by field (not through the encoder, which would
 * hide a field lost on both sides).
 */
#include "inventory.h"
#include "version.h"
#include "wire.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As the sched's ingest, plus NUL bytes let through so that wire.c's own
 * refusal of them is what gets tested. */
#define FUZZ_WIRE_LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
/* One canonical text for comparing encodings. */
#define FUZZ_WIRE_DUMP_FLAGS (JSON_SORT_KEYS | JSON_COMPACT)

static void fuzz_wire_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_wire: %s%s%s\n", what, detail != NULL ? "\n" : "",
            detail != NULL ? detail : "");
    abort();
}

static bool fuzz_wire_str_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool fuzz_wire_migration_equal(const struct inv_migration *a, const struct inv_migration *b)
{
    return a->supported == b->supported && a->read_errno == b->read_errno &&
           fuzz_wire_str_equal(a->version, b->version) && strcmp(a->digest, b->digest) == 0;
}

static bool fuzz_wire_type_equal(const struct inv_type *a, const struct inv_type *b)
{
    return fuzz_wire_str_equal(a->id, b->id) && fuzz_wire_str_equal(a->name, b->name) &&
           fuzz_wire_str_equal(a->description, b->description) &&
           fuzz_wire_str_equal(a->device_api, b->device_api) &&
           a->available_instances == b->available_instances &&
           fuzz_wire_migration_equal(&a->migration, &b->migration);
}

static bool fuzz_wire_parent_equal(const struct inv_parent *a, const struct inv_parent *b)
{
    if (!fuzz_wire_str_equal(a->name, b->name) || a->type_count != b->type_count)
        return false;
    for (size_t t = 0; t < a->type_count; t++) {
        if (!fuzz_wire_type_equal(&a->types[t], &b->types[t]))
            return false;
    }
    return true;
}

static bool fuzz_wire_device_equal(const struct inv_device *a, const struct inv_device *b)
{
    return strcmp(a->uuid, b->uuid) == 0 && fuzz_wire_str_equal(a->parent, b->parent) &&
           fuzz_wire_str_equal(a->type, b->type) && a->iommu_group == b->iommu_group &&
           fuzz_wire_migration_equal(&a->migration, &b->migration) &&
           strcmp(a->instance, b->instance) == 0;
}

static bool fuzz_wire_instance_equal(const struct inv_instance *a, const struct inv_instance *b)
{
    if (strcmp(a->uuid, b->uuid) != 0 || !fuzz_wire_str_equal(a->name, b->name) ||
        !fuzz_wire_str_equal(a->state, b->state) || a->mdev_count != b->mdev_count)
        return false;
    for (size_t m = 0; m < a->mdev_count; m++) {
        if (strcmp(a->mdevs[m], b->mdevs[m]) != 0)
            return false;
    }
    return true;
}

/* Every field, in order: a snapshot's order is part of what it says. */
static bool fuzz_wire_inventory_equal(const struct inventory *a, const struct inventory *b)
{
    if (!fuzz_wire_str_equal(a->host, b->host) ||
        !fuzz_wire_str_equal(a->collector_url, b->collector_url) ||
        a->generation != b->generation || a->scanned_at != b->scanned_at ||
        a->parent_count != b->parent_count || a->device_count != b->device_count ||
        a->instance_count != b->instance_count)
        return false;
    for (size_t p = 0; p < a->parent_count; p++) {
        if (!fuzz_wire_parent_equal(&a->parents[p], &b->parents[p]))
            return false;
    }
    for (size_t d = 0; d < a->device_count; d++) {
        if (!fuzz_wire_device_equal(&a->devices[d], &b->devices[d]))
            return false;
    }
    for (size_t i = 0; i < a->instance_count; i++) {
        if (!fuzz_wire_instance_equal(&a->instances[i], &b->instances[i]))
            return false;
    }
    return true;
}

/* wire.h: on failure "out left empty". */
static bool fuzz_wire_is_empty(const struct inventory *inv)
{
    static const struct inventory empty;
    return memcmp(inv, &empty, sizeof empty) == 0;
}

/* A digest is recomputed on the way in, never taken from the peer. */
static void fuzz_wire_check_digest(const char *type_id, const struct inv_migration *mig)
{
    if (mig->version == NULL) {
        if (mig->digest[0] != '\0')
            fuzz_wire_fail("a digest without a version", mig->digest);
        return;
    }
    char digest[VERSION_DIGEST_LEN];
    if (version_digest(type_id, mig->version, digest) < 0 || strcmp(digest, mig->digest) != 0)
        fuzz_wire_fail("the stored digest is not the digest of type and version", mig->digest);
}

static void fuzz_wire_check_decoded(const struct inventory *inv)
{
    for (size_t p = 0; p < inv->parent_count; p++) {
        const struct inv_parent *parent = &inv->parents[p];
        for (size_t t = 0; t < parent->type_count; t++) {
            const struct inv_type *type = &parent->types[t];
            if (!version_type_id_valid(type->id))
                fuzz_wire_fail("an accepted type id is not valid", type->id);
            fuzz_wire_check_digest(type->id, &type->migration);
            if (inventory_find_type(inv, parent->name, type->id) != type)
                fuzz_wire_fail("inventory_find_type misses a type", type->id);
        }
    }
    for (size_t d = 0; d < inv->device_count; d++) {
        const struct inv_device *dev = &inv->devices[d];
        if (!wire_uuid_valid(dev->uuid))
            fuzz_wire_fail("an accepted device UUID is not valid", dev->uuid);
        if (inventory_find_type(inv, dev->parent, dev->type) == NULL)
            fuzz_wire_fail("a device's type is not in parents", dev->type);
        if (inventory_find_device(inv, dev->uuid) != dev)
            fuzz_wire_fail("inventory_find_device misses a device", dev->uuid);
        fuzz_wire_check_digest(dev->type, &dev->migration);
    }
}

/* Encode inv and dump it canonically; the caller frees the text. */
static char *fuzz_wire_encode(const struct inventory *inv)
{
    json_t *json = wire_inventory_to_json(inv);
    if (json == NULL)
        fuzz_wire_fail("an accepted inventory cannot be encoded", NULL);
    char *text = json_dumps(json, FUZZ_WIRE_DUMP_FLAGS);
    json_decref(json);
    if (text == NULL)
        fuzz_wire_fail("an encoded inventory cannot be dumped", NULL);
    return text;
}

/* Decode text, which must be accepted: it is what a collector sends. */
static void fuzz_wire_decode_own(const char *text, struct inventory *out)
{
    json_error_t jerr;
    json_t *json = json_loads(text, FUZZ_WIRE_LOAD_FLAGS, &jerr);
    if (json == NULL)
        fuzz_wire_fail("an encoded inventory is not JSON", text);
    char err[1024];
    if (wire_inventory_from_json(json, out, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_wire: %s\n", err);
        fuzz_wire_fail("an encoded inventory is refused", text);
    }
    json_decref(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *json = json_loadb((const char *)data, size, FUZZ_WIRE_LOAD_FLAGS, &jerr);
    if (json == NULL)
        return 0;
    struct inventory a;
    char err[1024];
    memset(err, 0, sizeof err);
    int rc = wire_inventory_from_json(json, &a, err, sizeof err);
    json_decref(json);
    if (rc < 0) {
        if (err[0] == '\0')
            fuzz_wire_fail("refused without a message", NULL);
        if (!fuzz_wire_is_empty(&a))
            fuzz_wire_fail("refused but the inventory is not left empty", err);
        return 0;
    }
    if (rc != 0)
        fuzz_wire_fail("return value out of range", NULL);
    fuzz_wire_check_decoded(&a);

    char *first = fuzz_wire_encode(&a);
    struct inventory b;
    fuzz_wire_decode_own(first, &b);
    char *second = fuzz_wire_encode(&b);
    if (strcmp(first, second) != 0) {
        fprintf(stderr, "fuzz_wire: first encoding:\n%s\n", first);
        fuzz_wire_fail("the second encoding differs from the first", second);
    }
    if (!fuzz_wire_inventory_equal(&a, &b))
        fuzz_wire_fail("the decoded inventories differ after a round trip", first);
    if (!inventory_same_content(&a, &b))
        fuzz_wire_fail("inventory_same_content says a round trip changed the content", first);
    free(first);
    free(second);
    inventory_free(&a);
    inventory_free(&b);
    return 0;
}
