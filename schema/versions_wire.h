/*
 * versions_wire — the JSON of POST /v1/devices/migration_versions: a
 * scheduler asks a collector for many devices' migration_version in one
 * request (an evacuation's source reads) instead of one GET each. One
 * codec for both ends, as for the probe: the collector acts on no list it
 * has not checked, and the scheduler takes no version from a reply that
 * is not well-formed.
 *
 * Request  {"devices": [UUID, ...], "type_table": true?}: 1 to
 *          VERSIONS_WIRE_MAX_DEVICES UUIDs, none repeated (in any case);
 *          "type_table" asks for the reply's compact form.
 * Reply    {"host": H, "devices": [ENTRY, ...], "elapsed_us": N}, one ENTRY
 *          per requested UUID, in request order:
 *          {"uuid", "parent", "type", "migration", "type_migration"} for a
 *          device the host has ("migration" as GET
 *          /v1/devices/{uuid}/migration_version answers it, "type_migration"
 *          the same object for the device's type node), or
 *          {"uuid", "error": "not found"} for one it does not.
 *          With "type_table", each type node's migration is listed once,
 *          in "types": [{"parent", "type", "migration"}, ...], and the
 *          device entries carry no "type_migration": a host's 1,000
 *          devices of one type repeat it 1,000 times otherwise (half the
 *          reply, to write, send and parse). A collector that predates the
 *          flag refuses it (400, unknown field); the scheduler then asks
 *          again without it.
 */
#ifndef MDEVMIG_VERSIONS_WIRE_H
#define MDEVMIG_VERSIONS_WIRE_H

#include "inventory.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The most UUIDs one request may name (DESIGN.md §7: every list in a
 * request has a documented maximum). 1024 UUIDs are about 40 KiB of
 * JSON, well inside the collector's 64 KiB body limit however the list is
 * spaced, and their reply well inside a client's 1 MiB response limit
 * with versions of common length. A larger set is sent in parts. */
#define VERSIONS_WIRE_MAX_DEVICES 1024

/* What a device the host does not have answers. */
#define VERSIONS_WIRE_NOT_FOUND "not found"

/* A request, checked: every UUID lower case, none repeated. */
struct versions_wire_request {
    char (*devices)[INV_UUID_LEN]; /* malloc'd; versions_wire_request_clear frees it */
    size_t count;
    bool type_table; /* answer in the compact form */
};

/* 0, or -1 with what is wrong (for a 400) in err: a repeated or malformed
 * UUID is named by its index in "devices". */
int versions_wire_request_from_json(const json_t *json, struct versions_wire_request *out,
                                    char *err, size_t errlen);
void versions_wire_request_clear(struct versions_wire_request *req);

/* The request for count UUIDs, as given. NULL on allocation failure. */
json_t *versions_wire_request_to_json(const char *const *uuids, size_t count, bool type_table);

/* One entry of a reply. Strings point into the JSON it was read from (or
 * are the caller's, to encode); the migrations' versions are owned by the
 * entry once decoded (versions_wire_reply_clear frees them). */
struct versions_wire_device {
    const char *uuid;
    const char *error; /* non-NULL: the host has no such device, nothing else is set */
    const char *parent;
    const char *type;
    struct inv_migration migration;      /* the device node's attribute */
    struct inv_migration type_migration; /* its type node's, on its parent */
};

struct versions_wire_reply {
    const char *host;
    struct versions_wire_device *devices; /* decoded: malloc'd */
    size_t count;
    long elapsed_us; /* the collector's reading time, all devices */
    bool type_table; /* encoded (or decoded) in the compact form */
};

/* The reply as compact JSON text (malloc'd, its length in *len), written
 * without a jansson tree: a 1,000-device reply built as one and dumped
 * cost the collector more than reading the devices did. NULL on
 * allocation failure. */
char *versions_wire_reply_text(const struct versions_wire_reply *reply, size_t *len);

/* 0, or -1 with why the reply is not a well-formed batch reply in err (as
 * a JSON path: "devices[3].migration.version: ..."): a missing, mistyped
 * or unknown field, more entries than a request may ask for, a digest
 * that is not the version's. On success the caller frees out with
 * versions_wire_reply_clear; on failure out is left empty. */
int versions_wire_reply_from_json(const json_t *json, struct versions_wire_reply *out, char *err,
                                  size_t errlen);

/* Frees what versions_wire_reply_from_json allocated. */
void versions_wire_reply_clear(struct versions_wire_reply *reply);

#endif
