/*
 * cmd_readiness — `mdevmig readiness [--host H]... [--stranded]`: if a
 * host failed now, could each VM on it go somewhere? For every VM with
 * mdevs (or those on the hosts named), the other hosts that could take all
 * of its mdevs now, confirmed by live probes shared per (version, host,
 * type), by libmdevmig in-process or mdevmig-sched's POST /v1/readiness.
 */
#include "args.h"
#include "backend.h"
#include "fmt.h"
#include "progress.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hosts --host may name, as the service takes them. */
#define CMD_READINESS_MAX_HOSTS 10000

static const char cmd_readiness_help[] =
    "usage: mdevmig readiness [--host HOST]... [--stranded] [GLOBAL OPTIONS]\n"
    "\n"
    "For every VM with mdevs in the registry (or only those on the hosts given),\n"
    "how many other hosts could take all of its mdevs now: hosts with free\n"
    "instances of each of its types whose drivers accept its versions, asked by\n"
    "live write-probes, one per (source version, host, type at one target\n"
    "version) however many VMs need it. A host whose collector does not answer\n"
    "is never a destination. Versions are the registry's, as the collectors\n"
    "last published them.\n"
    "\n"
    "Options:\n"
    "  --host HOST  only the VMs on HOST (repeat for more; destinations are\n"
    "               always every host)\n"
    "  --stranded   list only the VMs with no destination (the summary still\n"
    "               counts all)\n"
    "\n"
    "On a terminal: a table (VM, HOST, MDEVS, DESTINATIONS, BEST, REASON) and a\n"
    "summary; READINESS is stranded (0 destinations), single (1) or ready (2 or\n"
    "more); BEST is the host an evacuation would favour (most room for the VM's\n"
    "types, then a host already at its version, then by name).\n"
    "\n"
    "Exit 0 when no VM is stranded, 1 when one is, 3 for a host the registry\n"
    "does not know.\n"
    "\n"
    "Tab-separated records (without a terminal):\n"
    "  vm       INSTANCE NAME HOST MDEVS DESTINATIONS READINESS BEST VERDICT\n"
    "           ERRNO REASON\n"
    "  summary  VMS STRANDED SINGLE READY PROBES_SENT TRIPLES ELAPSED_US\n"
    "\n"
    "--json: the answer of POST /v1/readiness: {\"vm_count\", \"vms_without_mdevs\",\n"
    "  \"counts\": {\"stranded\", \"single\", \"ready\"}, \"source_hosts\",\n"
    "  \"candidate_hosts\", \"unreachable_hosts\", \"triples\", \"probes_sent\",\n"
    "  \"waves\", \"elapsed_us\", \"vms\": [{\"instance\", \"name\", \"state\", \"host\",\n"
    "  \"source_stale\", \"mdevs\", \"types\", \"destinations\", \"readiness\", \"best\",\n"
    "  \"verdict\", \"errno\", \"errno_name\", \"reason\"}], \"probes\": [{\"host\",\n"
    "  \"type\", \"source_digest\", \"source_version\", \"level\", \"target\",\n"
    "  \"verdict\", \"errno\", \"errno_name\", \"error\", \"elapsed_us\"}]}\n"
    "  (docs/READINESS.md).\n";

struct cmd_readiness_opts {
    const char **hosts;
    size_t host_count;
    bool stranded;
};

enum cmd_readiness_option {
    CMD_READINESS_HOST,
    CMD_READINESS_STRANDED,
};

static const struct args_option cmd_readiness_options[] = {
    {"host", "HOST", CMD_READINESS_HOST},
    {"stranded", NULL, CMD_READINESS_STRANDED},
};

static int cmd_readiness_take(void *ctx, int id, const char *value, char *err, size_t errlen)
{
    struct cmd_readiness_opts *o = ctx;
    if (id == CMD_READINESS_STRANDED) {
        o->stranded = true;
        return 0;
    }
    return args_add_host(&o->hosts, &o->host_count, CMD_READINESS_MAX_HOSTS, "--host", value, err,
                         errlen);
}

