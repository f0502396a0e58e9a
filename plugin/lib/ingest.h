/*
 * ingest.h — how collectors' news reaches the registry inside libmdevmig:
 * the heartbeat table (touches.c), which keeps every heartbeat's last_seen
 * and each host's generation in memory and writes last_seen in batches,
 * and the group commit of full snapshots (ingest.c), one transaction for
 * every snapshot queued at that moment. Private to plugin/lib.
 */
#ifndef MDEVMIG_INGEST_H
#define MDEVMIG_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mdevmig;
struct touches;
struct ingest;

/* ---- the heartbeat table (touches.c) ------------------------------------ */

/* NULL when out of memory. The flush thread starts with the first
 * heartbeat, so a process that never takes one (the CLI) has none. */
struct touches *touches_new(void);
/* Stops the thread and writes what is pending: before the registry
 * closes. */
void touches_free(struct mdevmig *m, struct touches *t);

/* A heartbeat of host at generation, at now (unix s): 0 when the registry
 * holds exactly that generation (last_seen kept, written later); 1 when
 * it holds another (*held) or none (*held -1); -1 on a registry failure
 * (err). Reads the registry only for a host the table does not know. */
int touches_heartbeat(struct mdevmig *m, const char *host, int64_t generation, int64_t now,
                      int64_t *held, char *err, size_t errlen);

/* What a snapshot write left in the registry (the caller holds
 * registry_lock): known, host is at generation with last_seen now;
 * otherwise its generation is not known here and the next heartbeat asks
 * the registry. */
void touches_learn(struct mdevmig *m, const char *host, bool known, int64_t generation,
                   int64_t now);

/* Writes every pending last_seen in one transaction (takes registry_lock
 * itself). 0, or -1 with err (they stay pending). */
int touches_flush(struct mdevmig *m, char *err, size_t errlen);

/* Transactions touches_flush has committed. */
uint64_t touches_flushes(const struct touches *t);

/* ---- group commit (ingest.c) -------------------------------------------- */

struct ingest *ingest_new(void);
void ingest_free(struct ingest *q);

#endif
