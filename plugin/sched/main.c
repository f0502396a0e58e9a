/*
 * mdevmig-sched — the embedded scheduler service: it owns the registry
 * (collectors publish into it), and answers select and filter for Nova's
 * filter, the mdevmig CLI and batch tools, and evacuation plans and the
 * compatibility matrix for operators, each answer confirmed live.
 */
#include "buildinfo.h"
#include "config.h"
#include "http_server.h"
#include "log.h"
#include "metrics_reply.h"
#include "readiness_run.h"
#include "reload.h"
#include "sdnotify.h"
#include "service.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A whole inventory of a large host fits; a filter of 10,000 names too. */
#define SCHED_MAX_BODY (8 * 1024 * 1024)
/* Answers at least this large are followed by a trim (http_server.h). */
#define SCHED_TRIM_AFTER (256 * 1024)
/* Free memory at the top of a malloc arena past this goes back at once. */
#define SCHED_TRIM_THRESHOLD (1024 * 1024)

/* Placement's secrets, read from their files (the library takes values).
 * Keystone wins over a static token, the token file over the token, as
 * in the collector. */
static int sched_placement_secrets(const struct sched_config *cfg, struct auth_token *token,
                                   struct auth_token *password, char *err, size_t errlen)
{
    char why[512];
    if (strcmp(cfg->candidate_source, "placement") != 0)
        return 0;
    if (cfg->keystone_auth_url != NULL) {
        if (auth_token_load(cfg->keystone_password_file, password, why, sizeof why) < 0) {
            snprintf(err, errlen, "keystone_password_file: %s", why);
            return -1;
        }
        log_info("placement: candidates from %s, Keystone auth as %s", cfg->placement_url,
                 cfg->keystone_username);
        return 0;
    }
    if (cfg->placement_token_file != NULL) {
        if (auth_token_load(cfg->placement_token_file, token, why, sizeof why) < 0) {
            snprintf(err, errlen, "placement_token_file: %s", why);
            return -1;
        }
    } else {
        snprintf(token->value, sizeof token->value, "%s", cfg->placement_token);
    }
    log_info("placement: candidates from %s, static token", cfg->placement_url);
    return 0;
}

/* Settings a running sched cannot change: say which changed. */
static void sched_report_restart_only(const struct sched_config *old,
                                      const struct sched_config *fresh)
{
    const struct reload_text texts[] = {
        {"listen", old->listen, fresh->listen},
        {"registry", old->registry, fresh->registry},
        {"candidate_source", old->candidate_source, fresh->candidate_source},
        {"placement_url", old->placement_url, fresh->placement_url},
        {"placement_token", old->placement_token, fresh->placement_token},
        {"placement_token_file", old->placement_token_file, fresh->placement_token_file},
        {"keystone_auth_url", old->keystone_auth_url, fresh->keystone_auth_url},
        {"keystone_username", old->keystone_username, fresh->keystone_username},
        {"keystone_password_file", old->keystone_password_file, fresh->keystone_password_file},
        {"keystone_project", old->keystone_project, fresh->keystone_project},
        {"keystone_user_domain", old->keystone_user_domain, fresh->keystone_user_domain},
        {"keystone_project_domain", old->keystone_project_domain, fresh->keystone_project_domain},
    };
    const struct reload_number numbers[] = {
        {"stale_after", old->stale_after, fresh->stale_after},
        {"connect_timeout", old->connect_timeout, fresh->connect_timeout},
        {"probe_timeout", old->probe_timeout, fresh->probe_timeout},
        {"max_parallel", old->max_parallel, fresh->max_parallel},
        {"full_scan_max", old->full_scan_max, fresh->full_scan_max},
        {"threads", old->threads, fresh->threads},
        {"readiness_interval", old->readiness_interval, fresh->readiness_interval},
        {"readiness_max_parallel", old->readiness_max_parallel, fresh->readiness_max_parallel},
    };
    reload_report_restart_only(texts, sizeof texts / sizeof texts[0], numbers,
                               sizeof numbers / sizeof numbers[0]);
}

/* SIGHUP: re-read the config file, the token and the certificates, all or
 * nothing; what does not check out is named in the log and the running
 * settings stay. */
