/*
 * config — turns the collector's command line and its INI file into one
 * validated struct collector_config, before any thread or socket exists.
 * The table below names every setting once: its INI key, its flag, its
 * default and its help; common/settings reads the file, the flags and
 * prints --help from it, so a key cannot exist in one and be missing from
 * another. What is left here: the rules only the collector has (a host
 * name, registry targets) and the defaults that depend on other settings.
 * Order of precedence: built-in defaults, then the --config file, then
 * flags.
 */
#include "config.h"

#include "http_url.h"
#include "placement_settings.h"
#include "settings.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_INTERVAL_MAX      86400.0
#define CONFIG_THREADS_MAX       64
#define CONFIG_ATTRIBUTE_FDS_MAX 1048576 /* the kernel's default fs.nr_open */

#define CONFIG_FIELD(member, ctype) SETTINGS_FIELD(struct collector_config, member, ctype)

/* The names log_level_parse() takes, in the order --help gives them. */
static const char *const config_log_levels[] = {"error", "warn", "info", "debug", NULL};

/* The sched takes inventories only for names that follow the one rule. */
static int config_check_host(const char *value, const char *name, char *err, size_t errlen)
{
    char why[96];
    if (!wire_host_name_valid(value, why, sizeof why)) {
        snprintf(err, errlen, "%s: '%s' %s; it must be " WIRE_HOST_RULE, name, value, why);
        return -1;
    }
    return 0;
}

/* One element of the registry list: a file, or the sched's base URL. */
static int config_check_registry(const char *target, const char *name, char *err, size_t errlen)
{
    char why[200] = "sqlite: needs the registry file's path after it";
    bool sqlite = strncmp(target, "sqlite:", 7) == 0;
    if ((sqlite && target[7] != '\0') ||
        (!sqlite && http_url_check_base(target, why, sizeof why) == 0))
        return 0;
    snprintf(err, errlen,
             "%s: '%s' is not a registry target (sqlite:PATH, http://... or https://...): %s", name,
             target, why);
    return -1;
}

/* create_providers: a truth value the settings engine takes as a choice. */
static const char *const config_booleans[] = {"false", "true", NULL};

/* Settings with an INI key come first, in --help's order. The defaults
 * shown are the ones applied (host and advertise_url are worked out after
 * parsing); the unit test checks the example file agrees. */
