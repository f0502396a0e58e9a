/*
 * probe_wire — strict in both directions: every field is checked for its
 * type and range, unknown fields are refused, and fields that must agree
 * (compatible and verdict, errno and verdict) are checked against each
 * other, because a reply that only looks like a verdict must never become
 * one in the scheduler's answer or its cache.
 */
#include "probe_wire.h"

#include "json_text.h"
#include "version.h"
#include "wire.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define PROBE_WIRE_ERRNO_MAX 4095
#define PROBE_WIRE_TEXT_MAX  4096

/* Only what a target answers to a write is a probe's verdict: the sched's
 * own verdicts (no-capacity, unreachable, ...) never come in a reply. */
static bool probe_wire_verdict_known(int verdict)
{
    switch (verdict) {
    case PROBE_WIRE_COMPATIBLE:
    case PROBE_WIRE_INCOMPATIBLE:
    case PROBE_WIRE_UNSUPPORTED:
    case PROBE_WIRE_NO_TYPE:
        return true;
    default:
        return false;
    }
}

const char *probe_wire_verdict_name(enum probe_wire_verdict verdict)
{
    return probe_wire_verdict_known((int)verdict) ? verdict_name((enum verdict)verdict) : "unknown";
}

static bool probe_wire_only(const json_t *json, const char *const *known, size_t count, char *err,
                            size_t errlen)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json, key, value)
    {
        bool ok = false;
        for (size_t i = 0; i < count && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown field \"%.64s\"", key);
            return false;
        }
    }
    return true;
}

