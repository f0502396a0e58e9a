/*
 * fuzz_json_quick — common/json_quick, the sched's quick parse of probe
 * replies, against json_loadb on any bytes: whatever the quick path
 * builds, json_loadb must build too, equal; json_quick_loadb must give
 * json_loadb's result (value or refusal) on every input.
 *
 * Input: the text, as a collector's reply body.
 */
#include "json_quick.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void fuzz_json_quick_fail(const char *what)
{
    fprintf(stderr, "fuzz_json_quick: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_t *flat = NULL;
    int rc = json_quick_flat(text, size, &flat);
    json_t *want = json_loadb(text, size, 0, NULL);
    if (rc == 1 && (want == NULL || !json_equal(flat, want)))
        fuzz_json_quick_fail("the quick path built what json_loadb does not");
    if (rc != 1 && flat != NULL)
        fuzz_json_quick_fail("a value left behind by a quick path that gave up");
    json_t *got = json_quick_loadb(text, size);
    if ((want == NULL) != (got == NULL) || (want != NULL && !json_equal(want, got)))
        fuzz_json_quick_fail("json_quick_loadb differs from json_loadb");
    json_decref(flat);
    json_decref(want);
    json_decref(got);
    return 0;
}
