/*
 * cmd_matrix — `mdevmig matrix [--type T]`: before a driver upgrade rolls
 * across the fleet, which version can live-migrate to which. `versions`
 * shows the groups; this asks the drivers: libmdevmig (in-process or via
 * mdevmig-sched's POST /v1/matrix) writes each group's version into one
 * live representative of every group of the same type. Printed as one
 * grid per type, FROM rows and TO columns, with the host counts beside;
 * or drawn (--format dot|svg, graph.h) as a graph of the groups.
 */
#include "args.h"
#include "backend.h"
#include "fmt.h"
#include "graph.h"
#include "progress.h"
#include "table.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char cmd_matrix_help[] =
    "usage: mdevmig matrix [--type TYPE] [--format dot|svg] [GLOBAL OPTIONS]\n"
    "\n"
    "Hosts grouped by mdev type and migration version (as `mdevmig versions`\n"
    "shows them); then for each ordered pair of groups of a type, the first\n"
    "group's version written by a live probe into one representative host of\n"
    "the second: the first by name among those heard from lately, the next one\n"
    "when its collector does not answer (up to 3). The answer says whether VMs\n"
    "on the first group's hosts can live-migrate to the second's, and the errno\n"
    "when a driver refuses. One probe per pair, not per host: the version is\n"
    "what a driver judges. The diagonal (a group to itself) is probed too. A\n"
    "group without a readable version cannot migrate out (n/a).\n"
    "\n"
    "Options:\n"
    "  --type TYPE      only this mdev type, e.g. nvidia-222 (exit 3 when no host\n"
    "                   offers it)\n"
    "  --format FORMAT  dot or svg: the matrix as a picture, below (not with --json)\n"
    "\n"
    "On a terminal, per type: the groups (an id, the version, its digest's first\n"
    "12 hex digits, how many hosts and which) and a grid, FROM rows by TO\n"
    "columns: yes, the refusing errno (EINVAL), unsupported, unreachable, no-type\n"
    "or n/a (not migratable).\n"
    "\n"
    "Exit 0 when the matrix was made (whatever the drivers said), 3 for an\n"
    "unknown type, 4 when --format svg finds no Graphviz dot or it fails.\n"
    "\n"
    "Tab-separated records (without a terminal):\n"
    "  group    TYPE ID VERSION DIGEST12 HOST_COUNT HOSTS STALE_HOSTS\n"
    "  cell     TYPE FROM TO VERDICT ERRNO HOST_PROBED ATTEMPTS FROM_VERSION\n"
    "           TO_VERSION ERROR\n"
    "  summary  GROUPS CELLS PROBES_SENT ELAPSED_US\n"
    "  (HOSTS comma-separated; ids count from 0 within a type, versions in\n"
    "  natural order: 535.54 before 535.104)\n"
    "\n"
    "--json: the answer of POST /v1/matrix: {\"types\": [{\"type\", \"host_count\",\n"
    "  \"groups\": [{\"group\", \"version\", \"digest\", \"supported\", \"errno\",\n"
    "  \"host_count\", \"hosts\", \"stale_hosts\", \"free_instances\"}], \"cells\":\n"
    "  [{\"from\", \"to\", \"verdict\", \"errno\", \"errno_name\", \"error\", \"host\",\n"
    "  \"target\", \"attempts\", \"elapsed_us\"}]}], \"group_count\", \"cell_count\",\n"
    "  \"probes_sent\", \"elapsed_us\"}.\n"
    "\n"
    "--format dot: the matrix as a Graphviz digraph (DOT text); --format svg: the\n"
    "same laid out by Graphviz's dot program (dot -Tsvg; Debian's graphviz\n"
    "package), the SVG on stdout. A node per version group, named TYPE/ID:\n"
    "the type, the version, the host count (the host names as its tooltip); a\n"
    "group without a readable version is a dashed gray box marked not\n"
    "migratable. A box (cluster) per type when there are several. An edge per\n"
    "probed cell FROM -> TO, the diagonal as a loop: solid where VMs migrate;\n"
    "dashed, red and labelled with the errno (EINVAL) where the driver refuses\n"
    "(\"unsupported\" when the target has no attribute); dotted, gray and\n"
    "labelled with the verdict (unreachable, no-type) where no driver answered.\n"
    "Cells out of a group without a version (n/a) are left out: its node says\n"
    "it. Only solid edges rank the nodes, so upgrades read left to right.\n"
    "Versions are shown escaped as in the table (\\t, \\x1b, \\\\ for a\n"
    "backslash).\n";

struct cmd_matrix_opts {
    const char *type;
    enum graph_format picture; /* GRAPH_NONE: the table, records or --json */
    const char *format;        /* as given, for a message */
};