/* A string without a NUL inside, or -1 with a message naming key. */
static int probe_wire_string(const json_t *json, const char *key, bool required, size_t max,
                             const char **out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(json, key);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required) {
            snprintf(err, errlen, "\"%s\" is required", key);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        json_string_length(v) > max) {
        snprintf(err, errlen, "\"%s\" must be a string of at most %zu bytes without NUL", key, max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int probe_wire_request_from_json(const json_t *json, struct probe_wire_request *out, char *err,
                                 size_t errlen)
{
    static const char *const known[] = {"type", "version", "device", "parent"};
    memset(out, 0, sizeof *out);
    if (!json_is_object(json)) {
        snprintf(err, errlen, "the body must be a JSON object");
        return -1;
    }
    if (!probe_wire_only(json, known, 4, err, errlen)) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " (expected type, version, device, parent)");
        return -1;
    }
    const json_t *type = json_object_get(json, "type");
    if (type == NULL) {
        snprintf(err, errlen, "\"type\" is required");
        return -1;
    }
    if (!json_is_string(type)) {
        snprintf(err, errlen, "\"type\" must be a string");
        return -1;
    }
    out->type = json_string_value(type);
    if (strchr(out->type, '/') != NULL || strstr(out->type, "..") != NULL) {
        snprintf(err, errlen, "\"type\" must not contain '/' or '..'");
        return -1;
    }
    if (json_string_length(type) != strlen(out->type) || !version_type_id_valid(out->type)) {
        snprintf(err, errlen,
                 "\"type\" is not an mdev type id like \"nvidia-222\" (letters, digits, "
                 "_.:+-, with a '-', at most 128 bytes)");
        return -1;
    }
    const json_t *version = json_object_get(json, "version");
    if (version == NULL) {
        snprintf(err, errlen, "\"version\" is required");
        return -1;
    }
    if (!json_is_string(version)) {
        snprintf(err, errlen, "\"version\" must be a string");
        return -1;
    }
    out->version = json_string_value(version);
    out->version_len = json_string_length(version);
    char why[160];
    if (!version_validate(out->version, out->version_len, why, sizeof why)) {
        snprintf(err, errlen, "\"version\": %s", why);
        return -1;
    }
    const json_t *device = json_object_get(json, "device");
    if (device != NULL && !json_is_null(device)) {
        if (!json_is_string(device) || !wire_uuid_valid(json_string_value(device))) {
            snprintf(err, errlen, "\"device\" must be an mdev UUID (8-4-4-4-12 hex digits)");
            return -1;
        }
        snprintf(out->device, sizeof out->device, "%s", json_string_value(device));
        for (char *p = out->device; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    const json_t *parent = json_object_get(json, "parent");
    if (parent != NULL && !json_is_null(parent)) {
        if (!json_is_string(parent) || json_string_length(parent) == 0 ||
            json_string_length(parent) > 255 ||
            strlen(json_string_value(parent)) != json_string_length(parent)) {
            snprintf(err, errlen, "\"parent\" must be a parent device name");
            return -1;
        }
        out->parent = json_string_value(parent);
    }
    return 0;
}

json_t *probe_wire_request_to_json(const char *type, const char *version, const char *device,
                                   const char *parent)
{
    json_t *json = json_pack("{s:s, s:s}", "type", type, "version", version);
    if (json == NULL)
        return NULL;
    int rc = 0;
    if (device != NULL && device[0] != '\0')
        rc = json_object_set_new(json, "device", json_string(device));
    else if (parent != NULL && parent[0] != '\0')
        rc = json_object_set_new(json, "parent", json_string(parent));
    if (rc != 0) {
        json_decref(json);
        return NULL;
    }
    return json;
}

/* Appends to a text of at most outlen bytes (NUL included), counting what
 * would not fit, so one pass both sizes and writes. */
struct probe_wire_text {
    char *out;
    size_t outlen, len;
};

static void probe_wire_put(struct probe_wire_text *t, const char *s, size_t n)
{
    if (t->len < t->outlen) {
        size_t room = t->outlen - 1 - t->len;
        memcpy(t->out + t->len, s, n < room ? n : room);
    }
    t->len += n;
}

/* A JSON string as jansson's dump writes it without flags: '"', '\' and
 * control bytes escaped (the short forms where JSON has one, else \u00XX
 * in upper case), every other byte as it is. A version may hold any
 * ASCII byte but NUL (DESIGN.md §1), so this is not optional. */
static void probe_wire_put_string(struct probe_wire_text *t, const char *s)
{
    probe_wire_put(t, "\"", 1);
    const char *run = s;
    for (const char *p = s; *p != '\0'; p++) {
        char seq[7];
        const char *escaped = json_text_escape_of((unsigned char)*p, seq);
        if (escaped == NULL)
            continue;
        probe_wire_put(t, run, (size_t)(p - run));
        probe_wire_put(t, escaped, strlen(escaped));
        run = p + 1;
    }
    probe_wire_put(t, run, strlen(run));
    probe_wire_put(t, "\"", 1);
}

size_t probe_wire_request_text(const char *type, const char *version, const char *device,
                               const char *parent, char *out, size_t outlen)
{
    struct probe_wire_text t = {.out = out, .outlen = outlen};
    /* The order of probe_wire_request_to_json's keys (jansson keeps it). */
    probe_wire_put(&t, "{\"type\":", 8);
    probe_wire_put_string(&t, type);
    probe_wire_put(&t, ",\"version\":", 11);
    probe_wire_put_string(&t, version);
    if (device != NULL && device[0] != '\0') {
        probe_wire_put(&t, ",\"device\":", 10);
        probe_wire_put_string(&t, device);
    } else if (parent != NULL && parent[0] != '\0') {
        probe_wire_put(&t, ",\"parent\":", 10);
        probe_wire_put_string(&t, parent);
    }
    probe_wire_put(&t, "}", 1);
    if (outlen > 0)
        out[t.len < outlen ? t.len : outlen - 1] = '\0';
    return t.len;
}

static json_t *probe_wire_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *probe_wire_reply_to_json(const struct probe_wire_reply *r)
{
    json_t *json = json_pack(
        "{s:b, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I}", "compatible",
        r->verdict == PROBE_WIRE_COMPATIBLE, "verdict", probe_wire_verdict_name(r->verdict),
        "level", r->device_level ? "device" : "type", "host", probe_wire_str(r->host), "parent",
        probe_wire_str(r->parent), "errno", r->err != 0 ? json_integer(r->err) : json_null(),
        "error", probe_wire_str(r->error), "target_version", probe_wire_str(r->target_version),
        "elapsed_us", (json_int_t)r->elapsed_us);
    if (json != NULL && r->device_level && r->device != NULL &&
        json_object_set_new(json, "device", json_string(r->device)) != 0) {
        json_decref(json);
        return NULL;
    }
    return json;
}

int probe_wire_reply_from_json(const json_t *json, struct probe_wire_reply *out, char *err,
                               size_t errlen)
{
    static const char *const known[] = {"compatible",     "verdict",   "level", "host",
                                        "parent",         "device",    "errno", "error",
                                        "target_version", "elapsed_us"};
    memset(out, 0, sizeof *out);
    if (!json_is_object(json)) {
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    if (!probe_wire_only(json, known, sizeof known / sizeof known[0], err, errlen))
        return -1;
    const json_t *compatible = json_object_get(json, "compatible");
    if (!json_is_boolean(compatible)) {
        snprintf(err, errlen, "\"compatible\" must be true or false");
        return -1;
    }
    const char *verdict;
    if (probe_wire_string(json, "verdict", true, 32, &verdict, err, errlen) < 0)
        return -1;
    enum verdict v;
    if (verdict_parse(verdict, &v) < 0 || !probe_wire_verdict_known((int)v)) {
        snprintf(err, errlen,
                 "\"verdict\" \"%.32s\" is not compatible, incompatible, unsupported or no-type",
                 verdict);
        return -1;
    }
    out->verdict = (enum probe_wire_verdict)v;
    if (json_is_true(compatible) != (out->verdict == PROBE_WIRE_COMPATIBLE)) {
        snprintf(err, errlen, "\"compatible\": %s disagrees with \"verdict\": \"%s\"",
                 json_is_true(compatible) ? "true" : "false", verdict);
        return -1;
    }
    const char *level;
    if (probe_wire_string(json, "level", true, 16, &level, err, errlen) < 0)
        return -1;
    if (strcmp(level, "type") != 0 && strcmp(level, "device") != 0) {
        snprintf(err, errlen, "\"level\" must be \"type\" or \"device\"");
        return -1;
    }
    out->device_level = strcmp(level, "device") == 0;
    if (probe_wire_string(json, "host", false, 255, &out->host, err, errlen) < 0 ||
        probe_wire_string(json, "parent", false, 255, &out->parent, err, errlen) < 0 ||
        probe_wire_string(json, "device", false, INV_UUID_LEN - 1, &out->device, err, errlen) < 0 ||
        probe_wire_string(json, "error", false, PROBE_WIRE_TEXT_MAX, &out->error, err, errlen) <
            0 ||
        probe_wire_string(json, "target_version", false, VERSION_MAX, &out->target_version, err,
                          errlen) < 0)
        return -1;
    if (out->device != NULL && !wire_uuid_valid(out->device)) {
        snprintf(err, errlen, "\"device\" must be an mdev UUID");
        return -1;
    }
    const json_t *e = json_object_get(json, "errno");
    if (e == NULL) {
        snprintf(err, errlen, "\"errno\" is required (null when no driver gave one)");
        return -1;
    }
    if (!json_is_null(e)) {
        if (!json_is_integer(e) || json_integer_value(e) < 1 ||
            json_integer_value(e) > PROBE_WIRE_ERRNO_MAX) {
            snprintf(err, errlen, "\"errno\" must be null or an integer from 1 to %d",
                     PROBE_WIRE_ERRNO_MAX);
            return -1;
        }
        if (out->verdict != PROBE_WIRE_INCOMPATIBLE) {
            snprintf(err, errlen,
                     "\"errno\" given with verdict \"%s\": only a refusing driver "
                     "gives one",
                     verdict);
            return -1;
        }
        out->err = (int)json_integer_value(e);
    }
    const json_t *elapsed = json_object_get(json, "elapsed_us");
    if (!json_is_integer(elapsed) || json_integer_value(elapsed) < 0) {
        snprintf(err, errlen, "\"elapsed_us\" must be an integer of at least 0");
        return -1;
    }
    out->elapsed_us = (long)json_integer_value(elapsed);
    return 0;
}
