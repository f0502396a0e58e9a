/*
 * rollout_answer — a rollout plan as its JSON document (docs/READINESS.md):
 * the waves with their hosts, moves and stranded VMs, the order, and for
 * a VM that cannot stay migratable the reason its wave's destinations
 * gave: the driver's errno when a version is refused, whether by a host
 * as it is or by the reference's driver a host will run.
 */
#include "readiness.h"
#include "rollout.h"

#include "errname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *rollout_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

int rollout_record_begin(struct rollout_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->waves = json_array();
    rec->order = json_array();
    rec->stranded = json_array();
    return rec->waves != NULL && rec->order != NULL && rec->stranded != NULL ? 0 : -1;
}

void rollout_record_clear(struct rollout_record *rec)
{
    json_decref(rec->waves);
    json_decref(rec->order);
    json_decref(rec->stranded);
    memset(rec, 0, sizeof *rec);
}

static int rollout_append(json_t *array, json_t *item)
{
    return item != NULL && json_array_append_new(array, item) == 0 ? 0 : -1;
}

int rollout_record_wave(struct rollout *r, struct rollout_record *rec, size_t wave,
                        const size_t *hosts, size_t count)
{
    json_t *names = json_array();
    for (size_t k = 0; names != NULL && k < count; k++) {
        const char *name = r->f.hosts[hosts[k]].name;
        if (rollout_append(names, json_string(name)) < 0 ||
            rollout_append(rec->order, json_string(name)) < 0) {
            json_decref(names);
            return -1;
        }
    }
    json_t *item = names != NULL ? json_pack("{s:I, s:o, s:[], s:[]}", "wave", (json_int_t)wave,
                                             "hosts", names, "moves", "stranded")
                                 : NULL;
    if (rollout_append(rec->waves, item) < 0)
        return -1;
    rec->wave = item;
    rec->wave_count++;
    return 0;
}

int rollout_record_move(struct rollout *r, struct rollout_record *rec, size_t vm, size_t to)
{
    const struct fleet *f = &r->f;
    const struct fleet_vm *v = &f->vms[vm];
    json_t *mdevs = json_array();
    for (size_t k = 0; mdevs != NULL && k < v->need_count; k++) {
        size_t from_v = r->need_version[r->need_base[vm] + k];
        size_t to_v = fleet_group_version(f, f->slots[r->scratch[k]].group);
        const struct mdevmig_mdev *a = from_v != FLEET_NONE ? &f->versions[from_v].mdev : NULL;
        const struct mdevmig_mdev *b = to_v != FLEET_NONE ? &f->versions[to_v].mdev : NULL;
        json_t *item =
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "uuid", v->needs[k].uuid, "type",
                      f->types[v->needs[k].type], "to_parent", f->slots[r->scratch[k]].parent,
                      "version", rollout_str(a != NULL ? a->version : NULL), "digest",
                      rollout_str(a != NULL ? a->digest : NULL), "to_version",
                      rollout_str(b != NULL ? b->version : NULL));
        if (rollout_append(mdevs, item) < 0) {
            json_decref(mdevs);
            return -1;
        }
    }
    json_t *move = mdevs != NULL
                       ? json_pack("{s:s, s:s, s:s, s:s, s:b, s:o}", "instance", v->inst->uuid,
                                   "name", v->inst->name != NULL ? v->inst->name : "", "from",
                                   f->hosts[r->vm_host[vm]].name, "to", f->hosts[to].name,
                                   "to_upgraded", f->hosts[to].upgraded, "mdevs", mdevs)
                       : NULL;
    if (rollout_append(json_object_get(rec->wave, "moves"), move) < 0)
        return -1;
    rec->moves++;
    return 0;
}

