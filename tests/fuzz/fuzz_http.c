/*
 * fuzz_http — the script reader and the libcurl stand-ins behind it. Every
 * chunk handed to a client's callback is an exact-size heap copy, so a
 * callback that reads one byte past what it was given trips AddressSanitizer
 * instead of reading the rest of the script.
 */
#include "fuzz_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The state of the one request loop a harness runs at a time. */
static const struct fuzz_http_script *fuzz_http_script;
static size_t fuzz_http_next, fuzz_http_end, fuzz_http_made;
static long fuzz_http_status;

/* The callbacks of each handle, as curl_easy_setopt would hold them. */
struct fuzz_http_handle {
    CURL *curl;
    fuzz_http_callback write, header;
    void *write_arg, *header_arg;
    size_t made; /* requests since fuzz_http_begin */
};
static struct fuzz_http_handle fuzz_http_handles[FUZZ_HTTP_MAX_HANDLES];

enum fuzz_http_state { FUZZ_HTTP_NONE, FUZZ_HTTP_HEADERS, FUZZ_HTTP_BODY };

/* Ends the reply being read at stop, the start of the line that ends it. */
static void fuzz_http_close(struct fuzz_http_reply *reply, enum fuzz_http_state state, char *stop)
{
    if (reply == NULL)
        return;
    if (state == FUZZ_HTTP_HEADERS) {
        reply->headers_len = (size_t)(stop - reply->headers);
    } else if (state == FUZZ_HTTP_BODY) {
        reply->body_len = (size_t)(stop - reply->body);
        /* The newline before the next '@' or '=' line is the script's, not the body's. */
        if (reply->body_len > 0 && reply->body[reply->body_len - 1] == '\n')
            reply->body_len--;
    }
}

/* "200" is a status; anything else stands for a transport error. */
static long fuzz_http_parse_status(const char *s, const char *end)
{
    if (end > s && end[-1] == '\r')
        end--;
    if (end - s < 1 || end - s > 3)
        return -1;
    long status = 0;
    for (const char *c = s; c < end; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        status = status * 10 + (*c - '0');
    }
    return status;
}

int fuzz_http_script_load(struct fuzz_http_script *script, const uint8_t *data, size_t size)
{
    memset(script, 0, sizeof *script);
    script->text = malloc(size + 1);
    if (script->text == NULL)
        return -1;
    if (size > 0)
        memcpy(script->text, data, size);
    script->text[size] = '\0';
    char *p = script->text;
    char *end = script->text + size;
    struct fuzz_http_command *cmd = NULL;
    struct fuzz_http_reply *reply = NULL;
    enum fuzz_http_state state = FUZZ_HTTP_NONE;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl != NULL ? nl : end;
        char *next = nl != NULL ? nl + 1 : end;
        if (*p == '@') {
            fuzz_http_close(reply, state, p);
            reply = NULL;
            state = FUZZ_HTTP_NONE;
            if (script->command_count == FUZZ_HTTP_MAX_COMMANDS)
                break;
            cmd = &script->commands[script->command_count++];
            *line_end = '\0';
            char *space = strchr(p + 1, ' ');
            if (space != NULL)
                *space = '\0';
            cmd->name = p + 1;
            cmd->arg = space != NULL ? space + 1 : "";
            cmd->first_reply = script->reply_count;
        } else if (*p == '=' && cmd != NULL) {
            fuzz_http_close(reply, state, p);
            if (script->reply_count == FUZZ_HTTP_MAX_REPLIES)
                break;
            reply = &script->replies[script->reply_count++];
            cmd->reply_count++;
            reply->status = fuzz_http_parse_status(p + 1, line_end);
            reply->headers = next;
            reply->body = end;
            state = FUZZ_HTTP_HEADERS;
        } else if (state == FUZZ_HTTP_HEADERS &&
                   (line_end == p || (line_end == p + 1 && *p == '\r'))) {
            reply->headers_len = (size_t)(p - reply->headers);
            reply->body = next;
            state = FUZZ_HTTP_BODY;
        }
        p = next;
    }
    fuzz_http_close(reply, state, p);
    return 0;
}

void fuzz_http_script_free(struct fuzz_http_script *script)
{
    free(script->text);
    memset(script, 0, sizeof *script);
}

void fuzz_http_sink(CURL *curl, fuzz_http_callback write, void *write_arg,
                    fuzz_http_callback header, void *header_arg)
{
    struct fuzz_http_handle *slot = NULL;
    for (size_t i = 0; i < FUZZ_HTTP_MAX_HANDLES && slot == NULL; i++) {
        if (fuzz_http_handles[i].curl == curl || fuzz_http_handles[i].curl == NULL)
            slot = &fuzz_http_handles[i];
    }
    if (slot == NULL) {
        fprintf(stderr, "fuzz_http_sink: more than %d handles\n", FUZZ_HTTP_MAX_HANDLES);
        abort();
    }
    *slot = (struct fuzz_http_handle){curl, write, header, write_arg, header_arg, 0};
}

