/*
 * test_registry — holds schema/registry.c and schema/migrate.c to the
 * registry's contract (DESIGN.md §3). Behaviour is data: every
 * data/registry/cases/NAME.json is a scenario of steps against a fresh
 * registry — publish one of the host snapshots in data/registry/inventories/, heartbeat,
 * forget, query, probe-cache put/get — each with its expected result in the
 * file, so a new rule is a new file and a failure names the file and step.
 * What no scenario can express is tested in code below: migrations on a
 * fresh file and on reopen, a newer or foreign file refused, the migration
 * mechanism itself, WAL mode, schema/registry.sql agreeing with the
 * migrations, and two connections sharing one file.
 *
 * Usage: test_registry DATA_DIR REGISTRY_SQL
 *
 * A case file: {"description": "...", "steps": [STEP, ...]} where STEP is
 * one of
 *   {"replace": INV, "now": T, "generation": G?, "result": 0|1|-1, "error": S?}
 *   {"batch": [{"replace": INV, "generation": G?, "now": T, "outcome": O,
 *               "error": S?}], "result": 0|-1}   (O: written, touched, ignored, failed)
 *   {"touch": HOST, "now": T, "result": 0|1}
 *   {"forget": HOST, "result": 0|1}
 *   {"hosts": [{name, collector_url, generation, last_seen, scanned_at}]}
 *   {"inventory": HOST, "equals": INV}  or  {"inventory": HOST, "result": 1}
 *   {"offers_by_type": TYPE, "expect": [OFFER]}
 *   {"offers_by_digest": DIGEST, "expect": [OFFER]}
 *   {"versions": TYPE | null, "expect": [VERSION_ROW]}
 *   {"instance": UUID, "expect": INSTANCE | null}
 *   {"probe_put": PROBE, "result": 0|-1, "error": S?}
 *   {"probe_get": KEY, "expect": {verdict, errno, checked_at} | null}
 *   {"cached_on": KEY without target_digest,
 *    "expect": {target_digest, verdict, errno} | null}
 *   {"accepting": {source_digest, target}, "expect": [target digests]}
 *   {"probe_expire": T, "removed": N}
 * INV names inventories/INV.json (the wire format's shape; digests are
 * computed here, as the wire parser does); "error" is a substring of the
 * message. The JSON shapes of results are those the expect_* helpers make.
 */
#include "inventory.h"
#include "migrate.h"
#include "registry.h"
#include "version.h"
#include "wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char data_dir[PATH_MAX];
static char registry_sql_path[PATH_MAX];
/* Short enough that every path made under it fits PATH_MAX. */
static char tmp_dir[1024];

/* ---- files --------------------------------------------------------------- */

static json_t *load_json(const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    return doc;
}

static void db_remove_one(const char *path)
{
    if (unlink(path) < 0 && errno != ENOENT)
        fail_msg("removing %s: %s", path, strerror(errno));
}

static void db_remove(const char *path)
{
    char side[PATH_MAX + 8];
    db_remove_one(path);
    snprintf(side, sizeof side, "%s-wal", path);
    db_remove_one(side);
    snprintf(side, sizeof side, "%s-shm", path);
    db_remove_one(side);
}

/* A fresh database path for one test; its -wal and -shm go with it. */
static void db_path(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%.200s.db", tmp_dir, name);
    db_remove(out);
}

/* ---- inventories from JSON ------------------------------------------------ */

static char *json_dup(const json_t *obj, const char *key, bool required)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            fail_msg("fixture: \"%s\" is missing", key);
        return NULL;
    }
    if (!json_is_string(v))
        fail_msg("fixture: \"%s\" must be a string", key);
    char *s = strdup(json_string_value(v));
    assert_non_null(s);
    return s;
}

static long long json_int_or(const json_t *obj, const char *key, long long none)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return none;
    if (!json_is_integer(v))
        fail_msg("fixture: \"%s\" must be an integer", key);
    return json_integer_value(v);
}

static void json_uuid(const json_t *v, char out[INV_UUID_LEN])
{
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return;
    if (!json_is_string(v) || strlen(json_string_value(v)) != INV_UUID_LEN - 1)
        fail_msg("fixture: a UUID must be 36 characters");
    memcpy(out, json_string_value(v), INV_UUID_LEN);
}

static void load_migration(const json_t *obj, const char *type_id, struct inv_migration *out)
{
    memset(out, 0, sizeof *out);
    const json_t *mig = json_object_get(obj, "migration");
    if (!json_is_object(mig))
        fail_msg("fixture: \"migration\" must be an object");
    out->supported = json_is_true(json_object_get(mig, "supported"));
    out->read_errno = (int)json_int_or(mig, "errno", 0);
    out->version = json_dup(mig, "version", false);
    if (out->version != NULL)
        assert_int_equal(version_digest(type_id, out->version, out->digest), 0);
}

/* inventories/NAME.json into out; the test owns out. */
static void load_inventory(const char *name, struct inventory *out)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/inventories/%.200s.json", data_dir, name);
    json_t *doc = load_json(path);
    memset(out, 0, sizeof *out);
    out->host = json_dup(doc, "host", true);
    out->collector_url = json_dup(doc, "collector_url", false);
    out->generation = json_int_or(doc, "generation", -1);
    out->scanned_at = json_int_or(doc, "scanned_at", -1);

    const json_t *parents = json_object_get(doc, "parents");
    const json_t *devices = json_object_get(doc, "devices");
    const json_t *instances = json_object_get(doc, "instances");
    assert_true(json_is_array(parents) && json_is_array(devices) && json_is_array(instances));
    out->parents = calloc(json_array_size(parents) + 1, sizeof *out->parents);
    out->devices = calloc(json_array_size(devices) + 1, sizeof *out->devices);
    out->instances = calloc(json_array_size(instances) + 1, sizeof *out->instances);
    assert_true(out->parents != NULL && out->devices != NULL && out->instances != NULL);

    size_t i, j;
    json_t *item, *sub;
    json_array_foreach(parents, i, item)
    {
        struct inv_parent *p = &out->parents[out->parent_count++];
        p->name = json_dup(item, "name", true);
        const json_t *types = json_object_get(item, "types");
        p->types = calloc(json_array_size(types) + 1, sizeof *p->types);
        assert_non_null(p->types);
        json_array_foreach(types, j, sub)
        {
            struct inv_type *t = &p->types[p->type_count++];
            t->id = json_dup(sub, "id", true);
            t->name = json_dup(sub, "name", true);
            t->description = json_dup(sub, "description", true);
            t->device_api = json_dup(sub, "device_api", true);
            t->available_instances = (int)json_int_or(sub, "available_instances", -1);
            load_migration(sub, t->id, &t->migration);
        }
    }
    json_array_foreach(devices, i, item)
    {
        struct inv_device *d = &out->devices[out->device_count++];
        json_uuid(json_object_get(item, "uuid"), d->uuid);
        d->parent = json_dup(item, "parent", true);
        d->type = json_dup(item, "type", true);
        d->iommu_group = (int)json_int_or(item, "iommu_group", -1);
        json_uuid(json_object_get(item, "instance"), d->instance);
        load_migration(item, d->type, &d->migration);
    }
    json_array_foreach(instances, i, item)
    {
        struct inv_instance *vm = &out->instances[out->instance_count++];
        json_uuid(json_object_get(item, "uuid"), vm->uuid);
        vm->name = json_dup(item, "name", true);
        vm->state = json_dup(item, "state", true);
        const json_t *mdevs = json_object_get(item, "mdevs");
        vm->mdevs = calloc(json_array_size(mdevs) + 1, sizeof *vm->mdevs);
        assert_non_null(vm->mdevs);
        json_array_foreach(mdevs, j, sub)
        {
            json_uuid(sub, vm->mdevs[vm->mdev_count++]);
        }
    }
    json_decref(doc);
}

