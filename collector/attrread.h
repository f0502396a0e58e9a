/*
 * attrread — kept read fds of the attributes the collector reads live
 * again and again (an evacuation's source reads every device's
 * migration_version in one batch). Only the descriptor is kept, never what
 * it read: every read is a pread at offset 0, and at offset 0 kernfs'
 * seq_file runs the attribute's show() again (mdevsim, opening every file
 * direct_io, sees each read too). What a kept fd saves is the open and the
 * close around each read: on FUSE a lookup per path component, OPEN, FLUSH
 * and RELEASE, five round trips to the daemon for the one READ.
 */
#ifndef MDEVMIG_COLLECTOR_ATTRREAD_H
#define MDEVMIG_COLLECTOR_ATTRREAD_H

#include <stddef.h>
#include <sys/types.h>

struct attrdir;
struct attrread;

/* A cache of at most max_fds read fds; NULL when out of memory. Beyond
 * max_fds a read opens and closes its attribute, as without a cache. */
struct attrread *attrread_new(size_t max_fds);

/* Close every kept fd; reads under way finish on theirs, closed after. */
void attrread_free(struct attrread *reads);

/* Forget every kept fd (a new inventory, a dead mount): later reads open
 * their attribute again. Thread-safe. */
void attrread_clear(struct attrread *reads);

/* Read dir/name from offset 0 into buf (at most len bytes): the driver's
 * show() now. A kept fd is used where there is one; one that fails as only
 * a stale fd does (its node removed: ENODEV; its mount gone: ENOTCONN,
 * ECONNABORTED; ESTALE, EBADF) is dropped and the attribute opened again
 * by path (attrdir_open through dirs), whose answer stands. A fd is kept
 * only after a read on it succeeded, so an attribute whose driver keeps
 * failing costs one read per call, as before. Returns the byte count, or
 * -errno of the open or of the read. reads may be NULL: then a plain
 * open, read and close. Thread-safe. */
ssize_t attrread_pread(struct attrread *reads, struct attrdir *dirs, const char *dir,
                       const char *name, char *buf, size_t len);

#endif
