/*
 * http_url — the one check of the http(s) URLs operators give mdevmig
 * (Placement, Keystone, mdevmig-sched's address, registry targets, a
 * collector's advertise_url), and the percent-encoding of a path segment
 * or query value. Built on libcurl's URL parser (CURLU), so a URL that
 * passes is one libcurl will connect to, and a refusal says what part is
 * wrong.
 */
#ifndef MDEVMIG_HTTP_URL_H
#define MDEVMIG_HTTP_URL_H

#include <stddef.h>

/* 0 when url is http:// or https:// with a host (and a port from 1 to
 * 65535 if one is given); else -1 with the reason in err, for the caller
 * to put after the URL and what it is for. */
int http_url_check(const char *url, char *err, size_t errlen);

/* The same for a base URL, to which mdevmig appends paths
 * ("/v1/hosts/...", "/resource_providers", "/v3/auth/tokens"): it must
 * not have a query ('?') or a fragment ('#') either. */
int http_url_check_base(const char *url, char *err, size_t errlen);

/* http_url_check_base as a settings check (settings.h's settings_check_fn),
 * for the config keys that hold one: "NAME must be an http:// or https://
 * URL, not 'VALUE': why". */
int http_url_setting_check(const char *value, const char *name, char *err, size_t errlen);

/* text percent-encoded for a URL path segment or query value (every byte
 * but RFC 3986's unreserved ones); malloc'd, NULL when out of memory. */
char *http_url_escape(const char *text);

#endif
