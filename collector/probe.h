/*
 * probe — the target side of the kernel's compatibility check: one
 * write(2) of the source's migration_version into this host's attribute.
 * The driver's answer (success or its errno) is the verdict.
 */
#ifndef MDEVMIG_COLLECTOR_PROBE_H
#define MDEVMIG_COLLECTOR_PROBE_H

#include <stdbool.h>
#include <stddef.h>

enum probe_verdict {
    PROBE_COMPATIBLE,   /* the write succeeded */
    PROBE_INCOMPATIBLE, /* the driver refused with an errno, or wrote short */
    PROBE_UNSUPPORTED,  /* no migration_version attribute on the target */
    PROBE_ERROR,        /* not a verdict: the path to the driver failed (err says how) */
};

struct probe_outcome {
    enum probe_verdict verdict;
    int err;          /* errno of the failed open or write, 0 if none */
    bool short_write; /* the driver took fewer bytes than were written */
    long elapsed_us;  /* open + write + close */
    long write_us;    /* the write(2) alone; -1 when the open failed */
};

struct attrdir;

/* Write version and a newline (as `echo $VERSION > attr` does) with one
 * write(2) to attr_dir/migration_version, opened afresh for every probe
 * (through dirs' kept directory fd when it has one). version is at most
 * VERSION_MAX bytes, without its newline. */
void probe_write(struct attrdir *dirs, const char *attr_dir, const char *version, size_t len,
                 struct probe_outcome *out);

const char *probe_verdict_name(enum probe_verdict verdict);

/* Whether a write's errno says the path to the driver broke rather than
 * what the driver answered: a store() behind kernfs never returns these
 * (DESIGN.md §7), a dead FUSE daemon or a bad fd does. */
bool probe_errno_is_transport(int err);

#endif
