/*
 * evacuate_answer — the plan the caller gets: each VM with its destination
 * and parents, or the verdict and the reason it has none (naming the hosts
 * that could not take it); the hosts probed or used with their parents'
 * room; every probe made. Its JSON is the one the sched and the CLI show.
 */
#include "evacuate_internal.h"

#include "errname.h"
#include "verdict.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hosts named per kind in an unplaced VM's reason; the rest are counted. */
#define EVACUATE_NAMES 3

/* Which probe speaks for a host that refused a VM: the driver's own
 * refusal before a missing attribute before a type that went away. */
static int evacuate_weight(enum mdevmig_verdict v)
{
    return v == MDEVMIG_INCOMPATIBLE ? 3 : v == MDEVMIG_UNSUPPORTED ? 2 : v == MDEVMIG_NO_TYPE;
}

/* The refusing probe that kept vm off host h, or NULL when h did not
 * refuse it (some group of each type is still usable). */
static const struct evacuate_probe *evacuate_refusal(const struct evacuate *e,
                                                     const struct evacuate_vm *vm, size_t h)
{
    const struct evacuate_probe *worst = NULL;
    for (size_t i = 0; i < vm->need_count; i++) {
        const struct evacuate_need *need = &vm->needs[i];
        size_t at = h * e->type_count + need->type;
        bool usable = false;
        const struct evacuate_probe *said = NULL;
        for (size_t g = e->host_first[at]; g < e->host_end[at] && !usable; g++) {
            size_t p = e->key_probe[evacuate_key(e, need->version, g)];
            usable = p == EVACUATE_NONE || e->probes[p].probe.verdict == MDEVMIG_COMPATIBLE;
            if (!usable && (said == NULL || evacuate_weight(e->probes[p].probe.verdict) >
                                                evacuate_weight(said->probe.verdict)))
                said = &e->probes[p];
        }
        if (!usable && said != NULL &&
            (worst == NULL ||
             evacuate_weight(said->probe.verdict) > evacuate_weight(worst->probe.verdict)))
            worst = said;
    }
    return worst;
}

/* "a, b, c and 4 more" into buf. */
struct evacuate_names {
    char text[EVACUATE_NAMES * 300];
    size_t shown, more;
};

static void evacuate_name_add(struct evacuate_names *n, const char *name, const char *detail)
{
    if (n->shown == EVACUATE_NAMES) {
        n->more++;
        return;
    }
    size_t len = strlen(n->text);
    snprintf(n->text + len, sizeof n->text - len, "%s%s%s%s%s", n->shown > 0 ? ", " : "", name,
             detail != NULL ? " (" : "", detail != NULL ? detail : "", detail != NULL ? ")" : "");
    n->shown++;
}

static void evacuate_reason_part(char *out, size_t len, const char *label,
                                 const struct evacuate_names *n)
{
    if (n->shown == 0)
        return;
    size_t used = strlen(out);
    char more[48] = "";
    if (n->more > 0)
        snprintf(more, sizeof more, " and %zu more", n->more);
    snprintf(out + used, len - used, "%s%s: %s%s", used > 0 ? "; " : "", label, n->text, more);
}

