/*
 * evacuate_draft — one draft of an evacuation plan: greedy, the most
 * constrained VM first (the fewest hosts that could take it, then the
 * most mdevs), spending free instances parent by parent, all of a VM's
 * mdevs on one host. A destination nobody has probed yet counts as able
 * to take the VM; the draft marks the VMs that rely on one as pending.
 */
#include "evacuate_internal.h"

#include <stdlib.h>
#include <string.h>

/* False once a probe of group g said no to version, or its host is down. */
static bool evacuate_usable(const struct evacuate *e, size_t version, size_t group)
{
    if (e->hosts[e->groups[group].host].unreachable)
        return false;
    size_t p = e->key_probe[evacuate_key(e, version, group)];
    return p == EVACUATE_NONE || e->probes[p].probe.verdict == MDEVMIG_COMPATIBLE;
}

/* Whether host h can take vm: for each mdev a slot, in a group not ruled
 * out for its version, with room left (on an empty plan when empty) after
 * the VM's earlier mdevs. chosen gets the slots; room the room the host
 * has for the VM's types; same whether every slot runs the mdev's version. */
bool evacuate_fit(const struct evacuate *e, const struct evacuate_vm *vm, size_t h, bool empty,
                  size_t *chosen, long *room, bool *same)
{
    bool all_same = true;
    long total = 0;
    for (size_t i = 0; i < vm->need_count; i++) {
        const struct evacuate_need *need = &vm->needs[i];
        size_t at = h * e->type_count + need->type;
        size_t best = EVACUATE_NONE;
        int best_free = 0;
        bool first_of_type = true;
        for (size_t j = 0; j < i && first_of_type; j++)
            first_of_type = vm->needs[j].type != need->type;
        for (size_t g = e->host_first[at]; g < e->host_end[at]; g++) {
            if (!evacuate_usable(e, need->version, g))
                continue;
            const struct evacuate_group *grp = &e->groups[g];
            for (size_t s = grp->first; s < grp->first + grp->count; s++) {
                int left = empty ? e->slots[s].capacity : e->slots[s].remaining;
                if (first_of_type && left > 0)
                    total += left;
                for (size_t j = 0; j < i; j++)
                    left -= chosen[j] == s;
                if (left <= 0)
                    continue;
                if (best == EVACUATE_NONE || (e->spread ? left > best_free : left < best_free)) {
                    best = s;
                    best_free = left;
                }
            }
        }
        if (best == EVACUATE_NONE)
            return false;
        chosen[i] = best;
        all_same =
            all_same && strcmp(e->groups[e->slots[best].group].digest, need->mdev.digest) == 0;
    }
    *room = total;
    *same = all_same;
    return true;
}

struct evacuate_pick {
    size_t host;
    long room;
    bool same;
    bool stale;
};

/* Is a the better destination? Fresh hosts before stale ones, then the
 * policy's room, then the version the VM already runs, then the name. */
static bool evacuate_better(const struct evacuate *e, const struct evacuate_pick *a,
                            const struct evacuate_pick *b)
{
    if (a->stale != b->stale)
        return !a->stale;
    if (a->room != b->room)
        return e->spread ? a->room > b->room : a->room < b->room;
    if (a->same != b->same)
        return a->same;
    return a->host < b->host;
}

static int evacuate_order_cmp(const void *a, const void *b, void *ctx)
{
    const struct evacuate *e = ctx;
    const struct evacuate_vm *x = &e->vms[*(const size_t *)a], *y = &e->vms[*(const size_t *)b];
    bool mx = x->profile != EVACUATE_NONE, my = y->profile != EVACUATE_NONE;
    if (mx != my)
        return mx ? -1 : 1;
    if (mx) {
        size_t fx = e->profiles[x->profile].fitting, fy = e->profiles[y->profile].fitting;
        if (fx != fy)
            return fx < fy ? -1 : 1;
        if (x->need_count != y->need_count)
            return x->need_count > y->need_count ? -1 : 1;
    }
    return strcmp(x->inst->uuid, y->inst->uuid);
}

/* One draft of the whole plan from what is known now. Returns the number
 * of VMs placed. */
size_t evacuate_draft(struct evacuate *e)
{
    for (size_t s = 0; s < e->slot_count; s++)
        e->slots[s].remaining = e->slots[s].capacity;
    for (size_t h = 0; h < e->host_count; h++)
        e->hosts[h].vms = 0;
    long room;
    bool same;
    for (size_t p = 0; p < e->profile_count; p++) {
        struct evacuate_profile *prof = &e->profiles[p];
        prof->fitting = 0;
        for (size_t i = 0; i < prof->host_count; i++) {
            size_t h = prof->hosts[i];
            if (!e->hosts[h].unreachable &&
                evacuate_fit(e, &e->vms[prof->vm], h, true, e->scratch, &room, &same))
                prof->room[prof->fitting++] = h;
        }
    }
    if (e->vm_count > 1)
        qsort_r(e->order, e->vm_count, sizeof *e->order, evacuate_order_cmp, e);

    size_t placed = 0;
    for (size_t o = 0; o < e->vm_count; o++) {
        struct evacuate_vm *vm = &e->vms[e->order[o]];
        vm->host = EVACUATE_NONE;
        vm->pending = false;
        for (size_t a = 0; a < EVACUATE_ALTS; a++)
            vm->alts[a] = EVACUATE_NONE;
        if (vm->profile == EVACUATE_NONE)
            continue;
        const struct evacuate_profile *prof = &e->profiles[vm->profile];
        struct evacuate_pick picks[1 + EVACUATE_ALTS];
        size_t npicks = 0;
        for (size_t i = 0; i < prof->fitting; i++) {
            size_t h = prof->room[i];
            if (e->hosts[h].unreachable || !evacuate_fit(e, vm, h, false, e->scratch, &room, &same))
                continue;
            struct evacuate_pick pick = {
                .host = h, .room = room, .same = same, .stale = e->hosts[h].stale};
            size_t at = npicks;
            while (at > 0 && evacuate_better(e, &pick, &picks[at - 1]))
                at--;
            if (at > EVACUATE_ALTS)
                continue;
            size_t last = npicks < 1 + EVACUATE_ALTS ? npicks : EVACUATE_ALTS;
            for (size_t k = last; k > at; k--)
                picks[k] = picks[k - 1];
            picks[at] = pick;
            if (npicks < 1 + EVACUATE_ALTS)
                npicks++;
        }
        if (npicks == 0)
            continue;
        size_t h = picks[0].host;
        evacuate_fit(e, vm, h, false, e->scratch, &room, &same);
        for (size_t i = 0; i < vm->need_count; i++) {
            struct evacuate_need *need = &vm->needs[i];
            need->slot = e->scratch[i];
            e->slots[need->slot].remaining--;
            size_t key = evacuate_key(e, need->version, e->slots[need->slot].group);
            vm->pending = vm->pending || e->key_probe[key] == EVACUATE_NONE;
        }
        for (size_t a = 1; a < npicks; a++)
            vm->alts[a - 1] = picks[a].host;
        vm->host = h;
        e->hosts[h].vms++;
        placed++;
    }
    return placed;
}
