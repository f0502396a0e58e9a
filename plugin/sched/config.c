/*
 * config — turns mdevmig-sched's command line and its INI file into one
 * validated struct sched_config, before any thread or socket exists. The
 * table below is every setting; common/settings does the reading, the
 * flags and the settings part of --help, so what is left here is the
 * prose of --help and the checks that span settings.
 */
#include "config.h"

#include "placement_settings.h"
#include "settings.h"

#include <stdlib.h>
#include <string.h>

#define SCHED_CONFIG_TIMEOUT_MIN 0.001 /* the library counts whole milliseconds */
#define SCHED_CONFIG_TIMEOUT_MAX 60.0
#define SCHED_CONFIG_STALE_MAX   86400.0

#define SCHED_FIELD(member, ctype) SETTINGS_FIELD(struct sched_config, member, ctype)

/* The names log_level_parse() takes, in the order --help gives them. */
static const char *const sched_config_log_levels[] = {"error", "warn", "info", "debug", NULL};

static const char *const sched_config_sources[] = {"registry", "placement", NULL};

/* The collector's registry targets ("sqlite:PATH", ingest URLs) are easy
 * to copy into this file by mistake; this service opens the file itself. */
static int sched_config_check_registry(const char *value, const char *name, char *err,
                                       size_t errlen)
{
    if (strncmp(value, "sqlite:", 7) == 0 || strstr(value, "://") != NULL) {
        snprintf(err, errlen,
                 "%s: '%s' is a collector's registry target; mdevmig-sched takes the database "
                 "file's path (e.g. /var/lib/mdevmig/registry.db)",
                 name, value);
        return -1;
    }
    return 0;
}

/* The defaults shown here are the ones applied; the unit test checks the
 * example file agrees. */
