/*
 * evacuate_source — the VMs an evacuation moves: the host's instances with
 * mdevs, in UUID order, each mdev with its version read live through one
 * select-style source (source.c) for the whole host, the registry's copy
 * when the collector is down. A VM with an mdev that has no version cannot
 * migrate, and says why.
 */
#include "evacuate_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int evacuate_uuid_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int evacuate_vm_cmp(const void *a, const void *b)
{
    const struct evacuate_vm *x = a, *y = b;
    return strcmp(x->inst->uuid, y->inst->uuid);
}

/* The index of uuid among the sorted device UUIDs, or EVACUATE_NONE. */
static size_t evacuate_device_index(const char *const *uuids, size_t count, const char *uuid)
{
    const char *const *hit = bsearch(&uuid, uuids, count, sizeof *uuids, evacuate_uuid_cmp);
    return hit != NULL ? (size_t)(hit - uuids) : EVACUATE_NONE;
}

static int evacuate_copy_mdev(struct mdevmig_mdev *to, const struct mdevmig_mdev *from)
{
    memcpy(to->uuid, from->uuid, sizeof to->uuid);
    memcpy(to->digest, from->digest, sizeof to->digest);
    to->type = strdup(from->type != NULL ? from->type : "");
    to->version = from->version != NULL ? strdup(from->version) : NULL;
    to->reason = from->reason != NULL ? strdup(from->reason) : NULL;
    return to->type == NULL || (from->version != NULL && to->version == NULL) ||
                   (from->reason != NULL && to->reason == NULL)
               ? -1
               : 0;
}

/* The host's VMs and their mdevs' versions: live where the collector
 * answers (source.c), as the registry has them otherwise. */
int evacuate_source(struct evacuate *e, char *err, size_t errlen)
{
    const char *host = e->req->host;
    pthread_mutex_lock(&e->m->registry_lock);
    int rc = registry_load_host(e->m->registry, host, &e->inv, err, errlen);
    pthread_mutex_unlock(&e->m->registry_lock);
    if (rc == 1) {
        snprintf(err, errlen, "host %s is not in the registry", host);
        return MDEVMIG_ERR_NOT_FOUND;
    }
    if (rc < 0)
        return MDEVMIG_ERR_INTERNAL;

    size_t mdevs = 0;
    for (size_t i = 0; i < e->inv.instance_count; i++)
        mdevs += e->inv.instances[i].mdev_count;
    e->vms = calloc(e->inv.instance_count + 1, sizeof *e->vms);
    const char **uuids = calloc(mdevs + 1, sizeof *uuids);
    if (e->vms == NULL || uuids == NULL) {
        free(uuids);
        return evacuate_oom(err, errlen);
    }
    size_t uuid_count = 0;
    for (size_t i = 0; i < e->inv.instance_count; i++) {
        const struct inv_instance *inst = &e->inv.instances[i];
        if (inst->mdev_count == 0) {
            e->without_mdevs++;
            continue;
        }
        e->vms[e->vm_count++].inst = inst;
        for (size_t k = 0; k < inst->mdev_count; k++) {
            if (inventory_find_device(&e->inv, inst->mdevs[k]) != NULL)
                uuids[uuid_count++] = inst->mdevs[k];
        }
    }
    if (e->vm_count > 1)
        qsort(e->vms, e->vm_count, sizeof *e->vms, evacuate_vm_cmp);
    if (uuid_count > 1)
        qsort(uuids, uuid_count, sizeof *uuids, evacuate_uuid_cmp);
    size_t unique = 0;
    for (size_t i = 0; i < uuid_count; i++) {
        if (unique == 0 || strcmp(uuids[unique - 1], uuids[i]) != 0)
            uuids[unique++] = uuids[i];
    }
    uuid_count = unique;

    /* One select-style source for every mdev of the host at once: their
     * live reads go out as one batch over one kept-alive connection. */
    rc = 0;
    if (uuid_count > 0) {
        struct mdevmig_request req = {
            .host = host,
            .devices = uuids,
            .device_count = uuid_count,
        };
        rc = source_resolve(e->m, &req, &e->src, err, errlen);
        if (rc == MDEVMIG_ERR_NOT_FOUND) {
            /* A snapshot replaced between the two reads dropped a device. */
            char why[512];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "host %s changed while the plan was made (%s); ask again", host,
                     why);
            rc = MDEVMIG_ERR_INTERNAL;
        } else if (rc != 0) {
            rc = rc == MDEVMIG_ERR_INPUT ? MDEVMIG_ERR_INPUT : MDEVMIG_ERR_INTERNAL;
        } else if (e->src.mdev_count != uuid_count) {
            snprintf(err, errlen, "host %s: %zu mdevs asked for, %zu resolved", host, uuid_count,
                     e->src.mdev_count);
            rc = MDEVMIG_ERR_INTERNAL;
        }
    }
    for (size_t i = 0; i < e->vm_count && rc == 0; i++) {
        struct evacuate_vm *vm = &e->vms[i];
        vm->profile = EVACUATE_NONE;
        vm->host = EVACUATE_NONE;
        vm->needs = calloc(vm->inst->mdev_count + 1, sizeof *vm->needs);
        if (vm->needs == NULL) {
            rc = evacuate_oom(err, errlen);
            break;
        }
        vm->need_count = vm->inst->mdev_count;
        for (size_t k = 0; k < vm->need_count && rc == 0; k++) {
            struct evacuate_need *need = &vm->needs[k];
            need->type = need->version = need->slot = EVACUATE_NONE;
            const char *uuid = vm->inst->mdevs[k];
            size_t at = evacuate_device_index(uuids, uuid_count, uuid);
            if (at != EVACUATE_NONE) {
                if (evacuate_copy_mdev(&need->mdev, &e->src.mdevs[at]) < 0)
                    rc = evacuate_oom(err, errlen);
                continue;
            }
            char why[160];
            snprintf(why, sizeof why, "host %s does not list mdev %s", host, uuid);
            snprintf(need->mdev.uuid, sizeof need->mdev.uuid, "%s", uuid);
            need->mdev.type = strdup("");
            need->mdev.reason = strdup(why);
            if (need->mdev.type == NULL || need->mdev.reason == NULL)
                rc = evacuate_oom(err, errlen);
        }
        for (size_t k = 0; k < vm->need_count && rc == 0 && vm->reason == NULL; k++) {
            const struct mdevmig_mdev *mdev = &vm->needs[k].mdev;
            if (mdev->version != NULL)
                continue;
            char why[640];
            snprintf(why, sizeof why, "not migratable: %s",
                     mdev->reason != NULL ? mdev->reason : "an mdev has no version");
            if ((vm->reason = strdup(why)) == NULL)
                rc = evacuate_oom(err, errlen);
        }
    }
    free(uuids);
    return rc;
}
