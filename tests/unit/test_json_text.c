/*
 * test_json_text — common/json_text against jansson, one case per file
 * under DATA_DIR:
 *   {"value": V}                       V written with json_text gives what
 *                                      json_dumps(V, JSON_COMPACT) gives;
 *   {"ops": [...], "expect": T|null}   the calls named give exactly the
 *                                      text T, or NULL (a misuse).
 * An op is "{", "}", "[", "]", "true", "false", "null", "key:K",
 * "str:S", "hex:HH..." (a string of those bytes, for text that is not
 * UTF-8), "int:N" or "nullstr" (json_text_string(NULL)).
 *
 * Usage: test_json_text DATA_DIR
 */
#include "json_text.h"

#include "case_files.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *data_dir;

/* V through json_text, as the select answer writes it. */
static void write_value(struct json_text *t, const json_t *v, const char *name)
{
    const char *key;
    json_t *member;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_text_object_begin(t);
        json_object_foreach((json_t *)v, key, member)
        {
            json_text_key(t, key);
            write_value(t, member, name);
        }
        json_text_object_end(t);
        break;
    case JSON_ARRAY:
        json_text_array_begin(t);
        json_array_foreach(v, i, member) write_value(t, member, name);
        json_text_array_end(t);
        break;
    case JSON_STRING:
        json_text_string(t, json_string_value(v));
        break;
    case JSON_INTEGER:
        json_text_integer(t, (long long)json_integer_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        json_text_bool(t, json_is_true(v));
        break;
    case JSON_NULL:
        json_text_null(t);
        break;
    default:
        fail_msg("%s: json_text writes no reals", name);
    }
}

static void decode_hex(const char *hex, char *out, size_t outlen, const char *name)
{
    size_t n = 0;
    for (const char *p = hex; *p != '\0'; p += 2) {
        unsigned byte;
        if (n + 1 >= outlen || sscanf(p, "%2x", &byte) != 1 || byte == 0)
            fail_msg("%s: bad hex op \"%s\"", name, hex);
        out[n++] = (char)byte;
    }
    out[n] = '\0';
}

static void run_op(struct json_text *t, const char *op, const char *name)
{
    char bytes[256];
    if (strcmp(op, "{") == 0)
        json_text_object_begin(t);
    else if (strcmp(op, "}") == 0)
        json_text_object_end(t);
    else if (strcmp(op, "[") == 0)
        json_text_array_begin(t);
    else if (strcmp(op, "]") == 0)
        json_text_array_end(t);
    else if (strcmp(op, "true") == 0 || strcmp(op, "false") == 0)
        json_text_bool(t, op[0] == 't');
    else if (strcmp(op, "null") == 0)
        json_text_null(t);
    else if (strcmp(op, "nullstr") == 0)
        json_text_string(t, NULL);
    else if (strncmp(op, "key:", 4) == 0)
        json_text_key(t, op + 4);
    else if (strncmp(op, "str:", 4) == 0)
        json_text_string(t, op + 4);
    else if (strncmp(op, "int:", 4) == 0)
        json_text_integer(t, strtoll(op + 4, NULL, 10));
    else if (strncmp(op, "hex:", 4) == 0) {
        decode_hex(op + 4, bytes, sizeof bytes, name);
        json_text_string(t, bytes);
    } else
        fail_msg("%s: unknown op \"%s\"", name, op);
}

static void test_case(void **state)
{
    const char *name = *state;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    json_error_t jerr;
    json_t *c = json_load_file(path, JSON_DECODE_ANY, &jerr);
    if (c == NULL)
        fail_msg("%s: %s (line %d)", name, jerr.text, jerr.line);
    struct json_text t = {0};
    char *got = NULL, *want = NULL;
    const json_t *value = json_object_get(c, "value");
    const json_t *ops = json_object_get(c, "ops");
    if (value != NULL) {
        write_value(&t, value, name);
        want = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_non_null(want);
    } else if (json_is_array(ops)) {
        size_t i;
        json_t *op;
        json_array_foreach(ops, i, op)
        {
            if (!json_is_string(op))
                fail_msg("%s: op %zu is not a string", name, i);
            run_op(&t, json_string_value(op), name);
        }
        const json_t *expect = json_object_get(c, "expect");
        if (expect == NULL || !(json_is_string(expect) || json_is_null(expect)))
            fail_msg("%s: \"expect\" must be a string or null", name);
        want = json_is_string(expect) ? strdup(json_string_value(expect)) : NULL;
    } else {
        fail_msg("%s: a case has \"value\" or \"ops\"", name);
    }
    size_t len = 0;
    got = json_text_take(&t, &len);
    if (want == NULL && got != NULL)
        fail_msg("%s: expected NULL (a misuse), got %s", name, got);
    if (want != NULL && got == NULL)
        fail_msg("%s: expected %s, got NULL", name, want);
    if (want != NULL && (strcmp(got, want) != 0 || len != strlen(want)))
        fail_msg("%s:\n  want %s\n  got  %s", name, want, got);
    free(got);
    free(want);
    json_decref(c);
}

/* Deeper than JSON_TEXT_MAX_DEPTH is refused, not written past. */
static void test_too_deep(void **state)
{
    (void)state;
    struct json_text t = {0};
    for (int i = 0; i < JSON_TEXT_MAX_DEPTH + 2; i++)
        json_text_array_begin(&t);
    for (int i = 0; i < JSON_TEXT_MAX_DEPTH + 2; i++)
        json_text_array_end(&t);
    assert_null(json_text_take(&t, NULL));
}

static bool is_case(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_json_text DATA_DIR\n");
        return 2;
    }
    data_dir = argv[1];
    const struct CMUnitTest extra[] = {cmocka_unit_test(test_too_deep)};
    return case_files_run("test_json_text", data_dir, is_case, test_case, extra, 1);
}
