/*
 * fuzz_http — the script reader and the stand-in for http_client.h's
 * sessions behind it. A call gets the script's next reply as
 * http_session_call would hand it over: the body in an exact-size heap
 * copy (so a client that reads past response_len + 1 trips
 * AddressSanitizer), the status, and the header the call asked for picked
 * from the reply's lines the way http_client.c's header callback does.
 * What a session is asked to send is checked too: a URL libcurl can parse,
 * a method it knows, a readable body and header list.
 */
#include "fuzz_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The one request loop a harness runs at a time: the replies of the
 * current command, and an epoch so every session's count restarts at
 * fuzz_http_begin without a list of sessions. */
static const struct fuzz_http_script *fuzz_http_script;
static size_t fuzz_http_next, fuzz_http_end, fuzz_http_made;
static unsigned long fuzz_http_epoch;
static struct http_session *fuzz_http_last;

/* What a real session keeps that changes what a call returns. */
struct http_session {
    size_t max_response;
    bool truncate;
    long timeout_ms;
    char *ca_file, *cert_file, *key_file;
    unsigned long epoch; /* of made */
    size_t made;         /* requests since fuzz_http_begin, when epoch is current */
};

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

void fuzz_http_begin(const struct fuzz_http_script *script, const struct fuzz_http_command *cmd)
{
    fuzz_http_script = script;
    fuzz_http_next = cmd->first_reply;
    fuzz_http_end = cmd->first_reply + cmd->reply_count;
    fuzz_http_made = 0;
    fuzz_http_epoch++;
}

struct http_session *fuzz_http_last_session(void)
{
    return fuzz_http_last;
}

size_t fuzz_http_requests(const struct http_session *session)
{
    if (session == NULL)
        return fuzz_http_made;
    return session->epoch == fuzz_http_epoch ? session->made : 0;
}

/* A client's misuse of the API is the harness's finding, not a reply. */
static void fuzz_http_misuse(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_http: %s%s%s\n", what, detail != NULL ? ": " : "",
            detail != NULL ? detail : "");
    abort();
}

static char *fuzz_http_strdup_opt(const char *s)
{
    if (s == NULL)
        return NULL;
    char *copy = strdup(s);
    if (copy == NULL)
        abort();
    return copy;
}

struct http_session *http_session_new(const struct http_session_options *opts, char *err,
                                      size_t errlen)
{
    struct http_session_options zero = {0};
    const struct http_session_options *o = opts != NULL ? opts : &zero;
    if (o->connect_timeout_ms < 0 || o->timeout_ms < 0) {
        snprintf(err, errlen, "HTTP session timeouts must not be negative");
        return NULL;
    }
    struct http_session *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->max_response = o->max_response > 0 ? o->max_response : HTTP_CLIENT_MAX_RESPONSE;
    s->truncate = o->truncate_response;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    if (o->user_agent != NULL)
        (void)strlen(o->user_agent);
    if (http_session_set_tls(s, o->ca_file, o->client_cert_file, o->client_key_file, err, errlen) <
        0) {
        free(s);
        return NULL;
    }
    fuzz_http_last = s;
    return s;
}

void http_session_free(struct http_session *s)
{
    if (s == NULL)
        return;
    if (fuzz_http_last == s)
        fuzz_http_last = NULL;
    free(s->ca_file);
    free(s->cert_file);
    free(s->key_file);
    free(s);
}

int http_session_set_tls(struct http_session *s, const char *ca_file, const char *client_cert_file,
                         const char *client_key_file, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    free(s->ca_file);
    free(s->cert_file);
    free(s->key_file);
    s->ca_file = fuzz_http_strdup_opt(ca_file);
    s->cert_file = fuzz_http_strdup_opt(client_cert_file);
    s->key_file = fuzz_http_strdup_opt(client_key_file);
    return 0;
}

static void fuzz_http_wipe_free(char *text)
{
    if (text != NULL)
        explicit_bzero(text, strlen(text));
    free(text);
}

void http_calls_reset(struct http_call *calls, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct http_call *call = &calls[i];
        free(call->response);
        call->response = NULL;
        call->response_len = 0;
        fuzz_http_wipe_free(call->reply_header_value);
        call->reply_header_value = NULL;
        call->too_large = false;
        call->status = 0;
        call->error[0] = '\0';
        call->elapsed_us = 0;
    }
}

/* "host:port" of url, as http_client.c puts it before a failure; aborts on
 * a URL libcurl refuses, which a client must never build. */
