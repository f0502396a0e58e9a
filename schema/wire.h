/*
 * wire — the JSON form of an inventory, as collectors publish it, the sched
 * service ingests it and `--scan-once --json` prints it. The schema is in
 * schema/inventory.schema.json; this module is its one implementation.
 */
#ifndef MDEVMIG_WIRE_H
#define MDEVMIG_WIRE_H

#include "inventory.h"

#include <jansson.h>

#define WIRE_SCHEMA_VERSION 1

/* A new JSON object (caller owns the reference), or NULL on allocation
 * failure. */
json_t *wire_inventory_to_json(const struct inventory *inv);

/* Parse and check an inventory; on success fills out (caller frees with
 * inventory_free). On failure returns -1 with the JSON path of the first
 * problem and what is wrong with it in err, and out left empty. */
int wire_inventory_from_json(const json_t *json, struct inventory *out, char *err, size_t errlen);

/* True when a and b describe the same host state (generation, scan time and
 * URL aside): the collector bumps the generation only on a real change.
 * Compared as their JSON forms: every field the wire carries counts, and
 * a field added to the wire needs no change here. */
bool inventory_same_content(const struct inventory *a, const struct inventory *b);

/* The migration object of a type or device, alone (the probe and device
 * endpoints use it too). */
json_t *wire_migration_to_json(const struct inv_migration *mig);

struct json_text;
/* The same object written as text, as json_dumps(JSON_COMPACT) would
 * write wire_migration_to_json's (for replies written without a tree). */
void wire_migration_put(struct json_text *t, const struct inv_migration *mig);

/* The one rule for host names, wherever one arrives (inventories, URL
 * paths, select/filter/evacuate bodies, the collector's host setting):
 * RFC 1123 labels of letters, digits and '-' (not first or last), 1 to
 * 63 bytes each, dot-separated, at most 253 bytes in all. False with why
 * filled (why may be NULL). */
#define WIRE_HOST_RULE                                                                             \
    "a host name: RFC 1123 labels of letters, digits and '-' (not at either end), at most 63 "     \
    "bytes each and 253 in all, separated by dots"
bool wire_host_name_valid(const char *s, char *why, size_t whylen);

/* True when s is a UUID in the canonical 8-4-4-4-12 hex form. */
bool wire_uuid_valid(const char *s);

#endif