/* The first probe that refused vm's mdevs on host h (or said nothing). */
static const struct fleet_probe *rollout_refusal(const struct rollout *r, size_t vm, size_t h,
                                                 bool *silent)
{
    const struct fleet *f = &r->f;
    const struct fleet_probe *down = NULL;
    for (size_t k = 0; k < f->vms[vm].need_count; k++) {
        size_t v = r->need_version[r->need_base[vm] + k], first, end;
        fleet_host_type_groups(f, h, f->vms[vm].needs[k].type, &first, &end);
        for (size_t g = first; g < end && v != FLEET_NONE; g++) {
            size_t at = f->key_probe[fleet_key(f, v, fleet_effective_group(f, g))];
            if (at == FLEET_NONE)
                continue;
            enum mdevmig_verdict verdict = f->probes[at].probe.verdict;
            if (verdict == MDEVMIG_UNREACHABLE && down == NULL)
                down = &f->probes[at];
            else if (verdict != MDEVMIG_COMPATIBLE && verdict != MDEVMIG_UNREACHABLE) {
                *silent = false;
                return &f->probes[at];
            }
        }
    }
    *silent = true;
    return down;
}

/* Why vm has no destination in this wave, as readiness words it. */
static void rollout_reason(struct rollout *r, size_t vm, enum mdevmig_verdict *verdict, int *err,
                           char *text, size_t len)
{
    struct fleet *f = &r->f;
    const struct fleet_vm *v = &f->vms[vm];
    *err = 0;
    if (v->reason != NULL) {
        *verdict = MDEVMIG_NOT_MIGRATABLE;
        snprintf(text, len, "%s", v->reason);
        return;
    }
    size_t count = v->need_count;
    for (size_t k = 0; k < count; k++) {
        r->types[k] = v->needs[k].type;
        r->versions[k] = r->need_version[r->need_base[vm] + k];
    }
    const struct fleet_fit room_only = {0};
    size_t refused = 0, down = 0, full = 0, first_refused = FLEET_NONE, first_down = FLEET_NONE;
    const struct fleet_probe *refusal = NULL, *silence = NULL;
    for (size_t h = 0; h < f->host_count; h++) {
        if (r->in_wave[h] || h == r->vm_host[vm])
            continue;
        long room;
        bool same, unknown, silent;
        bool offered = true;
        for (size_t k = 0; k < count && offered; k++) {
            size_t first, end;
            fleet_host_type_groups(f, h, r->types[k], &first, &end);
            offered = first != end;
        }
        if (!offered)
            continue;
        if (!fleet_fit(f, r->types, r->versions, count, h, &room_only, r->scratch, &room, &same,
                       &unknown) &&
            !f->hosts[h].down) {
            full++;
            continue;
        }
        const struct fleet_probe *p = rollout_refusal(r, vm, h, &silent);
        if (f->hosts[h].down || silent) {
            if (down++ == 0) {
                first_down = h;
                silence = p;
            }
        } else if (refused++ == 0) {
            first_refused = h;
            refusal = p;
        }
    }
    full += fleet_full_elsewhere(f, r->types, count);
    if (refused > 0) {
        const struct mdevmig_probe *probe = &refusal->probe;
        const struct fleet_group *g = &f->groups[refusal->group];
        *verdict =
            probe->verdict == MDEVMIG_UNSUPPORTED ? MDEVMIG_UNSUPPORTED : MDEVMIG_INCOMPATIBLE;
        *err = probe->err;
        const char *name = probe->err != 0 ? errname_of(probe->err) : NULL;
        bool upgraded = f->hosts[first_refused].upgraded && g->host != first_refused;
        snprintf(text, len,
                 "every host with room refuses it (%zu host%s): %s%s%s refused version %s%s%s%s",
                 refused, refused == 1 ? "" : "s", f->hosts[first_refused].name,
                 upgraded ? ", upgraded, as its new driver on " : "",
                 upgraded ? f->hosts[g->host].name : "", f->versions[refusal->version].mdev.version,
                 name != NULL ? " (" : "", name != NULL ? name : "", name != NULL ? ")" : "");
    } else if (down > 0) {
        *verdict = MDEVMIG_UNREACHABLE;
        snprintf(text, len, "the %zu host%s with room did not answer (%s: %s)", down,
                 down == 1 ? "" : "s", f->hosts[first_down].name,
                 silence != NULL && silence->probe.error != NULL ? silence->probe.error
                                                                 : "collector down");
    } else if (full > 0) {
        *verdict = MDEVMIG_NO_CAPACITY;
        snprintf(text, len, "no host outside the wave has room for its %zu mdev%s (%zu full)",
                 count, count == 1 ? "" : "s", full);
    } else {
        *verdict = MDEVMIG_NO_TYPE;
        snprintf(text, len, "no host outside the wave offers its types");
    }
}

