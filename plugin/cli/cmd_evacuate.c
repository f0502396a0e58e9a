/*
 * cmd_evacuate — `mdevmig evacuate --host H`: before a host goes down for
 * maintenance, where does each of its VMs go? The plan comes from
 * libmdevmig (in-process or through mdevmig-sched's POST /v1/evacuate):
 * every destination confirmed by a live probe in this call, capacity spent
 * as VMs are placed. This file only asks and prints: a summary for a
 * person, records for a pipe, the plan as JSON, or the `openstack server
 * migrate` lines a batch tool runs.
 */
#include "args.h"
#include "backend.h"
#include "fmt.h"
#include "progress.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char cmd_evacuate_help[] =
    "usage: mdevmig evacuate --host HOST [--policy spread|pack] [--emit openstack]\n"
    "                        [GLOBAL OPTIONS]\n"
    "\n"
    "A plan to move every VM with mdevs off HOST: a destination for each VM, all\n"
    "of its mdevs on that one host, or the reason there is none. Every\n"
    "destination is confirmed in this call by a live write-probe of the VM's\n"
    "migration_version into the destination's driver; one probe per (source\n"
    "version, destination, type) answers for every VM that shares it. Free\n"
    "instances are spent parent by parent as VMs are placed, the most\n"
    "constrained VM first (the fewest hosts that could take it, then the most\n"
    "mdevs); the same cluster gives the same plan. The source's versions are\n"
    "read live from its collector, or taken from the registry (\"stale\") when it\n"
    "does not answer. Nothing is migrated: the plan is for a person or a batch\n"
    "tool to carry out, in its order.\n"
    "\n"
    "Options:\n"
    "  --host HOST        the host to empty\n"
    "  --policy POLICY    spread (default): each VM to the host with the most\n"
    "                     room for it; pack: to the host with the least room\n"
    "                     that still fits it, keeping other hosts free\n"
    "  --emit openstack   print only one line per placed VM, in plan order, each\n"
    "                     a command the openstack client runs as printed:\n"
    "                       openstack --os-compute-api-version 2.30 server migrate\n"
    "                         --live-migration --host DEST UUID\n"
    "                     (on one line; VMs without a destination are counted on\n"
    "                     stderr). Compute API 2.30 is the first that takes a\n"
    "                     live migration's --host and still has Nova's scheduler\n"
    "                     check it (MdevMigrationFilter too); the client refuses\n"
    "                     --host without it.\n"
    "\n"
    "On a terminal a progress bar shows on stderr while probing (with\n"
    "--registry, by waves of probes; with --url, the time waited for\n"
    "mdevmig-sched) and the plan ends with a summary.\n"
    "\n"
    "Exit 0 when every VM with mdevs has a destination (or the host has none),\n"
    "1 when some VM has none, 3 when HOST is not in the registry.\n"
    "\n"
    "Tab-separated records (without a terminal), in plan order:\n"
    "  plan    HOST POLICY VMS PLACED UNPLACED VERSIONS(live|stale) PROBES WAVES\n"
    "          ELAPSED_US\n"
    "  vm      ORDER INSTANCE NAME VERDICT DESTINATION REASON (VERDICT: placed,\n"
    "          not-migratable, no-capacity, incompatible, unsupported, unreachable,\n"
    "          no-type)\n"
    "  mdev    INSTANCE UUID TYPE VERSION DESTINATION_PARENT\n"
    "  target  HOST VMS NOTES(stale,unreachable) ROOM (TYPE PARENT PLANNED/FREE,...)\n"
    "  probe   WAVE HOST TYPE LEVEL TARGET VERDICT ERRNO VMS ERROR\n"
    "\n"
    "--json: the answer of POST /v1/evacuate, exactly as mdevmig-sched (or\n"
    "  libmdevmig in-process) gives it: {\"host\", \"policy\", \"source_stale\",\n"
    "  \"vm_count\", \"placed\", \"unplaced\", \"vms\": [{\"order\", \"instance\", \"name\",\n"
    "  \"state\", \"verdict\", \"destination\", \"reason\", \"fitting_hosts\", \"hosts\": "
    "{\"full\",\n"
    "  \"filled\", \"refused\", \"unreachable\", \"no_type\"}, \"mdevs\": [{\"uuid\", \"type\",\n"
    "  \"version\", \"digest\", \"parent\", \"reason\"}]}], \"targets\": [{\"host\", \"stale\",\n"
    "  \"unreachable\", \"vms\", \"slots\": [{\"parent\", \"type\", \"free_instances\",\n"
    "  \"planned\"}]}], \"probes\": [{\"wave\", \"host\", \"type\", \"source_digest\",\n"
    "  \"verdict\", \"level\", \"target\", \"errno\", \"errno_name\", \"error\", \"elapsed_us\",\n"
    "  \"vms\"}], \"candidate_hosts\", \"probes_sent\", \"waves\", \"elapsed_us\"}.\n";

