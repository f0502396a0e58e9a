/*
 * test_traitset — the pure rules of publishing traits to Placement, one
 * case per file under DATA_DIR:
 *   names/NAME.case    "host = ", "parent = ", "expect = " (the provider
 *                      name, or "-" when the parent gets none of its own);
 *   merge/NAME.case    "current = ", "desired = " (space-separated traits),
 *                      "expect = " (the merged set, sorted), "changed = ";
 *   parents/NAME.json  an inventory; NAME.expect "PARENT = TRAITS..." for
 *                      every parent, in order (traits sorted).
 * A new case is new files, no code.
 *
 * Usage: test_traitset DATA_DIR
 */
#include "traitset.h"
#include "wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CASES 64

static char data_dir[PATH_MAX];

struct kv {
    char key[32];
    char *value;
};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* "key = value" lines ('#' comments); returns how many. */
static size_t read_kv(const char *path, struct kv *out, size_t max)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        char *l = trim(line);
        if (l[0] == '\0' || l[0] == '#')
            continue;
        char *eq = strstr(l, " =");
        if (eq == NULL)
            fail_msg("%s: '%s' is not 'key = value'", path, l);
        *eq = '\0';
        assert_true(n < max);
        snprintf(out[n].key, sizeof out[n].key, "%s", trim(l));
        out[n].value = strdup(trim(eq + 2));
        assert_non_null(out[n].value);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

static const char *kv_get(struct kv *kv, size_t n, const char *key, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    }
    fail_msg("%s: no '%s ='", path, key);
    return NULL;
}

static void kv_free(struct kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(kv[i].value);
}

/* Space-separated words into a set. */
static void words_to_set(const char *text, struct traitset *out)
{
    char *copy = strdup(text);
    assert_non_null(copy);
    char *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
        assert_int_equal(traitset_add(out, w), 0);
    free(copy);
}

/* The set as one sorted, space-separated line (caller frees). */
static char *set_to_words(const struct traitset *set)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    for (size_t i = 0; i < set->count; i++)
        fprintf(f, "%s%s", i == 0 ? "" : " ", set->names[i]);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_name_case(void **state)
{
    const char *path = *state;
    struct kv kv[8];
    size_t n = read_kv(path, kv, 8);
    const char *host = kv_get(kv, n, "host", path);
    const char *parent = kv_get(kv, n, "parent", path);
    const char *expect = kv_get(kv, n, "expect", path);
    char out[512];
    int rc = traitset_provider_name(host, parent, out, sizeof out);
    if (strcmp(expect, "-") == 0) {
        if (rc != -1)
            fail_msg("%s: expected no provider name, got '%s'", path, out);
    } else {
        if (rc != 0)
            fail_msg("%s: no provider name, expected '%s'", path, expect);
        assert_string_equal(out, expect);
    }
    kv_free(kv, n);
}

static void test_merge_case(void **state)
{
    const char *path = *state;
    struct kv kv[8];
    size_t n = read_kv(path, kv, 8);
    /* current keeps its order and repeats, as a reply would have them. */
    char *current_text = strdup(kv_get(kv, n, "current", path));
    assert_non_null(current_text);
    const char *current[64];
    size_t count = 0;
    char *save = NULL;
    for (char *w = strtok_r(current_text, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        assert_true(count < 64);
        current[count++] = w;
    }
    struct traitset desired = {0}, merged;
    words_to_set(kv_get(kv, n, "desired", path), &desired);
    bool changed = false;
    assert_int_equal(traitset_merge(current, count, &desired, &merged, &changed), 0);
    char *got = set_to_words(&merged);
    if (strcmp(got, kv_get(kv, n, "expect", path)) != 0)
        fail_msg("%s: merged '%s', expected '%s'", path, got, kv_get(kv, n, "expect", path));
    const char *want_changed = kv_get(kv, n, "changed", path);
    if (strcmp(want_changed, changed ? "true" : "false") != 0)
        fail_msg("%s: changed is %s, expected %s", path, changed ? "true" : "false", want_changed);
    free(got);
    traitset_free(&merged);
    traitset_free(&desired);
    free(current_text);
    kv_free(kv, n);
}

static void test_parents_case(void **state)
{
    const char *path = *state;
    json_error_t jerr;
    json_t *json = json_load_file(path, 0, &jerr);
    if (json == NULL)
        fail_msg("%s: %s", path, jerr.text);
    struct inventory inv;
    char err[512];
    if (wire_inventory_from_json(json, &inv, err, sizeof err) < 0)
        fail_msg("%s: %s", path, err);
    json_decref(json);

    char expect_path[PATH_MAX + 8];
    snprintf(expect_path, sizeof expect_path, "%.*s.expect", (int)(strlen(path) - 5), path);
    struct kv kv[16];
    size_t n = read_kv(expect_path, kv, 16);
    assert_int_equal(n, inv.parent_count);
    for (size_t i = 0; i < inv.parent_count; i++) {
        assert_string_equal(kv[i].key, inv.parents[i].name);
        struct traitset set = {0};
        assert_int_equal(traitset_for_parent(&inv.parents[i], &set, err, sizeof err), 0);
        char *got = set_to_words(&set);
        if (strcmp(got, kv[i].value) != 0)
            fail_msg("%s: parent %s earns '%s', expected '%s'", path, kv[i].key, got, kv[i].value);
        for (size_t j = 0; j < set.count; j++)
            assert_true(traitset_owned(set.names[j]));
        free(got);
        traitset_free(&set);
    }
    kv_free(kv, n);
    inventory_free(&inv);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file in DATA_DIR/sub ending in suffix, sorted. */
static size_t list_cases(const char *sub, const char *suffix, char **out, size_t max)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", data_dir, sub);
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 0;
    }
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), slen = strlen(suffix);
        if (len <= slen || strcmp(e->d_name + len - slen, suffix) != 0 || n == max)
            continue;
        if (asprintf(&out[n], "%s/%s", dir, e->d_name) < 0)
            break;
        n++;
    }
    closedir(d);
    qsort(out, n, sizeof *out, name_cmp);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_traitset DATA_DIR\n");
        return 2;
    }
    snprintf(data_dir, sizeof data_dir, "%s", argv[1]);
    char *names[MAX_CASES], *merges[MAX_CASES], *parents[MAX_CASES];
    size_t nn = list_cases("names", ".case", names, MAX_CASES);
    size_t nm = list_cases("merge", ".case", merges, MAX_CASES);
    size_t np = list_cases("parents", ".json", parents, MAX_CASES);
    if (nn == 0 || nm == 0 || np == 0) {
        fprintf(stderr, "no cases found under %s\n", data_dir);
        return 1;
    }
    struct CMUnitTest tests[3 * MAX_CASES];
    size_t t = 0;
    for (size_t i = 0; i < nn; i++)
        tests[t++] =
            (struct CMUnitTest){strrchr(names[i], '/') + 1, test_name_case, NULL, NULL, names[i]};
    for (size_t i = 0; i < nm; i++)
        tests[t++] = (struct CMUnitTest){strrchr(merges[i], '/') + 1, test_merge_case, NULL, NULL,
                                         merges[i]};
    for (size_t i = 0; i < np; i++)
        tests[t++] = (struct CMUnitTest){strrchr(parents[i], '/') + 1, test_parents_case, NULL,
                                         NULL, parents[i]};
    int rc = _cmocka_run_group_tests("traitset", tests, t, NULL, NULL);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    for (size_t i = 0; i < nm; i++)
        free(merges[i]);
    for (size_t i = 0; i < np; i++)
        free(parents[i]);
    return rc;
}
