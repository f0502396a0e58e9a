/*
 * textbuf — vsnprintf into a buffer that doubles when a piece does not fit.
 */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        size_t cap = buf->cap == 0 ? 4096 : buf->cap * 2;
        while (n > 0 && cap - buf->len <= (size_t)n)
            cap *= 2;
        char *grown = realloc(buf->data, cap);
        if (grown == NULL) {
            buf->failed = true;
            return;
        }
        buf->data = grown;
        buf->cap = cap;
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
