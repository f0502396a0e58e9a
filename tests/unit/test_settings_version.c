/*
 * test_settings_version — --version in common/settings, on a small table
 * of its own so the daemons' tables can change without touching it: the
 * flag prints exactly what buildinfo_print() does for spec->program and
 * returns 1 as --help does, before any file is read; it takes no value, is
 * no INI key, is listed among the command-line-only flags, and a table
 * without it does not know the flag.
 *
 * Usage: test_settings_version
 */
#include "buildinfo.h"
#include "settings.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct test_cfg {
    char *name;
    char *config_file;
    bool dry_run;
};

#define TEST_FIELD(member, ctype) SETTINGS_FIELD(struct test_cfg, member, ctype)
#define TEST_VERSION_HELP         "Print the version and the commit it was built from, and exit."

static void test_usage(FILE *out);

static const struct settings_item test_items[] = {
    {.key = "name",
     .flag = "name",
     .metavar = "NAME",
     .kind = SETTINGS_STRING,
     .offset = TEST_FIELD(name, char *),
     .def = "default-name",
     .help = "A name."},
    {.flag = "config",
     .metavar = "FILE",
     .kind = SETTINGS_CONFIG,
     .offset = TEST_FIELD(config_file, char *),
     .help = "Read settings from FILE first."},
    {.flag = "dry-run",
     .kind = SETTINGS_SWITCH,
     .offset = TEST_FIELD(dry_run, bool),
     .help = "Change nothing."},
    {.flag = "help", .kind = SETTINGS_HELP, .help = "Print this help and exit."},
    {.flag = "version", .kind = SETTINGS_VERSION, .help = TEST_VERSION_HELP},
};

static const struct settings_spec test_spec = {
    .section = "test",
    .items = test_items,
    .count = sizeof test_items / sizeof test_items[0],
    .size = sizeof(struct test_cfg),
    .usage = test_usage,
    .program = "mdevmig-test",
};

static void test_usage(FILE *out)
{
    fputs("Usage: mdevmig-test [OPTION]...\n\n", out);
    settings_usage(&test_spec, out);
}

/* The same table without a program name, and one without --version. */
static const struct settings_spec test_spec_unnamed = {
    .section = "test",
    .items = test_items,
    .count = sizeof test_items / sizeof test_items[0],
    .size = sizeof(struct test_cfg),
    .usage = test_usage,
};

static const struct settings_spec test_spec_without = {
    .section = "test",
    .items = test_items,
    .count = sizeof test_items / sizeof test_items[0] - 1,
    .size = sizeof(struct test_cfg),
    .usage = test_usage,
    .program = "mdevmig-test",
};

/* settings_parse with stdout caught in a buffer; stdout is back before
 * any assertion, so cmocka's report is not caught too. */
struct parse_result {
    int rc;
    char out[8192];
    char err[512];
    struct test_cfg cfg;
};

static void parse(const struct settings_spec *spec, char **argv, struct parse_result *r)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    memset(r, 0, sizeof *r);
    memset(&r->cfg, 0xa5, sizeof r->cfg); /* settings_parse must zero it */
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
    r->rc = settings_parse(spec, &r->cfg, argc, argv, r->err, sizeof r->err);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(r->out, 1, sizeof r->out - 1, tmp);
    r->out[n] = '\0';
    fclose(tmp);
}

static void expected_version(const char *program, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s (commit %s)\n", program, buildinfo_version(), buildinfo_commit());
}

static void assert_cfg_empty(const struct test_cfg *cfg)
{
    assert_null(cfg->name);
    assert_null(cfg->config_file);
    assert_false(cfg->dry_run);
}

static void test_version_prints_buildinfo(void **state)
{
    (void)state;
    char want[256];
    expected_version("mdevmig-test", want, sizeof want);
    char *argv[] = {"mdevmig-test", "--version", NULL};
    struct parse_result r;
    parse(&test_spec, argv, &r);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, want);
    assert_cfg_empty(&r.cfg);

    /* The same text buildinfo_print() gives, whatever it becomes. */
    char printed[256] = "";
    FILE *mem = fmemopen(printed, sizeof printed, "w");
    assert_non_null(mem);
    buildinfo_print(mem, "mdevmig-test");
    fclose(mem);
    assert_string_equal(r.out, printed);
}

/* Like --help: the answer comes before any file is opened or value
 * checked, and leaves nothing to free. */
