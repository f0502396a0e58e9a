/*
 * attrread — the live reads' fd cache (see attrread.h). Reads run on every
 * HTTP worker and on a batch's reader threads at once, and a read may wait
 * long on a slow driver, so no lock is held across one: a reader takes a
 * reference on the kept fd under the mutex, reads without it, and drops
 * the reference after. Forgetting an fd (clear, or a stale one) takes it
 * out of the table at once; the last reader still on it closes it, so an
 * fd is never closed under a read nor reused by another open meanwhile.
 */
#include "attrread.h"

#include "attrdir.h"

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

struct attrread_fd {
    struct attrread_fd *next; /* in its bucket; after a clear, in the list to close */
    char *path;               /* dir "/" name, the key */
    int fd;
    unsigned users; /* reads under way on fd */
    bool kept;      /* still in the table; once not, the last user closes it */
};

struct attrread {
    pthread_mutex_t lock;
    struct attrread_fd **buckets;
    size_t mask; /* bucket count - 1; the count is a power of two */
    size_t kept; /* fds in the table */
    size_t max_fds;
};

/* Buckets for at most this many fds a chain: a larger cache just has
 * longer chains, still short next to a read's round trip. */
#define ATTRREAD_MAX_BUCKETS ((size_t)1 << 16)

struct attrread *attrread_new(size_t max_fds)
{
    struct attrread *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    size_t buckets = 16;
    while (buckets < max_fds && buckets < ATTRREAD_MAX_BUCKETS)
        buckets *= 2;
    r->buckets = calloc(buckets, sizeof *r->buckets);
    if (r->buckets == NULL || pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r->buckets);
        free(r);
        return NULL;
    }
    r->mask = buckets - 1;
    r->max_fds = max_fds;
    return r;
}

static void attrread_close(struct attrread_fd *e)
{
    close(e->fd);
    free(e->path);
    free(e);
}

/* Empty the table: the fds nobody reads go on the returned list, to be
 * closed outside the lock; the others are closed by their last reader.
 * Caller holds the lock. */
static struct attrread_fd *attrread_unlink_all(struct attrread *r)
{
    struct attrread_fd *idle = NULL;
    for (size_t i = 0; i <= r->mask; i++) {
        struct attrread_fd *e = r->buckets[i];
        while (e != NULL) {
            struct attrread_fd *next = e->next;
            e->kept = false;
            if (e->users == 0) {
                e->next = idle;
                idle = e;
            }
            e = next;
        }
        r->buckets[i] = NULL;
    }
    r->kept = 0;
    return idle;
}

static void attrread_close_list(struct attrread_fd *e)
{
    while (e != NULL) {
        struct attrread_fd *next = e->next;
        attrread_close(e);
        e = next;
    }
}

void attrread_free(struct attrread *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    struct attrread_fd *idle = attrread_unlink_all(r);
    pthread_mutex_unlock(&r->lock);
    attrread_close_list(idle);
    pthread_mutex_destroy(&r->lock);
    free(r->buckets);
    free(r);
}

void attrread_clear(struct attrread *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    struct attrread_fd *idle = attrread_unlink_all(r);
    pthread_mutex_unlock(&r->lock);
    attrread_close_list(idle);
}

/* FNV-1a: paths share long prefixes, and this mixes every byte. */
static size_t attrread_bucket(const struct attrread *r, const char *path)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *path != '\0'; path++) {
        h ^= (unsigned char)*path;
        h *= 1099511628211ULL;
    }
    return (size_t)h & r->mask;
}

/* The kept fd of path with a reference taken, or NULL. */
static struct attrread_fd *attrread_take(struct attrread *r, const char *path)
{
    pthread_mutex_lock(&r->lock);
    struct attrread_fd *e = r->buckets[attrread_bucket(r, path)];
    while (e != NULL && strcmp(e->path, path) != 0)
        e = e->next;
    if (e != NULL)
        e->users++;
    pthread_mutex_unlock(&r->lock);
    return e;
}

/* Drop a reference; forget the fd too when stale. The last reader of a
 * forgotten fd closes it. */
static void attrread_put(struct attrread *r, struct attrread_fd *e, bool stale)
{
    pthread_mutex_lock(&r->lock);
    if (stale && e->kept) {
        struct attrread_fd **link = &r->buckets[attrread_bucket(r, e->path)];
        while (*link != e)
            link = &(*link)->next;
        *link = e->next;
        e->kept = false;
        r->kept--;
    }
    bool last = --e->users == 0 && !e->kept;
    pthread_mutex_unlock(&r->lock);
    if (last)
        attrread_close(e);
}

/* Keep fd for path unless the cache is full or another reader kept one
 * first; takes ownership of fd either way. */
static void attrread_keep(struct attrread *r, const char *path, int fd)
{
    struct attrread_fd *e = calloc(1, sizeof *e);
    if (e != NULL && (e->path = strdup(path)) == NULL) {
        free(e);
        e = NULL;
    }
    if (e == NULL) {
        close(fd);
        return;
    }
    e->fd = fd;
    e->kept = true;
    pthread_mutex_lock(&r->lock);
    struct attrread_fd **head = &r->buckets[attrread_bucket(r, path)];
    struct attrread_fd *other = *head;
    while (other != NULL && strcmp(other->path, path) != 0)
        other = other->next;
    bool keep = other == NULL && r->kept < r->max_fds;
    if (keep) {
        e->next = *head;
        *head = e;
        r->kept++;
    }
    pthread_mutex_unlock(&r->lock);
    if (!keep)
        attrread_close(e);
}

static ssize_t attrread_at_zero(int fd, char *buf, size_t len)
{
    ssize_t n;
    do {
        n = pread(fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

/* What only a descriptor that outlived its file answers: kernfs gives
 * ENODEV for a removed node (so does mdevsim), a dead FUSE daemon
 * ENOTCONN or ECONNABORTED. A driver may return ENODEV from show() too
 * (i915 GVT-g did): then the read by path says so again, and stands. */
static bool attrread_stale(ssize_t err)
{
    return err == -ENODEV || err == -ENOTCONN || err == -ECONNABORTED || err == -ESTALE ||
           err == -EBADF;
}

ssize_t attrread_pread(struct attrread *r, struct attrdir *dirs, const char *dir, const char *name,
                       char *buf, size_t len)
{
    char path[PATH_MAX + 64];
    int plen = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (plen < 0 || (size_t)plen >= sizeof path)
        r = NULL; /* longer than any kernel path: never kept */

    if (r != NULL && r->max_fds > 0) {
        struct attrread_fd *e = attrread_take(r, path);
        if (e != NULL) {
            ssize_t n = attrread_at_zero(e->fd, buf, len);
            bool stale = n < 0 && attrread_stale(n);
            attrread_put(r, e, stale);
            if (!stale)
                return n;
        }
    }

    /* O_NOFOLLOW: a kernel attribute is never a symbolic link. */
    int fd = attrdir_open(dirs, dir, name, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return fd;
    ssize_t n = attrread_at_zero(fd, buf, len);
    if (n >= 0 && r != NULL && r->max_fds > 0)
        attrread_keep(r, path, fd);
    else
        close(fd);
    return n;
}
