/*
 * heartbeat_wire — the JSON of POST /v1/hosts/{host}/heartbeat (DESIGN.md
 * §7, Scale): a collector whose inventory has not changed tells the sched
 * only which generation it still holds, and the sched answers whether its
 * registry holds exactly that one (then only last_seen moves) or not (then
 * the collector sends its full inventory at once). One codec for both
 * ends, so neither acts on a body that only looks like a heartbeat.
 */
#ifndef MDEVMIG_HEARTBEAT_WIRE_H
#define MDEVMIG_HEARTBEAT_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The request: {"generation": N}, N in 0..INT64_MAX, nothing else. 0, or
 * -1 with what is wrong (for a 400) in err. */
int heartbeat_wire_request_from_json(const json_t *json, int64_t *generation, char *err,
                                     size_t errlen);
/* NULL on allocation failure. */
json_t *heartbeat_wire_request_to_json(int64_t generation);

/* The reply. touched (HTTP 200): {"generation": N, "touched": true}, the
 * registry holds N and last_seen moved. Otherwise (HTTP 409): {"error":
 * "...", "generation": held or null}, the registry holds another
 * generation (known) or none: the collector must send its inventory. */
struct heartbeat_wire_reply {
    bool touched;
    bool known;         /* generation is what the registry holds (always when touched) */
    int64_t generation; /* only when known */
    const char *error;  /* not touched: why, for an operator; borrowed */
};

/* NULL on allocation failure. */
json_t *heartbeat_wire_reply_to_json(const struct heartbeat_wire_reply *reply);

/* 0, or -1 with why the reply is not a well-formed heartbeat reply in
 * err. Strings point into json. */
int heartbeat_wire_reply_from_json(const json_t *json, struct heartbeat_wire_reply *out, char *err,
                                   size_t errlen);

#endif
