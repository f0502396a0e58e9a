/*
 * test_http_url — holds common/http_url.c, the one check of the http(s)
 * URLs operators give (Placement, Keystone, the sched's address, registry
 * targets, advertise_url), to what it must accept and refuse. Each case is
 * one file under data/http_url/, so a URL someone asks about is one new
 * file, and a failure names the file that broke. Beyond the cases: the
 * settings form of the check names the key and the value, and the
 * percent-encoding of path segments.
 *
 * Usage: test_http_url DATA_DIR   (every non-hidden file in it is a case)
 *
 * A case file holds "key = value" lines after a first "# " line saying
 * what it checks:
 *
 *   url = TEXT                 the URL (blanks around it are not part of it)
 *   check = url | base         http_url_check() or http_url_check_base()
 *   expect = accepted | refused
 *   message = TEXT             refused: a substring of the reason
 */
#include "http_url.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct url_case {
    char *path; /* the case file */
    char *name; /* its name: what a failure reports */
    char *url;
    bool base, have_check, accepted, have_expect;
    char *message;
};

static const char *data_dir;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        s[--len] = '\0';
    return s;
}

static int case_dup(char **out, const char *value, char *err, size_t errlen)
{
    *out = strdup(value);
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* One "key = value" line into c; -1 with a message for anything else, so a
 * typo in a case file is reported rather than skipped. */
static int case_line(struct url_case *c, char *key, char *value, char *err, size_t errlen)
{
    if (strcmp(key, "url") == 0 && c->url == NULL)
        return case_dup(&c->url, value, err, errlen);
    if (strcmp(key, "message") == 0 && c->message == NULL)
        return case_dup(&c->message, value, err, errlen);
    if (strcmp(key, "check") == 0 && (strcmp(value, "url") == 0 || strcmp(value, "base") == 0)) {
        c->base = strcmp(value, "base") == 0;
        c->have_check = true;
        return 0;
    }
    if (strcmp(key, "expect") == 0 &&
        (strcmp(value, "accepted") == 0 || strcmp(value, "refused") == 0)) {
        c->accepted = strcmp(value, "accepted") == 0;
        c->have_expect = true;
        return 0;
    }
    snprintf(err, errlen, "unknown, repeated or bad line \"%s = %s\"", key, value);
    return -1;
}

static int case_parse(struct url_case *c, char *err, size_t errlen)
{
    FILE *f = fopen(c->path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *text = trim(line);
        if (lineno == 1 && strncmp(text, "# ", 2) != 0) {
            snprintf(err, errlen, "line 1: must be a \"# \" comment saying what the case checks");
            rc = -1;
        } else if (text[0] == '\0' || text[0] == '#') {
            continue;
        } else {
            char *eq = strchr(text, '=');
            char msg[256];
            if (eq == NULL) {
                snprintf(err, errlen, "line %u: no '='", lineno);
                rc = -1;
            } else {
                *eq = '\0';
                if (case_line(c, trim(text), trim(eq + 1), msg, sizeof msg) < 0) {
                    snprintf(err, errlen, "line %u: %s", lineno, msg);
                    rc = -1;
                }
            }
        }
    }
    free(line);
    fclose(f);
    if (rc == 0 && !(c->url != NULL && c->have_check && c->have_expect)) {
        snprintf(err, errlen, "needs url, check and expect lines");
        rc = -1;
    }
    if (rc == 0 && c->accepted != (c->message == NULL)) {
        snprintf(err, errlen, "a refused case needs a message line, an accepted one none");
        rc = -1;
    }
    return rc;
}

static int case_setup(void **state)
{
    struct url_case *c = *state;
    char err[512];
    if (case_parse(c, err, sizeof err) < 0) {
        fprintf(stderr, "%s/%s: %s\n", data_dir, c->name, err);
        return -1;
    }
    return 0;
}

static void run_case(void **state)
{
    const struct url_case *c = *state;
    char err[512] = "";
    int rc = c->base ? http_url_check_base(c->url, err, sizeof err)
                     : http_url_check(c->url, err, sizeof err);
    if (c->accepted) {
        if (rc != 0)
            fail_msg("%s: \"%s\" refused: %s", c->name, c->url, err);
        return;
    }
    if (rc == 0)
        fail_msg("%s: \"%s\" accepted", c->name, c->url);
    assert_int_equal(rc, -1);
    if (strstr(err, c->message) == NULL)
        fail_msg("%s: the reason \"%s\" does not say \"%s\"", c->name, err, c->message);
}

/* A config key's refusal names the key and the value, then why. */
static void test_setting_check(void **state)
{
    (void)state;
    char err[512] = "";
    assert_int_equal(http_url_setting_check("https://controller:8778/placement", "placement_url",
                                            err, sizeof err),
                     0);
    assert_int_equal(
        http_url_setting_check("ftp://placement.example.net", "placement_url", err, sizeof err),
        -1);
    assert_string_equal(err, "placement_url must be an http:// or https:// URL, not "
                             "'ftp://placement.example.net': the scheme is \"ftp\": only http:// "
                             "and https:// are supported");
    assert_int_equal(http_url_setting_check("http://sched:7400/?x", "--url", err, sizeof err), -1);
    assert_non_null(strstr(err, "--url must be an http:// or https:// URL, not "
                                "'http://sched:7400/?x': it has a query"));
}

/* Host names and trait names go into paths and queries percent-encoded:
 * only RFC 3986's unreserved bytes stay as they are. */
static void test_escape(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"gpu-a.example_1~x", "gpu-a.example_1~x"},
        {"gpu a/b?c#d", "gpu%20a%2Fb%3Fc%23d"},
        {"CUSTOM_MDEVMIG_0a1b", "CUSTOM_MDEVMIG_0a1b"},
        {"in:A,B", "in%3AA%2CB"},
        {"", ""},
        {"\xc3\xa9", "%C3%A9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = http_url_escape(cases[i].in);
        assert_non_null(got);
        assert_string_equal(got, cases[i].out);
        free(got);
    }
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static void case_free(struct url_case *c)
{
    free(c->path);
    free(c->name);
    free(c->url);
    free(c->message);
    free(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    data_dir = argv[1];
    struct dirent **names;
    /* Sorted, so runs are comparable and a report reads in file order. */
    int n = scandir(data_dir, &names, visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", data_dir, strerror(errno));
        return 2;
    }
    if (n == 0) {
        fprintf(stderr, "%s: no case files\n", data_dir);
        free(names);
        return 2;
    }
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    int rc = tests == NULL ? 2 : 0;
    for (int made = 0; rc == 0 && made < n; made++) {
        struct url_case *c = calloc(1, sizeof *c);
        tests[made] = (struct CMUnitTest){
            .name = NULL, .test_func = run_case, .setup_func = case_setup, .initial_state = c};
        if (c == NULL || (c->name = strdup(names[made]->d_name)) == NULL) {
            rc = 2;
            break;
        }
        /* asprintf leaves its pointer undefined on failure. */
        if (asprintf(&c->path, "%s/%s", data_dir, names[made]->d_name) < 0) {
            c->path = NULL;
            rc = 2;
            break;
        }
        tests[made].name = c->name;
    }
    const struct CMUnitTest coded[] = {
        cmocka_unit_test(test_setting_check),
        cmocka_unit_test(test_escape),
    };
    /* The count of failures would wrap as an exit status. */
    if (rc == 0) {
        rc = _cmocka_run_group_tests("http_url cases", tests, (size_t)n, NULL, NULL) != 0;
        rc |= cmocka_run_group_tests_name("http_url", coded, NULL, NULL) != 0;
    } else {
        fprintf(stderr, "out of memory\n");
    }
    for (int i = 0; tests != NULL && i < n; i++) {
        if (tests[i].initial_state != NULL)
            case_free(tests[i].initial_state);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(tests);
    return rc;
}