static struct fuzz_http_handle *fuzz_http_handle_of(CURL *curl)
{
    for (size_t i = 0; i < FUZZ_HTTP_MAX_HANDLES; i++) {
        if (fuzz_http_handles[i].curl == curl)
            return &fuzz_http_handles[i];
    }
    /* A request on a handle the harness did not register: its bug. */
    fprintf(stderr, "fuzz_http_perform: a handle without fuzz_http_sink\n");
    abort();
}

void fuzz_http_begin(const struct fuzz_http_script *script, const struct fuzz_http_command *cmd)
{
    fuzz_http_script = script;
    fuzz_http_next = cmd->first_reply;
    fuzz_http_end = cmd->first_reply + cmd->reply_count;
    fuzz_http_made = 0;
    fuzz_http_status = 0;
    for (size_t i = 0; i < FUZZ_HTTP_MAX_HANDLES; i++)
        fuzz_http_handles[i].made = 0;
}

size_t fuzz_http_requests(CURL *curl)
{
    if (curl == NULL)
        return fuzz_http_made;
    for (size_t i = 0; i < FUZZ_HTTP_MAX_HANDLES; i++) {
        if (fuzz_http_handles[i].curl == curl)
            return fuzz_http_handles[i].made;
    }
    return 0;
}

/* One callback call, as libcurl makes it: 0 when the callback took it all
 * (or there is no callback). */
static int fuzz_http_deliver(fuzz_http_callback fn, void *arg, const char *bytes, size_t n)
{
    if (fn == NULL)
        return 0;
    char *copy = malloc(n);
    if (copy == NULL)
        abort();
    memcpy(copy, bytes, n);
    size_t taken = fn(copy, 1, n, arg);
    free(copy);
    return taken == n ? 0 : -1;
}

/* The status line, each header line with CRLF, the empty line: one call
 * each, as libcurl makes them. libcurl (7.88 as Debian 12 ships it) fails
 * the transfer on a header holding a NUL byte ("Nul byte in header"), so no
 * client ever sees one; nor does one here. */
static CURLcode fuzz_http_deliver_headers(const struct fuzz_http_handle *h,
                                          const struct fuzz_http_reply *reply)
{
    char status[64];
    int n = snprintf(status, sizeof status, "HTTP/1.1 %03ld Fuzz\r\n", reply->status);
    if (fuzz_http_deliver(h->header, h->header_arg, status, (size_t)n) < 0)
        return CURLE_WRITE_ERROR;
    const char *p = reply->headers;
    const char *end = reply->headers + reply->headers_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl != NULL ? nl : end) - p);
        if (memchr(p, '\0', len) != NULL)
            return CURLE_WEIRD_SERVER_REPLY;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        char *line = malloc(len + 2);
        if (line == NULL)
            abort();
        memcpy(line, p, len);
        memcpy(line + len, "\r\n", 2);
        int rc = fuzz_http_deliver(h->header, h->header_arg, line, len + 2);
        free(line);
        if (rc < 0)
            return CURLE_WRITE_ERROR;
        p = nl != NULL ? nl + 1 : end;
    }
    if (fuzz_http_deliver(h->header, h->header_arg, "\r\n", 2) < 0)
        return CURLE_WRITE_ERROR;
    return CURLE_OK;
}

CURLcode fuzz_http_perform(CURL *curl)
{
    struct fuzz_http_handle *h = fuzz_http_handle_of(curl);
    h->made++;
    fuzz_http_made++;
    fuzz_http_status = 0;
    if (fuzz_http_script == NULL || fuzz_http_next >= fuzz_http_end)
        return CURLE_COULDNT_CONNECT;
    const struct fuzz_http_reply *reply = &fuzz_http_script->replies[fuzz_http_next++];
    if (reply->status < 0)
        return CURLE_OPERATION_TIMEDOUT;
    fuzz_http_status = reply->status;
    CURLcode cc = fuzz_http_deliver_headers(h, reply);
    if (cc != CURLE_OK)
        return cc;
    for (size_t off = 0; off < reply->body_len;) {
        size_t n = reply->body_len - off;
        if (n > CURL_MAX_WRITE_SIZE)
            n = CURL_MAX_WRITE_SIZE;
        if (fuzz_http_deliver(h->write, h->write_arg, reply->body + off, n) < 0)
            return CURLE_WRITE_ERROR;
        off += n;
    }
    return CURLE_OK;
}

CURLcode fuzz_http_getinfo(CURL *curl, CURLINFO info, ...)
{
    (void)curl;
    if (info != CURLINFO_RESPONSE_CODE) {
        /* A client that asks for more needs this stand-in taught it. */
        fprintf(stderr, "fuzz_http_getinfo: CURLINFO %d is not simulated\n", (int)info);
        abort();
    }
    va_list ap;
    va_start(ap, info);
    *va_arg(ap, long *) = fuzz_http_status;
    va_end(ap);
    return CURLE_OK;
}
