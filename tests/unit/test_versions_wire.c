/*
 * test_versions_wire — schema/versions_wire, the codec of POST
 * /v1/devices/migration_versions, from data files, one case per file:
 *   DIR/{request,reply}/valid/NAME.json    {"input": ..., "output"?: ...}:
 *       decodes, and encodes back to exactly "output" (the input when
 *       there is none: the encoding is canonical);
 *   DIR/{request,reply}/invalid/NAME.json  {"input": ..., "error": "..."}:
 *       refused with a message containing the error text.
 * The list maximum is checked in code: a case file of 1025 UUIDs would be
 * 40 KiB of the same line.
 *
 * Usage: test_versions_wire DATA_DIR
 */
#include "versions_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wire_cases.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void request_valid(const struct wire_case *c)
{
    struct versions_wire_request r;
    char err[512];
    if (versions_wire_request_from_json(c->input, &r, err, sizeof err) < 0)
        fail_msg("%s: refused: %s", c->name, err);
    const char **uuids = calloc(r.count + 1, sizeof *uuids);
    assert_non_null(uuids);
    for (size_t i = 0; i < r.count; i++)
        uuids[i] = r.devices[i];
    wire_cases_expect_same(c, versions_wire_request_to_json(uuids, r.count, r.type_table));
    free(uuids);
    versions_wire_request_clear(&r);
}

static void request_invalid(const struct wire_case *c)
{
    struct versions_wire_request r;
    char err[512] = "";
    wire_cases_expect_refused(c, versions_wire_request_from_json(c->input, &r, err, sizeof err),
                              err);
    assert_null(r.devices);
}

static void reply_valid(const struct wire_case *c)
{
    struct versions_wire_reply r;
    char err[512];
    if (versions_wire_reply_from_json(c->input, &r, err, sizeof err) < 0)
        fail_msg("%s: refused: %s", c->name, err);
    /* The text the collector sends, read back as the sched reads it. */
    size_t len = 0;
    char *text = versions_wire_reply_text(&r, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    json_error_t jerr;
    json_t *sent = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (sent == NULL)
        fail_msg("%s: the reply's text is not JSON: %s: %s", c->name, jerr.text, text);
    wire_cases_expect_same(c, sent);
    free(text);
    versions_wire_reply_clear(&r);
}

static void reply_invalid(const struct wire_case *c)
{
    struct versions_wire_reply r;
    char err[512] = "";
    wire_cases_expect_refused(c, versions_wire_reply_from_json(c->input, &r, err, sizeof err), err);
    assert_null(r.devices);
}

/* n distinct UUIDs as a request's "devices". */
static json_t *many_uuids(size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char uuid[40];
        snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012zx", i);
        json_array_append_new(list, json_string(uuid));
    }
    return list;
}

/* The maximum is accepted, one more refused with the maximum named. */
static void test_request_maximum(void **state)
{
    (void)state;
    struct versions_wire_request r;
    char err[512] = "";
    json_t *at = json_pack("{s:o}", "devices", many_uuids(VERSIONS_WIRE_MAX_DEVICES));
    if (versions_wire_request_from_json(at, &r, err, sizeof err) < 0)
        fail_msg("%d UUIDs refused: %s", VERSIONS_WIRE_MAX_DEVICES, err);
    assert_int_equal(r.count, VERSIONS_WIRE_MAX_DEVICES);
    versions_wire_request_clear(&r);
    json_decref(at);

    json_t *over = json_pack("{s:o}", "devices", many_uuids(VERSIONS_WIRE_MAX_DEVICES + 1));
    char want[128];
    snprintf(want, sizeof want, "\"devices\" lists %d UUIDs: at most %d per request",
             VERSIONS_WIRE_MAX_DEVICES + 1, VERSIONS_WIRE_MAX_DEVICES);
    const struct wire_case c = {.name = "maximum + 1", .error = want};
    wire_cases_expect_refused(&c, versions_wire_request_from_json(over, &r, err, sizeof err), err);
    json_decref(over);
}

/* A reply never carries more entries than a request may ask for. */
static void test_reply_maximum(void **state)
{
    (void)state;
    json_t *entries = json_array();
    json_t *uuids = many_uuids(VERSIONS_WIRE_MAX_DEVICES + 1);
    size_t i;
    json_t *uuid;
    json_array_foreach(uuids, i, uuid)
        json_array_append_new(entries, json_pack("{s:O, s:s}", "uuid", uuid, "error", "not found"));
    json_decref(uuids);
    json_t *reply =
        json_pack("{s:s, s:o, s:i}", "host", "gpu-a", "devices", entries, "elapsed_us", 1);
    struct versions_wire_reply r;
    char err[512] = "";
    const struct wire_case c = {.name = "reply maximum + 1",
                                .error = "entries: a request names at most"};
    wire_cases_expect_refused(&c, versions_wire_reply_from_json(reply, &r, err, sizeof err), err);
    json_decref(reply);
}

static const struct wire_case_checks checks = {
    .request_valid = request_valid,
    .request_invalid = request_invalid,
    .reply_valid = reply_valid,
    .reply_invalid = reply_invalid,
};

int main(int argc, char **argv)
{
    const struct CMUnitTest extra[] = {
        cmocka_unit_test(test_request_maximum),
        cmocka_unit_test(test_reply_maximum),
    };
    return wire_cases_main(argc, argv, "test_versions_wire", &checks, extra,
                           sizeof extra / sizeof extra[0]);
}
