/*
 * sim_host — the model behind mdevsim: what a vendor driver and the mdev
 * core keep (parents, types, devices, capacity, migration behaviour), and
 * the sysfs nodes that expose it, laid out and linked as the kernel does.
 *
 * Creating or removing a device adds or removes every node the kernel
 * would: the device directory under its parent, its entry in the type's
 * devices/, in bus/mdev/devices and in its IOMMU group.
 */
#include "sim_host.h"

#include "errname.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_DEFAULT_IOMMU_GROUP_START 100

static bool sim_uuid_valid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

static void sim_uuid_lower(char out[37], const char *s)
{
    for (size_t i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = '\0';
}

const struct sim_migration *sim_host_device_mig(const struct sim_device *dev)
{
    return dev->own_mig ? &dev->mig : &dev->type->mig;
}

static struct sim_device *sim_host_find_device(struct sim_host *host, const char *uuid)
{
    for (struct sim_device *d = host->devices; d != NULL; d = d->next) {
        if (strcmp(d->uuid, uuid) == 0)
            return d;
    }
    return NULL;
}

static int sim_host_used_instances(const struct sim_host *host, const struct sim_type *type)
{
    int used = 0;
    for (const struct sim_device *d = host->devices; d != NULL; d = d->next)
        used += d->type == type;
    return used;
}

/* A text attribute printed the way show() does: "%s\n". */
static struct sim_node *sim_host_add_text(struct sim_node *dir, const char *name, const char *text,
                                          mode_t mode)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 2);
    if (copy == NULL)
        return NULL;
    memcpy(copy, text, len);
    copy[len] = '\n';
    copy[len + 1] = '\0';
    struct sim_node *node = sim_tree_add_attr(dir, name, mode, SIM_ATTR_TEXT);
    if (node == NULL) {
        free(copy);
        return NULL;
    }
    node->text = copy;
    return node;
}

/* A relative link from dir to a path below sys/, climbing only as far as
 * sys/ as the kernel's links do ("../../devices/..."). */
static char *sim_host_link_to(const struct sim_node *dir, const char *from_sys)
{
    int depth = sim_tree_depth(dir) - 1;
    size_t len = (size_t)depth * 3 + strlen(from_sys) + 1;
    char *target = malloc(len);
    if (target == NULL)
        return NULL;
    target[0] = '\0';
    for (int i = 0; i < depth; i++)
        strcat(target, "../");
    strcat(target, from_sys);
    return target;
}

static int sim_host_add_link_to(struct sim_node *dir, const char *name, const char *from_sys)
{
    char *target = sim_host_link_to(dir, from_sys);
    if (target == NULL)
        return -1;
    struct sim_node *node = sim_tree_add_link(dir, name, target);
    free(target);
    return node == NULL ? -1 : 0;
}

/* Make dir's migration_version file match the behaviour it follows. */
static int sim_host_sync_mig_node(struct sim_node *dir, const struct sim_migration *mig,
                                  struct sim_type *type, struct sim_device *dev)
{
    struct sim_node *node = sim_tree_child(dir, "migration_version");
    if (mig->kind == SIM_MIG_NONE) {
        if (node != NULL)
            sim_tree_remove(node);
        return 0;
    }
    if (node != NULL)
        return 0;
    node = sim_tree_add_attr(dir, "migration_version", 0644, SIM_ATTR_MIGRATION);
    if (node == NULL)
        return -1;
    node->type = type;
    node->device = dev;
    return 0;
}

static int sim_host_lowest_free_group(const struct sim_host *host)
{
    for (int group = host->iommu_group_start;; group++) {
        bool used = false;
        for (const struct sim_device *d = host->devices; d != NULL && !used; d = d->next)
            used = d->iommu_group == group;
        if (!used)
            return group;
    }
}

static void sim_host_remove_device_nodes(struct sim_host *host, struct sim_device *dev)
{
    struct sim_node *node;
    if ((node = sim_tree_child(host->bus_devices, dev->uuid)) != NULL)
        sim_tree_remove(node);
    if ((node = sim_tree_child(dev->type->devices_dir, dev->uuid)) != NULL)
        sim_tree_remove(node);
    char group[16];
    snprintf(group, sizeof group, "%d", dev->iommu_group);
    if ((node = sim_tree_child(host->iommu_groups, group)) != NULL)
        sim_tree_remove(node);
    if (dev->dir != NULL)
        sim_tree_remove(dev->dir);
    dev->dir = NULL;
}

