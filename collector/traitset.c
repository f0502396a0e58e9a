/*
 * traitset — trait names as sorted sets, the parent → provider name rule,
 * and the read-merge-write merge. A merge only ever drops a trait with
 * one of mdevmig's prefixes: Nova, operators and other tools put their
 * own traits (COMPUTE_*, CUSTOM_*) on the same providers.
 */
#include "traitset.h"

#include "version.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Placement's longest provider name. */
#define TRAITSET_PROVIDER_NAME_MAX 200

static bool traitset_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

int traitset_provider_name(const char *host, const char *parent, char *out, size_t outlen)
{
    /* DDDD:BB:SS.F, as the kernel names PCI devices in sysfs. */
    if (strlen(parent) != 12 || parent[4] != ':' || parent[7] != ':' || parent[10] != '.' ||
        !traitset_hex(parent, 4) || !traitset_hex(parent + 5, 2) || !traitset_hex(parent + 8, 2) ||
        !traitset_hex(parent + 11, 1))
        return -1;
    /* libvirt's node device name (pci_0000_3b_00_0) is what Nova appends,
     * so the case the kernel used is kept. */
    int n = snprintf(out, outlen, "%s_pci_%.4s_%.2s_%.2s_%.1s", host, parent, parent + 5,
                     parent + 8, parent + 11);
    if (n < 0 || (size_t)n >= outlen || n > TRAITSET_PROVIDER_NAME_MAX)
        return -1;
    return 0;
}

bool traitset_owned(const char *trait)
{
    return strncmp(trait, TRAITSET_TYPE_PREFIX, strlen(TRAITSET_TYPE_PREFIX)) == 0 ||
           strncmp(trait, TRAITSET_VERSION_PREFIX, strlen(TRAITSET_VERSION_PREFIX)) == 0;
}

/* Where name is, or would be inserted; *found says which. */
static size_t traitset_find(const struct traitset *set, const char *name, bool *found)
{
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(set->names[mid], name);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int traitset_add(struct traitset *set, const char *name)
{
    bool found;
    size_t at = traitset_find(set, name, &found);
    if (found)
        return 0;
    char *copy = strdup(name);
    char **grown = copy != NULL ? realloc(set->names, (set->count + 1) * sizeof *set->names) : NULL;
    if (grown == NULL) {
        free(copy);
        return -1;
    }
    set->names = grown;
    memmove(&set->names[at + 1], &set->names[at], (set->count - at) * sizeof *set->names);
    set->names[at] = copy;
    set->count++;
    return 0;
}

bool traitset_has(const struct traitset *set, const char *name)
{
    bool found;
    traitset_find(set, name, &found);
    return found;
}

bool traitset_equal(const struct traitset *a, const struct traitset *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->names[i], b->names[i]) != 0)
            return false;
    }
    return true;
}

int traitset_union(struct traitset *set, const struct traitset *from)
{
    for (size_t i = 0; i < from->count; i++) {
        if (traitset_add(set, from->names[i]) < 0)
            return -1;
    }
    return 0;
}

void traitset_free(struct traitset *set)
{
    for (size_t i = 0; i < set->count; i++)
        free(set->names[i]);
    free(set->names);
    set->names = NULL;
    set->count = 0;
}

int traitset_for_parent(const struct inv_parent *parent, struct traitset *out, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i < parent->type_count; i++) {
        const struct inv_type *t = &parent->types[i];
        const struct inv_migration *m = &t->migration;
        if (!m->supported || m->read_errno != 0 || m->version == NULL || m->digest[0] == '\0')
            continue;
        char type_trait[VERSION_TRAIT_MAX], digest_trait[VERSION_TRAIT_MAX];
        if (version_type_trait(t->id, type_trait) < 0 ||
            version_digest_trait(m->digest, digest_trait) < 0) {
            snprintf(err, errlen, "parent %s type %s: no trait name can be made from it",
                     parent->name, t->id);
            return -1;
        }
        if (traitset_add(out, type_trait) < 0 || traitset_add(out, digest_trait) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

int traitset_merge(const char *const *current, size_t count, const struct traitset *desired,
                   struct traitset *out, bool *changed)
{
    out->names = NULL;
    out->count = 0;
    struct traitset before = {0};
    for (size_t i = 0; i < count; i++) {
        if (traitset_add(&before, current[i]) < 0)
            goto fail;
        if (traitset_owned(current[i]) && !traitset_has(desired, current[i]))
            continue;
        if (traitset_add(out, current[i]) < 0)
            goto fail;
    }
    if (traitset_union(out, desired) < 0)
        goto fail;
    *changed = !traitset_equal(&before, out);
    traitset_free(&before);
    return 0;
fail:
    traitset_free(&before);
    traitset_free(out);
    return -1;
}
