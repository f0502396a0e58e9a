/*
 * backend_registry — answers from the registry file itself, through
 * libmdevmig in this process: the inventory as the library reads it;
 * select, filter, evacuate and matrix by the library, which reads versions
 * from and probes the collectors, so those need the cluster token. For an operator on a host that
 * has the file and no mdevmig-sched running, or when the service is the thing being debugged.
 */
#include "backend_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct backend_registry {
    struct backend base;
    char *path;
    struct mdevmig *lib; /* libmdevmig owns the file: the CLI never opens it itself */
};

static void backend_registry_close(struct backend *b)
{
    struct backend_registry *r = (struct backend_registry *)b;
    mdevmig_close(r->lib);
    explicit_bzero(&r->base.token, sizeof r->base.token);
    free(r->path);
    free(r);
}

/* The library over the file, opened on first use; a question that
 * probes also needs the cluster token. */
static int backend_registry_lib(struct backend_registry *r, bool probes, char *err, size_t errlen)
{
    struct backend *b = &r->base;
    if (probes && !b->have_token) {
        snprintf(err, errlen,
                 "probing the collectors needs the cluster token: give --token-file "
                 "FILE");
        return CLI_EXIT_USAGE;
    }
    if (r->lib == NULL) {
        long timeout_ms = b->timeout_s > 0 ? (long)(b->timeout_s * 1000) : 0;
        struct mdevmig_options options = {
            .size = sizeof options,
            .registry_path = r->path,
            .token = b->have_token ? b->token.value : NULL,
            .timeout_ms = timeout_ms,
            /* A connect never waits longer than the whole probe may. */
            .connect_timeout_ms = timeout_ms > 0 && timeout_ms < 1000 ? timeout_ms : 0,
            .stale_after_s = BACKEND_STALE_AFTER_S,
            .ca_file = b->tls.ca_file,
            .tls_client_cert_file = b->tls.client_cert_file,
            .tls_client_key_file = b->tls.client_key_file,
        };
        if ((r->lib = mdevmig_open(&options, err, errlen)) == NULL)
            return CLI_EXIT_BACKEND;
    }
    return CLI_EXIT_OK;
}

static int backend_registry_status(int rc)
{
    return rc == MDEVMIG_ERR_INPUT       ? CLI_EXIT_USAGE
           : rc == MDEVMIG_ERR_NOT_FOUND ? CLI_EXIT_NOT_FOUND
                                         : CLI_EXIT_BACKEND;
}

/* Take the library's JSON text: parsed beside it, or an error. */
static int backend_registry_take(char *produced, char **text, json_t **json, char *err,
                                 size_t errlen)
{
    json_error_t jerr;
    *text = produced;
    if (*text == NULL || (*json = json_loads(*text, 0, &jerr)) == NULL) {
        snprintf(err, errlen, "%s",
                 *text == NULL ? "out of memory" : "libmdevmig's answer is not JSON");
        free(*text);
        *text = NULL;
        return CLI_EXIT_BACKEND;
    }
    return CLI_EXIT_OK;
}

static int backend_registry_inventory(struct backend *b, const char *only, json_t **out, char *err,
                                      size_t errlen)
{
    struct backend_registry *r = (struct backend_registry *)b;
    int opened = backend_registry_lib(r, false, err, errlen);
    if (opened != CLI_EXIT_OK)
        return opened;
    char *produced = NULL;
    int rc = mdevmig_inventory_json(r->lib, only, &produced, err, errlen);
    if (rc == MDEVMIG_ERR_NOT_FOUND) {
        snprintf(err, errlen, "host %s is not in the registry %s", only, r->path);
        return CLI_EXIT_NOT_FOUND;
    }
    if (rc != MDEVMIG_OK)
        return CLI_EXIT_BACKEND;
    char *text = NULL;
    json_t *json = NULL;
    int taken = backend_registry_take(produced, &text, &json, err, errlen);
    free(text);
    if (taken != CLI_EXIT_OK)
        return taken;
    /* One host comes as its entry alone; callers take a list either way. */
    if (only != NULL) {
        *out = json_pack("{s:[o]}", "hosts", json);
        if (*out == NULL) {
            snprintf(err, errlen, "out of memory");
            return CLI_EXIT_BACKEND;
        }
    } else {
        *out = json;
    }
    return CLI_EXIT_OK;
}

static int backend_registry_decide(struct backend *b, enum backend_question q,
                                   const struct mdevmig_request *req, char **text, json_t **json,
                                   char *err, size_t errlen)
{
    struct backend_registry *r = (struct backend_registry *)b;
    int opened = backend_registry_lib(r, true, err, errlen);
    if (opened != CLI_EXIT_OK)
        return opened;
    struct mdevmig_result *result = NULL;
    int rc = q == BACKEND_SELECT ? mdevmig_select(r->lib, req, &result, err, errlen)
                                 : mdevmig_filter(r->lib, req, &result, err, errlen);
    if (rc != MDEVMIG_OK)
        return backend_registry_status(rc);
    char *produced = mdevmig_result_json(result);
    mdevmig_result_free(result);
    return backend_registry_take(produced, text, json, err, errlen);
}