/* ---- results as JSON, to compare with the files ---------------------------- */

static json_t *str_or_null(const char *s)
{
    return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

static json_t *int_or_null(long long v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *migration_json(const struct inv_migration *m)
{
    if (!m->supported)
        return json_pack("{s:b}", "supported", 0);
    if (m->read_errno != 0)
        return json_pack("{s:b, s:i}", "supported", 1, "errno", m->read_errno);
    return json_pack("{s:b, s:o, s:s}", "supported", 1, "version", str_or_null(m->version),
                     "digest", m->digest);
}

static json_t *inventory_json(const struct inventory *inv)
{
    json_t *parents = json_array(), *devices = json_array(), *instances = json_array();
    for (size_t p = 0; p < inv->parent_count; p++) {
        json_t *types = json_array();
        for (size_t t = 0; t < inv->parents[p].type_count; t++) {
            const struct inv_type *ty = &inv->parents[p].types[t];
            json_array_append_new(
                types, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", ty->id, "name", ty->name,
                                 "description", ty->description, "device_api", ty->device_api,
                                 "available_instances", int_or_null(ty->available_instances),
                                 "migration", migration_json(&ty->migration)));
        }
        json_array_append_new(
            parents, json_pack("{s:s, s:o}", "name", inv->parents[p].name, "types", types));
    }
    for (size_t d = 0; d < inv->device_count; d++) {
        const struct inv_device *dev = &inv->devices[d];
        json_array_append_new(
            devices,
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "uuid", dev->uuid, "parent", dev->parent,
                      "type", dev->type, "iommu_group", int_or_null(dev->iommu_group), "migration",
                      migration_json(&dev->migration), "instance", str_or_null(dev->instance)));
    }
    for (size_t i = 0; i < inv->instance_count; i++) {
        const struct inv_instance *vm = &inv->instances[i];
        json_t *mdevs = json_array();
        for (size_t m = 0; m < vm->mdev_count; m++)
            json_array_append_new(mdevs, json_string(vm->mdevs[m]));
        json_array_append_new(instances, json_pack("{s:s, s:s, s:s, s:o}", "uuid", vm->uuid, "name",
                                                   vm->name, "state", vm->state, "mdevs", mdevs));
    }
    json_t *doc = json_pack("{s:s, s:o, s:I, s:I, s:o, s:o, s:o}", "host", inv->host,
                            "collector_url", str_or_null(inv->collector_url), "generation",
                            (json_int_t)inv->generation, "scanned_at", (json_int_t)inv->scanned_at,
                            "parents", parents, "devices", devices, "instances", instances);
    assert_non_null(doc);
    return doc;
}

static json_t *hosts_json(const struct registry_hosts *hosts)
{
    json_t *list = json_array();
    for (size_t i = 0; i < hosts->count; i++) {
        const struct registry_host *h = &hosts->items[i];
        json_array_append_new(list, json_pack("{s:s, s:o, s:I, s:I, s:I}", "name", h->name,
                                              "collector_url", str_or_null(h->collector_url),
                                              "generation", (json_int_t)h->generation, "last_seen",
                                              (json_int_t)h->last_seen, "scanned_at",
                                              (json_int_t)h->scanned_at));
    }
    return list;
}

static json_t *offers_json(const struct registry_offers *offers)
{
    json_t *list = json_array();
    for (size_t i = 0; i < offers->count; i++) {
        const struct registry_offer *o = &offers->items[i];
        json_array_append_new(
            list, json_pack("{s:s, s:o, s:I, s:s, s:s, s:o, s:o}", "host", o->host, "collector_url",
                            str_or_null(o->collector_url), "last_seen", (json_int_t)o->last_seen,
                            "parent", o->parent, "type_id", o->type_id, "available_instances",
                            int_or_null(o->available_instances), "digest", str_or_null(o->digest)));
    }
    return list;
}

static json_t *versions_json(const struct registry_version_rows *rows)
{
    json_t *list = json_array();
    for (size_t i = 0; i < rows->count; i++) {
        const struct registry_version_row *r = &rows->items[i];
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:o, s:I, s:o, s:o}", "type_id", r->type_id, "host",
                            r->host, "parent", r->parent, "collector_url",
                            str_or_null(r->collector_url), "last_seen", (json_int_t)r->last_seen,
                            "available_instances", int_or_null(r->available_instances), "migration",
                            migration_json(&r->migration)));
    }
    return list;
}

