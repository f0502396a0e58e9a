/*
 * cmd_select — `mdevmig select --instance UUID [--count N]`: where can
 * this VM go. The same question Nova's filter asks, answered the same
 * way (every destination confirmed by a live probe in this call), shown
 * with the verdict of every host considered so an operator can see why a
 * host was left out.
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

#define CMD_SELECT_COUNT_MAX 10000

static const char cmd_select_help[] =
    "usage: mdevmig select (--instance UUID | --from HOST:DEVICE[,DEVICE...] |\n"
    "                       --version STRING --type TYPE) [--count N] [GLOBAL OPTIONS]\n"
    "\n"
    "The best N destinations for a VM's mdevs, each confirmed in this call by a\n"
    "live write-probe on the host's driver, and the verdict of every host\n"
    "considered: compatible, incompatible (with the driver's errno), no-type,\n"
    "no-capacity, unsupported, unreachable. Hosts not needed once N were\n"
    "confirmed are only counted (not probed).\n"
    "\n"
    "Options:\n"
    "  --instance UUID     the VM (its host and mdevs from the registry; versions\n"
    "                      read live from its collector, or the registry's copy,\n"
    "                      marked stale, when the collector does not answer)\n"
    "  --from HOST:DEVICE  mdevs on a host by UUID instead; several as\n"
    "                      HOST:DEVICE,DEVICE\n"
    "  --version STRING    a version as a driver prints it, with --type TYPE\n"
    "  --type TYPE         its mdev type, e.g. nvidia-222 (pairs may repeat)\n"
    "  --count N           how many destinations are wanted (1 to 10000; default 1)\n"
    "\n"
    "Exit 0 with at least one destination, 1 with none (or when the source is\n"
    "not migratable), 3 when the instance, host or device is unknown.\n"
    "\n"
    "Tab-separated records (without a terminal):\n"
    "  source       INSTANCE HOST VERSIONS(live|stale|given) MIGRATABLE REASON\n"
    "  mdev         UUID TYPE VERSION DIGEST12 REASON\n"
    "  destination  HOST (best first)\n"
    "  host         HOST VERDICT ERRNO FREE NOTES REASON (every host considered;\n"
    "               NOTES: stale, same-version, cached-compatible)\n"
    "  summary      NOT_PROBED PROBES_SENT ELAPSED_US\n"
    "\n"
    "--json: the answer of POST /v1/select, exactly as mdevmig-sched (or\n"
    "  libmdevmig in-process) gives it.\n";

enum {
    CMD_SELECT_INSTANCE,
    CMD_SELECT_FROM,
    CMD_SELECT_VERSION,
    CMD_SELECT_TYPE,
    CMD_SELECT_COUNT
};

static const struct args_option cmd_select_options[] = {
    [CMD_SELECT_INSTANCE] = {"instance", "UUID", CMD_SELECT_INSTANCE},
    [CMD_SELECT_FROM] = {"from", "HOST:DEVICE", CMD_SELECT_FROM},
    [CMD_SELECT_VERSION] = {"version", "STRING", CMD_SELECT_VERSION},
    [CMD_SELECT_TYPE] = {"type", "TYPE", CMD_SELECT_TYPE},
    [CMD_SELECT_COUNT] = {"count", "N", CMD_SELECT_COUNT},
};

struct cmd_select_opts {
    struct move move;
    long count;
};

static int cmd_select_take(void *ctx, int id, const char *value, char *err, size_t errlen)
{
    struct cmd_select_opts *o = ctx;
    switch (id) {
    case CMD_SELECT_INSTANCE:
        return move_instance(&o->move, value, err, errlen);
    case CMD_SELECT_FROM:
        return move_from(&o->move, value, err, errlen);
    case CMD_SELECT_VERSION:
        return move_version(&o->move, value, err, errlen);
    case CMD_SELECT_TYPE:
        return move_type(&o->move, value, err, errlen);
    case CMD_SELECT_COUNT:
        return args_count(value, "--count", CMD_SELECT_COUNT_MAX, &o->count, err, errlen);
    }
    return 0;
}

static int cmd_select_print(const struct cli *cli, const json_t *answer)
{
    bool tsv = cli->format == CLI_FORMAT_TSV;
    int rc = answer_print_source(cli, answer, stdout);
    const json_t *dest = json_object_get(answer, "destinations");
    size_t i;
    const json_t *item;

    static const char *const dest_headers[] = {"DESTINATION"};
    struct table *dt = table_new("destination", 1, dest_headers);
    json_array_foreach(dest, i, item) table_add(dt, (const char *[]){json_string_value(item)});

    static const char *const host_headers[] = {"HOST", "VERDICT", "ERRNO",
                                               "FREE", "NOTES",   "REASON"};
    struct table *ht = table_new("host", 6, host_headers);
    json_array_foreach(json_object_get(answer, "hosts"), i, item)
    {
        char errname[32], free_buf[32], notes[96];
        fmt_errno(errname, sizeof errname, fmt_int(item, "errno", 0));
        answer_notes(item, notes, sizeof notes);
        table_add(ht, (const char *[]){fmt_str(item, "host"), fmt_str(item, "verdict"), errname,
                                       fmt_field(item, "free_instances", free_buf, sizeof free_buf),
                                       notes, answer_reason(item)});
    }

    long long not_probed = fmt_int(answer, "not_probed", 0);
    long long probes = fmt_int(answer, "probes_sent", 0);
    long long elapsed_us = fmt_int(answer, "elapsed_us", 0);
    if (tsv) {
        static const char *const sum_headers[] = {"NOT_PROBED", "PROBES_SENT", "ELAPSED_US"};
        struct table *st = table_new("summary", 3, sum_headers);
        char a[32], b[32], c[32];
        snprintf(a, sizeof a, "%lld", not_probed);
        snprintf(b, sizeof b, "%lld", probes);
        snprintf(c, sizeof c, "%lld", elapsed_us);
        table_add(st, (const char *[]){a, b, c});
        if (rc == 0)
            rc = table_print(dt, stdout, cli->format, 0);
        if (rc == 0)
            rc = table_print(ht, stdout, cli->format, 0);
        if (rc == 0)
            rc = table_print(st, stdout, cli->format, 0);
        table_free(st);
    } else {
        char took[32];
        fmt_us(took, sizeof took, elapsed_us);
        fputc('\n', stdout);
        if (json_array_size(dest) == 0) {
            printf("no destination%s\n", json_is_true(json_object_get(answer, "migratable"))
                                             ? ": no host considered can take it"
                                             : ": the source is not migratable");
        } else {
            printf("destinations:");
            json_array_foreach(dest, i, item) printf(" %s", json_string_value(item));
            fputc('\n', stdout);
        }
        if (rc == 0 && table_rows(ht) > 0) {
            fputc('\n', stdout);
            rc = table_print(ht, stdout, cli->format, 0);
        }
        printf("\n%zu host%s with a verdict", table_rows(ht), table_rows(ht) == 1 ? "" : "s");
        if (not_probed > 0)
            printf(", %lld more not probed (enough were confirmed before them)", not_probed);
        printf("; %lld probe%s in %s\n", probes, probes == 1 ? "" : "s", took);
        if (ferror(stdout))
            rc = -1;
    }
    table_free(dt);
    table_free(ht);
    return rc;
}

static int cmd_select_run(struct cli *cli, int argc, char **argv)
{
    struct cmd_select_opts opts = {0};
    move_init(&opts.move);
    char err[1024];
    int rc = args_parse(cli, argc, argv, cmd_select_options,
                        sizeof cmd_select_options / sizeof cmd_select_options[0], cmd_select_take,
                        &opts, false, NULL, err, sizeof err);
    if (rc == 1) {
        cli_help_command(stdout, &cmd_select);
        return CLI_EXIT_OK;
    }
    struct mdevmig_request req = MDEVMIG_REQUEST_INIT;
    if (rc == 0 && move_request(&opts.move, true, &req, err, sizeof err) < 0)
        rc = -1;
    if (rc < 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "%s (see mdevmig select --help)", err);
        return cli_fail(cli, CLI_EXIT_USAGE, msg);
    }
    req.count = opts.count > 0 ? (size_t)opts.count : 0;

    struct backend *b = NULL;
    rc = backend_open(cli, true, &b, err, sizeof err);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);
    char *text = NULL;
    json_t *answer = NULL;
    bool shown = progress_show(cli, "probing candidate hosts (%s)…", backend_name(b));
    rc = backend_decide(b, BACKEND_SELECT, &req, &text, &answer, err, sizeof err);
    progress_done(shown);
    backend_close(b);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);

    if (cli->format == CLI_FORMAT_JSON) {
        if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF)
            rc = CLI_EXIT_BACKEND;
    } else if (cmd_select_print(cli, answer) < 0) {
        rc = CLI_EXIT_BACKEND;
    }
    if (rc == CLI_EXIT_OK)
        rc = json_array_size(json_object_get(answer, "destinations")) > 0 ? CLI_EXIT_OK
                                                                          : CLI_EXIT_NO;
    free(text);
    json_decref(answer);
    return rc == CLI_EXIT_BACKEND
               ? cli_fail(cli, rc, "cannot print the answer (out of memory or output)")
               : rc;
}

const struct cli_command cmd_select = {
    .name = "select",
    .summary = "the confirmed destinations for a VM",
    .help = cmd_select_help,
    .run = cmd_select_run,
};
