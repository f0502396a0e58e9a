/*
 * textbuf — a growing text buffer filled with printf or raw bytes, for
 * replies built piece by piece (Prometheus metrics, json_text). Out of memory is remembered, not
 * reported per call: check textbuf.failed once at the end.
 */
#ifndef MDEVMIG_TEXTBUF_H
#define MDEVMIG_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct textbuf {
    char *data; /* malloc'd, NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    bool failed;
};

void textbuf_printf(struct textbuf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* n bytes of s as they are (s need not be NUL-terminated). */
void textbuf_append(struct textbuf *buf, const char *s, size_t n);

/* Hand the text to the caller (who frees it); NULL when anything failed.
 * The buffer is empty afterwards either way. */
char *textbuf_take(struct textbuf *buf, size_t *len);

#endif
