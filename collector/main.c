/*
 * mdevmig-collector — one per compute host. It inventories the host's mdev
 * parents, types and devices with their migration versions (sysfs) and the
 * VMs using them (libvirt), serves that and real write-probes over HTTP,
 * and publishes each change to the registry.
 */
#include "api.h"
#include "attrdir.h"
#include "audit.h"
#include "buildinfo.h"
#include "collector.h"
#include "config.h"
#include "escape.h"
#include "http_server.h"
#include "log.h"
#include "publish.h"
#include "reload.h"
#include "sdnotify.h"
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
#include <sys/resource.h>

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
                escape_text(m->version, version, 91); /* never raw bytes on a terminal */
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

/* The kept read fds (attribute_fds) are descriptors like the server's
 * connections: the soft open-file limit (1024 under systemd, whose hard
 * limit is far higher) is raised to the hard one, and at most half of it
 * goes to kept fds, so connections, publishers and the audit database
 * never run short. Returns how many to keep. */
static size_t main_attribute_fds(const struct collector_config *cfg)
{
    size_t keep = (size_t)cfg->attribute_fds;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_warn("cannot read the open-file limit (%s): keeping no attribute fds open",
                 strerror(errno));
        return 0;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
        else
            log_warn("cannot raise the open-file limit from %llu to its hard limit %llu: %s",
                     (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                     strerror(errno));
    }
    if (rl.rlim_cur != RLIM_INFINITY && keep > rl.rlim_cur / 2) {
        log_warn("attribute_fds = %zu is more than half the open-file limit (%llu): keeping "
                 "%llu open",
                 keep, (unsigned long long)rl.rlim_cur, (unsigned long long)(rl.rlim_cur / 2));
        keep = (size_t)(rl.rlim_cur / 2);
    }
    return keep;
}

struct main_signals {
    sigset_t set;
    struct collector *collector;
    struct collector_config *cfg; /* the running settings; reload swaps the reloadable ones */
    struct http_server *server;   /* set once serving */
    int argc;
    char **argv;
};

/* Settings a running collector cannot change: say which changed, so the
 * operator knows the reload did not apply them. */
static void main_report_restart_only(const struct collector_config *old,
                                     const struct collector_config *fresh)
{
    const struct reload_text texts[] = {
        {"host", old->host, fresh->host},
        {"sysfs_root", old->sysfs_root, fresh->sysfs_root},
        {"libvirt_uri", old->libvirt_uri, fresh->libvirt_uri},
        {"listen", old->listen, fresh->listen},
        {"advertise_url", old->advertise_url, fresh->advertise_url},
        {"audit_db", old->audit_db, fresh->audit_db},
        {"placement_url", old->placement_url, fresh->placement_url},
        {"placement_token", old->placement_token, fresh->placement_token},
        {"placement_token_file", old->placement_token_file, fresh->placement_token_file},
        {"keystone_auth_url", old->keystone_auth_url, fresh->keystone_auth_url},
        {"keystone_username", old->keystone_username, fresh->keystone_username},
        {"keystone_password_file", old->keystone_password_file, fresh->keystone_password_file},
        {"keystone_project", old->keystone_project, fresh->keystone_project},
        {"keystone_user_domain", old->keystone_user_domain, fresh->keystone_user_domain},
        {"keystone_project_domain", old->keystone_project_domain, fresh->keystone_project_domain},
        {"create_providers", old->create_providers_value, fresh->create_providers_value},
    };
    const struct reload_number numbers[] = {
        {"scan_interval", old->scan_interval, fresh->scan_interval},
        {"heartbeat_interval", old->heartbeat_interval, fresh->heartbeat_interval},
        {"threads", old->threads, fresh->threads},
        {"attribute_fds", old->attribute_fds, fresh->attribute_fds},
        {"registry (the number of targets)", (double)old->registry_count,
         (double)fresh->registry_count},
    };
    reload_report_restart_only(texts, sizeof texts / sizeof texts[0], numbers,
                               sizeof numbers / sizeof numbers[0]);
    bool registries = old->registry_count != fresh->registry_count;
    for (size_t i = 0; !registries && i < old->registry_count; i++)
        registries = strcmp(old->registries[i], fresh->registries[i]) != 0;
    if (registries && old->registry_count == fresh->registry_count)
        log_warn("SIGHUP: registry changed; it needs a restart (keeping the running targets)");
}

/* SIGHUP: re-read the config file, the token and the certificates. All or
 * nothing: a setting or file that does not check out leaves everything as
 * it was, with a log line that names it. */