enum cmd_matrix_option {
    CMD_MATRIX_TYPE,
    CMD_MATRIX_FORMAT,
};

static const struct args_option cmd_matrix_options[] = {
    {"type", "TYPE", CMD_MATRIX_TYPE},
    {"format", "FORMAT", CMD_MATRIX_FORMAT},
};

static int cmd_matrix_take(void *ctx, int id, const char *value, char *err, size_t errlen)
{
    struct cmd_matrix_opts *o = ctx;
    if (id == CMD_MATRIX_FORMAT)
        return graph_format_take(&o->picture, &o->format, value, err, errlen);
    if (o->type != NULL) {
        snprintf(err, errlen, "--type given twice; leave it out for every type");
        return -1;
    }
    if (!version_type_id_valid(value)) {
        snprintf(err, errlen,
                 "--type \"%.80s\" is not an mdev type id (<driver>-<name>, e.g. nvidia-222)",
                 value);
        return -1;
    }
    o->type = value;
    return 0;
}

struct cmd_matrix_show {
    const struct cli *cli;
    bool shown;
};

static void cmd_matrix_step(void *ctx, const struct mdevmig_progress *p)
{
    struct cmd_matrix_show *show = ctx;
    show->shown |= progress_bar(show->cli, p->items_done, p->items,
                                "cells answered (wave %zu, %zu probes)", p->wave, p->probes_sent);
}

static void cmd_matrix_waiting(void *ctx, double seconds)
{
    struct cmd_matrix_show *show = ctx;
    show->shown |=
        progress_bar(show->cli, 0, 0, "mdevmig-sched is probing the groups… %.0f s", seconds);
}

/* The group's version as a cell or label shows it. */
static const char *cmd_matrix_version(const json_t *group, char *buf, size_t len)
{
    const char *version = fmt_str(group, "version");
    if (version != NULL)
        return version;
    if (json_is_true(json_object_get(group, "supported"))) {
        char errname[32];
        fmt_errno(errname, sizeof errname, fmt_int(group, "errno", 0));
        snprintf(buf, len, "(unreadable: %s)", errname[0] ? errname : "no version");
    } else {
        snprintf(buf, len, "(no migration_version)");
    }
    return buf;
}

/* What a grid cell says. */
static const char *cmd_matrix_cell(const json_t *cell, char *buf, size_t len)
{
    const char *verdict = fmt_str(cell, "verdict");
    if (verdict == NULL)
        return "?";
    if (strcmp(verdict, "compatible") == 0)
        return "yes";
    if (strcmp(verdict, "not-migratable") == 0)
        return "n/a";
    if (strcmp(verdict, "incompatible") == 0) {
        char errname[32];
        fmt_errno(errname, sizeof errname, fmt_int(cell, "errno", 0));
        snprintf(buf, len, "no: %s", errname[0] ? errname : "refused");
        return buf;
    }
    return verdict;
}

