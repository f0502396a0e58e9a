/*
 * sim_tree — node bookkeeping for mdevsim: children in insertion order (so
 * readdir is stable), relative symlinks resolved the way the kernel's path
 * walk does, and deferred frees so an fd held across a device removal sees
 * ENODEV instead of freed memory.
 */
#include "sim_tree.h"

#include <stdlib.h>
#include <string.h>

/* The kernel gives ELOOP after 40 links; a fixture cannot loop, but a
 * path given on the control channel can. */
#define SIM_MAX_LINKS 40

static struct sim_node *sim_tree_new(struct sim_node *dir, const char *name,
                                     enum sim_node_kind kind, mode_t mode)
{
    struct sim_node *node = calloc(1, sizeof *node);
    if (node == NULL)
        return NULL;
    node->name = strdup(name);
    if (node->name == NULL) {
        free(node);
        return NULL;
    }
    node->kind = kind;
    node->mode = mode;
    node->parent = dir;
    if (dir != NULL) {
        if (dir->last_child != NULL)
            dir->last_child->next_sibling = node;
        else
            dir->first_child = node;
        dir->last_child = node;
    }
    return node;
}

struct sim_node *sim_tree_new_root(void)
{
    return sim_tree_new(NULL, "", SIM_NODE_DIR, 0755);
}

struct sim_node *sim_tree_add_dir(struct sim_node *dir, const char *name)
{
    return sim_tree_new(dir, name, SIM_NODE_DIR, 0755);
}

struct sim_node *sim_tree_add_link(struct sim_node *dir, const char *name, const char *target)
{
    char *copy = strdup(target);
    if (copy == NULL)
        return NULL;
    struct sim_node *node = sim_tree_new(dir, name, SIM_NODE_LINK, 0777);
    if (node == NULL) {
        free(copy);
        return NULL;
    }
    node->link_target = copy;
    return node;
}

struct sim_node *sim_tree_add_attr(struct sim_node *dir, const char *name, mode_t mode,
                                   enum sim_attr_kind attr)
{
    struct sim_node *node = sim_tree_new(dir, name, SIM_NODE_ATTR, mode);
    if (node != NULL)
        node->attr = attr;
    return node;
}

