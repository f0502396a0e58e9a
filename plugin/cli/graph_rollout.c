/*
 * graph_rollout — a rollout plan as a picture (`mdevmig rollout --format
 * dot|svg`): a box (cluster) per wave holding the hosts it upgrades, the
 * other hosts VMs move to outside, and an edge per (wave, from, to)
 * labelled with the wave and the VMs it carries. A VM that cannot stay
 * migratable is a red note in its wave, tied to its host by a dashed edge
 * labelled with the driver's errno. Hosts and edges are exactly the
 * plan's (`--json`), so a test can compare the two.
 */
#include "fmt.h"
#include "graph.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_ROLLOUT_RED  "#cf222e"
#define GRAPH_ROLLOUT_BLUE "#0969da"
/* VM names an edge lists before "+N more". */
#define GRAPH_ROLLOUT_NAMES 4

static void graph_rollout_node(FILE *out, const char *indent, const char *host, const char *note)
{
    fprintf(out, "%s\"", indent);
    graph_text(out, host);
    fprintf(out, "\" [label=\"");
    graph_text(out, host);
    fprintf(out, "%s\"];\n", note);
}

static bool graph_rollout_listed(const json_t *list, const char *name)
{
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        if (strcmp(json_string_value(item), name) == 0)
            return true;
    }
    return false;
}

/* One edge per (from, to) of a wave, the VMs it carries as its label. */
static void graph_rollout_moves(FILE *out, long long wave, const json_t *moves)
{
    size_t n = json_array_size(moves);
    bool *done = calloc(n + 1, sizeof *done);
    for (size_t i = 0; done != NULL && i < n; i++) {
        if (done[i])
            continue;
        const json_t *first = json_array_get(moves, i);
        const char *from = fmt_str(first, "from"), *to = fmt_str(first, "to");
        size_t count = 0;
        fprintf(out, "  \"");
        graph_text(out, from);
        fprintf(out, "\" -> \"");
        graph_text(out, to);
        fprintf(out, "\" [label=\"w%lld: ", wave);
        for (size_t j = i; j < n; j++) {
            const json_t *m = json_array_get(moves, j);
            if (done[j] || strcmp(fmt_str(m, "from"), from) != 0 ||
                strcmp(fmt_str(m, "to"), to) != 0)
                continue;
            done[j] = true;
            if (count < GRAPH_ROLLOUT_NAMES) {
                const char *name = fmt_str(m, "name");
                fprintf(out, "%s", count > 0 ? ", " : "");
                graph_text(out, name != NULL && name[0] != '\0' ? name : fmt_str(m, "instance"));
            }
            count++;
        }
        if (count > GRAPH_ROLLOUT_NAMES)
            fprintf(out, " +%zu more", count - GRAPH_ROLLOUT_NAMES);
        fprintf(out, "\", tooltip=\"%zu VM%s\", color=\"%s\"%s];\n", count, count == 1 ? "" : "s",
                GRAPH_ROLLOUT_BLUE,
                json_is_true(json_object_get(first, "to_upgraded")) ? ", style=bold" : "");
    }
    free(done);
}

int graph_write_rollout_dot(FILE *out, const json_t *answer, char *err, size_t errlen)
{
    const json_t *waves = json_object_get(answer, "waves");
    if (!json_is_array(waves)) {
        snprintf(err, errlen, "the answer has no waves to draw (a what-if has none)");
        return -1;
    }
    fprintf(out, "digraph rollout {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans\"];\n"
                 "  label=\"rollout to ");
    graph_text(out, fmt_str(answer, "like"));
    fprintf(out, "'s driver\";\n  labelloc=t;\n");
    json_t *in_waves = json_array();
    size_t w, i;
    const json_t *wave, *host, *vm;
    json_array_foreach(waves, w, wave)
    {
        long long n = fmt_int(wave, "wave", (long long)w + 1);
        fprintf(out,
                "  subgraph cluster_wave_%lld {\n    label=\"wave %lld\";\n    style=rounded;\n", n,
                n);
        json_array_foreach(json_object_get(wave, "hosts"), i, host)
        {
            graph_rollout_node(out, "    ", json_string_value(host), "\\n(upgraded)");
            json_array_append(in_waves, (json_t *)host);
        }
        json_array_foreach(json_object_get(wave, "stranded"), i, vm)
        {
            const char *name = fmt_str(vm, "name");
            fprintf(out, "    \"stranded/%lld/", n);
            graph_text(out, fmt_str(vm, "instance"));
            fprintf(out, "\" [shape=note, color=\"%s\", fontcolor=\"%s\", label=\"",
                    GRAPH_ROLLOUT_RED, GRAPH_ROLLOUT_RED);
            graph_text(out, name != NULL && name[0] != '\0' ? name : fmt_str(vm, "instance"));
            fprintf(out, "\\nstranded\"];\n");
        }
        fprintf(out, "  }\n");
    }
    /* Destinations that are not upgraded themselves. */
    json_t *others = json_array();
    json_array_foreach(waves, w, wave)
    {
        const json_t *move;
        json_array_foreach(json_object_get(wave, "moves"), i, move)
        {
            const char *to = fmt_str(move, "to");
            if (to != NULL && !graph_rollout_listed(in_waves, to) &&
                !graph_rollout_listed(others, to)) {
                json_array_append_new(others, json_string(to));
                graph_rollout_node(out, "  ", to, "");
            }
        }
    }
    json_array_foreach(waves, w, wave)
    {
        long long n = fmt_int(wave, "wave", (long long)w + 1);
        graph_rollout_moves(out, n, json_object_get(wave, "moves"));
        json_array_foreach(json_object_get(wave, "stranded"), i, vm)
        {
            char errname[32];
            fmt_errno(errname, sizeof errname, fmt_int(vm, "errno", 0));
            fprintf(out, "  \"");
            graph_text(out, fmt_str(vm, "host"));
            fprintf(out, "\" -> \"stranded/%lld/", n);
            graph_text(out, fmt_str(vm, "instance"));
            fprintf(out, "\" [style=dashed, color=\"%s\", label=\"", GRAPH_ROLLOUT_RED);
            graph_text(out, errname[0] != '\0' ? errname : fmt_str(vm, "verdict"));
            fprintf(out, "\"];\n");
        }
    }
    fprintf(out, "}\n");
    json_decref(in_waves);
    json_decref(others);
    if (ferror(out)) {
        snprintf(err, errlen, "cannot write the picture");
        return -1;
    }
    return 0;
}