static int backend_registry_evacuate(struct backend *b, const char *host,
                                     enum mdevmig_policy policy,
                                     const struct backend_progress *progress, char **text,
                                     json_t **json, char *err, size_t errlen)
{
    struct backend_registry *r = (struct backend_registry *)b;
    int opened = backend_registry_lib(r, true, err, errlen);
    if (opened != CLI_EXIT_OK)
        return opened;
    struct mdevmig_evacuation req = {
        .size = sizeof req,
        .host = host,
        .policy = policy,
        .progress = progress != NULL ? progress->step : NULL,
        .progress_ctx = progress != NULL ? progress->ctx : NULL,
    };
    struct mdevmig_plan *plan = NULL;
    int rc = mdevmig_evacuate(r->lib, &req, &plan, err, errlen);
    if (rc != MDEVMIG_OK)
        return backend_registry_status(rc);
    char *produced = mdevmig_plan_json(plan);
    mdevmig_plan_free(plan);
    return backend_registry_take(produced, text, json, err, errlen);
}

static int backend_registry_matrix(struct backend *b, const char *type,
                                   const struct backend_progress *progress, char **text,
                                   json_t **json, char *err, size_t errlen)
{
    struct backend_registry *r = (struct backend_registry *)b;
    int opened = backend_registry_lib(r, true, err, errlen);
    if (opened != CLI_EXIT_OK)
        return opened;
    struct mdevmig_matrix *matrix = NULL;
    int rc = mdevmig_matrix(r->lib, type, progress != NULL ? progress->step : NULL,
                            progress != NULL ? progress->ctx : NULL, &matrix, err, errlen);
    if (rc != MDEVMIG_OK)
        return backend_registry_status(rc);
    char *produced = mdevmig_matrix_json(matrix);
    mdevmig_matrix_free(matrix);
    return backend_registry_take(produced, text, json, err, errlen);
}

static int backend_registry_readiness(struct backend *b,
                                      const struct mdevmig_readiness_request *given,
                                      const struct backend_progress *progress, char **text,
                                      json_t **json, char *err, size_t errlen)
{
    struct backend_registry *r = (struct backend_registry *)b;
    int opened = backend_registry_lib(r, true, err, errlen);
    if (opened != CLI_EXIT_OK)
        return opened;
    struct mdevmig_readiness_request req = *given;
    req.progress = progress != NULL ? progress->step : NULL;
    req.progress_ctx = progress != NULL ? progress->ctx : NULL;
    struct mdevmig_readiness *answer = NULL;
    int rc = mdevmig_readiness(r->lib, &req, &answer, err, errlen);
    if (rc != MDEVMIG_OK)
        return backend_registry_status(rc);
    char *produced = mdevmig_readiness_json(answer);
    mdevmig_readiness_free(answer);
    return backend_registry_take(produced, text, json, err, errlen);
}

static int backend_registry_rollout(struct backend *b, const struct mdevmig_rollout_request *given,
                                    const struct backend_progress *progress, char **text,
                                    json_t **json, char *err, size_t errlen)
{
    struct backend_registry *r = (struct backend_registry *)b;
    int opened = backend_registry_lib(r, true, err, errlen);
    if (opened != CLI_EXIT_OK)
        return opened;
    struct mdevmig_rollout_request req = *given;
    req.progress = progress != NULL ? progress->step : NULL;
    req.progress_ctx = progress != NULL ? progress->ctx : NULL;
    struct mdevmig_rollout *answer = NULL;
    int rc = mdevmig_rollout(r->lib, &req, &answer, err, errlen);
    if (rc != MDEVMIG_OK)
        return backend_registry_status(rc);
    char *produced = mdevmig_rollout_json(answer);
    mdevmig_rollout_free(answer);
    return backend_registry_take(produced, text, json, err, errlen);
}

static const struct backend_ops backend_registry_ops = {
    .inventory = backend_registry_inventory,
    .decide = backend_registry_decide,
    .evacuate = backend_registry_evacuate,
    .matrix = backend_registry_matrix,
    .readiness = backend_registry_readiness,
    .rollout = backend_registry_rollout,
    .close = backend_registry_close,
};

int backend_registry_open(const char *path, const struct auth_token *token, double timeout_s,
                          const struct backend_tls *tls, struct backend **out, char *err,
                          size_t errlen)
{
    /* registry_open would create a missing file: a mistyped path must
     * not turn into an empty cluster. */
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "registry %s: %s", path, strerror(errno));
        return CLI_EXIT_BACKEND;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "registry %s: not a regular file", path);
        return CLI_EXIT_BACKEND;
    }
    struct backend_registry *r = calloc(1, sizeof *r);
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return CLI_EXIT_BACKEND;
    }
    r->base.ops = &backend_registry_ops;
    snprintf(r->base.name, sizeof r->base.name, "registry %s", path);
    r->base.timeout_s = timeout_s;
    r->base.tls = *tls;
    if (token != NULL) {
        r->base.token = *token;
        r->base.have_token = true;
    }
    *out = &r->base;
    return CLI_EXIT_OK;
}
