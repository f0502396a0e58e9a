/*
 * config — turns the collector's command line and its INI file into one
 * validated struct collector_config, before any thread or socket exists.
 * One table below names every setting once: its INI key, its flag, its
 * default and its help; the file reader, getopt_long and --help all read
 * it, so a key cannot exist in one and be missing from another. Order of
 * precedence: built-in defaults, then the --config file, then flags.
 */
#include "config.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_SECTION      "collector"
#define CONFIG_INTERVAL_MAX 86400.0
#define CONFIG_THREADS_MAX  64

/* Settings with an INI key come first so they index set_on_line[]. */
enum config_id {
    CONFIG_HOST,
    CONFIG_SYSFS_ROOT,
    CONFIG_LIBVIRT_URI,
    CONFIG_LISTEN,
    CONFIG_ADVERTISE_URL,
    CONFIG_TOKEN_FILE,
    CONFIG_REGISTRY,
    CONFIG_AUDIT_DB,
    CONFIG_SCAN_INTERVAL,
    CONFIG_HEARTBEAT_INTERVAL,
    CONFIG_THREADS,
    CONFIG_LOG_LEVEL,
    CONFIG_KEY_COUNT,
    /* flags only */
    CONFIG_FILE = CONFIG_KEY_COUNT,
    CONFIG_SCAN_ONCE,
    CONFIG_JSON,
    CONFIG_HELP,
    CONFIG_ID_COUNT
};

struct config_option {
    const char *key;          /* INI key in [collector]; NULL: flag only */
    const char *flag;         /* long flag, without the dashes */
    const char *metavar;      /* NULL: the flag takes no value */
    const char *default_text; /* as --help shows it */
    const char *help;
};

/* Indexed by enum config_id. The defaults shown here are the ones
 * config_defaults() sets; the unit test checks the example file agrees. */
static const struct config_option config_options[CONFIG_ID_COUNT] = {
    [CONFIG_HOST] = {"host", "host", "NAME", "the system host name (gethostname)",
                     "This host's name in the registry and in probe replies."},
    [CONFIG_SYSFS_ROOT] = {"sysfs_root", "sysfs-root", "DIR", "/sys",
                           "Where sysfs is mounted; tests point it at an mdevsim mount."},
    [CONFIG_LIBVIRT_URI] = {"libvirt_uri", "libvirt-uri", "URI", "qemu:///system",
                            "libvirt connection used to map VMs to mdevs; \"none\" disables it."},
    [CONFIG_LISTEN] = {"listen", "listen", "ADDR:PORT", "127.0.0.1:7301",
                       "HTTP API address: an IP literal and a port 1-65535; IPv6 as "
                       "[ADDR]:PORT."},
    [CONFIG_ADVERTISE_URL] = {"advertise_url", "advertise-url", "URL", "http://<listen>",
                              "URL schedulers use to reach this collector, published with the "
                              "inventory. When listen is a wildcard (0.0.0.0 or [::]) the default "
                              "is http://<host>:<port> instead."},
    [CONFIG_TOKEN_FILE] = {"token_file", "token-file", "FILE", "/etc/mdevmig/token",
                           "File holding the cluster bearer token (mode 0600)."},
    [CONFIG_REGISTRY] = {"registry", "registry", "TARGET", "(none: nothing is published)",
                         "Where to publish the inventory: sqlite:PATH, or an http:// or "
                         "https:// ingest URL (not supported by this build's publisher yet). "
                         "Repeat the flag or key, or give a comma-separated list; at most 8. "
                         "Any --registry flag replaces the file's list."},
    [CONFIG_AUDIT_DB] = {"audit_db", "audit-db", "FILE", "/var/lib/mdevmig/audit.db",
                         "SQLite file every answered probe is appended to; \"none\" disables "
                         "the audit."},
    [CONFIG_SCAN_INTERVAL] = {"scan_interval", "scan-interval", "SECONDS", "30",
                              "Seconds between sysfs rescans (fractions allowed, at most 86400)."},
    [CONFIG_HEARTBEAT_INTERVAL] = {"heartbeat_interval", "heartbeat-interval", "SECONDS", "60",
                                   "Seconds between publishes when nothing changed (fractions "
                                   "allowed, at most 86400)."},
    [CONFIG_THREADS] = {"threads", "threads", "N", "2", "HTTP worker threads, 1 to 64."},
    [CONFIG_LOG_LEVEL] = {"log_level", "log-level", "LEVEL", "info",
                          "Most verbose messages shown: error, warn, info or debug."},
    [CONFIG_FILE] = {NULL, "config", "FILE", NULL, "Read settings from FILE first (format below)."},
    [CONFIG_SCAN_ONCE] = {NULL, "scan-once", NULL, NULL,
                          "Scan once, print the inventory as a table and exit."},
    [CONFIG_JSON] = {NULL, "json", NULL, NULL,
                     "With --scan-once: print the inventory as JSON instead."},
    [CONFIG_HELP] = {NULL, "help", NULL, NULL, "Print this help and exit."},
};

