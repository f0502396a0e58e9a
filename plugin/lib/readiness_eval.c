/*
 * readiness_eval — the count behind readiness: for each VM, the other
 * hosts that could take all of its mdevs now. VMs that send the same
 * versions share a profile, and a profile is judged once per host: ten
 * thousand VMs of three versions cost three rows of host verdicts, and
 * the probes behind them are one per (version, host, type target) with
 * room, whichever VMs need it.
 */
#include "readiness.h"

#include "errname.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ready_state {
    READY_NO_TYPE,     /* the host lacks one of the types */
    READY_NO_CAPACITY, /* it has them, without room for all */
    READY_DOWN,        /* room, and its collector did not answer */
    READY_REFUSED,     /* room, and a driver refused a version */
    READY_OK,
};

struct ready_cell {
    uint8_t state;
    bool same;
    long room;
    size_t probe; /* REFUSED/DOWN: the probe that said so, or FLEET_NONE */
};

struct ready_profile {
    size_t *types, *versions; /* sorted by (type, version) */
    size_t count;
    size_t home;   /* the one host all its VMs run on, or FLEET_NONE */
    size_t top[2]; /* its two best hosts */
    size_t ok;     /* hosts that can take one */
};

struct ready {
    struct fleet *f;
    const size_t *vms;
    size_t vm_count;
    size_t *profile_of; /* per listed VM, FLEET_NONE when not migratable */
    struct ready_profile *profiles;
    size_t profile_count;
    struct ready_cell *cells; /* profile x host */
    size_t *chosen;
    size_t need_max;
};

static void ready_clear(struct ready *r)
{
    for (size_t p = 0; r->profiles != NULL && p < r->profile_count; p++) {
        free(r->profiles[p].types);
        free(r->profiles[p].versions);
    }
    free(r->profiles);
    free(r->profile_of);
    free(r->cells);
    free(r->chosen);
}

/* A VM's (type, version) pairs, sorted: [count, t0, v0, t1, v1, ...]. */
static size_t *ready_signature(const struct fleet *f, const struct fleet_vm *vm)
{
    size_t *sig = calloc(1 + 2 * vm->need_count, sizeof *sig);
    if (sig == NULL)
        return NULL;
    sig[0] = vm->need_count;
    for (size_t k = 0; k < vm->need_count; k++) {
        size_t t = vm->needs[k].type, v = fleet_vm_version(f, vm, k);
        size_t at = k;
        while (at > 0 && (sig[2 * at - 1] > t || (sig[2 * at - 1] == t && sig[2 * at] > v))) {
            sig[2 * at + 1] = sig[2 * at - 1];
            sig[2 * at + 2] = sig[2 * at];
            at--;
        }
        sig[2 * at + 1] = t;
        sig[2 * at + 2] = v;
    }
    return sig;
}

static int ready_sig_cmp(const void *a, const void *b, void *ctx)
{
    size_t *const *sigs = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const size_t *sx = sigs[x], *sy = sigs[y];
    if (sx[0] != sy[0])
        return sx[0] < sy[0] ? -1 : 1;
    for (size_t i = 1; i <= 2 * sx[0]; i++) {
        if (sx[i] != sy[i])
            return sx[i] < sy[i] ? -1 : 1;
    }
    return x < y ? -1 : x > y;
}

