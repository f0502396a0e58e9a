/*
 * backend_impl.h — what a backend implementation provides (backend.h's
 * functions dispatch through it), and the constructors backend.c picks
 * from. Not for the subcommands: they see only backend.h.
 */
#ifndef MDEVMIG_CLI_BACKEND_IMPL_H
#define MDEVMIG_CLI_BACKEND_IMPL_H

#include "auth.h"
#include "backend.h"

struct backend_ops {
    int (*inventory)(struct backend *b, const char *only, json_t **out, char *err, size_t errlen);
    int (*decide)(struct backend *b, enum backend_question q, const struct mdevmig_request *req,
                  char **text, json_t **json, char *err, size_t errlen);
    int (*evacuate)(struct backend *b, const char *host, enum mdevmig_policy policy,
                    const struct backend_progress *progress, char **text, json_t **json, char *err,
                    size_t errlen);
    int (*matrix)(struct backend *b, const char *type, const struct backend_progress *progress,
                  char **text, json_t **json, char *err, size_t errlen);
    int (*readiness)(struct backend *b, const struct mdevmig_readiness_request *req,
                     const struct backend_progress *progress, char **text, json_t **json, char *err,
                     size_t errlen);
    int (*rollout)(struct backend *b, const struct mdevmig_rollout_request *req,
                   const struct backend_progress *progress, char **text, json_t **json, char *err,
                   size_t errlen);
    void (*close)(struct backend *b);
};

/* The part every implementation starts with. */
/* TLS for the calls a backend makes (to mdevmig-sched, or to the
 * collectors): NULL fields are the defaults (system CAs, no client
 * certificate). The strings are argv's, valid for the whole run. */
struct backend_tls {
    const char *ca_file;
    const char *client_cert_file;
    const char *client_key_file;
};

struct backend {
    const struct backend_ops *ops;
    char name[600];
    bool have_token;
    struct auth_token token;
    double timeout_s; /* 0: the implementation's default */
    struct backend_tls tls;
};

/* Each returns a cli_exit code; *out is NULL unless CLI_EXIT_OK. token
 * may be NULL (no probes asked for, or none given). urls: one
 * mdevmig-sched URL, or a comma-separated list of at most 8 asked in turn
 * (backend_sched.c). */
int backend_registry_open(const char *path, const struct auth_token *token, double timeout_s,
                          const struct backend_tls *tls, struct backend **out, char *err,
                          size_t errlen);
int backend_sched_open(const char *urls, const struct auth_token *token, double timeout_s,
                       const struct backend_tls *tls, struct backend **out, char *err,
                       size_t errlen);

#endif
