/*
 * cmd_versions — `mdevmig versions [--type T]`: the cluster by driver
 * version. Hosts sharing a (type, version) group need no probe between
 * them type-wise, so the groups show at a glance where a VM can move
 * without asking, and which hosts lag behind an upgrade.
 */
#include "args.h"
#include "backend.h"
#include "fmt.h"
#include "table.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char cmd_versions_help[] =
    "usage: mdevmig versions [--type TYPE] [GLOBAL OPTIONS]\n"
    "\n"
    "Hosts grouped by mdev type and migration version: per group the type,\n"
    "the version string, the first 12 hex digits of its digest, how many hosts\n"
    "and which, and their free instances in total. Types whose version cannot\n"
    "be read form groups of their own: \"(no migration_version)\" or\n"
    "\"(unreadable: ERRNO)\".\n"
    "\n"
    "Options:\n"
    "  --type TYPE  only this mdev type, e.g. nvidia-222 (exit 3 when no host\n"
    "               offers it)\n"
    "\n"
    "Tab-separated records (without a terminal):\n"
    "  group  TYPE VERSION DIGEST12 HOST_COUNT FREE HOSTS STALE_HOSTS\n"
    "  (HOSTS and STALE_HOSTS comma-separated; stale hosts are in both)\n"
    "\n"
    "--json: {\"groups\": [{\"type\", \"version\" (null when none), \"digest\" (null\n"
    "  when none), \"supported\", \"errno\" (reading it, or null), \"host_count\",\n"
    "  \"hosts\": [...], \"stale_hosts\": [...], \"free_instances\"}]}, ordered by\n"
    "  type, then version.\n";

struct cmd_versions_opts {
    const char *type;
};

static const struct args_option cmd_versions_options[] = {{"type", "TYPE", 0}};

static int cmd_versions_take(void *ctx, int id, const char *value, char *err, size_t errlen)
{
    struct cmd_versions_opts *o = ctx;
    (void)id;
    if (!version_type_id_valid(value)) {
        snprintf(err, errlen,
                 "--type \"%.80s\" is not an mdev type id (<driver>-<name>, e.g. nvidia-222)",
                 value);
        return -1;
    }
    o->type = value;
    return 0;
}

/* One (type, version) group; strings borrowed from the inventory JSON. */
struct cmd_versions_group {
    const char *type;
    const char *version; /* NULL: none readable */
    const char *digest;
    bool supported;
    long long read_errno;
    json_t *hosts;
    json_t *stale_hosts;
    long long free_instances;
};

struct cmd_versions_groups {
    struct cmd_versions_group *items;
    size_t count;
    size_t cap;
};

static void cmd_versions_clear(struct cmd_versions_groups *g)
{
    for (size_t i = 0; i < g->count; i++) {
        json_decref(g->items[i].hosts);
        json_decref(g->items[i].stale_hosts);
    }
    free(g->items);
}

static bool cmd_versions_same(const struct cmd_versions_group *g, const char *type,
                              const char *version, bool supported, long long read_errno)
{
    if (strcmp(g->type, type) != 0 || g->supported != supported)
        return false;
    if (version != NULL || g->version != NULL)
        return version != NULL && g->version != NULL && strcmp(version, g->version) == 0;
    return g->read_errno == read_errno;
}

/* Append name unless it is already last: hosts come one at a time, and
 * one host offers a type on several parents. */
static int cmd_versions_add_host(json_t *list, const char *name)
{
    size_t n = json_array_size(list);
    const char *last = n > 0 ? json_string_value(json_array_get(list, n - 1)) : NULL;
    if (last != NULL && strcmp(last, name) == 0)
        return 0;
    return json_array_append_new(list, json_string(name));
}