int rollout_record_stranded(struct rollout *r, struct rollout_record *rec, size_t wave, size_t vm)
{
    const struct fleet_vm *v = &r->f.vms[vm];
    enum mdevmig_verdict verdict;
    int err;
    char reason[600];
    rollout_reason(r, vm, &verdict, &err, reason, sizeof reason);
    const char *name = err != 0 ? errname_of(err) : NULL;
    json_t *item = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:s}", "instance", v->inst->uuid,
                             "name", v->inst->name != NULL ? v->inst->name : "", "host",
                             r->f.hosts[r->vm_host[vm]].name, "wave", (json_int_t)wave, "verdict",
                             mdevmig_verdict_name(verdict), "errno",
                             err != 0 ? json_integer(err) : json_null(), "errno_name",
                             rollout_str(name), "reason", reason);
    if (item == NULL || json_array_append(rec->stranded, item) < 0 ||
        rollout_append(json_object_get(rec->wave, "stranded"), item) < 0)
        return -1;
    rec->stranded_count++;
    return 0;
}

json_t *rollout_versions_json(const struct rollout *r)
{
    const struct fleet *f = &r->f;
    json_t *list = json_array();
    for (size_t t = 0; list != NULL && t < f->type_count; t++) {
        size_t v = f->ref_version[t];
        if (v == FLEET_NONE)
            continue;
        const struct mdevmig_mdev *m = &f->versions[v].mdev;
        if (rollout_append(list, json_pack("{s:s, s:s, s:s}", "type", f->types[t], "version",
                                           m->version, "digest", m->digest)) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

json_t *rollout_hosts_json(const struct rollout *r)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < r->target_count; i++) {
        if (rollout_append(list, json_string(r->f.hosts[r->targets[i]].name)) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

int rollout_record_end(struct rollout *r, struct rollout_record *rec, size_t given_stranded,
                       struct mdevmig_rollout *out)
{
    const struct fleet *f = &r->f;
    size_t vms = 0;
    for (size_t i = 0; i < f->vm_count; i++)
        vms += r->is_target[f->vms[i].host];
    json_t *given = rollout_hosts_json(r);
    out->doc =
        given != NULL
            ? json_pack("{s:s, s:I, s:b, s:o, s:o, s:O, s:I, s:I, s:I, s:{s:o, s:I}, "
                        "s:O, s:O}",
                        "like", f->hosts[r->like].name, "max_down",
                        (json_int_t)(r->req->max_down > 0 ? r->req->max_down : 1), "what_if", false,
                        "hosts", rollout_hosts_json(r), "versions", rollout_versions_json(r),
                        "order", rec->order, "vm_count", (json_int_t)vms, "moves",
                        (json_int_t)rec->moves, "stranded_count", (json_int_t)rec->stranded_count,
                        "given_order", "order", given, "stranded_count", (json_int_t)given_stranded,
                        "waves", rec->waves, "stranded", rec->stranded)
            : NULL;
    out->info.wave_count = rec->wave_count;
    out->info.vm_count = vms;
    out->info.moves = rec->moves;
    out->info.stranded = rec->stranded_count;
    out->info.given_order_stranded = given_stranded;
    rollout_record_clear(rec);
    return out->doc != NULL ? 0 : -1;
}

int rollout_record_finish(struct rollout *r, struct mdevmig_rollout *out)
{
    const struct fleet *f = &r->f;
    out->info.triples = f->asked;
    json_t *probes = readiness_probes_json(f);
    if (probes == NULL)
        return -1;
    if (json_object_set_new(out->doc, "probes", probes) < 0 ||
        json_object_set_new(out->doc, "triples", json_integer((json_int_t)f->asked)) < 0 ||
        json_object_set_new(out->doc, "probes_sent", json_integer((json_int_t)f->probes_sent)) <
            0 ||
        json_object_set_new(out->doc, "elapsed_us", json_integer(out->info.elapsed_us)) < 0)
        return -1;
    return 0;
}
