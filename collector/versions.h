/*
 * versions — live reads of devices' migration_version for the API: one
 * device (GET /v1/devices/{uuid}/migration_version) or many at once (POST
 * /v1/devices/migration_versions, schema/versions_wire.h), both through
 * the same read, at the moment of the request, never from the scan.
 */
#ifndef MDEVMIG_COLLECTOR_VERSIONS_H
#define MDEVMIG_COLLECTOR_VERSIONS_H

#include "http_server.h"

struct collector;

/* GET /v1/devices/{uuid}/migration_version, uuid_text as in the path. */
void versions_device(struct collector *c, const char *uuid_text, struct http_response *resp);

/* POST /v1/devices/migration_versions: every device named, each attribute
 * read once (a type node shared by many devices too). */
void versions_batch(struct collector *c, const struct http_request *req,
                    struct http_response *resp);

#endif
