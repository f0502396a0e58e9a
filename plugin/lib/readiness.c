/*
 * readiness — "if a host failed now, could every VM on it go somewhere?"
 * For every VM with mdevs (or those on the hosts asked about), the other
 * hosts that could take all its mdevs now: room from the registry, and a
 * live probe of its version into each, shared per (version, host, type
 * target) (readiness_eval.c). The answer is its JSON document
 * (docs/READINESS.md); rollout.c asks the same question for its what-if.
 */
#include "readiness.h"

#include "errname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long readiness_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static json_t *readiness_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

const char *readiness_class(size_t destinations)
{
    return destinations == 0 ? "stranded" : destinations == 1 ? "single" : "ready";
}

/* The fleet's probes as the answer lists them. */
json_t *readiness_probes_json(const struct fleet *f)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < f->probe_count; i++) {
        const struct fleet_probe *p = &f->probes[i];
        const struct fleet_group *g = &f->groups[p->group];
        const struct mdevmig_probe *probe = &p->probe;
        json_t *item = json_pack(
            "{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:I}", "host",
            f->hosts[g->host].name, "type", f->types[g->type], "source_digest",
            f->versions[p->version].mdev.digest, "source_version",
            f->versions[p->version].mdev.version, "level", readiness_str(probe->level), "target",
            readiness_str(probe->target), "verdict", mdevmig_verdict_name(probe->verdict), "errno",
            probe->err != 0 ? json_integer(probe->err) : json_null(), "errno_name",
            readiness_str(probe->err != 0 ? errname_of(probe->err) : NULL), "error",
            readiness_str(probe->error), "elapsed_us", (json_int_t)probe->elapsed_us);
        if (item == NULL || json_array_append_new(list, item) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* The distinct types of a VM, in its mdevs' order. */
static json_t *readiness_types_json(const struct fleet *f, const struct fleet_vm *vm)
{
    json_t *list = json_array();
    for (size_t k = 0; list != NULL && k < vm->need_count; k++) {
        size_t t = vm->needs[k].type;
        bool seen = t == FLEET_NONE;
        for (size_t j = 0; j < k && !seen; j++)
            seen = vm->needs[j].type == t;
        if (!seen && json_array_append_new(list, json_string(f->types[t])) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static json_t *readiness_vm_json(const struct fleet *f, const struct fleet_vm *vm,
                                 const struct readiness_vm *r)
{
    const char *name = r->err != 0 ? errname_of(r->err) : NULL;
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:I, s:o, s:I, s:s, s:o, s:s, s:o, s:o, s:o}", "instance",
        vm->inst->uuid, "name", vm->inst->name != NULL ? vm->inst->name : "", "state",
        vm->inst->state != NULL ? vm->inst->state : "", "host", f->hosts[vm->host].name,
        "source_stale", f->hosts[vm->host].stale, "mdevs", (json_int_t)vm->need_count, "types",
        readiness_types_json(f, vm), "destinations", (json_int_t)r->destinations, "readiness",
        readiness_class(r->destinations), "best",
        readiness_str(r->best != FLEET_NONE ? f->hosts[r->best].name : NULL), "verdict",
        mdevmig_verdict_name(r->verdict), "errno", r->err != 0 ? json_integer(r->err) : json_null(),
        "errno_name", readiness_str(name), "reason",
        readiness_str(r->destinations == 0 ? r->reason : NULL));
}

/* The hosts given: valid names, none twice. */
static int readiness_check_hosts(const struct mdevmig_readiness_request *req, char *err,
                                 size_t errlen)
{
    for (size_t i = 0; i < req->host_count; i++) {
        char why[200];
        if (!mdevmig_host_name_valid(req->hosts[i], why, sizeof why)) {
            snprintf(err, errlen, "hosts[%zu]: %s", i, why);
            return MDEVMIG_ERR_INPUT;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(req->hosts[j], req->hosts[i]) == 0) {
                snprintf(err, errlen, "hosts[%zu]: %s is listed twice", i, req->hosts[i]);
                return MDEVMIG_ERR_INPUT;
            }
        }
    }
    return 0;
}

/* The VMs asked about: those on the hosts given, or all. */
static int readiness_select(const struct fleet *f, const struct mdevmig_readiness_request *req,
                            size_t **out, size_t *count, char *err, size_t errlen)
{
    bool *wanted = calloc(f->host_count + 1, sizeof *wanted);
    *out = calloc(f->vm_count + 1, sizeof **out);
    if (wanted == NULL || *out == NULL) {
        free(wanted);
        return fleet_oom(err, errlen);
    }
    for (size_t i = 0; i < req->host_count; i++) {
        /* fleet_load read every host named, or failed. */
        size_t h = fleet_host_index(f, req->hosts[i]);
        if (h == FLEET_NONE) {
            snprintf(err, errlen, "host %s is not in the registry", req->hosts[i]);
            free(wanted);
            return MDEVMIG_ERR_NOT_FOUND;
        }
        wanted[h] = true;
    }
    *count = 0;
    for (size_t i = 0; i < f->vm_count; i++) {
        if (req->host_count == 0 || wanted[f->vms[i].host])
            (*out)[(*count)++] = i;
    }
    free(wanted);
    return 0;
}

static int readiness_answer(const struct fleet *f, const struct mdevmig_readiness_request *req,
                            const size_t *vms, size_t count, const struct readiness_vm *res,
                            struct mdevmig_readiness *r)
{
    struct mdevmig_readiness_info *info = &r->info;
    json_t *list = json_array(), *down = json_array();
    bool *source = calloc(f->host_count + 1, sizeof *source);
    int rc = list != NULL && down != NULL && source != NULL ? 0 : -1;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const struct fleet_vm *vm = &f->vms[vms[i]];
        size_t d = res[i].destinations;
        info->stranded += d == 0;
        info->single += d == 1;
        info->ready += d >= 2;
        source[vm->host] = true;
        if (req->stranded_only && d > 0)
            continue;
        json_t *item = readiness_vm_json(f, vm, &res[i]);
        if (item == NULL || json_array_append_new(list, item) < 0)
            rc = -1;
    }
    for (size_t h = 0; h < f->host_count && rc == 0; h++) {
        info->source_hosts += source[h];
        if (f->hosts[h].down) {
            info->unreachable_hosts++;
            if (json_array_append_new(down, json_string(f->hosts[h].name)) < 0)
                rc = -1;
        }
    }
    free(source);
    json_t *probes = rc == 0 ? readiness_probes_json(f) : NULL;
    if (rc == 0 && probes != NULL) {
        r->doc = json_pack(
            "{s:I, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:o, s:o}",
            "vm_count", (json_int_t)info->vm_count, "vms_without_mdevs",
            (json_int_t)info->vms_without_mdevs, "counts", "stranded", (json_int_t)info->stranded,
            "single", (json_int_t)info->single, "ready", (json_int_t)info->ready, "source_hosts",
            (json_int_t)info->source_hosts, "candidate_hosts", (json_int_t)info->candidate_hosts,
            "unreachable_hosts", down, "triples", (json_int_t)info->triples, "probes_sent",
            (json_int_t)info->probes_sent, "waves", (json_int_t)info->waves, "elapsed_us",
            (json_int_t)0, "vms", list, "probes", probes);
        return r->doc != NULL ? 0 : -1;
    }
    json_decref(list);
    json_decref(down);
    json_decref(probes);
    return -1;
}

static int readiness_run(struct mdevmig *m, const struct mdevmig_readiness_request *req,
                         struct mdevmig_readiness **out, char *err, size_t errlen)
{
    long start = readiness_now_us();
    if (req->host_count > 0 && req->hosts == NULL) {
        snprintf(err, errlen, "hosts: %zu named, none given", req->host_count);
        return MDEVMIG_ERR_INPUT;
    }
    if (req->progress != NULL) {
        struct mdevmig_progress p = {.phase = "source"};
        req->progress(req->progress_ctx, &p);
    }
    struct fleet f;
    int rc = readiness_check_hosts(req, err, errlen);
    if (rc == 0)
        rc = fleet_load(&f, m, req->hosts, req->host_count, err, errlen);
    else
        memset(&f, 0, sizeof f);
    f.max_parallel = req->max_parallel;
    f.progress = req->progress;
    f.progress_ctx = req->progress_ctx;
    size_t *vms = NULL, count = 0;
    if (rc == 0)
        rc = readiness_select(&f, req, &vms, &count, err, errlen);
    struct readiness_vm *res = rc == 0 ? calloc(count + 1, sizeof *res) : NULL;
    if (rc == 0 && res == NULL)
        rc = fleet_oom(err, errlen);
    struct mdevmig_readiness *r = rc == 0 ? calloc(1, sizeof *r) : NULL;
    if (rc == 0 && r == NULL)
        rc = fleet_oom(err, errlen);
    if (rc == 0) {
        f.progress_items = count;
        rc = readiness_eval(&f, vms, count, res, &r->info.candidate_hosts, &r->info.triples, err,
                            errlen);
    }
    if (rc == 0) {
        r->info.size = sizeof r->info;
        r->info.vm_count = count;
        r->info.vms_without_mdevs = f.without_mdevs;
        r->info.probes_sent = f.probes_sent;
        r->info.waves = f.waves;
        if (readiness_answer(&f, req, vms, count, res, r) < 0)
            rc = fleet_oom(err, errlen);
    }
    if (rc == 0) {
        r->info.elapsed_us = readiness_now_us() - start;
        json_object_set_new(r->doc, "elapsed_us", json_integer(r->info.elapsed_us));
        if (req->progress != NULL) {
            struct mdevmig_progress p = {
                .phase = "done",
                .wave = f.waves,
                .probes_sent = f.probes_sent,
                .probes_answered = f.probes_sent,
                .items = count,
                .items_done = count,
            };
            req->progress(req->progress_ctx, &p);
        }
        *out = r;
    } else {
        mdevmig_readiness_free(r);
    }
    free(res);
    free(vms);
    fleet_clear(&f);
    return rc;
}

int mdevmig_readiness(struct mdevmig *m, const struct mdevmig_readiness_request *given,
                      struct mdevmig_readiness **out, char *err, size_t errlen)
{
    *out = NULL;
    if (given == NULL || given->size < sizeof(size_t)) {
        snprintf(err, errlen, "the request's size is not set (use MDEVMIG_READINESS_INIT)");
        return MDEVMIG_ERR_INPUT;
    }
    /* The caller's fields up to its size, the rest zero. */
    struct mdevmig_readiness_request req = {0};
    memcpy(&req, given, given->size < sizeof req ? given->size : sizeof req);
    int rc = readiness_run(m, &req, out, err, errlen);
    store_outcome(m, rc, err);
    return rc;
}

char *mdevmig_readiness_json(const struct mdevmig_readiness *r)
{
    return r != NULL ? json_dumps(r->doc, JSON_COMPACT) : NULL;
}

void mdevmig_readiness_free(struct mdevmig_readiness *r)
{
    if (r == NULL)
        return;
    json_decref(r->doc);
    free(r);
}