static int sim_host_add_device_nodes(struct sim_host *host, struct sim_device *dev)
{
    struct sim_parent *parent = dev->type->parent;
    char path[4096];
    char group[16];
    snprintf(group, sizeof group, "%d", dev->iommu_group);

    dev->dir = sim_tree_add_dir(parent->dir, dev->uuid);
    if (dev->dir == NULL)
        return -1;
    snprintf(path, sizeof path, "../mdev_supported_types/%s", dev->type->id);
    if (sim_tree_add_link(dev->dir, "mdev_type", path) == NULL)
        return -1;
    snprintf(path, sizeof path, "kernel/iommu_groups/%s", group);
    if (sim_host_add_link_to(dev->dir, "iommu_group", path) < 0)
        return -1;
    if (sim_host_add_link_to(dev->dir, "subsystem", "bus/mdev") < 0)
        return -1;
    struct sim_node *remove = sim_tree_add_attr(dev->dir, "remove", 0200, SIM_ATTR_REMOVE);
    if (remove == NULL)
        return -1;
    remove->device = dev;
    snprintf(path, sizeof path, "MDEV_TYPE=%s", dev->type->id);
    if (sim_host_add_text(dev->dir, "uevent", path, 0644) == NULL)
        return -1;
    if (sim_host_sync_mig_node(dev->dir, sim_host_device_mig(dev), NULL, dev) < 0)
        return -1;

    snprintf(path, sizeof path, "../../../%s", dev->uuid);
    if (sim_tree_add_link(dev->type->devices_dir, dev->uuid, path) == NULL)
        return -1;
    snprintf(path, sizeof path, "devices/%s/%s", parent->path, dev->uuid);
    if (sim_host_add_link_to(host->bus_devices, dev->uuid, path) < 0)
        return -1;
    struct sim_node *group_dir = sim_tree_add_dir(host->iommu_groups, group);
    struct sim_node *group_devices = group_dir ? sim_tree_add_dir(group_dir, "devices") : NULL;
    if (group_devices == NULL || sim_host_add_link_to(group_devices, dev->uuid, path) < 0)
        return -1;
    return 0;
}

static void sim_device_free(struct sim_device *dev)
{
    sim_migration_clear(&dev->mig);
    free(dev);
}

/* The mdev core's create path: duplicate check first, then the driver's
 * capacity. own_mig NULL: follow the type. Caller holds the lock. */
static int sim_host_create_device(struct sim_host *host, struct sim_type *type, const char *uuid,
                                  int iommu_group, const struct sim_migration *own_mig)
{
    if (sim_host_find_device(host, uuid) != NULL)
        return EEXIST;
    if (sim_host_used_instances(host, type) >= type->max_instances)
        return type->create_errno;
    if (iommu_group >= 0) {
        for (struct sim_device *d = host->devices; d != NULL; d = d->next) {
            if (d->iommu_group == iommu_group)
                return EBUSY;
        }
    }
    struct sim_device *dev = calloc(1, sizeof *dev);
    if (dev == NULL)
        return ENOMEM;
    memcpy(dev->uuid, uuid, sizeof dev->uuid);
    dev->type = type;
    dev->iommu_group = iommu_group >= 0 ? iommu_group : sim_host_lowest_free_group(host);
    if (own_mig != NULL) {
        if (sim_migration_copy(own_mig, &dev->mig) < 0) {
            free(dev);
            return ENOMEM;
        }
        dev->own_mig = true;
    }
    if (sim_host_add_device_nodes(host, dev) < 0) {
        sim_host_remove_device_nodes(host, dev);
        sim_device_free(dev);
        return ENOMEM;
    }
    dev->next = host->devices;
    host->devices = dev;
    return 0;
}

static void sim_host_remove_device(struct sim_host *host, struct sim_device *dev)
{
    for (struct sim_device **p = &host->devices; *p != NULL; p = &(*p)->next) {
        if (*p == dev) {
            *p = dev->next;
            break;
        }
    }
    sim_host_remove_device_nodes(host, dev);
    sim_device_free(dev);
}

