/*
 * vmmap — the libvirt half of the collector: which VM (libvirt domain; its
 * UUID is the Nova instance UUID) holds which mdev, read from each domain's
 * XML <hostdev type='mdev'> entries. It keeps one read-only connection,
 * reconnects with backoff when libvirtd goes away, and tells the collector
 * to rescan when libvirt reports a domain or node-device change.
 *
 * Threads: one thread calls vmmap_collect/vmmap_events/vmmap_free for a
 * map. on_change runs on vmmap's libvirt event thread (one per process,
 * shared by all maps): it must be quick and thread-safe — wake the
 * collector, do not scan from it, and do not call vmmap from it.
 */
#ifndef MDEVMIG_COLLECTOR_VMMAP_H
#define MDEVMIG_COLLECTOR_VMMAP_H

#include "inventory.h"

#include <stdbool.h>
#include <stddef.h>

struct vmmap;

/* Backoff between failed connection attempts: doubles from the first to the
 * cap, and starts again from the first once a connection works. */
#define VMMAP_BACKOFF_FIRST_MS 500
#define VMMAP_BACKOFF_MAX_MS   30000

/* A map for the libvirt URI (e.g. qemu:///system, test:///abs/path.xml).
 * Does not connect yet. on_change (may be NULL) is called with arg when
 * libvirt reports a change worth a rescan, or the connection closes.
 * NULL when uri is NULL or memory runs out. The first map sets up libvirt
 * for the process: its event loop, and a handler that keeps libvirt's
 * errors off stderr (messages still reach err). */
struct vmmap *vmmap_new(const char *uri, void (*on_change)(void *arg), void *arg);

/* The VMs that hold at least one mdev (VMs without any are left out),
 * sorted by UUID, each with its mdev UUIDs in domain XML order, state as a
 * word: running, paused, shutoff, crashed, pmsuspended, blocked, shutdown,
 * nostate (unknown for a state newer than this code). Connects first when
 * needed; a dropped connection is closed and reopened. On success returns
 * 0 and *out (NULL when *count is 0) for the caller to free with
 * vmmap_instances_free, or to move into struct inventory, whose
 * inventory_free releases it the same way. On failure returns -1 with
 * *out NULL, *count 0 and why in err; while backing off it does not try,
 * and err says "libvirt unreachable ..., next try in N s". */
int vmmap_collect(struct vmmap *m, struct inv_instance **out, size_t *count, char *err,
                  size_t errlen);

/* Whether the current connection delivers change events (all of: domain
 * lifecycle, domain device added/removed, node-device lifecycle and
 * update). When not — no connection yet, no event thread, or a driver
 * that refuses some — returns false and note says what is missing, for
 * one log line: the collector then relies on its scan interval alone. */
bool vmmap_events(const struct vmmap *m, char *note, size_t notelen);

/* Closes the connection; once it returns, on_change is not running and
 * will not be called again (so it waits for a call in progress: do not
 * hold a lock on_change takes). The last map freed stops the event
 * thread. NULL is a no-op. */
void vmmap_free(struct vmmap *m);

/* Frees what vmmap_collect returned: every instance's strings and mdev
 * list, and the array. */
void vmmap_instances_free(struct inv_instance *list, size_t count);

#endif
