/*
 * placement — the Placement client: one HTTP session per client
 * (http_client.h: one kept-alive connection, reused call after call), a
 * mutex that serialises calls on it, JSON through jansson. Every request carries
 * "OpenStack-API-Version: placement 1.39" and X-Auth-Token; with Keystone
 * a 401 gets one retry with a new token, since a token can be revoked or
 * expire early (Keystone restarted with new fernet keys, clock skew).
 */
#include "placement.h"

#include "http_client.h"
#include "http_url.h"
#include "keystone.h"
#include "log.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLACEMENT_CONNECT_TIMEOUT_MS 2000L
#define PLACEMENT_TIMEOUT_MS         10000L
/* Listing 10,000 providers is about 8 MB of JSON; refuse beyond this. */
#define PLACEMENT_MAX_RESPONSE (64 * 1024 * 1024)

struct placement_root {
    char uuid[PLACEMENT_UUID_LEN];
    char *name; /* NULL: a free slot */
};

struct placement {
    pthread_mutex_t lock;
    bool lock_ready;
    char *base_url; /* without trailing '/' */
    char *token;    /* static token, or NULL */
    struct keystone *keystone;
    struct http_session *http;
    struct placement_root *roots; /* see placement_roots_hash */
    size_t roots_cap, roots_count;
};

static void placement_fail(struct placement_error *perr, long status, const char *code,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void placement_fail(struct placement_error *perr, long status, const char *code,
                           const char *fmt, ...)
{
    perr->status = status;
    snprintf(perr->code, sizeof perr->code, "%s", code != NULL ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(perr->message, sizeof perr->message, fmt, ap);
    va_end(ap);
}

static void placement_ok(struct placement_error *perr)
{
    perr->status = 0;
    perr->code[0] = '\0';
    perr->message[0] = '\0';
}

bool placement_error_is_conflict(const struct placement_error *perr)
{
    return perr->status == 409 && strcmp(perr->code, PLACEMENT_CODE_CONCURRENT_UPDATE) == 0;
}

/* Placement's error body is {"errors": [{"status", "title", "detail",
 * "code", "request_id"}]}; keep the first code and detail. Anything else
 * (a proxy's HTML page) is shown as its first bytes, control bytes masked. */
static void placement_http_error(const struct http_call *call, const char *what,
                                 struct placement_error *perr)
{
    long status = call->status;
    json_t *json = json_loadb(call->response, call->response_len, 0, NULL);
    json_t *first = json_array_get(json_object_get(json, "errors"), 0);
    const char *code = json_string_value(json_object_get(first, "code"));
    const char *detail = json_string_value(json_object_get(first, "detail"));
    char text[600];
    if (detail != NULL) {
        /* webob puts its generic text and a blank line before the detail. */
        const char *cut = strstr(detail, "\n\n");
        const char *start = cut != NULL ? cut + 2 : detail;
        while (*start == ' ')
            start++;
        snprintf(text, sizeof text, "%s", start);
        size_t n = strlen(text);
        while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\n'))
            text[--n] = '\0';
    } else {
        size_t n = 0;
        for (size_t i = 0; i < call->response_len && n + 1 < sizeof text && n < 200; i++) {
            unsigned char ch = (unsigned char)call->response[i];
            text[n++] = isprint(ch) ? (char)ch : ' ';
        }
        text[n] = '\0';
        if (n == 0)
            snprintf(text, sizeof text, "no detail given");
    }
    for (char *c = text; *c != '\0'; c++) {
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    }
    if (code != NULL)
        placement_fail(perr, status, code, "Placement %s: HTTP %ld (%s): %s", what, status, code,
                       text);
    else
        placement_fail(perr, status, NULL, "Placement %s: HTTP %ld: %s", what, status, text);
    json_decref(json);
}

/* The token to send: the static one, or Keystone's (renewed when stale
 * names the one just refused). */
static int placement_auth_header(struct placement *pl, const char *stale, char *out, size_t outlen,
                                 char *token_out, size_t token_outlen, struct placement_error *perr)
{
    char token[KEYSTONE_TOKEN_MAX];
    if (pl->keystone != NULL) {
        char err[512];
        if (keystone_token(pl->keystone, stale, token, sizeof token, err, sizeof err) < 0) {
            placement_fail(perr, 0, NULL, "Keystone: %s", err);
            return -1;
        }
    } else {
        snprintf(token, sizeof token, "%s", pl->token);
    }
    int n = snprintf(out, outlen, "X-Auth-Token: %s", token);
    snprintf(token_out, token_outlen, "%s", token);
    explicit_bzero(token, sizeof token);
    if (n < 0 || (size_t)n >= outlen) {
        placement_fail(perr, 0, NULL, "the token is too long");
        return -1;
    }
    return 0;
}

/* Reads a 2xx reply's body as it came (a listing, read a provider at a
 * time): 0, or -1 with perr filled. */
typedef int (*placement_reader)(const char *body, size_t len, void *ctx, const char *what,
                                struct placement_error *perr);

/* One request. body: JSON to send (PUT/POST) or NULL. On a 2xx returns 0
 * with the body handed to reader when one is given, else parsed into
 * *reply (NULL for an empty body; reply may be NULL when unwanted);
 * otherwise -1 with perr filled. what names the call in messages. Caller
 * holds pl->lock. */
static int placement_request(struct placement *pl, const char *method, const char *path,
                             json_t *body, json_t **reply, placement_reader reader, void *ctx,
                             const char *what, struct placement_error *perr)
{
    if (reply != NULL)
        *reply = NULL;
    char *text = NULL;
    if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        return -1;
    }
    char *url = NULL;
    if (asprintf(&url, "%s%s", pl->base_url, path) < 0) {
        free(text);
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        return -1;
    }
    char stale[KEYSTONE_TOKEN_MAX] = "";
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        char auth[KEYSTONE_TOKEN_MAX + 32];
        if (placement_auth_header(pl, attempt == 0 ? NULL : stale, auth, sizeof auth, stale,
                                  sizeof stale, perr) < 0)
            break;
        const char *lines[] = {auth,
                               "OpenStack-API-Version: placement " PLACEMENT_MICROVERSION,
                               "Accept: application/json",
                               "Content-Type: application/json",
                               "Expect:",
                               NULL};
        struct http_call call = {
            .url = url,
            .method = method,
            .body = text,
            .body_len = text != NULL ? strlen(text) : 0,
            .headers = lines,
        };
        int called = http_session_call(pl->http, &call);
        explicit_bzero(auth, sizeof auth);
        /* Once more with a new token: the one just refused may be revoked. */
        bool again = called == 0 && call.status == 401 && pl->keystone != NULL && attempt == 0;
        json_error_t jerr;
        if (called < 0) {
            placement_fail(perr, 0, NULL, "Placement %s: %s", what, call.error);
        } else if (again) {
            /* the loop goes round */
        } else if (call.status < 200 || call.status > 299) {
            placement_http_error(&call, what, perr);
        } else if (reader != NULL) {
            rc = reader(call.response, call.response_len, ctx, what, perr);
            if (rc == 0)
                placement_ok(perr);
        } else if (reply != NULL && call.response_len > 0 &&
                   (*reply = json_loadb(call.response, call.response_len, 0, &jerr)) == NULL) {
            placement_fail(perr, call.status, NULL, "Placement %s: reply is not JSON: %s", what,
                           jerr.text);
        } else {
            placement_ok(perr);
            rc = 0;
        }
        http_calls_reset(&call, 1);
        if (!again)
            break;
    }
    explicit_bzero(stale, sizeof stale);
    free(url);
    free(text);
    return rc;
}