ssize_t sim_host_show_locked(struct sim_host *host, struct sim_node *node, char *buf)
{
    if (node->detached)
        return -ENODEV;
    const struct sim_migration *mig;
    int n;
    switch (node->attr) {
    case SIM_ATTR_TEXT:
        n = snprintf(buf, SIM_SHOW_MAX + 1, "%s", node->text);
        break;
    case SIM_ATTR_AVAILABLE:
        n = snprintf(buf, SIM_SHOW_MAX + 1, "%d\n",
                     node->type->max_instances - sim_host_used_instances(host, node->type));
        break;
    case SIM_ATTR_MIGRATION:
        mig = node->device != NULL ? sim_host_device_mig(node->device) : &node->type->mig;
        if (mig->kind == SIM_MIG_READ_ERRNO)
            return -mig->read_errno;
        if (mig->kind != SIM_MIG_VERSION)
            return -ENODEV;
        n = snprintf(buf, SIM_SHOW_MAX + 1, "%s\n", mig->version);
        break;
    default:
        return -EACCES;
    }
    return n > SIM_SHOW_MAX ? SIM_SHOW_MAX : n;
}

/* kstrtoul(buf, 0, ...) as remove_store() uses it: one trailing newline. */
static bool sim_parse_ulong(const char *buf, size_t len, unsigned long *out)
{
    char text[32];
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len == 0 || len >= sizeof text || buf[0] == '-' || buf[0] == '+' ||
        isspace((unsigned char)buf[0]))
        return false;
    memcpy(text, buf, len);
    text[len] = '\0';
    char *end;
    errno = 0;
    *out = strtoul(text, &end, 0);
    return errno == 0 && *end == '\0';
}

ssize_t sim_host_store_locked(struct sim_host *host, struct sim_node *node, const char *buf,
                              size_t len)
{
    if (node->detached)
        return -ENODEV;
    switch (node->attr) {
    case SIM_ATTR_CREATE: {
        size_t uuid_len = len == 37 && buf[36] == '\n' ? 36 : len;
        if (!sim_uuid_valid(buf, uuid_len))
            return -EINVAL;
        char uuid[37];
        sim_uuid_lower(uuid, buf);
        int err = sim_host_create_device(host, node->type, uuid, -1, NULL);
        return err != 0 ? -err : (ssize_t)len;
    }
    case SIM_ATTR_REMOVE: {
        unsigned long value;
        if (!sim_parse_ulong(buf, len, &value))
            return -EINVAL;
        if (value != 0)
            sim_host_remove_device(host, node->device);
        return (ssize_t)len;
    }
    case SIM_ATTR_MIGRATION: {
        const struct sim_migration *mig =
            node->device != NULL ? sim_host_device_mig(node->device) : &node->type->mig;
        int err = sim_migration_judge(mig, buf, len);
        return err != 0 ? -err : (ssize_t)len;
    }
    default:
        return -EACCES;
    }
}

struct sim_type *sim_host_type_of(struct sim_node *node)
{
    return node != NULL && node->kind == SIM_NODE_DIR ? node->type : NULL;
}

struct sim_device *sim_host_device_of(struct sim_host *host, struct sim_node *node)
{
    for (struct sim_device *d = host->devices; d != NULL; d = d->next) {
        if (d->dir == node)
            return d;
    }
    return NULL;
}

int sim_host_set_type_migration_locked(struct sim_host *host, struct sim_type *type,
                                       struct sim_migration *mig, char *err, size_t errlen)
{
    sim_migration_clear(&type->mig);
    type->mig = *mig;
    memset(mig, 0, sizeof *mig);
    int rc = sim_host_sync_mig_node(type->dir, &type->mig, type, NULL);
    for (struct sim_device *d = host->devices; d != NULL && rc == 0; d = d->next) {
        if (d->type == type && !d->own_mig)
            rc = sim_host_sync_mig_node(d->dir, &type->mig, NULL, d);
    }
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    return rc;
}

int sim_host_set_device_migration_locked(struct sim_host *host, struct sim_device *dev,
                                         struct sim_migration *mig, char *err, size_t errlen)
{
    (void)host;
    sim_migration_clear(&dev->mig);
    dev->own_mig = mig != NULL;
    if (mig != NULL) {
        dev->mig = *mig;
        memset(mig, 0, sizeof *mig);
    }
    int rc = sim_host_sync_mig_node(dev->dir, sim_host_device_mig(dev), NULL, dev);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* ---- fixture loading ------------------------------------------------- */

static bool sim_keys_known(const json_t *obj, const char *const *known, size_t count,
                           const char *where, char *err, size_t errlen)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        bool ok = false;
        for (size_t i = 0; i < count && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "%s: unknown key \"%s\"", where, key);
            return false;
        }
    }
    return true;
}

/* A name that becomes one path component: no '/', not "." or "..". */
static bool sim_component_ok(const char *s)
{
    return s != NULL && *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0 && strlen(s) < 256;
}

