/*
 * publish — hands the collector's inventory to its registry targets (a
 * SQLite registry file, or mdevmig-sched's HTTP ingest endpoint) on every
 * change, and heartbeats (the generation alone; the inventory when the
 * target lacks it) in between, from a thread of its own: a slow or
 * failing target never delays a probe.
 */
#ifndef MDEVMIG_COLLECTOR_PUBLISH_H
#define MDEVMIG_COLLECTOR_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

struct publish;

struct publish_stats {
    unsigned long published;  /* snapshots a target lacked, applied, all targets */
    unsigned long heartbeats; /* of an unchanged inventory a target already had */
    unsigned long failures;
    int64_t last_generation; /* the newest generation every target has */
};

/* Check the targets and start the thread. A target is "sqlite:PATH" or
 * an http:// or https:// base URL of mdevmig-sched; each snapshot goes to
 * POST <url>/v1/hosts/<host>/inventory and each heartbeat to POST
 * <url>/v1/hosts/<host>/heartbeat, with "Authorization: Bearer <token>". The credentials are
 * copied; the token may be NULL when no target is a URL. NULL with a message when a target is
 * malformed, or a URL target has no token. */
struct publish_credentials {
    const char *token;            /* the cluster token */
    const char *ca_file;          /* verifies an https:// sched; NULL: system CAs */
    const char *client_cert_file; /* presented to a sched with mutual TLS; NULL: none */
    const char *client_key_file;  /* NULL: in client_cert_file */
};

struct publish *publish_start(char *const *targets, size_t count,
                              const struct publish_credentials *credentials, double heartbeat_s,
                              char *err, size_t errlen);

/* New credentials (SIGHUP): the publisher takes them before its next
 * attempt. -1 with a message (nothing changes) when unusable. */
int publish_set_credentials(struct publish *p, const struct publish_credentials *credentials,
                            char *err, size_t errlen);

/* A new snapshot (inventory JSON, copied) to publish as soon as possible;
 * it replaces any snapshot not yet published. */
void publish_offer(struct publish *p, const char *json, size_t len, int64_t generation);

void publish_get_stats(struct publish *p, struct publish_stats *out);

/* Try once more to publish what is pending, then stop the thread. */
void publish_stop(struct publish *p);

#endif
