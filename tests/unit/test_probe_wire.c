/*
 * test_probe_wire — schema/probe_wire, the codec of POST /v1/probe, from
 * data files, one case per file:
 *   DIR/{request,reply}/valid/NAME.json    {"input": ...}: decodes, and
 *       encodes back to exactly the input;
 *   DIR/{request,reply}/invalid/NAME.json  {"input": ..., "error": "..."}:
 *       refused with a message containing the error text.
 *
 * Usage: test_probe_wire DATA_DIR
 */
#include "probe_wire.h"

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

static void reply_valid(const struct wire_case *c)
{
    struct probe_wire_reply r;
    char err[512];
    if (probe_wire_reply_from_json(c->input, &r, err, sizeof err) < 0)
        fail_msg("%s: refused: %s", c->name, err);
    wire_cases_expect_same(c, probe_wire_reply_to_json(&r));
}

static void reply_invalid(const struct wire_case *c)
{
    struct probe_wire_reply r;
    char err[512] = "";
    wire_cases_expect_refused(c, probe_wire_reply_from_json(c->input, &r, err, sizeof err), err);
}

static void request_valid(const struct wire_case *c)
{
    struct probe_wire_request r;
    char err[512];
    if (probe_wire_request_from_json(c->input, &r, err, sizeof err) < 0)
        fail_msg("%s: refused: %s", c->name, err);
    wire_cases_expect_same(c, probe_wire_request_to_json(r.type, r.version, r.device, r.parent));
}

static void request_invalid(const struct wire_case *c)
{
    struct probe_wire_request r;
    char err[512] = "";
    wire_cases_expect_refused(c, probe_wire_request_from_json(c->input, &r, err, sizeof err), err);
}

static const struct wire_case_checks checks = {
    .request_valid = request_valid,
    .request_invalid = request_invalid,
    .reply_valid = reply_valid,
    .reply_invalid = reply_invalid,
};

int main(int argc, char **argv)
{
    return wire_cases_main(argc, argv, "test_probe_wire", &checks, NULL, 0);
}
