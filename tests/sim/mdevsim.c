/*
 * mdevsim — serves a simulated host's mdev sysfs tree over FUSE, so the
 * collector, mdevctl and the tests meet kernel semantics (wrong-mode
 * EACCES, one write = one store call, no caching, vendor errnos) without
 * a GPU. This file is the FUSE glue and main(); the model lives in
 * sim_host.c, the vendor rules in sim_vendor.c, the control channel in
 * sim_control.c.
 */
#define FUSE_USE_VERSION 31

#include "sim_control.h"
#include "sim_host.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct sim_host *mdevsim_host(void)
{
    return fuse_get_context()->private_data;
}

static time_t mdevsim_started;

static void *mdevsim_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /* sysfs has no page cache for attributes and no dentry cache that
     * outlives a device: every lookup and read must reach us. */
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->direct_io = 1;
    cfg->kernel_cache = 0;
    cfg->hard_remove = 1;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    return fuse_get_context()->private_data;
}

static int mdevsim_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    struct sim_host *host = mdevsim_host();
    int rc = 0;
    pthread_mutex_lock(&host->lock);
    struct sim_node *node = fi != NULL && fi->fh != 0 ? (struct sim_node *)(uintptr_t)fi->fh
                                                      : sim_tree_lookup(host->root, path, false);
    if (node == NULL && path != NULL)
        node = sim_tree_orphan(host->root, path);
    memset(st, 0, sizeof *st);
    if (node == NULL) {
        rc = -ENOENT;
    } else {
        st->st_mode = node->mode;
        st->st_nlink = 1;
        st->st_atime = st->st_mtime = st->st_ctime = mdevsim_started;
        switch (node->kind) {
        case SIM_NODE_DIR:
            st->st_mode |= S_IFDIR;
            st->st_nlink = 2;
            break;
        case SIM_NODE_LINK:
            st->st_mode |= S_IFLNK;
            st->st_size = (off_t)strlen(node->link_target);
            break;
        case SIM_NODE_ATTR:
            /* sysfs reports every attribute as one page. */
            st->st_mode |= S_IFREG;
            st->st_size = 4096;
            break;
        }
    }
    pthread_mutex_unlock(&host->lock);
    return rc;
}

static int mdevsim_readlink(const char *path, char *buf, size_t size)
{
    struct sim_host *host = mdevsim_host();
    int rc = 0;
    pthread_mutex_lock(&host->lock);
    struct sim_node *node = sim_tree_lookup(host->root, path, false);
    if (node == NULL)
        rc = -ENOENT;
    else if (node->kind != SIM_NODE_LINK)
        rc = -EINVAL;
    else
        snprintf(buf, size, "%s", node->link_target);
    pthread_mutex_unlock(&host->lock);
    return rc;
}

static int mdevsim_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset,
                           struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)offset;
    (void)fi;
    (void)flags;
    struct sim_host *host = mdevsim_host();
    int rc = 0;
    pthread_mutex_lock(&host->lock);
    struct sim_node *node = sim_tree_lookup(host->root, path, false);
    if (node == NULL) {
        rc = -ENOENT;
    } else if (node->kind != SIM_NODE_DIR) {
        rc = -ENOTDIR;
    } else {
        fill(buf, ".", NULL, 0, 0);
        fill(buf, "..", NULL, 0, 0);
        for (struct sim_node *c = node->first_child; c != NULL; c = c->next_sibling)
            fill(buf, c->name, NULL, 0, 0);
    }
    pthread_mutex_unlock(&host->lock);
    return rc;
}

/* kernfs refuses an open the attribute's mode does not allow, for root
 * too; the owner's bits are what sysfs sets. */
static int mdevsim_open(const char *path, struct fuse_file_info *fi)
{
    struct sim_host *host = mdevsim_host();
    int rc = 0;
    pthread_mutex_lock(&host->lock);
    struct sim_node *node = sim_tree_lookup(host->root, path, false);
    int accmode = fi->flags & O_ACCMODE;
    if (node == NULL) {
        rc = -ENOENT;
    } else if (node->kind == SIM_NODE_DIR) {
        rc = -EISDIR;
    } else if (node->kind != SIM_NODE_ATTR) {
        rc = -ELOOP;
    } else if ((accmode != O_WRONLY && !(node->mode & S_IRUSR)) ||
               (accmode != O_RDONLY && !(node->mode & S_IWUSR))) {
        rc = -EACCES;
    } else {
        node->open_count++;
        fi->fh = (uint64_t)(uintptr_t)node;
        fi->direct_io = 1;
        fi->keep_cache = 0;
        fi->nonseekable = 0;
    }
    pthread_mutex_unlock(&host->lock);
    return rc;
}

static int mdevsim_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct sim_host *host = mdevsim_host();
    pthread_mutex_lock(&host->lock);
    sim_tree_release((struct sim_node *)(uintptr_t)fi->fh);
    pthread_mutex_unlock(&host->lock);
    return 0;
}

