/*
 * json_text — JSON written straight into a growing buffer, for the answers
 * made on every call with an object per probe (select and filter): building
 * a jansson tree only to dump it cost more than half of what the probes'
 * own HTTP did. The text is byte for byte what jansson's
 * json_dumps(JSON_COMPACT) writes for the same values in the same order
 * (tests/unit/test_json_text.c holds it to that), but for text that is not
 * UTF-8: each bad byte is written as U+FFFD, where jansson refuses the
 * whole document. Out of memory is remembered and reported once, by
 * json_text_take.
 */
#ifndef MDEVMIG_JSON_TEXT_H
#define MDEVMIG_JSON_TEXT_H

#include "textbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_TEXT_MAX_DEPTH 64

struct json_text {
    struct textbuf buf;
    unsigned depth;
    uint64_t has_items; /* bit d: the container at depth d has an item */
    uint64_t is_array;  /* bit d: ... is an array, not an object */
    bool after_key;     /* the next value is a key's: no comma before it */
    bool broken;        /* nested too deep or closed what was not open */
};

void json_text_object_begin(struct json_text *t);
void json_text_object_end(struct json_text *t);
void json_text_array_begin(struct json_text *t);
void json_text_array_end(struct json_text *t);
/* The key of the object's next member; its value follows. */
void json_text_key(struct json_text *t, const char *key);
/* A string; NULL writes null. */
void json_text_string(struct json_text *t, const char *s);
void json_text_integer(struct json_text *t, long long v);
void json_text_bool(struct json_text *t, bool v);
void json_text_null(struct json_text *t);

/* The text (the caller frees it), or NULL when memory ran out or the
 * containers were not closed in order. t is empty afterwards either way. */
char *json_text_take(struct json_text *t, size_t *len);

/* The escape JSON needs for byte c in a string ("\\n", "\\u001F", ...),
 * written into seq (7 bytes or more), or NULL when c stands for itself. */
const char *json_text_escape_of(unsigned char c, char seq[7]);

#endif
