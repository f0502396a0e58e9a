/*
 * synth_host — see synth_host.h. Every string is allocated, because
 * inventory_free() owns what an inventory holds.
 */
#include "synth_host.h"

#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void synth_type_id(size_t t, char *out, size_t outlen)
{
    snprintf(out, outlen, "nvidia-%zu", 200 + t);
}

void synth_host_name(const struct synth_shape *shape, size_t i, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s-%06zu", shape->prefix, i);
}

int synth_shape_prepare(struct synth_shape *shape, char *err, size_t errlen)
{
    if (shape->type_count < 1 || shape->type_count > SYNTH_MAX_TYPES) {
        snprintf(err, errlen, "types must be 1 to %d", SYNTH_MAX_TYPES);
        return -1;
    }
    if (shape->host_count < 1 || shape->host_count > 999999) {
        snprintf(err, errlen, "hosts must be 1 to 999999 (six digits in the name)");
        return -1;
    }
    if (strlen(shape->release) > 16) {
        snprintf(err, errlen, "release %s is too long", shape->release);
        return -1;
    }
    for (size_t t = 0; t < shape->type_count; t++) {
        char id[16];
        synth_type_id(t, id, sizeof id);
        snprintf(shape->versions[t], sizeof shape->versions[t], "10de:2235:%s-%s", id,
                 shape->release);
        if (version_digest(id, shape->versions[t], shape->digests[t]) < 0) {
            snprintf(err, errlen, "cannot digest %s", shape->versions[t]);
            return -1;
        }
    }
    return 0;
}

static int synth_migration(const struct synth_shape *shape, size_t t, struct inv_migration *mig)
{
    mig->supported = true;
    mig->read_errno = 0;
    if ((mig->version = strdup(shape->versions[t])) == NULL)
        return -1;
    memcpy(mig->digest, shape->digests[t], VERSION_DIGEST_LEN);
    return 0;
}

/* Distinct from the live source's VMs (e...) and mdevs (d...). */
static void synth_vm_uuid(size_t j, char out[INV_UUID_LEN])
{
    snprintf(out, INV_UUID_LEN, "f%07zu-0000-4000-8000-%012zu", j / 1000000, j % 1000000);
}

static void synth_mdev_uuid(size_t j, char out[INV_UUID_LEN])
{
    snprintf(out, INV_UUID_LEN, "c%07zu-0000-4000-8000-%012zu", j / 1000000, j % 1000000);
}

static int synth_build(const struct synth_shape *shape, size_t i, struct inventory *out)
{
    char name[64];
    synth_host_name(shape, i, name, sizeof name);
    if ((out->host = strdup(name)) == NULL ||
        (out->collector_url = strdup(shape->collector_url)) == NULL)
        return -1;
    if ((out->parents = calloc(1, sizeof *out->parents)) == NULL)
        return -1;
    out->parent_count = 1;
    struct inv_parent *p = &out->parents[0];
    if ((p->name = strdup(SYNTH_PARENT)) == NULL ||
        (p->types = calloc(shape->type_count, sizeof *p->types)) == NULL)
        return -1;
    for (size_t t = 0; t < shape->type_count; t++) {
        struct inv_type *type = &p->types[t];
        p->type_count++;
        char id[16], label[32];
        synth_type_id(t, id, sizeof id);
        snprintf(label, sizeof label, "GRID A40-%zuQ", 1 + t);
        if ((type->id = strdup(id)) == NULL || (type->name = strdup(label)) == NULL ||
            (type->description = strdup("num_heads=4, framebuffer=1024M")) == NULL ||
            (type->device_api = strdup("vfio-pci")) == NULL)
            return -1;
        type->available_instances = shape->free_instances;
        if (synth_migration(shape, t, &type->migration) < 0)
            return -1;
    }
    /* VM j lives on host j % host_count: at most ceil(vms / hosts) here. */
    size_t vms = i < shape->vm_count % shape->host_count ? shape->vm_count / shape->host_count + 1
                                                         : shape->vm_count / shape->host_count;
    if (vms == 0)
        return 0;
    if ((out->devices = calloc(vms, sizeof *out->devices)) == NULL ||
        (out->instances = calloc(vms, sizeof *out->instances)) == NULL)
        return -1;
    char first_type[16];
    synth_type_id(0, first_type, sizeof first_type);
    for (size_t k = 0; k < vms; k++) {
        size_t j = i + k * shape->host_count;
        struct inv_device *d = &out->devices[k];
        out->device_count++;
        synth_mdev_uuid(j, d->uuid);
        synth_vm_uuid(j, d->instance);
        d->iommu_group = (int)(100 + k);
        if ((d->parent = strdup(SYNTH_PARENT)) == NULL || (d->type = strdup(first_type)) == NULL ||
            synth_migration(shape, 0, &d->migration) < 0)
            return -1;
        struct inv_instance *vm = &out->instances[k];
        out->instance_count++;
        char vm_name[32];
        snprintf(vm_name, sizeof vm_name, "syn-vm-%zu", j);
        memcpy(vm->uuid, d->instance, INV_UUID_LEN);
        if ((vm->name = strdup(vm_name)) == NULL || (vm->state = strdup("running")) == NULL ||
            (vm->mdevs = calloc(1, sizeof *vm->mdevs)) == NULL)
            return -1;
        memcpy(vm->mdevs[0], d->uuid, INV_UUID_LEN);
        vm->mdev_count = 1;
    }
    return 0;
}

int synth_host_build(const struct synth_shape *shape, size_t i, int64_t generation,
                     int64_t scanned_at, struct inventory *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->generation = generation;
    out->scanned_at = scanned_at;
    if (synth_build(shape, i, out) < 0) {
        inventory_free(out);
        snprintf(err, errlen, "out of memory building synthetic host %zu", i);
        return -1;
    }
    return 0;
}
