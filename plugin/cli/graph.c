/*
 * graph — DOT from the matrix answer, and SVG through Graphviz's dot.
 *
 * Text a driver or an operator chose (versions above all: any ASCII byte
 * but NUL) is shown as the table shows it, through escape_text (\t, \x1b,
 * a backslash doubled), and that text is then escaped once more for DOT:
 * a backslash and a quote each get a backslash, which Graphviz's scanner
 * and its label escapes (\n, \N, \G...) both undo. So no byte can end a
 * string early, start a label escape or reach a terminal raw, and the
 * picture reads exactly like the table.
 *
 * Layout: compatible edges are the only ones that rank the nodes
 * (constraint=false on the rest), so an upgrade path reads left to right.
 */
#include "graph.h"

#include "escape.h"
#include "fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define GRAPH_GREEN "#1a7f37"
#define GRAPH_RED   "#cf222e"
#define GRAPH_GRAY  "#6e7781"

enum graph_format graph_format_parse(const char *name)
{
    if (strcmp(name, "dot") == 0)
        return GRAPH_DOT;
    if (strcmp(name, "svg") == 0)
        return GRAPH_SVG;
    return GRAPH_NONE;
}

int graph_format_take(enum graph_format *picture, const char **given, const char *value, char *err,
                      size_t errlen)
{
    if (*given != NULL) {
        snprintf(err, errlen, "--format given twice (\"%.40s\", \"%.40s\"); give one", *given,
                 value);
        return -1;
    }
    *picture = graph_format_parse(value);
    if (*picture == GRAPH_NONE) {
        snprintf(err, errlen,
                 "--format \"%.80s\": expected dot or svg (leave --format out for the table "
                 "on a terminal or records in a pipe; --json for JSON)",
                 value);
        return -1;
    }
    *given = value;
    return 0;
}

/* The inside of a DOT quoted string (see the comment at the top). */
void graph_text(FILE *out, const char *text)
{
    for (const char *p = text != NULL ? text : ""; *p != '\0'; p++) {
        char one[2] = {*p, '\0'};
        char shown[ESCAPE_SIZE(1)];
        escape_text(one, shown, sizeof shown);
        for (const char *s = shown; *s != '\0'; s++) {
            if (*s == '\\' || *s == '"')
                fputc('\\', out);
            fputc(*s, out);
        }
    }
}

/* A group's node: "TYPE/GROUP", the group's id within its type. */
static void graph_node_id(FILE *out, const char *type, long long group)
{
    fputc('"', out);
    graph_text(out, type);
    fprintf(out, "/%lld\"", group);
}

static void graph_group(FILE *out, const char *indent, const char *type, const json_t *group)
{
    const char *version = fmt_str(group, "version");
    long long hosts = fmt_int(group, "host_count", 0);
    fputs(indent, out);
    graph_node_id(out, type, fmt_int(group, "group", 0));
    fputs(" [label=\"", out);
    graph_text(out, type);
    fputs("\\n", out);
    if (version != NULL) {
        graph_text(out, version);
    } else if (json_is_true(json_object_get(group, "supported"))) {
        char name[32];
        fmt_errno(name, sizeof name, fmt_int(group, "errno", 0));
        fputs("no readable version", out);
        if (name[0] != '\0') {
            fputs(" (", out);
            graph_text(out, name);
            fputc(')', out);
        }
    } else {
        fputs("no migration_version attribute", out);
    }
    fprintf(out, "\\n%lld host%s", hosts, hosts == 1 ? "" : "s");
    if (version == NULL)
        fputs("\\nnot migratable", out);
    /* The host names as the tooltip: on hover in a browser, never in the
     * way of the layout however many hosts a group holds. */
    fputs("\", tooltip=\"", out);
    size_t i;
    const json_t *host;
    json_array_foreach(json_object_get(group, "hosts"), i, host)
    {
        if (i > 0)
            fputs(", ", out);
        graph_text(out, json_string_value(host));
    }
    fputc('"', out);
    if (version == NULL)
        fputs(", style=\"rounded,dashed\", color=\"" GRAPH_GRAY "\", fontcolor=\"" GRAPH_GRAY "\"",
              out);
    fputs("];\n", out);
}

/* The errno a refusing driver gave, by name ("" when none). */
static void graph_errno(const json_t *cell, char *buf, size_t len)
{
    const char *name = fmt_str(cell, "errno_name");
    if (name != NULL)
        snprintf(buf, len, "%s", name);
    else
        fmt_errno(buf, len, fmt_int(cell, "errno", 0));
}