static void sched_reload(struct sched *s, struct sched_config *cfg, struct http_server *server,
                         int argc, char **argv)
{
    sdnotify_reloading();
    struct sched_config fresh;
    struct auth_token token;
    char err[1024];
    int rc = sched_config_parse(&fresh, argc, argv, err, sizeof err);
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
    /* Every check before anything is applied; the server's certificate
     * swap comes last of the checks, as it applies itself when it passes. */
    if (auth_token_load(fresh.token_file, &token, err, sizeof err) < 0 ||
        tls_settings_check_client_files(&fresh.tls, err, sizeof err) < 0 ||
        http_server_reload_tls(server, &files, &changed, err, sizeof err) < 0) {
        log_error("SIGHUP: new configuration refused, keeping the running one: %s", err);
        explicit_bzero(&token, sizeof token);
        sched_config_free(&fresh);
        sdnotify_ready("serving (reload refused)");
        return;
    }
    /* The token passed auth_token_load's rules, which are stricter than
     * the client's: this cannot refuse it. */
    if (mdevmig_set_credentials(s->lib, token.value, fresh.tls.ca_file,
                                fresh.tls.tls_client_cert_file, fresh.tls.tls_client_key_file, err,
                                sizeof err) != MDEVMIG_OK)
        log_error("SIGHUP: probes keep their credentials: %s", err);
    sched_report_restart_only(cfg, &fresh);
    enum log_level level = LOG_LEVEL_INFO;
    log_level_parse(fresh.log_level, &level);
    log_set_level(level);
    auth_current_set(&s->token, &token);
    explicit_bzero(&token, sizeof token);
    /* Only this thread reads these after start. */
    reload_take(&cfg->log_level, &fresh.log_level);
    reload_take(&cfg->token_file, &fresh.token_file);
    reload_take_tls(&cfg->tls, &fresh.tls);
    sched_config_free(&fresh);
    log_info("SIGHUP: configuration reloaded (log level %s, token from %s%s)", cfg->log_level,
             cfg->token_file, changed ? ", new TLS certificate" : "");
    sdnotify_ready("serving");
}

/* The main loop: signals, and systemd's watchdog between them. */
static int sched_wait(struct sched *s, struct sched_config *cfg, struct http_server *server,
                      int argc, char **argv, const sigset_t *signals)
{
    uint64_t watchdog_us = sdnotify_watchdog_interval_us();
    struct timespec wait = {.tv_sec = (time_t)(watchdog_us / 1000000),
                            .tv_nsec = (long)(watchdog_us % 1000000) * 1000};
    for (;;) {
        sdnotify_watchdog();
        int sig = watchdog_us > 0 ? sigtimedwait(signals, NULL, &wait) : sigwaitinfo(signals, NULL);
        if (sig < 0)
            continue; /* EAGAIN: time to ping the watchdog; EINTR: again */
        if (sig == SIGHUP) {
            sched_reload(s, cfg, server, argc, argv);
            continue;
        }
        return sig;
    }
}

