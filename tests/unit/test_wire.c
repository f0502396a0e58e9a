/*
 * test_wire — holds schema/wire.c and schema/inventory.c to the inventory
 * wire format every part exchanges (schema/inventory.schema.json). The
 * cases are files, one per case, so a failure names the file:
 *
 *   DATA_DIR/valid/NAME.json     an inventory that must parse and come back
 *                                byte-for-byte equal (as JSON values) from
 *                                wire_inventory_to_json; digests are stored
 *                                in them, so the round trip is exact
 *   DATA_DIR/invalid/NAME.json   {"input": <inventory>, "error": "<substring
 *                                of the message, with its JSON path>"}, and
 *                                "beyond_schema": "<why>" when the rule broken
 *                                is one JSON Schema cannot express (the schema
 *                                check, check-inventory-schema.py, reads it)
 *
 * inventory_same_content and the lookups are tested on valid/full.json,
 * changed one field at a time.
 *
 * Usage: test_wire DATA_DIR
 */
#include "inventory.h"
#include "version.h"
#include "wire.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A test's resources belong to main, not to the test: a failed assertion
 * leaves the test by longjmp, and main releases everything afterwards. */
struct wire_case {
    char *name; /* "valid/full.json": what a failure reports */
    char *path;
    void (*mutate)(struct inventory *inv);
    bool same; /* for same_content cases */
    json_t *json;
    json_t *out;
    struct inventory a;
    struct inventory b;
};

static const char *data_dir;

static void case_release(struct wire_case *c)
{
    json_decref(c->json);
    json_decref(c->out);
    inventory_free(&c->a);
    inventory_free(&c->b);
    free(c->name);
    free(c->path);
    free(c);
}

/* Duplicate keys would hide half of a case, and NUL bytes must reach
 * wire.c, which has to refuse them itself. */
static json_t *load_json(const struct wire_case *c, const char *path)
{
    json_error_t jerr;
    json_t *json = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (json == NULL)
        fail_msg("%s: %s:%d: %s", c->name, path, jerr.line, jerr.text);
    return json;
}

static void print_json(const char *label, const json_t *json)
{
    char *text = json_dumps(json, JSON_SORT_KEYS | JSON_INDENT(2));
    print_error("%s:\n%s\n", label, text != NULL ? text : "(cannot print)");
    free(text);
}

static void parse_file(struct wire_case *c, const char *relpath, struct inventory *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, relpath);
    json_t *json = load_json(c, path);
    char err[512];
    int rc = wire_inventory_from_json(json, out, err, sizeof err);
    json_decref(json);
    if (rc != 0)
        fail_msg("%s: %s does not parse: %s", c->name, relpath, err);
}

/* ---- cases from files ------------------------------------------------ */

static void test_valid(void **state)
{
    struct wire_case *c = *state;
    c->json = load_json(c, c->path);
    char err[512] = "";
    if (wire_inventory_from_json(c->json, &c->a, err, sizeof err) != 0)
        fail_msg("%s: rejected: %s", c->name, err);
    c->out = wire_inventory_to_json(&c->a);
    if (c->out == NULL)
        fail_msg("%s: wire_inventory_to_json failed", c->name);
    if (!json_equal(c->json, c->out)) {
        print_json("input", c->json);
        print_json("wire_inventory_to_json", c->out);
        fail_msg("%s: the round trip changed the inventory", c->name);
    }
    /* What the writer produced must read back as the same host state. */
    if (wire_inventory_from_json(c->out, &c->b, err, sizeof err) != 0)
        fail_msg("%s: its own output is rejected: %s", c->name, err);
    if (!inventory_same_content(&c->a, &c->b))
        fail_msg("%s: output read back differs from the input", c->name);
}

static void test_invalid(void **state)
{
    struct wire_case *c = *state;
    c->json = load_json(c, c->path);
    const char *key;
    json_t *value;
    json_object_foreach(c->json, key, value)
    {
        if (strcmp(key, "input") != 0 && strcmp(key, "error") != 0 &&
            strcmp(key, "beyond_schema") != 0)
            fail_msg("%s: unknown key \"%s\" in the case", c->name, key);
    }
    const json_t *input = json_object_get(c->json, "input");
    const char *expected = json_string_value(json_object_get(c->json, "error"));
    if (!json_is_object(c->json) || input == NULL || expected == NULL || *expected == '\0')
        fail_msg("%s: a case is {\"input\": ..., \"error\": \"...\"}", c->name);
    char err[512] = "";
    if (wire_inventory_from_json(input, &c->a, err, sizeof err) == 0)
        fail_msg("%s: accepted; expected an error containing \"%s\"", c->name, expected);
    if (strstr(err, expected) == NULL)
        fail_msg("%s: error \"%s\" does not contain \"%s\"", c->name, err, expected);
    /* The caller must not be handed half an inventory. */
    if (c->a.host != NULL || c->a.collector_url != NULL || c->a.parents != NULL ||
        c->a.devices != NULL || c->a.instances != NULL || c->a.parent_count != 0 ||
        c->a.device_count != 0 || c->a.instance_count != 0)
        fail_msg("%s: a rejected inventory was not left empty", c->name);
}

