/*
 * fuzz_json_quick — common/json_quick, the sched's quick parse of probe
 * replies, snapshots and batch reads, against json_loadb on any bytes: whatever the quick path
 * builds, json_loadb must build too, equal; json_quick_loadb must give
 * json_loadb's result (value or refusal) on every input.
 *
 * Input: one byte (odd: JSON_REJECT_DUPLICATES, as the sched loads
 * snapshots; even: no flags, as it loads replies), then the text.
 */
#include "json_quick.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_json_quick_fail(const char *what)
{
    fprintf(stderr, "fuzz_json_quick: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t flags = data[0] & 1 ? JSON_REJECT_DUPLICATES : 0;
    const char *text = (const char *)data + 1;
    size--;
    json_t *plain = NULL;
    int rc = json_quick_plain(text, size, flags, &plain);
    json_error_t want_err, got_err;
    json_t *want = json_loadb(text, size, flags, &want_err);
    if (rc == 1 && (want == NULL || !json_equal(plain, want)))
        fuzz_json_quick_fail("the quick path built what json_loadb does not");
    if (rc != 1 && plain != NULL)
        fuzz_json_quick_fail("a value left behind by a quick path that gave up");
    json_t *got = json_quick_loadb(text, size, flags, &got_err);
    if ((want == NULL) != (got == NULL) || (want != NULL && !json_equal(want, got)))
        fuzz_json_quick_fail("json_quick_loadb differs from json_loadb");
    if (want == NULL && strcmp(want_err.text, got_err.text) != 0)
        fuzz_json_quick_fail("json_quick_loadb refused with another message");
    json_decref(plain);
    json_decref(want);
    json_decref(got);
    return 0;
}
