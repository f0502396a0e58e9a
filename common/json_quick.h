/*
 * json_quick — json_loadb for the documents the sched parses thousands of
 * times a second: probe replies, host snapshots, batch version reads.
 * jansson's lexer spends ~30 ns a byte: 4-6 us on a 175-byte probe reply,
 * 140-200 us on a 6 KB snapshot, more than all the rest of the work on
 * either. Such documents are almost always plain: objects, arrays,
 * strings of printable ASCII with nothing to unescape, small integers,
 * true, false, null. Those are scanned here and built with jansson's own
 * constructors in a fraction of the time; anything else (an escape, a
 * byte outside printable ASCII, a real, nesting past 32, a duplicate key
 * under JSON_REJECT_DUPLICATES, any error) is handed to json_loadb as it
 * is, so the value, or the refusal and its message, is json_loadb's in
 * every case: tests/unit/test_json_quick.c and tests/fuzz/fuzz_json_quick.c
 * hold it to that.
 */
#ifndef MDEVMIG_JSON_QUICK_H
#define MDEVMIG_JSON_QUICK_H

#include <jansson.h>
#include <stddef.h>

/* What json_loadb(text, len, flags, error) returns; flags other than
 * JSON_REJECT_DUPLICATES go to json_loadb directly. error is only written
 * on a refusal (json_loadb's, with its message). */
json_t *json_quick_loadb(const char *text, size_t len, size_t flags, json_error_t *error);

/* The quick path alone: 1 with *out built, 0 when text is not a plain
 * document (or has a key twice under JSON_REJECT_DUPLICATES), -1 when out
 * of memory. */
int json_quick_plain(const char *text, size_t len, size_t flags, json_t **out);

#endif