static int cmd_matrix_tsv(const struct cli *cli, const json_t *answer)
{
    static const char *const group_headers[] = {"TYPE",       "ID",    "VERSION",    "DIGEST",
                                                "HOST_COUNT", "HOSTS", "STALE_HOSTS"};
    static const char *const cell_headers[] = {"TYPE",       "FROM", "TO",       "VERDICT",
                                               "ERRNO",      "HOST", "ATTEMPTS", "FROM_VERSION",
                                               "TO_VERSION", "ERROR"};
    struct table *gt = table_new("group", 7, group_headers);
    struct table *ct = table_new("cell", 10, cell_headers);
    int rc = 0;
    size_t t, i;
    const json_t *type, *group, *cell;
    json_array_foreach(json_object_get(answer, "types"), t, type)
    {
        const char *name = fmt_str(type, "type");
        const json_t *groups = json_object_get(type, "groups");
        json_array_foreach(groups, i, group)
        {
            char id[24], count[24], digest[16], vbuf[64];
            snprintf(id, sizeof id, "%lld", fmt_int(group, "group", 0));
            snprintf(count, sizeof count, "%lld", fmt_int(group, "host_count", 0));
            fmt_digest12(digest, sizeof digest, fmt_str(group, "digest"));
            char *hosts = fmt_join(json_object_get(group, "hosts"), ",");
            char *stale = fmt_join(json_object_get(group, "stale_hosts"), ",");
            if (hosts != NULL && stale != NULL)
                table_add(gt,
                          (const char *[]){name, id, cmd_matrix_version(group, vbuf, sizeof vbuf),
                                           digest, count, hosts, stale});
            else
                rc = -1;
            free(hosts);
            free(stale);
        }
        json_array_foreach(json_object_get(type, "cells"), i, cell)
        {
            char from[24], to[24], errname[32], attempts[24], fbuf[64], tbuf[64];
            long long f = fmt_int(cell, "from", 0), d = fmt_int(cell, "to", 0);
            snprintf(from, sizeof from, "%lld", f);
            snprintf(to, sizeof to, "%lld", d);
            snprintf(attempts, sizeof attempts, "%lld", fmt_int(cell, "attempts", 0));
            fmt_errno(errname, sizeof errname, fmt_int(cell, "errno", 0));
            table_add(ct,
                      (const char *[]){
                          name, from, to, fmt_str(cell, "verdict"), errname, fmt_str(cell, "host"),
                          attempts,
                          cmd_matrix_version(json_array_get(groups, (size_t)f), fbuf, sizeof fbuf),
                          cmd_matrix_version(json_array_get(groups, (size_t)d), tbuf, sizeof tbuf),
                          fmt_str(cell, "error")});
        }
    }
    static const char *const sum_headers[] = {"GROUPS", "CELLS", "PROBES_SENT", "ELAPSED_US"};
    struct table *st = table_new("summary", 4, sum_headers);
    char a[24], b[24], c[24], d[24];
    snprintf(a, sizeof a, "%lld", fmt_int(answer, "group_count", 0));
    snprintf(b, sizeof b, "%lld", fmt_int(answer, "cell_count", 0));
    snprintf(c, sizeof c, "%lld", fmt_int(answer, "probes_sent", 0));
    snprintf(d, sizeof d, "%lld", fmt_int(answer, "elapsed_us", 0));
    table_add(st, (const char *[]){a, b, c, d});
    if (rc == 0)
        rc = table_print(gt, stdout, cli->format, 0);
    if (rc == 0)
        rc = table_print(ct, stdout, cli->format, 0);
    if (rc == 0)
        rc = table_print(st, stdout, cli->format, 0);
    table_free(gt);
    table_free(ct);
    table_free(st);
    return rc;
}

/* Column headers of a grid: group ids as text, alive as long as the table. */
#define CMD_MATRIX_MAX_GRID 64

static int cmd_matrix_grid(const struct cli *cli, const json_t *type)
{
    const json_t *groups = json_object_get(type, "groups");
    size_t n = json_array_size(groups), i;
    const json_t *group, *cell;
    printf("%s: %zu version group%s on %lld host%s\n", fmt_str(type, "type"), n, n == 1 ? "" : "s",
           fmt_int(type, "host_count", 0), fmt_int(type, "host_count", 0) == 1 ? "" : "s");
    static const char *const legend_headers[] = {"ID", "VERSION", "DIGEST", "HOSTS", "NAMES"};
    struct table *lt = table_new("group", 5, legend_headers);
    int rc = 0;
    json_array_foreach(groups, i, group)
    {
        char id[24], count[24], digest[16], vbuf[64];
        snprintf(id, sizeof id, "%lld", fmt_int(group, "group", 0));
        snprintf(count, sizeof count, "%lld", fmt_int(group, "host_count", 0));
        fmt_digest12(digest, sizeof digest, fmt_str(group, "digest"));
        char *names = fmt_join(json_object_get(group, "hosts"), ", ");
        if (names == NULL) {
            rc = -1;
            break;
        }
        table_add(lt, (const char *[]){id, cmd_matrix_version(group, vbuf, sizeof vbuf), digest,
                                       count, names});
        free(names);
    }
    if (rc == 0)
        rc = table_print(lt, stdout, cli->format, 2);
    table_free(lt);
    if (rc < 0)
        return rc;
    if (n > CMD_MATRIX_MAX_GRID) {
        printf("  (%zu groups: too many for a grid; see --json or a pipe)\n\n", n);
        return 0;
    }
    /* The grid: row = FROM group, column = TO group. */
    char ids[CMD_MATRIX_MAX_GRID + 1][24];
    const char *headers[CMD_MATRIX_MAX_GRID + 1];
    snprintf(ids[0], sizeof ids[0], "FROM\\TO");
    headers[0] = ids[0];
    for (size_t g = 0; g < n; g++) {
        snprintf(ids[g + 1], sizeof ids[g + 1], "%zu", g);
        headers[g + 1] = ids[g + 1];
    }
    struct table *grid = table_new("cell", n + 1, headers);
    char cells[CMD_MATRIX_MAX_GRID + 1][48];
    const char *row[CMD_MATRIX_MAX_GRID + 1];
    const json_t *list = json_object_get(type, "cells");
    for (size_t from = 0; from < n; from++) {
        snprintf(cells[0], sizeof cells[0], "%zu", from);
        row[0] = cells[0];
        for (size_t to = 0; to < n; to++)
            row[to + 1] = "?";
        json_array_foreach(list, i, cell)
        {
            long long f = fmt_int(cell, "from", -1), t = fmt_int(cell, "to", -1);
            if (f != (long long)from || t < 0 || (size_t)t >= n)
                continue;
            row[t + 1] = cmd_matrix_cell(cell, cells[t + 1], sizeof cells[t + 1]);
        }
        table_add(grid, row);
    }
    fputc('\n', stdout);
    rc = table_print(grid, stdout, cli->format, 2);
    table_free(grid);
    fputc('\n', stdout);
    return rc;
}