/* Migratable VMs with the same pairs share a profile. */
static int ready_profiles(struct ready *r)
{
    const struct fleet *f = r->f;
    size_t **sigs = calloc(r->vm_count + 1, sizeof *sigs);
    size_t *idx = calloc(r->vm_count + 1, sizeof *idx);
    r->profile_of = malloc((r->vm_count + 1) * sizeof *r->profile_of);
    r->profiles = calloc(r->vm_count + 1, sizeof *r->profiles);
    int rc = sigs != NULL && idx != NULL && r->profile_of != NULL && r->profiles != NULL ? 0 : -1;
    size_t n = 0;
    for (size_t i = 0; i < r->vm_count && rc == 0; i++) {
        const struct fleet_vm *vm = &f->vms[r->vms[i]];
        r->profile_of[i] = FLEET_NONE;
        if (vm->reason != NULL)
            continue;
        if ((sigs[i] = ready_signature(f, vm)) == NULL)
            rc = -1;
        idx[n++] = i;
        if (vm->need_count > r->need_max)
            r->need_max = vm->need_count;
    }
    if (rc == 0 && n > 1)
        qsort_r(idx, n, sizeof *idx, ready_sig_cmp, sigs);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const size_t *sig = sigs[idx[i]];
        const size_t *prev = i > 0 ? sigs[idx[i - 1]] : NULL;
        bool same = prev != NULL && prev[0] == sig[0] &&
                    memcmp(prev + 1, sig + 1, 2 * sig[0] * sizeof *sig) == 0;
        size_t host = f->vms[r->vms[idx[i]]].host;
        if (!same) {
            struct ready_profile *p = &r->profiles[r->profile_count++];
            p->count = sig[0];
            p->home = host;
            p->top[0] = p->top[1] = FLEET_NONE;
            p->types = calloc(p->count + 1, sizeof *p->types);
            p->versions = calloc(p->count + 1, sizeof *p->versions);
            if (p->types == NULL || p->versions == NULL) {
                rc = -1;
                break;
            }
            for (size_t k = 0; k < p->count; k++) {
                p->types[k] = sig[1 + 2 * k];
                p->versions[k] = sig[2 + 2 * k];
            }
        }
        struct ready_profile *p = &r->profiles[r->profile_count - 1];
        if (p->home != host)
            p->home = FLEET_NONE;
        r->profile_of[idx[i]] = r->profile_count - 1;
    }
    for (size_t i = 0; sigs != NULL && i < r->vm_count; i++)
        free(sigs[i]);
    free(sigs);
    free(idx);
    return rc;
}

static bool ready_has_types(const struct fleet *f, const struct ready_profile *p, size_t h)
{
    for (size_t k = 0; k < p->count; k++) {
        size_t first, end;
        fleet_host_type_groups(f, h, p->types[k], &first, &end);
        if (first == end)
            return false;
    }
    return true;
}

static int ready_group_room(const struct fleet *f, size_t g)
{
    int room = 0;
    for (size_t s = f->groups[g].first; s < f->groups[g].first + f->groups[g].count; s++)
        room += f->slots[s].capacity;
    return room;
}

/* Every (version, target) a profile's room on host h depends on. */
static int ready_ask(struct ready *r, const struct ready_profile *p, size_t h)
{
    struct fleet *f = r->f;
    for (size_t k = 0; k < p->count; k++) {
        size_t first, end;
        fleet_host_type_groups(f, h, p->types[k], &first, &end);
        for (size_t g = first; g < end; g++) {
            if (ready_group_room(f, g) > 0 &&
                fleet_ask(f, p->versions[k], fleet_effective_group(f, g)) < 0)
                return -1;
        }
    }
    return 0;
}

/* The probe that kept profile p off host h (room, but a no or silence). */
static size_t ready_refusal(const struct fleet *f, const struct ready_profile *p, size_t h)
{
    size_t down = FLEET_NONE;
    for (size_t k = 0; k < p->count; k++) {
        size_t first, end;
        fleet_host_type_groups(f, h, p->types[k], &first, &end);
        for (size_t g = first; g < end; g++) {
            size_t eg = fleet_effective_group(f, g);
            size_t at = f->key_probe[fleet_key(f, p->versions[k], eg)];
            if (at == FLEET_NONE)
                continue;
            enum mdevmig_verdict v = f->probes[at].probe.verdict;
            if (v == MDEVMIG_UNREACHABLE && down == FLEET_NONE)
                down = at;
            else if (v != MDEVMIG_COMPATIBLE && v != MDEVMIG_UNREACHABLE)
                return at;
        }
    }
    return down;
}

static bool ready_better(const struct fleet *f, const struct ready_cell *cells, size_t a, size_t b)
{
    if (b == FLEET_NONE)
        return true;
    const struct ready_cell *x = &cells[a], *y = &cells[b];
    if (f->hosts[a].stale != f->hosts[b].stale)
        return !f->hosts[a].stale;
    if (x->room != y->room)
        return x->room > y->room;
    if (x->same != y->same)
        return x->same;
    return a < b;
}