static const struct settings_item sched_config_items[] = {
    {.key = "listen",
     .flag = "listen",
     .metavar = "ADDR:PORT",
     .kind = SETTINGS_LISTEN,
     .offset = SCHED_FIELD(listen, char *),
     .def = "127.0.0.1:7400",
     .help = "HTTP API address: an IP literal and a port 1-65535; IPv6 as [ADDR]:PORT. "
             "Collectors publish here; Nova's filter and the mdevmig CLI ask here."},
    {.key = "token_file",
     .flag = "token-file",
     .metavar = "FILE",
     .kind = SETTINGS_STRING,
     .offset = SCHED_FIELD(token_file, char *),
     .def = "/etc/mdevmig/token",
     .help = "File holding the cluster bearer token (0600, or 0640 for a group that reads it), the "
             "one every collector "
             "holds."},
    {.key = "registry",
     .flag = "registry",
     .metavar = "FILE",
     .kind = SETTINGS_STRING,
     .offset = SCHED_FIELD(registry, char *),
     .def = "/var/lib/mdevmig/registry.db",
     .check = sched_config_check_registry,
     .help = "The SQLite registry this service owns: collectors' snapshots go in, select and "
             "filter read it. A file path, not a collector's sqlite:PATH target."},
    {.key = "stale_after",
     .flag = "stale-after",
     .metavar = "SECONDS",
     .kind = SETTINGS_SECONDS,
     .offset = SCHED_FIELD(stale_after, double),
     .def = "180",
     .min = 1,
     .max = SCHED_CONFIG_STALE_MAX,
     .help = "Seconds without a publish after which a host's registry data is marked stale, "
             "1 to 86400 (collectors publish at least every heartbeat_interval, 60 by "
             "default)."},
    {.key = "connect_timeout",
     .flag = "connect-timeout",
     .metavar = "SECONDS",
     .kind = SETTINGS_SECONDS,
     .offset = SCHED_FIELD(connect_timeout, double),
     .def = "1",
     .min = SCHED_CONFIG_TIMEOUT_MIN,
     .max = SCHED_CONFIG_TIMEOUT_MAX,
     .help = "Seconds a probe may wait for a collector to accept its connection, 0.001 to 60 "
             "and at most probe_timeout; an https:// collector gets 2 s more for the TLS "
             "handshake (within probe_timeout)."},
    {.key = "probe_timeout",
     .flag = "probe-timeout",
     .metavar = "SECONDS",
     .kind = SETTINGS_SECONDS,
     .offset = SCHED_FIELD(probe_timeout, double),
     .def = "3",
     .min = SCHED_CONFIG_TIMEOUT_MIN,
     .max = SCHED_CONFIG_TIMEOUT_MAX,
     .help = "Seconds a whole probe may take, connecting included, 0.001 to 60; a collector "
             "slower than this counts as unreachable."},
    {.key = "max_parallel",
     .flag = "max-parallel",
     .metavar = "N",
     .kind = SETTINGS_INT,
     .offset = SCHED_FIELD(max_parallel, int),
     .def = "64",
     .min = 1,
     .max = 4096,
     .help = "Probes in flight at once, across all requests, 1 to 4096."},
    {.key = "full_scan_max",
     .flag = "full-scan-max",
     .metavar = "N",
     .kind = SETTINGS_INT,
     .offset = SCHED_FIELD(full_scan_max, int),
     .def = "256",
     .min = 1,
     .max = 1000000,
     .help = "Above this many offers of a type, select ranks only the likeliest hosts (the "
             "source's version, cached compatible, most room) instead of every host, and "
             "filter reads only its listed hosts' offers (above the list's length too)."},
    {.key = "threads",
     .flag = "threads",
     .metavar = "N",
     .kind = SETTINGS_INT,
     .offset = SCHED_FIELD(threads, int),
     .def = "0",
     .min = 0,
     .max = 64,
     .help = "0: a thread for each connection, so a request waiting on a hung collector "
             "never delays another (at most 1024 connections, 128 per client address); 1 to "
             "64: that many worker threads shared by every connection."},
    {.key = "readiness_interval",
     .flag = "readiness-interval",
     .metavar = "SECONDS",
     .kind = SETTINGS_SECONDS,
     .offset = SCHED_FIELD(readiness_interval, double),
     .def = "900",
     .max = 604800,
     .zero_off = true,
     .help = "Seconds between readiness runs (every VM's live-migration destinations, probed "
             "live; /metrics shows the last), 0 to 604800; 0 turns them off. The first run "
             "starts one interval after the service."},
    {.key = "readiness_max_parallel",
     .flag = "readiness-max-parallel",
     .metavar = "N",
     .kind = SETTINGS_INT,
     .offset = SCHED_FIELD(readiness_max_parallel, int),
     .def = "16",
     .min = 1,
     .max = 4096,
     .help = "Probes a periodic readiness run has in flight at once, 1 to 4096, so that it "
             "never crowds out the probes of select and filter."},
    {.key = "log_level",
     .flag = "log-level",
     .metavar = "LEVEL",
     .kind = SETTINGS_ENUM,
     .offset = SCHED_FIELD(log_level, char *),
     .def = "info",
     .choices = sched_config_log_levels,
     .help = "Most verbose messages shown: error, warn, info or debug."},
    {.key = "candidate_source",
     .flag = "candidate-source",
     .metavar = "SOURCE",
     .kind = SETTINGS_ENUM,
     .offset = SCHED_FIELD(candidate_source, char *),
     .def = "registry",
     .choices = sched_config_sources,
     .help = "Where select finds candidate hosts: registry (every host the registry knows) "
             "or placement (hosts whose resource providers carry the VM's "
             "CUSTOM_MDEVMIG_<DIGEST> or CUSTOM_MDEV_TYPE_<TYPE> trait, as collectors publish "
             "them; the registry still gives their capacity). When Placement fails, select "
             "uses the registry and says so in its answer. Filter always uses Nova's list."},
    PLACEMENT_SETTINGS_ITEMS(struct sched_config, "(none)",
                             "Used when candidate_source is placement."),
    TLS_SETTINGS_ITEMS(struct sched_config),
    {.flag = "config",
     .metavar = "FILE",
     .kind = SETTINGS_CONFIG,
     .offset = SCHED_FIELD(config_file, char *),
     .help = "Read settings from FILE first (format below)."},
    {.flag = "help", .kind = SETTINGS_HELP, .help = "Print this help and exit."},
    {.flag = "version",
     .kind = SETTINGS_VERSION,
     .help = "Print the version and the git commit of this build and exit."},
};

static const struct settings_spec sched_config_spec = {
    .section = "sched",
    .program = "mdevmig-sched",
    .items = sched_config_items,
    .count = sizeof sched_config_items / sizeof sched_config_items[0],
    .size = sizeof(struct sched_config),
    .usage = sched_config_usage,
};

/* With candidate_source = placement, Placement and a way to authenticate
 * must be given. The Placement keys alone are accepted with the registry
 * source (the example file, uncommented, has them all); they are unused. */
static int sched_config_check_placement(const struct sched_config *cfg, char *err, size_t errlen)
{
    if (strcmp(cfg->candidate_source, "placement") != 0)
        return 0;
    if (cfg->placement_url == NULL) {
        snprintf(err, errlen, "candidate_source = placement needs placement_url");
        return -1;
    }
    if (cfg->keystone_auth_url != NULL) {
        const char *keys[] = {"keystone_username", "keystone_password_file", "keystone_project"};
        const char *values[] = {cfg->keystone_username, cfg->keystone_password_file,
                                cfg->keystone_project};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            if (values[i] == NULL) {
                snprintf(err, errlen, "Keystone auth for Placement needs %s too", keys[i]);
                return -1;
            }
        }
        return 0;
    }
    if (cfg->placement_token == NULL && cfg->placement_token_file == NULL) {
        snprintf(err, errlen,
                 "placement_url needs placement_token_file (or placement_token), or Keystone "
                 "credentials (keystone_auth_url, keystone_username, keystone_password_file, "
                 "keystone_project)");
        return -1;
    }
    return 0;
}

