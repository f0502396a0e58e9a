/*
 * heartbeat_wire — strict like probe_wire: unknown fields are refused and
 * every field is checked for type and range, because a heartbeat that is
 * taken wrongly either keeps a changed host's old snapshot fresh (a
 * request) or stops a collector from sending the inventory the sched
 * lacks (a reply).
 */
#include "heartbeat_wire.h"

#include <stdio.h>
#include <string.h>

#define HEARTBEAT_WIRE_TEXT_MAX 4096

static bool heartbeat_wire_only(const json_t *json, const char *const *known, size_t count,
                                const char *expected, char *err, size_t errlen)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json, key, value)
    {
        bool ok = false;
        for (size_t i = 0; i < count && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown field \"%.64s\" (expected %s)", key, expected);
            return false;
        }
    }
    return true;
}

/* A generation: an integer 0..INT64_MAX (JSON reals such as 3.0 are not). */
static int heartbeat_wire_generation(const json_t *v, int64_t *out, char *err, size_t errlen)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errlen, "\"generation\" must be an integer of at least 0");
        return -1;
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int heartbeat_wire_request_from_json(const json_t *json, int64_t *generation, char *err,
                                     size_t errlen)
{
    static const char *const known[] = {"generation"};
    *generation = 0;
    if (!json_is_object(json)) {
        snprintf(err, errlen, "the body must be a JSON object {\"generation\": N}");
        return -1;
    }
    if (!heartbeat_wire_only(json, known, 1, "generation", err, errlen))
        return -1;
    const json_t *v = json_object_get(json, "generation");
    if (v == NULL) {
        snprintf(err, errlen, "\"generation\" is required");
        return -1;
    }
    return heartbeat_wire_generation(v, generation, err, errlen);
}

json_t *heartbeat_wire_request_to_json(int64_t generation)
{
    return json_pack("{s:I}", "generation", (json_int_t)generation);
}

json_t *heartbeat_wire_reply_to_json(const struct heartbeat_wire_reply *reply)
{
    if (reply->touched)
        return json_pack("{s:I, s:b}", "generation", (json_int_t)reply->generation, "touched", 1);
    json_t *generation = reply->known ? json_integer((json_int_t)reply->generation) : json_null();
    return json_pack("{s:s, s:o}", "error",
                     reply->error != NULL ? reply->error : "send the full inventory", "generation",
                     generation);
}

int heartbeat_wire_reply_from_json(const json_t *json, struct heartbeat_wire_reply *out, char *err,
                                   size_t errlen)
{
    static const char *const known[] = {"generation", "touched", "error"};
    memset(out, 0, sizeof *out);
    if (!json_is_object(json)) {
        snprintf(err, errlen, "a heartbeat reply must be a JSON object");
        return -1;
    }
    if (!heartbeat_wire_only(json, known, 3, "generation, touched, error", err, errlen))
        return -1;
    const json_t *generation = json_object_get(json, "generation");
    const json_t *touched = json_object_get(json, "touched");
    const json_t *error = json_object_get(json, "error");
    if (generation == NULL) {
        snprintf(err, errlen, "\"generation\" is required");
        return -1;
    }
    if (touched != NULL && !json_is_true(touched)) {
        snprintf(err, errlen, "\"touched\" is only ever true; a refusal has \"error\" instead");
        return -1;
    }
    if ((touched == NULL) == (error == NULL)) {
        snprintf(err, errlen, "a heartbeat reply has either \"touched\" or \"error\", not %s",
                 touched == NULL ? "neither" : "both");
        return -1;
    }
    if (touched != NULL) {
        out->touched = out->known = true;
        return heartbeat_wire_generation(generation, &out->generation, err, errlen);
    }
    if (!json_is_string(error) || json_string_length(error) == 0 ||
        json_string_length(error) > HEARTBEAT_WIRE_TEXT_MAX ||
        strlen(json_string_value(error)) != json_string_length(error)) {
        snprintf(err, errlen,
                 "\"error\" must be a non-empty string of at most %d bytes without NUL",
                 HEARTBEAT_WIRE_TEXT_MAX);
        return -1;
    }
    out->error = json_string_value(error);
    if (json_is_null(generation))
        return 0;
    out->known = true;
    return heartbeat_wire_generation(generation, &out->generation, err, errlen);
}
