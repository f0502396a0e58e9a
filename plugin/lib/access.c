/*
 * access — the public accessors of results, plans and matrices. Callers
 * hold these as opaque handles, so the library may grow its structs; each
 * *_info call fills the caller's struct only up to the size the caller
 * says it has (a caller built against an older header gets the fields it
 * knows), and strings stay owned by the result.
 */
#include "internal.h"

#include <string.h>

/* Copy full (of full_size bytes, starting with its size field) into the
 * caller's info, no further than info's own size. */
static int access_fill(void *info, const void *full, size_t full_size)
{
    if (info == NULL)
        return MDEVMIG_ERR_INPUT;
    size_t want;
    memcpy(&want, info, sizeof want);
    if (want < sizeof(size_t))
        return MDEVMIG_ERR_INPUT;
    size_t n = want < full_size ? want : full_size;
    memcpy((char *)info + sizeof want, (const char *)full + sizeof want, n - sizeof want);
    return MDEVMIG_OK;
}

int mdevmig_result_info(const struct mdevmig_result *r, struct mdevmig_result_info *info)
{
    if (r == NULL)
        return MDEVMIG_ERR_INPUT;
    const struct mdevmig_result_info full = {
        .size = sizeof full,
        .instance = r->instance,
        .source_host = r->source_host,
        .known = r->known,
        .source_stale = r->source_stale,
        .migratable = r->migratable,
        .reason = r->reason,
        .mdev_count = r->mdev_count,
        .host_count = r->host_count,
        .destination_count = r->destination_count,
        .probes_sent = r->probes_sent,
        .elapsed_us = r->elapsed_us,
        .candidate_source = r->candidate_source,
    };
    return access_fill(info, &full, sizeof full);
}

const char *mdevmig_result_destination(const struct mdevmig_result *r, size_t i)
{
    return r != NULL && i < r->destination_count ? r->destinations[i] : NULL;
}

int mdevmig_result_mdev(const struct mdevmig_result *r, size_t i, struct mdevmig_mdev_info *info)
{
    if (r == NULL || i >= r->mdev_count)
        return MDEVMIG_ERR_INPUT;
    const struct mdevmig_mdev *mdev = &r->mdevs[i];
    const struct mdevmig_mdev_info full = {
        .size = sizeof full,
        .uuid = mdev->uuid,
        .type = mdev->type,
        .version = mdev->version,
        .digest = mdev->digest,
        .reason = mdev->reason,
    };
    return access_fill(info, &full, sizeof full);
}

int mdevmig_result_host(const struct mdevmig_result *r, size_t i, struct mdevmig_host_info *info)
{
    if (r == NULL || i >= r->host_count)
        return MDEVMIG_ERR_INPUT;
    const struct mdevmig_host *h = &r->hosts[i];
    const struct mdevmig_host_info full = {
        .size = sizeof full,
        .name = h->name,
        .url = h->url,
        .verdict = h->verdict,
        .err = h->err,
        .error = h->error,
        .stale = h->stale,
        .same_digest = h->same_digest,
        .cached_compatible = h->cached_compatible,
        .free_instances = h->free_instances,
        .probe_count = h->probe_count,
    };
    return access_fill(info, &full, sizeof full);
}

static int access_probe(const struct mdevmig_probe *p, const char *host, const char *type,
                        struct mdevmig_probe_info *info)
{
    const struct mdevmig_probe_info full = {
        .size = sizeof full,
        .verdict = p->verdict,
        .level = p->level,
        .target = p->target,
        .err = p->err,
        .error = p->error,
        .elapsed_us = p->elapsed_us,
        .mdev = p->mdev,
        .host = host,
        .type = type,
    };
    return access_fill(info, &full, sizeof full);
}