static json_t *instance_json(const struct registry_instance *inst)
{
    json_t *placements = json_array();
    for (size_t p = 0; p < inst->placement_count; p++) {
        const struct registry_placement *pl = &inst->placements[p];
        json_t *mdevs = json_array();
        for (size_t m = 0; m < pl->mdev_count; m++) {
            const struct registry_mdev *md = &pl->mdevs[m];
            json_array_append_new(
                mdevs, md->present
                           ? json_pack("{s:s, s:b, s:s, s:s, s:o}", "uuid", md->uuid, "present", 1,
                                       "parent", md->parent, "type_id", md->type_id, "migration",
                                       migration_json(&md->migration))
                           : json_pack("{s:s, s:b}", "uuid", md->uuid, "present", 0));
        }
        json_array_append_new(placements,
                              json_pack("{s:s, s:o, s:I, s:s, s:s, s:o}", "host", pl->host,
                                        "collector_url", str_or_null(pl->collector_url),
                                        "last_seen", (json_int_t)pl->last_seen, "name", pl->name,
                                        "state", pl->state, "mdevs", mdevs));
    }
    return json_pack("{s:s, s:o}", "uuid", inst->uuid, "placements", placements);
}

/* Takes got; prints both sides when they differ. */
static void expect_json(const char *where, json_t *got, const json_t *expected)
{
    assert_non_null(got);
    if (!json_equal(got, expected)) {
        char *g = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *e = json_dumps(expected, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        print_error("%s\n--- expected\n%s\n--- got\n%s\n", where, e, g);
        free(g);
        free(e);
        json_decref(got);
        fail_msg("%s: result differs", where);
    }
    json_decref(got);
}

static void expect_result(const char *where, int got, const json_t *step, const char *err)
{
    int want = (int)json_int_or(step, "result", 0);
    if (got != want)
        fail_msg("%s: returned %d, expected %d (message: %s)", where, got, want,
                 got < 0 ? err : "-");
    const char *substring = json_string_value(json_object_get(step, "error"));
    if (substring != NULL && strstr(err, substring) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", where, err, substring);
}

/* ---- scenarios ------------------------------------------------------------ */

static void probe_from_json(const char *where, const json_t *obj, struct registry_probe *out)
{
    memset(out, 0, sizeof *out);
    out->source_digest = json_string_value(json_object_get(obj, "source_digest"));
    out->target_host = json_string_value(json_object_get(obj, "target_host"));
    out->target = json_string_value(json_object_get(obj, "target"));
    out->target_digest = json_string_value(json_object_get(obj, "target_digest"));
    if (registry_level_parse(json_string_value(json_object_get(obj, "level")), &out->level) < 0)
        fail_msg("%s: bad level", where);
    const json_t *verdict = json_object_get(obj, "verdict");
    if (verdict != NULL && registry_verdict_parse(json_string_value(verdict), &out->verdict) < 0)
        fail_msg("%s: bad verdict", where);
    out->err_no = (int)json_int_or(obj, "errno", 0);
    out->checked_at = json_int_or(obj, "checked_at", 0);
}

/* A connection that sits on an old read snapshot (a statement left
 * unreset) keeps a checkpoint from finishing: after a write of our own,
 * a cheap check that every query let go of the database. */
static void expect_no_reader(const char *where, const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    /* Rewriting the header (same version) is a write that changes nothing. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", migrate_embedded_count);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: writing beside the registry: %s", where, sqlite3_errmsg(db));
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int busy = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (busy != 0)
        fail_msg("%s: the registry still holds a read snapshot or a transaction", where);
}

/* A "batch" step: its items through registry_replace_begin/add/commit,
 * as the sched's group commit writes them, each item's outcome checked,
 * and the commit's result. */
static void run_batch(struct registry *reg, const char *where, const json_t *items,
                      const json_t *step)
{
    static const char *const outcomes[] = {
        [REGISTRY_REPLACE_WRITTEN] = "written",
        [REGISTRY_REPLACE_TOUCHED] = "touched",
        [REGISTRY_REPLACE_IGNORED] = "ignored",
        [REGISTRY_REPLACE_FAILED] = "failed",
    };
    size_t count = json_array_size(items);
    struct inventory *invs = calloc(count, sizeof *invs);
    struct registry_replace *replaces = calloc(count, sizeof *replaces);
    assert_non_null(invs);
    assert_non_null(replaces);
    char err[1024] = "";
    int rc = registry_replace_begin(reg, err, sizeof err);
    for (size_t i = 0; i < count && rc == 0; i++) {
        const json_t *item = json_array_get(items, i);
        load_inventory(json_string_value(json_object_get(item, "replace")), &invs[i]);
        invs[i].generation = json_int_or(item, "generation", invs[i].generation);
        replaces[i] =
            (struct registry_replace){.inv = &invs[i], .now = json_int_or(item, "now", 0)};
        rc = registry_replace_add(reg, &replaces[i], err, sizeof err);
    }
    if (rc == 0)
        rc = registry_replace_commit(reg, err, sizeof err);
    else
        registry_replace_abort(reg);
    expect_result(where, rc, step, err);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const json_t *item = json_array_get(items, i);
        const char *want = json_string_value(json_object_get(item, "outcome"));
        const char *got = outcomes[replaces[i].outcome];
        if (want == NULL || strcmp(want, got) != 0)
            fail_msg("%s: item %zu %s, expected %s (%s)", where, i, got, want ? want : "?",
                     replaces[i].err);
        const char *substring = json_string_value(json_object_get(item, "error"));
        if (substring != NULL && strstr(replaces[i].err, substring) == NULL)
            fail_msg("%s: item %zu: message \"%s\" lacks \"%s\"", where, i, replaces[i].err,
                     substring);
    }
    for (size_t i = 0; i < count; i++)
        inventory_free(&invs[i]);
    free(invs);
    free(replaces);
}

static void run_step(struct registry *reg, const char *where, const json_t *step)
{
    const json_t *items;
    char err[1024] = "";
    const char *s;
    if ((s = json_string_value(json_object_get(step, "replace"))) != NULL) {
        struct inventory inv;
        load_inventory(s, &inv);
        inv.generation = json_int_or(step, "generation", inv.generation);
        int rc = registry_replace_host(reg, &inv, json_int_or(step, "now", 0), err, sizeof err);
        inventory_free(&inv);
        expect_result(where, rc, step, err);
    } else if ((items = json_object_get(step, "batch")) != NULL) {
        run_batch(reg, where, items, step);
    } else if ((s = json_string_value(json_object_get(step, "touch"))) != NULL) {
        int rc = registry_touch_host(reg, s, json_int_or(step, "now", 0), err, sizeof err);
        expect_result(where, rc, step, err);
    } else if ((s = json_string_value(json_object_get(step, "forget"))) != NULL) {
        expect_result(where, registry_forget_host(reg, s, err, sizeof err), step, err);
    } else if (json_object_get(step, "hosts") != NULL) {
        struct registry_hosts hosts;
        if (registry_list_hosts(reg, &hosts, err, sizeof err) < 0)
            fail_msg("%s: %s", where, err);
        json_t *got = hosts_json(&hosts);
        registry_hosts_free(&hosts);
        expect_json(where, got, json_object_get(step, "hosts"));
    } else if ((s = json_string_value(json_object_get(step, "inventory"))) != NULL) {
        struct inventory got;
        int rc = registry_load_host(reg, s, &got, err, sizeof err);
        expect_result(where, rc, step, err);
        const char *equals = json_string_value(json_object_get(step, "equals"));
        if (rc == 0 && equals != NULL) {
            struct inventory want;
            load_inventory(equals, &want);
            json_t *want_json = inventory_json(&want);
            inventory_free(&want);
            json_t *got_json = inventory_json(&got);
            inventory_free(&got);
            expect_json(where, got_json, want_json);
            json_decref(want_json);
        } else {
            if (rc != 0)
                assert_null(got.host); /* left empty */
            inventory_free(&got);
        }
    } else if ((s = json_string_value(json_object_get(step, "offers_by_type"))) != NULL ||
               (s = json_string_value(json_object_get(step, "offers_by_digest"))) != NULL) {
        struct registry_offers offers;
        int rc = json_object_get(step, "offers_by_type") != NULL
                     ? registry_offers_by_type(reg, s, &offers, err, sizeof err)
                     : registry_offers_by_digest(reg, s, &offers, err, sizeof err);
        if (rc < 0)
            fail_msg("%s: %s", where, err);
        json_t *got = offers_json(&offers);
        registry_offers_free(&offers);
        expect_json(where, got, json_object_get(step, "expect"));
    } else if (json_object_get(step, "versions") != NULL) {
        struct registry_version_rows rows;
        if (registry_versions(reg, json_string_value(json_object_get(step, "versions")), &rows, err,
                              sizeof err) < 0)
            fail_msg("%s: %s", where, err);
        json_t *got = versions_json(&rows);
        registry_version_rows_free(&rows);
        expect_json(where, got, json_object_get(step, "expect"));
    } else if ((s = json_string_value(json_object_get(step, "instance"))) != NULL) {
        struct registry_instance inst;
        int rc = registry_instance_get(reg, s, &inst, err, sizeof err);
        if (rc < 0)
            fail_msg("%s: %s", where, err);
        json_t *got = rc == 0 ? instance_json(&inst) : json_null();
        if (rc == 1)
            assert_int_equal(inst.placement_count, 0);
        registry_instance_free(&inst);
        expect_json(where, got, json_object_get(step, "expect"));
    } else if (json_object_get(step, "probe_put") != NULL) {
        struct registry_probe probe;
        probe_from_json(where, json_object_get(step, "probe_put"), &probe);
        expect_result(where, registry_probe_put(reg, &probe, err, sizeof err), step, err);
    } else if (json_object_get(step, "probe_get") != NULL) {
        struct registry_probe probe;
        probe_from_json(where, json_object_get(step, "probe_get"), &probe);
        int rc = registry_probe_get(reg, &probe, err, sizeof err);
        if (rc < 0)
            fail_msg("%s: %s", where, err);
        json_t *got =
            rc == 1 ? json_pack("{s:s, s:i, s:I}", "verdict", registry_verdict_name(probe.verdict),
                                "errno", probe.err_no, "checked_at", (json_int_t)probe.checked_at)
                    : json_null();
        expect_json(where, got, json_object_get(step, "expect"));
    } else if (json_object_get(step, "cached_on") != NULL) {
        struct registry_probe key;
        probe_from_json(where, json_object_get(step, "cached_on"), &key);
        struct registry_cached_verdict v;
        int rc = registry_probe_cached_on(reg, key.source_digest, key.level, key.target,
                                          key.target_host, &v, err, sizeof err);
        if (rc < 0)
            fail_msg("%s: %s", where, err);
        json_t *got =
            rc == 1 ? json_pack("{s:s, s:s, s:i}", "target_digest", v.target_digest, "verdict",
                                registry_verdict_name(v.verdict), "errno", v.err_no)
                    : json_null();
        expect_json(where, got, json_object_get(step, "expect"));
    } else if (json_object_get(step, "accepting") != NULL) {
        const json_t *q = json_object_get(step, "accepting");
        struct registry_digests digests;
        if (registry_accepting_digests(reg, json_string_value(json_object_get(q, "source_digest")),
                                       json_string_value(json_object_get(q, "target")), &digests,
                                       err, sizeof err) < 0)
            fail_msg("%s: %s", where, err);
        json_t *got = json_array();
        for (size_t i = 0; i < digests.count; i++)
            json_array_append_new(got, json_string(digests.items[i]));
        registry_digests_free(&digests);
        expect_json(where, got, json_object_get(step, "expect"));
    } else if (json_object_get(step, "probe_expire") != NULL) {
        size_t removed = 0;
        if (registry_probe_expire(reg, json_int_or(step, "probe_expire", 0), &removed, err,
                                  sizeof err) < 0)
            fail_msg("%s: %s", where, err);
        assert_int_equal(removed, json_int_or(step, "removed", -1));
    } else {
        fail_msg("%s: unknown step", where);
    }
}

static void test_case(void **state)
{
    const char *name = *state;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/cases/%.200s.json", data_dir, name);
    json_t *doc = load_json(path);
    const json_t *steps = json_object_get(doc, "steps");
    assert_true(json_is_array(steps) && json_array_size(steps) > 0);
    assert_non_null(json_string_value(json_object_get(doc, "description")));

    char db[PATH_MAX];
    db_path(name, db, sizeof db);
    struct registry *reg = NULL;
    char err[1024];
    if (registry_open(db, &reg, err, sizeof err) < 0)
        fail_msg("%s", err);
    size_t i;
    json_t *step;
    json_array_foreach(steps, i, step)
    {
        char where[PATH_MAX + 32];
        snprintf(where, sizeof where, "%s.json step %zu", name, i + 1);
        run_step(reg, where, step);
        expect_no_reader(where, db);
    }
    registry_close(reg);
    json_decref(doc);
    db_remove(db);
}

/* ---- open and migrations ---------------------------------------------------- */

static long long raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void raw_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        print_error("%s: %s\n", sql, msg);
        sqlite3_free(msg);
        fail();
    }
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        fail_msg("%s: %s", path, sqlite3_errmsg(db));
    return db;
}

