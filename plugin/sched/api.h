/*
 * api.h — what the parts of mdevmig-sched's HTTP API share: the request
 * checks every POST makes and the handlers api.c routes to in other files.
 */
#ifndef MDEVMIG_SCHED_API_H
#define MDEVMIG_SCHED_API_H

#include "http_server.h"

#include <jansson.h>
#include <stddef.h>

struct sched;

/* The body of a POST that takes a JSON object of known fields only:
 * parsed, or NULL with a 400 already in resp. */
json_t *sched_object(struct sched *s, const struct http_request *http, const char *const *known,
                     size_t known_count, const char *expected, struct http_response *resp);

/* Strings of a JSON array, borrowed from it: at most max, none twice.
 * NULL with a message in err. */
const char **sched_strings(const json_t *array, const char *what, size_t max, size_t *count,
                           char *err, size_t errlen);

/* The library's error (an mdevmig_status) as an HTTP status. */
void sched_fail(struct sched *s, const struct http_request *http, const char *what, int rc,
                const char *err, struct http_response *resp);

/* api_fleet.c: POST /v1/readiness and POST /v1/rollout. */
void sched_readiness_answer(struct sched *s, const struct http_request *http,
                            struct http_response *resp);
void sched_rollout_answer(struct sched *s, const struct http_request *http,
                          struct http_response *resp);

#endif