static int cmd_versions_add(struct cmd_versions_groups *g, const char *host, bool stale,
                            const json_t *type)
{
    const char *id = fmt_str(type, "id");
    const json_t *mig = json_object_get(type, "migration");
    const char *version = fmt_str(mig, "version");
    bool supported = json_is_true(json_object_get(mig, "supported"));
    long long read_errno = version == NULL ? fmt_int(mig, "errno", 0) : 0;
    if (id == NULL)
        return 0;
    struct cmd_versions_group *group = NULL;
    for (size_t i = 0; i < g->count && group == NULL; i++) {
        if (cmd_versions_same(&g->items[i], id, version, supported, read_errno))
            group = &g->items[i];
    }
    if (group == NULL) {
        if (g->count == g->cap) {
            size_t cap = g->cap == 0 ? 16 : g->cap * 2;
            struct cmd_versions_group *grown = realloc(g->items, cap * sizeof *grown);
            if (grown == NULL)
                return -1;
            g->items = grown;
            g->cap = cap;
        }
        group = &g->items[g->count];
        *group = (struct cmd_versions_group){
            .type = id,
            .version = version,
            .digest = version != NULL ? fmt_str(mig, "digest") : NULL,
            .supported = supported,
            .read_errno = read_errno,
            .hosts = json_array(),
            .stale_hosts = json_array(),
        };
        g->count++;
        if (group->hosts == NULL || group->stale_hosts == NULL)
            return -1;
    }
    long long free_here = fmt_int(type, "available_instances", -1);
    if (free_here > 0)
        group->free_instances += free_here;
    if (cmd_versions_add_host(group->hosts, host) < 0 ||
        (stale && cmd_versions_add_host(group->stale_hosts, host) < 0))
        return -1;
    return 0;
}

static int cmd_versions_cmp(const void *a, const void *b)
{
    const struct cmd_versions_group *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    if (c != 0)
        return c;
    /* Readable versions first, then unreadable, then none at all. */
    int rx = x->version != NULL ? 0 : x->supported ? 1 : 2;
    int ry = y->version != NULL ? 0 : y->supported ? 1 : 2;
    if (rx != ry)
        return rx - ry;
    if (x->version != NULL)
        return strcmp(x->version, y->version);
    return x->read_errno < y->read_errno ? -1 : x->read_errno > y->read_errno;
}

static int cmd_versions_build(const json_t *listing, const char *only_type,
                              struct cmd_versions_groups *g)
{
    size_t h, p, t;
    const json_t *entry, *parent, *type;
    json_array_foreach(json_object_get(listing, "hosts"), h, entry)
    {
        const char *host = fmt_str(entry, "host");
        bool stale = json_is_true(json_object_get(entry, "stale"));
        const json_t *inv = json_object_get(entry, "inventory");
        if (host == NULL)
            continue;
        json_array_foreach(json_object_get(inv, "parents"), p, parent)
        {
            json_array_foreach(json_object_get(parent, "types"), t, type)
            {
                const char *id = fmt_str(type, "id");
                if (only_type != NULL && (id == NULL || strcmp(id, only_type) != 0))
                    continue;
                if (cmd_versions_add(g, host, stale, type) < 0)
                    return -1;
            }
        }
    }
    if (g->count > 1)
        qsort(g->items, g->count, sizeof *g->items, cmd_versions_cmp);
    return 0;
}

static json_t *cmd_versions_json(const struct cmd_versions_groups *g)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < g->count && groups != NULL; i++) {
        const struct cmd_versions_group *group = &g->items[i];
        json_t *item = json_pack(
            "{s:s, s:s?, s:s?, s:b, s:o, s:I, s:O, s:O, s:I}", "type", group->type, "version",
            group->version, "digest", group->digest, "supported", group->supported, "errno",
            group->read_errno != 0 ? json_integer(group->read_errno) : json_null(), "host_count",
            (json_int_t)json_array_size(group->hosts), "hosts", group->hosts, "stale_hosts",
            group->stale_hosts, "free_instances", (json_int_t)group->free_instances);
        if (item == NULL || json_array_append_new(groups, item) < 0) {
            json_decref(groups);
            return NULL;
        }
    }
    return groups != NULL ? json_pack("{s:o}", "groups", groups) : NULL;
}

/* Host names joined by ", " (table: stale ones marked) or "," (TSV). */
static char *cmd_versions_names(const json_t *hosts, const json_t *stale, bool mark)
{
    size_t len = 1, i;
    const json_t *name;
    json_array_foreach(hosts, i, name) len += json_string_length(name) + 10;
    char *out = malloc(len);
    if (out == NULL)
        return NULL;
    size_t used = 0;
    out[0] = '\0';
    json_array_foreach(hosts, i, name)
    {
        bool is_stale = false;
        size_t k;
        const json_t *s;
        json_array_foreach(stale, k, s) is_stale = is_stale || json_equal(s, name);
        used += (size_t)snprintf(out + used, len - used, "%s%s%s", i > 0 ? (mark ? ", " : ",") : "",
                                 json_string_value(name), mark && is_stale ? " (stale)" : "");
    }
    return out;
}

