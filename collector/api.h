/*
 * api — the collector's HTTP API (DESIGN.md §3): health, inventory, a live
 * read of one device's migration_version, write-probes, and metrics.
 */
#ifndef MDEVMIG_COLLECTOR_API_H
#define MDEVMIG_COLLECTOR_API_H

#include "http_server.h"

/* The http_handler for a struct collector (ctx). */
void api_handle(void *ctx, const struct http_request *req, struct http_response *resp);

#endif