static void test_version_before_settings(void **state)
{
    (void)state;
    char want[256];
    expected_version("mdevmig-test", want, sizeof want);
    char *argv[] = {"mdevmig-test",           "--name",    "x",         "--config",
                    "/nonexistent/test.conf", "--dry-run", "--version", NULL};
    struct parse_result r;
    parse(&test_spec, argv, &r);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, want);
    assert_string_equal(r.err, "");
    assert_cfg_empty(&r.cfg);

    /* An empty value after it is not looked at either. */
    char *later[] = {"mdevmig-test", "--version", "--name", "", NULL};
    parse(&test_spec, later, &r);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, want);
}

/* --help and --version: the first one given answers. */
static void test_version_and_help(void **state)
{
    (void)state;
    char want[256];
    expected_version("mdevmig-test", want, sizeof want);
    struct parse_result r;
    char *version_first[] = {"mdevmig-test", "--version", "--help", NULL};
    parse(&test_spec, version_first, &r);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, want);

    char *help_first[] = {"mdevmig-test", "-h", "--version", NULL};
    parse(&test_spec, help_first, &r);
    assert_int_equal(r.rc, 1);
    assert_true(strncmp(r.out, "Usage: mdevmig-test", 19) == 0);
    assert_null(strstr(r.out, want));
}

/* A mistake before --version is reported, as before --help. */
static void test_version_mistakes(void **state)
{
    (void)state;
    struct parse_result r;
    char *with_value[] = {"mdevmig-test", "--version=2", NULL};
    parse(&test_spec, with_value, &r);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "option '--version' takes no value");
    assert_string_equal(r.out, "");
    assert_cfg_empty(&r.cfg);

    char *unknown_first[] = {"mdevmig-test", "--bogus", "--version", NULL};
    parse(&test_spec, unknown_first, &r);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "unknown or ambiguous option '--bogus'");
    assert_string_equal(r.out, "");

    char *without[] = {"mdevmig-test", "--version", NULL};
    parse(&test_spec_without, without, &r);
    assert_int_equal(r.rc, -1);
    assert_string_equal(r.err, "unknown or ambiguous option '--version'");
    assert_string_equal(r.out, "");
}

static void test_version_unnamed_program(void **state)
{
    (void)state;
    char want[256];
    expected_version("mdevmig", want, sizeof want);
    char *argv[] = {"whatever", "--version", NULL};
    struct parse_result r;
    parse(&test_spec_unnamed, argv, &r);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, want);
}

/* Command line only: "version" in the file is an unknown key. */
static void test_version_not_a_key(void **state)
{
    (void)state;
    char path[] = "/tmp/test_settings_version.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "[test]\nname = from-file\nversion = 1\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    char *argv[] = {"mdevmig-test", "--config", path, NULL};
    struct parse_result r;
    parse(&test_spec, argv, &r);
    unlink(path);
    assert_int_equal(r.rc, -1);
    char want[128];
    snprintf(want, sizeof want, "%s:3: unknown key 'version' in [test]", path);
    assert_string_equal(r.err, want);
    assert_cfg_empty(&r.cfg);
}

/* The steps a program may call itself pass over --version as over
 * --help: it sets nothing. */
static void test_version_apply_flags(void **state)
{
    (void)state;
    struct test_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[256] = "";
    assert_int_equal(settings_defaults(&test_spec, &cfg, err, sizeof err), 0);
    char *argv[] = {"mdevmig-test", "--version", "--dry-run", NULL};
    assert_int_equal(settings_apply_flags(&test_spec, &cfg, 3, argv, err, sizeof err), 0);
    assert_string_equal(cfg.name, "default-name");
    assert_true(cfg.dry_run);
    settings_free(&test_spec, &cfg);
    assert_cfg_empty(&cfg);
}

/* Listed once, with the command-line-only flags, without a value. */
static void test_version_in_usage(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    settings_usage(&test_spec, mem);
    fclose(mem);
    const char *only = strstr(text, "\nCommand-line only:\n");
    assert_non_null(only);
    const char *line = strstr(text, "\n  --version ");
    assert_non_null(line);
    assert_true(line > only);
    assert_null(strstr(line + 1, "\n  --version "));
    char want[160];
    snprintf(want, sizeof want, "\n  %-20s %s\n", "--version", TEST_VERSION_HELP);
    assert_true(strncmp(line, want, strlen(want)) == 0);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_prints_buildinfo),
        cmocka_unit_test(test_version_before_settings),
        cmocka_unit_test(test_version_and_help),
        cmocka_unit_test(test_version_mistakes),
        cmocka_unit_test(test_version_unnamed_program),
        cmocka_unit_test(test_version_not_a_key),
        cmocka_unit_test(test_version_apply_flags),
        cmocka_unit_test(test_version_in_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
