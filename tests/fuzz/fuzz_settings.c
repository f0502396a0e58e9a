/*
 * fuzz_settings — the configuration engine (common/settings.c and inih)
 * under the two real tables, mdevmig-collector's and mdevmig-sched's, as
 * their daemons run it: a --config file, then flags. Whatever the file and
 * flags say, a parse either runs with every value inside the rules its
 * table gives (checked item by item from the table itself, so a change to
 * a table needs no change here), or stops with a message and leaves nothing
 * behind to free; a message that names FILE:LINE names a line the file has
 * (and a line it calls too long is too long), since the operator has only
 * the message to go by.
 *
 * The tables are static, so this file #includes both config.c files.
 *
 * Input: the config file's bytes; optionally a line "@args" and then one
 * command-line argument per line. --config is always the harness's own (the
 * file above, in a memfd); an argument naming --config is dropped, so an
 * input cannot point the reader at another file, and "@ini" lines (the unit
 * tests' stand-in for the file) are dropped with it.
 */
#include "collector/config.c"
#include "plugin/sched/config.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_SETTINGS_MAX_ARGS 64

static int fuzz_settings_fd = -1;
static char fuzz_settings_path[64];
/* The file of the input being run, for checking what messages say of it. */
static const char *fuzz_settings_file;
static size_t fuzz_settings_file_len;

static void fuzz_settings_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_settings: %s%s%s\n", what, detail != NULL ? ": " : "",
            detail != NULL ? detail : "");
    abort();
}

static bool fuzz_settings_zero(const void *p, size_t size)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < size; i++) {
        if (c[i] != 0)
            return false;
    }
    return true;
}

/* "--config", "--conf=X", "--c": anything getopt_long could take as --config. */
static bool fuzz_settings_names_config(const char *arg)
{
    if (strncmp(arg, "--", 2) != 0)
        return false;
    size_t len = strcspn(arg + 2, "=");
    return len > 0 && len <= 6 && strncmp(arg + 2, "config", len) == 0;
}

/* Line n of the file (from 1): its start and length without the newline;
 * false when the file has fewer lines. */
static bool fuzz_settings_line(size_t n, size_t *len)
{
    const char *p = fuzz_settings_file;
    const char *end = fuzz_settings_file + fuzz_settings_file_len;
    for (size_t i = 1; p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl != NULL ? nl : end;
        if (i == n) {
            *len = (size_t)(stop - p);
            return true;
        }
        p = stop + 1;
    }
    return false;
}

/* "FILE:LINE: ..." is how the operator finds the mistake (settings.h): the
 * line must exist, and a line called too long must be. */
static void fuzz_settings_check_where(const char *err)
{
    size_t path_len = strlen(fuzz_settings_path);
    if (strncmp(err, fuzz_settings_path, path_len) != 0 || err[path_len] != ':')
        return;
    char *end = NULL;
    unsigned long line = strtoul(err + path_len + 1, &end, 10);
    if (end == err + path_len + 1 || *end != ':')
        return;
    size_t len = 0;
    if (line == 0 || !fuzz_settings_line(line, &len))
        fuzz_settings_fail("the message names a line the file does not have", err);
    /* The reader's own message, not a value quoted in another one. */
    static const char longer[] = ": line longer than ";
    if (strncmp(end, longer, sizeof longer - 1) == 0) {
        unsigned long limit = strtoul(end + sizeof longer - 1, NULL, 10);
        if (len <= limit)
            fuzz_settings_fail("the message calls a line too long that is not", err);
    }
}

/* An error names what the operator wrote; a parse that failed holds nothing. */
static void fuzz_settings_check_outcome(int rc, const char *err, const void *cfg, size_t size)
{
    if (rc < -1 || rc > 1)
        fuzz_settings_fail("return value out of range", NULL);
    if (rc == -1 && err[0] == '\0')
        fuzz_settings_fail("failed without a message", NULL);
    if (rc == -1)
        fuzz_settings_check_where(err);
    if (rc != 0 && !fuzz_settings_zero(cfg, size))
        fuzz_settings_fail("a parse that did not run left values behind", err);
}

/* Every value a parse that ran left in cfg, against its table's item. */
static void fuzz_settings_check_values(const struct settings_spec *spec, const void *cfg)
{
    for (size_t i = 0; i < spec->count; i++) {
        const struct settings_item *it = &spec->items[i];
        const void *field = (const char *)cfg + it->offset;
        const char *name = it->flag;
        switch (it->kind) {
        case SETTINGS_STRING:
        case SETTINGS_LISTEN:
        case SETTINGS_ENUM: {
            const char *v = *(char *const *)field;
            if (v == NULL) {
                if (it->def != NULL)
                    fuzz_settings_fail("a setting with a default is unset", name);
                break;
            }
            if (v[0] == '\0')
                fuzz_settings_fail("a setting is empty", name);
            bool chosen = it->kind != SETTINGS_ENUM;
            for (size_t c = 0; !chosen && it->choices[c] != NULL; c++)
                chosen = strcmp(v, it->choices[c]) == 0;
            if (!chosen)
                fuzz_settings_fail("an enum holds none of its choices", v);
            break;
        }
        case SETTINGS_SECONDS: {
            double v = *(const double *)field;
            /* zero_off: 0 is in range too (it turns the thing off). */
            bool low = it->zero_off && v == 0 ? false : it->min > 0 ? v < it->min : v <= 0;
            if (!isfinite(v) || low || v > it->max)
                fuzz_settings_fail("seconds outside the item's range", name);
            break;
        }
        case SETTINGS_INT: {
            int v = *(const int *)field;
            if (v < it->min || v > it->max)
                fuzz_settings_fail("a number outside the item's range", name);
            break;
        }
        case SETTINGS_LIST: {
            char *const *items = field;
            size_t count = *(const size_t *)((const char *)cfg + it->count_offset);
            if (count > it->max_items)
                fuzz_settings_fail("a list longer than its maximum", name);
            for (size_t e = 0; e < count; e++) {
                char why[512];
                if (items[e] == NULL || items[e][0] == '\0')
                    fuzz_settings_fail("an empty list element", name);
                if (it->check != NULL && it->check(items[e], name, why, sizeof why) != 0)
                    fuzz_settings_fail("a list element its check refuses", why);
            }
            break;
        }
        case SETTINGS_CONFIG: {
            const char *v = *(char *const *)field;
            if (v == NULL || strcmp(v, fuzz_settings_path) != 0)
                fuzz_settings_fail("config_file is not the file read", v);
            break;
        }
        case SETTINGS_SWITCH:
        case SETTINGS_HELP:
        case SETTINGS_VERSION:
            break;
        }
    }
}

