/*
 * matrix — the cluster's compatibility at a glance, the view an operator
 * needs before rolling a driver upgrade across a fleet: hosts grouped by
 * (type, version digest), and for each ordered pair of groups of a type
 * one live probe, the first group's version written into a representative
 * of the second (confirm.c). One probe per pair, not per host: the hosts
 * of a group run the same version, and the version is what a driver
 * judges. A representative whose collector does not answer is replaced by
 * the next host of its group; only a group with none answering shows
 * unreachable.
 */
#include "internal.h"

#include "errname.h"
#include "version.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Hosts of a group tried, in turn, before a cell is left unreachable. */
#define MATRIX_ATTEMPTS 3

/* A host of a group that can stand for it in a probe. */
struct matrix_rep {
    const char *host;   /* borrowed from the registry rows */
    const char *url;    /* NULL: none advertised */
    const char *parent; /* where the group's type is on it */
    bool stale;
};

/* A group as it is being built: the public part and its representatives. */
struct matrix_group {
    struct mdevmig_matrix_group *out;
    struct mdevmig_mdev version; /* what a probe from this group writes (borrowed strings) */
    struct matrix_rep *reps;     /* best first */
    size_t rep_count;
    size_t rep; /* the one probes go to now */
    size_t first_cell;
};

struct matrix {
    struct mdevmig *m;
    mdevmig_progress_fn progress;
    void *progress_ctx;
    struct registry_version_rows rows;
    struct mdevmig_matrix *out;
    struct matrix_group *groups; /* parallel to out->groups */
    const char **down;           /* hosts found unreachable */
    size_t down_count;
    size_t waves;
};

static long matrix_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

void mdevmig_matrix_free(struct mdevmig_matrix *mx)
{
    if (mx == NULL)
        return;
    for (size_t g = 0; g < mx->group_count; g++) {
        struct mdevmig_matrix_group *group = &mx->groups[g];
        for (size_t h = 0; h < group->host_count; h++)
            free(group->hosts[h]);
        free(group->hosts);
        free(group->stale);
        free(group->type);
        free(group->version);
    }
    free(mx->groups);
    for (size_t c = 0; c < mx->cell_count; c++) {
        free(mx->cells[c].error);
        free(mx->cells[c].host);
        free(mx->cells[c].target);
    }
    free(mx->cells);
    free(mx);
}

static void matrix_clear(struct matrix *x)
{
    for (size_t g = 0; x->groups != NULL && x->out != NULL && g < x->out->group_count; g++)
        free(x->groups[g].reps);
    free(x->groups);
    free(x->down);
    registry_version_rows_free(&x->rows);
}

static void matrix_report(const struct matrix *x, size_t sent, size_t answered)
{
    if (x->progress == NULL)
        return;
    size_t done = 0;
    for (size_t c = 0; c < x->out->cell_count; c++)
        done += x->out->cells[c].verdict != MDEVMIG_NOT_PROBED;
    struct mdevmig_progress p = {
        .phase = done == x->out->cell_count ? "done" : "probing",
        .wave = x->waves,
        .probes_sent = sent,
        .probes_answered = answered,
        .items = x->out->cell_count,
        .items_done = done,
    };
    x->progress(x->progress_ctx, &p);
}

/* Rows with the same type and version (or the same lack of one). */
static bool matrix_same(const struct mdevmig_matrix_group *g, const struct registry_version_row *r)
{
    if (strcmp(g->type, r->type_id) != 0)
        return false;
    if (g->version != NULL || r->migration.version != NULL)
        return g->version != NULL && r->migration.version != NULL &&
               strcmp(g->digest, r->migration.digest) == 0;
    return g->supported == r->migration.supported && g->read_errno == r->migration.read_errno;
}

/* The version groups of a type first, in natural order of their strings
 * (535.54 before 535.104), then unreadable ones, then those without the
 * attribute. */