static const char *sim_string(const json_t *obj, const char *key, const char *fallback)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : fallback;
}

static char *sim_strdup_or(const char *s, bool *ok)
{
    char *copy = strdup(s);
    if (copy == NULL)
        *ok = false;
    return copy;
}

static int sim_host_load_type(struct sim_host *host, struct sim_parent *parent,
                              struct sim_type *type, const json_t *json, const char *where,
                              char *err, size_t errlen)
{
    static const char *const keys[] = {
        "id", "name", "description", "device_api", "max_instances", "create_errno", "migration"};
    if (!json_is_object(json)) {
        snprintf(err, errlen, "%s: must be an object", where);
        return -1;
    }
    if (!sim_keys_known(json, keys, sizeof keys / sizeof keys[0], where, err, errlen))
        return -1;
    const char *id = sim_string(json, "id", NULL);
    if (!sim_component_ok(id)) {
        snprintf(err, errlen, "%s: \"id\" must be a type id like \"nvidia-222\" (no '/')", where);
        return -1;
    }
    for (size_t i = 0; i < parent->type_count; i++) {
        if (strcmp(parent->types[i].id, id) == 0) {
            snprintf(err, errlen, "%s: type id \"%s\" appears twice on this parent", where, id);
            return -1;
        }
    }
    const json_t *max = json_object_get(json, "max_instances");
    if (!json_is_integer(max) || json_integer_value(max) < 0 || json_integer_value(max) > 65536) {
        snprintf(err, errlen, "%s: \"max_instances\" must be an integer from 0 to 65536", where);
        return -1;
    }
    type->create_errno = ENOSPC;
    const json_t *create_errno = json_object_get(json, "create_errno");
    if (create_errno != NULL) {
        type->create_errno = json_is_string(create_errno)
                                 ? errname_parse(json_string_value(create_errno))
                                 : (int)json_integer_value(create_errno);
        if (type->create_errno <= 0) {
            snprintf(err, errlen, "%s: \"create_errno\" must be an errno name or number", where);
            return -1;
        }
    }
    char mig_err[256];
    if (sim_migration_parse(json_object_get(json, "migration"), &type->mig, mig_err,
                            sizeof mig_err) < 0) {
        snprintf(err, errlen, "%s: %s", where, mig_err);
        return -1;
    }
    bool ok = true;
    type->id = sim_strdup_or(id, &ok);
    type->name = sim_strdup_or(sim_string(json, "name", id), &ok);
    type->description = sim_strdup_or(sim_string(json, "description", ""), &ok);
    type->device_api = sim_strdup_or(sim_string(json, "device_api", "vfio-pci"), &ok);
    type->max_instances = (int)json_integer_value(max);
    type->parent = parent;
    parent->type_count++;
    if (!ok) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    struct sim_node *types_dir = sim_tree_child(parent->dir, "mdev_supported_types");
    type->dir = sim_tree_add_dir(types_dir, id);
    if (type->dir == NULL)
        goto nomem;
    type->dir->type = type;
    struct sim_node *n;
    if (sim_host_add_text(type->dir, "name", type->name, 0444) == NULL ||
        sim_host_add_text(type->dir, "description", type->description, 0444) == NULL ||
        sim_host_add_text(type->dir, "device_api", type->device_api, 0444) == NULL)
        goto nomem;
    if ((n = sim_tree_add_attr(type->dir, "available_instances", 0444, SIM_ATTR_AVAILABLE)) == NULL)
        goto nomem;
    n->type = type;
    if ((n = sim_tree_add_attr(type->dir, "create", 0200, SIM_ATTR_CREATE)) == NULL)
        goto nomem;
    n->type = type;
    if ((type->devices_dir = sim_tree_add_dir(type->dir, "devices")) == NULL)
        goto nomem;
    if (sim_host_sync_mig_node(type->dir, &type->mig, type, NULL) < 0)
        goto nomem;
    (void)host;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int sim_host_load_parent(struct sim_host *host, struct sim_parent *parent,
                                const json_t *json, const char *where, char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "path", "types"};
    if (!json_is_object(json)) {
        snprintf(err, errlen, "%s: must be an object", where);
        return -1;
    }
    if (!sim_keys_known(json, keys, sizeof keys / sizeof keys[0], where, err, errlen))
        return -1;
    const char *name = sim_string(json, "name", NULL);
    if (!sim_component_ok(name)) {
        snprintf(err, errlen, "%s: \"name\" must be a device name like \"0000:3b:00.0\"", where);
        return -1;
    }
    for (size_t i = 0; i + 1 < host->parent_count; i++) {
        if (host->parents[i].name != NULL && strcmp(host->parents[i].name, name) == 0) {
            snprintf(err, errlen, "%s: parent \"%s\" appears twice", where, name);
            return -1;
        }
    }
    char default_path[512];
    snprintf(default_path, sizeof default_path, "pci0000:00/%s", name);
    const char *path = sim_string(json, "path", default_path);
    if (path[0] == '/' || strstr(path, "..") != NULL || strstr(path, "//") != NULL) {
        snprintf(err, errlen, "%s: \"path\" must be relative to sys/devices, without '..'", where);
        return -1;
    }
    const json_t *types = json_object_get(json, "types");
    if (!json_is_array(types)) {
        snprintf(err, errlen, "%s: \"types\" must be an array", where);
        return -1;
    }
    bool ok = true;
    parent->name = sim_strdup_or(name, &ok);
    parent->path = sim_strdup_or(path, &ok);
    parent->types = calloc(json_array_size(types) + 1, sizeof *parent->types);
    if (!ok || parent->types == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct sim_node *devices = sim_tree_lookup(host->root, "sys/devices", false);
    parent->dir = sim_tree_mkdirs(devices, path);
    if (parent->dir == NULL || sim_tree_child(parent->dir, "mdev_supported_types") != NULL ||
        sim_tree_add_dir(parent->dir, "mdev_supported_types") == NULL) {
        snprintf(err, errlen, "%s: cannot place the parent at sys/devices/%s", where, path);
        return -1;
    }
    char target[1024];
    snprintf(target, sizeof target, "devices/%s", path);
    struct sim_node *class_dir = sim_tree_lookup(host->root, "sys/class/mdev_bus", false);
    if (sim_host_add_link_to(class_dir, name, target) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t i;
    json_t *type;
    json_array_foreach(types, i, type)
    {
        char type_where[512];
        snprintf(type_where, sizeof type_where, "%s types[%zu]", where, i);
        if (sim_host_load_type(host, parent, &parent->types[i], type, type_where, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int sim_host_load_device(struct sim_host *host, const json_t *json, const char *where,
                                char *err, size_t errlen)
{
    static const char *const keys[] = {"uuid", "parent", "type", "iommu_group", "migration"};
    if (!json_is_object(json)) {
        snprintf(err, errlen, "%s: must be an object", where);
        return -1;
    }
    if (!sim_keys_known(json, keys, sizeof keys / sizeof keys[0], where, err, errlen))
        return -1;
    const char *uuid = sim_string(json, "uuid", "");
    if (!sim_uuid_valid(uuid, strlen(uuid))) {
        snprintf(err, errlen, "%s: \"uuid\" must be a UUID like 8-4-4-4-12 hex digits", where);
        return -1;
    }
    const char *parent_name = sim_string(json, "parent", "");
    const char *type_id = sim_string(json, "type", "");
    struct sim_type *type = NULL;
    for (size_t p = 0; p < host->parent_count && type == NULL; p++) {
        if (strcmp(host->parents[p].name, parent_name) != 0)
            continue;
        for (size_t t = 0; t < host->parents[p].type_count; t++) {
            if (strcmp(host->parents[p].types[t].id, type_id) == 0)
                type = &host->parents[p].types[t];
        }
    }
    if (type == NULL) {
        snprintf(err, errlen, "%s: no type \"%s\" on a parent \"%s\" in this fixture", where,
                 type_id, parent_name);
        return -1;
    }
    int group = -1;
    const json_t *group_json = json_object_get(json, "iommu_group");
    if (group_json != NULL) {
        if (!json_is_integer(group_json) || json_integer_value(group_json) < 0 ||
            json_integer_value(group_json) > 1000000) {
            snprintf(err, errlen, "%s: \"iommu_group\" must be a non-negative integer", where);
            return -1;
        }
        group = (int)json_integer_value(group_json);
    }
    struct sim_migration own;
    bool has_own = json_object_get(json, "migration") != NULL;
    char mig_err[256];
    if (has_own && sim_migration_parse(json_object_get(json, "migration"), &own, mig_err,
                                       sizeof mig_err) < 0) {
        snprintf(err, errlen, "%s: %s", where, mig_err);
        return -1;
    }
    char lower[37];
    sim_uuid_lower(lower, uuid);
    int rc = sim_host_create_device(host, type, lower, group, has_own ? &own : NULL);
    if (has_own)
        sim_migration_clear(&own);
    if (rc != 0) {
        const char *name = errname_of(rc);
        snprintf(err, errlen, "%s: cannot create %s: %s (%s)", where, lower, strerror(rc),
                 name != NULL ? name : "?");
        return -1;
    }
    return 0;
}

static int sim_host_build(struct sim_host *host, const json_t *fixture, char *err, size_t errlen)
{
    static const char *const keys[] = {"host", "iommu_group_start", "parents", "devices"};
    if (!json_is_object(fixture)) {
        snprintf(err, errlen, "the fixture must be a JSON object");
        return -1;
    }
    if (!sim_keys_known(fixture, keys, sizeof keys / sizeof keys[0], "fixture", err, errlen))
        return -1;
    host->name = strdup(sim_string(fixture, "host", "mdevsim"));
    const json_t *start = json_object_get(fixture, "iommu_group_start");
    host->iommu_group_start = SIM_DEFAULT_IOMMU_GROUP_START;
    if (start != NULL) {
        if (!json_is_integer(start) || json_integer_value(start) < 0 ||
            json_integer_value(start) > 1000000) {
            snprintf(err, errlen, "fixture: \"iommu_group_start\" must be a non-negative integer");
            return -1;
        }
        host->iommu_group_start = (int)json_integer_value(start);
    }
    host->root = sim_tree_new_root();
    if (host->name == NULL || host->root == NULL ||
        sim_tree_mkdirs(host->root, "sys/class/mdev_bus") == NULL ||
        sim_tree_mkdirs(host->root, "sys/devices") == NULL ||
        sim_tree_mkdirs(host->root, "sys/bus/mdev/drivers/vfio_mdev") == NULL ||
        (host->bus_devices = sim_tree_mkdirs(host->root, "sys/bus/mdev/devices")) == NULL ||
        (host->iommu_groups = sim_tree_mkdirs(host->root, "sys/kernel/iommu_groups")) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const json_t *parents = json_object_get(fixture, "parents");
    if (!json_is_array(parents)) {
        snprintf(err, errlen, "fixture: \"parents\" must be an array");
        return -1;
    }
    host->parents = calloc(json_array_size(parents) + 1, sizeof *host->parents);
    if (host->parents == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(parents, i, item)
    {
        char where[64];
        snprintf(where, sizeof where, "parents[%zu]", i);
        host->parent_count = i + 1;
        if (sim_host_load_parent(host, &host->parents[i], item, where, err, errlen) < 0)
            return -1;
    }
    const json_t *devices = json_object_get(fixture, "devices");
    if (devices != NULL && !json_is_array(devices)) {
        snprintf(err, errlen, "fixture: \"devices\" must be an array");
        return -1;
    }
    json_array_foreach(devices, i, item)
    {
        char where[64];
        snprintf(where, sizeof where, "devices[%zu]", i);
        if (sim_host_load_device(host, item, where, err, errlen) < 0)
            return -1;
    }
    return 0;
}

struct sim_host *sim_host_load(const char *fixture_path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *fixture = json_load_file(fixture_path, JSON_REJECT_DUPLICATES, &jerr);
    if (fixture == NULL) {
        snprintf(err, errlen, "%s:%d:%d: %s", fixture_path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    struct sim_host *host = calloc(1, sizeof *host);
    if (host == NULL) {
        json_decref(fixture);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&host->lock, NULL);
    char inner[768];
    if (sim_host_build(host, fixture, inner, sizeof inner) < 0) {
        snprintf(err, errlen, "%s: %s", fixture_path, inner);
        json_decref(fixture);
        sim_host_free(host);
        return NULL;
    }
    json_decref(fixture);
    return host;
}

void sim_host_free(struct sim_host *host)
{
    if (host == NULL)
        return;
    while (host->devices != NULL) {
        struct sim_device *next = host->devices->next;
        sim_device_free(host->devices);
        host->devices = next;
    }
    for (size_t p = 0; p < host->parent_count; p++) {
        struct sim_parent *parent = &host->parents[p];
        for (size_t t = 0; t < parent->type_count; t++) {
            struct sim_type *type = &parent->types[t];
            free(type->id);
            free(type->name);
            free(type->description);
            free(type->device_api);
            sim_migration_clear(&type->mig);
        }
        free(parent->types);
        free(parent->name);
        free(parent->path);
    }
    free(host->parents);
    sim_tree_destroy(host->root);
    free(host->name);
    pthread_mutex_destroy(&host->lock);
    free(host);
}
