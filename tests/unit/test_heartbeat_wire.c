/*
 * test_heartbeat_wire — schema/heartbeat_wire, the codec of POST
 * /v1/hosts/{host}/heartbeat, from data files, one case per file:
 *   DIR/{request,reply}/valid/NAME.json    {"input": ...}: decodes, and
 *       encodes back to exactly the input;
 *   DIR/{request,reply}/invalid/NAME.json  {"input": ..., "error": "..."}:
 *       refused with a message containing the error text.
 *
 * Usage: test_heartbeat_wire DATA_DIR
 */
#include "heartbeat_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *data_dir;

/* Run check on every case of DIR/KIND/WHICH/. */
static void each_case(const char *kind, const char *which,
                      void (*check)(const char *name, const json_t *input, const char *error))
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s/%s", data_dir, kind, which);
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("%s: %s", dir, strerror(errno));
    size_t cases = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json_error_t jerr;
        json_t *c = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (c == NULL)
            fail_msg("%s: %s", path, jerr.text);
        const json_t *input = json_object_get(c, "input");
        if (input == NULL)
            fail_msg("%s: a case is {\"input\": ...}", path);
        check(e->d_name, input, json_string_value(json_object_get(c, "error")));
        json_decref(c);
        cases++;
    }
    closedir(d);
    if (cases == 0)
        fail_msg("%s: no cases", dir);
}

static void expect_same(const char *name, const json_t *input, json_t *encoded)
{
    if (encoded == NULL)
        fail_msg("%s: did not encode", name);
    if (!json_equal((json_t *)input, encoded)) {
        char *a = json_dumps(input, JSON_SORT_KEYS | JSON_COMPACT);
        char *b = json_dumps(encoded, JSON_SORT_KEYS | JSON_COMPACT);
        print_error("%s:\n  input   %s\n  encoded %s\n", name, a, b);
        free(a);
        free(b);
        fail_msg("%s: encoding differs from the input", name);
    }
    json_decref(encoded);
}

static void expect_refused(const char *name, int rc, const char *err, const char *expected)
{
    if (expected == NULL || expected[0] == '\0')
        fail_msg("%s: an invalid case needs \"error\"", name);
    if (rc == 0)
        fail_msg("%s: accepted; expected an error containing \"%s\"", name, expected);
    if (strstr(err, expected) == NULL)
        fail_msg("%s: error \"%s\" does not contain \"%s\"", name, err, expected);
}

static void request_valid(const char *name, const json_t *input, const char *error)
{
    (void)error;
    int64_t generation;
    char err[512];
    if (heartbeat_wire_request_from_json(input, &generation, err, sizeof err) < 0)
        fail_msg("%s: refused: %s", name, err);
    expect_same(name, input, heartbeat_wire_request_to_json(generation));
}

static void request_invalid(const char *name, const json_t *input, const char *error)
{
    int64_t generation;
    char err[512] = "";
    expect_refused(name, heartbeat_wire_request_from_json(input, &generation, err, sizeof err), err,
                   error);
}

static void reply_valid(const char *name, const json_t *input, const char *error)
{
    (void)error;
    struct heartbeat_wire_reply r;
    char err[512];
    if (heartbeat_wire_reply_from_json(input, &r, err, sizeof err) < 0)
        fail_msg("%s: refused: %s", name, err);
    expect_same(name, input, heartbeat_wire_reply_to_json(&r));
}

static void reply_invalid(const char *name, const json_t *input, const char *error)
{
    struct heartbeat_wire_reply r;
    char err[512] = "";
    expect_refused(name, heartbeat_wire_reply_from_json(input, &r, err, sizeof err), err, error);
}

static void test_request_valid(void **state)
{
    (void)state;
    each_case("request", "valid", request_valid);
}

static void test_request_invalid(void **state)
{
    (void)state;
    each_case("request", "invalid", request_invalid);
}

static void test_reply_valid(void **state)
{
    (void)state;
    each_case("reply", "valid", reply_valid);
}

static void test_reply_invalid(void **state)
{
    (void)state;
    each_case("reply", "invalid", reply_invalid);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_heartbeat_wire DATA_DIR\n");
        return 2;
    }
    data_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_valid),
        cmocka_unit_test(test_request_invalid),
        cmocka_unit_test(test_reply_valid),
        cmocka_unit_test(test_reply_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
