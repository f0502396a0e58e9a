/*
 * escape — one byte in, at most four out ("\x1b"); never splits an escape
 * when the output is full.
 */
#include "escape.h"

#include <stdio.h>

size_t escape_text(const char *in, char *out, size_t outlen)
{
    if (outlen == 0)
        return 0;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        char piece[5];
        size_t len;
        if (*p == '\\' || *p == '\t' || *p == '\n' || *p == '\r') {
            piece[0] = '\\';
            piece[1] = *p == '\\' ? '\\' : *p == '\t' ? 't' : *p == '\n' ? 'n' : 'r';
            len = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            len = (size_t)snprintf(piece, sizeof piece, "\\x%02x", *p);
        } else {
            piece[0] = (char)*p;
            len = 1;
        }
        if (n + len >= outlen)
            break;
        for (size_t i = 0; i < len; i++)
            out[n++] = piece[i];
    }
    out[n] = '\0';
    return n;
}