static int matrix_group_cmp(const void *a, const void *b)
{
    const struct matrix_group *x = a, *y = b;
    const struct mdevmig_matrix_group *gx = x->out, *gy = y->out;
    int c = strcmp(gx->type, gy->type);
    if (c != 0)
        return c;
    int rx = gx->version != NULL ? 0 : gx->supported ? 1 : 2;
    int ry = gy->version != NULL ? 0 : gy->supported ? 1 : 2;
    if (rx != ry)
        return rx - ry;
    if (gx->version != NULL) {
        c = strverscmp(gx->version, gy->version);
        return c != 0 ? c : strcmp(gx->digest, gy->digest);
    }
    return gx->read_errno < gy->read_errno ? -1 : gx->read_errno > gy->read_errno;
}

/* Fresh hosts first, then by name: not by last_seen, which every
 * heartbeat reorders, so the same cluster is probed on the same hosts. */
static int matrix_rep_cmp(const void *a, const void *b)
{
    const struct matrix_rep *x = a, *y = b;
    if (x->stale != y->stale)
        return x->stale ? 1 : -1;
    return strcmp(x->host, y->host);
}

static int matrix_groups(struct matrix *x, char *err, size_t errlen)
{
    struct mdevmig_matrix *out = x->out;
    const struct registry_version_rows *rows = &x->rows;
    out->groups = calloc(rows->count + 1, sizeof *out->groups);
    x->groups = calloc(rows->count + 1, sizeof *x->groups);
    size_t *group_of = calloc(rows->count + 1, sizeof *group_of);
    size_t *size = calloc(rows->count + 1, sizeof *size);
    int rc = out->groups != NULL && x->groups != NULL && group_of != NULL && size != NULL ? 0 : -1;
    /* First the groups and how many rows each has; then their hosts. */
    size_t type_first = 0;
    for (size_t i = 0; i < rows->count && rc == 0; i++) {
        const struct registry_version_row *r = &rows->items[i];
        if (i > 0 && strcmp(rows->items[i - 1].type_id, r->type_id) != 0)
            type_first = out->group_count;
        size_t g = type_first;
        while (g < out->group_count && !matrix_same(&out->groups[g], r))
            g++;
        struct mdevmig_matrix_group *group = &out->groups[g];
        if (g == out->group_count) {
            out->group_count++;
            x->groups[g].out = group;
            group->supported = r->migration.supported;
            group->read_errno = r->migration.read_errno;
            memcpy(group->digest, r->migration.digest, sizeof group->digest);
            group->type = strdup(r->type_id);
            group->version = r->migration.version != NULL ? strdup(r->migration.version) : NULL;
            if (group->type == NULL || (r->migration.version != NULL && group->version == NULL))
                rc = -1;
        }
        group_of[i] = g;
        size[g]++;
    }
    for (size_t g = 0; g < out->group_count && rc == 0; g++) {
        out->groups[g].hosts = calloc(size[g] + 1, sizeof *out->groups[g].hosts);
        out->groups[g].stale = calloc(size[g] + 1, sizeof *out->groups[g].stale);
        x->groups[g].reps = calloc(size[g] + 1, sizeof *x->groups[g].reps);
        if (out->groups[g].hosts == NULL || out->groups[g].stale == NULL ||
            x->groups[g].reps == NULL)
            rc = -1;
    }
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < rows->count && rc == 0; i++) {
        const struct registry_version_row *r = &rows->items[i];
        struct mdevmig_matrix_group *group = &out->groups[group_of[i]];
        struct matrix_group *work = &x->groups[group_of[i]];
        if (r->available_instances > 0)
            group->free_instances += r->available_instances;
        /* A host's rows of one group come together (sorted by host). */
        if (work->rep_count > 0 && strcmp(work->reps[work->rep_count - 1].host, r->host) == 0)
            continue;
        bool stale = r->last_seen > 0 && now - r->last_seen > x->m->stale_after_s;
        if ((group->hosts[group->host_count] = strdup(r->host)) == NULL) {
            rc = -1;
            break;
        }
        group->stale[group->host_count++] = stale;
        work->reps[work->rep_count++] = (struct matrix_rep){
            .host = r->host,
            .url = r->collector_url,
            .parent = r->parent,
            .stale = stale,
        };
    }
    free(group_of);
    free(size);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t g = 0; g < out->group_count; g++) {
        struct matrix_group *work = &x->groups[g];
        if (work->rep_count > 1)
            qsort(work->reps, work->rep_count, sizeof *work->reps, matrix_rep_cmp);
        work->version.type = work->out->type;
        work->version.version = work->out->version;
        memcpy(work->version.digest, work->out->digest, sizeof work->version.digest);
    }
    /* Sorting moves the working groups; the public ones follow them. */
    if (out->group_count > 1)
        qsort(x->groups, out->group_count, sizeof *x->groups, matrix_group_cmp);
    struct mdevmig_matrix_group *sorted = calloc(out->group_count + 1, sizeof *sorted);
    if (sorted == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t g = 0; g < out->group_count; g++) {
        sorted[g] = *x->groups[g].out;
        x->groups[g].version.type = sorted[g].type;
        x->groups[g].version.version = sorted[g].version;
    }
    free(out->groups);
    out->groups = sorted;
    for (size_t g = 0; g < out->group_count; g++)
        x->groups[g].out = &out->groups[g];
    return 0;
}

