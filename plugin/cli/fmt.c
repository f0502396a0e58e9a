/*
 * fmt — renderings for people; the JSON and TSV forms carry the raw
 * numbers, so nothing here needs to be parsed back.
 */
#include "fmt.h"

#include "errname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fmt_age(char *buf, size_t len, long long s)
{
    if (s < 0)
        snprintf(buf, len, "in the future");
    else if (s < 120)
        snprintf(buf, len, "%llds ago", s);
    else if (s < 2 * 3600)
        snprintf(buf, len, "%lldm ago", s / 60);
    else if (s < 2 * 86400)
        snprintf(buf, len, "%lldh ago", s / 3600);
    else
        snprintf(buf, len, "%lldd ago", s / 86400);
}

void fmt_us(char *buf, size_t len, long long us)
{
    if (us < 1000)
        snprintf(buf, len, "%lld us", us);
    else if (us < 1000000)
        snprintf(buf, len, "%.1f ms", (double)us / 1e3);
    else
        snprintf(buf, len, "%.2f s", (double)us / 1e6);
}

void fmt_errno(char *buf, size_t len, long long err)
{
    const char *name = err > 0 && err < 4096 ? errname_of((int)err) : NULL;
    if (err == 0)
        snprintf(buf, len, "%s", "");
    else if (name != NULL)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "errno %lld", err);
}

void fmt_digest12(char *buf, size_t len, const char *digest)
{
    snprintf(buf, len, "%.12s", digest != NULL ? digest : "");
}

const char *fmt_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

long long fmt_int(const json_t *obj, const char *key, long long fallback)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : fallback;
}

const char *fmt_field(const json_t *obj, const char *key, char *buf, size_t len)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(buf, len, "%s", "");
    return buf;
}

char *fmt_join(const json_t *list, const char *sep)
{
    size_t len = 1, i;
    const json_t *item;
    json_array_foreach(list, i, item) len += json_string_length(item) + strlen(sep);
    char *out = malloc(len);
    if (out == NULL)
        return NULL;
    size_t used = 0;
    out[0] = '\0';
    json_array_foreach(list, i, item) used +=
        (size_t)snprintf(out + used, len - used, "%s%s", i > 0 ? sep : "", json_string_value(item));
    return out;
}