static void expect_open_fails(const char *path, const char *const *substrings)
{
    struct registry *reg = (struct registry *)&reg; /* must become NULL */
    char err[1024] = "";
    assert_int_equal(registry_open(path, &reg, err, sizeof err), -1);
    assert_null(reg);
    for (size_t i = 0; substrings[i] != NULL; i++) {
        if (strstr(err, substrings[i]) == NULL)
            fail_msg("message \"%s\" lacks \"%s\"", err, substrings[i]);
    }
}

static void test_fresh_file_and_reopen(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024];
    db_path("fresh", path, sizeof path);
    struct registry *reg = NULL;
    if (registry_open(path, &reg, err, sizeof err) < 0)
        fail_msg("%s", err);
    struct inventory inv;
    load_inventory("compute-1", &inv);
    assert_int_equal(registry_replace_host(reg, &inv, 1000, err, sizeof err), 0);
    registry_close(reg);

    sqlite3 *db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), (long long)migrate_embedded_count);
    assert_int_equal(raw_int(db, "PRAGMA application_id"), MIGRATE_APPLICATION_ID);
    char mode[16];
    raw_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal"); /* WAL is a property of the file */
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                 "name IN ('hosts', 'parents', 'types', 'devices', 'instances', "
                                 "'instance_mdevs', 'probe_cache')"),
                     7);
    long long objects = raw_int(db, "SELECT count(*) FROM sqlite_schema");
    sqlite3_close(db);

    /* Reopening applies nothing and keeps the data. */
    for (int round = 0; round < 2; round++) {
        if (registry_open(path, &reg, err, sizeof err) < 0)
            fail_msg("reopen: %s", err);
        struct inventory back;
        assert_int_equal(registry_load_host(reg, "compute-1", &back, err, sizeof err), 0);
        json_t *want = inventory_json(&inv);
        expect_json("reopen", inventory_json(&back), want);
        json_decref(want);
        inventory_free(&back);
        registry_close(reg);
    }
    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), (long long)migrate_embedded_count);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema"), objects);
    sqlite3_close(db);
    inventory_free(&inv);
    db_remove(path);
}

