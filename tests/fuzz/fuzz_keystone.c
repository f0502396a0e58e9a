/*
 * fuzz_keystone — Keystone's token reply as common/keystone.c reads it: the
 * X-Subject-Token header's value as the HTTP session hands it over, the
 * body's token.expires_at and its time format, the error body whose
 * message an operator is shown, and the cache that decides when to ask
 * again. keystone.c is linked as it is; fuzz_http.c stands in for its HTTP
 * session (http_client.h): each command makes one public call and every
 * request it makes gets the script's next reply (see fuzz_http.h for the
 * format).
 *
 *   @token   keystone_token(ks, NULL, ...): the cached token or a new one
 *   @renew   keystone_token(ks, the last token handed out, ...): it was refused
 *
 * The client is made anew for each input (cheap with no libcurl handle
 * behind its session), so no input sees another's token.
 */
#include "fuzz_http.h"

#include "keystone.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_keystone_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_keystone: %s%s%s\n", what, detail != NULL ? ": " : "",
            detail != NULL ? detail : "");
    abort();
}

/* One keystone_token call and what must hold after it; http is the
 * client's session, whose requests are Keystone's. */
static void fuzz_keystone_token(struct keystone *ks, const struct http_session *http,
                                const char *stale, char *last, size_t lastlen)
{
    unsigned long before = keystone_issued(ks);
    char out[KEYSTONE_TOKEN_MAX];
    char err[1024] = "";
    memset(out, 0x55, sizeof out);
    int rc = keystone_token(ks, stale, out, sizeof out, err, sizeof err);
    unsigned long after = keystone_issued(ks);
    if (rc != 0 && rc != -1)
        fuzz_keystone_fail("return value out of range", NULL);
    if (rc < 0) {
        if (err[0] == '\0')
            fuzz_keystone_fail("failed without a message", NULL);
        if (after != before)
            fuzz_keystone_fail("a token counted as issued on a failure", NULL);
        return;
    }
    size_t len = strnlen(out, sizeof out);
    if (len == sizeof out || len == 0)
        fuzz_keystone_fail("the token handed out is empty or not terminated", NULL);
    /* The session trims the header value (http_client.c, mirrored in
     * fuzz_http.c); keystone.c must hand it out as it came. */
    if (out[0] == ' ' || out[0] == '\t' || isspace((unsigned char)out[len - 1]))
        fuzz_keystone_fail("the token keeps blanks from its header line", out);
    /* It goes out again in Placement's X-Auth-Token header: a CR or any
     * control byte would write a header of its own. */
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)out[i] <= 0x20 || (unsigned char)out[i] >= 0x7f)
            fuzz_keystone_fail("the token holds a control, space or non-ASCII byte", NULL);
    }
    /* A request that succeeded issued exactly one token; none made, none issued. */
    if (after - before != (fuzz_http_requests(http) > 0 ? 1u : 0u))
        fuzz_keystone_fail("issued count does not match the requests made", NULL);
    /* Refused with the token still cached: never hand the same one back. */
    if (stale != NULL && fuzz_http_requests(http) == 0 && strcmp(stale, out) == 0)
        fuzz_keystone_fail("renewal handed back the refused token", out);
    snprintf(last, lastlen, "%s", out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_keystone", LOG_LEVEL_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_http_script script;
    if (fuzz_http_script_load(&script, data, size) < 0)
        return 0;
    struct keystone_options opts = {
        .auth_url = "http://keystone.invalid/v3",
        .username = "mdevmig",
        .password = "secret",
        .project = "service",
    };
    char err[512];
    struct keystone *ks = keystone_new(&opts, err, sizeof err);
    if (ks == NULL)
        fuzz_keystone_fail("cannot make a client", err);
    const struct http_session *http = fuzz_http_last_session();
    char last[KEYSTONE_TOKEN_MAX] = "";
    for (size_t i = 0; i < script.command_count; i++) {
        const struct fuzz_http_command *cmd = &script.commands[i];
        fuzz_http_begin(&script, cmd);
        if (strcmp(cmd->name, "token") == 0)
            fuzz_keystone_token(ks, http, NULL, last, sizeof last);
        else if (strcmp(cmd->name, "renew") == 0)
            fuzz_keystone_token(ks, http, last[0] != '\0' ? last : NULL, last, sizeof last);
    }
    keystone_free(ks);
    fuzz_http_script_free(&script);
    return 0;
}
