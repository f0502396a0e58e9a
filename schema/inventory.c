/*
 * inventory — ownership and lookups for a host's inventory. Every string
 * in a struct inventory is owned by it; inventory_free() releases all.
 */
#include "inventory.h"

#include <stdlib.h>
#include <string.h>

void inv_migration_clear(struct inv_migration *mig)
{
    free(mig->version);
    memset(mig, 0, sizeof *mig);
}

void inventory_free(struct inventory *inv)
{
    if (inv == NULL)
        return;
    for (size_t p = 0; p < inv->parent_count; p++) {
        struct inv_parent *parent = &inv->parents[p];
        for (size_t t = 0; t < parent->type_count; t++) {
            struct inv_type *type = &parent->types[t];
            free(type->id);
            free(type->name);
            free(type->description);
            free(type->device_api);
            inv_migration_clear(&type->migration);
        }
        free(parent->types);
        free(parent->name);
    }
    for (size_t d = 0; d < inv->device_count; d++) {
        free(inv->devices[d].parent);
        free(inv->devices[d].type);
        inv_migration_clear(&inv->devices[d].migration);
    }
    for (size_t i = 0; i < inv->instance_count; i++) {
        free(inv->instances[i].name);
        free(inv->instances[i].state);
        free(inv->instances[i].mdevs);
    }
    free(inv->parents);
    free(inv->devices);
    free(inv->instances);
    free(inv->host);
    free(inv->collector_url);
    memset(inv, 0, sizeof *inv);
}

const struct inv_type *inventory_find_type(const struct inventory *inv, const char *parent,
                                           const char *type_id)
{
    for (size_t p = 0; p < inv->parent_count; p++) {
        if (strcmp(inv->parents[p].name, parent) != 0)
            continue;
        for (size_t t = 0; t < inv->parents[p].type_count; t++) {
            if (strcmp(inv->parents[p].types[t].id, type_id) == 0)
                return &inv->parents[p].types[t];
        }
    }
    return NULL;
}

const struct inv_device *inventory_find_device(const struct inventory *inv, const char *uuid)
{
    for (size_t d = 0; d < inv->device_count; d++) {
        if (strcmp(inv->devices[d].uuid, uuid) == 0)
            return &inv->devices[d];
    }
    return NULL;
}
