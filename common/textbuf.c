/*
 * textbuf — vsnprintf or bytes into a buffer that doubles when a piece
 * does not fit.
 */
#include "textbuf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL; false (and failed) when none. */
static bool textbuf_reserve(struct textbuf *buf, size_t n)
{
    if (buf->failed)
        return false;
    if (buf->data != NULL && buf->cap - buf->len > n)
        return true;
    size_t cap = buf->cap == 0 ? 4096 : buf->cap * 2;
    while (cap - buf->len <= n)
        cap *= 2;
    char *grown = realloc(buf->data, cap);
    if (grown == NULL) {
        buf->failed = true;
        return false;
    }
    buf->data = grown;
    buf->cap = cap;
    return true;
}

void textbuf_append(struct textbuf *buf, const char *s, size_t n)
{
    if (!textbuf_reserve(buf, n))
        return;
    memcpy(buf->data + buf->len, s, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
}

void textbuf_printf(struct textbuf *buf, const char *fmt, ...)
{
    while (!buf->failed) {
        va_list ap;
        va_start(ap, fmt);
        int n =
            buf->data != NULL ? vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && (size_t)n < buf->cap - buf->len) {
            buf->len += (size_t)n;
            return;
        }
        if (buf->data != NULL && n < 0) {
            buf->failed = true; /* a format error, not a lack of room */
            return;
        }
        if (!textbuf_reserve(buf, n > 0 ? (size_t)n : 0))
            return;
    }
}

char *textbuf_take(struct textbuf *buf, size_t *len)
{
    char *data = buf->failed ? NULL : buf->data;
    if (buf->failed)
        free(buf->data);
    if (len != NULL)
        *len = data != NULL ? buf->len : 0;
    memset(buf, 0, sizeof *buf);
    return data;
}
