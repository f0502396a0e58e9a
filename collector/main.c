/*
 * mdevmig-collector — one per compute host. It inventories the host's mdev
 * parents, types and devices with their migration versions (sysfs) and the
 * VMs using them (libvirt), serves that and real write-probes over HTTP,
 * and publishes each change to the registry.
 */
#include "api.h"
#include "audit.h"
#include "collector.h"
#include "config.h"
#include "http_server.h"
#include "log.h"
#include "publish.h"
#include "traits.h"
#include "vmmap.h"
#include "wire.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLECTOR_MAX_BODY (64 * 1024)

static void main_on_libvirt_change(void *arg)
{
    collector_request_rescan(arg);
}

static void main_print_table(const struct inventory *inv)
{
    printf("host %s: %zu parents, %zu devices, %zu VMs\n", inv->host, inv->parent_count,
           inv->device_count, inv->instance_count);
    printf("%-16s %-24s %9s  %s\n", "PARENT", "TYPE", "AVAILABLE", "MIGRATION VERSION");
    for (size_t p = 0; p < inv->parent_count; p++) {
        for (size_t t = 0; t < inv->parents[p].type_count; t++) {
            const struct inv_type *type = &inv->parents[p].types[t];
            const struct inv_migration *m = &type->migration;
            char version[96];
            if (!m->supported)
                snprintf(version, sizeof version, "(no migration support)");
            else if (m->read_errno != 0)
                snprintf(version, sizeof version, "(read fails: %s)", strerror(m->read_errno));
            else
                snprintf(version, sizeof version, "%.90s", m->version);
            printf("%-16s %-24s %9d  %s\n", inv->parents[p].name, type->id,
                   type->available_instances, version);
        }
    }
    if (inv->device_count > 0)
        printf("\n%-36s  %-16s %-24s %s\n", "DEVICE", "PARENT", "TYPE", "VM");
    for (size_t d = 0; d < inv->device_count; d++) {
        const struct inv_device *dev = &inv->devices[d];
        printf("%-36s  %-16s %-24s %s\n", dev->uuid, dev->parent, dev->type,
               dev->instance[0] != '\0' ? dev->instance : "-");
    }
}

static int main_scan_once(struct collector *c, bool json_out)
{
    struct inventory inv;
    char err[1024];
    if (collector_build(c, &inv, err, sizeof err) < 0) {
        fprintf(stderr, "mdevmig-collector: scan failed: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (json_out) {
        json_t *json = wire_inventory_to_json(&inv);
        if (json == NULL || json_dumpf(json, stdout, JSON_INDENT(2)) < 0) {
            fprintf(stderr, "mdevmig-collector: cannot print the inventory\n");
            rc = 1;
        } else {
            putchar('\n');
        }
        json_decref(json);
    } else {
        main_print_table(&inv);
    }
    inventory_free(&inv);
    return rc;
}

struct main_signals {
    sigset_t set;
    struct collector *collector;
};

/* Signals arrive here only: SIGTERM/SIGINT stop, SIGHUP asks for a scan. */
static void *main_signal_thread(void *arg)
{
    struct main_signals *s = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&s->set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("SIGHUP: rescanning");
            collector_request_rescan(s->collector);
            continue;
        }
        log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        collector_stop(s->collector);
        return NULL;
    }
}