/* getopt_long hands back val; offset past every short option character. */
#define CONFIG_VAL_BASE 256

/* Where a value came from, for messages: "FILE:LINE" or "--flag". */
struct config_state {
    struct collector_config *cfg;
    const char *file;
    FILE *fp;
    int line;                          /* the line the reader last returned */
    int set_on_line[CONFIG_KEY_COUNT]; /* 0: key not yet in the file */
    bool stop;                         /* tell inih to read no further */
    int read_errno;                    /* the file could not be read */
    int err_line;                      /* 0: no error from the handler or reader */
    char err[512];
    bool advertise_set;
    bool registries_from_flags;
};

static void config_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void config_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int config_set_string(char **field, const char *value, const char *name, char *err,
                             size_t errlen)
{
    if (value[0] == '\0') {
        config_fail(err, errlen, "%s must not be empty", name);
        return -1;
    }
    char *copy = strdup(value);
    if (copy == NULL) {
        config_fail(err, errlen, "out of memory");
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

static int config_set_interval(double *field, const char *value, const char *name, char *err,
                               size_t errlen)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 ||
        v > CONFIG_INTERVAL_MAX) {
        config_fail(err, errlen,
                    "%s must be a number of seconds above 0 and at most %.0f, not '%s'", name,
                    CONFIG_INTERVAL_MAX, value);
        return -1;
    }
    *field = v;
    return 0;
}

static int config_set_threads(int *field, const char *value, const char *name, char *err,
                              size_t errlen)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end != '\0' || errno != 0 || v < 1 || v > CONFIG_THREADS_MAX) {
        config_fail(err, errlen, "%s must be a whole number from 1 to %d, not '%s'", name,
                    CONFIG_THREADS_MAX, value);
        return -1;
    }
    *field = (int)v;
    return 0;
}

/* The same shapes http_parse_listen() binds: an IP literal, not a name, so
 * the collector never depends on DNS to start. */
