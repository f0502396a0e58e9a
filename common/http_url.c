/*
 * http_url — URL checks through libcurl's own parser rather than prefix
 * tests: "http://" followed by nothing, a bad port or a broken IPv6
 * literal would pass a prefix test and fail only at the first request,
 * far from the setting that caused it.
 */
#include "http_url.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why libcurl refused to parse a URL, in an operator's words where its
 * own are terse. */
static void http_url_reason(CURLUcode rc, char *err, size_t errlen)
{
    switch (rc) {
    case CURLUE_BAD_SCHEME:
    case CURLUE_BAD_SLASHES:
        snprintf(err, errlen, "it does not start with http:// or https://");
        break;
    case CURLUE_NO_HOST:
        snprintf(err, errlen, "it names no host");
        break;
    case CURLUE_BAD_PORT_NUMBER:
        snprintf(err, errlen, "the port is not a number from 1 to 65535");
        break;
    case CURLUE_OUT_OF_MEMORY:
        snprintf(err, errlen, "out of memory");
        break;
    default:
        snprintf(err, errlen, "malformed: %s", curl_url_strerror(rc));
        break;
    }
}

static int http_url_parse(const char *url, bool base, char *err, size_t errlen)
{
    if (url == NULL || url[0] == '\0') {
        snprintf(err, errlen, "no URL given");
        return -1;
    }
    CURLU *u = curl_url();
    if (u == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *scheme = NULL, *port = NULL, *query = NULL, *fragment = NULL;
    int rc = -1;
    /* Any scheme parses, so that the refusal can name the one given. */
    CURLUcode urc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (urc == CURLUE_OK)
        urc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (urc != CURLUE_OK) {
        http_url_reason(urc, err, errlen);
        goto out;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(err, errlen, "the scheme is \"%.32s\": only http:// and https:// are supported",
                 scheme);
        goto out;
    }
    /* libcurl also reads "http:/h" and "http:///h" as host h; an operator
     * who wrote either meant something else. The scheme parsed from the
     * very start of url, so its "://" follows at strlen(scheme). */
    size_t n = strlen(scheme);
    if (strncmp(url + n, "://", 3) != 0 || url[n + 3] == '/') {
        snprintf(err, errlen, "no host name right after \"%s://\"", scheme);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && strcmp(port, "0") == 0) {
        snprintf(err, errlen, "the port is not a number from 1 to 65535");
        goto out;
    }
    if (base) {
        bool has_query = curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK;
        bool has_fragment = curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK;
        if (has_query || has_fragment) {
            snprintf(err, errlen,
                     "it has a %s; give the base URL, without '?' or '#' (mdevmig appends its "
                     "paths to it)",
                     has_query ? "query" : "fragment");
            goto out;
        }
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(port);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    return rc;
}

int http_url_check(const char *url, char *err, size_t errlen)
{
    return http_url_parse(url, false, err, errlen);
}

int http_url_check_base(const char *url, char *err, size_t errlen)
{
    return http_url_parse(url, true, err, errlen);
}

int http_url_setting_check(const char *value, const char *name, char *err, size_t errlen)
{
    char why[200];
    if (http_url_check_base(value, why, sizeof why) == 0)
        return 0;
    snprintf(err, errlen, "%s must be an http:// or https:// URL, not '%s': %s", name, value, why);
    return -1;
}

char *http_url_escape(const char *text)
{
    /* No handle needed since libcurl 7.82; the copy is so that callers
     * free() it like everything else they own. */
    char *escaped = curl_easy_escape(NULL, text, 0);
    char *copy = escaped != NULL ? strdup(escaped) : NULL;
    curl_free(escaped);
    return copy;
}