static void fuzz_http_hostport(const char *url, char *out, size_t outlen)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    if (u == NULL)
        abort();
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        fuzz_http_misuse("a request to a URL libcurl refuses", url);
    snprintf(out, outlen, "%s:%s", host, port);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

/* What the client asks to send must be what http_client.h allows. */
static void fuzz_http_check_request(const struct http_call *call)
{
    if (call->url == NULL)
        fuzz_http_misuse("a request without a URL", NULL);
    const char *m = call->method;
    if (m != NULL && strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0 && strcmp(m, "PUT") != 0 &&
        strcmp(m, "DELETE") != 0)
        fuzz_http_misuse("a method http_client.h does not take", m);
    /* Read every byte libcurl would send, so ASan sees a body too short. */
    unsigned sum = 0;
    for (size_t i = 0; call->body != NULL && i < call->body_len; i++)
        sum += (unsigned char)call->body[i];
    for (const char *const *h = call->headers; h != NULL && *h != NULL; h++)
        sum += (unsigned)strlen(*h);
    if (call->reply_header != NULL)
        sum += (unsigned)strlen(call->reply_header);
    (void)sum;
}

/* http_client.c's header callback, on one line as libcurl hands it over
 * (with its CRLF): the value of call->reply_header, blanks around it
 * dropped; a later one replaces an earlier one. */
static void fuzz_http_header(struct http_call *call, const char *data, size_t n)
{
    const char *name = call->reply_header;
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || n <= len || data[len] != ':' || strncasecmp(data, name, len) != 0)
        return;
    const char *value = data + len + 1;
    const char *end = data + n;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && isspace((unsigned char)end[-1]))
        end--;
    char *copy = strndup(value, (size_t)(end - value));
    if (copy == NULL)
        abort();
    fuzz_http_wipe_free(call->reply_header_value);
    call->reply_header_value = copy;
}

/* Every header line of reply through fuzz_http_header, each in a heap
 * copy of its own; false on a line holding a NUL byte, which libcurl (7.88
 * as Debian 12 ships it) fails the transfer over before any callback. */
static bool fuzz_http_headers(struct http_call *call, const struct fuzz_http_reply *reply)
{
    const char *p = reply->headers;
    const char *end = reply->headers + reply->headers_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl != NULL ? nl : end) - p);
        if (memchr(p, '\0', len) != NULL)
            return false;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        char *line = malloc(len + 2);
        if (line == NULL)
            abort();
        memcpy(line, p, len);
        memcpy(line + len, "\r\n", 2);
        fuzz_http_header(call, line, len + 2);
        free(line);
        p = nl != NULL ? nl + 1 : end;
    }
    return true;
}

/* A failed call as http_client.c leaves one: no response, no header. */
static int fuzz_http_fail(struct http_call *call, const char *hostport, const char *why)
{
    http_calls_reset(call, 1);
    snprintf(call->error, sizeof call->error, "%s: %s", hostport, why);
    return -1;
}

int http_session_call(struct http_session *s, struct http_call *call)
{
    http_calls_reset(call, 1);
    fuzz_http_check_request(call);
    char hostport[300];
    fuzz_http_hostport(call->url, hostport, sizeof hostport);
    if (s->epoch != fuzz_http_epoch) {
        s->epoch = fuzz_http_epoch;
        s->made = 0;
    }
    s->made++;
    fuzz_http_made++;
    if (call->progress != NULL)
        call->progress(call->progress_ctx);
    if (fuzz_http_script == NULL || fuzz_http_next >= fuzz_http_end)
        return fuzz_http_fail(call, hostport, "Couldn't connect to server (Connection refused)");
    const struct fuzz_http_reply *reply = &fuzz_http_script->replies[fuzz_http_next++];
    char why[128];
    if (reply->status < 0) {
        snprintf(why, sizeof why, "timed out after %ld ms waiting for the response",
                 call->timeout_ms > 0 ? call->timeout_ms : s->timeout_ms);
        return fuzz_http_fail(call, hostport, why);
    }
    if (!fuzz_http_headers(call, reply))
        return fuzz_http_fail(call, hostport, "Nul byte in header");
    size_t keep = reply->body_len;
    if (keep > s->max_response) {
        if (!s->truncate) {
            snprintf(why, sizeof why, "response larger than %zu bytes", s->max_response);
            fuzz_http_fail(call, hostport, why);
            call->too_large = true;
            return -1;
        }
        keep = s->max_response;
    }
    call->response = malloc(keep + 1);
    if (call->response == NULL)
        abort();
    if (keep > 0)
        memcpy(call->response, reply->body, keep);
    call->response[keep] = '\0';
    call->response_len = keep;
    call->status = (int)reply->status;
    return 0;
}