/* Judge every profile on every host, once the probes are in. */
static void ready_judge(struct ready *r)
{
    struct fleet *f = r->f;
    const struct fleet_fit live = {.compat = true, .empty = true};
    for (size_t pi = 0; pi < r->profile_count; pi++) {
        struct ready_profile *p = &r->profiles[pi];
        struct ready_cell *row = &r->cells[pi * f->host_count];
        for (size_t h = 0; h < f->host_count; h++) {
            struct ready_cell *c = &row[h];
            if (c->state != READY_REFUSED)
                continue; /* NO_TYPE, NO_CAPACITY as phase one found them */
            long room;
            bool same, unknown;
            if (fleet_fit(f, p->types, p->versions, p->count, h, &live, r->chosen, &room, &same,
                          &unknown)) {
                c->state = READY_OK;
                c->room = room;
                c->same = same;
                p->ok++;
                if (ready_better(f, row, h, p->top[0])) {
                    p->top[1] = p->top[0];
                    p->top[0] = h;
                } else if (ready_better(f, row, h, p->top[1])) {
                    p->top[1] = h;
                }
                continue;
            }
            c->probe = ready_refusal(f, p, h);
            bool silent =
                f->hosts[h].down || (c->probe != FLEET_NONE &&
                                     f->probes[c->probe].probe.verdict == MDEVMIG_UNREACHABLE);
            c->state = silent ? READY_DOWN : READY_REFUSED;
        }
    }
}

static void ready_types_text(const struct fleet *f, const struct ready_profile *p, char *out,
                             size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < p->count && used < len; k++) {
        if (k > 0 && p->types[k] == p->types[k - 1])
            continue;
        used += (size_t)snprintf(out + used, len - used, "%s%s", used > 0 ? ", " : "",
                                 f->types[p->types[k]]);
    }
}

/* Why a VM of profile p on host own has nowhere to go. */
static void ready_reason(const struct ready *r, size_t pi, size_t own, struct readiness_vm *out)
{
    const struct fleet *f = r->f;
    const struct ready_profile *p = &r->profiles[pi];
    const struct ready_cell *row = &r->cells[pi * f->host_count];
    size_t refused = 0, down = 0, full = 0, first_refused = FLEET_NONE, first_down = FLEET_NONE;
    for (size_t h = 0; h < f->host_count; h++) {
        if (h == own)
            continue;
        if (row[h].state == READY_REFUSED && refused++ == 0)
            first_refused = h;
        if (row[h].state == READY_DOWN && down++ == 0)
            first_down = h;
        full += row[h].state == READY_NO_CAPACITY;
    }
    full += fleet_full_elsewhere(f, p->types, p->count);
    char types[256];
    ready_types_text(f, p, types, sizeof types);
    if (refused > 0) {
        const struct fleet_probe *fp =
            row[first_refused].probe != FLEET_NONE ? &f->probes[row[first_refused].probe] : NULL;
        const struct mdevmig_probe *probe = fp != NULL ? &fp->probe : NULL;
        out->verdict = probe != NULL ? probe->verdict : MDEVMIG_INCOMPATIBLE;
        if (out->verdict == MDEVMIG_NO_TYPE || out->verdict == MDEVMIG_NOT_PROBED)
            out->verdict = MDEVMIG_INCOMPATIBLE;
        out->err = probe != NULL ? probe->err : 0;
        const char *name = out->err != 0 ? errname_of(out->err) : NULL;
        snprintf(out->reason, sizeof out->reason,
                 "every host with room refuses it (%zu host%s): %s refused version %s of %s%s%s%s",
                 refused, refused == 1 ? "" : "s", f->hosts[first_refused].name,
                 fp != NULL ? f->versions[fp->version].mdev.version : "?",
                 fp != NULL ? f->types[f->versions[fp->version].type] : types,
                 name != NULL || (probe != NULL && probe->error != NULL) ? " (" : "",
                 name != NULL ? name : (probe != NULL && probe->error != NULL ? probe->error : ""),
                 name != NULL || (probe != NULL && probe->error != NULL) ? ")" : "");
    } else if (down > 0) {
        const struct mdevmig_probe *probe =
            row[first_down].probe != FLEET_NONE ? &f->probes[row[first_down].probe].probe : NULL;
        out->verdict = MDEVMIG_UNREACHABLE;
        snprintf(out->reason, sizeof out->reason,
                 "the %zu host%s with room did not answer (%s: %s)", down, down == 1 ? "" : "s",
                 f->hosts[first_down].name,
                 probe != NULL && probe->error != NULL ? probe->error : "collector down");
    } else if (full > 0) {
        out->verdict = MDEVMIG_NO_CAPACITY;
        snprintf(out->reason, sizeof out->reason,
                 "no other host has room for its %zu mdev%s (%s): %zu host%s with the type%s "
                 "%s too little room",
                 p->count, p->count == 1 ? "" : "s", types, full, full == 1 ? "" : "s",
                 full == 1 ? "" : "s", full == 1 ? "has" : "have");
    } else {
        out->verdict = MDEVMIG_NO_TYPE;
        snprintf(out->reason, sizeof out->reason, "no other host offers %s", types);
    }
}

