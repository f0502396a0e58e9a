/*
 * graph — the compatibility matrix as a picture (`mdevmig matrix --format
 * dot|svg`): each version group of a type a node, each probed pair an
 * edge, written in Graphviz's DOT language, or laid out as SVG by
 * Graphviz's own dot program; a rollout plan's waves likewise
 * (graph_rollout.c). Drawn from the JSON answers of POST /v1/matrix and
 * /v1/rollout, so the sched's answers and the library's draw alike.
 */
#ifndef MDEVMIG_CLI_GRAPH_H
#define MDEVMIG_CLI_GRAPH_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* The pictures --format names. */
enum graph_format {
    GRAPH_NONE = 0, /* no picture: the table, the records or --json */
    GRAPH_DOT,
    GRAPH_SVG,
};

/* Graphviz's layout program (Debian's graphviz package), found on PATH. */
#define GRAPH_DOT_PROGRAM "dot"

/* "dot" or "svg" as a format; GRAPH_NONE for any other word. */
enum graph_format graph_format_parse(const char *name);

/* --format VALUE for a command that draws: *picture and *given (the text,
 * for messages) set once. 0, or -1 with a message (a second --format, or
 * a word that is not dot or svg). */
int graph_format_take(enum graph_format *picture, const char **given, const char *value, char *err,
                      size_t errlen);

/* Whether GRAPH_DOT_PROGRAM can be run, asked before the matrix is probed
 * so that a missing Graphviz does not cost the operator the wait. 0, or -1
 * with a message naming the package. */
int graph_svg_ready(char *err, size_t errlen);

/* The matrix answer as a DOT digraph on out. 0, or -1 with a message. */
int graph_write_dot(FILE *out, const json_t *answer, char *err, size_t errlen);

/* The same DOT laid out by `dot -Tsvg`, whose SVG goes straight to out.
 * 0, or -1 with a message (naming the package when dot is missing). */
int graph_write_svg(FILE *out, const json_t *answer, char *err, size_t errlen);

/* Any answer's DOT (write_dot) laid out by `dot -Tsvg` onto out. */
typedef int (*graph_dot_writer)(FILE *out, const json_t *answer, char *err, size_t errlen);
int graph_write_svg_of(FILE *out, graph_dot_writer write_dot, const json_t *answer, char *err,
                       size_t errlen);

/* text as the inside of a DOT quoted string: shown as the tables show it,
 * then escaped for DOT, so no byte ends the string or starts an escape. */
void graph_text(FILE *out, const char *text);

/* graph_rollout.c: a rollout plan (POST /v1/rollout's answer) as DOT: a
 * cluster per wave holding the hosts it upgrades, an edge per move. */
int graph_write_rollout_dot(FILE *out, const json_t *answer, char *err, size_t errlen);

#endif
