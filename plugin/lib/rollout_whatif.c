/*
 * rollout_whatif — what a driver rollout would strand, without planning
 * it: readiness for every VM now, and again with every host to upgrade
 * already on the reference's driver (its VMs running the reference's
 * versions, its room answering as the reference's driver does); the VMs
 * that had a destination and would have none.
 */
#include "readiness.h"
#include "rollout.h"

#include "errname.h"

#include <stdio.h>
#include <stdlib.h>

int rollout_whatif(struct rollout *r, struct mdevmig_rollout *out, char *err, size_t errlen)
{
    struct fleet *f = &r->f;
    size_t count = f->vm_count;
    size_t *all = calloc(count + 1, sizeof *all);
    struct readiness_vm *now = calloc(count + 1, sizeof *now);
    struct readiness_vm *after = calloc(count + 1, sizeof *after);
    int rc = all != NULL && now != NULL && after != NULL ? 0 : fleet_oom(err, errlen);
    for (size_t i = 0; i < count && rc == 0; i++)
        all[i] = i;
    size_t candidates, triples_now = 0, triples_after = 0;
    if (rc == 0)
        rc = readiness_eval(f, all, count, now, &candidates, &triples_now, err, errlen);
    for (size_t i = 0; i < r->target_count && rc == 0; i++)
        f->hosts[r->targets[i]].upgraded = true;
    if (rc == 0)
        rc = readiness_eval(f, all, count, after, &candidates, &triples_after, err, errlen);
    json_t *vms = rc == 0 ? json_array() : NULL;
    if (rc == 0 && vms == NULL)
        rc = fleet_oom(err, errlen);
    size_t stranded_now = 0, stranded_after = 0, dropped = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        stranded_now += now[i].destinations == 0;
        stranded_after += after[i].destinations == 0;
        if (now[i].destinations == 0 || after[i].destinations > 0)
            continue;
        const struct fleet_vm *vm = &f->vms[i];
        const char *name = after[i].err != 0 ? errname_of(after[i].err) : NULL;
        json_t *item = json_pack(
            "{s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:o, s:s}", "instance", vm->inst->uuid, "name",
            vm->inst->name != NULL ? vm->inst->name : "", "host", f->hosts[vm->host].name,
            "destinations_now", (json_int_t)now[i].destinations, "destinations_after",
            (json_int_t)0, "verdict", mdevmig_verdict_name(after[i].verdict), "errno",
            after[i].err != 0 ? json_integer(after[i].err) : json_null(), "errno_name",
            name != NULL ? json_string(name) : json_null(), "reason", after[i].reason);
        if (item == NULL || json_array_append_new(vms, item) < 0)
            rc = fleet_oom(err, errlen);
        dropped++;
    }
    if (rc == 0) {
        out->doc = json_pack(
            "{s:s, s:b, s:o, s:o, s:I, s:I, s:I, s:o}", "like", f->hosts[r->like].name, "what_if",
            true, "hosts", rollout_hosts_json(r), "versions", rollout_versions_json(r), "vm_count",
            (json_int_t)count, "stranded_now", (json_int_t)stranded_now, "stranded_after",
            (json_int_t)stranded_after, "vms", vms);
        vms = NULL;
        if (out->doc == NULL)
            rc = fleet_oom(err, errlen);
        out->info.vm_count = count;
        out->info.stranded = dropped;
    }
    json_decref(vms);
    free(all);
    free(now);
    free(after);
    return rc;
}