/* A version-2 file (the probe cache's verdict CHECK an IN list) opens as
 * the current version with its hosts and cached verdicts, and the
 * rebuilt table still refuses a verdict that is none of the three. */
/* The detail of the plan SQLite picks for sql (the first step's). */
static void plan_of(sqlite3 *db, const char *sql, char *out, size_t size)
{
    char explain[1024];
    snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, explain, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    out[0] = '\0';
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 3));
    sqlite3_finalize(s);
}

/* A select reads the verdicts of one source version on one type across
 * every host: that must be a range of the key, not a walk over all the
 * version's verdicts on every host and type (which grows with the fleet). */
static void test_probe_cache_read_by_target(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024], plan[512];
    db_path("plan", path, sizeof path);
    struct registry *reg = NULL;
    if (registry_open(path, &reg, err, sizeof err) < 0)
        fail_msg("%s", err);
    registry_close(reg);
    sqlite3 *db = raw_open(path);
    static const char *const reads[] = {
        "SELECT target_host, verdict FROM probe_cache WHERE source_digest = ?1 AND level = ?2 "
        "AND target = ?3",
        "SELECT DISTINCT target_digest FROM probe_cache WHERE source_digest = ?1 AND "
        "level = 'type' AND target = ?2 AND verdict = 'compatible'",
    };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        plan_of(db, reads[i], plan, sizeof plan);
        if (strncmp(plan, "SEARCH", 6) != 0 ||
            strstr(plan, "source_digest=? AND level=? AND target=?") == NULL)
            fail_msg("probe_cache read by target: plan \"%s\"", plan);
    }
    sqlite3_close(db);
    db_remove(path);
}

static void test_upgrade_keeps_verdicts(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024];
    db_path("upgrade", path, sizeof path);
    sqlite3 *db = raw_open(path);
    raw_exec(db, "PRAGMA foreign_keys = ON");
    if (migrate_apply(db, "t", migrate_embedded, 2, err, sizeof err) < 0)
        fail_msg("%s", err);
    raw_exec(db, "INSERT INTO hosts VALUES ('compute-9', NULL, 1, 1000, 1000)");
    raw_exec(db, "INSERT INTO probe_cache VALUES ('d1', 'compute-9', 'type', 'nvidia-222', 'd2', "
                 "'incompatible', 22, 1000)");
    raw_exec(db, "INSERT INTO probe_cache VALUES ('d1', 'compute-9', 'type', 'nvidia-223', 'd3', "
                 "'compatible', NULL, 1000)");
    sqlite3_close(db);

    struct registry *reg = NULL;
    if (registry_open(path, &reg, err, sizeof err) < 0)
        fail_msg("%s", err);
    struct registry_probe probe = {.source_digest = "d1",
                                   .target_host = "compute-9",
                                   .level = REGISTRY_LEVEL_TYPE,
                                   .target = "nvidia-222",
                                   .target_digest = "d2"};
    assert_int_equal(registry_probe_get(reg, &probe, err, sizeof err), 1);
    assert_int_equal(probe.verdict, REGISTRY_VERDICT_INCOMPATIBLE);
    assert_int_equal(probe.err_no, 22);
    assert_int_equal(probe.checked_at, 1000);
    registry_close(reg);

    db = raw_open(path);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), (long long)migrate_embedded_count);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO probe_cache VALUES ('d3', 'compute-9', 'type', "
                                  "'nvidia-222', 'd2', 'maybe', NULL, 1000)",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM probe_cache"), 2);
    /* 0004 noted what the compatible verdict says the driver accepts. */
    assert_int_equal(raw_int(db, "SELECT count(*) FROM probe_accepts WHERE source_digest = 'd1' "
                                 "AND target = 'nvidia-223' AND target_digest = 'd3'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM probe_accepts"), 1);
    sqlite3_close(db);
    db_remove(path);
}