static int cmd_versions_print(const struct cli *cli, const struct cmd_versions_groups *g)
{
    static const char *const headers[] = {"TYPE", "VERSION", "DIGEST", "HOSTS",
                                          "FREE", "NAMES",   "STALE"};
    bool tsv = cli->format == CLI_FORMAT_TSV;
    /* The table marks stale hosts among the names; TSV lists them apart. */
    struct table *t = table_new("group", tsv ? 7 : 6, headers);
    for (size_t i = 0; i < g->count; i++) {
        const struct cmd_versions_group *group = &g->items[i];
        char version[64], digest[16], count[16], free_buf[32], errname[32];
        const char *v = group->version;
        if (v == NULL && group->supported) {
            fmt_errno(errname, sizeof errname, group->read_errno);
            snprintf(version, sizeof version, "(unreadable: %s)", errname);
            v = version;
        } else if (v == NULL) {
            v = "(no migration_version)";
        }
        fmt_digest12(digest, sizeof digest, group->digest);
        snprintf(count, sizeof count, "%zu", json_array_size(group->hosts));
        snprintf(free_buf, sizeof free_buf, "%lld", group->free_instances);
        char *names = cmd_versions_names(group->hosts, group->stale_hosts, !tsv);
        char *stale = tsv ? cmd_versions_names(group->stale_hosts, NULL, false) : NULL;
        if (names == NULL || (tsv && stale == NULL)) {
            free(names);
            free(stale);
            table_free(t);
            return -1;
        }
        table_add(t, (const char *[]){group->type, v, digest, count, free_buf, names, stale});
        free(names);
        free(stale);
    }
    if (!tsv && g->count == 0)
        printf("no mdev types in the registry\n");
    int rc = table_print(t, stdout, cli->format, 0);
    table_free(t);
    return rc;
}

static int cmd_versions_run(struct cli *cli, int argc, char **argv)
{
    struct cmd_versions_opts opts = {0};
    char err[1024];
    int rc = args_parse(cli, argc, argv, cmd_versions_options,
                        sizeof cmd_versions_options / sizeof cmd_versions_options[0],
                        cmd_versions_take, &opts, false, NULL, err, sizeof err);
    if (rc == 1) {
        cli_help_command(stdout, &cmd_versions);
        return CLI_EXIT_OK;
    }
    if (rc < 0) {
        char msg[1100];
        snprintf(msg, sizeof msg, "%s (see mdevmig versions --help)", err);
        return cli_fail(cli, CLI_EXIT_USAGE, msg);
    }
    struct backend *b = NULL;
    rc = backend_open(cli, false, &b, err, sizeof err);
    if (rc != CLI_EXIT_OK)
        return cli_fail(cli, rc, err);
    json_t *listing = NULL;
    struct cmd_versions_groups groups = {0};
    rc = backend_inventory(b, NULL, &listing, err, sizeof err);
    if (rc == CLI_EXIT_OK && cmd_versions_build(listing, opts.type, &groups) < 0) {
        snprintf(err, sizeof err, "out of memory");
        rc = CLI_EXIT_BACKEND;
    }
    if (rc == CLI_EXIT_OK && opts.type != NULL && groups.count == 0) {
        snprintf(err, sizeof err, "no host in %s offers type %s", backend_name(b), opts.type);
        rc = CLI_EXIT_NOT_FOUND;
    }
    if (rc == CLI_EXIT_OK) {
        int printed;
        if (cli->format == CLI_FORMAT_JSON) {
            json_t *out = cmd_versions_json(&groups);
            printed = out != NULL && json_dumpf(out, stdout, JSON_COMPACT) == 0 &&
                              fputc('\n', stdout) != EOF
                          ? 0
                          : -1;
            json_decref(out);
        } else {
            printed = cmd_versions_print(cli, &groups);
        }
        if (printed < 0) {
            snprintf(err, sizeof err, "cannot print the groups (out of memory or output)");
            rc = CLI_EXIT_BACKEND;
        }
    }
    cmd_versions_clear(&groups);
    json_decref(listing);
    backend_close(b);
    return rc == CLI_EXIT_OK ? rc : cli_fail(cli, rc, err);
}

const struct cli_command cmd_versions = {
    .name = "versions",
    .summary = "hosts grouped by mdev type and migration version",
    .help = cmd_versions_help,
    .run = cmd_versions_run,
};