/* Why vm has no destination, with the hosts that could not take it. */
static int evacuate_why(const struct evacuate *e, const struct evacuate_vm *vm,
                        struct mdevmig_plan_vm *out)
{
    const struct evacuate_profile *prof = &e->profiles[vm->profile];
    struct evacuate_names full = {0}, filled = {0}, refused = {0}, down = {0};
    const struct evacuate_probe *worst = NULL;
    size_t next = 0;
    long room;
    bool same;
    for (size_t h = 0; h < e->host_count; h++) {
        if (next < prof->host_count && prof->hosts[next] == h) {
            next++;
        } else {
            bool offers_one = false;
            for (size_t i = 0; i < vm->need_count && !offers_one; i++)
                offers_one = e->host_end[h * e->type_count + vm->needs[i].type] != 0;
            out->hosts_no_type += offers_one;
            continue;
        }
        if (e->hosts[h].unreachable) {
            out->hosts_unreachable++;
            evacuate_name_add(&down, e->hosts[h].name, NULL);
            continue;
        }
        const struct evacuate_probe *no = evacuate_refusal(e, vm, h);
        if (no != NULL) {
            out->hosts_refused++;
            char detail[160];
            const char *name = no->probe.err != 0 ? errname_of(no->probe.err) : NULL;
            if (no->probe.verdict == MDEVMIG_INCOMPATIBLE && name != NULL)
                snprintf(detail, sizeof detail, "%s: %s", e->types[e->versions[no->version].type],
                         name);
            else if (no->probe.verdict == MDEVMIG_INCOMPATIBLE)
                snprintf(detail, sizeof detail, "%s: errno %d",
                         e->types[e->versions[no->version].type], no->probe.err);
            else
                snprintf(detail, sizeof detail, "%s: %s", e->types[e->versions[no->version].type],
                         mdevmig_verdict_name(no->probe.verdict));
            evacuate_name_add(&refused, e->hosts[h].name, detail);
            if (worst == NULL ||
                evacuate_weight(no->probe.verdict) > evacuate_weight(worst->probe.verdict))
                worst = no;
            continue;
        }
        if (evacuate_fit(e, vm, h, true, e->scratch, &room, &same)) {
            out->hosts_filled++;
            evacuate_name_add(&filled, e->hosts[h].name, NULL);
        } else {
            out->hosts_full++;
            evacuate_name_add(&full, e->hosts[h].name, NULL);
        }
    }
    char text[4 * sizeof full.text + 256] = "";
    if (out->hosts_filled + out->hosts_full > 0)
        out->verdict = MDEVMIG_NO_CAPACITY;
    else if (worst != NULL)
        out->verdict = worst->probe.verdict;
    else if (out->hosts_unreachable > 0)
        out->verdict = MDEVMIG_UNREACHABLE;
    else
        out->verdict = MDEVMIG_NO_TYPE;
    evacuate_reason_part(text, sizeof text, "room taken by VMs placed before it", &filled);
    evacuate_reason_part(text, sizeof text, "no room", &full);
    evacuate_reason_part(text, sizeof text, "refused", &refused);
    evacuate_reason_part(text, sizeof text, "collector unreachable", &down);
    if (prof->host_count == 0) {
        /* Name a type nobody offers, or say they are never together. */
        const char *missing = NULL;
        for (size_t i = 0; i < vm->need_count && missing == NULL; i++) {
            size_t k = vm->needs[i].type;
            if (e->type_groups[k + 1] == e->type_groups[k])
                missing = e->types[k];
        }
        if (missing != NULL)
            snprintf(text, sizeof text, "no other host offers type %s", missing);
        else
            snprintf(text, sizeof text, "no other host offers all of its %zu mdevs' types",
                     vm->need_count);
    }
    char reason[sizeof text + 32];
    snprintf(reason, sizeof reason, "no destination: %s", text);
    out->reason = strdup(reason);
    return out->reason != NULL ? 0 : -1;
}

static int evacuate_plan_vm(struct evacuate *e, struct evacuate_vm *vm, size_t order,
                            struct mdevmig_plan_vm *out)
{
    memcpy(out->uuid, vm->inst->uuid, sizeof out->uuid);
    out->order = order;
    out->name = strdup(vm->inst->name != NULL ? vm->inst->name : "");
    out->state = strdup(vm->inst->state != NULL ? vm->inst->state : "");
    out->mdevs = calloc(vm->need_count + 1, sizeof *out->mdevs);
    out->parents = calloc(vm->need_count + 1, sizeof *out->parents);
    if (out->name == NULL || out->state == NULL || out->mdevs == NULL || out->parents == NULL)
        return -1;
    int rc = 0;
    if (vm->profile == EVACUATE_NONE) {
        out->verdict = MDEVMIG_NOT_MIGRATABLE;
        out->reason = vm->reason;
        vm->reason = NULL;
    } else if (vm->host == EVACUATE_NONE) {
        out->fitting_hosts = e->profiles[vm->profile].fitting;
        rc = evacuate_why(e, vm, out);
    } else {
        out->fitting_hosts = e->profiles[vm->profile].fitting;
        out->verdict = MDEVMIG_COMPATIBLE;
        if ((out->destination = strdup(e->hosts[vm->host].name)) == NULL)
            rc = -1;
        for (size_t i = 0; i < vm->need_count && rc == 0; i++) {
            const struct evacuate_slot *s = &e->slots[vm->needs[i].slot];
            if ((out->parents[i] = strdup(s->offer->parent)) == NULL)
                rc = -1;
            /* Count each probe once per VM, however many mdevs share it. */
            size_t p = e->key_probe[evacuate_key(e, vm->needs[i].version, s->group)];
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++) {
                const struct evacuate_slot *t = &e->slots[vm->needs[j].slot];
                seen = e->key_probe[evacuate_key(e, vm->needs[j].version, t->group)] == p;
            }
            if (!seen && p != EVACUATE_NONE)
                e->probes[p].vms++;
        }
    }
    /* Last: the mdevs move into the plan (the draft reads them until now). */
    out->mdev_count = vm->need_count;
    for (size_t i = 0; i < vm->need_count; i++) {
        out->mdevs[i] = vm->needs[i].mdev;
        memset(&vm->needs[i].mdev, 0, sizeof vm->needs[i].mdev);
    }
    return rc;
}

