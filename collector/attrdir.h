/*
 * attrdir — kept directory fds for the attributes probes write and live
 * reads open. Opening an attribute by its full path makes the kernel look
 * up every component on every probe (15 FUSE requests through the
 * class/mdev_bus link on mdevsim, as many dentry walks on sysfs); openat()
 * from a kept O_PATH fd of the attribute's directory looks up one name.
 * The fds are only a cache: an open that fails through a kept fd is
 * retried once by full path, so a device re-created under the same name, a
 * driver reload or a remounted tree never answers from a stale fd.
 *
 * The live reads' own kept fds (attrread.h) are owned here too, so that
 * whatever makes the directory fds stale (a new inventory, a dead mount)
 * drops them with the rest.
 */
#ifndef MDEVMIG_COLLECTOR_ATTRDIR_H
#define MDEVMIG_COLLECTOR_ATTRDIR_H

#include <stddef.h>
#include <sys/types.h>

struct attrdir;

/* A cache of at most max_dirs directory fds; NULL when out of memory.
 * Every directory opened must resolve to root (sysfs_root) or below it:
 * one that a planted symlink leads elsewhere is refused with -EXDEV, so a
 * probe never writes outside the tree the scan was told to read. */
struct attrdir *attrdir_new(size_t max_dirs, const char *root);
void attrdir_free(struct attrdir *dirs);

/* Close every kept fd, the read fds (attrdir_read) too: a new inventory
 * was installed (the directories and devices it names may differ), or the
 * mount died. Thread-safe. */
void attrdir_clear(struct attrdir *dirs);

/* Open dir/name with flags (O_CLOEXEC added). Returns the fd, or -errno
 * of the authoritative attempt (by full path when the kept fd failed).
 * dirs may be NULL: then it is a plain open by path. Thread-safe. */
int attrdir_open(struct attrdir *dirs, const char *dir, const char *name, int flags);

/* How many directory fds are kept now (for /metrics and tests). */
size_t attrdir_count(struct attrdir *dirs);

/* Keep up to max_fds attributes open between attrdir_read calls
 * (attrread.h); 0 keeps none. 0, or -1 when out of memory. Call before
 * any read: not thread-safe. */
int attrdir_keep_reads(struct attrdir *dirs, size_t max_fds);

/* Read dir/name from offset 0, live (attrread_pread), through a kept read
 * fd where there is one, else opened by attrdir_open. The byte count, or
 * -errno. dirs may be NULL. Thread-safe. */
ssize_t attrdir_read(struct attrdir *dirs, const char *dir, const char *name, char *buf,
                     size_t len);

#endif