static void graph_cell(FILE *out, const char *indent, const char *type, const json_t *cell)
{
    const char *verdict = fmt_str(cell, "verdict");
    /* A group without a version has nothing to write into another's
     * driver: its node says so once instead of one edge per group. */
    if (verdict == NULL || strcmp(verdict, "not-migratable") == 0)
        return;
    fputs(indent, out);
    graph_node_id(out, type, fmt_int(cell, "from", 0));
    fputs(" -> ", out);
    graph_node_id(out, type, fmt_int(cell, "to", 0));
    if (strcmp(verdict, "compatible") == 0) {
        fputs(" [style=solid, color=\"" GRAPH_GREEN "\", tooltip=\"compatible", out);
    } else if (strcmp(verdict, "incompatible") == 0 || strcmp(verdict, "unsupported") == 0) {
        char name[32];
        graph_errno(cell, name, sizeof name);
        fputs(" [style=dashed, constraint=false, color=\"" GRAPH_RED "\", fontcolor=\"" GRAPH_RED
              "\", label=\"",
              out);
        graph_text(out, name[0] != '\0' ? name : verdict);
        fputs("\", tooltip=\"", out);
        graph_text(out, verdict);
    } else {
        fputs(" [style=dotted, constraint=false, color=\"" GRAPH_GRAY "\", fontcolor=\"" GRAPH_GRAY
              "\", label=\"",
              out);
        graph_text(out, verdict);
        fputs("\", tooltip=\"", out);
        graph_text(out, verdict);
    }
    const char *host = fmt_str(cell, "host"), *error = fmt_str(cell, "error");
    if (host != NULL) {
        fputs(", probed on ", out);
        graph_text(out, host);
    }
    if (error != NULL) {
        fputs(": ", out);
        graph_text(out, error);
    }
    fputs("\"];\n", out);
}

static void graph_type(FILE *out, const json_t *type, size_t index, bool cluster)
{
    const char *name = fmt_str(type, "type");
    const json_t *groups = json_object_get(type, "groups");
    const char *indent = "    ";
    if (cluster) {
        size_t n = json_array_size(groups);
        long long hosts = fmt_int(type, "host_count", 0);
        /* "cluster" starts the name of a subgraph Graphviz draws a box round. */
        fprintf(out, "    subgraph \"cluster_%zu\" {\n        label=\"", index);
        graph_text(out, name);
        fprintf(out, ": %zu version group%s on %lld host%s\";\n", n, n == 1 ? "" : "s", hosts,
                hosts == 1 ? "" : "s");
        indent = "        ";
    }
    size_t i;
    const json_t *item;
    json_array_foreach(groups, i, item) graph_group(out, indent, name, item);
    json_array_foreach(json_object_get(type, "cells"), i, item) graph_cell(out, indent, name, item);
    if (cluster)
        fputs("    }\n", out);
}

int graph_write_dot(FILE *out, const json_t *answer, char *err, size_t errlen)
{
    const json_t *types = json_object_get(answer, "types");
    if (!json_is_array(types)) {
        snprintf(err, errlen, "the matrix answer has no \"types\" list to draw");
        return -1;
    }
    long long probes = fmt_int(answer, "probes_sent", 0);
    fputs("// mdevmig matrix: the version groups of each mdev type and which can\n"
          "// live-migrate to which, as live probes of their drivers answered.\n"
          "digraph \"mdevmig matrix\" {\n"
          "    graph [rankdir=LR, fontname=\"sans-serif\", fontsize=12, labelloc=b, label=\"",
          out);
    if (json_array_size(types) == 0)
        fputs("no mdev types in the registry\\n", out);
    fprintf(out,
            "solid: VMs at the tail's version migrate to the head's hosts\\ndashed: the "
            "driver refuses (its errno); dotted: no driver answered\\n%lld probe%s\"];\n",
            probes, probes == 1 ? "" : "s");
    fputs("    node [shape=box, style=rounded, fontname=\"sans-serif\", fontsize=11];\n"
          "    edge [fontname=\"sans-serif\", fontsize=10];\n",
          out);
    bool clusters = json_array_size(types) > 1;
    size_t t;
    const json_t *type;
    json_array_foreach(types, t, type) graph_type(out, type, t, clusters);
    fputs("}\n", out);
    if (ferror(out)) {
        snprintf(err, errlen, "cannot write the DOT text (a full disk or a closed pipe)");
        return -1;
    }
    return 0;
}