static void test_newer_file_refused(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024];
    db_path("newer", path, sizeof path);
    struct registry *reg = NULL;
    if (registry_open(path, &reg, err, sizeof err) < 0)
        fail_msg("%s", err);
    registry_close(reg);
    sqlite3 *db = raw_open(path);
    char sql[64], newer[32], known[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", migrate_embedded_count + 1);
    raw_exec(db, sql);
    sqlite3_close(db);

    snprintf(newer, sizeof newer, "version %zu", migrate_embedded_count + 1);
    snprintf(known, sizeof known, "newer than the %zu this mdevmig knows", migrate_embedded_count);
    const char *const want[] = {path, newer, known, "upgrade", NULL};
    expect_open_fails(path, want);
    db_remove(path);
}

static void test_foreign_file_refused(void **state)
{
    (void)state;
    char path[PATH_MAX];
    db_path("foreign", path, sizeof path);

    /* Another application's tables, no version: untouched, not even WAL. */
    sqlite3 *db = raw_open(path);
    raw_exec(db, "CREATE TABLE resource_providers (id INTEGER PRIMARY KEY)");
    sqlite3_close(db);
    const char *const tables[] = {path, "not an mdevmig registry", "check the path", NULL};
    expect_open_fails(path, tables);
    db = raw_open(path);
    char mode[16];
    raw_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "delete");
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema"), 1);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 0);
    sqlite3_close(db);
    db_remove(path);

    /* Another application's id. */
    db = raw_open(path);
    raw_exec(db, "PRAGMA application_id = 1234");
    sqlite3_close(db);
    const char *const app[] = {"another application", "0x000004d2", NULL};
    expect_open_fails(path, app);
    db_remove(path);

    /* Not SQLite at all. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 64; i++)
        fputs("this is a configuration file, not a database\n", f);
    assert_int_equal(fclose(f), 0);
    const char *const text[] = {path, "not a database", NULL};
    expect_open_fails(path, text);
    db_remove(path);

    char missing[PATH_MAX + 32];
    snprintf(missing, sizeof missing, "%s/no-such-dir/registry.db", tmp_dir);
    const char *const dir[] = {missing, "unable to open", NULL};
    expect_open_fails(missing, dir);
}

static const struct migration mig_v1[] = {
    {1, "0001-a.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT NOT NULL);"},
};
static const struct migration mig_v2[] = {
    mig_v1[0],
    {2, "0002-b.sql",
     "ALTER TABLE a ADD COLUMN y INTEGER NOT NULL DEFAULT 7;\n"
     "CREATE TABLE b (id INTEGER PRIMARY KEY REFERENCES a (id) ON DELETE CASCADE);"},
};
/* Fails half-way: table c must not survive. */
static const struct migration mig_broken[] = {
    mig_v2[0],
    mig_v2[1],
    {3, "0003-broken.sql", "CREATE TABLE c (id INTEGER);\nINSERT INTO nowhere VALUES (1);"},
};
/* Runs, but leaves a row that breaks a foreign key. */
static const struct migration mig_orphan[] = {
    mig_v2[0],
    mig_v2[1],
    {3, "0003-orphan.sql", "INSERT INTO b (id) VALUES (42);"},
};
/* A table rebuild, the way SQLite documents it: needs foreign keys off. */
static const struct migration mig_rebuild[] = {
    mig_v2[0],
    mig_v2[1],
    {3, "0003-rebuild.sql",
     "CREATE TABLE a_new (id INTEGER PRIMARY KEY, x TEXT NOT NULL, y INTEGER NOT NULL);\n"
     "INSERT INTO a_new SELECT id, x, y FROM a;\n"
     "DROP TABLE a;\n"
     "ALTER TABLE a_new RENAME TO a;"},
};
static const struct migration mig_gap[] = {
    mig_v1[0],
    {3, "0003-gap.sql", "SELECT 1;"},
};

static void test_migration_mechanism(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024];
    db_path("migrate", path, sizeof path);
    sqlite3 *db = raw_open(path);
    raw_exec(db, "PRAGMA foreign_keys = ON");

    assert_int_equal(migrate_apply(db, "t", mig_v1, 1, err, sizeof err), 0);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 1);
    raw_exec(db, "INSERT INTO a (id, x) VALUES (1, 'kept')");

    /* 0002 on a version-1 file: applied once, data kept, idempotent. */
    for (int round = 0; round < 2; round++) {
        if (migrate_apply(db, "t", mig_v2, 2, err, sizeof err) < 0)
            fail_msg("%s", err);
        assert_int_equal(raw_int(db, "PRAGMA user_version"), 2);
        assert_int_equal(raw_int(db, "SELECT y FROM a WHERE x = 'kept'"), 7);
    }
    raw_exec(db, "INSERT INTO b (id) VALUES (1)");

    /* A failing migration changes nothing and says which one failed. */
    assert_int_equal(migrate_apply(db, "t", mig_broken, 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "0003-broken.sql"));
    assert_non_null(strstr(err, "no such table: nowhere"));
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 2);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'c'"), 0);

    assert_int_equal(migrate_apply(db, "t", mig_orphan, 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "0003-orphan.sql"));
    assert_non_null(strstr(err, "foreign key"));
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 2);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM b"), 1);

    /* Dropping a referenced table with foreign keys on would cascade into
     * b; during a migration it must not. */
    if (migrate_apply(db, "t", mig_rebuild, 3, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM b"), 1);
    assert_int_equal(raw_int(db, "PRAGMA foreign_keys"), 1); /* restored */

    /* Older code meets the newer file. */
    assert_int_equal(migrate_apply(db, "t", mig_v2, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "version 3, newer than the 2"));

    assert_int_equal(migrate_apply(db, "t", mig_gap, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "0003-gap.sql is numbered 3"));
    sqlite3_close(db);
    db_remove(path);
}

/* Everything SQLite reports about one database's schema, as JSON: tables
 * (strict, without rowid), their columns, foreign keys and indexes. */
static json_t *rows_json(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (arg != NULL)
        assert_int_equal(sqlite3_bind_text(s, 1, arg, -1, SQLITE_TRANSIENT), SQLITE_OK);
    json_t *rows = json_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *row = json_array();
        for (int c = 0; c < sqlite3_column_count(s); c++) {
            const char *v = (const char *)sqlite3_column_text(s, c);
            json_array_append_new(row, v != NULL ? json_string(v) : json_null());
        }
        json_array_append_new(rows, row);
    }
    sqlite3_finalize(s);
    return rows;
}

