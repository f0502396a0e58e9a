/*
 * config — mdevmig-collector's settings: an INI file (inih) whose every key
 * can also be given as a command-line flag; flags win. Defaults suit a
 * compute host; tests point sysfs_root at an mdevsim mount.
 */
#ifndef MDEVMIG_COLLECTOR_CONFIG_H
#define MDEVMIG_COLLECTOR_CONFIG_H

#include "tls_settings.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_REGISTRIES 8

struct collector_config {
    char *config_file;   /* --config; NULL: none read */
    char *host;          /* host = ...; default: gethostname() */
    char *sysfs_root;    /* sysfs_root = /sys */
    char *libvirt_uri;   /* libvirt_uri = qemu:///system; "none" disables libvirt */
    char *listen;        /* listen = 127.0.0.1:7301 (ADDR:PORT; IPv6 as [ADDR]:PORT) */
    char *advertise_url; /* advertise_url = http://<listen> */
    char *token_file;    /* token_file = /etc/mdevmig/token */
    char
        *registries[CONFIG_MAX_REGISTRIES]; /* registry = sqlite:PATH (repeatable, or comma list) */
    size_t registry_count;
    char *audit_db;            /* audit_db = /var/lib/mdevmig/audit.db; "none" disables */
    double scan_interval;      /* scan_interval = 30 (seconds) */
    double heartbeat_interval; /* heartbeat_interval = 60 (seconds) */
    int threads;               /* threads = 2 (HTTP worker threads) */
    int attribute_fds;         /* attribute_fds = 4096 (kept read fds, attrread.h) */
    char *log_level;           /* log_level = info (error|warn|info|debug) */
    /* Placement (DESIGN.md §3): off while placement_url is unset. */
    char *placement_url;           /* placement_url = http://controller:8778 */
    char *placement_token;         /* placement_token = TOKEN (static X-Auth-Token) */
    char *placement_token_file;    /* placement_token_file = FILE (mode 0600) */
    char *keystone_auth_url;       /* keystone_auth_url = http://controller:5000/v3 */
    char *keystone_username;       /* keystone_username = NAME */
    char *keystone_password_file;  /* keystone_password_file = FILE (mode 0600) */
    char *keystone_project;        /* keystone_project = NAME */
    char *keystone_user_domain;    /* keystone_user_domain = Default */
    char *keystone_project_domain; /* keystone_project_domain = Default */
    char *create_providers_value;  /* create_providers = false|true, as written */
    bool create_providers;         /* ... as a truth value */
    struct tls_settings tls;       /* tls_cert_file = ... (tls_settings.h) */
    bool scan_once;                /* --scan-once: print the inventory and exit */
    bool json;                     /* --json: with --scan-once, JSON output */
};

/* Fill cfg from argv (and the --config file it names, read first so flags
 * win). Returns 0 to run, 1 when --help was printed (exit 0), -1 on bad
 * input with a message naming the flag or file:line in err (exit 2). */
int config_parse(struct collector_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* The --help text. */
void config_usage(FILE *out);

void config_free(struct collector_config *cfg);

#endif