static int cmd_matrix_print(const struct cli *cli, const json_t *answer)
{
    if (cli->format == CLI_FORMAT_TSV)
        return cmd_matrix_tsv(cli, answer);
    const json_t *types = json_object_get(answer, "types");
    if (json_array_size(types) == 0)
        printf("no mdev types in the registry\n");
    size_t t;
    const json_t *type;
    json_array_foreach(types, t, type)
    {
        if (cmd_matrix_grid(cli, type) < 0)
            return -1;
    }
    char took[32];
    fmt_us(took, sizeof took, fmt_int(answer, "elapsed_us", 0));
    printf("%lld probe%s for %lld cell%s (FROM row, TO column: can VMs at FROM's version move to "
           "TO's hosts); %s\n",
           fmt_int(answer, "probes_sent", 0), fmt_int(answer, "probes_sent", 0) == 1 ? "" : "s",
           fmt_int(answer, "cell_count", 0), fmt_int(answer, "cell_count", 0) == 1 ? "" : "s",
           took);
    return ferror(stdout) ? -1 : 0;
}

static int cmd_matrix_run(struct cli *cli, int argc, char **argv)
{
    struct cmd_matrix_opts opts = {0};
    char err[1024];
    int rc = args_parse(cli, argc, argv, cmd_matrix_options,
                        sizeof cmd_matrix_options / sizeof cmd_matrix_options[0], cmd_matrix_take,
                        &opts, false, NULL, err, sizeof err);
    if (rc == 1) {
        cli_help_command(stdout, &cmd_matrix);
        return CLI_EXIT_OK;
    }
    if (rc < 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "%s (see mdevmig matrix --help)", err);
        return cli_fail(cli, CLI_EXIT_USAGE, msg);
    }
    if (opts.picture != GRAPH_NONE && cli->format == CLI_FORMAT_JSON)
        return cli_fail(cli, CLI_EXIT_USAGE,
                        "--format and --json are two outputs: give one (see mdevmig matrix "
                        "--help)");
    /* Before the probes: a missing Graphviz should not cost the wait. */
    if (opts.picture == GRAPH_SVG && graph_svg_ready(err, sizeof err) < 0)
        return cli_fail(cli, CLI_EXIT_BACKEND, err);
    struct backend *b = NULL;
    rc = backend_open(cli, true, &b, err, sizeof err);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);
    struct cmd_matrix_show show = {.cli = cli};
    struct backend_progress progress = {
        .step = cmd_matrix_step,
        .waiting = cmd_matrix_waiting,
        .ctx = &show,
    };
    show.shown = progress_bar(cli, 0, 0, "grouping hosts by version (%s)…", backend_name(b));
    char *text = NULL;
    json_t *answer = NULL;
    rc = backend_matrix(b, opts.type, cli->progress ? &progress : NULL, &text, &answer, err,
                        sizeof err);
    progress_done(show.shown);
    backend_close(b);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);
    int printed;
    if (opts.picture != GRAPH_NONE) {
        printed = opts.picture == GRAPH_SVG ? graph_write_svg(stdout, answer, err, sizeof err)
                                            : graph_write_dot(stdout, answer, err, sizeof err);
        free(text);
        json_decref(answer);
        return printed < 0 ? cli_fail(cli, CLI_EXIT_BACKEND, err) : CLI_EXIT_OK;
    }
    if (cli->format == CLI_FORMAT_JSON)
        printed = fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF ? -1 : 0;
    else
        printed = cmd_matrix_print(cli, answer);
    free(text);
    json_decref(answer);
    if (printed < 0)
        return cli_fail(cli, CLI_EXIT_BACKEND, "cannot print the matrix (out of memory or output)");
    return CLI_EXIT_OK;
}

const struct cli_command cmd_matrix = {
    .name = "matrix",
    .summary = "which (type, version) group can migrate to which, probed live",
    .help = cmd_matrix_help,
    .run = cmd_matrix_run,
};