/* Count the call, take an injected fault, and wait out an injected delay
 * without holding the lock (so other files and the control channel keep
 * answering). Returns 0 or a negative errno; the lock is held on return. */
static int mdevsim_enter(struct sim_host *host, struct sim_node *node, bool write)
{
    if (write)
        node->writes++;
    else
        node->reads++;
    int err, delay_ms;
    sim_fault_take(write ? &node->write_fault : &node->read_fault, &err, &delay_ms);
    if (delay_ms > 0) {
        pthread_mutex_unlock(&host->lock);
        struct timespec ts = {.tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        pthread_mutex_lock(&host->lock);
    }
    if (node->detached)
        return -ENODEV;
    return -err;
}

static int mdevsim_read(const char *path, char *buf, size_t size, off_t offset,
                        struct fuse_file_info *fi)
{
    (void)path;
    struct sim_host *host = mdevsim_host();
    struct sim_node *node = (struct sim_node *)(uintptr_t)fi->fh;
    char page[SIM_SHOW_MAX + 1];
    pthread_mutex_lock(&host->lock);
    /* A read at offset 0 is a show() call; later offsets page through
     * what it printed, as seq_file does. */
    ssize_t len = offset == 0 ? mdevsim_enter(host, node, false) : 0;
    if (len == 0)
        len = sim_host_show_locked(host, node, page);
    pthread_mutex_unlock(&host->lock);
    if (len < 0)
        return (int)len;
    if (offset >= len)
        return 0;
    size_t n = (size_t)(len - offset) < size ? (size_t)(len - offset) : size;
    memcpy(buf, page + offset, n);
    return (int)n;
}

static int mdevsim_write(const char *path, const char *buf, size_t size, off_t offset,
                         struct fuse_file_info *fi)
{
    (void)path;
    (void)offset;
    struct sim_host *host = mdevsim_host();
    struct sim_node *node = (struct sim_node *)(uintptr_t)fi->fh;
    /* kernfs hands store() at most a page and reports the rest unwritten. */
    if (size > SIM_STORE_MAX)
        size = SIM_STORE_MAX;
    pthread_mutex_lock(&host->lock);
    ssize_t rc = mdevsim_enter(host, node, true);
    if (rc == 0)
        rc = sim_host_store_locked(host, node, buf, size);
    pthread_mutex_unlock(&host->lock);
    return (int)rc;
}

/* sysfs ignores truncation of an attribute; `echo x > attr` depends on it. */
static int mdevsim_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    (void)size;
    (void)fi;
    struct stat st;
    return mdevsim_getattr(path, &st, NULL);
}

static int mdevsim_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    (void)tv;
    struct stat st;
    return mdevsim_getattr(path, &st, fi);
}

/* No create op on a kernfs directory: the VFS answers EACCES. */
static int mdevsim_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)path;
    (void)mode;
    (void)fi;
    return -EACCES;
}

/* Operations kernfs directories lack: the VFS answers EPERM. */
static int mdevsim_mkdir(const char *path, mode_t mode)
{
    (void)path;
    (void)mode;
    return -EPERM;
}

static int mdevsim_mknod(const char *path, mode_t mode, dev_t dev)
{
    (void)path;
    (void)mode;
    (void)dev;
    return -EPERM;
}

static int mdevsim_unlink(const char *path)
{
    (void)path;
    return -EPERM;
}

static int mdevsim_symlink(const char *target, const char *path)
{
    (void)target;
    (void)path;
    return -EPERM;
}

static int mdevsim_rename(const char *from, const char *to, unsigned int flags)
{
    (void)from;
    (void)to;
    (void)flags;
    return -EPERM;
}

static int mdevsim_link(const char *from, const char *to)
{
    (void)from;
    (void)to;
    return -EPERM;
}

static int mdevsim_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)path;
    (void)mode;
    (void)fi;
    return -EPERM;
}

static int mdevsim_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    (void)path;
    (void)uid;
    (void)gid;
    (void)fi;
    return -EPERM;
}

static const struct fuse_operations mdevsim_ops = {
    .init = mdevsim_init,
    .getattr = mdevsim_getattr,
    .readlink = mdevsim_readlink,
    .readdir = mdevsim_readdir,
    .open = mdevsim_open,
    .release = mdevsim_release,
    .read = mdevsim_read,
    .write = mdevsim_write,
    .truncate = mdevsim_truncate,
    .utimens = mdevsim_utimens,
    .create = mdevsim_create,
    .mkdir = mdevsim_mkdir,
    .rmdir = mdevsim_unlink,
    .mknod = mdevsim_mknod,
    .unlink = mdevsim_unlink,
    .symlink = mdevsim_symlink,
    .rename = mdevsim_rename,
    .link = mdevsim_link,
    .chmod = mdevsim_chmod,
    .chown = mdevsim_chown,
};

