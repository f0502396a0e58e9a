/*
 * test_collector_config — the collector's config file and flags. Each
 * NAME.expect in the data folder is one case: config_parse() runs on the
 * arguments in NAME.args (one per line; "@ini" stands for NAME.ini's
 * path), or on "--config NAME.ini" when there is no .args, or on nothing.
 * NAME.expect holds "field = value" lines the result must have, or
 * "error = TEXT" when parsing must fail with TEXT in the message. A new
 * case is new files, no code. Beyond the cases: --help returns 1 and
 * documents every key with an EXIT STATUS section, and the shipped
 * deploy/collector.conf.example names exactly the keys --help does, with
 * the same defaults, and parses once uncommented.
 *
 * Usage: test_collector_config DATA_DIR EXAMPLE_CONF
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CASES 128
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
        lines = realloc(lines, (n + 1) * sizeof *lines);
        assert_non_null(lines);
        lines[n] = strdup(line);
        assert_non_null(lines[n]);
        n++;
    }
    free(line);
    fclose(f);
    *count = n;
    if (lines == NULL)
        lines = calloc(1, sizeof *lines);
    return lines;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* config_parse() prints --help to stdout; keep it out of the test log. */
static int parse_quietly(struct collector_config *cfg, int argc, char **argv, char *err,
                         size_t errlen)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int null = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && null >= 0);
    assert_int_equal(dup2(null, STDOUT_FILENO), STDOUT_FILENO);
    int rc = config_parse(cfg, argc, argv, err, errlen);
    fflush(stdout);
    assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    close(null);
    return rc;
}

static const char *field_string(const struct collector_config *cfg, const char *name)
{
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
        {"config_file", offsetof(struct collector_config, config_file)},
        {"host", offsetof(struct collector_config, host)},
        {"sysfs_root", offsetof(struct collector_config, sysfs_root)},
        {"libvirt_uri", offsetof(struct collector_config, libvirt_uri)},
        {"listen", offsetof(struct collector_config, listen)},
        {"advertise_url", offsetof(struct collector_config, advertise_url)},
        {"token_file", offsetof(struct collector_config, token_file)},
        {"audit_db", offsetof(struct collector_config, audit_db)},
        {"log_level", offsetof(struct collector_config, log_level)},
        {"placement_url", offsetof(struct collector_config, placement_url)},
        {"placement_token", offsetof(struct collector_config, placement_token)},
        {"placement_token_file", offsetof(struct collector_config, placement_token_file)},
        {"keystone_auth_url", offsetof(struct collector_config, keystone_auth_url)},
        {"keystone_username", offsetof(struct collector_config, keystone_username)},
        {"keystone_password_file", offsetof(struct collector_config, keystone_password_file)},
        {"keystone_project", offsetof(struct collector_config, keystone_project)},
        {"keystone_user_domain", offsetof(struct collector_config, keystone_user_domain)},
        {"keystone_project_domain", offsetof(struct collector_config, keystone_project_domain)},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strcmp(name, fields[i].name) == 0) {
            const char *v = *(char *const *)((const char *)cfg + fields[i].offset);
            return v != NULL ? v : "(null)";
        }
    }
    return NULL;
}

/* "@hostname" and "@ini" in an expected value stand for what the case
 * cannot spell out: this machine's name and the case's own file. */
static const char *expand(const char *value, const char *ini, char *buf, size_t buflen)
{
    if (strcmp(value, "@hostname") == 0) {
        assert_int_equal(gethostname(buf, buflen), 0);
        buf[buflen - 1] = '\0';
        return buf;
    }
    if (strcmp(value, "@ini") == 0)
        return ini;
    return value;
}