enum { CMD_EVACUATE_HOST, CMD_EVACUATE_POLICY, CMD_EVACUATE_EMIT };

static const struct args_option cmd_evacuate_options[] = {
    [CMD_EVACUATE_HOST] = {"host", "HOST", CMD_EVACUATE_HOST},
    [CMD_EVACUATE_POLICY] = {"policy", "POLICY", CMD_EVACUATE_POLICY},
    [CMD_EVACUATE_EMIT] = {"emit", "FORMAT", CMD_EVACUATE_EMIT},
};

struct cmd_evacuate_opts {
    const char *host;
    bool have_policy;
    enum mdevmig_policy policy;
    bool openstack;
};

/* The registry's rule for names (wire.c): printable ASCII, no space, no '/'. */
static bool cmd_evacuate_host_ok(const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        if (s[i] <= 0x20 || s[i] > 0x7e || s[i] == '/')
            return false;
    }
    return len > 0 && len <= 255;
}

static int cmd_evacuate_take(void *ctx, int id, const char *value, char *err, size_t errlen)
{
    struct cmd_evacuate_opts *o = ctx;
    switch (id) {
    case CMD_EVACUATE_HOST:
        if (o->host != NULL) {
            snprintf(err, errlen, "--host given twice; a plan empties one host");
            return -1;
        }
        if (!cmd_evacuate_host_ok(value)) {
            snprintf(err, errlen,
                     "--host \"%.80s\": a host name is 1 to 255 bytes of printable ASCII without "
                     "spaces or '/'",
                     value);
            return -1;
        }
        o->host = value;
        return 0;
    case CMD_EVACUATE_POLICY:
        if (o->have_policy) {
            snprintf(err, errlen, "--policy given twice");
            return -1;
        }
        if (mdevmig_policy_parse(value, &o->policy) < 0) {
            snprintf(err, errlen, "--policy \"%.80s\": expected spread or pack", value);
            return -1;
        }
        o->have_policy = true;
        return 0;
    case CMD_EVACUATE_EMIT:
        if (strcmp(value, "openstack") != 0) {
            snprintf(err, errlen,
                     "--emit \"%.80s\": the one format is openstack (openstack server migrate "
                     "lines)",
                     value);
            return -1;
        }
        o->openstack = true;
        return 0;
    }
    return 0;
}

/* ---- progress ------------------------------------------------------------ */

struct cmd_evacuate_show {
    const struct cli *cli;
    const char *host;
    bool shown;
};

static void cmd_evacuate_step(void *ctx, const struct mdevmig_progress *p)
{
    struct cmd_evacuate_show *show = ctx;
    if (strcmp(p->phase, "source") == 0)
        show->shown |= progress_bar(show->cli, 0, 0, "reading %s's mdev versions…", show->host);
    else
        show->shown |=
            progress_bar(show->cli, p->probes_answered, p->probes_sent,
                         "probes answered (wave %zu); %zu of %zu VMs placed in the draft", p->wave,
                         p->items_done, p->items);
}

static void cmd_evacuate_waiting(void *ctx, double seconds)
{
    struct cmd_evacuate_show *show = ctx;
    show->shown |= progress_bar(show->cli, 0, 0, "mdevmig-sched is probing for %s's VMs… %.0f s",
                                show->host, seconds);
}

/* ---- printing ------------------------------------------------------------ */

/* "nvidia-222@0000:3b:00.0,nvidia-223@..." for a placed VM; types only
 * otherwise. */
static char *cmd_evacuate_mdevs(const json_t *vm)
{
    size_t len = 1, i;
    const json_t *mdev;
    json_array_foreach(json_object_get(vm, "mdevs"), i, mdev)
    {
        const char *type = fmt_str(mdev, "type"), *parent = fmt_str(mdev, "parent");
        len += (type != NULL ? strlen(type) : 1) + (parent != NULL ? strlen(parent) + 1 : 0) + 1;
    }
    char *out = malloc(len);
    if (out == NULL)
        return NULL;
    size_t used = 0;
    out[0] = '\0';
    json_array_foreach(json_object_get(vm, "mdevs"), i, mdev)
    {
        const char *type = fmt_str(mdev, "type"), *parent = fmt_str(mdev, "parent");
        used += (size_t)snprintf(out + used, len - used, "%s%s%s%s", i > 0 ? "," : "",
                                 type != NULL && type[0] != '\0' ? type : "?",
                                 parent != NULL ? "@" : "", parent != NULL ? parent : "");
    }
    return out;
}

