/*
 * wire_cases — reading and judging the wire codecs' case files
 * (wire_cases.h), once for every codec's unit test.
 */
#include "wire_cases.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wire_cases_each(const char *data_dir, const char *kind, const char *which,
                     wire_case_check check)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s/%s", data_dir, kind, which);
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("%s: %s", dir, strerror(errno));
    size_t cases = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json_error_t jerr;
        json_t *file = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (file == NULL)
            fail_msg("%s: %s", path, jerr.text);
        const json_t *input = json_object_get(file, "input");
        if (input == NULL)
            fail_msg("%s: a case is {\"input\": ...}", path);
        const json_t *output = json_object_get(file, "output");
        const struct wire_case c = {
            .name = e->d_name,
            .input = input,
            .want = output != NULL ? output : input,
            .error = json_string_value(json_object_get(file, "error")),
        };
        check(&c);
        json_decref(file);
        cases++;
    }
    closedir(d);
    if (cases == 0)
        fail_msg("%s: no cases", dir);
}

void wire_cases_expect_same(const struct wire_case *c, json_t *encoded)
{
    if (encoded == NULL)
        fail_msg("%s: did not encode", c->name);
    if (!json_equal((json_t *)c->want, encoded)) {
        char *a = json_dumps(c->want, JSON_SORT_KEYS | JSON_COMPACT);
        char *b = json_dumps(encoded, JSON_SORT_KEYS | JSON_COMPACT);
        print_error("%s:\n  expected %s\n  encoded  %s\n", c->name, a, b);
        free(a);
        free(b);
        fail_msg("%s: encoding differs", c->name);
    }
    json_decref(encoded);
}

void wire_cases_expect_refused(const struct wire_case *c, int rc, const char *err)
{
    if (c->error == NULL || c->error[0] == '\0')
        fail_msg("%s: an invalid case needs \"error\"", c->name);
    if (rc == 0)
        fail_msg("%s: accepted; expected an error containing \"%s\"", c->name, c->error);
    if (strstr(err, c->error) == NULL)
        fail_msg("%s: error \"%s\" does not contain \"%s\"", c->name, err, c->error);
}

/* One group of cases: DIR/KIND/WHICH through check. */
struct wire_cases_group {
    const char *dir;
    const char *kind;
    const char *which;
    wire_case_check check;
};

static void wire_cases_group_run(void **state)
{
    const struct wire_cases_group *g = *state;
    wire_cases_each(g->dir, g->kind, g->which, g->check);
}

int wire_cases_main(int argc, char **argv, const char *program,
                    const struct wire_case_checks *checks, const struct CMUnitTest *extra,
                    size_t extra_count)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", program);
        return 2;
    }
    struct wire_cases_group groups[] = {
        {argv[1], "request", "valid", checks->request_valid},
        {argv[1], "request", "invalid", checks->request_invalid},
        {argv[1], "reply", "valid", checks->reply_valid},
        {argv[1], "reply", "invalid", checks->reply_invalid},
    };
    static const char *const names[] = {"request_valid", "request_invalid", "reply_valid",
                                        "reply_invalid"};
    size_t count = sizeof groups / sizeof groups[0];
    struct CMUnitTest *tests = calloc(count + extra_count, sizeof *tests);
    if (tests == NULL) {
        fprintf(stderr, "%s: out of memory\n", program);
        return 1;
    }
    for (size_t i = 0; i < count; i++)
        tests[i] = (struct CMUnitTest){
            .name = names[i], .test_func = wire_cases_group_run, .initial_state = &groups[i]};
    for (size_t i = 0; i < extra_count; i++)
        tests[count + i] = extra[i];
    int failed = _cmocka_run_group_tests(program, tests, count + extra_count, NULL, NULL);
    free(tests);
    return failed;
}
