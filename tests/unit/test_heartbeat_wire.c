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

#include "wire_cases.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *data_dir;

static void request_valid(const struct wire_case *c)
{
    int64_t generation;
    char err[512];
    if (heartbeat_wire_request_from_json(c->input, &generation, err, sizeof err) < 0)
        fail_msg("%s: refused: %s", c->name, err);
    wire_cases_expect_same(c, heartbeat_wire_request_to_json(generation));
}

static void request_invalid(const struct wire_case *c)
{
    int64_t generation;
    char err[512] = "";
    wire_cases_expect_refused(
        c, heartbeat_wire_request_from_json(c->input, &generation, err, sizeof err), err);
}

static void reply_valid(const struct wire_case *c)
{
    struct heartbeat_wire_reply r;
    char err[512];
    if (heartbeat_wire_reply_from_json(c->input, &r, err, sizeof err) < 0)
        fail_msg("%s: refused: %s", c->name, err);
    wire_cases_expect_same(c, heartbeat_wire_reply_to_json(&r));
}

static void reply_invalid(const struct wire_case *c)
{
    struct heartbeat_wire_reply r;
    char err[512] = "";
    wire_cases_expect_refused(c, heartbeat_wire_reply_from_json(c->input, &r, err, sizeof err),
                              err);
}

static void test_request_valid(void **state)
{
    (void)state;
    wire_cases_each(data_dir, "request", "valid", request_valid);
}

static void test_request_invalid(void **state)
{
    (void)state;
    wire_cases_each(data_dir, "request", "invalid", request_invalid);
}

static void test_reply_valid(void **state)
{
    (void)state;
    wire_cases_each(data_dir, "reply", "valid", reply_valid);
}

static void test_reply_invalid(void **state)
{
    (void)state;
    wire_cases_each(data_dir, "reply", "invalid", reply_invalid);
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