static int placement_call(struct placement *pl, const char *method, const char *path, json_t *body,
                          json_t **reply, const char *what, struct placement_error *perr)
{
    return placement_request(pl, method, path, body, reply, NULL, NULL, what, perr);
}

static int placement_copy_field(json_t *obj, const char *key, char *out, size_t outlen,
                                bool optional)
{
    json_t *v = json_object_get(obj, key);
    if ((v == NULL || json_is_null(v)) && optional) {
        out[0] = '\0';
        return 0;
    }
    const char *s = json_string_value(v);
    if (s == NULL || strlen(s) >= outlen)
        return -1;
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int placement_parse_provider(json_t *obj, struct placement_provider *out)
{
    json_t *gen = json_object_get(obj, "generation");
    if (placement_copy_field(obj, "uuid", out->uuid, sizeof out->uuid, false) < 0 ||
        placement_copy_field(obj, "name", out->name, sizeof out->name, false) < 0 ||
        placement_copy_field(obj, "parent_provider_uuid", out->parent_uuid, sizeof out->parent_uuid,
                             true) < 0 ||
        placement_copy_field(obj, "root_provider_uuid", out->root_uuid, sizeof out->root_uuid,
                             true) < 0 ||
        !json_is_integer(gen))
        return -1;
    out->generation = json_integer_value(gen);
    if (out->root_uuid[0] == '\0')
        memcpy(out->root_uuid, out->uuid, sizeof out->uuid);
    return 0;
}

/* {"resource_providers": [...]} into a list. */
static int placement_parse_providers(json_t *reply, struct placement_provider_list *out,
                                     const char *what, struct placement_error *perr)
{
    json_t *arr = json_object_get(reply, "resource_providers");
    if (!json_is_array(arr)) {
        placement_fail(perr, 200, NULL, "Placement %s: reply has no resource_providers list", what);
        return -1;
    }
    size_t n = json_array_size(arr);
    out->items = calloc(n + 1, sizeof *out->items);
    out->count = 0;
    if (out->items == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (placement_parse_provider(json_array_get(arr, i), &out->items[i]) < 0) {
            placement_fail(perr, 200, NULL, "Placement %s: provider %zu in the reply is malformed",
                           what, i);
            placement_provider_list_free(out);
            return -1;
        }
        out->count = i + 1;
    }
    return 0;
}

/*
 * A listing read a provider at a time. jansson has no streaming parser,
 * and a tree of a whole listing is what a large reply cost most: at 10,000
 * providers (about 8 MB) building and freeing it was two thirds of a
 * select's CPU. Here only the framing, {"resource_providers": [ ... ]}, is
 * walked by hand; each provider, and any other member, is one json_loadb
 * of its own bytes (JSON_DISABLE_EOF_CHECK stops it at the value's end and
 * says where that is), handed on and freed before the next is read.
 */
struct placement_scan {
    const char *at, *end;
};

static void placement_scan_space(struct placement_scan *s)
{
    while (s->at < s->end && (*s->at == ' ' || *s->at == '\t' || *s->at == '\n' || *s->at == '\r'))
        s->at++;
}

/* Consumes c (after white space) when it is next. */
static bool placement_scan_take(struct placement_scan *s, char c)
{
    placement_scan_space(s);
    if (s->at < s->end && *s->at == c) {
        s->at++;
        return true;
    }
    return false;
}

/* The next JSON value, decoded by jansson, and s moved past it; NULL
 * when there is none well-formed. */
static json_t *placement_scan_value(struct placement_scan *s)
{
    placement_scan_space(s);
    if (s->at >= s->end)
        return NULL;
    json_error_t jerr;
    json_t *v = json_loadb(s->at, (size_t)(s->end - s->at),
                           JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
    if (v != NULL && (jerr.position <= 0 || (size_t)jerr.position > (size_t)(s->end - s->at))) {
        json_decref(v);
        return NULL;
    }
    if (v != NULL)
        s->at += jerr.position;
    return v;
}

/* Each provider of a listing, in order, as it is read. each returns 0, or
 * -1 with perr filled to stop the reading. */
typedef int (*placement_each)(const struct placement_provider *p, void *ctx, const char *what,
                              struct placement_error *perr);

static int placement_read_providers(const char *body, size_t len, placement_each each, void *ctx,
                                    const char *what, struct placement_error *perr)
{
    struct placement_scan s = {body, body + len};
    bool listed = false;
    size_t index = 0;
    if (!placement_scan_take(&s, '{'))
        goto malformed;
    if (!placement_scan_take(&s, '}')) {
        do {
            json_t *key = placement_scan_value(&s);
            bool named = json_is_string(key);
            bool ours = named && strcmp(json_string_value(key), "resource_providers") == 0;
            json_decref(key);
            if (!named || !placement_scan_take(&s, ':') || (ours && listed))
                goto malformed;
            if (!ours) {
                json_t *skipped = placement_scan_value(&s);
                if (skipped == NULL)
                    goto malformed;
                json_decref(skipped);
                continue;
            }
            if (!placement_scan_take(&s, '['))
                break; /* not a list: said below */
            listed = true;
            if (placement_scan_take(&s, ']'))
                continue;
            do {
                json_t *item = placement_scan_value(&s);
                if (item == NULL)
                    goto malformed;
                struct placement_provider p;
                int parsed = placement_parse_provider(item, &p);
                json_decref(item);
                if (parsed < 0) {
                    placement_fail(perr, 200, NULL,
                                   "Placement %s: provider %zu in the reply is malformed", what,
                                   index);
                    return -1;
                }
                if (each(&p, ctx, what, perr) < 0)
                    return -1;
                index++;
            } while (placement_scan_take(&s, ','));
            if (!placement_scan_take(&s, ']'))
                goto malformed;
        } while (placement_scan_take(&s, ','));
        if (!listed) {
            placement_fail(perr, 200, NULL, "Placement %s: reply has no resource_providers list",
                           what);
            return -1;
        }
        if (!placement_scan_take(&s, '}'))
            goto malformed;
    }
    placement_scan_space(&s);
    if (s.at != s.end)
        goto malformed;
    if (!listed) {
        placement_fail(perr, 200, NULL, "Placement %s: reply has no resource_providers list", what);
        return -1;
    }
    return 0;
malformed:
    placement_fail(perr, 200, NULL,
                   "Placement %s: reply is not JSON (or not a listing) near byte %zu", what,
                   (size_t)(s.at - body));
    return -1;
}

/* A query value or path segment, percent-encoded; free() it. */
static char *placement_escape(const char *value)
{
    return http_url_escape(value);
}

int placement_provider_find(struct placement *pl, const char *name, struct placement_provider *out,
                            struct placement_error *perr)
{
    pthread_mutex_lock(&pl->lock);
    char what[PLACEMENT_NAME_MAX + 64];
    snprintf(what, sizeof what, "finding provider \"%s\"", name);
    char *esc = placement_escape(name);
    char *path = NULL;
    int rc = -1;
    json_t *reply = NULL;
    if (esc == NULL || asprintf(&path, "/resource_providers?name=%s", esc) < 0) {
        path = NULL;
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        goto out;
    }
    if (placement_call(pl, "GET", path, NULL, &reply, what, perr) < 0)
        goto out;
    struct placement_provider_list list = {0};
    if (placement_parse_providers(reply, &list, what, perr) < 0)
        goto out;
    rc = 0;
    if (list.count > 0) {
        *out = list.items[0];
        rc = 1;
    }
    placement_provider_list_free(&list);
out:
    json_decref(reply);
    free(path);
    free(esc);
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

int placement_provider_create(struct placement *pl, const char *name, const char *parent_uuid,
                              struct placement_provider *out, struct placement_error *perr)
{
    pthread_mutex_lock(&pl->lock);
    char what[PLACEMENT_NAME_MAX + 64];
    snprintf(what, sizeof what, "creating provider \"%s\"", name);
    int rc = -1;
    json_t *reply = NULL;
    json_t *body = json_pack("{s:s}", "name", name);
    if (body != NULL && parent_uuid != NULL && parent_uuid[0] != '\0' &&
        json_object_set_new(body, "parent_provider_uuid", json_string(parent_uuid)) < 0) {
        json_decref(body);
        body = NULL;
    }
    if (body == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        goto out;
    }
    if (placement_call(pl, "POST", "/resource_providers", body, &reply, what, perr) < 0)
        goto out;
    /* Since 1.20 the reply is the new provider. */
    if (placement_parse_provider(reply, out) < 0) {
        placement_fail(perr, 200, NULL, "Placement %s: reply is not a resource provider", what);
        goto out;
    }
    rc = 0;
out:
    json_decref(body);
    json_decref(reply);
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

int placement_provider_tree(struct placement *pl, const char *uuid,
                            struct placement_provider_list *out, struct placement_error *perr)
{
    pthread_mutex_lock(&pl->lock);
    char what[96], path[96];
    snprintf(what, sizeof what, "listing the tree of provider %s", uuid);
    int rc = -1;
    json_t *reply = NULL;
    char *esc = placement_escape(uuid);
    if (esc == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        goto out;
    }
    snprintf(path, sizeof path, "/resource_providers?in_tree=%s", esc);
    free(esc);
    if (placement_call(pl, "GET", path, NULL, &reply, what, perr) < 0)
        goto out;
    rc = placement_parse_providers(reply, out, what, perr);
out:
    json_decref(reply);
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

/* {"traits": [...], "resource_provider_generation": N} */
static int placement_parse_traits(json_t *reply, struct placement_traits *out, const char *what,
                                  struct placement_error *perr)
{
    json_t *arr = json_object_get(reply, "traits");
    json_t *gen = json_object_get(reply, "resource_provider_generation");
    if (!json_is_array(arr) || !json_is_integer(gen)) {
        placement_fail(perr, 200, NULL,
                       "Placement %s: reply lacks traits or resource_provider_generation", what);
        return -1;
    }
    size_t n = json_array_size(arr);
    out->names = calloc(n + 1, sizeof *out->names);
    out->count = 0;
    out->generation = json_integer_value(gen);
    if (out->names == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        out->names[i] = s != NULL ? strdup(s) : NULL;
        if (out->names[i] == NULL) {
            placement_fail(perr, 200, NULL, "Placement %s: trait %zu is not a string", what, i);
            placement_traits_free(out);
            return -1;
        }
        out->count = i + 1;
    }
    return 0;
}

int placement_traits_get(struct placement *pl, const char *uuid, struct placement_traits *out,
                         struct placement_error *perr)
{
    pthread_mutex_lock(&pl->lock);
    char what[96], path[96];
    snprintf(what, sizeof what, "reading traits of provider %s", uuid);
    int rc = -1;
    json_t *reply = NULL;
    char *esc = placement_escape(uuid);
    if (esc == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        goto out;
    }
    snprintf(path, sizeof path, "/resource_providers/%s/traits", esc);
    free(esc);
    if (placement_call(pl, "GET", path, NULL, &reply, what, perr) < 0)
        goto out;
    rc = placement_parse_traits(reply, out, what, perr);
out:
    json_decref(reply);
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

int placement_traits_put(struct placement *pl, const char *uuid, const char *const *names,
                         size_t count, int64_t generation, int64_t *new_generation,
                         struct placement_error *perr)
{
    pthread_mutex_lock(&pl->lock);
    char what[128], path[96];
    snprintf(what, sizeof what, "setting traits of provider %s at generation %lld", uuid,
             (long long)generation);
    int rc = -1;
    json_t *reply = NULL;
    json_t *list = json_array();
    json_t *body = NULL;
    for (size_t i = 0; list != NULL && i < count; i++) {
        if (json_array_append_new(list, json_string(names[i])) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (list != NULL)
        body = json_pack("{s:o,s:I}", "traits", list, "resource_provider_generation",
                         (json_int_t)generation);
    char *esc = placement_escape(uuid);
    if (body == NULL || esc == NULL) {
        free(esc);
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        goto out;
    }
    snprintf(path, sizeof path, "/resource_providers/%s/traits", esc);
    free(esc);
    if (placement_call(pl, "PUT", path, body, &reply, what, perr) < 0)
        goto out;
    json_t *gen = json_object_get(reply, "resource_provider_generation");
    if (!json_is_integer(gen)) {
        placement_fail(perr, 200, NULL, "Placement %s: reply lacks resource_provider_generation",
                       what);
        goto out;
    }
    if (new_generation != NULL)
        *new_generation = json_integer_value(gen);
    rc = 0;
out:
    json_decref(body);
    json_decref(reply);
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

int placement_trait_ensure(struct placement *pl, const char *name, struct placement_error *perr)
{
    pthread_mutex_lock(&pl->lock);
    char what[PLACEMENT_TRAIT_MAX + 64];
    snprintf(what, sizeof what, "creating trait %s", name);
    int rc = -1;
    char *esc = placement_escape(name);
    char *path = NULL;
    if (esc == NULL || asprintf(&path, "/traits/%s", esc) < 0) {
        path = NULL;
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
    } else {
        rc = placement_call(pl, "PUT", path, NULL, NULL, what, perr);
    }
    free(path);
    free(esc);
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

/* Names per GET /traits?name=in:…, so the URL stays a few KiB. */
#define PLACEMENT_TRAITS_PER_QUERY 32

int placement_traits_existing(struct placement *pl, const char *const *names, size_t count,
                              bool *exists, struct placement_error *perr)
{
    const char *what = "listing custom traits";
    for (size_t i = 0; i < count; i++)
        exists[i] = false;
    pthread_mutex_lock(&pl->lock);
    int rc = -1;
    for (size_t first = 0; first < count; first += PLACEMENT_TRAITS_PER_QUERY) {
        size_t n =
            count - first < PLACEMENT_TRAITS_PER_QUERY ? count - first : PLACEMENT_TRAITS_PER_QUERY;
        char *path = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&path, &len);
        if (f == NULL) {
            placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
            goto out;
        }
        fputs("/traits?name=in:", f);
        bool oom = false;
        for (size_t i = first; i < first + n; i++) {
            char *esc = placement_escape(names[i]);
            if (esc == NULL)
                oom = true;
            else
                fprintf(f, "%s%s", i == first ? "" : ",", esc);
            free(esc);
        }
        if (fclose(f) != 0 || oom) {
            free(path);
            placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
            goto out;
        }
        json_t *reply = NULL;
        int called = placement_call(pl, "GET", path, NULL, &reply, what, perr);
        free(path);
        if (called < 0)
            goto out;
        json_t *traits = json_object_get(reply, "traits");
        if (!json_is_array(traits)) {
            json_decref(reply);
            placement_fail(perr, 0, NULL, "Placement %s: the reply has no \"traits\" list", what);
            goto out;
        }
        size_t k;
        json_t *item;
        json_array_foreach(traits, k, item)
        {
            const char *name = json_string_value(item);
            for (size_t i = first; name != NULL && i < first + n; i++) {
                if (strcmp(names[i], name) == 0)
                    exists[i] = true;
            }
        }
        json_decref(reply);
    }
    placement_ok(perr);
    rc = 0;
out:
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

/*
 * Root providers' names by uuid, kept for the client's life. A provider
 * found by trait is mapped to its host through its root's name, and the
 * root is seldom in the same reply (Nova puts a host's pGPUs, and so
 * mdevmig's traits, on child providers): without this, every lookup would
 * cost one GET per host. A root's name is its compute node's name, which
 * Nova does not change; a deleted root's uuid is never reused.
 * Open addressing with linear probing; the capacity is a power of two.
 */
static uint64_t placement_roots_hash(const char *uuid)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)uuid; *c != '\0'; c++) {
        h ^= *c;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct placement_root *placement_roots_slot(struct placement_root *slots, size_t cap,
                                                   const char *uuid)
{
    size_t i = (size_t)placement_roots_hash(uuid) & (cap - 1);
    while (slots[i].name != NULL && strcmp(slots[i].uuid, uuid) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static const char *placement_roots_get(const struct placement *pl, const char *uuid)
{
    if (pl->roots_cap == 0)
        return NULL;
    return placement_roots_slot(pl->roots, pl->roots_cap, uuid)->name;
}

/* Remember (or rename) a root. -1 when out of memory. */
static int placement_roots_put(struct placement *pl, const char *uuid, const char *name)
{
    if ((pl->roots_count + 1) * 4 > pl->roots_cap * 3) {
        size_t cap = pl->roots_cap == 0 ? 256 : pl->roots_cap * 2;
        struct placement_root *grown = calloc(cap, sizeof *grown);
        if (grown == NULL)
            return -1;
        for (size_t i = 0; i < pl->roots_cap; i++) {
            if (pl->roots[i].name != NULL)
                *placement_roots_slot(grown, cap, pl->roots[i].uuid) = pl->roots[i];
        }
        free(pl->roots);
        pl->roots = grown;
        pl->roots_cap = cap;
    }
    struct placement_root *slot = placement_roots_slot(pl->roots, pl->roots_cap, uuid);
    if (slot->name != NULL && strcmp(slot->name, name) == 0)
        return 0;
    char *copy = strdup(name);
    if (copy == NULL)
        return -1;
    if (slot->name == NULL) {
        snprintf(slot->uuid, sizeof slot->uuid, "%s", uuid);
        pl->roots_count++;
    }
    free(slot->name);
    slot->name = copy;
    return 0;
}

static void placement_roots_free(struct placement *pl)
{
    for (size_t i = 0; i < pl->roots_cap; i++)
        free(pl->roots[i].name);
    free(pl->roots);
    pl->roots = NULL;
    pl->roots_cap = pl->roots_count = 0;
}

/* The name of the root provider uuid, asked of Placement (GET
 * /resource_providers/UUID) and remembered. 1 found, 0 gone since the
 * listing (a host deleted meanwhile), -1 failed. */
static int placement_root_lookup(struct placement *pl, const char *uuid, const char **name,
                                 struct placement_error *perr)
{
    char what[96], path[96];
    snprintf(what, sizeof what, "reading provider %s", uuid);
    char *esc = placement_escape(uuid);
    if (esc == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        return -1;
    }
    snprintf(path, sizeof path, "/resource_providers/%s", esc);
    free(esc);
    json_t *reply = NULL;
    if (placement_call(pl, "GET", path, NULL, &reply, what, perr) < 0)
        return perr->status == 404 ? 0 : -1;
    struct placement_provider p;
    int rc = placement_parse_provider(reply, &p);
    json_decref(reply);
    if (rc < 0) {
        placement_fail(perr, 200, NULL, "Placement %s: reply is not a resource provider", what);
        return -1;
    }
    if (placement_roots_put(pl, uuid, p.name) < 0) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        return -1;
    }
    *name = placement_roots_get(pl, uuid);
    return 1;
}

/* More roots than this unknown in one reply (a sched's first look at a
 * cloud whose traits sit on Nova's child providers): one listing of every
 * provider names them all, instead of a GET each. */
#define PLACEMENT_ROOT_GETS_MAX 16

/* A listing read through placement_read_providers. */
struct placement_listing {
    placement_each each;
    void *ctx;
};

static int placement_listing_read(const char *body, size_t len, void *ctx, const char *what,
                                  struct placement_error *perr)
{
    const struct placement_listing *listing = ctx;
    return placement_read_providers(body, len, listing->each, listing->ctx, what, perr);
}

/* GET path, a listing, each provider handed to each as it is read.
 * Caller holds pl->lock. */
static int placement_list(struct placement *pl, const char *path, placement_each each, void *ctx,
                          const char *what, struct placement_error *perr)
{
    struct placement_listing listing = {each, ctx};
    return placement_request(pl, "GET", path, NULL, NULL, placement_listing_read, &listing, what,
                             perr);
}

/* A root names its tree for free: remember it. */
static int placement_note_root(struct placement *pl, const struct placement_provider *p,
                               const char *what, struct placement_error *perr)
{
    if (strcmp(p->uuid, p->root_uuid) == 0 && placement_roots_put(pl, p->uuid, p->name) < 0) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        return -1;
    }
    return 0;
}

static int placement_learn_root(const struct placement_provider *p, void *ctx, const char *what,
                                struct placement_error *perr)
{
    return placement_note_root(ctx, p, what, perr);
}

/* Learn every root provider's name: GET /resource_providers, of which
 * only the roots' names are kept. */
static int placement_roots_learn_all(struct placement *pl, struct placement_error *perr)
{
    return placement_list(pl, "/resource_providers", placement_learn_root, pl,
                          "listing every provider for the names of their roots", perr);
}

/* Root providers' uuids met in a listing; sorted and made unique once it
 * has been read. */
struct placement_uuids {
    char (*items)[PLACEMENT_UUID_LEN];
    size_t count, cap;
};

static int placement_uuids_add(struct placement_uuids *u, const char *uuid)
{
    if (u->count == u->cap) {
        size_t cap = u->cap == 0 ? 32 : u->cap * 2;
        char(*grown)[PLACEMENT_UUID_LEN] = realloc(u->items, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        u->items = grown;
        u->cap = cap;
    }
    snprintf(u->items[u->count++], PLACEMENT_UUID_LEN, "%s", uuid);
    return 0;
}

static int placement_uuid_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void placement_uuids_unique(struct placement_uuids *u)
{
    if (u->count < 2)
        return;
    qsort(u->items, u->count, sizeof *u->items, placement_uuid_cmp);
    size_t kept = 1;
    for (size_t i = 1; i < u->count; i++) {
        if (strcmp(u->items[i], u->items[kept - 1]) != 0)
            memcpy(u->items[kept++], u->items[i], sizeof *u->items);
    }
    u->count = kept;
}

/* Makes the root-name cache hold every root in roots (sorted, unique)
 * that still exists: the ones it lacks are asked, a GET each or, past
 * PLACEMENT_ROOT_GETS_MAX of them, one listing of every provider. A root
 * deleted meanwhile stays unnamed. Caller holds pl->lock. */
static int placement_roots_name(struct placement *pl, const struct placement_uuids *roots,
                                struct placement_error *perr)
{
    size_t missing = 0;
    for (size_t i = 0; i < roots->count; i++)
        missing += placement_roots_get(pl, roots->items[i]) == NULL;
    /* A listing too large or too slow for this client leaves the GETs. */
    if (missing > PLACEMENT_ROOT_GETS_MAX && placement_roots_learn_all(pl, perr) < 0)
        log_warn("placement: %s; naming %zu root providers one GET at a time", perr->message,
                 missing);
    for (size_t i = 0; i < roots->count; i++) {
        const char *name = placement_roots_get(pl, roots->items[i]);
        if (name == NULL && placement_root_lookup(pl, roots->items[i], &name, perr) < 0)
            return -1;
    }
    return 0;
}

/* "/resource_providers?required=[in:]A,B", or NULL when out of memory. */
static char *placement_trait_path(bool any, const char *const *traits, size_t count)
{
    char *path = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&path, &len);
    if (f == NULL)
        return NULL;
    fputs(any ? "/resource_providers?required=in:" : "/resource_providers?required=", f);
    bool oom = false;
    for (size_t i = 0; i < count; i++) {
        char *esc = placement_escape(traits[i]);
        if (esc == NULL)
            oom = true;
        else
            fprintf(f, "%s%s", i == 0 ? "" : ",", esc);
        free(esc);
    }
    if (fclose(f) != 0 || oom) {
        free(path);
        return NULL;
    }
    return path;
}

/* The providers of a listing, whole (placement_providers_with_traits). */
struct placement_found {
    struct placement *pl;
    struct placement_provider *items;
    size_t count, cap;
    struct placement_uuids roots;
};

static int placement_found_add(const struct placement_provider *p, void *ctx, const char *what,
                               struct placement_error *perr)
{
    struct placement_found *found = ctx;
    if (placement_note_root(found->pl, p, what, perr) < 0)
        return -1;
    if (found->count == found->cap) {
        size_t cap = found->cap == 0 ? 32 : found->cap * 2;
        struct placement_provider *grown = realloc(found->items, cap * sizeof *grown);
        if (grown == NULL) {
            placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
            return -1;
        }
        found->items = grown;
        found->cap = cap;
    }
    found->items[found->count++] = *p;
    if (placement_uuids_add(&found->roots, p->root_uuid) < 0) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        return -1;
    }
    return 0;
}

/* GET /resource_providers?required=[in:]A,B: one request, plus, for roots
 * never seen before (see placement_roots_hash), one GET each or, past
 * PLACEMENT_ROOT_GETS_MAX of them, one listing of every provider. */
static int placement_providers_matching(struct placement *pl, bool any, const char *const *traits,
                                        size_t count, struct placement_match_list *out,
                                        struct placement_error *perr)
{
    out->items = NULL;
    out->count = 0;
    const char *what =
        any ? "listing providers with any of the traits" : "listing providers by trait";
    if (count == 0) {
        placement_fail(perr, 0, NULL, "Placement %s: no trait given", what);
        return -1;
    }
    pthread_mutex_lock(&pl->lock);
    int rc = -1;
    struct placement_found found = {.pl = pl};
    char *path = placement_trait_path(any, traits, count);
    if (path == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        goto out;
    }
    if (placement_list(pl, path, placement_found_add, &found, what, perr) < 0)
        goto out;
    placement_uuids_unique(&found.roots);
    if (placement_roots_name(pl, &found.roots, perr) < 0)
        goto out;
    out->items = calloc(found.count + 1, sizeof *out->items);
    if (out->items == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        goto out;
    }
    for (size_t i = 0; i < found.count; i++) {
        const char *root = placement_roots_get(pl, found.items[i].root_uuid);
        if (root == NULL)
            continue; /* deleted since the listing */
        struct placement_match *m = &out->items[out->count++];
        m->provider = found.items[i];
        snprintf(m->root_name, sizeof m->root_name, "%s", root);
    }
    placement_ok(perr);
    rc = 0;
out:
    free(found.items);
    free(found.roots.items);
    free(path);
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

int placement_providers_with_traits(struct placement *pl, const char *const *required, size_t count,
                                    struct placement_match_list *out, struct placement_error *perr)
{
    return placement_providers_matching(pl, false, required, count, out, perr);
}

int placement_providers_with_any_trait(struct placement *pl, const char *const *traits,
                                       size_t count, struct placement_match_list *out,
                                       struct placement_error *perr)
{
    return placement_providers_matching(pl, true, traits, count, out, perr);
}

/* The roots of a listing only: all a host lookup keeps of a provider. */
struct placement_rooted {
    struct placement *pl;
    struct placement_uuids roots;
};

static int placement_rooted_add(const struct placement_provider *p, void *ctx, const char *what,
                                struct placement_error *perr)
{
    struct placement_rooted *rooted = ctx;
    if (placement_note_root(rooted->pl, p, what, perr) < 0)
        return -1;
    if (placement_uuids_add(&rooted->roots, p->root_uuid) < 0) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        return -1;
    }
    return 0;
}

static int placement_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int placement_hosts_with_any_trait(struct placement *pl, const char *const *traits, size_t count,
                                   struct placement_hosts *out, struct placement_error *perr)
{
    out->names = NULL;
    out->count = 0;
    const char *what = "listing providers with any of the traits";
    if (count == 0) {
        placement_fail(perr, 0, NULL, "Placement %s: no trait given", what);
        return -1;
    }
    pthread_mutex_lock(&pl->lock);
    int rc = -1;
    struct placement_rooted rooted = {.pl = pl};
    char *path = placement_trait_path(true, traits, count);
    if (path == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        goto out;
    }
    if (placement_list(pl, path, placement_rooted_add, &rooted, what, perr) < 0)
        goto out;
    placement_uuids_unique(&rooted.roots);
    if (placement_roots_name(pl, &rooted.roots, perr) < 0)
        goto out;
    out->names = calloc(rooted.roots.count + 1, sizeof *out->names);
    if (out->names == NULL) {
        placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
        goto out;
    }
    for (size_t i = 0; i < rooted.roots.count; i++) {
        const char *name = placement_roots_get(pl, rooted.roots.items[i]);
        if (name == NULL)
            continue; /* deleted since the listing */
        if ((out->names[out->count] = strdup(name)) == NULL) {
            placement_hosts_free(out);
            placement_fail(perr, 0, NULL, "Placement %s: out of memory", what);
            goto out;
        }
        out->count++;
    }
    /* Placement keeps names unique: sorted, they are a set. */
    qsort(out->names, out->count, sizeof *out->names, placement_name_cmp);
    placement_ok(perr);
    rc = 0;
out:
    free(rooted.roots.items);
    free(path);
    pthread_mutex_unlock(&pl->lock);
    return rc;
}

void placement_hosts_free(struct placement_hosts *hosts)
{
    for (size_t i = 0; i < hosts->count; i++)
        free(hosts->names[i]);
    free(hosts->names);
    hosts->names = NULL;
    hosts->count = 0;
}

bool placement_error_names_trait(const struct placement_error *perr, const char *trait)
{
    if (!placement_error_is_unknown_trait(perr) || trait[0] == '\0')
        return false;
    /* As a whole name: CUSTOM_X is not named by "CUSTOM_XY". */
    size_t n = strlen(trait);
    for (const char *at = strstr(perr->message, trait); at != NULL; at = strstr(at + 1, trait)) {
        bool before = at > perr->message && (isalnum((unsigned char)at[-1]) || at[-1] == '_');
        bool after = isalnum((unsigned char)at[n]) || at[n] == '_';
        if (!before && !after)
            return true;
    }
    return false;
}

bool placement_error_is_unknown_trait(const struct placement_error *perr)
{
    /* Placement has no code for it (placement.undefined_code); its
     * TraitNotFound text is the only mark. */
    return perr->status == 400 && strstr(perr->message, "No such trait") != NULL;
}

void placement_traits_free(struct placement_traits *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->names[i]);
    free(t->names);
    t->names = NULL;
    t->count = 0;
}

void placement_provider_list_free(struct placement_provider_list *list)
{
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

void placement_match_list_free(struct placement_match_list *list)
{
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

struct placement *placement_new(const struct placement_options *opts, char *err, size_t errlen)
{
    char why[200];
    if (http_url_check_base(opts->url, why, sizeof why) < 0) {
        snprintf(err, errlen, "Placement URL \"%s\": %s", opts->url, why);
        return NULL;
    }
    if (opts->keystone == NULL && (opts->token == NULL || opts->token[0] == '\0')) {
        snprintf(err, errlen, "Placement needs a token or Keystone credentials");
        return NULL;
    }
    struct placement *pl = calloc(1, sizeof *pl);
    if (pl == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pl->keystone = opts->keystone;
    pl->base_url = strdup(opts->url);
    pl->token = opts->keystone == NULL ? strdup(opts->token) : NULL;
    if (pl->base_url == NULL || (opts->keystone == NULL && pl->token == NULL)) {
        snprintf(err, errlen, "out of memory");
        placement_free(pl);
        return NULL;
    }
    struct http_session_options so = {
        .connect_timeout_ms =
            opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : PLACEMENT_CONNECT_TIMEOUT_MS,
        .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : PLACEMENT_TIMEOUT_MS,
        .max_response = PLACEMENT_MAX_RESPONSE,
        .user_agent = opts->user_agent != NULL ? opts->user_agent : "mdevmig",
        .ca_file = opts->ca_file,
        .client_cert_file = opts->client_cert_file,
        .client_key_file = opts->client_key_file,
    };
    if ((pl->http = http_session_new(&so, err, errlen)) == NULL) {
        placement_free(pl);
        return NULL;
    }
    size_t n = strlen(pl->base_url);
    while (n > 0 && pl->base_url[n - 1] == '/')
        pl->base_url[--n] = '\0';
    if (pthread_mutex_init(&pl->lock, NULL) != 0) {
        snprintf(err, errlen, "cannot create a mutex");
        placement_free(pl);
        return NULL;
    }
    pl->lock_ready = true;
    return pl;
}

void placement_free(struct placement *pl)
{
    if (pl == NULL)
        return;
    if (pl->lock_ready)
        pthread_mutex_destroy(&pl->lock);
    http_session_free(pl->http);
    if (pl->token != NULL)
        explicit_bzero(pl->token, strlen(pl->token));
    free(pl->token);
    free(pl->base_url);
    placement_roots_free(pl);
    free(pl);
}
