/*
 * fuzz_http — canned HTTP exchanges for the harnesses of HTTP clients
 * (Placement, Keystone). A fuzz input is read as a script: commands for the
 * client under test, each followed by the replies its requests get in turn.
 * fuzz_http.c stands in for the session half of common/http_client.c
 * (http_session_new, http_session_call, ...), and the harness links it in
 * its place: the client's own code and parsers run unchanged, every reply
 * comes from the script, and no socket is opened.
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

#include "http_client.h"

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

/* The requests of cmd get its replies, in order, whichever session makes
 * them (Placement and its Keystone client share the script). */
void fuzz_http_begin(const struct fuzz_http_script *script, const struct fuzz_http_command *cmd);

/* The session http_session_new made last: a harness takes it right after
 * making a client, to count that client's requests. */
struct http_session *fuzz_http_last_session(void);

/* Requests made on session since fuzz_http_begin (NULL: on any session). */
size_t fuzz_http_requests(const struct http_session *session);

#endif
