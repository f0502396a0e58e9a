/*
 * json_quick — json_loadb for the one shape the sched parses a thousand
 * times a second: a flat object of plain members (a collector's probe
 * reply). jansson's lexer spends ~30 ns a byte, 4-6 us on a 175-byte
 * reply, more than the rest of the filter's work on it together; such an
 * object is scanned here and built with jansson's own constructors in a
 * quarter of that. Anything else (nesting, escapes, bytes outside
 * printable ASCII, reals, whitespace other than JSON's, trailing text) is
 * handed to json_loadb as it is, so the result is json_loadb's in every
 * case: tests/unit/test_json_quick.c and tests/fuzz/fuzz_json_quick.c hold
 * it to that.
 */
#ifndef MDEVMIG_JSON_QUICK_H
#define MDEVMIG_JSON_QUICK_H

#include <jansson.h>
#include <stddef.h>

/* What json_loadb(text, len, 0, NULL) returns. */
json_t *json_quick_loadb(const char *text, size_t len);

/* The quick path alone: 1 with *out built, 0 when text is not a flat
 * object of plain members, -1 when out of memory. */
int json_quick_flat(const char *text, size_t len, json_t **out);

#endif