int mdevmig_result_probe(const struct mdevmig_result *r, size_t h, size_t i,
                         struct mdevmig_probe_info *info)
{
    if (r == NULL || h >= r->host_count || i >= r->hosts[h].probe_count)
        return MDEVMIG_ERR_INPUT;
    return access_probe(&r->hosts[h].probes[i], NULL, NULL, info);
}

int mdevmig_plan_info(const struct mdevmig_plan *plan, struct mdevmig_plan_info *info)
{
    if (plan == NULL)
        return MDEVMIG_ERR_INPUT;
    const struct mdevmig_plan_info full = {
        .size = sizeof full,
        .host = plan->host,
        .policy = plan->policy,
        .source_stale = plan->source_stale,
        .vm_count = plan->vm_count,
        .placed = plan->placed,
        .vms_without_mdevs = plan->vms_without_mdevs,
        .target_count = plan->target_count,
        .candidate_hosts = plan->candidate_hosts,
        .probe_count = plan->probe_count,
        .probes_sent = plan->probes_sent,
        .waves = plan->waves,
        .elapsed_us = plan->elapsed_us,
    };
    return access_fill(info, &full, sizeof full);
}

int mdevmig_plan_vm(const struct mdevmig_plan *plan, size_t i, struct mdevmig_plan_vm_info *info)
{
    if (plan == NULL || i >= plan->vm_count)
        return MDEVMIG_ERR_INPUT;
    const struct mdevmig_plan_vm *vm = &plan->vms[i];
    const struct mdevmig_plan_vm_info full = {
        .size = sizeof full,
        .uuid = vm->uuid,
        .name = vm->name,
        .state = vm->state,
        .verdict = vm->verdict,
        .destination = vm->destination,
        .reason = vm->reason,
        .mdev_count = vm->mdev_count,
        .order = vm->order,
        .fitting_hosts = vm->fitting_hosts,
    };
    return access_fill(info, &full, sizeof full);
}

int mdevmig_plan_probe(const struct mdevmig_plan *plan, size_t i, struct mdevmig_probe_info *info)
{
    if (plan == NULL || i >= plan->probe_count)
        return MDEVMIG_ERR_INPUT;
    const struct mdevmig_plan_probe *p = &plan->probes[i];
    return access_probe(&p->probe, p->host, p->type, info);
}

int mdevmig_matrix_info(const struct mdevmig_matrix *mx, struct mdevmig_matrix_info *info)
{
    if (mx == NULL)
        return MDEVMIG_ERR_INPUT;
    const struct mdevmig_matrix_info full = {
        .size = sizeof full,
        .group_count = mx->group_count,
        .cell_count = mx->cell_count,
        .probes_sent = mx->probes_sent,
        .elapsed_us = mx->elapsed_us,
    };
    return access_fill(info, &full, sizeof full);
}

int mdevmig_matrix_cell(const struct mdevmig_matrix *mx, size_t i,
                        struct mdevmig_matrix_cell_info *info)
{
    if (mx == NULL || i >= mx->cell_count)
        return MDEVMIG_ERR_INPUT;
    const struct mdevmig_matrix_cell *c = &mx->cells[i];
    const struct mdevmig_matrix_cell_info full = {
        .size = sizeof full,
        .from = c->from,
        .to = c->to,
        .verdict = c->verdict,
        .err = c->err,
        .error = c->error,
        .host = c->host,
        .target = c->target,
        .elapsed_us = c->elapsed_us,
        .attempts = c->attempts,
    };
    return access_fill(info, &full, sizeof full);
}

int mdevmig_readiness_info(const struct mdevmig_readiness *r, struct mdevmig_readiness_info *info)
{
    if (r == NULL)
        return MDEVMIG_ERR_INPUT;
    return access_fill(info, &r->info, sizeof r->info);
}

int mdevmig_rollout_info(const struct mdevmig_rollout *r, struct mdevmig_rollout_info *info)
{
    if (r == NULL)
        return MDEVMIG_ERR_INPUT;
    return access_fill(info, &r->info, sizeof r->info);
}