/* "nvidia-222 0000:3b:00.0 3/16, ..." for a target's parents it uses or
 * could have used. */
static char *cmd_evacuate_room(const json_t *target, bool tsv)
{
    size_t len = 1, i;
    const json_t *slot;
    json_array_foreach(json_object_get(target, "slots"), i, slot) len +=
        strlen(fmt_str(slot, "parent") ? fmt_str(slot, "parent") : "") +
        strlen(fmt_str(slot, "type") ? fmt_str(slot, "type") : "") + 48;
    char *out = malloc(len);
    if (out == NULL)
        return NULL;
    size_t used = 0;
    out[0] = '\0';
    json_array_foreach(json_object_get(target, "slots"), i, slot)
    {
        used += (size_t)snprintf(out + used, len - used, "%s%s %s %lld/%lld",
                                 i > 0 ? (tsv ? "," : ", ") : "", fmt_str(slot, "type"),
                                 fmt_str(slot, "parent"), fmt_int(slot, "planned", 0),
                                 fmt_int(slot, "free_instances", 0));
    }
    return out;
}

/* The compute API microversion of the printed lines. openstackclient
 * refuses `server migrate --live-migration --host` below 2.30 (its default
 * is 2.1), and 2.30 is where a live migration's host stops bypassing the
 * scheduler: Nova still runs its filters, MdevMigrationFilter among them,
 * on the destination named. The request it makes is os-migrateLive with
 * {"host": DEST, "block_migration": "auto"}. */
#define CMD_EVACUATE_COMPUTE_API "2.30"

static int cmd_evacuate_openstack(const struct cli *cli, const json_t *plan)
{
    size_t i;
    const json_t *vm;
    json_array_foreach(json_object_get(plan, "vms"), i, vm)
    {
        const char *dest = fmt_str(vm, "destination");
        if (dest != NULL && printf("openstack --os-compute-api-version " CMD_EVACUATE_COMPUTE_API
                                   " server migrate --live-migration --host %s %s\n",
                                   dest, fmt_str(vm, "instance")) < 0)
            return -1;
    }
    long long unplaced = fmt_int(plan, "unplaced", 0);
    if (unplaced > 0) {
        fflush(stdout);
        fprintf(stderr,
                "%s: %lld of %lld VMs have no destination and are not listed (mdevmig evacuate "
                "--host %s says why)\n",
                cli->program, unplaced, fmt_int(plan, "vm_count", 0), fmt_str(plan, "host"));
    }
    return 0;
}

/* The probes' verdicts counted: "4 compatible, 2 incompatible". */
static void cmd_evacuate_verdicts(const json_t *plan, char *buf, size_t len)
{
    static const char *const kinds[] = {"compatible", "incompatible", "unsupported", "no-type",
                                        "unreachable"};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t n = 0, i;
        const json_t *probe;
        json_array_foreach(json_object_get(plan, "probes"), i, probe) n +=
            strcmp(fmt_str(probe, "verdict") ? fmt_str(probe, "verdict") : "", kinds[k]) == 0;
        if (n > 0 && used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%zu %s", used > 0 ? ", " : "", n,
                                     kinds[k]);
    }
}

