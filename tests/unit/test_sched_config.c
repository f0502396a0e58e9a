/*
 * test_sched_config — mdevmig-sched's config file and flags. Each
 * NAME.expect in the data folder is one case: sched_config_parse() runs on
 * the arguments in NAME.args (one per line; "@ini" stands for NAME.ini's
 * path), or on "--config NAME.ini" when there is no .args, or on nothing.
 * NAME.expect holds "field = value" lines the result must have, or
 * "error = TEXT" when parsing must fail with TEXT in the message. A new
 * case is new files, no code. Beyond the cases: --help returns 1 and
 * documents every key, the HTTP API and the exit status, and the shipped
 * deploy/sched.conf.example names exactly the keys --help does, at the
 * same defaults, and parses once uncommented.
 *
 * Usage: test_sched_config DATA_DIR EXAMPLE_CONF
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CASES 64
#define MAX_ARGS  64
#define MAX_KEYS  32

static char data_dir[PATH_MAX];
static char example_path[PATH_MAX];

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Lines of a file with the newline dropped; NULL when it does not exist. */
static char **read_lines(const char *path, size_t *count)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char **lines = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = '\0';
        char **grown = realloc(lines, (n + 1) * sizeof *lines);
        assert_non_null(grown);
        lines = grown;
        lines[n] = strdup(line);
        assert_non_null(lines[n]);
        n++;
    }
    free(line);
    fclose(f);
    *count = n;
    if (lines == NULL) {
        lines = calloc(1, sizeof *lines);
        assert_non_null(lines);
    }
    return lines;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* sched_config_parse() prints --help to stdout; keep it out of the log. */
static int parse_quietly(struct sched_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int null = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && null >= 0);
    assert_int_equal(dup2(null, STDOUT_FILENO), STDOUT_FILENO);
    int rc = sched_config_parse(cfg, argc, argv, err, errlen);
    fflush(stdout);
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    close(null);
    return rc;
}

static const char *field_string(const struct sched_config *cfg, const char *name)
{
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
        {"config_file", offsetof(struct sched_config, config_file)},
        {"listen", offsetof(struct sched_config, listen)},
        {"token_file", offsetof(struct sched_config, token_file)},
        {"registry", offsetof(struct sched_config, registry)},
        {"log_level", offsetof(struct sched_config, log_level)},
        {"candidate_source", offsetof(struct sched_config, candidate_source)},
        {"placement_url", offsetof(struct sched_config, placement_url)},
        {"placement_token_file", offsetof(struct sched_config, placement_token_file)},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(name, fields[i].name) == 0) {
            const char *v = *(char *const *)((const char *)cfg + fields[i].offset);
            return v != NULL ? v : "(null)";
        }
    }
    return NULL;
}

static bool field_number(const struct sched_config *cfg, const char *name, double *out)
{
    if (strcmp(name, "stale_after") == 0)
        *out = cfg->stale_after;
    else if (strcmp(name, "connect_timeout") == 0)
        *out = cfg->connect_timeout;
    else if (strcmp(name, "probe_timeout") == 0)
        *out = cfg->probe_timeout;
    else if (strcmp(name, "max_parallel") == 0)
        *out = cfg->max_parallel;
    else if (strcmp(name, "full_scan_max") == 0)
        *out = cfg->full_scan_max;
    else if (strcmp(name, "threads") == 0)
        *out = cfg->threads;
    else if (strcmp(name, "readiness_interval") == 0)
        *out = cfg->readiness_interval;
    else if (strcmp(name, "readiness_max_parallel") == 0)
        *out = cfg->readiness_max_parallel;
    else
        return false;
    return true;
}

static void check_field(const char *name, const struct sched_config *cfg, const char *key,
                        const char *want)
{
    const char *s = field_string(cfg, key);
    if (s != NULL) {
        if (strcmp(s, want) != 0)
            fail_msg("%s: %s is '%s', expected '%s'", name, key, s, want);
        return;
    }
    double got;
    if (!field_number(cfg, key, &got)) {
        fail_msg("%s: the .expect file names no field '%s'", name, key);
        return;
    }
    char *end;
    double w = strtod(want, &end);
    if (end == want || *end != '\0')
        fail_msg("%s: expected value '%s' for %s is not a number", name, want, key);
    if (fabs(got - w) > 1e-9)
        fail_msg("%s: %s is %g, expected %g", name, key, got, w);
}

