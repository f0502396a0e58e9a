/*
 * cmd_rollout — `mdevmig rollout --like REF --hosts H1,H2,...`: a driver
 * upgrade across hosts that keeps every VM live-migratable: waves of at
 * most --max-down hosts, each emptied first by moves to destinations that
 * accept its VMs (live probes, or the reference's driver on hosts upgraded
 * earlier), in the order that strands the fewest; or, --what-if, the VMs
 * that would have nowhere to go once every host runs REF's driver. By
 * libmdevmig in-process or mdevmig-sched's POST /v1/rollout.
 */
#include "args.h"
#include "backend.h"
#include "fmt.h"
#include "graph.h"
#include "progress.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD_ROLLOUT_MAX_HOSTS 10000

static const char cmd_rollout_help[] =
    "usage: mdevmig rollout --like REF --hosts H1,H2,... [--max-down N] [--what-if]\n"
    "                       [--format dot|svg] [GLOBAL OPTIONS]\n"
    "\n"
    "Plan a driver upgrade: the hosts listed are to get REF's driver (REF's\n"
    "version of every mdev type they share with it). A host is emptied before\n"
    "its upgrade, its VMs live-migrated to hosts that accept them: a host as it\n"
    "is now by a live write-probe of the VM's version, a host upgraded in an\n"
    "earlier wave by a live probe into REF (or another host already at REF's\n"
    "version), the driver it will run. Capacity is spent across waves: a VM\n"
    "moved in wave 1 takes room in wave 2, and runs its destination's version\n"
    "from then on. The planner orders the hosts: each wave takes the hosts\n"
    "whose VMs would strand the fewest; the order given is planned too, to show\n"
    "what the planner saves. A VM with no accepting destination in its wave is\n"
    "listed with the reason (the driver's errno when a version is refused).\n"
    "\n"
    "Options:\n"
    "  --like REF       the host whose driver the others get (not in --hosts)\n"
    "  --hosts LIST     the hosts to upgrade, comma-separated (repeatable)\n"
    "  --max-down N     hosts upgraded at once, per wave (default 1)\n"
    "  --what-if        no waves: the VMs (anywhere) that have a destination now\n"
    "                   and would have none once every host listed runs REF's\n"
    "                   driver\n"
    "  --format FORMAT  dot or svg: the plan as a picture, a box per wave holding\n"
    "                   its hosts, an edge per (wave, from, to) labelled with the\n"
    "                   wave and the VMs it moves, a red note per stranded VM\n"
    "                   (svg through Graphviz's dot program; not with --json or\n"
    "                   --what-if)\n"
    "\n"
    "Exit 0 when every VM stays migratable, 1 when one does not, 3 for a host the\n"
    "registry does not know, 4 when --format svg finds no Graphviz dot.\n"
    "\n"
    "Tab-separated records (without a terminal):\n"
    "  wave      WAVE HOSTS\n"
    "  move      WAVE INSTANCE NAME FROM TO TO_UPGRADED\n"
    "  stranded  WAVE INSTANCE NAME HOST VERDICT ERRNO REASON\n"
    "  summary   WAVES VMS MOVES STRANDED GIVEN_ORDER_STRANDED PROBES_SENT ELAPSED_US\n"
    "  --what-if:\n"
    "  vm        INSTANCE NAME HOST DESTINATIONS_NOW VERDICT ERRNO REASON\n"
    "  summary   VMS STRANDED_NOW STRANDED_AFTER PROBES_SENT ELAPSED_US\n"
    "\n"
    "--json: the answer of POST /v1/rollout (docs/READINESS.md): {\"like\",\n"
    "  \"max_down\", \"what_if\", \"hosts\", \"versions\", \"order\", \"vm_count\",\n"
    "  \"moves\", \"stranded_count\", \"given_order\": {\"order\", \"stranded_count\"},\n"
    "  \"waves\": [{\"wave\", \"hosts\", \"moves\": [{\"instance\", \"name\", \"from\",\n"
    "  \"to\", \"to_upgraded\", \"mdevs\"}], \"stranded\"}], \"stranded\", \"triples\",\n"
    "  \"probes_sent\", \"elapsed_us\", \"probes\"}; with --what-if {\"like\",\n"
    "  \"what_if\", \"hosts\", \"versions\", \"vm_count\", \"stranded_now\",\n"
    "  \"stranded_after\", \"vms\": [{\"instance\", \"name\", \"host\",\n"
    "  \"destinations_now\", \"destinations_after\", \"verdict\", \"errno\",\n"
    "  \"errno_name\", \"reason\"}], ...}.\n";

