/*
 * synth_host — the synthetic hosts of the scale benchmark (bench-scale):
 * an inventory made in memory, the same for the same index and shape, so
 * that gen_registry (which stores 100,000 of them in a registry file) and
 * bench_ingest (which publishes them again to a sched) agree on every
 * host without passing files around. A benchmark tool, not a test.
 *
 * Host i is PREFIX-NNNNNN with one parent offering `types` types
 * nvidia-200, nvidia-201, ... at one driver release, each with
 * free_instances free (0: full, so that no probe reaches its dead
 * collector), and the synthetic VMs j with j % host_count == i, one mdev
 * of the first type each.
 */
#ifndef MDEVMIG_BENCH_SYNTH_HOST_H
#define MDEVMIG_BENCH_SYNTH_HOST_H

#include "inventory.h"

#include <stddef.h>
#include <stdint.h>

#define SYNTH_MAX_TYPES 100
#define SYNTH_PARENT    "0000:3b:00.0"

struct synth_shape {
    const char *prefix;        /* host names: PREFIX-NNNNNN */
    size_t host_count;         /* hosts of this shape, for spreading the VMs */
    size_t type_count;         /* 1 to SYNTH_MAX_TYPES */
    const char *release;       /* e.g. "535.54": versions 10de:2235:TYPE-RELEASE */
    const char *collector_url; /* where nobody listens */
    int free_instances;        /* available_instances of every type */
    size_t vm_count;           /* synthetic VMs over all host_count hosts */
    /* Filled by synth_shape_prepare(): one version and digest per type,
     * shared by every host (2,000,000 SHA-256 would be most of the work). */
    char versions[SYNTH_MAX_TYPES][64];
    char digests[SYNTH_MAX_TYPES][VERSION_DIGEST_LEN];
};

/* Type t's id, e.g. "nvidia-200"; into out (at least 16 bytes). */
void synth_type_id(size_t t, char *out, size_t outlen);

/* Host i's name into out (at least 64 bytes). */
void synth_host_name(const struct synth_shape *shape, size_t i, char *out, size_t outlen);

/* Checks the shape and fills its versions and digests: 0, or -1 with err. */
int synth_shape_prepare(struct synth_shape *shape, char *err, size_t errlen);

/* Host i at generation as an inventory (free with inventory_free): 0, or
 * -1 with err (out of memory). */
int synth_host_build(const struct synth_shape *shape, size_t i, int64_t generation,
                     int64_t scanned_at, struct inventory *out, char *err, size_t errlen);

#endif