int sched_config_parse(struct sched_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int rc = settings_parse(&sched_config_spec, cfg, argc, argv, err, errlen);
    if (rc != 0)
        return rc;
    /* Checked once every layer is in: a file may set one and a flag the
     * other. A connect wait longer than the whole probe would never end. */
    if (sched_config_check_placement(cfg, err, errlen) < 0 ||
        tls_settings_check(&cfg->tls, err, errlen) < 0) {
        sched_config_free(cfg);
        return -1;
    }
    if (cfg->connect_timeout > cfg->probe_timeout) {
        snprintf(err, errlen,
                 "connect_timeout (%g s) must not be longer than probe_timeout (%g s): the "
                 "probe would time out first",
                 cfg->connect_timeout, cfg->probe_timeout);
        sched_config_free(cfg);
        return -1;
    }
    return 0;
}

void sched_config_usage(FILE *out)
{
    fputs("Usage: mdevmig-sched [--config FILE] [OPTION]...\n"
          "\n"
          "Owns the mdevmig registry (collectors publish their inventories into it)\n"
          "and answers select and filter for Nova's filter, the mdevmig CLI and batch\n"
          "tools: which hosts can take an instance's mdevs, each answer confirmed by a\n"
          "live write-probe to the target host's collector; and, for operators, plans\n"
          "to evacuate a host and the version compatibility matrix.\n"
          "\n"
          "Every setting is a key in the [sched] section of the config file and a\n"
          "flag of the same name with dashes for underscores; a flag wins over the\n"
          "file, wherever it stands on the command line.\n"
          "\n",
          out);
    settings_usage(&sched_config_spec, out);
    fputs("\n"
          "Config file format (INI; sched.conf.example is installed with mdevmig):\n"
          "  [sched]\n"
          "  ; a comment ('#' too, at the start of a line; ' ;' also ends a line)\n"
          "  listen = 0.0.0.0:7400\n"
          "  registry = /var/lib/mdevmig/registry.db\n"
          "Only the [sched] section is read; an unknown section or key, a key given\n"
          "twice, or a bad value is an error naming FILE:LINE. A line may hold about\n"
          "200 characters.\n"
          "\n"
          "HTTP API (JSON; a bearer token on all but health):\n"
          "  GET  /v1/health                  liveness\n"
          "  GET  /v1/inventory               every host the registry holds\n"
          "  GET  /v1/hosts/HOST/inventory    one host's inventory\n"
          "  POST /v1/hosts/HOST/inventory    a collector's snapshot (ingest)\n"
          "  POST /v1/select                  hosts that can take SOURCE's mdevs\n"
          "       {SOURCE, \"count\"?}\n"
          "  POST /v1/filter                  which of the hosts can take them\n"
          "       {SOURCE, \"hosts\": [HOST...]}\n"
          "  POST /v1/evacuate                a destination, or why there is none, for\n"
          "       {\"host\", \"policy\"?}         every VM of HOST (policy: spread or pack)\n"
          "  POST /v1/matrix                  which (type, version) group can migrate to\n"
          "       {\"type\"?}                   which, one live probe per pair of groups\n"
          "  POST /v1/readiness               per VM with mdevs, the hosts that could take\n"
          "       {\"hosts\"?, \"stranded\"?}     it now (live probes); docs/READINESS.md\n"
          "  POST /v1/rollout                 a driver upgrade in waves that keeps VMs\n"
          "       {\"like\", \"hosts\", ...}      migratable, or its what-if\n"
          "  GET  /metrics                    Prometheus text\n"
          "  SOURCE is \"instance\": UUID, or \"host\": HOST with \"devices\": [UUID...],\n"
          "  or \"mdevs\": [{\"type\", \"version\"}...]; each answer is confirmed by probes.\n"
          "\n"
          "Mutual TLS (tls_client_ca_file) also ties each host to its certificate: an\n"
          "ingest for HOST is accepted only from a client certificate naming HOST, and\n"
          "a collector is probed only over https:// at a server certificate naming its\n"
          "host, so one compromised host can publish and answer only for itself.\n"
          "\n"
          "SIGNALS\n"
          "  SIGTERM, SIGINT  stop cleanly\n"
          "  SIGHUP           re-read the config file, the token file and the TLS\n"
          "                   certificates (log_level, token_file and the tls_* and\n"
          "                   ca_file keys take effect; others are logged as needing a\n"
          "                   restart; a broken config is refused and the old one kept)\n"
          "\n"
          "EXIT STATUS\n"
          "  0  stopped cleanly on SIGTERM/SIGINT, or --help or --version succeeded\n"
          "  1  runtime failure (cannot listen, read the token, open the registry, ...)\n"
          "  2  bad usage or configuration\n",
          out);
}

void sched_config_free(struct sched_config *cfg)
{
    settings_free(&sched_config_spec, cfg);
}
