/*
 * mdevmig-sched — the embedded scheduler service: it owns the registry
 * (collectors publish into it), and answers select and filter for Nova's
 * filter, the mdevmig CLI and batch tools, and evacuation plans and the
 * compatibility matrix for operators, each answer confirmed live.
 */
#include "config.h"
#include "http_server.h"
#include "log.h"
#include "service.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole inventory of a large host fits; a filter of 10,000 names too. */
#define SCHED_MAX_BODY (8 * 1024 * 1024)

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

    /* Only the main thread takes the stop signals (sigwait below). */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sched s = {.cfg = &cfg};
    int status = 1;
    struct http_server *server = NULL;
    pthread_mutex_init(&s.registry_lock, NULL);
    if (auth_token_load(cfg.token_file, &s.token, err, sizeof err) < 0) {
        log_error("%s", err);
        goto out;
    }
    if (registry_open(cfg.registry, &s.registry, err, sizeof err) < 0) {
        log_error("%s", err);
        goto out;
    }
    struct auth_token placement_token = {0}, keystone_password = {0};
    if (sched_placement_secrets(&cfg, &placement_token, &keystone_password, err, sizeof err) < 0) {
        log_error("%s", err);
        goto out;
    }
    bool placement = strcmp(cfg.candidate_source, "placement") == 0;
    struct mdevmig_options options = {
        .registry_path = cfg.registry,
        .token = s.token.value,
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
    };
    s.lib = mdevmig_open(&options, err, sizeof err);
    explicit_bzero(&placement_token, sizeof placement_token);
    explicit_bzero(&keystone_password, sizeof keystone_password);
    if (s.lib == NULL) {
        log_error("%s", err);
        goto out;
    }
    server = http_server_start(cfg.listen, cfg.threads, SCHED_MAX_BODY, sched_api_handle, &s, err,
                               sizeof err);
    if (server == NULL) {
        log_error("%s", err);
        goto out;
    }
    log_info("serving on %s, registry %s, probes time out after %.1f s", cfg.listen, cfg.registry,
             cfg.probe_timeout);
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    status = 0;
out:
    http_server_stop(server);
    mdevmig_close(s.lib);
    registry_close(s.registry);
    pthread_mutex_destroy(&s.registry_lock);
    sched_config_free(&cfg);
    return status;
}