/* ---- inventory_same_content ----------------------------------------- */

/* The mutations work on valid/full.json: parents 0000:3b:00.0 (nvidia-222,
 * nvidia-223), 0000:af:00.0 (nvidia-222, nvidia-224 unreadable with
 * ENODEV), 0000:00:02.0 (i915-GVTg_V5_4 unsupported); four devices; three
 * instances. */

static char *dup_or_fail(const char *s)
{
    char *copy = strdup(s);
    assert_non_null(copy);
    return copy;
}

static void replace(char **field, const char *value)
{
    free(*field);
    *field = value != NULL ? dup_or_fail(value) : NULL;
}

static void set_version(struct inv_migration *mig, const char *type_id, const char *version)
{
    inv_migration_clear(mig);
    mig->supported = true;
    mig->version = dup_or_fail(version);
    assert_int_equal(version_digest(type_id, version, mig->digest), 0);
}

static void mut_nothing(struct inventory *inv)
{
    (void)inv;
}

static void mut_generation(struct inventory *inv)
{
    inv->generation += 1;
}

static void mut_scanned_at(struct inventory *inv)
{
    inv->scanned_at += 60;
}

static void mut_collector_url(struct inventory *inv)
{
    replace(&inv->collector_url, "https://compute-1.example.org:9741");
}

static void mut_collector_url_dropped(struct inventory *inv)
{
    replace(&inv->collector_url, NULL);
}

static void mut_all_volatile(struct inventory *inv)
{
    mut_generation(inv);
    mut_scanned_at(inv);
    mut_collector_url(inv);
}

static void mut_host(struct inventory *inv)
{
    replace(&inv->host, "compute-2");
}

static void mut_parent_name(struct inventory *inv)
{
    replace(&inv->parents[0].name, "0000:3c:00.0");
}

static void mut_type_version(struct inventory *inv)
{
    /* A driver upgrade: same type, new version string. */
    struct inv_type *type = &inv->parents[0].types[0];
    set_version(&type->migration, type->id, "10de:1eb8-nvidia-222-550.54.14");
}

static void mut_type_available(struct inventory *inv)
{
    inv->parents[0].types[0].available_instances -= 1;
}

static void mut_type_available_unknown(struct inventory *inv)
{
    inv->parents[0].types[0].available_instances = -1;
}

static void mut_type_name(struct inventory *inv)
{
    replace(&inv->parents[0].types[0].name, "GRID T4-2B");
}

static void mut_type_description(struct inventory *inv)
{
    replace(&inv->parents[0].types[0].description, "num_heads=2");
}

static void mut_type_device_api(struct inventory *inv)
{
    replace(&inv->parents[0].types[0].device_api, "vfio-ccw");
}

static void mut_type_unsupported(struct inventory *inv)
{
    inv_migration_clear(&inv->parents[0].types[0].migration);
}

static void mut_type_errno(struct inventory *inv)
{
    inv->parents[1].types[1].migration.read_errno = EIO;
}

static void mut_type_readable(struct inventory *inv)
{
    /* An unreadable attribute that reads again after a driver fix. */
    struct inv_type *type = &inv->parents[1].types[1];
    set_version(&type->migration, type->id, "10de:1eb8-nvidia-224-535.161.08");
}

static void mut_type_removed(struct inventory *inv)
{
    struct inv_parent *parent = &inv->parents[1];
    struct inv_type *type = &parent->types[parent->type_count - 1];
    free(type->id);
    free(type->name);
    free(type->description);
    free(type->device_api);
    inv_migration_clear(&type->migration);
    parent->type_count--;
}

static void mut_device_version(struct inventory *inv)
{
    struct inv_device *dev = &inv->devices[0];
    set_version(&dev->migration, dev->type, "10de:1eb8-nvidia-222-550.54.14");
}

static void mut_device_errno(struct inventory *inv)
{
    inv->devices[1].migration.read_errno = ENODEV;
}

static void mut_device_iommu_group(struct inventory *inv)
{
    inv->devices[0].iommu_group = 7;
}

