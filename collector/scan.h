/*
 * scan — read a host's mdev inventory from sysfs (or an mdevsim mount):
 * parents from class/mdev_bus, their types with both kinds of
 * migration_version, and the devices in bus/mdev/devices.
 */
#ifndef MDEVMIG_COLLECTOR_SCAN_H
#define MDEVMIG_COLLECTOR_SCAN_H

#include "inventory.h"

#include <stddef.h>

/* What a scan had to pass over; each was also logged. */
struct scan_stats {
    unsigned skipped; /* parents, types or devices that vanished mid-scan */
    unsigned errors;  /* attributes that could not be read (EIO, ...) */
};

/* Scan sysfs_root (e.g. "/sys") into out (host, URL and generation are the
 * caller's). Entries that vanish mid-scan are skipped, unreadable
 * attributes recorded; a dead mount (ENOTCONN) or an unreadable root fails
 * the whole scan with -1 and a message, leaving out empty, so a half-read
 * tree is never published. */
int scan_host(const char *sysfs_root, struct inventory *out, struct scan_stats *stats, char *err,
              size_t errlen);

/* Read one migration_version attribute the way the seed says: missing
 * means unsupported, an errno on read means the same with the errno kept,
 * otherwise the string less one trailing newline. type_id feeds the
 * digest. Returns -1 only when the mount itself is gone (ENOTCONN). */
int scan_read_migration(const char *path, const char *type_id, struct inv_migration *out);

#endif
