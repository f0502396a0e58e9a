/*
 * sim_vendor — a vendor driver's migration_version behaviour, as mdevsim
 * plays it: no attribute, a read that fails, or a version string with the
 * rule the driver's store() applies to a written string.
 */
#ifndef MDEVSIM_VENDOR_H
#define MDEVSIM_VENDOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum sim_mig_kind {
    SIM_MIG_NONE,       /* no migration_version attribute at all */
    SIM_MIG_READ_ERRNO, /* attribute present, show() and store() fail */
    SIM_MIG_VERSION,    /* attribute present, shows a version, judges writes */
};

enum sim_accept {
    SIM_ACCEPT_EXACT,       /* i915 GVT-g: sysfs_streq() */
    SIM_ACCEPT_NEWER_MINOR, /* <prefix>-<major>.<minor>: same prefix+major, minor not newer */
    SIM_ACCEPT_LIST,        /* an explicit list of accepted strings */
};

struct sim_migration {
    enum sim_mig_kind kind;
    int read_errno;  /* SIM_MIG_READ_ERRNO */
    int write_errno; /* SIM_MIG_READ_ERRNO */
    char *version;   /* SIM_MIG_VERSION, without a trailing newline */
    enum sim_accept accept;
    char **accept_list;
    size_t accept_count;
    int refuse_errno;
};

/* Parse a fixture's "migration" value; JSON null (or a NULL json) gives
 * SIM_MIG_NONE. On failure returns -1 with a message in err. */
int sim_migration_parse(const json_t *json, struct sim_migration *out, char *err, size_t errlen);

/* Deep copy, for a device that starts from its type's behaviour. */
int sim_migration_copy(const struct sim_migration *from, struct sim_migration *to);

void sim_migration_clear(struct sim_migration *mig);

/* Replace the version string, checking it against the accept rule.
 * Returns 0, or -1 with a message in err. */
int sim_migration_set_version(struct sim_migration *mig, const char *version, char *err,
                              size_t errlen);

/* What store() answers for len written bytes: 0 when accepted, else the
 * positive errno the vendor refuses with. */
int sim_migration_judge(const struct sim_migration *mig, const char *buf, size_t len);

#endif
