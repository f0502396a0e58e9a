/*
 * json_text — compact JSON into a textbuf, comma by comma. See json_text.h
 * for why it exists beside jansson.
 */
#include "json_text.h"

#include <stdio.h>
#include <string.h>

const char *json_text_escape_of(unsigned char c, char seq[7])
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        if (c >= 0x20)
            return NULL;
        /* jansson's form: upper-case hex. */
        snprintf(seq, 7, "\\u%04X", c);
        return seq;
    }
}

/* The length of the UTF-8 sequence at p (1 to 4 bytes, RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0 when there
 * is none. p[0] >= 0x80; the string ends at its NUL, which no
 * continuation byte can be. */
static size_t json_text_utf8_length(const unsigned char *p)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        lo = p[0] == 0xE0 ? 0xA0 : 0x80;
        hi = p[0] == 0xED ? 0x9F : 0xBF;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        lo = p[0] == 0xF0 ? 0x90 : 0x80;
        hi = p[0] == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    }
    return n;
}

/* Before a value or a key: the comma after the container's last item. */
static void json_text_item(struct json_text *t)
{
    if (t->after_key) {
        t->after_key = false;
        return;
    }
    uint64_t bit = UINT64_C(1) << t->depth;
    if (t->has_items & bit)
        textbuf_append(&t->buf, ",", 1);
    t->has_items |= bit;
}

static void json_text_open(struct json_text *t, char c)
{
    json_text_item(t);
    if (t->depth + 1 >= JSON_TEXT_MAX_DEPTH) {
        t->broken = true;
        return;
    }
    t->depth++;
    uint64_t bit = UINT64_C(1) << t->depth;
    t->has_items &= ~bit;
    t->is_array = c == '[' ? t->is_array | bit : t->is_array & ~bit;
    textbuf_append(&t->buf, &c, 1);
}

static void json_text_close(struct json_text *t, char c)
{
    bool array = (t->is_array >> t->depth) & 1;
    if (t->depth == 0 || t->after_key || array != (c == ']')) {
        t->broken = true;
        return;
    }
    t->depth--;
    textbuf_append(&t->buf, &c, 1);
}

void json_text_object_begin(struct json_text *t)
{
    json_text_open(t, '{');
}

void json_text_object_end(struct json_text *t)
{
    json_text_close(t, '}');
}

void json_text_array_begin(struct json_text *t)
{
    json_text_open(t, '[');
}

void json_text_array_end(struct json_text *t)
{
    json_text_close(t, ']');
}

static void json_text_quoted(struct json_text *t, const char *s)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    textbuf_append(&t->buf, "\"", 1);
    const unsigned char *run = (const unsigned char *)s, *p = run;
    while (*p != '\0') {
        if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
            p++;
            continue;
        }
        size_t n = *p >= 0x80 ? json_text_utf8_length(p) : 0;
        if (n > 0) {
            p += n;
            continue;
        }
        textbuf_append(&t->buf, (const char *)run, (size_t)(p - run));
        char seq[7];
        const char *escaped = *p >= 0x80 ? replacement : json_text_escape_of(*p, seq);
        textbuf_append(&t->buf, escaped, strlen(escaped));
        run = ++p;
    }
    textbuf_append(&t->buf, (const char *)run, (size_t)(p - run));
    textbuf_append(&t->buf, "\"", 1);
}

void json_text_key(struct json_text *t, const char *key)
{
    if (t->after_key || t->depth == 0 || ((t->is_array >> t->depth) & 1)) {
        t->broken = true;
        return;
    }
    json_text_item(t);
    json_text_quoted(t, key);
    textbuf_append(&t->buf, ":", 1);
    t->after_key = true;
}

void json_text_string(struct json_text *t, const char *s)
{
    if (s == NULL) {
        json_text_null(t);
        return;
    }
    json_text_item(t);
    json_text_quoted(t, s);
}

void json_text_integer(struct json_text *t, long long v)
{
    json_text_item(t);
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%lld", v);
    textbuf_append(&t->buf, digits, (size_t)n);
}

void json_text_bool(struct json_text *t, bool v)
{
    json_text_item(t);
    textbuf_append(&t->buf, v ? "true" : "false", v ? 4 : 5);
}

void json_text_null(struct json_text *t)
{
    json_text_item(t);
    textbuf_append(&t->buf, "null", 4);
}

char *json_text_take(struct json_text *t, size_t *len)
{
    if (t->broken || t->depth != 0 || t->after_key)
        t->buf.failed = true;
    char *text = textbuf_take(&t->buf, len);
    memset(t, 0, sizeof *t);
    return text;
}
