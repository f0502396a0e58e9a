/*
 * test_json_quick — common/json_quick against json_loadb, one case per
 * file under DATA_DIR, the file's bytes the input (names say what each
 * holds):
 *   quick-NAME.txt  must take the quick path (a flat object of plain
 *                   members) and give what json_loadb gives;
 *   full-NAME.txt   must not take it: json_quick_loadb must give what
 *                   json_loadb gives, a value or NULL ("-refused" cases
 *                   must be NULL).
 *
 * Usage: test_json_quick DATA_DIR
 */
#include "json_quick.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *data_dir;

static char *read_case(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open", name);
    char *text = malloc(65536);
    assert_non_null(text);
    *len = fread(text, 1, 65536, f);
    fclose(f);
    return text;
}

static void test_case(void **state)
{
    const char *name = *state;
    size_t len;
    char *text = read_case(name, &len);
    bool quick = strncmp(name, "quick-", 6) == 0;
    bool refused = strstr(name, "-refused.") != NULL;
    json_t *flat = NULL;
    int rc = json_quick_flat(text, len, &flat);
    if (rc != (quick ? 1 : 0))
        fail_msg("%s: json_quick_flat gave %d, not %d", name, rc, quick ? 1 : 0);
    json_t *want = json_loadb(text, len, 0, NULL);
    json_t *got = json_quick_loadb(text, len);
    if (refused && want != NULL)
        fail_msg("%s: json_loadb took what the case says it refuses", name);
    if ((want == NULL) != (got == NULL) || (want != NULL && !json_equal(want, got)))
        fail_msg("%s: json_quick_loadb differs from json_loadb", name);
    if (quick && !json_equal(flat, want))
        fail_msg("%s: the quick path built another value than json_loadb", name);
    json_decref(flat);
    json_decref(want);
    json_decref(got);
    free(text);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_json_quick DATA_DIR\n");
        return 2;
    }
    data_dir = argv[1];
    DIR *dir = opendir(data_dir);
    if (dir == NULL) {
        perror(data_dir);
        return 2;
    }
    char *names[512];
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL && count < 512) {
        if (strncmp(e->d_name, "quick-", 6) == 0 || strncmp(e->d_name, "full-", 5) == 0)
            names[count++] = strdup(e->d_name);
    }
    closedir(dir);
    if (count == 0) {
        fprintf(stderr, "test_json_quick: no cases in %s\n", data_dir);
        return 2;
    }
    qsort(names, count, sizeof *names, name_cmp);
    struct CMUnitTest *tests = calloc(count, sizeof *tests);
    for (size_t i = 0; i < count; i++)
        tests[i] = (struct CMUnitTest){
            .name = names[i], .test_func = test_case, .initial_state = names[i]};
    int rc = _cmocka_run_group_tests("test_json_quick", tests, count, NULL, NULL);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(tests);
    return rc;
}
