/*
 * case_files — one cmocka test per case file of a directory.
 */
#include "case_files.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CASE_FILES_MAX 512

static int case_files_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int case_files_run(const char *group, const char *dir, bool (*take)(const char *name),
                   void (*test)(void **state), const struct CMUnitTest *extra, size_t extra_count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return 2;
    }
    char *names[CASE_FILES_MAX];
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < CASE_FILES_MAX) {
        if (e->d_name[0] != '.' && take(e->d_name) && (names[count] = strdup(e->d_name)) != NULL)
            count++;
    }
    closedir(d);
    if (count == 0) {
        fprintf(stderr, "%s: no cases in %s\n", group, dir);
        return 2;
    }
    qsort(names, count, sizeof *names, case_files_cmp);
    struct CMUnitTest *tests = calloc(count + extra_count, sizeof *tests);
    if (tests == NULL) {
        fprintf(stderr, "%s: out of memory\n", group);
        return 2;
    }
    for (size_t i = 0; i < count; i++)
        tests[i] =
            (struct CMUnitTest){.name = names[i], .test_func = test, .initial_state = names[i]};
    for (size_t i = 0; i < extra_count; i++)
        tests[count + i] = extra[i];
    int rc = _cmocka_run_group_tests(group, tests, count + extra_count, NULL, NULL);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(tests);
    return rc;
}