static void mut_device_instance(struct inventory *inv)
{
    inv->devices[0].instance[0] = '\0';
}

static void mut_device_removed(struct inventory *inv)
{
    struct inv_device *dev = &inv->devices[inv->device_count - 1];
    free(dev->parent);
    free(dev->type);
    inv_migration_clear(&dev->migration);
    inv->device_count--;
}

static void mut_instance_state(struct inventory *inv)
{
    replace(&inv->instances[0].state, "paused");
}

static void mut_instance_name(struct inventory *inv)
{
    replace(&inv->instances[0].name, "instance-00000009");
}

static void mut_instance_mdev_dropped(struct inventory *inv)
{
    inv->instances[0].mdev_count--;
}

static void mut_instance_removed(struct inventory *inv)
{
    struct inv_instance *vm = &inv->instances[inv->instance_count - 1];
    free(vm->name);
    free(vm->state);
    free(vm->mdevs);
    inv->instance_count--;
}

static void test_same_content(void **state)
{
    struct wire_case *c = *state;
    parse_file(c, "valid/full.json", &c->a);
    parse_file(c, "valid/full.json", &c->b);
    c->mutate(&c->b);
    if (inventory_same_content(&c->a, &c->b) != c->same ||
        inventory_same_content(&c->b, &c->a) != c->same)
        fail_msg("%s: inventory_same_content is %s, expected %s", c->name,
                 c->same ? "false" : "true", c->same ? "true" : "false");
}

/* ---- lookups --------------------------------------------------------- */

static void test_find_type(void **state)
{
    struct wire_case *c = *state;
    parse_file(c, "valid/full.json", &c->a);
    const struct inventory *inv = &c->a;
    assert_ptr_equal(inventory_find_type(inv, "0000:3b:00.0", "nvidia-222"),
                     &inv->parents[0].types[0]);
    assert_ptr_equal(inventory_find_type(inv, "0000:3b:00.0", "nvidia-223"),
                     &inv->parents[0].types[1]);
    /* The same type id on another parent is another type (its own capacity). */
    assert_ptr_equal(inventory_find_type(inv, "0000:af:00.0", "nvidia-222"),
                     &inv->parents[1].types[0]);
    assert_ptr_equal(inventory_find_type(inv, "0000:00:02.0", "i915-GVTg_V5_4"),
                     &inv->parents[2].types[0]);
    /* A type that exists, but under another parent. */
    assert_null(inventory_find_type(inv, "0000:3b:00.0", "nvidia-224"));
    assert_null(inventory_find_type(inv, "0000:00:00.0", "nvidia-222"));
    assert_null(inventory_find_type(inv, "0000:3b:00.0", "nvidia-2"));
    assert_null(inventory_find_type(inv, "0000:3b:00.0", ""));
    /* sysfs names are case-sensitive. */
    assert_null(inventory_find_type(inv, "0000:00:02.0", "i915-gvtg_v5_4"));
}

static void test_find_device(void **state)
{
    struct wire_case *c = *state;
    parse_file(c, "valid/full.json", &c->a);
    const struct inventory *inv = &c->a;
    const struct inv_device *dev =
        inventory_find_device(inv, "c0ffee00-0000-4000-8000-000000000001");
    assert_ptr_equal(dev, &inv->devices[0]);
    assert_string_equal(dev->parent, "0000:3b:00.0");
    assert_string_equal(dev->type, "nvidia-222");
    assert_string_equal(dev->instance, "5b1e2c9d-1111-4a2b-9c3d-000000000001");
    assert_ptr_equal(inventory_find_device(inv, "c0ffee00-0000-4000-8000-000000000004"),
                     &inv->devices[3]);
    assert_null(inventory_find_device(inv, "c0ffee00-0000-4000-8000-000000000009"));
    /* An instance UUID is not a device UUID. */
    assert_null(inventory_find_device(inv, "5b1e2c9d-1111-4a2b-9c3d-000000000001"));
    assert_null(inventory_find_device(inv, ""));
}

static void test_find_in_empty(void **state)
{
    struct wire_case *c = *state;
    parse_file(c, "valid/empty-host.json", &c->a);
    assert_null(inventory_find_type(&c->a, "0000:3b:00.0", "nvidia-222"));
    assert_null(inventory_find_device(&c->a, "c0ffee00-0000-4000-8000-000000000001"));
    /* A zeroed inventory (nothing scanned yet) has nothing either. */
    struct inventory none = {0};
    assert_null(inventory_find_type(&none, "0000:3b:00.0", "nvidia-222"));
    assert_null(inventory_find_device(&none, "c0ffee00-0000-4000-8000-000000000001"));
}

