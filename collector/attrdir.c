/*
 * attrdir — the probe path's directory fd cache (see attrdir.h). Probes
 * run on every HTTP worker at once, so lookups share a read lock; the
 * write lock is taken only to keep a new fd, to drop one that failed, and
 * when a new inventory clears the cache. An openat() through a kept fd
 * runs under the read lock, so no fd is closed while in use.
 */
#include "attrdir.h"

#include "attrread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct attrdir_slot {
    char *dir; /* NULL: empty */
    int fd;    /* -1: known directory whose fd was dropped */
};

struct attrdir {
    pthread_rwlock_t lock;
    struct attrdir_slot *slots;
    size_t mask; /* slot count - 1; the count is a power of two */
    size_t used; /* slots with a directory name */
    size_t max_dirs;
    char *root; /* sysfs_root as given; resolved when a directory is checked */
    /* Kept read fds of attributes (attrdir_read); NULL: none. They live
     * here because they go stale when the directories do. */
    struct attrread *reads;
};

struct attrdir *attrdir_new(size_t max_dirs, const char *root)
{
    struct attrdir *dirs = calloc(1, sizeof *dirs);
    if (dirs == NULL)
        return NULL;
    if ((dirs->root = strdup(root)) == NULL) {
        free(dirs);
        return NULL;
    }
    /* At most half full, so linear probing stays short. */
    size_t slots = 16;
    while (slots < max_dirs * 2)
        slots *= 2;
    dirs->slots = calloc(slots, sizeof *dirs->slots);
    if (dirs->slots == NULL || pthread_rwlock_init(&dirs->lock, NULL) != 0) {
        free(dirs->slots);
        free(dirs->root);
        free(dirs);
        return NULL;
    }
    dirs->mask = slots - 1;
    dirs->max_dirs = max_dirs;
    return dirs;
}

static void attrdir_close_all(struct attrdir *dirs)
{
    for (size_t i = 0; i <= dirs->mask; i++) {
        struct attrdir_slot *slot = &dirs->slots[i];
        if (slot->dir == NULL)
            continue;
        if (slot->fd >= 0)
            close(slot->fd);
        free(slot->dir);
        slot->dir = NULL;
        slot->fd = -1;
    }
    dirs->used = 0;
}

void attrdir_free(struct attrdir *dirs)
{
    if (dirs == NULL)
        return;
    attrread_free(dirs->reads);
    attrdir_close_all(dirs);
    pthread_rwlock_destroy(&dirs->lock);
    free(dirs->slots);
    free(dirs->root);
    free(dirs);
}

void attrdir_clear(struct attrdir *dirs)
{
    if (dirs == NULL)
        return;
    attrread_clear(dirs->reads);
    pthread_rwlock_wrlock(&dirs->lock);
    attrdir_close_all(dirs);
    pthread_rwlock_unlock(&dirs->lock);
}

size_t attrdir_count(struct attrdir *dirs)
{
    if (dirs == NULL)
        return 0;
    size_t kept = 0;
    pthread_rwlock_rdlock(&dirs->lock);
    for (size_t i = 0; i <= dirs->mask; i++)
        if (dirs->slots[i].dir != NULL && dirs->slots[i].fd >= 0)
            kept++;
    pthread_rwlock_unlock(&dirs->lock);
    return kept;
}

/* FNV-1a: paths share long prefixes, and this mixes every byte. */
static uint64_t attrdir_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot holding dir, or the empty slot where it would go. Caller
 * holds the lock. */
static struct attrdir_slot *attrdir_find(struct attrdir *dirs, const char *dir)
{
    size_t i = (size_t)attrdir_hash(dir) & dirs->mask;
    while (dirs->slots[i].dir != NULL && strcmp(dirs->slots[i].dir, dir) != 0)
        i = (i + 1) & dirs->mask;
    return &dirs->slots[i];
}

/* Whether the directory dir_fd names lies at or below the root, both
 * resolved (the kernel's own view of the fd, so no symlink can hide). */
