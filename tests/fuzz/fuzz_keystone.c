/*
 * fuzz_keystone — Keystone's token reply as common/keystone.c reads it: the
 * X-Subject-Token header line by line as libcurl hands it over, the body's
 * token.expires_at and its time format, and the error body whose message an
 * operator is shown. keystone_issue() and its callbacks are static, so this
 * file #includes keystone.c with libcurl's transfer replaced by fuzz_http:
 * each command makes one public call and every request it makes gets the
 * script's next reply (see fuzz_http.h for the format).
 *
 *   @token   keystone_token(ks, NULL, ...): the cached token or a new one
 *   @renew   keystone_token(ks, the last token handed out, ...): it was refused
 *
 * One client serves every input (keystone_new() zeroes a 1 MiB reply
 * buffer, which costs more than the rest of an input); it is reset to its
 * state as new before each, so no input sees another's token.
 */
#include "fuzz_http.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libcurl's transfer and status, as keystone.c will call them. */
#undef curl_easy_perform
#undef curl_easy_getinfo
#define curl_easy_perform fuzz_http_perform
#define curl_easy_getinfo fuzz_http_getinfo

#include "keystone.c"

static void fuzz_keystone_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_keystone: %s%s%s\n", what, detail != NULL ? ": " : "",
            detail != NULL ? detail : "");
    abort();
}

static struct keystone *fuzz_keystone_default;

/* Clearing what keystone_issue() and keystone_token() change makes the
 * client as keystone_new() left it. */
static struct keystone *fuzz_keystone_fresh_default(void)
{
    struct keystone *ks = fuzz_keystone_default;
    ks->reply_len = 0;
    ks->reply_overflow = false;
    ks->subject[0] = '\0';
    ks->token[0] = '\0';
    ks->expires_at = 0;
    ks->issued = 0;
    fuzz_http_sink(ks->curl, keystone_write, ks, keystone_header, ks);
    return ks;
}

/* One keystone_token call and what must hold after it. */
static void fuzz_keystone_token(struct keystone *ks, const char *stale, char *last, size_t lastlen)
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
        return;
    }
    size_t len = strnlen(out, sizeof out);
    if (len == sizeof out || len == 0)
        fuzz_keystone_fail("the token handed out is empty or not terminated", NULL);
    /* The header value is trimmed of the blanks around it. */
    if (out[0] == ' ' || out[0] == '\t' || isspace((unsigned char)out[len - 1]))
        fuzz_keystone_fail("the token keeps blanks from its header line", out);
    /* A request that succeeded issued exactly one token; none made, none issued. */
    if (after - before != (fuzz_http_requests(ks->curl) > 0 ? 1u : 0u))
        fuzz_keystone_fail("issued count does not match the requests made", NULL);
    /* Refused with the token still cached: never hand the same one back. */
    if (stale != NULL && fuzz_http_requests(ks->curl) == 0 && strcmp(stale, out) == 0)
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
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct keystone_options opts = {
        .auth_url = "http://keystone.invalid/v3",
        .username = "mdevmig",
        .password = "secret",
        .project = "service",
    };
    char err[512];
    fuzz_keystone_default = keystone_new(&opts, err, sizeof err);
    if (fuzz_keystone_default == NULL)
        fuzz_keystone_fail("cannot make a client", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_http_script script;
    if (fuzz_http_script_load(&script, data, size) < 0)
        return 0;
    struct keystone *ks = fuzz_keystone_fresh_default();
    char last[KEYSTONE_TOKEN_MAX] = "";
    for (size_t i = 0; i < script.command_count; i++) {
        const struct fuzz_http_command *cmd = &script.commands[i];
        fuzz_http_begin(&script, cmd);
        if (strcmp(cmd->name, "token") == 0)
            fuzz_keystone_token(ks, NULL, last, sizeof last);
        else if (strcmp(cmd->name, "renew") == 0)
            fuzz_keystone_token(ks, last[0] != '\0' ? last : NULL, last, sizeof last);
    }
    fuzz_http_script_free(&script);
    return 0;
}