int main(int argc, char **argv)
{
    struct sched_config cfg;
    char err[1024];
    int parsed = sched_config_parse(&cfg, argc, argv, err, sizeof err);
    if (parsed == 1)
        return 0;
    if (parsed < 0) {
        fprintf(stderr, "mdevmig-sched: %s\n(see mdevmig-sched --help)\n", err);
        return 2;
    }
    enum log_level level = LOG_LEVEL_INFO;
    log_level_parse(cfg.log_level, &level);
    log_init("mdevmig-sched", level);
    /* Before anything opens the registry; without it the sched still
     * works, its memory after fleet-wide answers less predictable. */
    if (mdevmig_reserve_page_cache(err, sizeof err) != MDEVMIG_OK)
        log_warn("%s", err);
    /* glibc raises its trim threshold to twice any mmapped block freed
     * (a matrix's 1.4 MB answer), and malloc_trim() does not touch the
     * free top of a thread's arena: after the fleet answers of 100,000
     * hosts, 5-32 MiB stayed resident there. A fixed threshold (which
     * also fixes the mmap one at its 128 KiB default) gives a thread
     * arena's top back as soon as more than this lies free in it. */
    if (mallopt(M_TRIM_THRESHOLD, SCHED_TRIM_THRESHOLD) != 1)
        log_warn("cannot set malloc's trim threshold: memory after large answers may stay "
                 "resident");

    /* Only the main thread takes the signals (sched_wait below): stop and
     * reload. Blocked before any thread starts, so none inherits them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sched s = {.cfg = &cfg};
    int status = 1;
    struct http_server *server = NULL;
    auth_current_init(&s.token);
    metrics_reply_sched_init(&s);
    s.host_identity = cfg.tls.tls_client_ca_file != NULL;
    struct auth_token token;
    if (auth_token_load(cfg.token_file, &token, err, sizeof err) < 0 ||
        tls_settings_check_client_files(&cfg.tls, err, sizeof err) < 0) {
        explicit_bzero(&token, sizeof token);
        log_error("%s", err);
        goto out;
    }
    auth_current_set(&s.token, &token);
    struct auth_token placement_token = {0}, keystone_password = {0};
    if (sched_placement_secrets(&cfg, &placement_token, &keystone_password, err, sizeof err) < 0) {
        log_error("%s", err);
        goto out;
    }
    bool placement = strcmp(cfg.candidate_source, "placement") == 0;
    struct mdevmig_options options = {
        .size = sizeof options,
        .registry_path = cfg.registry,
        .token = token.value,
        .connect_timeout_ms = (long)(cfg.connect_timeout * 1000),
        .timeout_ms = (long)(cfg.probe_timeout * 1000),
        .max_parallel = cfg.max_parallel,
        .stale_after_s = (int64_t)cfg.stale_after,
        .full_scan_max = (size_t)cfg.full_scan_max,
        .candidate_source = cfg.candidate_source,
        .placement_url = placement ? cfg.placement_url : NULL,
        .placement_token = placement_token.value[0] != '\0' ? placement_token.value : NULL,
        .keystone_auth_url = placement ? cfg.keystone_auth_url : NULL,
        .keystone_username = cfg.keystone_username,
        .keystone_password = keystone_password.value,
        .keystone_project = cfg.keystone_project,
        .keystone_user_domain = cfg.keystone_user_domain,
        .keystone_project_domain = cfg.keystone_project_domain,
        .ca_file = cfg.tls.ca_file,
        .tls_client_cert_file = cfg.tls.tls_client_cert_file,
        .tls_client_key_file = cfg.tls.tls_client_key_file,
        .verify_host_identity = s.host_identity,
    };
    s.lib = mdevmig_open(&options, err, sizeof err);
    explicit_bzero(&token, sizeof token);
    explicit_bzero(&placement_token, sizeof placement_token);
    explicit_bzero(&keystone_password, sizeof keystone_password);
    if (s.lib == NULL || mdevmig_check(s.lib, err, sizeof err) != MDEVMIG_OK) {
        log_error("%s", err);
        goto out;
    }
    struct tls_server_files tls_files = {
        .cert_file = cfg.tls.tls_cert_file,
        .key_file = cfg.tls.tls_key_file,
        .client_ca_file = cfg.tls.tls_client_ca_file,
    };
    struct http_server_options http = {
        .listen = cfg.listen,
        .threads = cfg.threads,
        .max_body = SCHED_MAX_BODY,
        .tls = &tls_files,
        /* A fleet answer at 100,000 hosts builds tens of MiB of small JSON
         * and registry objects; without a trim after it is sent, one
         * matrix left the sched ~37 MiB resident for good. */
        .trim_after_bytes = SCHED_TRIM_AFTER,
    };
    /* The readiness thread first: request threads read s.readiness, which
     * must not change under them. */
    if (sched_readiness_start(&s, err, sizeof err) < 0 ||
        (server = http_server_start(&http, sched_api_handle, &s, err, sizeof err)) == NULL) {
        log_error("%s", err);
        goto out;
    }
    log_info("mdevmig-sched %s (commit %s): serving %s on %s, registry %s, probes time out after "
             "%.1f s%s",
             buildinfo_version(), buildinfo_commit(),
             http_server_is_tls(server)
                 ? (s.host_identity ? "HTTPS with client certificates" : "HTTPS")
                 : "HTTP",
             cfg.listen, cfg.registry, cfg.probe_timeout,
             s.host_identity ? ", collectors must prove their host names" : "");
    sdnotify_ready("serving");
    int sig = sched_wait(&s, &cfg, server, argc, argv, &signals);
    log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    sdnotify_stopping();
    status = 0;
out:
    http_server_stop(server);
    sched_readiness_stop(&s);
    mdevmig_close(s.lib);
    auth_current_destroy(&s.token);
    sched_config_free(&cfg);
    return status;
}
