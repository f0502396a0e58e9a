/*
 * api — the collector's HTTP API (DESIGN.md §3): health, inventory, live
 * reads of devices' migration_version (one, or a batch: versions.h),
 * write-probes, and metrics.
 */
#ifndef MDEVMIG_COLLECTOR_API_H
#define MDEVMIG_COLLECTOR_API_H

#include "http_server.h"

/* The http_handler for a struct collector (ctx). */
void api_handle(void *ctx, const struct http_request *req, struct http_response *resp);

#endif