struct cmd_readiness_show {
    const struct cli *cli;
    bool shown;
};

static void cmd_readiness_step(void *ctx, const struct mdevmig_progress *p)
{
    struct cmd_readiness_show *show = ctx;
    show->shown |= progress_bar(show->cli, p->probes_answered, p->probes_sent,
                                "probes answered (wave %zu, %zu VMs)", p->wave, p->items);
}

static void cmd_readiness_waiting(void *ctx, double seconds)
{
    struct cmd_readiness_show *show = ctx;
    show->shown |=
        progress_bar(show->cli, 0, 0, "mdevmig-sched is probing the destinations… %.0f s", seconds);
}

static int cmd_readiness_print(const struct cli *cli, const json_t *answer)
{
    bool tsv = cli->format == CLI_FORMAT_TSV;
    static const char *const headers[] = {"VM", "HOST", "MDEVS", "DESTINATIONS", "BEST", "REASON"};
    static const char *const tsv_headers[] = {"INSTANCE",     "NAME",      "HOST", "MDEVS",
                                              "DESTINATIONS", "READINESS", "BEST", "VERDICT",
                                              "ERRNO",        "REASON"};
    struct table *vt = tsv ? table_new("vm", 10, tsv_headers) : table_new("vm", 6, headers);
    size_t i;
    const json_t *vm;
    json_array_foreach(json_object_get(answer, "vms"), i, vm)
    {
        char mdevs[24], dests[48], errname[32];
        snprintf(mdevs, sizeof mdevs, "%lld", fmt_int(vm, "mdevs", 0));
        long long d = fmt_int(vm, "destinations", 0);
        fmt_errno(errname, sizeof errname, fmt_int(vm, "errno", 0));
        const char *name = fmt_str(vm, "name");
        if (tsv) {
            snprintf(dests, sizeof dests, "%lld", d);
            table_add(vt,
                      (const char *[]){fmt_str(vm, "instance"), name, fmt_str(vm, "host"), mdevs,
                                       dests, fmt_str(vm, "readiness"), fmt_str(vm, "best"),
                                       fmt_str(vm, "verdict"), errname, fmt_str(vm, "reason")});
        } else {
            snprintf(dests, sizeof dests, "%lld (%s)", d, fmt_str(vm, "readiness"));
            table_add(vt, (const char *[]){
                              name != NULL && name[0] != '\0' ? name : fmt_str(vm, "instance"),
                              fmt_str(vm, "host"), mdevs, dests, fmt_str(vm, "best"),
                              fmt_str(vm, "reason")});
        }
    }
    int rc = table_print(vt, stdout, cli->format, 0);
    table_free(vt);
    const json_t *counts = json_object_get(answer, "counts");
    if (tsv) {
        static const char *const sum_headers[] = {"VMS",         "STRANDED", "SINGLE",    "READY",
                                                  "PROBES_SENT", "TRIPLES",  "ELAPSED_US"};
        struct table *st = table_new("summary", 7, sum_headers);
        char v[7][24];
        snprintf(v[0], sizeof v[0], "%lld", fmt_int(answer, "vm_count", 0));
        snprintf(v[1], sizeof v[1], "%lld", fmt_int(counts, "stranded", 0));
        snprintf(v[2], sizeof v[2], "%lld", fmt_int(counts, "single", 0));
        snprintf(v[3], sizeof v[3], "%lld", fmt_int(counts, "ready", 0));
        snprintf(v[4], sizeof v[4], "%lld", fmt_int(answer, "probes_sent", 0));
        snprintf(v[5], sizeof v[5], "%lld", fmt_int(answer, "triples", 0));
        snprintf(v[6], sizeof v[6], "%lld", fmt_int(answer, "elapsed_us", 0));
        table_add(st, (const char *[]){v[0], v[1], v[2], v[3], v[4], v[5], v[6]});
        if (rc == 0)
            rc = table_print(st, stdout, cli->format, 0);
        table_free(st);
        return rc;
    }
    char took[32];
    fmt_us(took, sizeof took, fmt_int(answer, "elapsed_us", 0));
    printf("\n%lld VM%s with mdevs: %lld stranded, %lld with one destination, %lld ready; "
           "%lld probe%s for %lld (version, host, type) triple%s; %s\n",
           fmt_int(answer, "vm_count", 0), fmt_int(answer, "vm_count", 0) == 1 ? "" : "s",
           fmt_int(counts, "stranded", 0), fmt_int(counts, "single", 0),
           fmt_int(counts, "ready", 0), fmt_int(answer, "probes_sent", 0),
           fmt_int(answer, "probes_sent", 0) == 1 ? "" : "s", fmt_int(answer, "triples", 0),
           fmt_int(answer, "triples", 0) == 1 ? "" : "s", took);
    size_t down = json_array_size(json_object_get(answer, "unreachable_hosts"));
    if (down > 0)
        printf("%zu host%s did not answer and %s as no destination\n", down, down == 1 ? "" : "s",
               down == 1 ? "counts" : "count");
    return rc < 0 || ferror(stdout) ? -1 : 0;
}