static void main_reload(struct main_signals *s)
{
    sdnotify_reloading();
    struct collector_config fresh;
    struct auth_token token;
    char err[1024];
    int rc = config_parse(&fresh, s->argc, s->argv, err, sizeof err);
    if (rc != 0) {
        log_error("SIGHUP: new configuration refused, keeping the running one: %s",
                  rc > 0 ? "--help or --version on the command line" : err);
        sdnotify_ready("serving (reload refused)");
        return;
    }
    struct tls_server_files files = {
        .cert_file = fresh.tls.tls_cert_file,
        .key_file = fresh.tls.tls_key_file,
        .client_ca_file = fresh.tls.tls_client_ca_file,
    };
    bool changed = false;
    if (auth_token_load(fresh.token_file, &token, err, sizeof err) < 0 ||
        tls_settings_check_client_files(&fresh.tls, err, sizeof err) < 0 ||
        http_server_reload_tls(s->server, &files, &changed, err, sizeof err) < 0) {
        log_error("SIGHUP: new configuration refused, keeping the running one: %s", err);
        explicit_bzero(&token, sizeof token);
        config_free(&fresh);
        sdnotify_ready("serving (reload refused)");
        return;
    }
    main_report_restart_only(s->cfg, &fresh);
    enum log_level level = LOG_LEVEL_INFO;
    log_level_parse(fresh.log_level, &level);
    log_set_level(level);
    auth_current_set(&s->collector->token, &token);
    if (s->collector->publish != NULL) {
        struct publish_credentials pc = {
            .token = token.value,
            .ca_file = fresh.tls.ca_file,
            .client_cert_file = fresh.tls.tls_client_cert_file,
            .client_key_file = fresh.tls.tls_client_key_file,
        };
        if (publish_set_credentials(s->collector->publish, &pc, err, sizeof err) < 0)
            log_error("SIGHUP: publishers keep their credentials: %s", err);
    }
    explicit_bzero(&token, sizeof token);
    /* Only this thread reads these after start. */
    reload_take(&s->cfg->log_level, &fresh.log_level);
    reload_take(&s->cfg->token_file, &fresh.token_file);
    reload_take_tls(&s->cfg->tls, &fresh.tls);
    config_free(&fresh);
    log_info("SIGHUP: configuration reloaded (log level %s, token from %s%s); rescanning",
             s->cfg->log_level, s->cfg->token_file, changed ? ", new TLS certificate" : "");
    sdnotify_ready("serving");
}

/* Signals arrive here only: SIGTERM/SIGINT stop, SIGHUP reloads and asks
 * for a scan. */
static void *main_signal_thread(void *arg)
{
    struct main_signals *s = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&s->set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (s->server != NULL)
                main_reload(s);
            collector_request_rescan(s->collector);
            continue;
        }
        log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        sdnotify_stopping();
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
    struct main_signals signals = {.collector = &c, .cfg = &cfg, .argc = argc, .argv = argv};
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

    struct auth_token token;
    if (auth_token_load(cfg.token_file, &token, err, sizeof err) < 0 ||
        tls_settings_check_client_files(&cfg.tls, err, sizeof err) < 0) {
        explicit_bzero(&token, sizeof token);
        log_error("%s", err);
        goto out;
    }
    auth_current_set(&c.token, &token);
    if (strcmp(cfg.audit_db, "none") != 0 &&
        (c.audit = audit_open(cfg.audit_db, err, sizeof err)) == NULL) {
        log_error("audit database: %s", err);
        goto out;
    }
    struct publish_credentials pc = {
        .token = token.value,
        .ca_file = cfg.tls.ca_file,
        .client_cert_file = cfg.tls.tls_client_cert_file,
        .client_key_file = cfg.tls.tls_client_key_file,
    };
    if (cfg.registry_count > 0 &&
        (c.publish = publish_start(cfg.registries, cfg.registry_count, &pc, cfg.heartbeat_interval,
                                   err, sizeof err)) == NULL) {
        explicit_bzero(&token, sizeof token);
        log_error("%s", err);
        goto out;
    }
    explicit_bzero(&token, sizeof token);

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
            .ca_file = cfg.tls.ca_file,
            .client_cert_file = cfg.tls.tls_client_cert_file,
            .client_key_file = cfg.tls.tls_client_key_file,
        };
        if ((c.traits = traits_start(&to, err, sizeof err)) == NULL) {
            log_error("placement: %s", err);
            goto out;
        }
    }

    if (attrdir_keep_reads(c.attrdirs, main_attribute_fds(&cfg)) < 0) {
        log_error("out of memory for the kept attribute fds");
        goto out;
    }
    if (collector_rescan(&c, err, sizeof err) < 0)
        log_error("first scan failed: %s (serving 503 until a scan succeeds)", err);
    struct tls_server_files tls_files = {
        .cert_file = cfg.tls.tls_cert_file,
        .key_file = cfg.tls.tls_key_file,
        .client_ca_file = cfg.tls.tls_client_ca_file,
    };
    struct http_server_options http = {
        .listen = cfg.listen,
        .threads = cfg.threads,
        .max_body = COLLECTOR_MAX_BODY,
        .tls = &tls_files,
    };
    /* The signal thread starts once the server exists, so a SIGHUP never
     * sees it half made; until then the signals wait, blocked. */
    signals.server = http_server_start(&http, api_handle, &c, err, sizeof err);
    if (signals.server == NULL) {
        log_error("%s", err);
        goto out;
    }
    pthread_t signal_thread;
    if (pthread_create(&signal_thread, NULL, main_signal_thread, &signals) != 0) {
        log_error("cannot start the signal thread");
        http_server_stop(signals.server);
        goto out;
    }
    log_info("%s %s (commit %s), host %s: serving %s on %s (advertised as %s), sysfs %s, "
             "scanning every %.1f s",
             "mdevmig-collector", buildinfo_version(), buildinfo_commit(), cfg.host,
             http_server_is_tls(signals.server)
                 ? (cfg.tls.tls_client_ca_file != NULL ? "HTTPS with client certificates" : "HTTPS")
                 : "HTTP",
             cfg.listen, cfg.advertise_url, cfg.sysfs_root, cfg.scan_interval);
    sdnotify_ready("serving");
    collector_run(&c);
    pthread_join(signal_thread, NULL);
    http_server_stop(signals.server);
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