int main(int argc, char **argv)
{
    /* glibc gives each thread that allocates an arena of its own, which
     * keeps its peak (0.3 MiB and more each); requests here allocate a few
     * KiB and spend their time in sysfs, so one arena costs no measurable
     * contention. */
    mallopt(M_ARENA_MAX, 1);
    struct collector_config cfg;
    char err[1024];
    int parsed = config_parse(&cfg, argc, argv, err, sizeof err);
    if (parsed == 1)
        return 0;
    if (parsed < 0) {
        fprintf(stderr, "mdevmig-collector: %s\n(see mdevmig-collector --help)\n", err);
        return 2;
    }
    enum log_level level = LOG_LEVEL_INFO;
    log_level_parse(cfg.log_level, &level);
    log_init("mdevmig-collector", level);

    struct collector c;
    struct main_signals signals = {.collector = &c};
    if (collector_init(&c, &cfg) < 0) {
        fprintf(stderr, "mdevmig-collector: cannot initialise locks\n");
        config_free(&cfg);
        return 1;
    }
    int status = 1;
    /* Block the stop signals before any thread starts, so only the signal
     * thread receives them. */
    sigemptyset(&signals.set);
    sigaddset(&signals.set, SIGTERM);
    sigaddset(&signals.set, SIGINT);
    sigaddset(&signals.set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals.set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (cfg.scan_once)
        pthread_sigmask(SIG_UNBLOCK, &signals.set, NULL);
    if (strcmp(cfg.libvirt_uri, "none") != 0) {
        c.vmmap = vmmap_new(cfg.libvirt_uri, main_on_libvirt_change, &c);
        if (c.vmmap == NULL) {
            fprintf(stderr, "mdevmig-collector: cannot set up libvirt for %s\n", cfg.libvirt_uri);
            goto out;
        }
    }
    if (cfg.scan_once) {
        status = main_scan_once(&c, cfg.json);
        goto out;
    }

    if (auth_token_load(cfg.token_file, &c.token, err, sizeof err) < 0) {
        log_error("%s", err);
        goto out;
    }
    if (strcmp(cfg.audit_db, "none") != 0 &&
        (c.audit = audit_open(cfg.audit_db, err, sizeof err)) == NULL) {
        log_error("audit database: %s", err);
        goto out;
    }
    if (cfg.registry_count > 0 &&
        (c.publish = publish_start(cfg.registries, cfg.registry_count, c.token.value,
                                   cfg.heartbeat_interval, err, sizeof err)) == NULL) {
        log_error("%s", err);
        goto out;
    }

    if (cfg.placement_url != NULL) {
        struct traits_options to = {
            .host = cfg.host,
            .url = cfg.placement_url,
            .token = cfg.placement_token,
            .token_file = cfg.placement_token_file,
            .keystone_auth_url = cfg.keystone_auth_url,
            .keystone_username = cfg.keystone_username,
            .keystone_password_file = cfg.keystone_password_file,
            .keystone_project = cfg.keystone_project,
            .keystone_user_domain = cfg.keystone_user_domain,
            .keystone_project_domain = cfg.keystone_project_domain,
            .create_providers = cfg.create_providers,
        };
        if ((c.traits = traits_start(&to, err, sizeof err)) == NULL) {
            log_error("placement: %s", err);
            goto out;
        }
    }

    pthread_t signal_thread;
    if (pthread_create(&signal_thread, NULL, main_signal_thread, &signals) != 0) {
        log_error("cannot start the signal thread");
        goto out;
    }

    if (collector_rescan(&c, err, sizeof err) < 0)
        log_error("first scan failed: %s (serving 503 until a scan succeeds)", err);
    struct http_server *server = http_server_start(cfg.listen, cfg.threads, COLLECTOR_MAX_BODY,
                                                   api_handle, &c, err, sizeof err);
    if (server == NULL) {
        log_error("%s", err);
        pthread_kill(signal_thread, SIGTERM);
        pthread_join(signal_thread, NULL);
        goto out;
    }
    log_info("host %s: serving on %s (advertised as %s), sysfs %s, scanning every %.1f s", cfg.host,
             cfg.listen, cfg.advertise_url, cfg.sysfs_root, cfg.scan_interval);
    collector_run(&c);
    pthread_join(signal_thread, NULL);
    http_server_stop(server);
    status = 0;
out:
    publish_stop(c.publish);
    traits_stop(c.traits);
    vmmap_free(c.vmmap);
    audit_close(c.audit);
    collector_destroy(&c);
    config_free(&cfg);
    return status;
}
