/*
 * scan — the collector's view of sysfs. It only ever follows names it
 * found by reading directories, reads each attribute with one read(2) as
 * sysfs serves them (show() output is at most a page), and treats the tree
 * as changing under it: a device removed between readdir and read is a
 * skip with a log line, not an error.
 */
#include "scan.h"

#include "errname.h"
#include "log.h"
#include "version.h"
#include "wire.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read a whole attribute (at most a page) into buf; returns 0 or errno. */
static int scan_read(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ssize_t n;
    do {
        n = read(fd, buf, cap - 1);
    } while (n < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (n < 0)
        return saved;
    buf[n] = '\0';
    *len = (size_t)n;
    return 0;
}

static char *scan_text(const char *path, int *err_out)
{
    char buf[4097];
    size_t len = 0;
    *err_out = scan_read(path, buf, sizeof buf, &len);
    if (*err_out != 0)
        return NULL;
    len = version_normalised_len(buf, len);
    buf[len] = '\0';
    char *copy = strdup(buf);
    if (copy == NULL)
        *err_out = ENOMEM;
    return copy;
}

int scan_read_migration(const char *path, const char *type_id, struct inv_migration *out)
{
    memset(out, 0, sizeof *out);
    char buf[4097];
    size_t len = 0;
    int err = scan_read(path, buf, sizeof buf, &len);
    if (err == ENOTCONN)
        return -1;
    if (err == ENOENT)
        return 0; /* no attribute: the driver does not support migration */
    out->supported = true;
    if (err != 0) {
        out->read_errno = err;
        return 0;
    }
    len = version_normalised_len(buf, len);
    char why[160];
    if (!version_validate(buf, len, why, sizeof why) || memchr(buf, '\0', len) != NULL) {
        log_warn("%s: the driver printed an invalid version (%s); recorded as EINVAL", path, why);
        out->read_errno = EINVAL;
        return 0;
    }
    buf[len] = '\0';
    out->version = strdup(buf);
    if (out->version == NULL || version_digest(type_id, out->version, out->digest) < 0) {
        inv_migration_clear(out);
        out->supported = true;
        out->read_errno = ENOMEM;
    }
    return 0;
}

static int scan_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of a directory (no dot entries). Returns 0 or errno. */
static int scan_list(const char *path, char ***names_out, size_t *count_out)
{
    *names_out = NULL;
    *count_out = 0;
    DIR *dir = opendir(path);
    if (dir == NULL)
        return errno;
    char **names = NULL;
    size_t count = 0, cap = 0;
    int err = 0;
    struct dirent *ent;
    errno = 0;
    while ((ent = readdir(dir)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        if (count == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            char **grown = realloc(names, cap * sizeof *names);
            if (grown == NULL) {
                err = ENOMEM;
                break;
            }
            names = grown;
        }
        if ((names[count] = strdup(ent->d_name)) == NULL) {
            err = ENOMEM;
            break;
        }
        count++;
        errno = 0;
    }
    if (err == 0 && errno != 0)
        err = errno;
    closedir(dir);
    if (err != 0) {
        for (size_t i = 0; i < count; i++)
            free(names[i]);
        free(names);
        return err;
    }
    if (count > 1)
        qsort(names, count, sizeof *names, scan_compare_names);
    *names_out = names;
    *count_out = count;
    return 0;
}

static void scan_free_list(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* The scan's shared state: where it reads and what it has noticed. */
struct scan_ctx {
    const char *root;
    struct scan_stats *stats;
    char *err;
    size_t errlen;
};

static int scan_dead(struct scan_ctx *ctx, const char *path)
{
    snprintf(ctx->err, ctx->errlen,
             "%s: transport endpoint is not connected (a dead FUSE mount?); scan abandoned", path);
    return -1;
}

/* Read one type directory. Returns 1 when the type vanished, 0 when read,
 * -1 when the mount is gone. */
static int scan_type(struct scan_ctx *ctx, const char *dir, const char *id, struct inv_type *out)
{
    char path[PATH_MAX];
    int err;
    out->id = strdup(id);
    if (out->id == NULL) {
        snprintf(ctx->err, ctx->errlen, "out of memory");
        return -1;
    }
    static const char *const names[] = {"name", "description", "device_api"};
    char **fields[] = {&out->name, &out->description, &out->device_api};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        *fields[i] = scan_text(path, &err);
        if (err == ENOTCONN)
            return scan_dead(ctx, path);
        if (err == ENOENT && i == 0) {
            /* A type without a name file: the type directory went away. */
            if (access(dir, F_OK) != 0) {
                log_info("scan: type %s vanished mid-scan; skipped", dir);
                ctx->stats->skipped++;
                return 1;
            }
        }
        if (*fields[i] == NULL) {
            if (err != ENOENT) {
                log_warn("scan: %s: %s", path, strerror(err));
                ctx->stats->errors++;
            }
            *fields[i] = strdup("");
            if (*fields[i] == NULL) {
                snprintf(ctx->err, ctx->errlen, "out of memory");
                return -1;
            }
        }
    }
    snprintf(path, sizeof path, "%s/available_instances", dir);
    char *available = scan_text(path, &err);
    if (err == ENOTCONN)
        return scan_dead(ctx, path);
    char *end = NULL;
    long value = available != NULL ? strtol(available, &end, 10) : -1;
    if (available == NULL || end == available || *end != '\0' || value < 0 || value > INT_MAX) {
        log_warn("scan: %s: %s", path,
                 available == NULL ? strerror(err) : "not a non-negative number");
        ctx->stats->errors++;
        value = -1;
    }
    free(available);
    out->available_instances = (int)value;
    snprintf(path, sizeof path, "%s/migration_version", dir);
    if (scan_read_migration(path, id, &out->migration) < 0)
        return scan_dead(ctx, path);
    if (out->migration.read_errno != 0)
        log_debug("scan: %s: read gives %s", path, errname_of(out->migration.read_errno));
    return 0;
}

static void scan_free_type(struct inv_type *type)
{
    free(type->id);
    free(type->name);
    free(type->description);
    free(type->device_api);
    inv_migration_clear(&type->migration);
    memset(type, 0, sizeof *type);
}

static int scan_parents(struct scan_ctx *ctx, struct inventory *out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/class/mdev_bus", ctx->root);
    char **parents;
    size_t parent_count;
    int err = scan_list(path, &parents, &parent_count);
    if (err == ENOENT) {
        /* No mdev parent driver loaded: a host with nothing to offer. */
        char probe[PATH_MAX];
        snprintf(probe, sizeof probe, "%s/class", ctx->root);
        if (access(probe, F_OK) != 0) {
            snprintf(ctx->err, ctx->errlen, "%s: %s (is sysfs_root right?)", probe,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    if (err != 0) {
        snprintf(ctx->err, ctx->errlen, "%s: %s", path, strerror(err));
        return -1;
    }
    out->parents = calloc(parent_count + 1, sizeof *out->parents);
    if (out->parents == NULL) {
        scan_free_list(parents, parent_count);
        snprintf(ctx->err, ctx->errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t p = 0; p < parent_count && rc == 0; p++) {
        char types_dir[PATH_MAX];
        snprintf(types_dir, sizeof types_dir, "%s/class/mdev_bus/%s/mdev_supported_types",
                 ctx->root, parents[p]);
        char **types;
        size_t type_count;
        err = scan_list(types_dir, &types, &type_count);
        if (err == ENOTCONN) {
            rc = scan_dead(ctx, types_dir);
            break;
        }
        if (err != 0) {
            log_info("scan: parent %s: %s; skipped", parents[p], strerror(err));
            ctx->stats->skipped++;
            continue;
        }
        struct inv_parent *parent = &out->parents[out->parent_count];
        parent->name = strdup(parents[p]);
        parent->types = calloc(type_count + 1, sizeof *parent->types);
        if (parent->name == NULL || parent->types == NULL) {
            free(parent->name);
            free(parent->types);
            memset(parent, 0, sizeof *parent);
            scan_free_list(types, type_count);
            snprintf(ctx->err, ctx->errlen, "out of memory");
            rc = -1;
            break;
        }
        out->parent_count++;
        for (size_t t = 0; t < type_count && rc == 0; t++) {
            if (!version_type_id_valid(types[t])) {
                log_warn("scan: %s/%s: not a type id; skipped", types_dir, types[t]);
                ctx->stats->skipped++;
                continue;
            }
            char type_dir[PATH_MAX];
            snprintf(type_dir, sizeof type_dir, "%s/%s", types_dir, types[t]);
            struct inv_type *type = &parent->types[parent->type_count];
            int r = scan_type(ctx, type_dir, types[t], type);
            if (r == 0)
                parent->type_count++;
            else
                scan_free_type(type);
            if (r < 0)
                rc = -1;
        }
        scan_free_list(types, type_count);
    }
    scan_free_list(parents, parent_count);
    return rc;
}

/* The last component of a link's target ("../mdev_supported_types/x" → x). */
static int scan_link_base(const char *path, char *out, size_t outlen, char *parent_out,
                          size_t parent_len)
{
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0)
        return errno;
    target[n] = '\0';
    char *slash = strrchr(target, '/');
    snprintf(out, outlen, "%s", slash != NULL ? slash + 1 : target);
    if (parent_out != NULL) {
        if (slash == NULL)
            return EINVAL;
        *slash = '\0';
        char *prev = strrchr(target, '/');
        snprintf(parent_out, parent_len, "%s", prev != NULL ? prev + 1 : target);
    }
    return 0;
}

static int scan_devices(struct scan_ctx *ctx, struct inventory *out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bus/mdev/devices", ctx->root);
    char **uuids;
    size_t count;
    int err = scan_list(path, &uuids, &count);
    if (err == ENOENT)
        return 0; /* mdev core not loaded: no devices */
    if (err != 0) {
        if (err == ENOTCONN)
            return scan_dead(ctx, path);
        snprintf(ctx->err, ctx->errlen, "%s: %s", path, strerror(err));
        return -1;
    }
    out->devices = calloc(count + 1, sizeof *out->devices);
    if (out->devices == NULL) {
        scan_free_list(uuids, count);
        snprintf(ctx->err, ctx->errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (!wire_uuid_valid(uuids[i])) {
            log_warn("scan: %s/%s: not a UUID; skipped", path, uuids[i]);
            ctx->stats->skipped++;
            continue;
        }
        char link[PATH_MAX], base[256], parent[256], type[256], group[64];
        snprintf(link, sizeof link, "%s/%s", path, uuids[i]);
        err = scan_link_base(link, base, sizeof base, parent, sizeof parent);
        char type_link[PATH_MAX];
        snprintf(type_link, sizeof type_link, "%s/mdev_type", link);
        if (err == 0)
            err = scan_link_base(type_link, type, sizeof type, NULL, 0);
        if (err == ENOTCONN) {
            rc = scan_dead(ctx, link);
            break;
        }
        if (err != 0) {
            log_info("scan: device %s: %s; skipped (removed mid-scan?)", uuids[i], strerror(err));
            ctx->stats->skipped++;
            continue;
        }
        if (inventory_find_type(out, parent, type) == NULL) {
            log_info("scan: device %s: type %s on parent %s was not listed; skipped", uuids[i],
                     type, parent);
            ctx->stats->skipped++;
            continue;
        }
        struct inv_device *dev = &out->devices[out->device_count];
        snprintf(dev->uuid, sizeof dev->uuid, "%s", uuids[i]);
        dev->iommu_group = -1;
        char group_link[PATH_MAX];
        snprintf(group_link, sizeof group_link, "%s/iommu_group", link);
        if (scan_link_base(group_link, group, sizeof group, NULL, 0) == 0)
            dev->iommu_group = atoi(group);
        char mig_path[PATH_MAX];
        snprintf(mig_path, sizeof mig_path, "%s/migration_version", link);
        if (scan_read_migration(mig_path, type, &dev->migration) < 0) {
            rc = scan_dead(ctx, mig_path);
            break;
        }
        dev->parent = strdup(parent);
        dev->type = strdup(type);
        if (dev->parent == NULL || dev->type == NULL) {
            free(dev->parent);
            free(dev->type);
            inv_migration_clear(&dev->migration);
            snprintf(ctx->err, ctx->errlen, "out of memory");
            rc = -1;
            break;
        }
        out->device_count++;
    }
    scan_free_list(uuids, count);
    return rc;
}

int scan_host(const char *sysfs_root, struct inventory *out, struct scan_stats *stats, char *err,
              size_t errlen)
{
    memset(out, 0, sizeof *out);
    memset(stats, 0, sizeof *stats);
    struct scan_ctx ctx = {.root = sysfs_root, .stats = stats, .err = err, .errlen = errlen};
    if (scan_parents(&ctx, out) < 0 || scan_devices(&ctx, out) < 0) {
        inventory_free(out);
        return -1;
    }
    return 0;
}
