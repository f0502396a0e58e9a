/*
 * audit — the record of every probe this collector answered, appended to a
 * table in an SQLite file an operator can query with sqlite3. A probe only
 * copies its entry into a bounded queue in memory; one background thread
 * writes the queue in batches, one transaction each, so disk latency never
 * reaches the probe path. When the queue is full the entry is dropped and
 * counted (exported as a metric) rather than making the probe wait.
 */
#ifndef MDEVMIG_COLLECTOR_AUDIT_H
#define MDEVMIG_COLLECTOR_AUDIT_H

#include <stddef.h>
#include <stdint.h>

/* Entries waiting for the writer, beyond which audit_record() drops. */
#define AUDIT_QUEUE_MAX 8192

/* One answered probe. Fixed-size strings: audit_record() copies the entry
 * whole, so nothing the caller owns is kept, and an over-long string is
 * cut rather than allocated on the probe path. An empty string is stored
 * as NULL. */
struct audit_entry {
    int64_t at_us;          /* wall clock, microseconds since the epoch */
    char peer[64];          /* client address */
    char level[8];          /* "type" or "device" */
    char target[512];       /* "PARENT/TYPE" or a device UUID */
    char source_digest[65]; /* version_digest() of the probed version, hex */
    char verdict[24];       /* "compatible", "incompatible", "unsupported", ... */
    int err;                /* errno of the write; 0 when it succeeded */
    int64_t elapsed_us;     /* time the probe took */
};

struct audit;

/* Open (creating if needed) the SQLite file at path with its probes table,
 * WAL and synchronous=NORMAL, and start the writer thread. NULL with a
 * message in err when the file cannot be opened or set up. */
struct audit *audit_open(const char *path, char *err, size_t errlen);

/* Queue a copy of e for writing. Never waits for the disk: it takes a
 * mutex the writer holds only to swap queues. Safe from any thread. */
void audit_record(struct audit *a, const struct audit_entry *e);

/* Entries that never reached the file: queue full, or a batch that could
 * not be written (the reason is logged). */
uint64_t audit_dropped(struct audit *a);

/* Entries committed to the file. */
uint64_t audit_written(struct audit *a);

/* Write everything still queued, stop the writer, close the file and
 * free. NULL is accepted. No audit_record() may run during or after it. */
void audit_close(struct audit *a);

#endif
