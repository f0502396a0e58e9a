/*
 * cmd_probe — `mdevmig probe (--from HOST:DEVICE | --version S --type T)
 * --to HOST`: one live write-probe on one host's driver, for an operator
 * checking a single pair before an upgrade or after a refusal. It is a
 * filter with a candidate list of one, so it goes through exactly the
 * code path a scheduler's question does.
 */
#include "answer.h"
#include "args.h"
#include "backend.h"
#include "fmt.h"
#include "move.h"
#include "progress.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char cmd_probe_help[] =
    "usage: mdevmig probe (--from HOST:DEVICE | --version STRING --type TYPE)\n"
    "                     --to HOST [GLOBAL OPTIONS]\n"
    "\n"
    "One live probe: write the source's migration_version to the target host's\n"
    "driver (through its collector) and report the driver's verdict, the errno\n"
    "it refused with, the collector's error text and how long it took.\n"
    "\n"
    "Options:\n"
    "  --from HOST:DEVICE  the version of an mdev on a host (read live from its\n"
    "                      collector; the registry's copy, marked stale, when it\n"
    "                      does not answer); several: HOST:DEVICE,DEVICE\n"
    "  --version STRING    a version as a driver prints it, with --type TYPE\n"
    "  --type TYPE         its mdev type, e.g. nvidia-222 (pairs may repeat)\n"
    "  --to HOST           the host to probe (not the source host)\n"
    "\n"
    "Exit 0 when the target accepts every mdev (compatible), 1 for any other\n"
    "verdict: incompatible (the driver's errno), no-type, no-capacity,\n"
    "unsupported, unreachable, or a source that is not migratable.\n"
    "\n"
    "Tab-separated records (without a terminal):\n"
    "  source   INSTANCE HOST VERSIONS(live|stale|given) MIGRATABLE REASON\n"
    "  mdev     UUID TYPE VERSION DIGEST12 REASON\n"
    "  verdict  HOST VERDICT ERRNO ERROR ELAPSED_US (the whole call)\n"
    "  probe    LEVEL TARGET VERDICT ERRNO ERROR ELAPSED_US (the driver's write;\n"
    "           per source mdev, one per version its type runs at on the host)\n"
    "\n"
    "--json: the answer of POST /v1/filter with \"hosts\": [HOST], exactly as\n"
    "  mdevmig-sched (or libmdevmig in-process) gives it.\n";

enum { CMD_PROBE_FROM, CMD_PROBE_VERSION, CMD_PROBE_TYPE, CMD_PROBE_TO };

static const struct args_option cmd_probe_options[] = {
    [CMD_PROBE_FROM] = {"from", "HOST:DEVICE", CMD_PROBE_FROM},
    [CMD_PROBE_VERSION] = {"version", "STRING", CMD_PROBE_VERSION},
    [CMD_PROBE_TYPE] = {"type", "TYPE", CMD_PROBE_TYPE},
    [CMD_PROBE_TO] = {"to", "HOST", CMD_PROBE_TO},
};

struct cmd_probe_opts {
    struct move move;
    const char *to;
};

static int cmd_probe_take(void *ctx, int id, const char *value, char *err, size_t errlen)
{
    struct cmd_probe_opts *o = ctx;
    switch (id) {
    case CMD_PROBE_FROM:
        return move_from(&o->move, value, err, errlen);
    case CMD_PROBE_VERSION:
        return move_version(&o->move, value, err, errlen);
    case CMD_PROBE_TYPE:
        return move_type(&o->move, value, err, errlen);
    case CMD_PROBE_TO:
        if (o->to != NULL) {
            snprintf(err, errlen, "--to given twice; probe asks one host (select asks them all)");
            return -1;
        }
        if (value[0] == '\0' || strlen(value) > 255) {
            snprintf(err, errlen, "--to needs a host name (1 to 255 bytes)");
            return -1;
        }
        o->to = value;
        return 0;
    }
    return 0;
}

