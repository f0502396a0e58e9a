/*
 * placement — a client of OpenStack Placement (DESIGN.md §3, Placement):
 * the few calls mdevmig needs to keep its traits on resource providers
 * and to find providers by trait. Microversion 1.39 on every request,
 * one connection kept alive across calls, connect and total timeouts.
 * Authentication is a static token (X-Auth-Token, e.g. noauth2's
 * "admin") or Keystone v3 password auth (keystone.h), renewed once when
 * Placement answers 401.
 *
 * A failure comes back as a struct placement_error: the HTTP status,
 * Placement's own errors[0].code (e.g. "placement.concurrent_update") for
 * the caller to act on, and a message for the operator with its detail.
 *
 * One client may be shared by threads; calls are serialised on it.
 */
#ifndef MDEVMIG_PLACEMENT_H
#define MDEVMIG_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keystone;

/* The microversion every request asks for. */
#define PLACEMENT_MICROVERSION "1.39"

/* Placement's limits: a provider name is at most 200 characters, a trait
 * name at most 255. */
#define PLACEMENT_NAME_MAX  201
#define PLACEMENT_TRAIT_MAX 256
#define PLACEMENT_UUID_LEN  37

/* The errors[0].code Placement gives to a write that lost a race on
 * resource_provider_generation. */
#define PLACEMENT_CODE_CONCURRENT_UPDATE "placement.concurrent_update"

struct placement_options {
    const char *url;              /* base URL, e.g. http://controller:8778 */
    const char *token;            /* static X-Auth-Token; NULL when keystone is used */
    struct keystone *keystone;    /* borrowed, outlives the client; NULL: static token */
    const char *ca_file;          /* for https://; NULL: system CAs */
    const char *client_cert_file; /* presented to a server that asks (mutual TLS); NULL: none */
    const char *client_key_file;  /* NULL: in client_cert_file */
    long connect_timeout_ms;      /* 0: 2000 */
    long timeout_ms;              /* per request, total; 0: 10000 */
    const char *user_agent;       /* NULL: "mdevmig" */
};

struct placement_error {
    long status;        /* HTTP status; 0 when no response arrived */
    char code[96];      /* errors[0].code, "" when none was given */
    char message[1024]; /* for the operator: what was asked, status, code, detail */
};

struct placement_provider {
    char uuid[PLACEMENT_UUID_LEN];
    char name[PLACEMENT_NAME_MAX];
    char parent_uuid[PLACEMENT_UUID_LEN]; /* "" for a root */
    char root_uuid[PLACEMENT_UUID_LEN];
    int64_t generation;
};

struct placement_provider_list {
    struct placement_provider *items;
    size_t count;
};

/* A provider's traits as Placement holds them, with the generation a
 * write must name. */
struct placement_traits {
    char **names; /* malloc'd strings */
    size_t count;
    int64_t generation;
};

/* A provider found by trait, with the name of its tree's root provider
 * (the compute host's name where Nova made the tree). */
struct placement_match {
    struct placement_provider provider;
    char root_name[PLACEMENT_NAME_MAX];
};

struct placement_match_list {
    struct placement_match *items;
    size_t count;
};

struct placement;

/* NULL with a message when the options are unusable. */
struct placement *placement_new(const struct placement_options *opts, char *err, size_t errlen);
void placement_free(struct placement *pl);

/* The provider named name: 1 found (in *out), 0 none, -1 failed. */
int placement_provider_find(struct placement *pl, const char *name, struct placement_provider *out,
                            struct placement_error *perr);

/* Create a provider (a root when parent_uuid is NULL or ""). -1 with
 * code "placement.duplicate_name" when the name is taken. */
int placement_provider_create(struct placement *pl, const char *name, const char *parent_uuid,
                              struct placement_provider *out, struct placement_error *perr);

/* Every provider in the tree rooted at (or containing) uuid. */
int placement_provider_tree(struct placement *pl, const char *uuid,
                            struct placement_provider_list *out, struct placement_error *perr);

int placement_traits_get(struct placement *pl, const char *uuid, struct placement_traits *out,
                         struct placement_error *perr);

/* Replace the provider's traits, naming the generation they were read at.
 * On success *new_generation (if not NULL) is the provider's generation
 * after the write. A lost race is -1 with status 409 and code
 * PLACEMENT_CODE_CONCURRENT_UPDATE. */
int placement_traits_put(struct placement *pl, const char *uuid, const char *const *names,
                         size_t count, int64_t generation, int64_t *new_generation,
                         struct placement_error *perr);

/* Make the custom trait exist (PUT /traits/NAME; 201 and 204 both do). */
int placement_trait_ensure(struct placement *pl, const char *name, struct placement_error *perr);

/* Which of names Placement already has: exists[i] for names[i]. One GET
 * /traits?name=in:… per 32 names, so a restarted client learns in one
 * request what would otherwise cost a PUT per trait. */
int placement_traits_existing(struct placement *pl, const char *const *names, size_t count,
                              bool *exists, struct placement_error *perr);

/* Providers that carry every trait in required (GET /resource_providers?
 * required=A,B), each with its root provider's name. One request, plus,
 * for the roots this client has not seen before, one GET
 * /resource_providers/UUID each or, when more than 16, one listing of every
 * provider: root names are remembered for the client's life. A provider
 * whose root is deleted meanwhile is left out. */
int placement_providers_with_traits(struct placement *pl, const char *const *required, size_t count,
                                    struct placement_match_list *out, struct placement_error *perr);

/* The same for providers that carry at least one of traits (required=in:A,B,
 * microversion 1.39). */
int placement_providers_with_any_trait(struct placement *pl, const char *const *traits,
                                       size_t count, struct placement_match_list *out,
                                       struct placement_error *perr);

/* Hosts found by trait: the names of the root providers (the compute
 * hosts, where Nova made the trees) of the providers found, each once,
 * sorted. */
struct placement_hosts {
    char **names; /* malloc'd strings */
    size_t count;
};

/* The hosts whose trees hold a provider carrying at least one of traits:
 * one GET /resource_providers?required=in:A,B, read a provider at a time
 * and reduced to its root's uuid as it is read (a listing is never held
 * whole), plus the root-name look-ups of placement_providers_with_traits
 * for roots this client has not seen before. */
int placement_hosts_with_any_trait(struct placement *pl, const char *const *traits, size_t count,
                                   struct placement_hosts *out, struct placement_error *perr);
void placement_hosts_free(struct placement_hosts *hosts);

/* True when err is Placement refusing a write over a stale generation. */
bool placement_error_is_conflict(const struct placement_error *perr);

/* True when err is Placement refusing a query that names a trait it does
 * not know (HTTP 400): no provider has ever carried it. */
bool placement_error_is_unknown_trait(const struct placement_error *perr);

/* True when err is that refusal and names trait (as a whole name) as one
 * Placement does not know: Placement names the first unknown trait of a
 * query, so a caller can drop it and ask again. */
bool placement_error_names_trait(const struct placement_error *perr, const char *trait);

void placement_traits_free(struct placement_traits *t);
void placement_provider_list_free(struct placement_provider_list *list);
void placement_match_list_free(struct placement_match_list *list);

#endif