static int cmd_evacuate_print(const struct cli *cli, const json_t *plan)
{
    bool tsv = cli->format == CLI_FORMAT_TSV;
    int rc = 0;
    const char *origin = json_is_true(json_object_get(plan, "source_stale")) ? "stale" : "live";
    long long vm_count = fmt_int(plan, "vm_count", 0), placed = fmt_int(plan, "placed", 0);
    long long probes = fmt_int(plan, "probes_sent", 0), waves = fmt_int(plan, "waves", 0);
    long long elapsed = fmt_int(plan, "elapsed_us", 0);

    static const char *const vm_headers[] = {"ORDER",       "INSTANCE", "NAME",  "MDEVS",
                                             "DESTINATION", "VERDICT",  "REASON"};
    static const char *const vm_tsv_headers[] = {"ORDER",   "INSTANCE",    "NAME",
                                                 "VERDICT", "DESTINATION", "REASON"};
    struct table *vt = tsv ? table_new("vm", 6, vm_tsv_headers) : table_new("vm", 7, vm_headers);
    static const char *const mdev_headers[] = {"INSTANCE", "UUID", "TYPE", "VERSION", "PARENT"};
    struct table *mt = table_new("mdev", 5, mdev_headers);
    size_t i, k;
    const json_t *vm, *mdev;
    json_array_foreach(json_object_get(plan, "vms"), i, vm)
    {
        char order[24];
        snprintf(order, sizeof order, "%lld", fmt_int(vm, "order", 0));
        const char *reason = fmt_str(vm, "reason");
        if (tsv) {
            table_add(vt,
                      (const char *[]){order, fmt_str(vm, "instance"), fmt_str(vm, "name"),
                                       fmt_str(vm, "verdict"), fmt_str(vm, "destination"), reason});
            json_array_foreach(json_object_get(vm, "mdevs"), k, mdev)
                table_add(mt, (const char *[]){fmt_str(vm, "instance"), fmt_str(mdev, "uuid"),
                                               fmt_str(mdev, "type"), fmt_str(mdev, "version"),
                                               fmt_str(mdev, "parent")});
            continue;
        }
        char *mdevs = cmd_evacuate_mdevs(vm);
        if (mdevs == NULL) {
            rc = -1;
            break;
        }
        table_add(vt, (const char *[]){order, fmt_str(vm, "instance"), fmt_str(vm, "name"), mdevs,
                                       fmt_str(vm, "destination"), fmt_str(vm, "verdict"), reason});
        free(mdevs);
    }

    static const char *const target_headers[] = {"HOST", "VMS", "NOTES", "ROOM (PLANNED/FREE)"};
    struct table *tt = table_new("target", 4, target_headers);
    const json_t *target;
    json_array_foreach(json_object_get(plan, "targets"), i, target)
    {
        char vms[24], notes[32];
        snprintf(vms, sizeof vms, "%lld", fmt_int(target, "vms", 0));
        snprintf(notes, sizeof notes, "%s%s%s",
                 json_is_true(json_object_get(target, "stale")) ? "stale" : "",
                 json_is_true(json_object_get(target, "stale")) &&
                         json_is_true(json_object_get(target, "unreachable"))
                     ? ","
                     : "",
                 json_is_true(json_object_get(target, "unreachable")) ? "unreachable" : "");
        char *room = cmd_evacuate_room(target, tsv);
        if (room == NULL) {
            rc = -1;
            break;
        }
        table_add(tt, (const char *[]){fmt_str(target, "host"), vms, notes, room});
        free(room);
    }

    static const char *const probe_headers[] = {"WAVE",    "HOST",  "TYPE", "LEVEL", "TARGET",
                                                "VERDICT", "ERRNO", "VMS",  "ERROR"};
    struct table *pt = table_new("probe", 9, probe_headers);
    const json_t *probe;
    json_array_foreach(json_object_get(plan, "probes"), i, probe)
    {
        char wave[24], errname[32], vms[24];
        snprintf(wave, sizeof wave, "%lld", fmt_int(probe, "wave", 0));
        snprintf(vms, sizeof vms, "%lld", fmt_int(probe, "vms", 0));
        fmt_errno(errname, sizeof errname, fmt_int(probe, "errno", 0));
        table_add(pt, (const char *[]){wave, fmt_str(probe, "host"), fmt_str(probe, "type"),
                                       fmt_str(probe, "level"), fmt_str(probe, "target"),
                                       fmt_str(probe, "verdict"), errname, vms,
                                       fmt_str(probe, "error")});
    }

    if (rc == 0 && tsv) {
        static const char *const plan_headers[] = {"HOST",   "POLICY",   "VMS",
                                                   "PLACED", "UNPLACED", "SOURCE",
                                                   "PROBES", "WAVES",    "ELAPSED_US"};
        struct table *st = table_new("plan", 9, plan_headers);
        char a[24], b[24], c[24], d[24], e[24], f[24];
        snprintf(a, sizeof a, "%lld", vm_count);
        snprintf(b, sizeof b, "%lld", placed);
        snprintf(c, sizeof c, "%lld", vm_count - placed);
        snprintf(d, sizeof d, "%lld", probes);
        snprintf(e, sizeof e, "%lld", waves);
        snprintf(f, sizeof f, "%lld", elapsed);
        table_add(st, (const char *[]){fmt_str(plan, "host"), fmt_str(plan, "policy"), a, b, c,
                                       origin, d, e, f});
        rc = table_print(st, stdout, cli->format, 0);
        table_free(st);
        if (rc == 0)
            rc = table_print(vt, stdout, cli->format, 0);
        if (rc == 0)
            rc = table_print(mt, stdout, cli->format, 0);
        if (rc == 0)
            rc = table_print(tt, stdout, cli->format, 0);
        if (rc == 0)
            rc = table_print(pt, stdout, cli->format, 0);
    } else if (rc == 0) {
        char took[32], verdicts[256];
        fmt_us(took, sizeof took, elapsed);
        cmd_evacuate_verdicts(plan, verdicts, sizeof verdicts);
        printf("Evacuation of %s, policy %s: %lld of %lld VM%s with mdevs placed",
               fmt_str(plan, "host"), fmt_str(plan, "policy"), placed, vm_count,
               vm_count == 1 ? "" : "s");
        if (vm_count > placed)
            printf(", %lld without a destination", vm_count - placed);
        printf("\nsource versions: %s\n",
               strcmp(origin, "live") == 0
                   ? "read live from its collector"
                   : "from the registry (stale: its collector did not answer)");
        if (fmt_int(plan, "vms_without_mdevs", 0) > 0)
            printf("(%lld VM%s without mdevs left out: nothing of mdevmig's to plan)\n",
                   fmt_int(plan, "vms_without_mdevs", 0),
                   fmt_int(plan, "vms_without_mdevs", 0) == 1 ? "" : "s");
        if (table_rows(vt) > 0) {
            fputc('\n', stdout);
            rc = table_print(vt, stdout, cli->format, 0);
        }
        if (rc == 0 && table_rows(tt) > 0) {
            printf("\nDestinations considered (room: parents planned/free before the plan):\n");
            rc = table_print(tt, stdout, cli->format, 2);
        }
        printf("\n%lld probe%s in %lld wave%s%s%s%s over %lld candidate host%s; %s\n", probes,
               probes == 1 ? "" : "s", waves, waves == 1 ? "" : "s", verdicts[0] ? " (" : "",
               verdicts, verdicts[0] ? ")" : "", fmt_int(plan, "candidate_hosts", 0),
               fmt_int(plan, "candidate_hosts", 0) == 1 ? "" : "s", took);
        if (vm_count > placed)
            printf("every probe with its verdict: --json, or a pipe (probe records)\n");
        if (ferror(stdout))
            rc = -1;
    }
    table_free(vt);
    table_free(mt);
    table_free(tt);
    table_free(pt);
    return rc;
}

