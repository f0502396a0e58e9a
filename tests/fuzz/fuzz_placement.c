/*
 * fuzz_placement — Placement's replies as common/placement.c reads them:
 * provider objects and lists, trait lists with their generation, the
 * errors[] body of a refusal (or a proxy's HTML page), and the root-name
 * cache that turns a listing into several requests, and, with Keystone,
 * the 401 that makes the client renew its token and ask once more.
 * placement.c and keystone.c are linked as they are; fuzz_http.c stands in
 * for their HTTP sessions (http_client.h): each command below makes one
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
 * The clients are made anew for each input (with no socket or libcurl
 * handle behind them that costs microseconds), so the state a call leaves
 * for the next (Placement's root-name cache, Keystone's token) is shared
 * by the commands of one input and seen by no other input.
 */
#include "fuzz_http.h"

#include "keystone.h"
#include "log.h"
#include "placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* placement.c's names per GET /traits?name=in:... (a static detail of it,
 * repeated here to bound the requests @existing may make). */
#define FUZZ_PLACEMENT_TRAITS_PER_QUERY 32

/* More than FUZZ_PLACEMENT_TRAITS_PER_QUERY, so @existing can need two queries. */
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

/* A client under test, with the session its requests to Placement go on. */
struct fuzz_placement_client {
    struct placement *pl;
    struct http_session *http;
    bool keystone;
};

static void fuzz_placement_command(const struct fuzz_placement_client *client, const char *name,
                                   char *arg)
{
    struct placement *pl = client->pl;
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
        size_t queries =
            (count + FUZZ_PLACEMENT_TRAITS_PER_QUERY - 1) / FUZZ_PLACEMENT_TRAITS_PER_QUERY;
        if (fuzz_http_requests(client->http) > queries * (client->keystone ? 2 : 1))
            fuzz_placement_fail("more queries than names need");
    } else if (strcmp(name, "with") == 0) {
        fuzz_placement_matches(pl, false, arg);
    } else if (strcmp(name, "any") == 0) {
        fuzz_placement_matches(pl, true, arg);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_placement", LOG_LEVEL_ERROR);
    return 0;
}

/* A Placement client as a daemon makes one: with a static token
 * (X-Auth-Token: admin), or with ks. */
static struct fuzz_placement_client fuzz_placement_new(struct keystone *ks)
{
    char err[256];
    struct placement_options opts = {.url = "http://placement.invalid:8778/", .keystone = ks};
    if (ks == NULL)
        opts.token = "admin";
    struct fuzz_placement_client client = {.keystone = ks != NULL};
    client.pl = placement_new(&opts, err, sizeof err);
    if (client.pl == NULL)
        fuzz_placement_fail(err);
    client.http = fuzz_http_last_session();
    return client;
}

static struct keystone *fuzz_placement_keystone_new(void)
{
    char err[256];
    struct keystone_options kopts = {
        .auth_url = "http://keystone.invalid/v3",
        .username = "mdevmig",
        .password = "secret",
        .project = "service",
    };
    struct keystone *ks = keystone_new(&kopts, err, sizeof err);
    if (ks == NULL)
        fuzz_placement_fail(err);
    return ks;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_http_script script;
    if (fuzz_http_script_load(&script, data, size) < 0)
        return 0;
    struct fuzz_placement_client client = fuzz_placement_new(NULL);
    struct keystone *ks = NULL;
    for (size_t i = 0; i < script.command_count; i++) {
        const struct fuzz_http_command *cmd = &script.commands[i];
        if (strcmp(cmd->name, "keystone") == 0) {
            if (ks == NULL) {
                placement_free(client.pl);
                ks = fuzz_placement_keystone_new();
                client = fuzz_placement_new(ks);
            }
            continue;
        }
        char *arg = strdup(cmd->arg);
        if (arg == NULL)
            abort();
        fuzz_http_begin(&script, cmd);
        fuzz_placement_command(&client, cmd->name, arg);
        free(arg);
    }
    placement_free(client.pl);
    keystone_free(ks);
    fuzz_http_script_free(&script);
    return 0;
}