/* One row per probe (one per source mdev): the driver's own answer. */
static struct table *cmd_probe_probes(const struct cli *cli, const json_t *probes)
{
    static const char *const headers[] = {"LEVEL", "TARGET", "VERDICT",
                                          "ERRNO", "ERROR",  "ELAPSED"};
    struct table *t = table_new("probe", 6, headers);
    size_t i;
    const json_t *probe;
    json_array_foreach(probes, i, probe)
    {
        char errname[32], elapsed[32];
        fmt_errno(errname, sizeof errname, fmt_int(probe, "errno", 0));
        if (cli->format == CLI_FORMAT_TSV)
            snprintf(elapsed, sizeof elapsed, "%lld", fmt_int(probe, "elapsed_us", 0));
        else
            fmt_us(elapsed, sizeof elapsed, fmt_int(probe, "elapsed_us", 0));
        table_add(t, (const char *[]){fmt_str(probe, "level"), fmt_str(probe, "target"),
                                      fmt_str(probe, "verdict"), errname, fmt_str(probe, "error"),
                                      elapsed});
    }
    return t;
}

/* The verdict; host is NULL when the source cannot migrate at all (the
 * source part then says why, and nothing was probed). */
static int cmd_probe_print(const struct cli *cli, const json_t *answer, const json_t *host)
{
    int rc = answer_print_source(cli, answer, stdout);
    if (host == NULL)
        return rc;
    const json_t *probes = json_object_get(host, "probes");
    long long whole_us = fmt_int(answer, "elapsed_us", 0);
    char errname[32], whole[32];
    fmt_errno(errname, sizeof errname, fmt_int(host, "errno", 0));
    struct table *pt = cmd_probe_probes(cli, probes);
    struct table *kv;
    if (cli->format == CLI_FORMAT_TSV) {
        static const char *const headers[] = {"HOST", "VERDICT", "ERRNO", "ERROR", "ELAPSED_US"};
        kv = table_new("verdict", 5, headers);
        snprintf(whole, sizeof whole, "%lld", whole_us);
        table_add(kv, (const char *[]){fmt_str(host, "host"), fmt_str(host, "verdict"), errname,
                                       answer_reason(host), whole});
    } else {
        /* A key/value block: one probe's verdict reads better down than across. */
        char errtext[64] = "", elapsed[96], target[600] = "";
        const json_t *only = json_array_size(probes) == 1 ? json_array_get(probes, 0) : NULL;
        if (errname[0] != '\0')
            snprintf(errtext, sizeof errtext, "%s (%lld)", errname, fmt_int(host, "errno", 0));
        fmt_us(whole, sizeof whole, whole_us);
        if (only != NULL) {
            char driver[32];
            fmt_us(driver, sizeof driver, fmt_int(only, "elapsed_us", 0));
            snprintf(elapsed, sizeof elapsed, "%s at the driver, %s in all", driver, whole);
            const char *level = fmt_str(only, "level"), *at = fmt_str(only, "target");
            snprintf(target, sizeof target, "%s %s", level != NULL ? level : "",
                     at != NULL ? at : "");
        } else {
            snprintf(elapsed, sizeof elapsed, "%s in all", whole);
        }
        kv = table_new("verdict", 2, NULL);
        table_add(kv, (const char *[]){"host", fmt_str(host, "host")});
        table_add(kv, (const char *[]){"verdict", fmt_str(host, "verdict")});
        table_add(kv, (const char *[]){"errno", errtext});
        table_add(kv, (const char *[]){"error", answer_reason(host)});
        if (only != NULL)
            table_add(kv, (const char *[]){"target", target});
        table_add(kv, (const char *[]){"elapsed", elapsed});
        if (rc == 0 && fputc('\n', stdout) == EOF)
            rc = -1;
    }
    if (rc == 0)
        rc = table_print(kv, stdout, cli->format, 0);
    /* On a terminal one probe is already in the block above. */
    bool probe_rows = cli->format == CLI_FORMAT_TSV || json_array_size(probes) > 1;
    if (rc == 0 && probe_rows && cli->format == CLI_FORMAT_TABLE && fputc('\n', stdout) == EOF)
        rc = -1;
    if (rc == 0 && probe_rows)
        rc = table_print(pt, stdout, cli->format, cli->format == CLI_FORMAT_TABLE ? 2 : 0);
    table_free(kv);
    table_free(pt);
    return rc;
}