static int cmd_evacuate_run(struct cli *cli, int argc, char **argv)
{
    struct cmd_evacuate_opts opts = {.policy = MDEVMIG_POLICY_SPREAD};
    char err[1024];
    int rc = args_parse(cli, argc, argv, cmd_evacuate_options,
                        sizeof cmd_evacuate_options / sizeof cmd_evacuate_options[0],
                        cmd_evacuate_take, &opts, false, NULL, err, sizeof err);
    if (rc == 1) {
        cli_help_command(stdout, &cmd_evacuate);
        return CLI_EXIT_OK;
    }
    if (rc == 0 && opts.host == NULL) {
        snprintf(err, sizeof err, "--host HOST is required: the host to empty");
        rc = -1;
    }
    if (rc == 0 && opts.openstack && cli->format == CLI_FORMAT_JSON) {
        snprintf(err, sizeof err, "--emit openstack and --json both choose the output; give one");
        rc = -1;
    }
    if (rc < 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "%s (see mdevmig evacuate --help)", err);
        return cli_fail(cli, CLI_EXIT_USAGE, msg);
    }

    struct backend *b = NULL;
    rc = backend_open(cli, true, &b, err, sizeof err);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);
    struct cmd_evacuate_show show = {.cli = cli, .host = opts.host};
    struct backend_progress progress = {
        .step = cmd_evacuate_step,
        .waiting = cmd_evacuate_waiting,
        .ctx = &show,
    };
    show.shown =
        progress_bar(cli, 0, 0, "planning the evacuation of %s (%s)…", opts.host, backend_name(b));
    char *text = NULL;
    json_t *plan = NULL;
    rc = backend_evacuate(b, opts.host, opts.policy, cli->progress ? &progress : NULL, &text, &plan,
                          err, sizeof err);
    progress_done(show.shown);
    backend_close(b);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);

    int printed;
    if (cli->format == CLI_FORMAT_JSON)
        printed = fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF ? -1 : 0;
    else if (opts.openstack)
        printed = cmd_evacuate_openstack(cli, plan);
    else
        printed = cmd_evacuate_print(cli, plan);
    rc = fmt_int(plan, "unplaced", 0) > 0 ? CLI_EXIT_NO : CLI_EXIT_OK;
    free(text);
    json_decref(plan);
    if (printed < 0)
        return cli_fail(cli, CLI_EXIT_BACKEND, "cannot print the plan (out of memory or output)");
    return rc;
}

const struct cli_command cmd_evacuate = {
    .name = "evacuate",
    .summary = "a confirmed destination for every VM of a host",
    .help = cmd_evacuate_help,
    .run = cmd_evacuate_run,
};