/* ---- main ------------------------------------------------------------ */

struct case_list {
    struct CMUnitTest *tests;
    size_t count;
    size_t cap;
};

static struct wire_case *case_add(struct case_list *list, const char *name,
                                  void (*run)(void **state))
{
    if (list->count == list->cap) {
        size_t cap = list->cap != 0 ? 2 * list->cap : 64;
        struct CMUnitTest *grown = realloc(list->tests, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        list->tests = grown;
        list->cap = cap;
    }
    struct wire_case *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if ((c->name = strdup(name)) == NULL) {
        free(c);
        return NULL;
    }
    list->tests[list->count++] =
        (struct CMUnitTest){.name = c->name, .test_func = run, .initial_state = c};
    return c;
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* One test per file of DATA_DIR/sub, in sorted order. */
static int add_dir(struct case_list *list, const char *sub, void (*run)(void **state))
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", data_dir, sub);
    struct dirent **names;
    int n = scandir(dir, &names, visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = n == 0 ? -1 : 0;
    if (n == 0)
        fprintf(stderr, "%s: no case files\n", dir);
    for (int i = 0; i < n; i++) {
        char name[512];
        snprintf(name, sizeof name, "%s/%s", sub, names[i]->d_name);
        struct wire_case *c = rc == 0 ? case_add(list, name, run) : NULL;
        if (rc == 0 && (c == NULL || asprintf(&c->path, "%s/%s", dir, names[i]->d_name) < 0)) {
            /* asprintf leaves its pointer undefined on failure. */
            if (c != NULL)
                c->path = NULL;
            fprintf(stderr, "out of memory\n");
            rc = -1;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static const struct {
    const char *name;
    void (*mutate)(struct inventory *inv);
    bool same;
} same_content_cases[] = {
    {"identical", mut_nothing, true},
    {"generation bumped", mut_generation, true},
    {"scanned_at moved", mut_scanned_at, true},
    {"collector_url changed", mut_collector_url, true},
    {"collector_url dropped", mut_collector_url_dropped, true},
    {"generation, scanned_at and collector_url changed", mut_all_volatile, true},
    {"host renamed", mut_host, false},
    {"parent renamed", mut_parent_name, false},
    {"type version upgraded", mut_type_version, false},
    {"type available_instances down by one", mut_type_available, false},
    {"type available_instances unreadable", mut_type_available_unknown, false},
    {"type name changed", mut_type_name, false},
    {"type description changed", mut_type_description, false},
    {"type device_api changed", mut_type_device_api, false},
    {"type migration no longer supported", mut_type_unsupported, false},
    {"type read errno changed", mut_type_errno, false},
    {"type unreadable version reads again", mut_type_readable, false},
    {"type removed", mut_type_removed, false},
    {"device version upgraded", mut_device_version, false},
    {"device read errno changed", mut_device_errno, false},
    {"device iommu_group changed", mut_device_iommu_group, false},
    {"device no longer used by an instance", mut_device_instance, false},
    {"device removed", mut_device_removed, false},
    {"instance state changed", mut_instance_state, false},
    {"instance renamed", mut_instance_name, false},
    {"instance lost an mdev", mut_instance_mdev_dropped, false},
    {"instance removed", mut_instance_removed, false},
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    data_dir = argv[1];
    struct case_list list = {0};
    int rc = 0;
    if (add_dir(&list, "valid", test_valid) < 0 || add_dir(&list, "invalid", test_invalid) < 0)
        rc = 2;
    for (size_t i = 0; rc == 0 && i < sizeof same_content_cases / sizeof same_content_cases[0];
         i++) {
        char name[256];
        snprintf(name, sizeof name, "same_content: %s", same_content_cases[i].name);
        struct wire_case *c = case_add(&list, name, test_same_content);
        if (c == NULL) {
            rc = 2;
            break;
        }
        c->mutate = same_content_cases[i].mutate;
        c->same = same_content_cases[i].same;
    }
    if (rc == 0 && (case_add(&list, "find_type", test_find_type) == NULL ||
                    case_add(&list, "find_device", test_find_device) == NULL ||
                    case_add(&list, "find in an empty inventory", test_find_in_empty) == NULL))
        rc = 2;
    /* The count of failures would wrap as an exit status. */
    if (rc == 0)
        rc = _cmocka_run_group_tests("wire", list.tests, list.count, NULL, NULL) != 0;
    else
        fprintf(stderr, "cannot set up the tests\n");
    for (size_t i = 0; i < list.count; i++)
        case_release(list.tests[i].initial_state);
    free(list.tests);
    return rc;
}
