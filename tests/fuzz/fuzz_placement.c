/*
 * fuzz_placement — Placement's replies as common/placement.c reads them:
 * provider objects and lists, trait lists with their generation, the
 * errors[] body of a refusal (or a proxy's HTML page), and the root-name
 * cache that turns a listing into several requests, and, with Keystone,
 * the 401 that makes the client renew its token and ask once more. The
 * parsers are static, so this file #includes placement.c and keystone.c with
 * libcurl's transfer replaced by fuzz_http: each command below makes one
 * public call, and every request it makes, to Placement or to Keystone,
 * gets the script's next reply (see fuzz_http.h for the format).
 *
 *   @find NAME           placement_provider_find
 *   @create NAME PARENT  placement_provider_create (PARENT optional)
 *   @tree UUID           placement_provider_tree
 *   @traits UUID         placement_traits_get
 *   @put UUID A,B        placement_traits_put
 *   @ensure NAME         placement_trait_ensure
 *   @existing A,B        placement_traits_existing
 *   @with A,B            placement_providers_with_traits
 *   @any A,B             placement_providers_with_any_trait
 *   @keystone            the commands after it use a client with Keystone
 *                        auth (replies to its token requests: see
 *                        fuzz_keystone.c); before it, a static token
 *
 * The clients serve every input (libcurl's handle and Keystone's 1 MiB reply
 * buffer cost more to make than most inputs take); the state a call leaves
 * for the next (Placement's root-name cache, Keystone's token) is cleared
 * before each input, so the commands of one input share it and no input
 * sees another's.
 */
#include "fuzz_http.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libcurl's transfer and status, as placement.c will call them. */
#undef curl_easy_perform
#undef curl_easy_getinfo
#define curl_easy_perform fuzz_http_perform
#define curl_easy_getinfo fuzz_http_getinfo

#include "keystone.c"
#include "placement.c"

/* More than PLACEMENT_TRAITS_PER_QUERY, so @existing can need two queries. */
#define FUZZ_PLACEMENT_MAX_NAMES 80

static void fuzz_placement_fail(const char *what)
{
    fprintf(stderr, "fuzz_placement: %s\n", what);
    abort();
}

/* A fixed-size field must hold a C string: the callers print them. */
static void fuzz_placement_check_string(const char *s, size_t size, const char *what)
{
    if (strnlen(s, size) == size)
        fuzz_placement_fail(what);
}

static void fuzz_placement_check_provider(const struct placement_provider *p)
{
    fuzz_placement_check_string(p->uuid, sizeof p->uuid, "provider uuid is not terminated");
    fuzz_placement_check_string(p->name, sizeof p->name, "provider name is not terminated");
    fuzz_placement_check_string(p->parent_uuid, sizeof p->parent_uuid,
                                "provider parent_uuid is not terminated");
    fuzz_placement_check_string(p->root_uuid, sizeof p->root_uuid,
                                "provider root_uuid is not terminated");
    /* A provider without root_provider_uuid is its own root. */
    if (p->root_uuid[0] == '\0' && p->uuid[0] != '\0')
        fuzz_placement_fail("provider has a uuid but no root");
}

/* Every failure carries a message for the operator; success carries none. */
static void fuzz_placement_check_result(int rc, int max_ok, const struct placement_error *perr)
{
    if (rc < -1 || rc > max_ok)
        fuzz_placement_fail("return value out of range");
    fuzz_placement_check_string(perr->code, sizeof perr->code, "error code is not terminated");
    fuzz_placement_check_string(perr->message, sizeof perr->message,
                                "error message is not terminated");
    if (rc < 0 && perr->message[0] == '\0')
        fuzz_placement_fail("failed without a message");
    if (rc >= 0 && (perr->message[0] != '\0' || perr->code[0] != '\0'))
        fuzz_placement_fail("succeeded with an error message");
    (void)placement_error_is_conflict(perr);
    (void)placement_error_is_unknown_trait(perr);
}

