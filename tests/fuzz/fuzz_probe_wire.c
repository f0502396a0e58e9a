/*
 * fuzz_probe_wire — the POST /v1/probe codec (schema/probe_wire.c): any
 * JSON a collector or a scheduler may send. A request or reply it accepts
 * must encode back to JSON that it accepts again, unchanged (nothing the
 * sched trusts can drift through a round trip), and a reply's fields must
 * keep the promises probe_wire.h makes: compatible exactly when the
 * verdict says so, an errno (1..4095) only from a refusing driver.
 *
 * Input: the first byte picks request (even) or reply (odd); the rest is
 * the JSON text.
 */
#include "probe_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_probe_wire_fail(const char *what)
{
    fprintf(stderr, "fuzz_probe_wire: %s\n", what);
    abort();
}

static void fuzz_probe_wire_request(const json_t *json)
{
    struct probe_wire_request r;
    char err[512];
    if (probe_wire_request_from_json(json, &r, err, sizeof err) < 0) {
        if (err[0] == '\0')
            fuzz_probe_wire_fail("a request refused without a reason");
        return;
    }
    json_t *again = probe_wire_request_to_json(r.type, r.version, r.device, r.parent);
    struct probe_wire_request r2;
    if (again == NULL || probe_wire_request_from_json(again, &r2, err, sizeof err) < 0)
        fuzz_probe_wire_fail("an accepted request did not survive its own encoding");
    /* A device probe names no parent: the encoder leaves it out. */
    const char *parent = r.device[0] != '\0' ? NULL : r.parent;
    bool same_parent = (parent == NULL && r2.parent == NULL) ||
                       (parent != NULL && r2.parent != NULL && strcmp(parent, r2.parent) == 0);
    if (strcmp(r.type, r2.type) != 0 || r.version_len != r2.version_len ||
        memcmp(r.version, r2.version, r.version_len) != 0 || strcmp(r.device, r2.device) != 0 ||
        !same_parent)
        fuzz_probe_wire_fail("a request changed in its round trip");
    json_decref(again);
}

static void fuzz_probe_wire_reply(const json_t *json)
{
    struct probe_wire_reply r;
    char err[512];
    if (probe_wire_reply_from_json(json, &r, err, sizeof err) < 0) {
        if (err[0] == '\0')
            fuzz_probe_wire_fail("a reply refused without a reason");
        return;
    }
    if (r.err != 0 && (r.verdict != PROBE_WIRE_INCOMPATIBLE || r.err < 1 || r.err > 4095))
        fuzz_probe_wire_fail("an errno taken where no driver refused, or out of range");
    if (r.elapsed_us < 0)
        fuzz_probe_wire_fail("a negative elapsed time taken");
    json_t *again = probe_wire_reply_to_json(&r);
    if (again == NULL)
        fuzz_probe_wire_fail("an accepted reply did not encode");
    /* Only a device reply carries "device"; a type reply's is dropped. */
    if (!r.device_level || r.device != NULL) {
        struct probe_wire_reply r2;
        if (probe_wire_reply_from_json(again, &r2, err, sizeof err) < 0)
            fuzz_probe_wire_fail("an accepted reply did not survive its own encoding");
        if (r2.verdict != r.verdict || r2.err != r.err || r2.device_level != r.device_level ||
            r2.elapsed_us != r.elapsed_us)
            fuzz_probe_wire_fail("a reply changed in its round trip");
    }
    json_decref(again);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    json_t *json = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (json == NULL)
        return 0;
    if (data[0] % 2 == 0)
        fuzz_probe_wire_request(json);
    else
        fuzz_probe_wire_reply(json);
    json_decref(json);
    return 0;
}