int readiness_eval(struct fleet *f, const size_t *vms, size_t count, struct readiness_vm *out,
                   size_t *candidate_hosts, size_t *triples, char *err, size_t errlen)
{
    struct ready r = {.f = f, .vms = vms, .vm_count = count};
    *candidate_hosts = 0;
    *triples = 0;
    int rc = ready_profiles(&r) < 0 ? fleet_oom(err, errlen) : 0;
    if (rc == 0) {
        r.cells = calloc(r.profile_count * f->host_count + 1, sizeof *r.cells);
        r.chosen = calloc(r.need_max + 1, sizeof *r.chosen);
        if (r.cells == NULL || r.chosen == NULL)
            rc = fleet_oom(err, errlen);
    }
    /* Phase one: room alone; what it needs asked for. */
    bool *candidate = rc == 0 ? calloc(f->host_count + 1, sizeof *candidate) : NULL;
    if (rc == 0 && candidate == NULL)
        rc = fleet_oom(err, errlen);
    const struct fleet_fit room_only = {.empty = true};
    size_t asked_before = f->asked;
    for (size_t pi = 0; pi < r.profile_count && rc == 0; pi++) {
        const struct ready_profile *p = &r.profiles[pi];
        for (size_t h = 0; h < f->host_count && rc == 0; h++) {
            struct ready_cell *c = &r.cells[pi * f->host_count + h];
            c->probe = FLEET_NONE;
            long room;
            bool same, unknown;
            if (h == p->home) {
                c->state = READY_NO_TYPE; /* never a destination of its own VMs */
            } else if (!ready_has_types(f, p, h)) {
                c->state = READY_NO_TYPE;
            } else if (!fleet_fit(f, p->types, p->versions, p->count, h, &room_only, r.chosen,
                                  &room, &same, &unknown)) {
                c->state = READY_NO_CAPACITY;
            } else {
                c->state = READY_REFUSED; /* until the probes say otherwise */
                candidate[h] = true;
                if (ready_ask(&r, p, h) < 0)
                    rc = fleet_oom(err, errlen);
            }
        }
    }
    size_t asked = f->asked - asked_before;
    if (rc == 0)
        rc = fleet_send(f, err, errlen);
    if (rc == 0) {
        *triples = asked;
        for (size_t h = 0; h < f->host_count; h++)
            *candidate_hosts += candidate[h];
        ready_judge(&r);
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        struct readiness_vm *o = &out[i];
        const struct fleet_vm *vm = &f->vms[vms[i]];
        memset(o, 0, sizeof *o);
        o->best = FLEET_NONE;
        size_t pi = r.profile_of[i];
        if (pi == FLEET_NONE) {
            o->verdict = MDEVMIG_NOT_MIGRATABLE;
            snprintf(o->reason, sizeof o->reason, "%s", vm->reason);
            continue;
        }
        const struct ready_profile *p = &r.profiles[pi];
        bool own_ok = r.cells[pi * f->host_count + vm->host].state == READY_OK;
        o->destinations = p->ok - own_ok;
        o->best = p->top[0] != vm->host ? p->top[0] : p->top[1];
        if (o->destinations == 0) {
            o->best = FLEET_NONE;
            ready_reason(&r, pi, vm->host, o);
        } else {
            o->verdict = MDEVMIG_COMPATIBLE;
        }
    }
    free(candidate);
    ready_clear(&r);
    return rc;
}
