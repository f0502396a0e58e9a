/*
 * traits — publishes the collector's inventory to Placement as traits
 * (DESIGN.md §3, Placement): on each parent device's provider,
 * CUSTOM_MDEV_TYPE_<TYPE> and CUSTOM_MDEVMIG_<digest> for every type it
 * offers that can migrate. A thread of its own, apart from the registry
 * publisher (publish.h), so a slow or absent Placement delays neither
 * probes nor the registry; while Placement is down only the newest
 * snapshot is kept, and it is applied when Placement is back.
 */
#ifndef MDEVMIG_COLLECTOR_TRAITS_H
#define MDEVMIG_COLLECTOR_TRAITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct traits_options {
    const char *host; /* the root provider's name, and the prefix of Nova's pGPU providers */
    const char *url;  /* Placement's base URL */
    /* Static token: token itself, or a file (mode 0600) holding it. */
    const char *token;
    const char *token_file;
    /* Keystone v3 password auth, used when auth_url is set. */
    const char *keystone_auth_url;
    const char *keystone_username;
    const char *keystone_password_file; /* mode 0600 */
    const char *keystone_project;
    const char *keystone_user_domain;
    const char *keystone_project_domain;
    bool create_providers; /* make the root and per-parent providers when missing */
    /* TLS to Placement and Keystone (NULL: system CAs, no client certificate). */
    const char *ca_file;
    const char *client_cert_file;
    const char *client_key_file;
};

struct traits_stats {
    unsigned long applied;   /* snapshots whose traits Placement now holds */
    unsigned long unchanged; /* snapshots that needed no call (same traits as before) */
    unsigned long failures;  /* rounds that failed and are retried */
    unsigned long writes;    /* trait PUTs that succeeded */
    unsigned long conflicts; /* 409s on a provider's generation, each re-read and retried */
    int64_t last_generation; /* newest snapshot Placement reflects; -1: none yet */
};

/* Read the token or password file, set up the client and start the
 * thread. NULL with a message when the options cannot work. */
struct traits *traits_start(const struct traits_options *opts, char *err, size_t errlen);

/* A new snapshot (inventory JSON, copied); it replaces any not yet applied. */
void traits_offer(struct traits *t, const char *json, size_t len, int64_t generation);

void traits_get_stats(struct traits *t, struct traits_stats *out);

/* Stop the thread (an unapplied snapshot is left: the next start applies
 * the inventory it finds). NULL is a no-op. */
void traits_stop(struct traits *t);

#endif