static const struct settings_item config_items[] = {
    {.key = "host",
     .flag = "host",
     .metavar = "NAME",
     .kind = SETTINGS_STRING,
     .offset = CONFIG_FIELD(host, char *),
     .shown = "the system host name (gethostname)",
     .check = config_check_host,
     .help = "This host's name in the registry and in probe replies."},
    {.key = "sysfs_root",
     .flag = "sysfs-root",
     .metavar = "DIR",
     .kind = SETTINGS_STRING,
     .offset = CONFIG_FIELD(sysfs_root, char *),
     .def = "/sys",
     .help = "Where sysfs is mounted; tests point it at an mdevsim mount."},
    {.key = "libvirt_uri",
     .flag = "libvirt-uri",
     .metavar = "URI",
     .kind = SETTINGS_STRING,
     .offset = CONFIG_FIELD(libvirt_uri, char *),
     .def = "qemu:///system",
     .help = "libvirt connection used to map VMs to mdevs; \"none\" disables it."},
    {.key = "listen",
     .flag = "listen",
     .metavar = "ADDR:PORT",
     .kind = SETTINGS_LISTEN,
     .offset = CONFIG_FIELD(listen, char *),
     .def = "127.0.0.1:7301",
     .help = "HTTP API address: an IP literal and a port 1-65535; IPv6 as "
             "[ADDR]:PORT."},
    {.key = "advertise_url",
     .flag = "advertise-url",
     .metavar = "URL",
     .kind = SETTINGS_STRING,
     .offset = CONFIG_FIELD(advertise_url, char *),
     .shown = "http://<listen> (https:// with tls_cert_file)",
     .check = http_url_setting_check,
     .help = "URL schedulers use to reach this collector, published with the "
             "inventory. When listen is a wildcard (0.0.0.0 or [::]) the default "
             "is http(s)://<host>:<port> instead."},
    {.key = "token_file",
     .flag = "token-file",
     .metavar = "FILE",
     .kind = SETTINGS_STRING,
     .offset = CONFIG_FIELD(token_file, char *),
     .def = "/etc/mdevmig/token",
     .help = "File holding the cluster bearer token (0600, or 0640 for a group that reads it)."},
    {.key = "registry",
     .flag = "registry",
     .metavar = "TARGET",
     .kind = SETTINGS_LIST,
     .offset = CONFIG_FIELD(registries, char **),
     .count_offset = CONFIG_FIELD(registry_count, size_t),
     .max_items = CONFIG_MAX_REGISTRIES,
     .noun = "registry target",
     .check = config_check_registry,
     .shown = "(none: nothing is published)",
     .help = "Where to publish the inventory: sqlite:PATH (a registry file), or "
             "the http:// or https:// base URL of mdevmig-sched (it gets POST "
             "URL/v1/hosts/HOST/inventory with the cluster token). "
             "Repeat the flag or key, or give a comma-separated list; at most 8. "
             "Any --registry flag replaces the file's list."},
    {.key = "audit_db",
     .flag = "audit-db",
     .metavar = "FILE",
     .kind = SETTINGS_STRING,
     .offset = CONFIG_FIELD(audit_db, char *),
     .def = "/var/lib/mdevmig/audit.db",
     .help = "SQLite file every answered probe is appended to; \"none\" disables "
             "the audit."},
    {.key = "scan_interval",
     .flag = "scan-interval",
     .metavar = "SECONDS",
     .kind = SETTINGS_SECONDS,
     .offset = CONFIG_FIELD(scan_interval, double),
     .def = "30",
     .max = CONFIG_INTERVAL_MAX,
     .help = "Seconds between sysfs rescans (fractions allowed, at most 86400)."},
    {.key = "heartbeat_interval",
     .flag = "heartbeat-interval",
     .metavar = "SECONDS",
     .kind = SETTINGS_SECONDS,
     .offset = CONFIG_FIELD(heartbeat_interval, double),
     .def = "60",
     .max = CONFIG_INTERVAL_MAX,
     .help = "Seconds between publishes when nothing changed (fractions "
             "allowed, at most 86400)."},
    {.key = "threads",
     .flag = "threads",
     .metavar = "N",
     .kind = SETTINGS_INT,
     .offset = CONFIG_FIELD(threads, int),
     .def = "4",
     .min = 1,
     .max = CONFIG_THREADS_MAX,
     .help = "HTTP worker threads, 1 to 64."},
    {.key = "attribute_fds",
     .flag = "attribute-fds",
     .metavar = "N",
     .kind = SETTINGS_INT,
     .offset = CONFIG_FIELD(attribute_fds, int),
     .def = "4096",
     .min = 0,
     .max = CONFIG_ATTRIBUTE_FDS_MAX,
     .help = "migration_version attributes kept open between live reads (the source "
             "side of an evacuation reads every device's in one request), 0 to "
             "1048576. Each read is still the driver's answer at that moment (a read at "
             "offset 0 runs the attribute's show() again); only the open and close "
             "around it are saved. Each costs a file descriptor and, on sysfs, a page of "
             "kernel buffer. 0 opens and closes every read. At start the soft open-file "
             "limit (RLIMIT_NOFILE) is raised to the hard one, and at most half of it is "
             "used for these."},
    {.key = "log_level",
     .flag = "log-level",
     .metavar = "LEVEL",
     .kind = SETTINGS_ENUM,
     .offset = CONFIG_FIELD(log_level, char *),
     .def = "info",
     .choices = config_log_levels,
     .help = "Most verbose messages shown: error, warn, info or debug."},
    PLACEMENT_SETTINGS_ITEMS(
        struct collector_config, "(none: no traits are published)",
        "When set, each parent device's resource provider gets CUSTOM_MDEV_TYPE_<TYPE> and "
        "CUSTOM_MDEVMIG_<DIGEST> for every type that can migrate, from a thread of its own (the "
        "registry and probes never wait for Placement)."),
    {.key = "create_providers",
     .flag = "create-providers",
     .metavar = "BOOL",
     .kind = SETTINGS_ENUM,
     .offset = CONFIG_FIELD(create_providers_value, char *),
     .def = "false",
     .choices = config_booleans,
     .help = "true: create the host's root provider (named as host) and one child "
             "provider per parent device, named as Nova names pGPU providers "
             "(<host>_pci_0000_3b_00_0), when Placement lacks them. false: use the "
             "providers Nova made (a parent without its own provider uses the root)."},
    TLS_SETTINGS_ITEMS(struct collector_config),
    {.flag = "config",
     .metavar = "FILE",
     .kind = SETTINGS_CONFIG,
     .offset = CONFIG_FIELD(config_file, char *),
     .help = "Read settings from FILE first (format below)."},
    {.flag = "scan-once",
     .kind = SETTINGS_SWITCH,
     .offset = CONFIG_FIELD(scan_once, bool),
     .help = "Scan once, print the inventory as a table and exit."},
    {.flag = "json",
     .kind = SETTINGS_SWITCH,
     .offset = CONFIG_FIELD(json, bool),
     .needs = "scan-once",
     .help = "With --scan-once: print the inventory as JSON instead."},
    {.flag = "help", .kind = SETTINGS_HELP, .help = "Print this help and exit."},
    {.flag = "version",
     .kind = SETTINGS_VERSION,
     .help = "Print the version and the git commit of this build and exit."},
};

static const struct settings_spec config_spec = {
    .section = "collector",
    .program = "mdevmig-collector",
    .items = config_items,
    .count = sizeof config_items / sizeof config_items[0],
    .size = sizeof(struct collector_config),
    .usage = config_usage,
};

/* Asked only when nothing set host, so a host whose name cannot be read
 * still runs with host set. */