/* The hosts the plan probed or placed VMs on, with their parents' room. */
static int evacuate_targets(struct evacuate *e, struct mdevmig_plan *plan)
{
    plan->targets = calloc(e->host_count + 1, sizeof *plan->targets);
    if (plan->targets == NULL)
        return -1;
    /* Slots are by type, then host: walk the groups of each host. */
    for (size_t h = 0; h < e->host_count; h++) {
        const struct evacuate_host *host = &e->hosts[h];
        if (!host->probed && host->vms == 0)
            continue;
        struct mdevmig_plan_target *t = &plan->targets[plan->target_count++];
        t->stale = host->stale;
        t->unreachable = host->unreachable;
        t->vms = host->vms;
        size_t slots = 0;
        for (size_t k = 0; k < e->type_count; k++) {
            size_t at = h * e->type_count + k;
            for (size_t g = e->host_first[at]; g < e->host_end[at]; g++)
                slots += e->groups[g].count;
        }
        t->slots = calloc(slots + 1, sizeof *t->slots);
        if ((t->name = strdup(host->name)) == NULL || t->slots == NULL)
            return -1;
        for (size_t k = 0; k < e->type_count; k++) {
            size_t at = h * e->type_count + k;
            for (size_t g = e->host_first[at]; g < e->host_end[at]; g++) {
                const struct evacuate_group *grp = &e->groups[g];
                for (size_t s = grp->first; s < grp->first + grp->count; s++) {
                    struct mdevmig_plan_slot *out = &t->slots[t->slot_count++];
                    out->free_instances = e->slots[s].capacity;
                    out->planned = e->slots[s].capacity - e->slots[s].remaining;
                    out->parent = strdup(e->slots[s].offer->parent);
                    out->type = strdup(e->types[k]);
                    if (out->parent == NULL || out->type == NULL)
                        return -1;
                }
            }
        }
    }
    return 0;
}

int evacuate_answer(struct evacuate *e, struct mdevmig_plan *plan)
{
    plan->source_stale = e->src.stale;
    plan->vms_without_mdevs = e->without_mdevs;
    plan->candidate_hosts = e->host_count;
    plan->probes_sent = e->probes_sent;
    plan->waves = e->waves;
    plan->vms = calloc(e->vm_count + 1, sizeof *plan->vms);
    if (plan->vms == NULL)
        return -1;
    for (size_t o = 0; o < e->vm_count; o++) {
        struct mdevmig_plan_vm *out = &plan->vms[plan->vm_count++];
        if (evacuate_plan_vm(e, &e->vms[e->order[o]], o + 1, out) < 0)
            return -1;
        plan->placed += out->destination != NULL;
    }
    plan->probes = calloc(e->probe_count + 1, sizeof *plan->probes);
    if (plan->probes == NULL)
        return -1;
    for (size_t p = 0; p < e->probe_count; p++) {
        struct evacuate_probe *from = &e->probes[p];
        struct mdevmig_plan_probe *to = &plan->probes[plan->probe_count++];
        const struct evacuate_version *v = &e->versions[from->version];
        to->wave = from->wave;
        to->vms = from->vms;
        memcpy(to->source_digest, v->digest, sizeof to->source_digest);
        to->probe = from->probe;
        memset(&from->probe, 0, sizeof from->probe);
        to->host = strdup(e->hosts[e->groups[from->group].host].name);
        to->type = strdup(e->types[v->type]);
        if (to->host == NULL || to->type == NULL)
            return -1;
    }
    return evacuate_targets(e, plan);
}
void mdevmig_plan_free(struct mdevmig_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t i = 0; i < plan->vm_count; i++) {
        struct mdevmig_plan_vm *vm = &plan->vms[i];
        for (size_t k = 0; k < vm->mdev_count; k++) {
            free(vm->mdevs[k].type);
            free(vm->mdevs[k].version);
            free(vm->mdevs[k].reason);
            free(vm->parents[k]);
        }
        free(vm->mdevs);
        free(vm->parents);
        free(vm->name);
        free(vm->state);
        free(vm->destination);
        free(vm->reason);
    }
    free(plan->vms);
    for (size_t t = 0; t < plan->target_count; t++) {
        struct mdevmig_plan_target *target = &plan->targets[t];
        for (size_t s = 0; s < target->slot_count; s++) {
            free(target->slots[s].parent);
            free(target->slots[s].type);
        }
        free(target->slots);
        free(target->name);
    }
    free(plan->targets);
    for (size_t p = 0; p < plan->probe_count; p++) {
        free(plan->probes[p].host);
        free(plan->probes[p].type);
        confirm_probe_clear(&plan->probes[p].probe);
    }
    free(plan->probes);
    free(plan->host);
    free(plan);
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *evacuate_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *evacuate_vm_json(const struct mdevmig_plan_vm *vm)
{
    json_t *mdevs = json_array();
    for (size_t i = 0; i < vm->mdev_count && mdevs != NULL; i++) {
        const struct mdevmig_mdev *mdev = &vm->mdevs[i];
        json_array_append_new(mdevs, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "uuid", mdev->uuid,
                                               "type", mdev->type != NULL ? mdev->type : "",
                                               "version", evacuate_str(mdev->version), "digest",
                                               evacuate_str(mdev->digest[0] ? mdev->digest : NULL),
                                               "parent", evacuate_str(vm->parents[i]), "reason",
                                               evacuate_str(mdev->reason)));
    }
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:o}",
                     "order", (json_int_t)vm->order, "instance", vm->uuid, "name", vm->name,
                     "state", vm->state, "verdict",
                     vm->verdict == MDEVMIG_COMPATIBLE ? verdict_name(VERDICT_PLACED)
                                                       : mdevmig_verdict_name(vm->verdict),
                     "destination", evacuate_str(vm->destination), "reason",
                     evacuate_str(vm->reason), "fitting_hosts", (json_int_t)vm->fitting_hosts,
                     "hosts", "full", (json_int_t)vm->hosts_full, "filled",
                     (json_int_t)vm->hosts_filled, "refused", (json_int_t)vm->hosts_refused,
                     "unreachable", (json_int_t)vm->hosts_unreachable, "no_type",
                     (json_int_t)vm->hosts_no_type, "mdevs", mdevs);
}