static int cmd_readiness_run(struct cli *cli, int argc, char **argv)
{
    struct cmd_readiness_opts opts = {0};
    char err[1024];
    int rc = args_parse(cli, argc, argv, cmd_readiness_options,
                        sizeof cmd_readiness_options / sizeof cmd_readiness_options[0],
                        cmd_readiness_take, &opts, false, NULL, err, sizeof err);
    if (rc == 1) {
        free(opts.hosts);
        cli_help_command(stdout, &cmd_readiness);
        return CLI_EXIT_OK;
    }
    if (rc < 0) {
        free(opts.hosts);
        char msg[1100];
        snprintf(msg, sizeof msg, "%s (see mdevmig readiness --help)", err);
        return cli_fail(cli, CLI_EXIT_USAGE, msg);
    }
    struct backend *b = NULL;
    rc = backend_open(cli, true, &b, err, sizeof err);
    if (rc != CLI_EXIT_OK) {
        free(opts.hosts);
        return cli_fail(cli, rc, err);
    }
    struct cmd_readiness_show show = {.cli = cli};
    struct backend_progress progress = {
        .step = cmd_readiness_step,
        .waiting = cmd_readiness_waiting,
        .ctx = &show,
    };
    show.shown = progress_bar(cli, 0, 0, "reading the registry (%s)…", backend_name(b));
    struct mdevmig_readiness_request req = MDEVMIG_READINESS_INIT;
    req.hosts = opts.hosts;
    req.host_count = opts.host_count;
    req.stranded_only = opts.stranded;
    char *text = NULL;
    json_t *answer = NULL;
    rc = backend_readiness(b, &req, cli->progress ? &progress : NULL, &text, &answer, err,
                           sizeof err);
    progress_done(show.shown);
    backend_close(b);
    free(opts.hosts);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);
    int printed;
    if (cli->format == CLI_FORMAT_JSON)
        printed = fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF ? -1 : 0;
    else
        printed = cmd_readiness_print(cli, answer);
    rc = fmt_int(json_object_get(answer, "counts"), "stranded", 0) > 0 ? CLI_EXIT_NO : CLI_EXIT_OK;
    free(text);
    json_decref(answer);
    if (printed < 0)
        return cli_fail(cli, CLI_EXIT_BACKEND, "cannot print the answer (out of memory or output)");
    return rc;
}

const struct cli_command cmd_readiness = {
    .name = "readiness",
    .summary = "which VMs could live-migrate now, and to how many hosts (live probes)",
    .help = cmd_readiness_help,
    .run = cmd_readiness_run,
};
