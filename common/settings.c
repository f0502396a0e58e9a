/*
 * settings — the engine behind each daemon's config.c: it applies one
 * program's table of settings to that program's struct, from defaults, an
 * INI file and getopt_long, and prints the table as --help. Every message
 * names what the operator wrote (FILE:LINE and the key, or the --flag),
 * because the daemon exits on it and the operator has only the message.
 */
#include "settings.h"

#include "buildinfo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long hands back val; offset past every short option character. */
#define SETTINGS_VAL_BASE 256

/* One file being read: where the reader is, for the handler's messages. */
struct settings_file {
    const struct settings_spec *spec;
    void *cfg;
    const char *path;
    FILE *fp;
    int line;         /* the line the reader last returned */
    int *set_on_line; /* per item; 0: key not yet in the file */
    bool stop;        /* tell inih to read no further */
    int read_errno;   /* the file could not be read */
    int err_line;     /* 0: no error from the handler or reader */
    char err[512];
};

static void settings_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void settings_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void *settings_field(void *cfg, size_t offset)
{
    return (char *)cfg + offset;
}

static int settings_set_string(char **field, const char *value, const char *name, char *err,
                               size_t errlen)
{
    if (value[0] == '\0') {
        settings_fail(err, errlen, "%s must not be empty", name);
        return -1;
    }
    char *copy = strdup(value);
    if (copy == NULL) {
        settings_fail(err, errlen, "out of memory");
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

static int settings_set_seconds(const struct settings_item *it, double *field, const char *value,
                                const char *name, char *err, size_t errlen)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    bool low = it->min > 0 ? v < it->min : v <= 0;
    if (it->zero_off && v == 0)
        low = false;
    if (end == value || *end != '\0' || errno != 0 || !isfinite(v) || low || v > it->max) {
        if (it->zero_off)
            settings_fail(err, errlen,
                          "%s must be 0 (off) or a number of seconds above 0 and at most %g, not "
                          "'%s'",
                          name, it->max, value);
        else if (it->min > 0)
            settings_fail(err, errlen, "%s must be a number of seconds from %g to %g, not '%s'",
                          name, it->min, it->max, value);
        else
            settings_fail(err, errlen,
                          "%s must be a number of seconds above 0 and at most %g, not '%s'", name,
                          it->max, value);
        return -1;
    }
    *field = v;
    return 0;
}

static int settings_set_int(const struct settings_item *it, int *field, const char *value,
                            const char *name, char *err, size_t errlen)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end != '\0' || errno != 0 || v < (long)it->min || v > (long)it->max) {
        settings_fail(err, errlen, "%s must be a whole number from %ld to %ld, not '%s'", name,
                      (long)it->min, (long)it->max, value);
        return -1;
    }
    *field = (int)v;
    return 0;
}

/* The same shapes http_parse_listen() binds: an IP literal, not a name, so
 * a daemon never depends on DNS to start. */
static int settings_check_listen(const char *value, const char *name, char *err, size_t errlen)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *port;
    int family;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        size_t n = close == NULL ? 0 : (size_t)(close - value - 1);
        if (close == NULL || close[1] != ':' || n == 0 || n >= sizeof addr) {
            settings_fail(err, errlen, "%s must be [IPV6-ADDR]:PORT, not '%s'", name, value);
            return -1;
        }
        memcpy(addr, value + 1, n);
        addr[n] = '\0';
        port = close + 2;
        family = AF_INET6;
    } else {
        const char *colon = strrchr(value, ':');
        size_t n = colon == NULL ? 0 : (size_t)(colon - value);
        if (colon == NULL || n == 0 || n >= sizeof addr || memchr(value, ':', n) != NULL) {
            settings_fail(err, errlen, "%s must be ADDR:PORT (IPv6 as [ADDR]:PORT), not '%s'", name,
                          value);
            return -1;
        }
        memcpy(addr, value, n);
        addr[n] = '\0';
        port = colon + 1;
        family = AF_INET;
    }
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(family, addr, buf) != 1) {
        settings_fail(err, errlen, "%s: '%s' is not an %s address (a literal, not a name)", name,
                      addr, family == AF_INET ? "IPv4" : "IPv6");
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long p = port[0] >= '0' && port[0] <= '9' ? strtol(port, &end, 10) : 0;
    if (end == NULL || *end != '\0' || errno != 0 || p < 1 || p > 65535) {
        settings_fail(err, errlen, "%s: port must be 1 to 65535, not '%s'", name, port);
        return -1;
    }
    return 0;
}