static void test_case(void **state)
{
    const char *name = *state;
    char ini[PATH_MAX + 16], args_path[PATH_MAX + 16], expect_path[PATH_MAX + 16];
    snprintf(ini, sizeof ini, "%s/%s.ini", data_dir, name);
    snprintf(args_path, sizeof args_path, "%s/%s.args", data_dir, name);
    snprintf(expect_path, sizeof expect_path, "%s/%s.expect", data_dir, name);

    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "mdevmig-sched";
    size_t nargs = 0;
    char **args = read_lines(args_path, &nargs);
    if (args != NULL) {
        for (size_t i = 0; i < nargs; i++) {
            if (args[i][0] == '\0')
                continue;
            assert_true(argc < MAX_ARGS);
            argv[argc++] = strcmp(args[i], "@ini") == 0 ? ini : args[i];
        }
    } else if (access(ini, F_OK) == 0) {
        argv[argc++] = "--config";
        argv[argc++] = ini;
    }
    argv[argc] = NULL;

    size_t nexpect = 0;
    char **expect = read_lines(expect_path, &nexpect);
    assert_non_null(expect);

    struct sched_config cfg;
    char err[1024] = "";
    int rc = parse_quietly(&cfg, argc, argv, err, sizeof err);

    bool checked = false;
    for (size_t i = 0; i < nexpect; i++) {
        char *line = trim(expect[i]);
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *eq = strchr(line, '=');
        if (eq == NULL)
            fail_msg("%s.expect: '%s' is not 'field = value'", name, line);
        *eq = '\0';
        char *key = trim(line), *value = trim(eq + 1);
        if (strcmp(value, "@ini") == 0)
            value = ini;
        checked = true;
        if (strcmp(key, "error") == 0) {
            if (rc != -1)
                fail_msg("%s: parsed (rc %d), expected an error with '%s'", name, rc, value);
            if (strstr(err, value) == NULL)
                fail_msg("%s: error is '%s', expected it to contain '%s'", name, err, value);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: rc %d, error '%s'", name, rc, err);
        check_field(name, &cfg, key, value);
    }
    if (!checked)
        fail_msg("%s.expect checks nothing", name);
    sched_config_free(&cfg);
    free_lines(expect, nexpect);
    if (args != NULL)
        free_lines(args, nargs);
}

/* A failed parse leaves nothing to free and sched_config_free() is safe
 * on it, also when the failure is the check after every layer is in. */
static void test_failure_leaves_nothing(void **state)
{
    (void)state;
    char *argv[] = {"mdevmig-sched", "--registry", "/r.db", "--threads", "99", NULL};
    struct sched_config cfg;
    char err[256];
    assert_int_equal(sched_config_parse(&cfg, 5, argv, err, sizeof err), -1);
    assert_null(cfg.listen);
    assert_null(cfg.registry);
    sched_config_free(&cfg);

    char *late[] = {"mdevmig-sched", "--connect-timeout", "5", NULL};
    assert_int_equal(sched_config_parse(&cfg, 3, late, err, sizeof err), -1);
    assert_null(cfg.listen);
    assert_null(cfg.log_level);
    sched_config_free(&cfg);
}

struct help_key {
    char key[64];
    char value[256];
};

/* Each key in --help appears as a line "      KEY = DEFAULT". */
static size_t help_keys(struct help_key *out, size_t max, char **text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    sched_config_usage(f);
    assert_int_equal(fclose(f), 0);
    size_t n = 0;
    char *save = NULL;
    char *copy = strdup(buf);
    assert_non_null(copy);
    for (char *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char key[64], value[256];
        if (strncmp(line, "      ", 6) == 0 &&
            sscanf(line, " %63[a-z_] = %255[^\n]", key, value) == 2) {
            assert_true(n < max);
            snprintf(out[n].key, sizeof out[n].key, "%s", key);
            snprintf(out[n].value, sizeof out[n].value, "%s", value);
            n++;
        }
    }
    free(copy);
    *text = buf;
    return n;
}

static void test_help(void **state)
{
    (void)state;
    char *argv[] = {"mdevmig-sched", "--threads", "3", "--help", NULL};
    struct sched_config cfg;
    char err[256];
    assert_int_equal(parse_quietly(&cfg, 4, argv, err, sizeof err), 1);
    sched_config_free(&cfg);
    char *short_help[] = {"mdevmig-sched", "-h", NULL};
    assert_int_equal(parse_quietly(&cfg, 2, short_help, err, sizeof err), 1);
    sched_config_free(&cfg);

    struct help_key keys[MAX_KEYS];
    char *text;
    size_t n = help_keys(keys, MAX_KEYS, &text);
    assert_int_equal(n, 28);
    const char *must[] = {"--config FILE", "--help",      "[sched]",    "/v1/health",
                          "/v1/inventory", "/v1/hosts/",  "/v1/select", "/v1/filter",
                          "/v1/readiness", "/v1/rollout", "/metrics",   "SIGTERM",
                          "EXIT STATUS",   "  0 ",        "  1 ",       "  2 "};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
        if (strstr(text, must[i]) == NULL)
            fail_msg("--help does not mention '%s'", must[i]);
    }
    /* Every key has its flag, dashes for underscores. */
    for (size_t i = 0; i < n; i++) {
        char flag[80] = "--";
        for (size_t j = 0; keys[i].key[j] != '\0'; j++)
            flag[2 + j] = keys[i].key[j] == '_' ? '-' : keys[i].key[j];
        if (strstr(text, flag) == NULL)
            fail_msg("--help names key %s but not flag %s", keys[i].key, flag);
    }
    free(text);
}

