/*
 * cmd_inventory — `mdevmig inventory [--host H]`: what each host has, as
 * its collector last published it: parents and types with room and
 * version, devices with the VM using each, and which hosts went quiet.
 */
#include "args.h"
#include "backend.h"
#include "fmt.h"
#include "table.h"

#include <stdio.h>
#include <string.h>

static const char cmd_inventory_help[] =
    "usage: mdevmig inventory [--host HOST] [GLOBAL OPTIONS]\n"
    "\n"
    "Hosts as their collectors last published them: each host's mdev parents\n"
    "and types (free instances, migration version) and devices (the VM using\n"
    "each). A host not heard from for 180 s is marked stale.\n"
    "\n"
    "Options:\n"
    "  --host HOST  only this host (exit 3 when the registry does not know it)\n"
    "\n"
    "Tab-separated records (without a terminal):\n"
    "  host    NAME STATE(ok|stale) AGE_S GENERATION PARENTS DEVICES VMS COLLECTOR_URL\n"
    "  type    HOST PARENT TYPE NAME FREE VERSION\n"
    "  device  HOST UUID PARENT TYPE VM_UUID VM_NAME\n"
    "  A type without a readable version shows \"(no migration_version)\" or\n"
    "  \"(unreadable: ERRNO)\" as VERSION.\n"
    "\n"
    "--json: {\"hosts\": [{\"host\", \"last_seen\" (unix s), \"age_s\", \"stale\",\n"
    "  \"inventory\": the collector's snapshot (schema/inventory.schema.json)}]},\n"
    "  by host name; with --host a list of one. mdevmig-sched's GET /v1/inventory.\n";

struct cmd_inventory_opts {
    const char *host;
};

static const struct args_option cmd_inventory_options[] = {{"host", "HOST", 0}};

static int cmd_inventory_take(void *ctx, int id, const char *value, char *err, size_t errlen)
{
    struct cmd_inventory_opts *o = ctx;
    (void)id;
    if (value[0] == '\0') {
        snprintf(err, errlen, "--host needs a host name");
        return -1;
    }
    o->host = value;
    return 0;
}

/* A type's or device's migration_version as a cell. */
static const char *cmd_inventory_version(const json_t *migration, char *buf, size_t len)
{
    if (!json_is_true(json_object_get(migration, "supported")))
        return "(no migration_version)";
    const char *version = fmt_str(migration, "version");
    if (version != NULL)
        return version;
    char name[32];
    fmt_errno(name, sizeof name, fmt_int(migration, "errno", 0));
    snprintf(buf, len, "(unreadable: %s)", name[0] != '\0' ? name : "?");
    return buf;
}

/* The name of the VM with uuid, from the host's instance list. */
static const char *cmd_inventory_vm_name(const json_t *inv, const char *uuid)
{
    size_t i;
    const json_t *vm;
    json_array_foreach(json_object_get(inv, "instances"), i, vm)
    {
        const char *u = fmt_str(vm, "uuid");
        if (uuid != NULL && u != NULL && strcmp(u, uuid) == 0)
            return fmt_str(vm, "name");
    }
    return NULL;
}

static void cmd_inventory_rows(const struct cli *cli, const json_t *entry, struct table *hosts,
                               struct table *types, struct table *devices)
{
    const char *name = fmt_str(entry, "host");
    const json_t *inv = json_object_get(entry, "inventory");
    bool stale = json_is_true(json_object_get(entry, "stale"));
    char age[32], generation[32], parents[16], device_count[16], vms[16];
    if (cli->format == CLI_FORMAT_TSV)
        snprintf(age, sizeof age, "%lld", fmt_int(entry, "age_s", 0));
    else
        fmt_age(age, sizeof age, fmt_int(entry, "age_s", 0));
    fmt_field(inv, "generation", generation, sizeof generation);
    snprintf(parents, sizeof parents, "%zu", json_array_size(json_object_get(inv, "parents")));
    snprintf(device_count, sizeof device_count, "%zu",
             json_array_size(json_object_get(inv, "devices")));
    snprintf(vms, sizeof vms, "%zu", json_array_size(json_object_get(inv, "instances")));
    table_add(hosts, (const char *[]){name, stale ? "stale" : "ok", age, generation, parents,
                                      device_count, vms, fmt_str(inv, "collector_url")});