/* "NAME must be a, b or c, not 'x'": the choices from the table, so the
 * message cannot fall behind the list. */
static int settings_check_enum(const struct settings_item *it, const char *value, const char *name,
                               char *err, size_t errlen)
{
    size_t n = 0;
    for (; it->choices[n] != NULL; n++) {
        if (strcmp(value, it->choices[n]) == 0)
            return 0;
    }
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof list; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(list + used, sizeof list - used, "%s%s", sep, it->choices[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    settings_fail(err, errlen, "%s must be %s, not '%s'", name, list, value);
    return -1;
}

static void settings_clear_list(const struct settings_item *it, void *cfg)
{
    char **items = settings_field(cfg, it->offset);
    size_t *count = settings_field(cfg, it->count_offset);
    for (size_t i = 0; i < *count; i++) {
        free(items[i]);
        items[i] = NULL;
    }
    *count = 0;
}

static int settings_add_item(const struct settings_item *it, void *cfg, const char *element,
                             const char *name, char *err, size_t errlen)
{
    if (it->check != NULL && it->check(element, name, err, errlen) < 0)
        return -1;
    char **items = settings_field(cfg, it->offset);
    size_t *count = settings_field(cfg, it->count_offset);
    if (*count == it->max_items) {
        settings_fail(err, errlen, "%s: more than %zu %ss", name, it->max_items, it->noun);
        return -1;
    }
    char *copy = strdup(element);
    if (copy == NULL) {
        settings_fail(err, errlen, "out of memory");
        return -1;
    }
    items[(*count)++] = copy;
    return 0;
}

/* "a, b,c" adds three elements; an empty element is a typo, not "none". */
static int settings_add_list(const struct settings_item *it, void *cfg, const char *value,
                             const char *name, char *err, size_t errlen)
{
    char *copy = strdup(value);
    if (copy == NULL) {
        settings_fail(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            p[--n] = '\0';
        if (n == 0) {
            settings_fail(err, errlen, "%s: empty %s in '%s'", name, it->noun, value);
            rc = -1;
            break;
        }
        if (settings_add_item(it, cfg, p, name, err, errlen) < 0) {
            rc = -1;
            break;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    free(copy);
    return rc;
}

/* Apply one value. name is how the operator wrote it (the INI key or the
 * --flag) so the message points back at their text. */
static int settings_set(const struct settings_item *it, void *cfg, const char *value,
                        const char *name, char *err, size_t errlen)
{
    void *field = settings_field(cfg, it->offset);
    switch (it->kind) {
    case SETTINGS_STRING:
        if (it->check != NULL && it->check(value, name, err, errlen) < 0)
            return -1;
        return settings_set_string(field, value, name, err, errlen);
    case SETTINGS_LISTEN:
        if (settings_check_listen(value, name, err, errlen) < 0)
            return -1;
        return settings_set_string(field, value, name, err, errlen);
    case SETTINGS_ENUM:
        if (settings_check_enum(it, value, name, err, errlen) < 0)
            return -1;
        return settings_set_string(field, value, name, err, errlen);
    case SETTINGS_SECONDS:
        return settings_set_seconds(it, field, value, name, err, errlen);
    case SETTINGS_INT:
        return settings_set_int(it, field, value, name, err, errlen);
    case SETTINGS_LIST:
        return settings_add_list(it, cfg, value, name, err, errlen);
    case SETTINGS_SWITCH:
        *(bool *)field = true;
        return 0;
    case SETTINGS_CONFIG:
    case SETTINGS_HELP:
    case SETTINGS_VERSION:
        break;
    }
    settings_fail(err, errlen, "%s cannot be set here", name);
    return -1;
}

int settings_defaults(const struct settings_spec *spec, void *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < spec->count; i++) {
        const struct settings_item *it = &spec->items[i];
        if (it->def == NULL)
            continue;
        /* Defaults go through the same checks as any value; one that
         * fails is a bug in the table, named as such. */
        char msg[400];
        if (settings_set(it, cfg, it->def, it->key != NULL ? it->key : it->flag, msg, sizeof msg) <
            0) {
            settings_fail(err, errlen, "built-in default: %s", msg);
            return -1;
        }
    }
    return 0;
}

/* inih's reader hook: counting lines here is how the handler learns which
 * line it is on (the packaged inih is built without INI_HANDLER_LINENO),
 * and a line too long for inih's buffer is refused instead of being split
 * into two lines, the tail of which inih would parse as a line of its own. */
static char *settings_reader(char *buf, int size, void *stream)
{
    struct settings_file *st = stream;
    if (st->stop || size < 2)
        return NULL;
    /* Byte by byte rather than fgets: a NUL inside a line would hide the
     * rest of it from strlen, and the line count would go astray. */
    int len = 0, c = EOF;
    while (len < size - 1 && (c = getc(st->fp)) != EOF) {
        buf[len++] = (char)c;
        if (c == '\n')
            break;
    }
    if (len == 0) {
        if (ferror(st->fp))
            st->read_errno = errno != 0 ? errno : EIO;
        return NULL;
    }
    buf[len] = '\0';
    st->line++;
    if (memchr(buf, '\0', (size_t)len) != NULL) {
        st->err_line = st->line;
        snprintf(st->err, sizeof st->err, "%s:%d: the line holds a NUL byte", st->path, st->line);
        st->stop = true;
        return NULL;
    }
    if (buf[len - 1] != '\n') {
        int next = getc(st->fp);
        if (next != EOF && next != '\n') {
            st->err_line = st->line;
            snprintf(st->err, sizeof st->err, "%s:%d: line longer than %d characters", st->path,
                     st->line, size - 1);
            st->stop = true;
            return NULL;
        }
    }
    return buf;
}

static int settings_handler(void *user, const char *section, const char *name, const char *value)
{
    struct settings_file *st = user;
    const struct settings_spec *spec = st->spec;
    char msg[400];
    if (strcmp(section, spec->section) != 0) {
        if (section[0] == '\0')
            snprintf(msg, sizeof msg, "key '%s' is outside a section (put it under [%s])", name,
                     spec->section);
        else
            snprintf(msg, sizeof msg, "unknown section [%s] (only [%s] is read)", section,
                     spec->section);
        goto fail;
    }
    for (size_t i = 0; i < spec->count; i++) {
        const struct settings_item *it = &spec->items[i];
        if (it->key == NULL || strcmp(name, it->key) != 0)
            continue;
        /* A scalar given twice is almost always an edit gone wrong; only
         * a list may repeat, and its first line replaces the default. */
        if (it->kind != SETTINGS_LIST && st->set_on_line[i] != 0) {
            snprintf(msg, sizeof msg, "'%s' is already set on line %d", name, st->set_on_line[i]);
            goto fail;
        }
        if (it->kind == SETTINGS_LIST && st->set_on_line[i] == 0)
            settings_clear_list(it, st->cfg);
        st->set_on_line[i] = st->line;
        if (settings_set(it, st->cfg, value, name, msg, sizeof msg) < 0)
            goto fail;
        return 1;
    }
    snprintf(msg, sizeof msg, "unknown key '%s' in [%s]", name, spec->section);
    /* The flags use dashes; a key written the same way gets a hint. */
    for (size_t i = 0; i < spec->count; i++) {
        const struct settings_item *it = &spec->items[i];
        if (it->key != NULL && strcmp(name, it->flag) == 0 && strchr(name, '-') != NULL) {
            size_t n = strlen(msg);
            snprintf(msg + n, sizeof msg - n, " (keys use underscores: %s)", it->key);
        }
    }
fail:
    st->err_line = st->line;
    snprintf(st->err, sizeof st->err, "%s:%d: %s", st->path, st->line, msg);
    st->stop = true;
    return 0;
}

int settings_read_file(const struct settings_spec *spec, void *cfg, const char *path, char *err,
                       size_t errlen)
{
    struct settings_file st;
    memset(&st, 0, sizeof st);
    st.spec = spec;
    st.cfg = cfg;
    st.path = path;
    st.set_on_line = calloc(spec->count, sizeof *st.set_on_line);
    if (st.set_on_line == NULL) {
        settings_fail(err, errlen, "out of memory");
        return -1;
    }
    st.fp = fopen(path, "r");
    if (st.fp == NULL) {
        settings_fail(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        free(st.set_on_line);
        return -1;
    }
    int rc = ini_parse_stream(settings_reader, &st, settings_handler, &st);
    fclose(st.fp);
    free(st.set_on_line);
    /* inih reports the first bad line; a syntax error before the line our
     * handler refused is the one to show. */
    if (rc > 0 && (st.err_line == 0 || rc < st.err_line)) {
        settings_fail(err, errlen, "%s:%d: expected 'key = value', '[%s]' or a comment", path, rc,
                      spec->section);
        return -1;
    }
    if (st.err_line != 0) {
        settings_fail(err, errlen, "%s", st.err);
        return -1;
    }
    if (st.read_errno != 0) {
        settings_fail(err, errlen, "cannot read config file %s: %s", path, strerror(st.read_errno));
        return -1;
    }
    if (rc != 0) {
        settings_fail(err, errlen, "cannot parse config file %s: out of memory", path);
        return -1;
    }
    return 0;
}

static bool settings_takes_value(const struct settings_item *it)
{
    return it->kind != SETTINGS_SWITCH && it->kind != SETTINGS_HELP && it->kind != SETTINGS_VERSION;
}

/* getopt_long's table, built from ours: val is SETTINGS_VAL_BASE + index. */
static struct option *settings_long_options(const struct settings_spec *spec, char *err,
                                            size_t errlen)
{
    struct option *out = calloc(spec->count + 1, sizeof *out);
    if (out == NULL) {
        settings_fail(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < spec->count; i++) {
        out[i] =
            (struct option){spec->items[i].flag,
                            settings_takes_value(&spec->items[i]) ? required_argument : no_argument,
                            NULL, SETTINGS_VAL_BASE + (int)i};
    }
    return out;
}

/* The index of the --help item, which -h also names; -1 when none. */
static int settings_help_index(const struct settings_spec *spec)
{
    for (size_t i = 0; i < spec->count; i++) {
        if (spec->items[i].kind == SETTINGS_HELP)
            return (int)i;
    }
    return -1;
}

/* Turn one getopt_long result into an item index, or a message for a bad
 * flag. */
static int settings_getopt_index(const struct settings_spec *spec, int c, char **argv, char *err,
                                 size_t errlen)
{
    int top = SETTINGS_VAL_BASE + (int)spec->count;
    if (c == 'h')
        return settings_help_index(spec);
    if (c >= SETTINGS_VAL_BASE && c < top)
        return c - SETTINGS_VAL_BASE;
    if (c == ':') {
        if (optopt >= SETTINGS_VAL_BASE && optopt < top)
            settings_fail(err, errlen, "option --%s needs a value",
                          spec->items[optopt - SETTINGS_VAL_BASE].flag);
        else
            settings_fail(err, errlen, "option '%s' needs a value", argv[optind - 1]);
        return -1;
    }
    if (optopt != 0 && optopt < SETTINGS_VAL_BASE) {
        settings_fail(err, errlen, "unknown option '-%c'", optopt);
    } else {
        /* An unknown or ambiguous long option; drop any "=value". */
        const char *arg = argv[optind - 1];
        const char *eq = strchr(arg, '=');
        int n = eq != NULL ? (int)(eq - arg) : (int)strlen(arg);
        if (optopt >= SETTINGS_VAL_BASE)
            settings_fail(err, errlen, "option '%.*s' takes no value", n, arg);
        else
            settings_fail(err, errlen, "unknown or ambiguous option '%.*s'", n, arg);
    }
    return -1;
}

/* '+': stop at the first operand rather than permuting argv; ':': report
 * a missing value apart from an unknown option. -h only when the table
 * has a --help. */
static const char *settings_shortopts(const struct settings_spec *spec)
{
    return settings_help_index(spec) >= 0 ? "+:h" : "+:";
}

int settings_apply_flags(const struct settings_spec *spec, void *cfg, int argc, char **argv,
                         char *err, size_t errlen)
{
    struct option *longopts = settings_long_options(spec, err, errlen);
    if (longopts == NULL)
        return -1;
    const char *shortopts = settings_shortopts(spec);
    int saved_opterr = opterr;
    opterr = 0;
    int rc = -1;
    /* A list's first flag replaces what the file and defaults gave it;
     * later flags add to it. */
    bool *replaced = calloc(spec->count, sizeof *replaced);
    if (replaced == NULL) {
        settings_fail(err, errlen, "out of memory");
        goto out;
    }
    optind = 0; /* glibc: a full reset, as a process may parse more than once */
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c == -1)
            break;
        int i = settings_getopt_index(spec, c, argv, err, errlen);
        if (i < 0)
            goto out;
        const struct settings_item *it = &spec->items[i];
        if (it->kind == SETTINGS_CONFIG || it->kind == SETTINGS_HELP ||
            it->kind == SETTINGS_VERSION)
            continue;
        if (it->kind == SETTINGS_LIST && !replaced[i]) {
            settings_clear_list(it, cfg);
            replaced[i] = true;
        }
        char name[64];
        snprintf(name, sizeof name, "--%s", it->flag);
        if (settings_set(it, cfg, optarg, name, err, errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    free(replaced);
    free(longopts);
    opterr = saved_opterr;
    optind = 0;
    return rc;
}

/* The first look at the command line: every flag must be known and have
 * its value, and nothing may stand after them, before a file is opened. */
struct settings_scan {
    bool help;
    bool version;
    const char *config_file; /* in argv; the last --config wins */
    const struct settings_item *config_item;
};

static int settings_scan_flags(const struct settings_spec *spec, int argc, char **argv,
                               struct settings_scan *out, char *err, size_t errlen)
{
    struct option *longopts = settings_long_options(spec, err, errlen);
    if (longopts == NULL)
        return -1;
    const char *shortopts = settings_shortopts(spec);
    int saved_opterr = opterr;
    opterr = 0;
    int rc = -1;
    bool *seen = calloc(spec->count, sizeof *seen);
    if (seen == NULL) {
        settings_fail(err, errlen, "out of memory");
        goto out;
    }
    optind = 0;
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c == -1)
            break;
        int i = settings_getopt_index(spec, c, argv, err, errlen);
        if (i < 0)
            goto out;
        const struct settings_item *it = &spec->items[i];
        /* --help and --version answer at once, as a daemon's operator
         * asking either wants that answer rather than a complaint about
         * the rest of the line. */
        if (it->kind == SETTINGS_HELP || it->kind == SETTINGS_VERSION) {
            out->help = it->kind == SETTINGS_HELP;
            out->version = it->kind == SETTINGS_VERSION;
            rc = 0;
            goto out;
        }
        if (it->kind == SETTINGS_CONFIG) {
            out->config_file = optarg;
            out->config_item = it;
        }
        seen[i] = true;
    }
    if (optind < argc) {
        /* The example is the table's first setting, as --help lists it. */
        const struct settings_item *first = NULL;
        for (size_t i = 0; i < spec->count && first == NULL; i++) {
            if (spec->items[i].key != NULL)
                first = &spec->items[i];
        }
        if (first != NULL)
            settings_fail(err, errlen,
                          "unexpected argument '%s' (settings are flags, e.g. --%s %s)",
                          argv[optind], first->flag, first->metavar);
        else
            settings_fail(err, errlen, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    for (size_t i = 0; i < spec->count; i++) {
        const char *needs = spec->items[i].needs;
        if (!seen[i] || needs == NULL)
            continue;
        bool found = false;
        for (size_t j = 0; j < spec->count; j++)
            found |= seen[j] && strcmp(spec->items[j].flag, needs) == 0;
        if (!found) {
            settings_fail(err, errlen, "--%s only applies with --%s", spec->items[i].flag, needs);
            goto out;
        }
    }
    rc = 0;
out:
    free(seen);
    free(longopts);
    opterr = saved_opterr;
    optind = 0;
    return rc;
}

int settings_parse(const struct settings_spec *spec, void *cfg, int argc, char **argv, char *err,
                   size_t errlen)
{
    memset(cfg, 0, spec->size);
    struct settings_scan scan = {0};
    if (settings_scan_flags(spec, argc, argv, &scan, err, errlen) < 0)
        return -1;
    if (scan.help) {
        spec->usage(stdout);
        return 1;
    }
    if (scan.version) {
        /* A table with --version names its program; the fallback keeps a
         * table that forgot from printing "(null)". */
        buildinfo_print(stdout, spec->program != NULL ? spec->program : "mdevmig");
        return 1;
    }
    if (settings_defaults(spec, cfg, err, errlen) < 0)
        goto fail;
    if (scan.config_file != NULL) {
        if (scan.config_file[0] == '\0') {
            settings_fail(err, errlen, "--%s needs a file name", scan.config_item->flag);
            goto fail;
        }
        /* Stored before reading: the program reports which file it ran
         * with, and messages point into this copy. */
        char **field = settings_field(cfg, scan.config_item->offset);
        if (settings_set_string(field, scan.config_file, scan.config_item->flag, err, errlen) < 0)
            goto fail;
        if (settings_read_file(spec, cfg, *field, err, errlen) < 0)
            goto fail;
    }
    if (settings_apply_flags(spec, cfg, argc, argv, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    settings_free(spec, cfg);
    return -1;
}

/* Wrap text at 76 columns under a 6-space indent. */
static void settings_print_wrapped(FILE *out, const char *p)
{
    while (*p != '\0') {
        size_t n = strlen(p);
        if (n > 70) {
            n = 70;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0)
                n = strcspn(p, " ");
        }
        fprintf(out, "      %.*s\n", (int)n, p);
        p += n;
        while (*p == ' ')
            p++;
    }
}

void settings_usage(const struct settings_spec *spec, FILE *out)
{
    fputs("Settings (flag, then config key = default):\n", out);
    for (size_t i = 0; i < spec->count; i++) {
        const struct settings_item *it = &spec->items[i];
        if (it->key == NULL)
            continue;
        const char *shown = it->shown != NULL ? it->shown : it->def != NULL ? it->def : "(none)";
        fprintf(out, "  --%s %s\n      %s = %s\n", it->flag, it->metavar, it->key, shown);
        settings_print_wrapped(out, it->help);
    }
    fputs("\nCommand-line only:\n", out);
    for (size_t i = 0; i < spec->count; i++) {
        const struct settings_item *it = &spec->items[i];
        if (it->key != NULL)
            continue;
        char left[40];
        bool value = settings_takes_value(it);
        snprintf(left, sizeof left, "--%s%s%s%s", it->flag, value ? " " : "",
                 value ? it->metavar : "", it->kind == SETTINGS_HELP ? ", -h" : "");
        fprintf(out, "  %-20s %s\n", left, it->help);
    }
}

void settings_free(const struct settings_spec *spec, void *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < spec->count; i++) {
        const struct settings_item *it = &spec->items[i];
        switch (it->kind) {
        case SETTINGS_STRING:
        case SETTINGS_LISTEN:
        case SETTINGS_ENUM:
        case SETTINGS_CONFIG: {
            char **field = settings_field(cfg, it->offset);
            free(*field);
            *field = NULL;
            break;
        }
        case SETTINGS_LIST:
            settings_clear_list(it, cfg);
            break;
        case SETTINGS_SECONDS:
        case SETTINGS_INT:
        case SETTINGS_SWITCH:
        case SETTINGS_HELP:
        case SETTINGS_VERSION:
            break;
        }
    }
    memset(cfg, 0, spec->size);
}