static int cmd_probe_run(struct cli *cli, int argc, char **argv)
{
    struct cmd_probe_opts opts = {0};
    move_init(&opts.move);
    char err[1024];
    int rc = args_parse(cli, argc, argv, cmd_probe_options,
                        sizeof cmd_probe_options / sizeof cmd_probe_options[0], cmd_probe_take,
                        &opts, false, NULL, err, sizeof err);
    if (rc == 1) {
        cli_help_command(stdout, &cmd_probe);
        return CLI_EXIT_OK;
    }
    struct mdevmig_request req = MDEVMIG_REQUEST_INIT;
    if (rc == 0 && opts.to == NULL) {
        snprintf(err, sizeof err, "--to HOST is required: the host whose driver to probe");
        rc = -1;
    }
    if (rc == 0 && move_request(&opts.move, false, &req, err, sizeof err) < 0)
        rc = -1;
    if (rc == 0 && req.host != NULL && strcmp(req.host, opts.to) == 0) {
        snprintf(err, sizeof err,
                 "--to %s is the source host: a VM does not migrate to the host it runs on "
                 "(to probe that host's driver, give --version and --type)",
                 opts.to);
        rc = -1;
    }
    if (rc < 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "%s (see mdevmig probe --help)", err);
        return cli_fail(cli, CLI_EXIT_USAGE, msg);
    }
    const char *candidates[1] = {opts.to};
    req.candidates = candidates;
    req.candidate_count = 1;

    struct backend *b = NULL;
    rc = backend_open(cli, true, &b, err, sizeof err);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);
    /* An unknown target would come back as no-type; the operator most
     * likely mistyped it, which is worth saying as such. */
    json_t *target = NULL;
    rc = backend_inventory(b, opts.to, &target, err, sizeof err);
    json_decref(target);
    char *text = NULL;
    json_t *answer = NULL;
    if (rc == CLI_EXIT_OK) {
        bool shown = progress_show(cli, "probing %s…", opts.to);
        rc = backend_decide(b, BACKEND_FILTER, &req, &text, &answer, err, sizeof err);
        progress_done(shown);
    }
    backend_close(b);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);

    const json_t *host = answer_host(answer, opts.to);
    bool migratable = json_is_true(json_object_get(answer, "migratable"));
    const char *verdict = fmt_str(host, "verdict");
    if (cli->format == CLI_FORMAT_JSON) {
        if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF)
            rc = CLI_EXIT_BACKEND;
    } else if (host != NULL || !migratable) {
        if (cmd_probe_print(cli, answer, migratable ? host : NULL) < 0)
            rc = CLI_EXIT_BACKEND;
    }
    if (rc == CLI_EXIT_BACKEND)
        snprintf(err, sizeof err, "cannot print the answer (out of memory or output)");
    else if (migratable && host == NULL) {
        snprintf(err, sizeof err, "the answer has no verdict for host %s", opts.to);
        rc = CLI_EXIT_BACKEND;
    } else {
        rc = migratable && verdict != NULL && strcmp(verdict, "compatible") == 0 ? CLI_EXIT_OK
                                                                                 : CLI_EXIT_NO;
    }
    free(text);
    json_decref(answer);
    return rc == CLI_EXIT_OK || rc == CLI_EXIT_NO ? rc : cli_fail(cli, rc, err);
}

const struct cli_command cmd_probe = {
    .name = "probe",
    .summary = "one live probe: can this version go to that host?",
    .help = cmd_probe_help,
    .run = cmd_probe_run,
};