struct sim_node *sim_tree_child(const struct sim_node *dir, const char *name)
{
    if (dir == NULL || dir->kind != SIM_NODE_DIR)
        return NULL;
    for (struct sim_node *c = dir->first_child; c != NULL; c = c->next_sibling) {
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

struct sim_node *sim_tree_mkdirs(struct sim_node *dir, const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return NULL;
    char *save = NULL;
    for (char *part = strtok_r(copy, "/", &save); part != NULL && dir != NULL;
         part = strtok_r(NULL, "/", &save)) {
        struct sim_node *next = sim_tree_child(dir, part);
        dir = next != NULL ? next : sim_tree_add_dir(dir, part);
    }
    free(copy);
    return dir;
}

/* Walk one path relative to dir; links_left bounds link expansion. */
static struct sim_node *sim_tree_walk(struct sim_node *root, struct sim_node *dir, const char *path,
                                      bool follow_last, int *links_left)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return NULL;
    if (path[0] == '/')
        dir = root;
    struct sim_node *node = dir;
    char *save = NULL;
    char *part = strtok_r(copy, "/", &save);
    while (part != NULL && node != NULL) {
        char *next_part = strtok_r(NULL, "/", &save);
        if (node->kind != SIM_NODE_DIR) {
            node = NULL;
            break;
        }
        if (strcmp(part, ".") == 0) {
            /* stays */
        } else if (strcmp(part, "..") == 0) {
            node = node->parent != NULL ? node->parent : node;
        } else {
            struct sim_node *child = sim_tree_child(node, part);
            if (child != NULL && child->kind == SIM_NODE_LINK &&
                (next_part != NULL || follow_last)) {
                if (--*links_left < 0) {
                    child = NULL;
                } else {
                    child = sim_tree_walk(root, node, child->link_target, true, links_left);
                }
            }
            node = child;
        }
        part = next_part;
    }
    free(copy);
    return node;
}

struct sim_node *sim_tree_lookup(struct sim_node *root, const char *path, bool follow_last)
{
    int links_left = SIM_MAX_LINKS;
    return sim_tree_walk(root, root, path, follow_last, &links_left);
}

static void sim_tree_free_node(struct sim_node *node)
{
    free(node->orphan_path);
    free(node->name);
    free(node->link_target);
    free(node->text);
    free(node);
}

/* "/a/b/c" for a node still in the tree; NULL when out of memory. */
static char *sim_tree_path(const struct sim_node *node)
{
    size_t len = 1;
    for (const struct sim_node *n = node; n->parent != NULL; n = n->parent)
        len += strlen(n->name) + 1;
    char *path = malloc(len);
    if (path == NULL)
        return NULL;
    path[len - 1] = '\0';
    size_t end = len - 1;
    for (const struct sim_node *n = node; n->parent != NULL; n = n->parent) {
        size_t name_len = strlen(n->name);
        end -= name_len;
        memcpy(path + end, n->name, name_len);
        path[--end] = '/';
    }
    return path;
}

/* Detach a subtree's nodes; free those nobody holds open, list the others
 * as orphans of root. */
static void sim_tree_drop(struct sim_node *root, struct sim_node *node)
{
    struct sim_node *child = node->first_child;
    while (child != NULL) {
        struct sim_node *next = child->next_sibling;
        sim_tree_drop(root, child);
        child = next;
    }
    if (node->open_count > 0 && root != NULL && (node->orphan_path = sim_tree_path(node))) {
        node->orphan_root = root;
        node->next_orphan = root->orphans;
        root->orphans = node;
    }
    node->first_child = node->last_child = NULL;
    node->parent = NULL;
    node->next_sibling = NULL;
    node->detached = true;
    node->type = NULL;
    node->device = NULL;
    if (node->open_count == 0)
        sim_tree_free_node(node);
}

void sim_tree_remove(struct sim_node *node)
{
    struct sim_node *root = node;
    while (root->parent != NULL)
        root = root->parent;
    if (root == node)
        root = NULL;
    struct sim_node *dir = node->parent;
    if (dir != NULL) {
        struct sim_node *prev = NULL;
        for (struct sim_node *c = dir->first_child; c != NULL; prev = c, c = c->next_sibling) {
            if (c != node)
                continue;
            if (prev != NULL)
                prev->next_sibling = c->next_sibling;
            else
                dir->first_child = c->next_sibling;
            if (dir->last_child == c)
                dir->last_child = prev;
            break;
        }
    }
    sim_tree_drop(root, node);
}

struct sim_node *sim_tree_orphan(struct sim_node *root, const char *path)
{
    for (struct sim_node *n = root->orphans; n != NULL; n = n->next_orphan) {
        if (strcmp(n->orphan_path, path) == 0)
            return n;
    }
    return NULL;
}

void sim_tree_release(struct sim_node *node)
{
    if (node->open_count > 0)
        node->open_count--;
    if (!node->detached || node->open_count > 0)
        return;
    if (node->orphan_root != NULL) {
        for (struct sim_node **p = &node->orphan_root->orphans; *p != NULL;
             p = &(*p)->next_orphan) {
            if (*p == node) {
                *p = node->next_orphan;
                break;
            }
        }
    }
    sim_tree_free_node(node);
}

void sim_tree_destroy(struct sim_node *root)
{
    if (root == NULL)
        return;
    /* Orphans are only still here when files were open at shutdown. */
    while (root->orphans != NULL) {
        struct sim_node *next = root->orphans->next_orphan;
        sim_tree_free_node(root->orphans);
        root->orphans = next;
    }
    struct sim_node *child = root->first_child;
    while (child != NULL) {
        struct sim_node *next = child->next_sibling;
        sim_tree_destroy(child);
        child = next;
    }
    sim_tree_free_node(root);
}

int sim_tree_depth(const struct sim_node *dir)
{
    int depth = 0;
    for (; dir != NULL && dir->parent != NULL; dir = dir->parent)
        depth++;
    return depth;
}

void sim_fault_take(struct sim_fault *fault, int *err, int *delay_ms)
{
    *err = 0;
    *delay_ms = 0;
    if (fault->delay_ms > 0 && fault->delay_remaining != 0) {
        *delay_ms = fault->delay_ms;
        if (fault->delay_remaining > 0 && --fault->delay_remaining == 0)
            fault->delay_ms = 0;
    }
    if (fault->err != 0 && fault->err_remaining != 0) {
        *err = fault->err;
        if (fault->err_remaining > 0 && --fault->err_remaining == 0)
            fault->err = 0;
    }
}
