/*
 * json_quick — a scanner for flat objects of plain members, in front of
 * json_loadb. "Plain": a key or string of printable ASCII without '"' or
 * '\' (nothing to unescape, nothing to check as UTF-8), an integer of at
 * most 18 digits (no overflow to check), true, false or null.
 */
#include "json_quick.h"

#include <stdbool.h>

struct json_quick_scan {
    const char *p, *end;
};

static void json_quick_space(struct json_quick_scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool json_quick_take(struct json_quick_scan *s, char c)
{
    json_quick_space(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

/* A plain string's bytes (after its opening quote): false when it is not
 * one. */
static bool json_quick_string(struct json_quick_scan *s, const char **start, size_t *len)
{
    const char *p = s->p;
    while (p < s->end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c > 0x7E || c == '\\')
            return false;
        p++;
    }
    if (p == s->end)
        return false;
    *start = s->p;
    *len = (size_t)(p - s->p);
    s->p = p + 1;
    return true;
}

/* Whether the token ends here, as JSON needs a literal or number to. */
static bool json_quick_ended(const struct json_quick_scan *s)
{
    return s->p == s->end || *s->p == ',' || *s->p == '}' || *s->p == ' ' || *s->p == '\t' ||
           *s->p == '\n' || *s->p == '\r';
}

static bool json_quick_literal(struct json_quick_scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s->p[i] != word[i])
            return false;
    }
    s->p += n;
    return json_quick_ended(s);
}

static bool json_quick_integer(struct json_quick_scan *s, json_int_t *out)
{
    bool negative = s->p < s->end && *s->p == '-';
    if (negative)
        s->p++;
    const char *first = s->p;
    json_int_t v = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9' && s->p - first < 18)
        v = v * 10 + (*s->p++ - '0');
    size_t digits = (size_t)(s->p - first);
    if (digits == 0 || (digits > 1 && *first == '0') || !json_quick_ended(s))
        return false;
    *out = negative ? -v : v;
    return true;
}

/* A plain value, or NULL with *plain false when there is none here (or
 * with *plain true when out of memory). */
static json_t *json_quick_value(struct json_quick_scan *s, bool *plain)
{
    *plain = true;
    json_quick_space(s);
    if (s->p == s->end) {
        *plain = false;
        return NULL;
    }
    const char *start;
    size_t len;
    json_int_t number;
    switch (*s->p) {
    case '"':
        s->p++;
        if (json_quick_string(s, &start, &len))
            return json_stringn_nocheck(start, len);
        break;
    case 't':
        if (json_quick_literal(s, "true", 4))
            return json_true();
        break;
    case 'f':
        if (json_quick_literal(s, "false", 5))
            return json_false();
        break;
    case 'n':
        if (json_quick_literal(s, "null", 4))
            return json_null();
        break;
    default:
        if (json_quick_integer(s, &number))
            return json_integer(number);
        break;
    }
    *plain = false;
    return NULL;
}

int json_quick_flat(const char *text, size_t len, json_t **out)
{
    *out = NULL;
    struct json_quick_scan s = {.p = text, .end = text + len};
    if (text == NULL || !json_quick_take(&s, '{'))
        return 0;
    json_t *object = json_object();
    if (object == NULL)
        return -1;
    bool closed = json_quick_take(&s, '}');
    while (!closed) {
        const char *key;
        size_t key_len;
        bool plain;
        if (!json_quick_take(&s, '"') || !json_quick_string(&s, &key, &key_len) ||
            !json_quick_take(&s, ':'))
            break;
        json_t *value = json_quick_value(&s, &plain);
        if (!plain)
            break;
        /* The last of repeated keys wins, in the first one's place: as
         * json_loadb without JSON_REJECT_DUPLICATES. */
        if (value == NULL || json_object_setn_new_nocheck(object, key, key_len, value) != 0) {
            json_decref(object);
            return -1;
        }
        if (json_quick_take(&s, '}'))
            closed = true;
        else if (!json_quick_take(&s, ','))
            break;
    }
    json_quick_space(&s);
    if (!closed || s.p != s.end) {
        json_decref(object);
        return 0;
    }
    *out = object;
    return 1;
}

json_t *json_quick_loadb(const char *text, size_t len)
{
    json_t *out;
    int rc = json_quick_flat(text, len, &out);
    if (rc == 1)
        return out;
    /* Out of memory is json_loadb's to meet too. */
    return json_loadb(text, len, 0, NULL);
}