static int config_check_listen(const char *value, const char *name, char *err, size_t errlen)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *port;
    int family;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        size_t n = close == NULL ? 0 : (size_t)(close - value - 1);
        if (close == NULL || close[1] != ':' || n == 0 || n >= sizeof addr) {
            config_fail(err, errlen, "%s must be [IPV6-ADDR]:PORT, not '%s'", name, value);
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
            config_fail(err, errlen, "%s must be ADDR:PORT (IPv6 as [ADDR]:PORT), not '%s'", name,
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
        config_fail(err, errlen, "%s: '%s' is not an %s address (a literal, not a name)", name,
                    addr, family == AF_INET ? "IPv4" : "IPv6");
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long p = port[0] >= '0' && port[0] <= '9' ? strtol(port, &end, 10) : 0;
    if (end == NULL || *end != '\0' || errno != 0 || p < 1 || p > 65535) {
        config_fail(err, errlen, "%s: port must be 1 to 65535, not '%s'", name, port);
        return -1;
    }
    return 0;
}

static bool config_is_http_url(const char *value)
{
    return (strncmp(value, "http://", 7) == 0 && value[7] != '\0') ||
           (strncmp(value, "https://", 8) == 0 && value[8] != '\0');
}

static int config_add_registry(struct collector_config *cfg, const char *target, const char *name,
                               char *err, size_t errlen)
{
    bool sqlite = strncmp(target, "sqlite:", 7) == 0 && target[7] != '\0';
    if (!sqlite && !config_is_http_url(target)) {
        config_fail(err, errlen,
                    "%s: '%s' is not a registry target (sqlite:PATH, http://... or https://...)",
                    name, target);
        return -1;
    }
    if (cfg->registry_count == CONFIG_MAX_REGISTRIES) {
        config_fail(err, errlen, "%s: more than %d registry targets", name, CONFIG_MAX_REGISTRIES);
        return -1;
    }
    char *copy = strdup(target);
    if (copy == NULL) {
        config_fail(err, errlen, "out of memory");
        return -1;
    }
    cfg->registries[cfg->registry_count++] = copy;
    return 0;
}

static void config_clear_registries(struct collector_config *cfg)
{
    for (size_t i = 0; i < cfg->registry_count; i++) {
        free(cfg->registries[i]);
        cfg->registries[i] = NULL;
    }
    cfg->registry_count = 0;
}

/* "a, b,c" adds three targets; an empty element is a typo, not "none". */
static int config_add_registry_list(struct collector_config *cfg, const char *value,
                                    const char *name, char *err, size_t errlen)
{
    char *copy = strdup(value);
    if (copy == NULL) {
        config_fail(err, errlen, "out of memory");
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
            config_fail(err, errlen, "%s: empty registry target in '%s'", name, value);
            rc = -1;
            break;
        }
        if (config_add_registry(cfg, p, name, err, errlen) < 0) {
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

/* Apply one setting. name is how the operator wrote it (the INI key or
 * the --flag) so the message points back at their text. */
static int config_set(struct config_state *st, enum config_id id, const char *value,
                      const char *name, char *err, size_t errlen)
{
    struct collector_config *cfg = st->cfg;
    switch (id) {
    case CONFIG_HOST:
        for (const char *c = value; *c != '\0'; c++) {
            if (*c <= ' ' || *c > '~') {
                config_fail(err, errlen, "%s: '%s' holds a space or a non-ASCII character", name,
                            value);
                return -1;
            }
        }
        return config_set_string(&cfg->host, value, name, err, errlen);
    case CONFIG_SYSFS_ROOT:
        return config_set_string(&cfg->sysfs_root, value, name, err, errlen);
    case CONFIG_LIBVIRT_URI:
        return config_set_string(&cfg->libvirt_uri, value, name, err, errlen);
    case CONFIG_LISTEN:
        if (config_check_listen(value, name, err, errlen) < 0)
            return -1;
        return config_set_string(&cfg->listen, value, name, err, errlen);
    case CONFIG_ADVERTISE_URL:
        if (!config_is_http_url(value)) {
            config_fail(err, errlen, "%s must be an http:// or https:// URL, not '%s'", name,
                        value);
            return -1;
        }
        st->advertise_set = true;
        return config_set_string(&cfg->advertise_url, value, name, err, errlen);
    case CONFIG_TOKEN_FILE:
        return config_set_string(&cfg->token_file, value, name, err, errlen);
    case CONFIG_REGISTRY:
        return config_add_registry_list(cfg, value, name, err, errlen);
    case CONFIG_AUDIT_DB:
        return config_set_string(&cfg->audit_db, value, name, err, errlen);
    case CONFIG_SCAN_INTERVAL:
        return config_set_interval(&cfg->scan_interval, value, name, err, errlen);
    case CONFIG_HEARTBEAT_INTERVAL:
        return config_set_interval(&cfg->heartbeat_interval, value, name, err, errlen);
    case CONFIG_THREADS:
        return config_set_threads(&cfg->threads, value, name, err, errlen);
    case CONFIG_LOG_LEVEL: {
        enum log_level level;
        if (!log_level_parse(value, &level)) {
            config_fail(err, errlen, "%s must be error, warn, info or debug, not '%s'", name,
                        value);
            return -1;
        }
        return config_set_string(&cfg->log_level, value, name, err, errlen);
    }
    default:
        config_fail(err, errlen, "%s cannot be set here", name);
        return -1;
    }
}

static int config_defaults(struct collector_config *cfg, char *err, size_t errlen)
{
    /* Without a host name the collector can still run if host is set, so
     * a failure here is reported only when nothing else sets it. */
    char host[256];
    bool have_host = gethostname(host, sizeof host) == 0;
    host[sizeof host - 1] = '\0';
    cfg->sysfs_root = strdup("/sys");
    cfg->libvirt_uri = strdup("qemu:///system");
    cfg->listen = strdup("127.0.0.1:7301");
    cfg->token_file = strdup("/etc/mdevmig/token");
    cfg->audit_db = strdup("/var/lib/mdevmig/audit.db");
    cfg->log_level = strdup("info");
    cfg->host = have_host ? strdup(host) : NULL;
    cfg->scan_interval = 30;
    cfg->heartbeat_interval = 60;
    cfg->threads = 2;
    if (cfg->sysfs_root == NULL || cfg->libvirt_uri == NULL || cfg->listen == NULL ||
        cfg->token_file == NULL || cfg->audit_db == NULL || cfg->log_level == NULL ||
        (have_host && cfg->host == NULL)) {
        config_fail(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* A wildcard address is no use to a scheduler on another host, so then
 * the host name stands in for it. */
static int config_default_advertise(struct collector_config *cfg, char *err, size_t errlen)
{
    const char *colon = strrchr(cfg->listen, ':');
    bool wildcard =
        strncmp(cfg->listen, "0.0.0.0:", 8) == 0 || strncmp(cfg->listen, "[::]:", 5) == 0;
    int n = wildcard ? asprintf(&cfg->advertise_url, "http://%s%s", cfg->host, colon)
                     : asprintf(&cfg->advertise_url, "http://%s", cfg->listen);
    if (n < 0) {
        cfg->advertise_url = NULL;
        config_fail(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* inih's reader hook: counting lines here is how the handler learns which
 * line it is on (the packaged inih is built without INI_HANDLER_LINENO),
 * and a line too long for inih's buffer is refused instead of being split
 * into two lines, the tail of which inih would parse as a line of its own. */
static char *config_reader(char *buf, int size, void *stream)
{
    struct config_state *st = stream;
    if (st->stop)
        return NULL;
    if (fgets(buf, size, st->fp) == NULL) {
        if (ferror(st->fp))
            st->read_errno = errno != 0 ? errno : EIO;
        return NULL;
    }
    st->line++;
    size_t len = strlen(buf);
    if (len > 0 && buf[len - 1] != '\n') {
        int next = getc(st->fp);
        if (next != EOF && next != '\n') {
            st->err_line = st->line;
            snprintf(st->err, sizeof st->err, "%s:%d: line longer than %d characters", st->file,
                     st->line, size - 1);
            st->stop = true;
            return NULL;
        }
    }
    return buf;
}

static int config_handler(void *user, const char *section, const char *name, const char *value)
{
    struct config_state *st = user;
    char msg[400];
    if (strcmp(section, CONFIG_SECTION) != 0) {
        if (section[0] == '\0')
            snprintf(msg, sizeof msg, "key '%s' is outside a section (put it under [%s])", name,
                     CONFIG_SECTION);
        else
            snprintf(msg, sizeof msg, "unknown section [%s] (only [%s] is read)", section,
                     CONFIG_SECTION);
        goto fail;
    }
    for (int id = 0; id < CONFIG_KEY_COUNT; id++) {
        if (strcmp(name, config_options[id].key) != 0)
            continue;
        /* A scalar given twice is almost always an edit gone wrong; only
         * registry is a list. */
        if (id != CONFIG_REGISTRY && st->set_on_line[id] != 0) {
            snprintf(msg, sizeof msg, "'%s' is already set on line %d", name, st->set_on_line[id]);
            goto fail;
        }
        st->set_on_line[id] = st->line;
        if (config_set(st, (enum config_id)id, value, name, msg, sizeof msg) < 0)
            goto fail;
        return 1;
    }
    snprintf(msg, sizeof msg, "unknown key '%s' in [%s]", name, CONFIG_SECTION);
    /* The flags use dashes; a key written the same way gets a hint. */
    for (int id = 0; id < CONFIG_KEY_COUNT; id++) {
        if (strcmp(name, config_options[id].flag) == 0 && strchr(name, '-') != NULL) {
            size_t n = strlen(msg);
            snprintf(msg + n, sizeof msg - n, " (keys use underscores: %s)",
                     config_options[id].key);
        }
    }
fail:
    st->err_line = st->line;
    snprintf(st->err, sizeof st->err, "%s:%d: %s", st->file, st->line, msg);
    st->stop = true;
    return 0;
}

static int config_read_file(struct config_state *st, const char *path, char *err, size_t errlen)
{
    st->file = path;
    st->fp = fopen(path, "r");
    if (st->fp == NULL) {
        config_fail(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = ini_parse_stream(config_reader, st, config_handler, st);
    fclose(st->fp);
    st->fp = NULL;
    /* inih reports the first bad line; a syntax error before the line our
     * handler refused is the one to show. */
    if (rc > 0 && (st->err_line == 0 || rc < st->err_line)) {
        config_fail(err, errlen, "%s:%d: expected 'key = value', '[%s]' or a comment", path, rc,
                    CONFIG_SECTION);
        return -1;
    }
    if (st->err_line != 0) {
        config_fail(err, errlen, "%s", st->err);
        return -1;
    }
    if (st->read_errno != 0) {
        config_fail(err, errlen, "cannot read config file %s: %s", path, strerror(st->read_errno));
        return -1;
    }
    if (rc != 0) {
        config_fail(err, errlen, "cannot parse config file %s: out of memory", path);
        return -1;
    }
    return 0;
}

static void config_long_options(struct option *out)
{
    for (int id = 0; id < CONFIG_ID_COUNT; id++) {
        out[id] =
            (struct option){config_options[id].flag,
                            config_options[id].metavar != NULL ? required_argument : no_argument,
                            NULL, CONFIG_VAL_BASE + id};
    }
    out[CONFIG_ID_COUNT] = (struct option){NULL, 0, NULL, 0};
}

/* Turn one getopt_long result into an id, or a message for a bad flag. */
static int config_getopt_id(int c, char **argv, char *err, size_t errlen)
{
    if (c == 'h')
        return CONFIG_HELP;
    if (c >= CONFIG_VAL_BASE && c < CONFIG_VAL_BASE + CONFIG_ID_COUNT)
        return c - CONFIG_VAL_BASE;
    if (c == ':') {
        if (optopt >= CONFIG_VAL_BASE && optopt < CONFIG_VAL_BASE + CONFIG_ID_COUNT)
            config_fail(err, errlen, "option --%s needs a value",
                        config_options[optopt - CONFIG_VAL_BASE].flag);
        else
            config_fail(err, errlen, "option '%s' needs a value", argv[optind - 1]);
        return -1;
    }
    if (optopt != 0 && optopt < CONFIG_VAL_BASE) {
        config_fail(err, errlen, "unknown option '-%c'", optopt);
    } else {
        /* An unknown or ambiguous long option; drop any "=value". */
        const char *arg = argv[optind - 1];
        const char *eq = strchr(arg, '=');
        int n = eq != NULL ? (int)(eq - arg) : (int)strlen(arg);
        if (optopt >= CONFIG_VAL_BASE)
            config_fail(err, errlen, "option '%.*s' takes no value", n, arg);
        else
            config_fail(err, errlen, "unknown or ambiguous option '%.*s'", n, arg);
    }
    return -1;
}

int config_parse(struct collector_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    struct config_state st;
    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    struct option longopts[CONFIG_ID_COUNT + 1];
    config_long_options(longopts);
    /* '+': stop at the first operand rather than permuting argv; ':':
     * report a missing value apart from an unknown option. */
    const char *shortopts = "+:h";
    int saved_opterr = opterr;
    opterr = 0;
    int rc = -1;

    /* Pass 1: find --config (and --help) and reject bad flags before
     * anything is read. */
    const char *file = NULL;
    bool scan_once = false, json = false;
    optind = 0; /* glibc: a full reset, as config_parse may run more than once */
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c == -1)
            break;
        int id = config_getopt_id(c, argv, err, errlen);
        if (id < 0)
            goto out;
        if (id == CONFIG_HELP) {
            config_usage(stdout);
            rc = 1;
            goto out;
        }
        if (id == CONFIG_FILE)
            file = optarg;
        scan_once |= id == CONFIG_SCAN_ONCE;
        json |= id == CONFIG_JSON;
    }
    if (optind < argc) {
        config_fail(err, errlen, "unexpected argument '%s' (settings are flags, e.g. --host NAME)",
                    argv[optind]);
        goto out;
    }
    if (json && !scan_once) {
        config_fail(err, errlen, "--json only applies with --scan-once");
        goto out;
    }
    cfg->scan_once = scan_once;
    cfg->json = json;

    if (config_defaults(cfg, err, errlen) < 0)
        goto out;
    if (file != NULL) {
        if (file[0] == '\0') {
            config_fail(err, errlen, "--config needs a file name");
            goto out;
        }
        cfg->config_file = strdup(file);
        if (cfg->config_file == NULL) {
            config_fail(err, errlen, "out of memory");
            goto out;
        }
        if (config_read_file(&st, cfg->config_file, err, errlen) < 0)
            goto out;
    }

    /* Pass 2: flags, whatever their place on the line, win over the file. */
    optind = 0;
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c == -1)
            break;
        int id = config_getopt_id(c, argv, err, errlen);
        if (id < 0)
            goto out;
        if (id >= CONFIG_KEY_COUNT)
            continue;
        if (id == CONFIG_REGISTRY && !st.registries_from_flags) {
            config_clear_registries(cfg);
            st.registries_from_flags = true;
        }
        char name[64];
        snprintf(name, sizeof name, "--%s", config_options[id].flag);
        if (config_set(&st, (enum config_id)id, optarg, name, err, errlen) < 0)
            goto out;
    }
    if (cfg->host == NULL) {
        config_fail(err, errlen, "cannot read this system's host name; set host");
        goto out;
    }
    if (!st.advertise_set && config_default_advertise(cfg, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    opterr = saved_opterr;
    optind = 0;
    if (rc != 0)
        config_free(cfg);
    return rc;
}

void config_usage(FILE *out)
{
    fputs("Usage: mdevmig-collector [--config FILE] [OPTION]...\n"
          "\n"
          "Inventories this host's mdev (vGPU) devices and their migration versions,\n"
          "answers write-probes over HTTP, and publishes the inventory to the registry.\n"
          "\n"
          "Every setting is a key in the [collector] section of the config file and a\n"
          "flag of the same name with dashes for underscores; a flag wins over the\n"
          "file, wherever it stands on the command line.\n"
          "\n"
          "Settings (flag, then config key = default):\n",
          out);
    for (int id = 0; id < CONFIG_KEY_COUNT; id++) {
        const struct config_option *o = &config_options[id];
        fprintf(out, "  --%s %s\n      %s = %s\n", o->flag, o->metavar, o->key, o->default_text);
        /* Wrap the help at 76 columns under a 6-space indent. */
        const char *p = o->help;
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
    fputs("\nCommand-line only:\n", out);
    for (int id = CONFIG_KEY_COUNT; id < CONFIG_ID_COUNT; id++) {
        const struct config_option *o = &config_options[id];
        char left[40];
        snprintf(left, sizeof left, "--%s%s%s%s", o->flag, o->metavar != NULL ? " " : "",
                 o->metavar != NULL ? o->metavar : "", id == CONFIG_HELP ? ", -h" : "");
        fprintf(out, "  %-20s %s\n", left, o->help);
    }
    fputs("\n"
          "Config file format (INI; collector.conf.example is installed with mdevmig):\n"
          "  [collector]\n"
          "  ; a comment ('#' too, at the start of a line; ' ;' also ends a line)\n"
          "  host = gpu-a\n"
          "  listen = 0.0.0.0:7301\n"
          "  registry = sqlite:/var/lib/mdevmig/registry.db\n"
          "Only the [collector] section is read; an unknown section or key, a key\n"
          "given twice (registry aside), or a bad value is an error naming FILE:LINE.\n"
          "A line may hold about 200 characters; give long registry lists one per line.\n"
          "\n"
          "HTTP API (JSON; a bearer token on all but health):\n"
          "  GET  /v1/health                             liveness, host, generation\n"
          "  GET  /v1/inventory                          the current inventory\n"
          "  GET  /v1/devices/UUID/migration_version     a live read of one device\n"
          "  POST /v1/probe {\"type\", \"version\", \"device\"?, \"parent\"?}   a write-probe\n"
          "  GET  /metrics                               Prometheus text\n"
          "\n"
          "SIGNALS\n"
          "  SIGTERM, SIGINT  stop cleanly      SIGHUP  rescan now\n"
          "\n"
          "EXIT STATUS\n"
          "  0  stopped cleanly on SIGTERM/SIGINT, or --help or --scan-once succeeded\n"
          "  1  runtime failure (cannot listen, read the token, open the audit database,\n"
          "     scan in --scan-once, ...)\n"
          "  2  bad usage or configuration\n",
          out);
}

void config_free(struct collector_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->config_file);
    free(cfg->host);
    free(cfg->sysfs_root);
    free(cfg->libvirt_uri);
    free(cfg->listen);
    free(cfg->advertise_url);
    free(cfg->token_file);
    config_clear_registries(cfg);
    free(cfg->audit_db);
    free(cfg->log_level);
    memset(cfg, 0, sizeof *cfg);
}