static void graph_missing(char *err, size_t errlen)
{
    snprintf(err, errlen,
             "--format svg needs Graphviz's \"%s\" program, which is not on PATH: install "
             "Debian's graphviz package (apt-get install graphviz), or take --format dot "
             "and lay it out elsewhere",
             GRAPH_DOT_PROGRAM);
}

int graph_svg_ready(char *err, size_t errlen)
{
    const char *path = getenv("PATH");
    const char *p = path != NULL && path[0] != '\0' ? path : "/usr/bin:/bin";
    while (true) {
        const char *end = strchr(p, ':');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        char file[PATH_MAX];
        /* An empty PATH entry is the working directory, as for execvp. */
        int n = len == 0 ? snprintf(file, sizeof file, "./%s", GRAPH_DOT_PROGRAM)
                         : snprintf(file, sizeof file, "%.*s/%s", (int)len, p, GRAPH_DOT_PROGRAM);
        if (n > 0 && (size_t)n < sizeof file && access(file, X_OK) == 0)
            return 0;
        if (end == NULL)
            break;
        p = end + 1;
    }
    graph_missing(err, errlen);
    return -1;
}

/* Feed the DOT to `dot -Tsvg`, whose stdout is out's descriptor. */
static int graph_run_dot(FILE *out, const char *text, size_t len, char *err, size_t errlen)
{
    if (fflush(out) != 0) {
        snprintf(err, errlen, "cannot write the output: %s", strerror(errno));
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot make a pipe to Graphviz's dot: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t actions;
    int e = posix_spawn_file_actions_init(&actions);
    if (e == 0)
        e = posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
    if (e == 0)
        e = posix_spawn_file_actions_adddup2(&actions, fileno(out), STDOUT_FILENO);
    char program[] = GRAPH_DOT_PROGRAM, flag[] = "-Tsvg";
    char *const argv[] = {program, flag, NULL};
    pid_t pid = -1;
    if (e == 0)
        e = posix_spawnp(&pid, GRAPH_DOT_PROGRAM, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[0]);
    if (e != 0) {
        close(fds[1]);
        if (e == ENOENT)
            graph_missing(err, errlen);
        else
            snprintf(err, errlen, "cannot run Graphviz's %s: %s", GRAPH_DOT_PROGRAM, strerror(e));
        return -1;
    }
    /* dot may stop reading early (it found the input wrong): its exit
     * status tells that, not a SIGPIPE that would kill mdevmig silently. */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, saved;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &saved);
    int write_errno = 0;
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fds[1], text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            write_errno = errno;
            break;
        }
        done += (size_t)n;
    }
    close(fds[1]);
    sigaction(SIGPIPE, &saved, NULL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "cannot wait for Graphviz's %s: %s", GRAPH_DOT_PROGRAM,
                     strerror(errno));
            return -1;
        }
    }
    if (WIFSIGNALED(status)) {
        snprintf(err, errlen, "Graphviz's %s -Tsvg was killed by signal %d", GRAPH_DOT_PROGRAM,
                 WTERMSIG(status));
        return -1;
    }
    if (WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "Graphviz's %s -Tsvg failed with exit %d (its message is above)",
                 GRAPH_DOT_PROGRAM, WEXITSTATUS(status));
        return -1;
    }
    if (write_errno != 0) {
        snprintf(err, errlen, "cannot feed the DOT text to Graphviz's %s: %s", GRAPH_DOT_PROGRAM,
                 strerror(write_errno));
        return -1;
    }
    return 0;
}

int graph_write_svg_of(FILE *out, graph_dot_writer write_dot, const json_t *answer, char *err,
                       size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL) {
        snprintf(err, errlen, "cannot draw the picture: %s", strerror(errno));
        return -1;
    }
    int rc = write_dot(mem, answer, err, errlen);
    if (fclose(mem) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot draw the picture: out of memory");
        rc = -1;
    }
    if (rc == 0)
        rc = graph_run_dot(out, text, len, err, errlen);
    free(text);
    return rc;
}

int graph_write_svg(FILE *out, const json_t *answer, char *err, size_t errlen)
{
    return graph_write_svg_of(out, graph_write_dot, answer, err, errlen);
}