    size_t p, t, d;
    const json_t *parent, *type, *dev;
    json_array_foreach(json_object_get(inv, "parents"), p, parent)
    {
        json_array_foreach(json_object_get(parent, "types"), t, type)
        {
            char free_buf[32], version_buf[64];
            table_add(types,
                      (const char *[]){
                          name, fmt_str(parent, "name"), fmt_str(type, "id"), fmt_str(type, "name"),
                          fmt_field(type, "available_instances", free_buf, sizeof free_buf),
                          cmd_inventory_version(json_object_get(type, "migration"), version_buf,
                                                sizeof version_buf)});
        }
    }
    json_array_foreach(json_object_get(inv, "devices"), d, dev)
    {
        const char *vm = fmt_str(dev, "instance");
        table_add(devices,
                  (const char *[]){name, fmt_str(dev, "uuid"), fmt_str(dev, "parent"),
                                   fmt_str(dev, "type"), vm, cmd_inventory_vm_name(inv, vm)});
    }
}

static int cmd_inventory_print(const struct cli *cli, const json_t *listing, const char *source)
{
    static const char *const host_headers[] = {"HOST",    "STATE",   "SEEN", "GENERATION",
                                               "PARENTS", "DEVICES", "VMS",  "COLLECTOR"};
    static const char *const type_headers[] = {"HOST", "PARENT", "TYPE", "NAME", "FREE", "VERSION"};
    static const char *const device_headers[] = {"HOST", "DEVICE", "PARENT",
                                                 "TYPE", "VM",     "VM NAME"};
    struct table *hosts = table_new("host", 8, host_headers);
    struct table *types = table_new("type", 6, type_headers);
    struct table *devices = table_new("device", 6, device_headers);
    size_t i;
    const json_t *entry;
    json_array_foreach(json_object_get(listing, "hosts"), i, entry)
        cmd_inventory_rows(cli, entry, hosts, types, devices);

    int rc = 0;
    bool table = cli->format == CLI_FORMAT_TABLE;
    if (table && table_rows(hosts) == 0)
        printf("no hosts in %s\n", source);
    rc = table_print(hosts, stdout, cli->format, 0);
    if (rc == 0 && table && table_rows(types) > 0)
        fputc('\n', stdout);
    if (rc == 0)
        rc = table_print(types, stdout, cli->format, 0);
    if (rc == 0 && table && table_rows(devices) > 0)
        fputc('\n', stdout);
    if (rc == 0)
        rc = table_print(devices, stdout, cli->format, 0);
    table_free(hosts);
    table_free(types);
    table_free(devices);
    return rc;
}

static int cmd_inventory_run(struct cli *cli, int argc, char **argv)
{
    struct cmd_inventory_opts opts = {0};
    char err[1024];
    int rc = args_parse(cli, argc, argv, cmd_inventory_options,
                        sizeof cmd_inventory_options / sizeof cmd_inventory_options[0],
                        cmd_inventory_take, &opts, false, NULL, err, sizeof err);
    if (rc == 1) {
        cli_help_command(stdout, &cmd_inventory);
        return CLI_EXIT_OK;
    }
    if (rc < 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "%s (see mdevmig inventory --help)", err);
        return cli_fail(cli, CLI_EXIT_USAGE, msg);
    }
    struct backend *b = NULL;
    rc = backend_open(cli, false, &b, err, sizeof err);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);
    json_t *listing = NULL;
    rc = backend_inventory(b, opts.host, &listing, err, sizeof err);
    if (rc == CLI_EXIT_OK) {
        if (cli->format == CLI_FORMAT_JSON) {
            if (json_dumpf(listing, stdout, JSON_COMPACT) < 0 || fputc('\n', stdout) == EOF)
                rc = CLI_EXIT_BACKEND;
        } else if (cmd_inventory_print(cli, listing, backend_name(b)) < 0) {
            rc = CLI_EXIT_BACKEND;
        }
        if (rc != CLI_EXIT_OK)
            snprintf(err, sizeof err, "cannot print the inventory (out of memory or output)");
    }
    json_decref(listing);
    backend_close(b);
    return rc == CLI_EXIT_OK ? rc : cli_fail(cli, rc, err);
}

const struct cli_command cmd_inventory = {
    .name = "inventory",
    .summary = "hosts with their mdev parents, types and devices",
    .help = cmd_inventory_help,
    .run = cmd_inventory_run,
};