static json_t *schema_json(sqlite3 *db)
{
    json_t *out = json_object();
    json_t *tables = rows_json(db,
                               "SELECT name, type, ncol, wr, strict FROM pragma_table_list "
                               "WHERE schema = 'main' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                               NULL);
    json_object_set_new(out, "tables", tables);
    size_t i;
    json_t *row;
    json_array_foreach(tables, i, row)
    {
        const char *table = json_string_value(json_array_get(row, 0));
        json_t *t = json_object();
        json_object_set_new(t, "columns",
                            rows_json(db, "SELECT * FROM pragma_table_xinfo(?1)", table));
        json_object_set_new(
            t, "foreign_keys",
            rows_json(db, "SELECT * FROM pragma_foreign_key_list(?1) ORDER BY id, seq", table));
        json_t *indexes = rows_json(db,
                                    "SELECT name, \"unique\", origin, partial FROM "
                                    "pragma_index_list(?1) ORDER BY name",
                                    table);
        size_t j;
        json_t *index;
        json_array_foreach(indexes, j, index)
        {
            json_array_append_new(index, rows_json(db, "SELECT * FROM pragma_index_xinfo(?1)",
                                                   json_string_value(json_array_get(index, 0))));
        }
        json_object_set_new(t, "indexes", indexes);
        json_object_set_new(out, table, t);
    }
    /* Partial-index conditions are only in the SQL text. */
    json_object_set_new(out, "index_sql",
                        rows_json(db,
                                  "SELECT name, replace(replace(sql, char(10), ' '), '  ', ' ') "
                                  "FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL "
                                  "ORDER BY name",
                                  NULL));
    return out;
}

static void test_registry_sql_matches_migrations(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024];
    db_path("schema", path, sizeof path);
    struct registry *reg = NULL;
    if (registry_open(path, &reg, err, sizeof err) < 0)
        fail_msg("%s", err);
    registry_close(reg);

    FILE *f = fopen(registry_sql_path, "r");
    if (f == NULL)
        fail_msg("%s: %s", registry_sql_path, strerror(errno));
    static char sql[1 << 16];
    size_t len = fread(sql, 1, sizeof sql - 1, f);
    assert_int_equal(fclose(f), 0);
    assert_true(len > 0 && len < sizeof sql - 1);
    sql[len] = '\0';
    sqlite3 *from_file = NULL;
    assert_int_equal(sqlite3_open(":memory:", &from_file), SQLITE_OK);
    raw_exec(from_file, sql);

    sqlite3 *migrated = raw_open(path);
    json_t *want = schema_json(from_file);
    expect_json("schema/registry.sql against the migrations", schema_json(migrated), want);
    json_decref(want);
    sqlite3_close(migrated);
    sqlite3_close(from_file);
    db_remove(path);
}

/* The collector publishes while a scheduler reads, through two
 * connections to one file. */
static void test_two_connections(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024];
    db_path("shared", path, sizeof path);
    struct registry *writer = NULL, *reader = NULL;
    if (registry_open(path, &writer, err, sizeof err) < 0 ||
        registry_open(path, &reader, err, sizeof err) < 0)
        fail_msg("%s", err);

    struct inventory inv;
    load_inventory("compute-2", &inv);
    assert_int_equal(registry_replace_host(writer, &inv, 1000, err, sizeof err), 0);
    struct registry_offers offers;
    assert_int_equal(registry_offers_by_type(reader, "nvidia-222", &offers, err, sizeof err), 0);
    assert_int_equal(offers.count, 1);
    assert_string_equal(offers.items[0].host, "compute-2");
    registry_offers_free(&offers);

    struct registry_probe probe = {
        .source_digest = inv.devices[0].migration.digest,
        .target_host = "compute-2",
        .level = REGISTRY_LEVEL_DEVICE,
        .target = inv.devices[0].uuid,
        .target_digest = inv.devices[0].migration.digest,
        .verdict = REGISTRY_VERDICT_COMPATIBLE,
        .checked_at = 1001,
    };
    assert_int_equal(registry_probe_put(reader, &probe, err, sizeof err), 0);
    probe.verdict = REGISTRY_VERDICT_UNSUPPORTED;
    probe.checked_at = 0;
    assert_int_equal(registry_probe_get(writer, &probe, err, sizeof err), 1);
    assert_int_equal(probe.verdict, REGISTRY_VERDICT_COMPATIBLE);
    assert_int_equal(probe.checked_at, 1001);

    /* A newer snapshot through one is what the other loads next. */
    inv.generation++;
    inv.parents[1].types[0].available_instances = 0;
    assert_int_equal(registry_replace_host(writer, &inv, 1100, err, sizeof err), 0);
    assert_int_equal(registry_offers_by_type(reader, "nvidia-222", &offers, err, sizeof err), 0);
    assert_int_equal(offers.count, 0);
    registry_offers_free(&offers);

    inventory_free(&inv);
    registry_close(reader);
    registry_close(writer);
    db_remove(path);
}

/* A new registry file NAME in the test's directory (its path in path). */
static struct registry *open_file_registry(const char *name, char *path, size_t size)
{
    char err[1024];
    db_path(name, path, size);
    struct registry *reg = NULL;
    if (registry_open(path, &reg, err, sizeof err) < 0)
        fail_msg("%s", err);
    return reg;
}

/* The WAL is checkpointed by the background thread, not by the commits:
 * once enough pages are written its passes copy them back (a connection
 * that never read the file would "succeed" with no WAL, which counts as
 * a failure), the data stays whole, and stopping it leaves SQLite's own
 * checkpoint in place. An in-memory registry gets no thread. */
