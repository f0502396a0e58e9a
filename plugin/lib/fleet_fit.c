/*
 * fleet_fit — whether a host can take a VM: for each of its mdevs a slot
 * with room left, in a group whose driver accepts the mdev's version (a
 * live probe's answer, or the reference's on a host a rollout has
 * upgraded), all of them on the one host, the fullest-of-room slot first
 * as evacuate_draft.c spends them.
 */
#include "fleet.h"

#include <string.h>

static bool fleet_upgraded(const struct fleet *f, size_t group)
{
    const struct fleet_group *g = &f->groups[group];
    return f->ref_group != NULL && f->hosts[g->host].upgraded &&
           f->ref_group[g->type] != FLEET_NONE;
}

size_t fleet_effective_group(const struct fleet *f, size_t group)
{
    return fleet_upgraded(f, group) ? f->ref_group[f->groups[group].type] : group;
}

size_t fleet_group_version(const struct fleet *f, size_t group)
{
    return fleet_upgraded(f, group) ? f->ref_version[f->groups[group].type]
                                    : f->groups[group].version;
}

size_t fleet_vm_version(const struct fleet *f, const struct fleet_vm *vm, size_t k)
{
    size_t type = vm->needs[k].type;
    if (f->ref_version != NULL && f->hosts[vm->host].upgraded && type != FLEET_NONE &&
        f->ref_version[type] != FLEET_NONE && vm->needs[k].version != FLEET_NONE)
        return f->ref_version[type];
    return vm->needs[k].version;
}

/* May version go into group? *unknown when nobody has asked yet. */
static bool fleet_accepts(const struct fleet *f, size_t version, size_t group,
                          const struct fleet_fit *how, bool *unknown)
{
    *unknown = false;
    if (!how->compat)
        return true;
    if (version == FLEET_NONE)
        return false;
    enum mdevmig_verdict v = fleet_verdict(f, version, fleet_effective_group(f, group), NULL);
    if (v == MDEVMIG_NOT_PROBED) {
        *unknown = true;
        return how->optimistic;
    }
    return v == MDEVMIG_COMPATIBLE;
}

bool fleet_fit(const struct fleet *f, const size_t *types, const size_t *versions, size_t count,
               size_t h, const struct fleet_fit *how, size_t *chosen, long *room, bool *same,
               bool *unknown)
{
    bool all_same = true, any_unknown = false;
    long total = 0;
    if (f->hosts[h].down)
        return false;
    for (size_t i = 0; i < count; i++) {
        if (types[i] == FLEET_NONE)
            return false;
        size_t first, end;
        fleet_host_type_groups(f, h, types[i], &first, &end);
        bool first_of_type = true;
        for (size_t j = 0; j < i && first_of_type; j++)
            first_of_type = types[j] != types[i];
        size_t best = FLEET_NONE;
        int best_left = 0;
        bool best_unknown = false;
        for (size_t g = first; g < end; g++) {
            bool open;
            if (!fleet_accepts(f, versions[i], g, how, &open))
                continue;
            const struct fleet_group *grp = &f->groups[g];
            for (size_t s = grp->first; s < grp->first + grp->count; s++) {
                int left = how->empty ? f->slots[s].capacity : f->slots[s].remaining;
                if (first_of_type && left > 0)
                    total += left;
                for (size_t j = 0; j < i; j++)
                    left -= chosen[j] == s;
                if (left > best_left) {
                    best = s;
                    best_left = left;
                    best_unknown = open;
                }
            }
        }
        if (best == FLEET_NONE)
            return false;
        chosen[i] = best;
        any_unknown = any_unknown || best_unknown;
        all_same = all_same && fleet_group_version(f, f->slots[best].group) == versions[i];
    }
    *room = total;
    *same = all_same;
    *unknown = any_unknown;
    return true;
}