static void fuzz_settings_collector(int argc, char **argv)
{
    struct collector_config cfg;
    char err[1024] = "";
    memset(&cfg, 0xa5, sizeof cfg);
    int rc = config_parse(&cfg, argc, argv, err, sizeof err);
    fuzz_settings_check_outcome(rc, err, &cfg, sizeof cfg);
    if (rc != 0)
        return;
    fuzz_settings_check_values(&config_spec, &cfg);
    /* Worked out after parsing when nothing set them. */
    if (cfg.host == NULL || cfg.advertise_url == NULL)
        fuzz_settings_fail("collector: host or advertise_url is unset", NULL);
    config_free(&cfg);
    if (!fuzz_settings_zero(&cfg, sizeof cfg))
        fuzz_settings_fail("collector: config_free left values behind", NULL);
}

static void fuzz_settings_sched(int argc, char **argv)
{
    struct sched_config cfg;
    char err[1024] = "";
    memset(&cfg, 0xa5, sizeof cfg);
    int rc = sched_config_parse(&cfg, argc, argv, err, sizeof err);
    fuzz_settings_check_outcome(rc, err, &cfg, sizeof cfg);
    if (rc != 0)
        return;
    fuzz_settings_check_values(&sched_config_spec, &cfg);
    /* The rules across settings that sched_config_parse adds. */
    if (cfg.connect_timeout > cfg.probe_timeout)
        fuzz_settings_fail("sched: connect_timeout longer than probe_timeout", NULL);
    if (strcmp(cfg.candidate_source, "placement") == 0 && cfg.placement_url == NULL)
        fuzz_settings_fail("sched: placement candidates without placement_url", NULL);
    sched_config_free(&cfg);
    if (!fuzz_settings_zero(&cfg, sizeof cfg))
        fuzz_settings_fail("sched: sched_config_free left values behind", NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* --help and --version print to stdout; libFuzzer reports on stderr. */
    if (freopen("/dev/null", "w", stdout) == NULL)
        fuzz_settings_fail("cannot silence stdout", NULL);
    /* A memfd named through /proc: the reader opens a path like any file,
     * and no input touches the disk. */
    fuzz_settings_fd = memfd_create("fuzz-settings.ini", 0);
    if (fuzz_settings_fd < 0)
        fuzz_settings_fail("memfd_create failed", NULL);
    snprintf(fuzz_settings_path, sizeof fuzz_settings_path, "/proc/self/fd/%d", fuzz_settings_fd);
    if (access(fuzz_settings_path, R_OK) != 0)
        fuzz_settings_fail("/proc/self/fd is not readable (is /proc mounted?)", fuzz_settings_path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t file_len = size;
    const char *args = NULL;
    static const char marker[] = "@args\n";
    if (size >= sizeof marker - 1 && memcmp(text, marker, sizeof marker - 1) == 0) {
        file_len = 0;
        args = text + sizeof marker - 1;
    } else {
        const char *at = memmem(text, size, "\n@args\n", sizeof marker);
        if (at != NULL) {
            file_len = (size_t)(at - text) + 1;
            args = at + sizeof marker;
        }
    }
    fuzz_settings_file = text;
    fuzz_settings_file_len = file_len;
    if (ftruncate(fuzz_settings_fd, 0) != 0 ||
        (file_len > 0 && pwrite(fuzz_settings_fd, text, file_len, 0) != (ssize_t)file_len))
        fuzz_settings_fail("cannot write the memfd", NULL);

    /* argv: program, --config PATH, then the input's arguments, each a copy. */
    char *argv[FUZZ_SETTINGS_MAX_ARGS + 4];
    int argc = 0;
    char *copy = NULL;
    argv[argc++] = "fuzz_settings";
    argv[argc++] = "--config";
    argv[argc++] = fuzz_settings_path;
    if (args != NULL) {
        size_t len = size - (size_t)(args - text);
        copy = malloc(len + 1);
        if (copy == NULL)
            abort();
        memcpy(copy, args, len);
        copy[len] = '\0';
        for (char *line = copy; line != NULL && argc < FUZZ_SETTINGS_MAX_ARGS + 3;) {
            char *nl = strchr(line, '\n');
            if (nl != NULL)
                *nl = '\0';
            /* Empty lines are skipped, as the unit tests read their .args. */
            if (line[0] != '\0' && !fuzz_settings_names_config(line) && strcmp(line, "@ini") != 0)
                argv[argc++] = line;
            line = nl != NULL ? nl + 1 : NULL;
        }
    }
    argv[argc] = NULL;
    /* getopt_long permutes argv: each table gets the input's order. */
    char *again[FUZZ_SETTINGS_MAX_ARGS + 4];
    memcpy(again, argv, sizeof argv);
    fuzz_settings_collector(argc, argv);
    fuzz_settings_sched(argc, again);
    free(copy);
    return 0;
}
