/*
 * config — mdevmig-sched's settings: an INI file ([sched] section) whose
 * every key is also a flag; flags win (the collector's rules).
 */
#ifndef MDEVMIG_SCHED_CONFIG_H
#define MDEVMIG_SCHED_CONFIG_H

#include "tls_settings.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sched_config {
    char *config_file;          /* --config; NULL: none read */
    char *listen;               /* listen = 127.0.0.1:7400 */
    char *token_file;           /* token_file = /etc/mdevmig/token */
    char *registry;             /* registry = /var/lib/mdevmig/registry.db (a path) */
    double stale_after;         /* stale_after = 180 (seconds without a publish) */
    double connect_timeout;     /* connect_timeout = 1 (seconds, per probe) */
    double probe_timeout;       /* probe_timeout = 3 (seconds, per probe, total) */
    int max_parallel;           /* max_parallel = 64 (probes in flight) */
    int full_scan_max;          /* full_scan_max = 256 (offers of a type select reads in full) */
    int threads;                /* threads = 2 (HTTP worker threads) */
    double readiness_interval;  /* readiness_interval = 900 (seconds; 0: no periodic run) */
    int readiness_max_parallel; /* readiness_max_parallel = 16 (its probes at a time) */
    char *log_level;            /* log_level = info */
    char *candidate_source;     /* candidate_source = registry | placement */
    char *placement_url;        /* Placement, for candidate_source = placement */
    char *placement_token;
    char *placement_token_file;
    char *keystone_auth_url;
    char *keystone_username;
    char *keystone_password_file;
    char *keystone_project;
    char *keystone_user_domain;    /* Default */
    char *keystone_project_domain; /* Default */
    struct tls_settings tls;       /* tls_cert_file = ... (tls_settings.h) */
};

/* 0 to run, 1 after --help (exit 0), -1 with a message (exit 2). */
int sched_config_parse(struct sched_config *cfg, int argc, char **argv, char *err, size_t errlen);
void sched_config_usage(FILE *out);
void sched_config_free(struct sched_config *cfg);

#endif
