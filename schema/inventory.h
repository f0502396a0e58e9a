/*
 * inventory — what one host has: its mdev parents and types, its mdev
 * devices, each with its migration_version (or why it has none), and which
 * VM uses which device. The collector fills it from sysfs and libvirt;
 * the wire format (wire.h) carries it; the registry stores it.
 */
#ifndef MDEVMIG_INVENTORY_H
#define MDEVMIG_INVENTORY_H

#include "version.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INV_UUID_LEN 37

/* A migration_version attribute as found: absent, unreadable, or a version. */
struct inv_migration {
    bool supported;                  /* the attribute exists */
    int read_errno;                  /* non-zero: reading it failed */
    char *version;                   /* normalised; NULL unless readable */
    char digest[VERSION_DIGEST_LEN]; /* version_digest(type, version); "" if none */
};

struct inv_type {
    char *id;
    char *name;
    char *description;
    char *device_api;
    int available_instances; /* -1: could not be read */
    struct inv_migration migration;
};

struct inv_parent {
    char *name; /* as in class/mdev_bus, e.g. "0000:3b:00.0" */
    struct inv_type *types;
    size_t type_count;
};

struct inv_device {
    char uuid[INV_UUID_LEN];
    char *parent;
    char *type;
    int iommu_group; /* -1: none found */
    struct inv_migration migration;
    char instance[INV_UUID_LEN]; /* the VM using it, "" when unused */
};

struct inv_instance {
    char uuid[INV_UUID_LEN]; /* libvirt domain UUID = Nova instance UUID */
    char *name;
    char *state; /* "running", "paused", "shutoff", ... */
    char (*mdevs)[INV_UUID_LEN];
    size_t mdev_count;
};

struct inventory {
    char *host;
    char *collector_url;
    int64_t generation;
    int64_t scanned_at; /* unix seconds */
    struct inv_parent *parents;
    size_t parent_count;
    struct inv_device *devices;
    size_t device_count;
    struct inv_instance *instances;
    size_t instance_count;
};

void inventory_free(struct inventory *inv);
void inv_migration_clear(struct inv_migration *mig);

/* Lookups by name; NULL when absent. */
const struct inv_type *inventory_find_type(const struct inventory *inv, const char *parent,
                                           const char *type_id);
const struct inv_device *inventory_find_device(const struct inventory *inv, const char *uuid);

#endif
