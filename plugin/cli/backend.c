/*
 * backend — picks the implementation from the options and the
 * environment (flags win over $MDEVMIG_URL), loads the cluster token when
 * the work needs one, and dispatches.
 */
#include "backend_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *backend_env(const char *name)
{
    const char *value = getenv(name);
    return value != NULL && value[0] != '\0' ? value : NULL;
}

int backend_open(const struct cli *cli, bool probes, struct backend **out, char *err, size_t errlen)
{
    *out = NULL;
    if (cli->registry != NULL && cli->url != NULL) {
        snprintf(err, errlen,
                 "--registry and --url both given: read the registry file directly "
                 "(--registry PATH) or ask mdevmig-sched (--url URL), not both");
        return CLI_EXIT_USAGE;
    }
    const char *url = cli->registry == NULL ? cli->url : NULL;
    if (cli->registry == NULL && url == NULL)
        url = backend_env("MDEVMIG_URL");
    if (cli->registry == NULL && url == NULL) {
        snprintf(err, errlen, "give --registry PATH or --url URL (or set MDEVMIG_URL)");
        return CLI_EXIT_USAGE;
    }
    const char *token_file =
        cli->token_file != NULL ? cli->token_file : backend_env("MDEVMIG_TOKEN_FILE");
    bool need_token = url != NULL || probes;
    if (need_token && token_file == NULL) {
        snprintf(err, errlen,
                 "%s needs the cluster token: give --token-file FILE (or set "
                 "MDEVMIG_TOKEN_FILE)",
                 url != NULL ? "mdevmig-sched" : "probing the collectors");
        return CLI_EXIT_USAGE;
    }
    struct auth_token token;
    if (need_token && auth_token_load(token_file, &token, err, errlen) < 0)
        return CLI_EXIT_USAGE;
    struct backend_tls tls = {
        .ca_file = cli->ca_file,
        .client_cert_file = cli->tls_client_cert_file,
        .client_key_file = cli->tls_client_key_file,
    };
    int rc = url != NULL ? backend_sched_open(url, &token, cli->timeout_s, &tls, out, err, errlen)
                         : backend_registry_open(cli->registry, need_token ? &token : NULL,
                                                 cli->timeout_s, &tls, out, err, errlen);
    /* The secret lives on in the backend only. */
    explicit_bzero(&token, sizeof token);
    return rc;
}

void backend_close(struct backend *b)
{
    if (b != NULL)
        b->ops->close(b);
}

const char *backend_name(const struct backend *b)
{
    return b->name;
}

int backend_inventory(struct backend *b, const char *only, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    return b->ops->inventory(b, only, out, err, errlen);
}

int backend_decide(struct backend *b, enum backend_question q, const struct mdevmig_request *req,
                   char **text, json_t **json, char *err, size_t errlen)
{
    *text = NULL;
    *json = NULL;
    return b->ops->decide(b, q, req, text, json, err, errlen);
}

int backend_evacuate(struct backend *b, const char *host, enum mdevmig_policy policy,
                     const struct backend_progress *progress, char **text, json_t **json, char *err,
                     size_t errlen)
{
    *text = NULL;
    *json = NULL;
    return b->ops->evacuate(b, host, policy, progress, text, json, err, errlen);
}

int backend_matrix(struct backend *b, const char *type, const struct backend_progress *progress,
                   char **text, json_t **json, char *err, size_t errlen)
{
    *text = NULL;
    *json = NULL;
    return b->ops->matrix(b, type, progress, text, json, err, errlen);
}

int backend_readiness(struct backend *b, const struct mdevmig_readiness_request *req,
                      const struct backend_progress *progress, char **text, json_t **json,
                      char *err, size_t errlen)
{
    *text = NULL;
    *json = NULL;
    return b->ops->readiness(b, req, progress, text, json, err, errlen);
}

int backend_rollout(struct backend *b, const struct mdevmig_rollout_request *req,
                    const struct backend_progress *progress, char **text, json_t **json, char *err,
                    size_t errlen)
{
    *text = NULL;
    *json = NULL;
    return b->ops->rollout(b, req, progress, text, json, err, errlen);
}