static void check_field(const char *name, const struct collector_config *cfg, const char *key,
                        const char *want)
{
    const char *s = field_string(cfg, key);
    if (s != NULL) {
        if (strcmp(s, want) != 0)
            fail_msg("%s: %s is '%s', expected '%s'", name, key, s, want);
        return;
    }
    double got;
    if (strcmp(key, "scan_interval") == 0)
        got = cfg->scan_interval;
    else if (strcmp(key, "heartbeat_interval") == 0)
        got = cfg->heartbeat_interval;
    else if (strcmp(key, "threads") == 0)
        got = cfg->threads;
    else if (strcmp(key, "registry_count") == 0)
        got = (double)cfg->registry_count;
    else if (strcmp(key, "scan_once") == 0 || strcmp(key, "json") == 0 ||
             strcmp(key, "create_providers") == 0) {
        bool b = strcmp(key, "json") == 0        ? cfg->json
                 : strcmp(key, "scan_once") == 0 ? cfg->scan_once
                                                 : cfg->create_providers;
        if (strcmp(want, b ? "true" : "false") != 0)
            fail_msg("%s: %s is %s, expected %s", name, key, b ? "true" : "false", want);
        return;
    } else {
        fail_msg("%s: the .expect file names no field '%s'", name, key);
        return;
    }
    char *end;
    double w = strtod(want, &end);
    assert_true(*end == '\0');
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
    argv[argc++] = "mdevmig-collector";
    size_t nargs = 0;
    char **args = read_lines(args_path, &nargs);
    if (args != NULL) {
        for (size_t i = 0; i < nargs; i++) {
            if (args[i][0] == '\0')
                continue;
            assert_true(argc < MAX_ARGS);
            argv[argc++] = strcmp(args[i], "@ini") == 0 ? ini : args[i];
        }
    } else if (file_exists(ini)) {
        argv[argc++] = "--config";
        argv[argc++] = ini;
    }
    argv[argc] = NULL;

    size_t nexpect = 0;
    char **expect = read_lines(expect_path, &nexpect);
    assert_non_null(expect);

    struct collector_config cfg;
    char err[1024] = "";
    int rc = parse_quietly(&cfg, argc, argv, err, sizeof err);

    const char *want_registries[CONFIG_MAX_REGISTRIES + 1];
    size_t nregistries = 0;
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
        char buf[256];
        value = (char *)expand(value, ini, buf, sizeof buf);
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
        if (strcmp(key, "registry") == 0) {
            assert_true(nregistries <= CONFIG_MAX_REGISTRIES);
            want_registries[nregistries++] = value;
            continue;
        }
        check_field(name, &cfg, key, value);
    }
    if (!checked)
        fail_msg("%s.expect checks nothing", name);
    if (nregistries > 0) {
        if (cfg.registry_count != nregistries)
            fail_msg("%s: %zu registries, expected %zu", name, cfg.registry_count, nregistries);
        for (size_t i = 0; i < nregistries; i++) {
            if (strcmp(cfg.registries[i], want_registries[i]) != 0)
                fail_msg("%s: registry %zu is '%s', expected '%s'", name, i, cfg.registries[i],
                         want_registries[i]);
        }
    }
    config_free(&cfg);
    free_lines(expect, nexpect);
    if (args != NULL)
        free_lines(args, nargs);
}

/* A failed parse leaves nothing to free and config_free() is safe on it. */
static void test_failure_leaves_nothing(void **state)
{
    (void)state;
    char *argv[] = {"mdevmig-collector", "--registry", "sqlite:/a", "--threads", "99", NULL};
    struct collector_config cfg;
    char err[256];
    assert_int_equal(config_parse(&cfg, 5, argv, err, sizeof err), -1);
    assert_null(cfg.host);
    assert_int_equal(cfg.registry_count, 0);
    config_free(&cfg);
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
    config_usage(f);
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
    char *argv[] = {"mdevmig-collector", "--host", "x", "--help", NULL};
    struct collector_config cfg;
    char err[256];
    assert_int_equal(parse_quietly(&cfg, 4, argv, err, sizeof err), 1);
    config_free(&cfg);

    struct help_key keys[MAX_KEYS];
    char *text;
    size_t n = help_keys(keys, MAX_KEYS, &text);
    assert_int_equal(n, 29);
    const char *must[] = {"--config FILE", "--scan-once", "--json", "--help", "[collector]",
                          "EXIT STATUS",   "  0 ",        "  1 ",   "  2 "};
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

/* The example is "# key = value" lines under [collector]: uncommented it
 * must parse, and it must show every key --help shows, at its default
 * where the default is a plain value. */
static void test_example(void **state)
{
    (void)state;
    size_t nlines = 0;
    char **lines = read_lines(example_path, &nlines);
    if (lines == NULL)
        fail_msg("cannot read %s", example_path);
    char tmp[] = "/tmp/test_collector_config.XXXXXX";
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
            seen[k] = true;
            const char *def = keys[k].value;
            bool literal = strchr(def, '<') == NULL && strchr(def, '(') == NULL;
            if (literal && strcmp(def, value) != 0)
                fail_msg("example line %zu: %s = %s, but the default is %s", i + 1, key, value,
                         def);
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
    char *argv[] = {"mdevmig-collector", "--config", tmp, NULL};
    struct collector_config cfg;
    char err[1024];
    int rc = config_parse(&cfg, 3, argv, err, sizeof err);
    unlink(tmp);
    if (rc != 0)
        fail_msg("the uncommented example does not parse: %s", err);
    config_free(&cfg);
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
    int failed = _cmocka_run_group_tests("collector_config", tests, t, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return failed == 0 ? 0 : 1;
}
