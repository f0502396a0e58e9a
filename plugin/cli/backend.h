/*
 * backend — where the mdevmig command gets its answers, behind one
 * interface with two implementations (as libvirt's drivers are):
 *  - registry (backend_registry.c): the SQLite registry file read
 *    directly, select and filter run by libmdevmig in this process;
 *  - sched (backend_sched.c): an mdevmig-sched service over HTTP.
 * Both answer with the same JSON, so everything that prints is written
 * once. Every function returns a cli_exit code and, unless it is
 * CLI_EXIT_OK, a message for the operator in err.
 */
#ifndef MDEVMIG_CLI_BACKEND_H
#define MDEVMIG_CLI_BACKEND_H

#include "cli.h"
#include <mdevmig/mdevmig.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A host not heard from for longer is stale: the library's and
 * mdevmig-sched's default, used when reading the registry directly. */
#define BACKEND_STALE_AFTER_S 180

enum backend_question {
    BACKEND_SELECT, /* the best destinations among all hosts */
    BACKEND_FILTER, /* which of req->candidates can take it */
};

struct backend;

/* The backend the options name (--registry, or --url or $MDEVMIG_URL),
 * ready for inventory reads; probes (select, filter) need the cluster
 * token too, which is loaded now when probes is set. */
int backend_open(const struct cli *cli, bool probes, struct backend **out, char *err,
                 size_t errlen);
void backend_close(struct backend *b);

/* "registry /var/lib/mdevmig/registry.db" or "mdevmig-sched at URL". */
const char *backend_name(const struct backend *b);

/* {"hosts": [{"host", "last_seen", "age_s", "stale", "inventory"}]}, by
 * host name: GET /v1/inventory's shape. only: just that host (in a list of
 * one), CLI_EXIT_NOT_FOUND when it is unknown. */
int backend_inventory(struct backend *b, const char *only, json_t **out, char *err, size_t errlen);

/* Select or filter: the answer as libmdevmig's JSON text (the bytes
 * mdevmig-sched sent, unchanged) and parsed. */
int backend_decide(struct backend *b, enum backend_question q, const struct mdevmig_request *req,
                   char **text, json_t **json, char *err, size_t errlen);

/* How a long call is getting on: the library's own steps in-process
 * (registry), only the time waited from mdevmig-sched (which answers at
 * the end). Either callback may be NULL. */
struct backend_progress {
    void (*step)(void *ctx, const struct mdevmig_progress *progress);
    void (*waiting)(void *ctx, double seconds);
    void *ctx;
};

/* An evacuation plan for host (POST /v1/evacuate's answer, or
 * libmdevmig's in-process), as text and parsed. progress may be NULL. */
int backend_evacuate(struct backend *b, const char *host, enum mdevmig_policy policy,
                     const struct backend_progress *progress, char **text, json_t **json, char *err,
                     size_t errlen);

/* The compatibility matrix of type (NULL: every type), as POST /v1/matrix
 * answers it. */
int backend_matrix(struct backend *b, const char *type, const struct backend_progress *progress,
                   char **text, json_t **json, char *err, size_t errlen);

/* Readiness (POST /v1/readiness) for req's hosts and stranded_only; its
 * progress fields are the backend's to set. */
int backend_readiness(struct backend *b, const struct mdevmig_readiness_request *req,
                      const struct backend_progress *progress, char **text, json_t **json,
                      char *err, size_t errlen);

/* A rollout plan or what-if (POST /v1/rollout) for req. */
int backend_rollout(struct backend *b, const struct mdevmig_rollout_request *req,
                    const struct backend_progress *progress, char **text, json_t **json, char *err,
                    size_t errlen);

#endif