/* "A,B,C" into names (cut in place); empty elements are kept as "". */
static size_t fuzz_placement_split(char *list, const char **names)
{
    if (list[0] == '\0')
        return 0;
    size_t n = 0;
    for (char *p = list; n < FUZZ_PLACEMENT_MAX_NAMES;) {
        names[n++] = p;
        char *comma = strchr(p, ',');
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

/* "FIRST REST": REST is NULL without a space. */
static char *fuzz_placement_rest(char *arg)
{
    char *space = strchr(arg, ' ');
    if (space == NULL)
        return NULL;
    *space = '\0';
    return space + 1;
}

static void fuzz_placement_matches(struct placement *pl, bool any, char *arg)
{
    const char *names[FUZZ_PLACEMENT_MAX_NAMES];
    size_t count = fuzz_placement_split(arg, names);
    struct placement_match_list list = {0};
    struct placement_error perr = {0};
    int rc = any ? placement_providers_with_any_trait(pl, names, count, &list, &perr)
                 : placement_providers_with_traits(pl, names, count, &list, &perr);
    fuzz_placement_check_result(rc, 0, &perr);
    if (rc < 0 && (list.items != NULL || list.count != 0))
        fuzz_placement_fail("a failed listing left matches behind");
    for (size_t i = 0; i < list.count; i++) {
        fuzz_placement_check_provider(&list.items[i].provider);
        fuzz_placement_check_string(list.items[i].root_name, sizeof list.items[i].root_name,
                                    "root name is not terminated");
    }
    placement_match_list_free(&list);
}

static void fuzz_placement_command(struct placement *pl, const char *name, char *arg)
{
    struct placement_error perr = {0};
    if (strcmp(name, "find") == 0) {
        struct placement_provider p = {0};
        int rc = placement_provider_find(pl, arg, &p, &perr);
        fuzz_placement_check_result(rc, 1, &perr);
        if (rc == 1)
            fuzz_placement_check_provider(&p);
    } else if (strcmp(name, "create") == 0) {
        const char *parent = fuzz_placement_rest(arg);
        struct placement_provider p = {0};
        int rc = placement_provider_create(pl, arg, parent, &p, &perr);
        fuzz_placement_check_result(rc, 0, &perr);
        if (rc == 0)
            fuzz_placement_check_provider(&p);
    } else if (strcmp(name, "tree") == 0) {
        struct placement_provider_list list = {0};
        int rc = placement_provider_tree(pl, arg, &list, &perr);
        fuzz_placement_check_result(rc, 0, &perr);
        for (size_t i = 0; rc == 0 && i < list.count; i++)
            fuzz_placement_check_provider(&list.items[i]);
        placement_provider_list_free(&list);
    } else if (strcmp(name, "traits") == 0) {
        struct placement_traits t = {0};
        int rc = placement_traits_get(pl, arg, &t, &perr);
        fuzz_placement_check_result(rc, 0, &perr);
        for (size_t i = 0; rc == 0 && i < t.count; i++) {
            if (t.names[i] == NULL)
                fuzz_placement_fail("a trait name is NULL");
        }
        placement_traits_free(&t);
    } else if (strcmp(name, "put") == 0) {
        char *rest = fuzz_placement_rest(arg);
        const char *names[FUZZ_PLACEMENT_MAX_NAMES];
        size_t count = rest != NULL ? fuzz_placement_split(rest, names) : 0;
        int64_t generation = -1;
        int rc = placement_traits_put(pl, arg, names, count, 7, &generation, &perr);
        fuzz_placement_check_result(rc, 0, &perr);
    } else if (strcmp(name, "ensure") == 0) {
        fuzz_placement_check_result(placement_trait_ensure(pl, arg, &perr), 0, &perr);
    } else if (strcmp(name, "existing") == 0) {
        const char *names[FUZZ_PLACEMENT_MAX_NAMES];
        bool exists[FUZZ_PLACEMENT_MAX_NAMES];
        size_t count = fuzz_placement_split(arg, names);
        int rc = placement_traits_existing(pl, names, count, exists, &perr);
        fuzz_placement_check_result(rc, 0, &perr);
        /* With Keystone, a query refused with 401 is asked once more. */
        size_t queries = (count + PLACEMENT_TRAITS_PER_QUERY - 1) / PLACEMENT_TRAITS_PER_QUERY;
        if (fuzz_http_requests(pl->curl) > queries * (pl->keystone != NULL ? 2 : 1))
            fuzz_placement_fail("more queries than names need");
    } else if (strcmp(name, "with") == 0) {
        fuzz_placement_matches(pl, false, arg);
    } else if (strcmp(name, "any") == 0) {
        fuzz_placement_matches(pl, true, arg);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct placement *fuzz_placement_static; /* X-Auth-Token: admin */
static struct placement *fuzz_placement_keystone;
static struct keystone *fuzz_placement_ks;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_placement", LOG_LEVEL_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[256];
    struct keystone_options kopts = {
        .auth_url = "http://keystone.invalid/v3",
        .username = "mdevmig",
        .password = "secret",
        .project = "service",
    };
    fuzz_placement_ks = keystone_new(&kopts, err, sizeof err);
    if (fuzz_placement_ks == NULL)
        fuzz_placement_fail(err);
    struct placement_options opts = {.url = "http://placement.invalid:8778/", .token = "admin"};
    fuzz_placement_static = placement_new(&opts, err, sizeof err);
    opts.token = NULL;
    opts.keystone = fuzz_placement_ks;
    fuzz_placement_keystone = placement_new(&opts, err, sizeof err);
    if (fuzz_placement_static == NULL || fuzz_placement_keystone == NULL)
        fuzz_placement_fail(err);
    fuzz_http_sink(fuzz_placement_static->curl, placement_write, fuzz_placement_static, NULL, NULL);
    fuzz_http_sink(fuzz_placement_keystone->curl, placement_write, fuzz_placement_keystone, NULL,
                   NULL);
    fuzz_http_sink(fuzz_placement_ks->curl, keystone_write, fuzz_placement_ks, keystone_header,
                   fuzz_placement_ks);
    return 0;
}

/* The clients as new: no root names known, no Keystone token. */
static void fuzz_placement_reset(void)
{
    placement_roots_free(fuzz_placement_static);
    placement_roots_free(fuzz_placement_keystone);
    struct keystone *ks = fuzz_placement_ks;
    ks->reply_len = 0;
    ks->reply_overflow = false;
    ks->subject[0] = '\0';
    ks->token[0] = '\0';
    ks->expires_at = 0;
    ks->issued = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_http_script script;
    if (fuzz_http_script_load(&script, data, size) < 0)
        return 0;
    fuzz_placement_reset();
    struct placement *pl = fuzz_placement_static;
    for (size_t i = 0; i < script.command_count; i++) {
        const struct fuzz_http_command *cmd = &script.commands[i];
        if (strcmp(cmd->name, "keystone") == 0) {
            pl = fuzz_placement_keystone;
            continue;
        }
        char *arg = strdup(cmd->arg);
        if (arg == NULL)
            abort();
        fuzz_http_begin(&script, cmd);
        fuzz_placement_command(pl, cmd->name, arg);
        free(arg);
    }
    fuzz_http_script_free(&script);
    return 0;
}
