/*
 * fuzz_http — canned HTTP exchanges for the harnesses of HTTP clients
 * (Placement, Keystone). A fuzz input is read as a script: commands for the
 * client under test, each followed by the replies its requests get in turn.
 * The harness #includes the client's .c file with curl_easy_perform and
 * curl_easy_getinfo renamed to the functions below, so every reply reaches
 * the client's own callbacks and parsers exactly as libcurl would hand it
 * over, and no socket is opened.
 *
 * Script format (lines; anything before the first '@' is a comment):
 *
 *   @NAME ARG          a command for the harness; ARG runs to the line's end
 *   =STATUS            a reply to the command's next request: STATUS is the
 *                      HTTP status, or a word ("timeout") for a transport
 *                      error; then header lines ("Name: value"), an empty
 *                      line, and the body up to the next '@' or '=' line
 *
 * A request with no reply left fails as a refused connection; a header line
 * holding a NUL byte fails it as libcurl does ("Nul byte in header").
 */
#ifndef MDEVMIG_FUZZ_HTTP_H
#define MDEVMIG_FUZZ_HTTP_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds that keep one input fast whatever the fuzzer makes of it. */
#define FUZZ_HTTP_MAX_COMMANDS 16
#define FUZZ_HTTP_MAX_REPLIES  64

struct fuzz_http_reply {
    long status;   /* -1: a transport error, not an HTTP reply */
    char *headers; /* "Name: value" lines, each ending in '\n' */
    size_t headers_len;
    char *body;
    size_t body_len;
};

struct fuzz_http_command {
    const char *name; /* NUL-terminated, inside the script's text */
    const char *arg;  /* "" when none */
    size_t first_reply;
    size_t reply_count;
};

struct fuzz_http_script {
    char *text; /* the input, copied and cut up in place */
    struct fuzz_http_command commands[FUZZ_HTTP_MAX_COMMANDS];
    size_t command_count;
    struct fuzz_http_reply replies[FUZZ_HTTP_MAX_REPLIES];
    size_t reply_count;
};

/* Parse data into script; -1 only when out of memory. */
int fuzz_http_script_load(struct fuzz_http_script *script, const uint8_t *data, size_t size);
void fuzz_http_script_free(struct fuzz_http_script *script);

/* Where the bytes of a reply to a request on curl go, as its
 * CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION say; header may be NULL.
 * Several handles may share a script (Placement and its Keystone client):
 * each request takes the next reply, whichever handle makes it. */
typedef size_t (*fuzz_http_callback)(char *data, size_t size, size_t nmemb, void *arg);
#define FUZZ_HTTP_MAX_HANDLES 4
void fuzz_http_sink(CURL *curl, fuzz_http_callback write, void *write_arg,
                    fuzz_http_callback header, void *header_arg);

/* The requests of cmd get its replies, in order. */
void fuzz_http_begin(const struct fuzz_http_script *script, const struct fuzz_http_command *cmd);

/* Requests made on curl since fuzz_http_begin (NULL: on any handle). */
size_t fuzz_http_requests(CURL *curl);

/* Stand-ins for curl_easy_perform and curl_easy_getinfo (only
 * CURLINFO_RESPONSE_CODE is answered). */
CURLcode fuzz_http_perform(CURL *curl);
CURLcode fuzz_http_getinfo(CURL *curl, CURLINFO info, ...);

#endif