static int config_default_host(struct collector_config *cfg, char *err, size_t errlen)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0) {
        snprintf(err, errlen, "cannot read this system's host name; set host");
        return -1;
    }
    host[sizeof host - 1] = '\0';
    cfg->host = strdup(host);
    if (cfg->host == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* A wildcard address is no use to a scheduler on another host, so then
 * the host name stands in for it. */
static int config_default_advertise(struct collector_config *cfg, char *err, size_t errlen)
{
    const char *colon = strrchr(cfg->listen, ':');
    const char *scheme = cfg->tls.tls_cert_file != NULL ? "https" : "http";
    bool wildcard =
        strncmp(cfg->listen, "0.0.0.0:", 8) == 0 || strncmp(cfg->listen, "[::]:", 5) == 0;
    int n = wildcard ? asprintf(&cfg->advertise_url, "%s://%s%s", scheme, cfg->host, colon)
                     : asprintf(&cfg->advertise_url, "%s://%s", scheme, cfg->listen);
    if (n < 0) {
        cfg->advertise_url = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The Placement settings that only make sense together. */
static int config_check_placement(const struct collector_config *cfg, char *err, size_t errlen)
{
    const char *auth_keys[] = {"placement_token",   "placement_token_file",   "keystone_auth_url",
                               "keystone_username", "keystone_password_file", "keystone_project"};
    const char *auth_values[] = {cfg->placement_token,        cfg->placement_token_file,
                                 cfg->keystone_auth_url,      cfg->keystone_username,
                                 cfg->keystone_password_file, cfg->keystone_project};
    if (cfg->placement_url == NULL) {
        for (size_t i = 0; i < sizeof auth_keys / sizeof auth_keys[0]; i++) {
            if (auth_values[i] != NULL) {
                snprintf(err, errlen, "%s is set but placement_url is not", auth_keys[i]);
                return -1;
            }
        }
        if (cfg->create_providers) {
            snprintf(err, errlen, "create_providers is true but placement_url is not set");
            return -1;
        }
        return 0;
    }
    /* Both kinds given is not refused: the example config, uncommented,
     * has every key. The collector says at start which one it uses
     * (Keystone, else the token file, else the token). */
    bool token = cfg->placement_token != NULL || cfg->placement_token_file != NULL;
    if (!token && cfg->keystone_auth_url == NULL) {
        for (size_t i = 3; i < sizeof auth_keys / sizeof auth_keys[0]; i++) {
            if (auth_values[i] != NULL) {
                snprintf(err, errlen, "%s is set but keystone_auth_url is not", auth_keys[i]);
                return -1;
            }
        }
        snprintf(err, errlen,
                 "placement_url needs placement_token_file (or placement_token), or Keystone "
                 "credentials (keystone_auth_url, keystone_username, keystone_password_file, "
                 "keystone_project)");
        return -1;
    }
    for (size_t i = 2; cfg->keystone_auth_url != NULL && i < sizeof auth_keys / sizeof auth_keys[0];
         i++) {
        if (auth_values[i] == NULL) {
            snprintf(err, errlen, "Keystone auth for Placement needs %s too", auth_keys[i]);
            return -1;
        }
    }
    return 0;
}

int config_parse(struct collector_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int rc = settings_parse(&config_spec, cfg, argc, argv, err, errlen);
    if (rc != 0)
        return rc;
    cfg->create_providers = strcmp(cfg->create_providers_value, "true") == 0;
    if (config_check_placement(cfg, err, errlen) < 0 ||
        tls_settings_check(&cfg->tls, err, errlen) < 0)
        goto fail;
    if (cfg->host == NULL && config_default_host(cfg, err, errlen) < 0)
        goto fail;
    if (cfg->advertise_url == NULL && config_default_advertise(cfg, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    config_free(cfg);
    return -1;
}

void config_usage(FILE *out)
{
    fputs("Usage: mdevmig-collector [--config FILE] [OPTION]...\n"
          "\n"
          "Inventories this host's mdev (vGPU) devices and their migration versions,\n"
          "answers write-probes over HTTP, and publishes the inventory to the registry\n"
          "and, when placement_url is set, to Placement as traits.\n"
          "\n"
          "Every setting is a key in the [collector] section of the config file and a\n"
          "flag of the same name with dashes for underscores; a flag wins over the\n"
          "file, wherever it stands on the command line.\n"
          "\n",
          out);
    settings_usage(&config_spec, out);
    fputs("\n"
          "Config file format (INI; collector.conf.example is installed with mdevmig):\n"
          "  [collector]\n"
          "  ; a comment ('#' too, at the start of a line; ' ;' also ends a line)\n"
          "  host = gpu-a\n"
          "  listen = 0.0.0.0:7301\n"
          "  registry = sqlite:/var/lib/mdevmig/registry.db\n"
          "  placement_url = http://controller:8778\n"
          "  placement_token_file = /etc/mdevmig/placement-token\n"
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
          "  SIGTERM, SIGINT  stop cleanly\n"
          "  SIGHUP           re-read the config file, the token file and the TLS\n"
          "                   certificates (log_level, token_file and the tls_* and\n"
          "                   ca_file keys take effect; others are logged as needing a\n"
          "                   restart; a broken config is refused and the old one kept),\n"
          "                   then rescan now\n"
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
    settings_free(&config_spec, cfg);
}
