/*
 * sim_tree — the in-memory file tree mdevsim serves: directories, relative
 * symlinks and attribute files, with the per-attribute counters and
 * injected faults tests use to see what reached "the driver".
 *
 * Not thread-safe by itself: sim_host's lock guards every tree access.
 */
#ifndef MDEVSIM_TREE_H
#define MDEVSIM_TREE_H

#include <stdbool.h>
#include <sys/types.h>

enum sim_node_kind { SIM_NODE_DIR, SIM_NODE_LINK, SIM_NODE_ATTR };

/* What an attribute file does when read (show) or written (store). */
enum sim_attr_kind {
    SIM_ATTR_TEXT,      /* fixed text, read-only */
    SIM_ATTR_AVAILABLE, /* a type's available_instances */
    SIM_ATTR_CREATE,    /* a type's create */
    SIM_ATTR_REMOVE,    /* a device's remove */
    SIM_ATTR_MIGRATION, /* a type's or device's migration_version */
};

/* An injected fault or delay on one direction of one attribute. */
struct sim_fault {
    int err;              /* errno to fail with, 0 for none */
    long err_remaining;   /* -1: until cleared */
    int delay_ms;         /* 0 for none */
    long delay_remaining; /* -1: until cleared */
};

struct sim_type;
struct sim_device;

struct sim_node {
    char *name;
    enum sim_node_kind kind;
    mode_t mode; /* permission bits only */
    struct sim_node *parent;
    struct sim_node *first_child;
    struct sim_node *last_child;
    struct sim_node *next_sibling;

    char *link_target; /* SIM_NODE_LINK: relative, like sysfs */

    enum sim_attr_kind attr;
    char *text;                /* SIM_ATTR_TEXT */
    struct sim_type *type;     /* owning type, for type attributes */
    struct sim_device *device; /* owning device, for device attributes */

    unsigned long reads;  /* show calls: reads at offset 0 */
    unsigned long writes; /* store calls */
    struct sim_fault read_fault;
    struct sim_fault write_fault;

    unsigned open_count; /* open file handles; a detached node lives until 0 */
    bool detached;       /* removed from the tree (its device was removed) */

    /* A detached node still open is an orphan: listed on the root under the
     * path it had, so fstat() on its fd keeps working as on sysfs. */
    char *orphan_path;
    struct sim_node *orphan_root;
    struct sim_node *next_orphan;
    struct sim_node *orphans; /* root only: the list head */
};

struct sim_node *sim_tree_new_root(void);

/* Add a child; NULL on allocation failure. Names are unique per dir by
 * the caller's construction. */
struct sim_node *sim_tree_add_dir(struct sim_node *dir, const char *name);
struct sim_node *sim_tree_add_link(struct sim_node *dir, const char *name, const char *target);
struct sim_node *sim_tree_add_attr(struct sim_node *dir, const char *name, mode_t mode,
                                   enum sim_attr_kind attr);

/* Find or make the directory chain "a/b/c" under dir. */
struct sim_node *sim_tree_mkdirs(struct sim_node *dir, const char *path);

struct sim_node *sim_tree_child(const struct sim_node *dir, const char *name);

/* Look up a slash-separated path below root. Links are followed in the
 * middle of the path, and at its end when follow_last. NULL when absent. */
struct sim_node *sim_tree_lookup(struct sim_node *root, const char *path, bool follow_last);

/* Unlink node (and everything below it) from the tree. Nodes still open
 * stay allocated, marked detached, until sim_tree_release(). */
void sim_tree_remove(struct sim_node *node);

/* The orphan that had this path when it was detached, or NULL. */
struct sim_node *sim_tree_orphan(struct sim_node *root, const char *path);

/* Drop an open reference taken by incrementing open_count. */
void sim_tree_release(struct sim_node *node);

/* Free the whole tree, open or not (shutdown). */
void sim_tree_destroy(struct sim_node *root);

/* "../../" repeated to climb from dir to the root: for relative links. */
int sim_tree_depth(const struct sim_node *dir);

/* Consume one use of a fault: the errno to fail with (0 for none) and the
 * delay to apply first (0 for none). */
void sim_fault_take(struct sim_fault *fault, int *err, int *delay_ms);

#endif