static json_t *evacuate_probe_json(const struct mdevmig_plan_probe *p)
{
    const struct mdevmig_probe *probe = &p->probe;
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "wave",
                     (json_int_t)p->wave, "host", p->host, "type", p->type, "source_digest",
                     p->source_digest, "verdict", mdevmig_verdict_name(probe->verdict), "level",
                     evacuate_str(probe->level), "target", evacuate_str(probe->target), "errno",
                     probe->err ? json_integer(probe->err) : json_null(), "errno_name",
                     evacuate_str(probe->err ? errname_of(probe->err) : NULL), "error",
                     evacuate_str(probe->error), "elapsed_us", (json_int_t)probe->elapsed_us, "vms",
                     (json_int_t)p->vms);
}

static json_t *evacuate_target_json(const struct mdevmig_plan_target *t)
{
    json_t *slots = json_array();
    for (size_t s = 0; s < t->slot_count && slots != NULL; s++)
        json_array_append_new(slots, json_pack("{s:s, s:s, s:i, s:i}", "parent", t->slots[s].parent,
                                               "type", t->slots[s].type, "free_instances",
                                               t->slots[s].free_instances, "planned",
                                               t->slots[s].planned));
    return json_pack("{s:s, s:b, s:b, s:I, s:o}", "host", t->name, "stale", t->stale, "unreachable",
                     t->unreachable, "vms", (json_int_t)t->vms, "slots", slots);
}

char *mdevmig_plan_json(const struct mdevmig_plan *plan)
{
    json_t *vms = json_array(), *probes = json_array(), *targets = json_array();
    bool ok = vms != NULL && probes != NULL && targets != NULL;
    for (size_t i = 0; i < plan->vm_count && ok; i++)
        ok = json_array_append_new(vms, evacuate_vm_json(&plan->vms[i])) == 0;
    for (size_t i = 0; i < plan->probe_count && ok; i++)
        ok = json_array_append_new(probes, evacuate_probe_json(&plan->probes[i])) == 0;
    for (size_t i = 0; i < plan->target_count && ok; i++)
        ok = json_array_append_new(targets, evacuate_target_json(&plan->targets[i])) == 0;
    json_t *root =
        ok ? json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:O, s:O, s:O, s:I, s:I, s:I}",
                       "host", plan->host, "policy", mdevmig_policy_name(plan->policy),
                       "source_stale", plan->source_stale, "vm_count", (json_int_t)plan->vm_count,
                       "placed", (json_int_t)plan->placed, "unplaced",
                       (json_int_t)(plan->vm_count - plan->placed), "vms_without_mdevs",
                       (json_int_t)plan->vms_without_mdevs, "candidate_hosts",
                       (json_int_t)plan->candidate_hosts, "vms", vms, "targets", targets, "probes",
                       probes, "probes_sent", (json_int_t)plan->probes_sent, "waves",
                       (json_int_t)plan->waves, "elapsed_us", (json_int_t)plan->elapsed_us)
           : NULL;
    json_decref(vms);
    json_decref(probes);
    json_decref(targets);
    char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}