static void mdevsim_usage(FILE *out)
{
    fprintf(out,
            "Usage: mdevsim --fixture FILE --mount DIR [--control SOCKET] [--debug]\n"
            "\n"
            "Serve a simulated host's mdev sysfs tree at DIR/sys (DIR stands in for /),\n"
            "built from a JSON fixture, with kernel semantics. Runs in the foreground;\n"
            "SIGTERM or SIGINT unmounts cleanly. Fixture format: tests/sim/README.md.\n"
            "\n"
            "  -f, --fixture FILE    JSON fixture: parents, types, devices, vendor behaviour\n"
            "  -m, --mount DIR       mount point (an existing, empty directory)\n"
            "  -c, --control SOCKET  Unix socket for the control channel (outside DIR)\n"
            "  -d, --debug           log every FUSE request (libfuse debug)\n"
            "  -h, --help            this text\n"
            "\n"
            "Control channel: one command per line, one reply line (\"ok ...\" or\n"
            "\"err MESSAGE\"). PATH is relative to DIR; links are followed.\n"
            "  ping\n"
            "  version PATH STRING            new version string for the type or device dir\n"
            "  migration PATH JSON            new behaviour (fixture syntax; null: none;\n"
            "                                 \"inherit\": a device follows its type again)\n"
            "  fault PATH read|write ERRNO [COUNT]   fail the next COUNT calls (default: all)\n"
            "  delay PATH read|write MS [COUNT]      delay the next COUNT calls\n"
            "  clear PATH|all                 drop faults and delays\n"
            "  counts PATH                    \"ok reads=N writes=M\" (show and store calls)\n"
            "  reset-counts [PATH]            zero counters of one attribute, or all\n"
            "mdevsimctl SOCKET COMMAND... sends one command from a shell.\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"fixture", required_argument, NULL, 'f'}, {"mount", required_argument, NULL, 'm'},
        {"control", required_argument, NULL, 'c'}, {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *fixture = NULL, *mount = NULL, *control_path = NULL;
    bool debug = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "f:m:c:dh", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            fixture = optarg;
            break;
        case 'm':
            mount = optarg;
            break;
        case 'c':
            control_path = optarg;
            break;
        case 'd':
            debug = true;
            break;
        case 'h':
            mdevsim_usage(stdout);
            return 0;
        default:
            mdevsim_usage(stderr);
            return 2;
        }
    }
    if (fixture == NULL || mount == NULL || optind != argc) {
        fprintf(stderr, "mdevsim: --fixture and --mount are required (and nothing else)\n\n");
        mdevsim_usage(stderr);
        return 2;
    }
    mdevsim_started = time(NULL);

    char err[1024];
    struct sim_host *host = sim_host_load(fixture, err, sizeof err);
    if (host == NULL) {
        fprintf(stderr, "mdevsim: bad fixture: %s\n", err);
        return 1;
    }

    char *fuse_argv[] = {argv[0], "-o", "fsname=mdevsim,subtype=mdevsim,allow_other",
                         debug ? "-d" : NULL, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, fuse_argv);
    int status = 1;
    struct sim_control *control = NULL;
    struct fuse *fuse = fuse_new(&args, &mdevsim_ops, sizeof mdevsim_ops, host);
    if (fuse == NULL) {
        fprintf(stderr, "mdevsim: fuse_new failed\n");
        goto out_host;
    }
    if (fuse_mount(fuse, mount) != 0) {
        fprintf(stderr,
                "mdevsim: cannot mount at %s (does it exist, and is nothing mounted "
                "there? a dead mdevsim needs fusermount3 -u %s)\n",
                mount, mount);
        goto out_fuse;
    }
    if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0) {
        fprintf(stderr, "mdevsim: cannot install signal handlers\n");
        goto out_unmount;
    }
    if (control_path != NULL) {
        control = sim_control_start(host, control_path, err, sizeof err);
        if (control == NULL) {
            fprintf(stderr, "mdevsim: %s\n", err);
            goto out_signals;
        }
    }
    size_t types = 0, devices = 0;
    for (size_t p = 0; p < host->parent_count; p++)
        types += host->parents[p].type_count;
    for (struct sim_device *d = host->devices; d != NULL; d = d->next)
        devices++;
    fprintf(stderr, "mdevsim: host %s (%zu parents, %zu types, %zu devices) at %s/sys%s%s\n",
            host->name, host->parent_count, types, devices, mount,
            control != NULL ? ", control " : "", control != NULL ? control_path : "");

    /* The loop reports the signal that ended it; that is a clean stop. */
    int loop_rc = fuse_loop_mt(fuse, 0);
    status = loop_rc == 0 || loop_rc == SIGTERM || loop_rc == SIGINT || loop_rc == SIGHUP ? 0 : 1;
    if (status != 0)
        fprintf(stderr, "mdevsim: FUSE loop ended with error %d\n", loop_rc);
    sim_control_stop(control);
out_signals:
    fuse_remove_signal_handlers(fuse_get_session(fuse));
out_unmount:
    fuse_unmount(fuse);
out_fuse:
    fuse_destroy(fuse);
out_host:
    fuse_opt_free_args(&args);
    sim_host_free(host);
    return status;
}
