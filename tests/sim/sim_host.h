/*
 * sim_host — one simulated compute host: its mdev parents, types and
 * devices (the model a vendor driver keeps) and the sysfs tree that shows
 * them. Every entry point takes the host lock itself unless its name ends
 * in _locked.
 */
#ifndef MDEVSIM_HOST_H
#define MDEVSIM_HOST_H

#include "sim_tree.h"
#include "sim_vendor.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

/* What sysfs allows: a page per attribute, show() returns < a page. */
#define SIM_STORE_MAX 4096
#define SIM_SHOW_MAX  4095

struct sim_parent;

struct sim_type {
    char *id;
    char *name;
    char *description;
    char *device_api;
    int max_instances;
    int create_errno;
    struct sim_migration mig;
    struct sim_parent *parent;
    struct sim_node *dir;
    struct sim_node *devices_dir;
};

struct sim_parent {
    char *name;
    char *path; /* below sys/devices */
    struct sim_type *types;
    size_t type_count;
    struct sim_node *dir;
};

struct sim_device {
    char uuid[37];
    struct sim_type *type;
    bool own_mig; /* false: follows its type's behaviour */
    struct sim_migration mig;
    int iommu_group;
    struct sim_node *dir;
    struct sim_device *next;
};

struct sim_host {
    pthread_mutex_t lock;
    char *name;
    int iommu_group_start;
    struct sim_parent *parents;
    size_t parent_count;
    struct sim_device *devices;
    struct sim_node *root;
    struct sim_node *bus_devices;  /* sys/bus/mdev/devices */
    struct sim_node *iommu_groups; /* sys/kernel/iommu_groups */
};

/* Load a fixture file and build the tree. Returns NULL with a message
 * naming the file and the offending entry in err. */
struct sim_host *sim_host_load(const char *fixture_path, char *err, size_t errlen);
void sim_host_free(struct sim_host *host);

/* show(): fill buf (SIM_SHOW_MAX + 1 bytes) for an attribute; returns the
 * length or a negative errno. Caller holds the lock. */
ssize_t sim_host_show_locked(struct sim_host *host, struct sim_node *node, char *buf);

/* store(): the driver's answer to one write of len bytes; returns len (or
 * fewer) or a negative errno. Caller holds the lock. */
ssize_t sim_host_store_locked(struct sim_host *host, struct sim_node *node, const char *buf,
                              size_t len);

/* The type or device whose directory (or any node inside it) is node. */
struct sim_type *sim_host_type_of(struct sim_node *node);
struct sim_device *sim_host_device_of(struct sim_host *host, struct sim_node *node);

/* Replace a type's or device's behaviour (a driver upgrade or downgrade),
 * adding or removing migration_version files to match. mig is consumed.
 * For a device, mig NULL puts it back on its type's behaviour. Caller
 * holds the lock. */
int sim_host_set_type_migration_locked(struct sim_host *host, struct sim_type *type,
                                       struct sim_migration *mig, char *err, size_t errlen);
int sim_host_set_device_migration_locked(struct sim_host *host, struct sim_device *dev,
                                         struct sim_migration *mig, char *err, size_t errlen);

/* The behaviour a device's migration_version follows right now. */
const struct sim_migration *sim_host_device_mig(const struct sim_device *dev);

#endif