/* Every ordered pair of groups of one type, the diagonal too: whether a
 * driver takes its own version is a fact worth showing. */
static int matrix_cells(struct matrix *x, char *err, size_t errlen)
{
    struct mdevmig_matrix *out = x->out;
    size_t cells = 0;
    for (size_t a = 0; a < out->group_count;) {
        size_t b = a;
        while (b < out->group_count && strcmp(out->groups[b].type, out->groups[a].type) == 0)
            b++;
        cells += (b - a) * (b - a);
        a = b;
    }
    out->cells = calloc(cells + 1, sizeof *out->cells);
    if (out->cells == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t a = 0; a < out->group_count;) {
        size_t b = a;
        while (b < out->group_count && strcmp(out->groups[b].type, out->groups[a].type) == 0)
            b++;
        for (size_t from = a; from < b; from++) {
            for (size_t to = a; to < b; to++) {
                struct mdevmig_matrix_cell *cell = &out->cells[out->cell_count++];
                cell->from = from;
                cell->to = to;
                cell->verdict = MDEVMIG_NOT_PROBED;
                if (out->groups[from].version == NULL) {
                    cell->verdict = MDEVMIG_NOT_MIGRATABLE;
                    const char *why = out->groups[from].supported
                                          ? "its hosts cannot read their migration_version"
                                          : "its hosts have no migration_version attribute";
                    if ((cell->error = strdup(why)) == NULL) {
                        snprintf(err, errlen, "out of memory");
                        return -1;
                    }
                }
            }
        }
        a = b;
    }
    return 0;
}

static bool matrix_is_down(const struct matrix *x, const char *host)
{
    for (size_t i = 0; i < x->down_count; i++) {
        if (strcmp(x->down[i], host) == 0)
            return true;
    }
    return false;
}

/* The group's next representative not known to be down, or false. */
static bool matrix_next_rep(const struct matrix *x, struct matrix_group *g)
{
    while (g->rep < g->rep_count && matrix_is_down(x, g->reps[g->rep].host))
        g->rep++;
    return g->rep < g->rep_count;
}