static void test_background_checkpoint(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024];
    struct registry *reg = open_file_registry("checkpointed", path, sizeof path);
    struct registry_checkpointer *checkpointer = NULL;
    if (registry_checkpointer_start(reg, &checkpointer, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_non_null(checkpointer);

    /* Each changed snapshot dirties a few pages; 1,500 of them pass the
     * background threshold (1,000 pages) several times. */
    struct inventory inv, update;
    load_inventory("compute-1", &inv);
    load_inventory("compute-1-driver-update", &update);
    for (int i = 0; i < 1500; i++) {
        struct inventory *next = i % 2 == 0 ? &update : &inv;
        next->generation = 1000 + i;
        assert_int_equal(registry_replace_host(reg, next, 2000 + i, err, sizeof err), 0);
    }
    uint64_t runs = 0, failures = 0;
    for (int wait = 0; wait < 500 && runs == 0; wait++) {
        registry_checkpointer_counts(checkpointer, &runs, &failures);
        if (runs == 0)
            usleep(10000);
    }
    assert_true(runs >= 1);
    assert_int_equal(failures, 0);

    struct inventory loaded;
    assert_int_equal(registry_load_host(reg, "compute-1", &loaded, err, sizeof err), 0);
    assert_int_equal(loaded.generation, 2499);
    assert_true(inventory_same_content(&loaded, &inv));
    inventory_free(&loaded);

    registry_checkpointer_stop(checkpointer);
    registry_checkpointer_counts(NULL, &runs, &failures);
    assert_int_equal(runs, 0);
    update.generation = 5000;
    assert_int_equal(registry_replace_host(reg, &update, 9000, err, sizeof err), 0);
    inventory_free(&update);
    inventory_free(&inv);
    registry_close(reg);
    db_remove(path);

    struct registry *mem = NULL;
    if (registry_open(":memory:", &mem, err, sizeof err) < 0 ||
        registry_checkpointer_start(mem, &checkpointer, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_null(checkpointer);
    registry_checkpointer_stop(checkpointer);
    registry_close(mem);
}

/* main() reserved SQLite's page cache before anything used SQLite: the
 * registry's pages come from that pool (and a second call is harmless). */
static void test_page_cache_pool(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024];
    assert_int_equal(registry_reserve_page_cache(err, sizeof err), 0);
    struct registry *reg = open_file_registry("pooled", path, sizeof path);
    struct inventory inv;
    load_inventory("compute-1", &inv);
    assert_int_equal(registry_replace_host(reg, &inv, 1000, err, sizeof err), 0);
    sqlite3_int64 used = 0, highest = 0;
    assert_int_equal(sqlite3_status64(SQLITE_STATUS_PAGECACHE_USED, &used, &highest, 0), SQLITE_OK);
    assert_true(highest > 0);
    /* The same call turned SQLite's memory statistics (a mutex per
     * allocation) off: nothing is counted. */
    assert_int_equal(sqlite3_memory_used(), 0);
    inventory_free(&inv);
    registry_close(reg);
    db_remove(path);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char path[PATH_MAX], err[1024];
    db_path("arguments", path, sizeof path);
    struct registry *reg = NULL;
    if (registry_open(path, &reg, err, sizeof err) < 0)
        fail_msg("%s", err);
    struct inventory nameless = {.generation = 1};
    assert_int_equal(registry_replace_host(reg, &nameless, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "without a host name"));

    struct registry_probe probe = {.target_host = "compute-1", .target = "nvidia-222"};
    assert_int_equal(registry_probe_put(reg, &probe, err, sizeof err), -1);
    assert_non_null(strstr(err, "required"));
    probe.source_digest = probe.target_digest = "";
    probe.verdict = (enum registry_verdict)42;
    assert_int_equal(registry_probe_put(reg, &probe, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid verdict"));
    /* A verdict the wire knows that does not hold until a digest changes
     * is never cached, nor read back from the file as one. */
    probe.verdict = (enum registry_verdict)VERDICT_NO_CAPACITY;
    assert_int_equal(registry_probe_put(reg, &probe, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid verdict"));
    enum registry_verdict parsed;
    assert_int_equal(registry_verdict_parse("unreachable", &parsed), -1);
    assert_int_equal(registry_verdict_parse("unsupported", &parsed), 0);
    assert_int_equal(parsed, REGISTRY_VERDICT_UNSUPPORTED);
    assert_string_equal(registry_verdict_name(REGISTRY_VERDICT_INCOMPATIBLE), "incompatible");

    struct registry_instance inst;
    assert_int_equal(registry_instance_get(reg, "not-a-uuid-but-far-too-long-to-be-one-at-all",
                                           &inst, err, sizeof err),
                     -1);
    assert_int_equal(inst.placement_count, 0);

    registry_close(reg);
    assert_int_equal(registry_open("", &reg, err, sizeof err), -1);
    assert_null(reg);
    registry_close(NULL);
    db_remove(path);
}

/* ---- main ------------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR REGISTRY_SQL\n", argv[0]);
        return 2;
    }
    if (realpath(argv[1], data_dir) == NULL || realpath(argv[2], registry_sql_path) == NULL) {
        perror("realpath");
        return 2;
    }
    /* As the sched does, before anything uses SQLite. */
    char pool_err[256];
    if (registry_reserve_page_cache(pool_err, sizeof pool_err) < 0) {
        fprintf(stderr, "%s\n", pool_err);
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    int tmp_len = snprintf(tmp_dir, sizeof tmp_dir, "%s/test_registry.XXXXXX",
                           tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (tmp_len < 0 || (size_t)tmp_len >= sizeof tmp_dir) {
        fprintf(stderr, "TMPDIR is too long\n");
        return 2;
    }
    if (mkdtemp(tmp_dir) == NULL) {
        perror(tmp_dir);
        return 2;
    }

    char cases_dir[PATH_MAX + 8];
    snprintf(cases_dir, sizeof cases_dir, "%s/cases", data_dir);
    DIR *dir = opendir(cases_dir);
    if (dir == NULL) {
        perror(cases_dir);
        return 2;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (n == sizeof names / sizeof names[0]) {
            fprintf(stderr, "%s: more than %zu cases\n", cases_dir, n);
            return 2;
        }
        if ((names[n++] = strndup(e->d_name, len - 5)) == NULL) {
            perror("strndup");
            return 2;
        }
    }
    closedir(dir);
    if (n == 0) {
        fprintf(stderr, "%s: no case (*.json)\n", cases_dir);
        return 2;
    }
    qsort(names, n, sizeof names[0], name_cmp);

    struct CMUnitTest tests[256 + 8];
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        tests[t++] = (struct CMUnitTest){names[i], test_case, NULL, NULL, names[i]};
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_fresh_file_and_reopen);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_newer_file_refused);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_upgrade_keeps_verdicts);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_probe_cache_read_by_target);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_foreign_file_refused);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_migration_mechanism);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_registry_sql_matches_migrations);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_two_connections);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_background_checkpoint);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_page_cache_pool);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_bad_arguments);
    int failed = _cmocka_run_group_tests("registry", tests, t, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (rmdir(tmp_dir) < 0)
        fprintf(stderr, "%s: %s (left behind by a failed test)\n", tmp_dir, strerror(errno));
    return failed == 0 ? 0 : 1;
}