struct cmd_rollout_opts {
    const char *like;
    const char **hosts;
    size_t host_count;
    char **lists; /* --hosts values, split in place */
    size_t list_count;
    long max_down;
    bool what_if;
    enum graph_format picture;
    const char *format;
};

enum cmd_rollout_option {
    CMD_ROLLOUT_LIKE,
    CMD_ROLLOUT_HOSTS,
    CMD_ROLLOUT_MAX_DOWN,
    CMD_ROLLOUT_WHAT_IF,
    CMD_ROLLOUT_FORMAT,
};

static const struct args_option cmd_rollout_options[] = {
    {"like", "REF", CMD_ROLLOUT_LIKE},        {"hosts", "LIST", CMD_ROLLOUT_HOSTS},
    {"max-down", "N", CMD_ROLLOUT_MAX_DOWN},  {"what-if", NULL, CMD_ROLLOUT_WHAT_IF},
    {"format", "FORMAT", CMD_ROLLOUT_FORMAT},
};

static void cmd_rollout_free(struct cmd_rollout_opts *o)
{
    for (size_t i = 0; i < o->list_count; i++)
        free(o->lists[i]);
    free(o->lists);
    free(o->hosts);
}

/* "H1,H2,..." into hosts; the copy is kept (names point into it). */
static int cmd_rollout_hosts(struct cmd_rollout_opts *o, const char *value, char *err,
                             size_t errlen)
{
    char **grown = realloc(o->lists, (o->list_count + 1) * sizeof *grown);
    char *copy = strdup(value);
    if (grown != NULL)
        o->lists = grown;
    if (grown == NULL || copy == NULL) {
        free(copy);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    o->lists[o->list_count++] = copy;
    for (char *p = copy;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        if (*p == '\0') {
            snprintf(err, errlen, "--hosts \"%.200s\": an empty name in the list (H1,H2,...)",
                     value);
            return -1;
        }
        if (args_add_host(&o->hosts, &o->host_count, CMD_ROLLOUT_MAX_HOSTS, "--hosts", p, err,
                          errlen) < 0)
            return -1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int cmd_rollout_take(void *ctx, int id, const char *value, char *err, size_t errlen)
{
    struct cmd_rollout_opts *o = ctx;
    char why[200];
    switch (id) {
    case CMD_ROLLOUT_LIKE:
        if (o->like != NULL) {
            snprintf(err, errlen, "--like given twice; a rollout has one reference host");
            return -1;
        }
        if (!mdevmig_host_name_valid(value, why, sizeof why)) {
            snprintf(err, errlen, "--like \"%.80s\": %s", value, why);
            return -1;
        }
        o->like = value;
        return 0;
    case CMD_ROLLOUT_HOSTS:
        return cmd_rollout_hosts(o, value, err, errlen);
    case CMD_ROLLOUT_MAX_DOWN:
        return args_count(value, "--max-down", CMD_ROLLOUT_MAX_HOSTS, &o->max_down, err, errlen);
    case CMD_ROLLOUT_WHAT_IF:
        o->what_if = true;
        return 0;
    default:
        return graph_format_take(&o->picture, &o->format, value, err, errlen);
    }
}

struct cmd_rollout_show {
    const struct cli *cli;
    bool shown;
};

static void cmd_rollout_step(void *ctx, const struct mdevmig_progress *p)
{
    struct cmd_rollout_show *show = ctx;
    show->shown |= progress_bar(show->cli, p->probes_answered, p->probes_sent,
                                "probes answered (round %zu)", p->wave);
}

static void cmd_rollout_waiting(void *ctx, double seconds)
{
    struct cmd_rollout_show *show = ctx;
    show->shown |=
        progress_bar(show->cli, 0, 0, "mdevmig-sched is planning the rollout… %.0f s", seconds);
}

static const char *cmd_rollout_vm_name(const json_t *vm)
{
    const char *name = fmt_str(vm, "name");
    return name != NULL && name[0] != '\0' ? name : fmt_str(vm, "instance");
}

static int cmd_rollout_print_plan(const struct cli *cli, const json_t *plan)
{
    bool tsv = cli->format == CLI_FORMAT_TSV;
    static const char *const wave_headers[] = {"WAVE", "HOSTS"};
    static const char *const move_headers[] = {"WAVE", "INSTANCE", "NAME",
                                               "FROM", "TO",       "TO_UPGRADED"};
    static const char *const move_tty[] = {"VM", "FROM", "TO", "VERSIONS"};
    static const char *const stranded_headers[] = {"WAVE",    "INSTANCE", "NAME",  "HOST",
                                                   "VERDICT", "ERRNO",    "REASON"};
    int rc = 0;
    size_t w, i;
    const json_t *wave, *move, *vm;
    struct table *wt = tsv ? table_new("wave", 2, wave_headers) : NULL;
    struct table *mt = tsv ? table_new("move", 6, move_headers) : NULL;
    struct table *st = tsv ? table_new("stranded", 7, stranded_headers) : NULL;
    json_array_foreach(json_object_get(plan, "waves"), w, wave)
    {
        char n[24];
        snprintf(n, sizeof n, "%lld", fmt_int(wave, "wave", 0));
        char *hosts = fmt_join(json_object_get(wave, "hosts"), tsv ? "," : ", ");
        if (hosts == NULL) {
            rc = -1;
            break;
        }
        if (tsv) {
            table_add(wt, (const char *[]){n, hosts});
        } else {
            printf("wave %s: empty and upgrade %s (%zu move%s)\n", n, hosts,
                   json_array_size(json_object_get(wave, "moves")),
                   json_array_size(json_object_get(wave, "moves")) == 1 ? "" : "s");
        }
        free(hosts);
        struct table *tt = tsv ? NULL : table_new("move", 4, move_tty);
        json_array_foreach(json_object_get(wave, "moves"), i, move)
        {
            if (tsv) {
                table_add(mt, (const char *[]){n, fmt_str(move, "instance"), fmt_str(move, "name"),
                                               fmt_str(move, "from"), fmt_str(move, "to"),
                                               json_is_true(json_object_get(move, "to_upgraded"))
                                                   ? "yes"
                                                   : "no"});
                continue;
            }
            const json_t *mdev = json_array_get(json_object_get(move, "mdevs"), 0);
            char versions[400];
            snprintf(versions, sizeof versions, "%s -> %s%s", fmt_str(mdev, "version"),
                     fmt_str(mdev, "to_version"),
                     json_array_size(json_object_get(move, "mdevs")) > 1 ? " (first mdev)" : "");
            char to[300];
            snprintf(to, sizeof to, "%s%s", fmt_str(move, "to"),
                     json_is_true(json_object_get(move, "to_upgraded")) ? " (upgraded)" : "");
            table_add(tt, (const char *[]){cmd_rollout_vm_name(move), fmt_str(move, "from"), to,
                                           versions});
        }
        if (tt != NULL) {
            if (json_array_size(json_object_get(wave, "moves")) > 0 && rc == 0)
                rc = table_print(tt, stdout, cli->format, 2);
            table_free(tt);
        }
        json_array_foreach(json_object_get(wave, "stranded"), i, vm)
        {
            char errname[32];
            fmt_errno(errname, sizeof errname, fmt_int(vm, "errno", 0));
            if (tsv)
                table_add(st, (const char *[]){n, fmt_str(vm, "instance"), fmt_str(vm, "name"),
                                               fmt_str(vm, "host"), fmt_str(vm, "verdict"), errname,
                                               fmt_str(vm, "reason")});
            else
                printf("  STRANDED %s on %s: %s\n", cmd_rollout_vm_name(vm), fmt_str(vm, "host"),
                       fmt_str(vm, "reason"));
        }
    }
    const json_t *given = json_object_get(plan, "given_order");
    if (tsv) {
        static const char *const sum_headers[] = {
            "WAVES",       "VMS",       "MOVES", "STRANDED", "GIVEN_ORDER_STRANDED",
            "PROBES_SENT", "ELAPSED_US"};
        struct table *sum = table_new("summary", 7, sum_headers);
        char v[7][24];
        snprintf(v[0], sizeof v[0], "%zu", json_array_size(json_object_get(plan, "waves")));
        snprintf(v[1], sizeof v[1], "%lld", fmt_int(plan, "vm_count", 0));
        snprintf(v[2], sizeof v[2], "%lld", fmt_int(plan, "moves", 0));
        snprintf(v[3], sizeof v[3], "%lld", fmt_int(plan, "stranded_count", 0));
        snprintf(v[4], sizeof v[4], "%lld", fmt_int(given, "stranded_count", 0));
        snprintf(v[5], sizeof v[5], "%lld", fmt_int(plan, "probes_sent", 0));
        snprintf(v[6], sizeof v[6], "%lld", fmt_int(plan, "elapsed_us", 0));
        table_add(sum, (const char *[]){v[0], v[1], v[2], v[3], v[4], v[5], v[6]});
        if (rc == 0)
            rc = table_print(wt, stdout, cli->format, 0);
        if (rc == 0)
            rc = table_print(mt, stdout, cli->format, 0);
        if (rc == 0)
            rc = table_print(st, stdout, cli->format, 0);
        if (rc == 0)
            rc = table_print(sum, stdout, cli->format, 0);
        table_free(sum);
    } else if (rc == 0) {
        char *order = fmt_join(json_object_get(plan, "order"), ", ");
        char took[32];
        fmt_us(took, sizeof took, fmt_int(plan, "elapsed_us", 0));
        printf("\norder: %s\n%lld VM%s to move, %lld move%s, %lld stranded (the order given "
               "strands %lld); %lld probes; %s\n",
               order != NULL ? order : "?", fmt_int(plan, "vm_count", 0),
               fmt_int(plan, "vm_count", 0) == 1 ? "" : "s", fmt_int(plan, "moves", 0),
               fmt_int(plan, "moves", 0) == 1 ? "" : "s", fmt_int(plan, "stranded_count", 0),
               fmt_int(given, "stranded_count", 0), fmt_int(plan, "probes_sent", 0), took);
        free(order);
    }
    table_free(wt);
    table_free(mt);
    table_free(st);
    return rc < 0 || ferror(stdout) ? -1 : 0;
}

static int cmd_rollout_print_whatif(const struct cli *cli, const json_t *answer)
{
    bool tsv = cli->format == CLI_FORMAT_TSV;
    static const char *const headers[] = {"INSTANCE", "NAME",  "HOST",  "DESTINATIONS_NOW",
                                          "VERDICT",  "ERRNO", "REASON"};
    static const char *const tty[] = {"VM", "HOST", "DESTINATIONS NOW", "AFTER: WHY NONE"};
    struct table *t = tsv ? table_new("vm", 7, headers) : table_new("vm", 4, tty);
    size_t i;
    const json_t *vm;
    json_array_foreach(json_object_get(answer, "vms"), i, vm)
    {
        char now[24], errname[32];
        snprintf(now, sizeof now, "%lld", fmt_int(vm, "destinations_now", 0));
        fmt_errno(errname, sizeof errname, fmt_int(vm, "errno", 0));
        if (tsv)
            table_add(t, (const char *[]){fmt_str(vm, "instance"), fmt_str(vm, "name"),
                                          fmt_str(vm, "host"), now, fmt_str(vm, "verdict"), errname,
                                          fmt_str(vm, "reason")});
        else
            table_add(t, (const char *[]){cmd_rollout_vm_name(vm), fmt_str(vm, "host"), now,
                                          fmt_str(vm, "reason")});
    }
    int rc = table_print(t, stdout, cli->format, 0);
    table_free(t);
    if (tsv) {
        static const char *const sum_headers[] = {"VMS", "STRANDED_NOW", "STRANDED_AFTER",
                                                  "PROBES_SENT", "ELAPSED_US"};
        struct table *sum = table_new("summary", 5, sum_headers);
        char v[5][24];
        snprintf(v[0], sizeof v[0], "%lld", fmt_int(answer, "vm_count", 0));
        snprintf(v[1], sizeof v[1], "%lld", fmt_int(answer, "stranded_now", 0));
        snprintf(v[2], sizeof v[2], "%lld", fmt_int(answer, "stranded_after", 0));
        snprintf(v[3], sizeof v[3], "%lld", fmt_int(answer, "probes_sent", 0));
        snprintf(v[4], sizeof v[4], "%lld", fmt_int(answer, "elapsed_us", 0));
        table_add(sum, (const char *[]){v[0], v[1], v[2], v[3], v[4]});
        if (rc == 0)
            rc = table_print(sum, stdout, cli->format, 0);
        table_free(sum);
        return rc;
    }
    char took[32];
    fmt_us(took, sizeof took, fmt_int(answer, "elapsed_us", 0));
    printf("\n%zu VM%s would lose every destination once the hosts run %s's driver (stranded "
           "now %lld, after %lld, of %lld); %lld probes; %s\n",
           json_array_size(json_object_get(answer, "vms")),
           json_array_size(json_object_get(answer, "vms")) == 1 ? "" : "s", fmt_str(answer, "like"),
           fmt_int(answer, "stranded_now", 0), fmt_int(answer, "stranded_after", 0),
           fmt_int(answer, "vm_count", 0), fmt_int(answer, "probes_sent", 0), took);
    return rc < 0 || ferror(stdout) ? -1 : 0;
}

static int cmd_rollout_check(const struct cmd_rollout_opts *o, const struct cli *cli, char *err,
                             size_t errlen)
{
    if (o->like == NULL)
        snprintf(err, errlen, "--like REF is required: the host whose driver the others get");
    else if (o->host_count == 0)
        snprintf(err, errlen, "--hosts H1,H2,... is required: the hosts to upgrade");
    else if (o->picture != GRAPH_NONE && cli->format == CLI_FORMAT_JSON)
        snprintf(err, errlen, "--format and --json are two outputs: give one");
    else if (o->picture != GRAPH_NONE && o->what_if)
        snprintf(err, errlen, "--format draws waves, and --what-if plans none: give one");
    else
        return 0;
    return -1;
}

static int cmd_rollout_run(struct cli *cli, int argc, char **argv)
{
    struct cmd_rollout_opts opts = {.max_down = 1};
    char err[1024];
    int rc = args_parse(cli, argc, argv, cmd_rollout_options,
                        sizeof cmd_rollout_options / sizeof cmd_rollout_options[0],
                        cmd_rollout_take, &opts, false, NULL, err, sizeof err);
    if (rc == 1) {
        cmd_rollout_free(&opts);
        cli_help_command(stdout, &cmd_rollout);
        return CLI_EXIT_OK;
    }
    if (rc == 0 && opts.max_down < 1) {
        snprintf(err, sizeof err, "--max-down %ld: at least one host goes down at a time",
                 opts.max_down);
        rc = -1;
    }
    if (rc == 0)
        rc = cmd_rollout_check(&opts, cli, err, sizeof err);
    if (rc < 0) {
        cmd_rollout_free(&opts);
        char msg[1100];
        snprintf(msg, sizeof msg, "%s (see mdevmig rollout --help)", err);
        return cli_fail(cli, CLI_EXIT_USAGE, msg);
    }
    if (opts.picture == GRAPH_SVG && graph_svg_ready(err, sizeof err) < 0) {
        cmd_rollout_free(&opts);
        return cli_fail(cli, CLI_EXIT_BACKEND, err);
    }
    struct backend *b = NULL;
    rc = backend_open(cli, true, &b, err, sizeof err);
    if (rc != CLI_EXIT_OK) {
        cmd_rollout_free(&opts);
        return cli_fail(cli, rc, err);
    }
    struct cmd_rollout_show show = {.cli = cli};
    struct backend_progress progress = {
        .step = cmd_rollout_step,
        .waiting = cmd_rollout_waiting,
        .ctx = &show,
    };
    show.shown = progress_bar(cli, 0, 0, "planning the rollout to %s's driver (%s)…", opts.like,
                              backend_name(b));
    struct mdevmig_rollout_request req = MDEVMIG_ROLLOUT_INIT;
    req.like = opts.like;
    req.hosts = opts.hosts;
    req.host_count = opts.host_count;
    req.max_down = (size_t)opts.max_down;
    req.what_if = opts.what_if;
    char *text = NULL;
    json_t *answer = NULL;
    rc =
        backend_rollout(b, &req, cli->progress ? &progress : NULL, &text, &answer, err, sizeof err);
    progress_done(show.shown);
    backend_close(b);
    cmd_rollout_free(&opts);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);
    int printed;
    if (opts.picture == GRAPH_SVG)
        printed = graph_write_svg_of(stdout, graph_write_rollout_dot, answer, err, sizeof err);
    else if (opts.picture == GRAPH_DOT)
        printed = graph_write_rollout_dot(stdout, answer, err, sizeof err);
    else if (cli->format == CLI_FORMAT_JSON)
        printed = fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF ? -1 : 0;
    else if (opts.what_if)
        printed = cmd_rollout_print_whatif(cli, answer);
    else
        printed = cmd_rollout_print_plan(cli, answer);
    bool stranded = opts.what_if ? json_array_size(json_object_get(answer, "vms")) > 0
                                 : fmt_int(answer, "stranded_count", 0) > 0;
    free(text);
    json_decref(answer);
    if (printed < 0)
        return cli_fail(cli, CLI_EXIT_BACKEND,
                        opts.picture != GRAPH_NONE ? err
                                                   : "cannot print the plan (out of memory or "
                                                     "output)");
    return stranded ? CLI_EXIT_NO : CLI_EXIT_OK;
}

const struct cli_command cmd_rollout = {
    .name = "rollout",
    .summary = "a driver upgrade in waves that keeps every VM migratable, or its what-if",
    .help = cmd_rollout_help,
    .run = cmd_rollout_run,
};