/* One wave: every open cell, to its group's representative now. */
static int matrix_wave(struct matrix *x, size_t *pending, char *err, size_t errlen)
{
    struct mdevmig_matrix *out = x->out;
    struct confirm_job *jobs = calloc(out->cell_count + 1, sizeof *jobs);
    size_t *cell_of = calloc(out->cell_count + 1, sizeof *cell_of);
    if (jobs == NULL || cell_of == NULL) {
        free(jobs);
        free(cell_of);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t c = 0; c < out->cell_count; c++) {
        struct mdevmig_matrix_cell *cell = &out->cells[c];
        if (cell->verdict != MDEVMIG_NOT_PROBED)
            continue;
        struct matrix_group *to = &x->groups[cell->to];
        if (!matrix_next_rep(x, to)) {
            /* Every host of the group was tried: the last answer stands. */
            cell->verdict = MDEVMIG_UNREACHABLE;
            if (cell->error == NULL &&
                (cell->error = strdup("no host of the group has a collector that answers")) ==
                    NULL) {
                free(jobs);
                free(cell_of);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            continue;
        }
        const struct matrix_rep *rep = &to->reps[to->rep];
        cell_of[n] = c;
        jobs[n++] = (struct confirm_job){
            .host = rep->host,
            .url = rep->url,
            .mdev = &x->groups[cell->from].version,
            .parent = rep->parent,
            .target_digest = to->out->digest,
        };
    }
    x->waves++;
    matrix_report(x, out->probes_sent + n, out->probes_sent);
    long sent = confirm_run(x->m, jobs, n, err, errlen);
    if (sent < 0) {
        free(jobs);
        free(cell_of);
        return -1;
    }
    out->probes_sent += (size_t)sent;
    /* Hosts that did not answer are down for every later cell too. */
    const char **down = realloc(x->down, (x->down_count + n + 1) * sizeof *down);
    if (down != NULL)
        x->down = down;
    *pending = 0;
    for (size_t j = 0; j < n; j++) {
        struct mdevmig_matrix_cell *cell = &out->cells[cell_of[j]];
        struct mdevmig_probe *probe = &jobs[j].probe;
        free(cell->error);
        free(cell->host);
        free(cell->target);
        cell->attempts++;
        cell->err = probe->err;
        cell->error = probe->error;
        cell->target = probe->target;
        cell->elapsed_us = probe->elapsed_us;
        probe->error = probe->target = NULL;
        cell->host = strdup(jobs[j].host);
        cell->verdict = probe->verdict;
        if (probe->verdict == MDEVMIG_UNREACHABLE) {
            if (down != NULL && !matrix_is_down(x, jobs[j].host))
                x->down[x->down_count++] = jobs[j].host;
            if (cell->attempts < MATRIX_ATTEMPTS) {
                cell->verdict = MDEVMIG_NOT_PROBED;
                ++*pending;
            }
        }
        confirm_probe_clear(probe);
    }
    int rc = 0;
    for (size_t j = 0; j < n; j++)
        rc = out->cells[cell_of[j]].host == NULL ? -1 : rc;
    free(jobs);
    free(cell_of);
    if (down == NULL || rc < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    matrix_report(x, out->probes_sent, out->probes_sent);
    return 0;
}

static int matrix_run(struct mdevmig *m, const char *type, mdevmig_progress_fn progress,
                      void *progress_ctx, struct mdevmig_matrix **result, char *err, size_t errlen)
{
    *result = NULL;
    long start = matrix_now_us();
    if (type != NULL && !version_type_id_valid(type)) {
        snprintf(err, errlen, "type \"%.80s\" is not an mdev type id like nvidia-222", type);
        return MDEVMIG_ERR_INPUT;
    }
    struct matrix x = {.m = m, .progress = progress, .progress_ctx = progress_ctx};
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_versions(m->registry, type, &x.rows, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (rc < 0)
        return MDEVMIG_ERR_INTERNAL;
    if (type != NULL && x.rows.count == 0) {
        snprintf(err, errlen, "no host in the registry offers type %s", type);
        matrix_clear(&x);
        return MDEVMIG_ERR_NOT_FOUND;
    }
    x.out = calloc(1, sizeof *x.out);
    if (x.out == NULL) {
        snprintf(err, errlen, "out of memory");
        matrix_clear(&x);
        return MDEVMIG_ERR_INTERNAL;
    }
    rc = matrix_groups(&x, err, errlen);
    if (rc == 0)
        rc = matrix_cells(&x, err, errlen);
    size_t pending = 0;
    for (size_t c = 0; rc == 0 && c < x.out->cell_count; c++)
        pending += x.out->cells[c].verdict == MDEVMIG_NOT_PROBED;
    while (rc == 0 && pending > 0)
        rc = matrix_wave(&x, &pending, err, errlen);
    matrix_clear(&x);
    if (rc < 0) {
        mdevmig_matrix_free(x.out);
        return MDEVMIG_ERR_INTERNAL;
    }
    x.out->elapsed_us = matrix_now_us() - start;
    *result = x.out;
    return MDEVMIG_OK;
}

static json_t *matrix_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *matrix_group_json(const struct mdevmig_matrix_group *g, size_t id)
{
    json_t *hosts = json_array(), *stale = json_array();
    for (size_t h = 0; h < g->host_count && hosts != NULL && stale != NULL; h++) {
        json_array_append_new(hosts, json_string(g->hosts[h]));
        if (g->stale[h])
            json_array_append_new(stale, json_string(g->hosts[h]));
    }
    return json_pack("{s:I, s:o, s:o, s:b, s:o, s:I, s:o, s:o, s:I}", "group", (json_int_t)id,
                     "version", matrix_str(g->version), "digest",
                     matrix_str(g->version != NULL ? g->digest : NULL), "supported", g->supported,
                     "errno", g->read_errno ? json_integer(g->read_errno) : json_null(),
                     "host_count", (json_int_t)g->host_count, "hosts", hosts, "stale_hosts", stale,
                     "free_instances", (json_int_t)g->free_instances);
}

static json_t *matrix_cell_json(const struct mdevmig_matrix_cell *c, size_t base)
{
    return json_pack("{s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "from",
                     (json_int_t)(c->from - base), "to", (json_int_t)(c->to - base), "verdict",
                     mdevmig_verdict_name(c->verdict), "errno",
                     c->err ? json_integer(c->err) : json_null(), "errno_name",
                     matrix_str(c->err ? errname_of(c->err) : NULL), "error", matrix_str(c->error),
                     "host", matrix_str(c->host), "target", matrix_str(c->target), "attempts",
                     (json_int_t)c->attempts, "elapsed_us", (json_int_t)c->elapsed_us);
}

char *mdevmig_matrix_json(const struct mdevmig_matrix *mx)
{
    json_t *types = json_array();
    bool ok = types != NULL;
    size_t cell = 0;
    for (size_t a = 0; a < mx->group_count && ok;) {
        size_t b = a, hosts = 0;
        while (b < mx->group_count && strcmp(mx->groups[b].type, mx->groups[a].type) == 0)
            hosts += mx->groups[b++].host_count;
        json_t *groups = json_array(), *cells = json_array();
        ok = groups != NULL && cells != NULL;
        for (size_t g = a; g < b && ok; g++)
            ok = json_array_append_new(groups, matrix_group_json(&mx->groups[g], g - a)) == 0;
        while (ok && cell < mx->cell_count && mx->cells[cell].from < b)
            ok = json_array_append_new(cells, matrix_cell_json(&mx->cells[cell++], a)) == 0;
        /* A host in two groups of a type (two boards, two versions) counts twice. */
        json_t *entry =
            ok ? json_pack("{s:s, s:I, s:O, s:O}", "type", mx->groups[a].type, "host_count",
                           (json_int_t)hosts, "groups", groups, "cells", cells)
               : NULL;
        json_decref(groups);
        json_decref(cells);
        ok = entry != NULL && json_array_append_new(types, entry) == 0;
        a = b;
    }
    json_t *root =
        ok ? json_pack("{s:O, s:I, s:I, s:I, s:I}", "types", types, "group_count",
                       (json_int_t)mx->group_count, "cell_count", (json_int_t)mx->cell_count,
                       "probes_sent", (json_int_t)mx->probes_sent, "elapsed_us",
                       (json_int_t)mx->elapsed_us)
           : NULL;
    json_decref(types);
    char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}

int mdevmig_matrix(struct mdevmig *m, const char *type, mdevmig_progress_fn progress,
                   void *progress_ctx, struct mdevmig_matrix **result, char *err, size_t errlen)
{
    int rc = matrix_run(m, type, progress, progress_ctx, result, err, errlen);
    store_outcome(m, rc, err);
    return rc;
}