static bool attrdir_inside(const struct attrdir *dirs, int dir_fd)
{
    if (dirs == NULL)
        return true;
    char link[64], real[PATH_MAX], root[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dir_fd);
    ssize_t n = readlink(link, real, sizeof real - 1);
    if (n < 0 || realpath(dirs->root, root) == NULL)
        return false;
    real[n] = '\0';
    size_t len = strlen(root);
    if (len == 1) /* "/" holds everything */
        return true;
    return strncmp(real, root, len) == 0 && (real[len] == '/' || real[len] == '\0');
}

/* dir as an O_PATH fd, or -errno; -EXDEV when it resolves outside root. */
static int attrdir_open_dir(const struct attrdir *dirs, const char *dir)
{
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (!attrdir_inside(dirs, fd)) {
        close(fd);
        return -EXDEV;
    }
    return fd;
}

static int attrdir_open_path(const struct attrdir *dirs, const char *dir, const char *name,
                             int flags)
{
    int dir_fd = attrdir_open_dir(dirs, dir);
    if (dir_fd < 0)
        return dir_fd;
    int fd = openat(dir_fd, name, flags | O_CLOEXEC);
    int err = errno;
    close(dir_fd);
    return fd >= 0 ? fd : -err;
}

/* Keep fd for dir unless another thread kept one first or the cache is
 * full; takes ownership of fd either way. */
static void attrdir_keep(struct attrdir *dirs, const char *dir, int fd)
{
    pthread_rwlock_wrlock(&dirs->lock);
    struct attrdir_slot *slot = attrdir_find(dirs, dir);
    if (slot->dir != NULL && slot->fd < 0) {
        slot->fd = fd;
        fd = -1;
    } else if (slot->dir == NULL && dirs->used < dirs->max_dirs) {
        slot->dir = strdup(dir);
        if (slot->dir != NULL) {
            slot->fd = fd;
            fd = -1;
            dirs->used++;
        }
    }
    pthread_rwlock_unlock(&dirs->lock);
    if (fd >= 0)
        close(fd);
}

static void attrdir_drop(struct attrdir *dirs, const char *dir)
{
    pthread_rwlock_wrlock(&dirs->lock);
    struct attrdir_slot *slot = attrdir_find(dirs, dir);
    if (slot->dir != NULL && slot->fd >= 0) {
        close(slot->fd);
        slot->fd = -1;
    }
    pthread_rwlock_unlock(&dirs->lock);
}

int attrdir_open(struct attrdir *dirs, const char *dir, const char *name, int flags)
{
    if (dirs == NULL)
        return attrdir_open_path(NULL, dir, name, flags);

    pthread_rwlock_rdlock(&dirs->lock);
    struct attrdir_slot *slot = attrdir_find(dirs, dir);
    if (slot->dir != NULL && slot->fd >= 0) {
        int fd = openat(slot->fd, name, flags | O_CLOEXEC);
        pthread_rwlock_unlock(&dirs->lock);
        if (fd >= 0)
            return fd;
        /* The kept fd may name a directory that has since been replaced;
         * only a lookup by path can tell, and its answer stands. */
        attrdir_drop(dirs, dir);
        return attrdir_open_path(dirs, dir, name, flags);
    }
    pthread_rwlock_unlock(&dirs->lock);

    int dir_fd = attrdir_open_dir(dirs, dir);
    if (dir_fd < 0)
        return dir_fd;
    int fd = openat(dir_fd, name, flags | O_CLOEXEC);
    int err = errno;
    attrdir_keep(dirs, dir, dir_fd);
    return fd >= 0 ? fd : -err;
}

int attrdir_keep_reads(struct attrdir *dirs, size_t max_fds)
{
    attrread_free(dirs->reads);
    dirs->reads = NULL;
    if (max_fds == 0)
        return 0;
    dirs->reads = attrread_new(max_fds);
    return dirs->reads != NULL ? 0 : -1;
}

ssize_t attrdir_read(struct attrdir *dirs, const char *dir, const char *name, char *buf, size_t len)
{
    return attrread_pread(dirs != NULL ? dirs->reads : NULL, dirs, dir, name, buf, len);
}