/* The example is "# key = value" lines under [sched]: uncommented it must
 * parse, and it must show every key --help shows, at its default. */
static void test_example(void **state)
{
    (void)state;
    size_t nlines = 0;
    char **lines = read_lines(example_path, &nlines);
    if (lines == NULL)
        fail_msg("cannot read %s", example_path);
    char tmp[] = "/tmp/test_sched_config.XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    FILE *out = fdopen(fd, "w");
    assert_non_null(out);

    struct help_key keys[MAX_KEYS];
    char *text;
    size_t nkeys = help_keys(keys, MAX_KEYS, &text);
    free(text);
    bool seen[MAX_KEYS] = {false};
    for (size_t i = 0; i < nlines; i++) {
        char key[64], value[256];
        const char *l = lines[i];
        if (l[0] == '#' || l[0] == ';')
            l++;
        if (l[0] == ' ')
            l++;
        if (l != lines[i] && islower((unsigned char)l[0]) &&
            sscanf(l, "%63[a-z_] = %255[^\n]", key, value) == 2) {
            size_t k = 0;
            while (k < nkeys && strcmp(keys[k].key, key) != 0)
                k++;
            if (k == nkeys)
                fail_msg("example line %zu: '%s' is not a key --help knows", i + 1, key);
            if (seen[k])
                fail_msg("example line %zu: %s is shown twice", i + 1, key);
            seen[k] = true;
            /* A key without a default ("(none)") shows an example value. */
            if (keys[k].value[0] != '(' && strcmp(keys[k].value, value) != 0)
                fail_msg("example line %zu: %s = %s, but the default is %s", i + 1, key, value,
                         keys[k].value);
            fprintf(out, "%s\n", l);
        } else {
            fprintf(out, "%s\n", lines[i]);
        }
    }
    assert_int_equal(fclose(out), 0);
    for (size_t k = 0; k < nkeys; k++) {
        if (!seen[k])
            fail_msg("the example does not show key %s", keys[k].key);
    }
    char *argv[] = {"mdevmig-sched", "--config", tmp, NULL};
    struct sched_config cfg;
    char err[1024];
    int rc = sched_config_parse(&cfg, 3, argv, err, sizeof err);
    unlink(tmp);
    if (rc != 0)
        fail_msg("the uncommented example does not parse: %s", err);
    /* Every default is written out, so the result is the defaults. */
    assert_string_equal(cfg.listen, "127.0.0.1:7400");
    assert_int_equal(cfg.max_parallel, 64);
    sched_config_free(&cfg);
    free_lines(lines, nlines);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR EXAMPLE_CONF\n", argv[0]);
        return 2;
    }
    if (realpath(argv[1], data_dir) == NULL) {
        perror(argv[1]);
        return 2;
    }
    snprintf(example_path, sizeof example_path, "%s", argv[2]);
    DIR *dir = opendir(data_dir);
    if (dir == NULL) {
        perror(data_dir);
        return 2;
    }
    char *names[MAX_CASES];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (!has_suffix(e->d_name, ".expect"))
            continue;
        if (n == MAX_CASES) {
            fprintf(stderr, "%s: more than %d cases\n", data_dir, MAX_CASES);
            closedir(dir);
            return 2;
        }
        names[n] = strndup(e->d_name, strlen(e->d_name) - strlen(".expect"));
        if (names[n] == NULL) {
            perror("strndup");
            closedir(dir);
            return 2;
        }
        n++;
    }
    closedir(dir);
    if (n == 0) {
        fprintf(stderr, "%s: no case (*.expect)\n", data_dir);
        return 2;
    }
    qsort(names, n, sizeof names[0], name_cmp);

    struct CMUnitTest tests[MAX_CASES + 3];
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        tests[t++] = (struct CMUnitTest){names[i], test_case, NULL, NULL, names[i]};
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_failure_leaves_nothing);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_help);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_example);
    int failed = _cmocka_run_group_tests("sched_config", tests, t, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return failed == 0 ? 0 : 1;
}
