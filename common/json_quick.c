/*
 * json_quick — a scanner for plain JSON documents in front of json_loadb.
 * "Plain": a key or string of printable ASCII (nothing to check as UTF-8)
 * whose escapes, if any, are one character's, of at most 4 KiB when it
 * has any (keys 256 bytes), an integer of at most 18 digits
 * (no overflow to check), true, false, null, and objects and arrays of
 * those at most JSON_QUICK_MAX_DEPTH deep.
 */
#include "json_quick.h"

#include <stdbool.h>

#define JSON_QUICK_MAX_DEPTH 32

struct json_quick_scan {
    const char *p, *end;
    size_t flags;
    bool oom;        /* a NULL value is "not plain" unless this is set */
    char text[4096]; /* an escaped string value, undone (used at once) */
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

/* A plain string's text (after its opening quote): the span of the
 * document itself, or, when it has escapes (the one-character ones: \"
 * \\ \/ \b \f \n \r \t; \uXXXX is json_loadb's to check and decode),
 * buf with them undone. */
static bool json_quick_chars(struct json_quick_scan *s, char *buf, size_t buflen,
                             const char **start, size_t *len)
{
    const char *p = s->p;
    size_t n = 0;
    bool escaped = false;
    while (p < s->end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c > 0x7E)
            return false;
        if (c == '\\') {
            if (!escaped) {
                /* What came before the first escape, copied once. */
                if ((size_t)(p - s->p) >= buflen)
                    return false;
                for (const char *q = s->p; q < p; q++)
                    buf[n++] = *q;
                escaped = true;
            }
            if (p + 1 == s->end)
                return false;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
                c = (unsigned char)p[1];
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            default:
                return false;
            }
            p++;
        }
        if (escaped) {
            if (n >= buflen)
                return false;
            buf[n++] = (char)c;
        }
        p++;
    }
    if (p == s->end)
        return false;
    *start = escaped ? buf : s->p;
    *len = escaped ? n : (size_t)(p - s->p);
    s->p = p + 1;
    return true;
}

/* Whether the token ends here, as JSON needs a literal or number to. */
static bool json_quick_ended(const struct json_quick_scan *s)
{
    return s->p == s->end || *s->p == ',' || *s->p == '}' || *s->p == ']' || *s->p == ' ' ||
           *s->p == '\t' || *s->p == '\n' || *s->p == '\r';
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

static json_t *json_quick_value(struct json_quick_scan *s, unsigned depth);

/* An object's members, after its '{'. */
static json_t *json_quick_object(struct json_quick_scan *s, unsigned depth)
{
    json_t *object = json_object();
    if (object == NULL) {
        s->oom = true;
        return NULL;
    }
    if (json_quick_take(s, '}'))
        return object;
    for (;;) {
        /* An escaped key is undone here: the value's own keys reuse
         * nothing of this frame. */
        char key_buf[256];
        const char *key;
        size_t key_len;
        if (!json_quick_take(s, '"') ||
            !json_quick_chars(s, key_buf, sizeof key_buf, &key, &key_len) ||
            !json_quick_take(s, ':'))
            break;
        json_t *value = json_quick_value(s, depth);
        if (value == NULL)
            break;
        size_t before = json_object_size(object);
        /* Repeated keys: the last wins, in the first one's place, as in
         * json_loadb without JSON_REJECT_DUPLICATES; with it, json_loadb
         * says where. */
        if (json_object_setn_new_nocheck(object, key, key_len, value) != 0) {
            s->oom = true;
            break;
        }
        if (json_object_size(object) == before && (s->flags & JSON_REJECT_DUPLICATES))
            break;
        if (json_quick_take(s, '}'))
            return object;
        if (!json_quick_take(s, ','))
            break;
    }
    json_decref(object);
    return NULL;
}

/* An array's values, after its '['. */
static json_t *json_quick_array(struct json_quick_scan *s, unsigned depth)
{
    json_t *array = json_array();
    if (array == NULL) {
        s->oom = true;
        return NULL;
    }
    if (json_quick_take(s, ']'))
        return array;
    for (;;) {
        json_t *value = json_quick_value(s, depth);
        if (value == NULL)
            break;
        if (json_array_append_new(array, value) != 0) {
            s->oom = true;
            break;
        }
        if (json_quick_take(s, ']'))
            return array;
        if (!json_quick_take(s, ','))
            break;
    }
    json_decref(array);
    return NULL;
}

/* A plain value, or NULL (not plain, or s->oom). */
static json_t *json_quick_value(struct json_quick_scan *s, unsigned depth)
{
    json_quick_space(s);
    const char *start;
    size_t len;
    json_int_t number;
    json_t *v = NULL;
    if (s->p == s->end)
        return NULL;
    switch (*s->p) {
    case '{':
    case '[':
        if (depth + 1 > JSON_QUICK_MAX_DEPTH)
            break;
        s->p++;
        return s->p[-1] == '{' ? json_quick_object(s, depth + 1) : json_quick_array(s, depth + 1);
    case '"':
        s->p++;
        if (!json_quick_chars(s, s->text, sizeof s->text, &start, &len))
            break;
        if ((v = json_stringn_nocheck(start, len)) == NULL)
            s->oom = true;
        return v;
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
        if (!json_quick_integer(s, &number))
            break;
        if ((v = json_integer(number)) == NULL)
            s->oom = true;
        return v;
    }
    return NULL;
}

int json_quick_plain(const char *text, size_t len, size_t flags, json_t **out)
{
    *out = NULL;
    if (text == NULL)
        return 0;
    struct json_quick_scan s = {.p = text, .end = text + len, .flags = flags};
    json_quick_space(&s);
    /* json_loadb's top level without JSON_DECODE_ANY. */
    if (s.p == s.end || (*s.p != '{' && *s.p != '['))
        return 0;
    json_t *value = json_quick_value(&s, 0);
    if (value == NULL)
        return s.oom ? -1 : 0;
    json_quick_space(&s);
    if (s.p != s.end) {
        json_decref(value);
        return 0;
    }
    *out = value;
    return 1;
}

json_t *json_quick_loadb(const char *text, size_t len, size_t flags, json_error_t *error)
{
    json_t *out;
    if ((flags & ~(size_t)JSON_REJECT_DUPLICATES) == 0 &&
        json_quick_plain(text, len, flags, &out) == 1)
        return out;
    /* Out of memory, too, is json_loadb's to meet and report. */
    return json_loadb(text, len, flags, error);
}
