/*
 * probe_wire — the JSON of POST /v1/probe (DESIGN.md §3): the request a
 * scheduler sends a collector and the reply the collector sends back. One
 * codec for both ends, so the sched never takes a reply that is not a
 * well-formed probe reply ({"verdict":"compatible"} alone is not), and the
 * collector never acts on a request that is not a well-formed one.
 */
#ifndef MDEVMIG_PROBE_WIRE_H
#define MDEVMIG_PROBE_WIRE_H

#include "inventory.h"
#include "verdict.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What the target's driver (or the collector, for no-type) answered: the
 * verdicts a probe reply may carry, named by verdict.h. */
enum probe_wire_verdict {
    PROBE_WIRE_COMPATIBLE = VERDICT_COMPATIBLE,     /* the write succeeded */
    PROBE_WIRE_INCOMPATIBLE = VERDICT_INCOMPATIBLE, /* the driver refused (errno) or wrote short */
    PROBE_WIRE_UNSUPPORTED = VERDICT_UNSUPPORTED,   /* no migration_version attribute: no errno */
    PROBE_WIRE_NO_TYPE = VERDICT_NO_TYPE, /* the device is of another type: nothing written */
};

/* verdict_name() of it; "unknown" for a value that is none of these. */
const char *probe_wire_verdict_name(enum probe_wire_verdict verdict);

/* A request, checked; strings point into the JSON it was read from. */
struct probe_wire_request {
    const char *type;          /* an mdev type id (version_type_id_valid) */
    const char *version;       /* the source's version (version_validate) */
    size_t version_len;        /* without a NUL */
    char device[INV_UUID_LEN]; /* lower case; "" for a type-level probe */
    const char *parent;        /* type level: the parent to probe; NULL: the collector picks */
};

/* 0, or -1 with what is wrong (for a 400) in err. */
int probe_wire_request_from_json(const json_t *json, struct probe_wire_request *out, char *err,
                                 size_t errlen);

/* device and parent may be NULL (or ""). NULL on allocation failure. */
json_t *probe_wire_request_to_json(const char *type, const char *version, const char *device,
                                   const char *parent);

/* The same request as compact JSON text, byte for byte what
 * json_dumps(probe_wire_request_to_json(...), JSON_COMPACT) writes, without
 * building a tree: the sched sends one per probe. Like snprintf: writes at
 * most outlen bytes, NUL included (out may be NULL when outlen is 0), and
 * returns the length of the whole text without the NUL. The strings must
 * be valid UTF-8 without NUL (a version is ASCII: version_validate). */
size_t probe_wire_request_text(const char *type, const char *version, const char *device,
                               const char *parent, char *out, size_t outlen);

/* A reply; strings point into the JSON it was read from (or are the
 * caller's, to encode). */
struct probe_wire_reply {
    enum probe_wire_verdict verdict;
    bool device_level;          /* "level": "device" (else "type") */
    const char *host;           /* the answering host; may be NULL */
    const char *parent;         /* the parent probed (or the device's); may be NULL */
    const char *device;         /* device level: the device's UUID */
    int err;                    /* incompatible: the driver's errno; 0: none (a short write) */
    const char *error;          /* why, for an operator; NULL: nothing to add */
    const char *target_version; /* the target's own version, when it reads; NULL: none */
    long elapsed_us;            /* open + write + close on the target */
};

/* NULL on allocation failure. */
json_t *probe_wire_reply_to_json(const struct probe_wire_reply *reply);

/* 0, or -1 with why the reply is not a well-formed probe reply in err:
 * a missing or mistyped field, an unknown one, "compatible" that disagrees
 * with "verdict", an errno where no driver gave one, an errno outside
 * 1..4095. */
int probe_wire_reply_from_json(const json_t *json, struct probe_wire_reply *out, char *err,
                               size_t errlen);

#endif
