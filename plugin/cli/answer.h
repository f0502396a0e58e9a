/*
 * answer — reading and printing what select and filter return
 * (libmdevmig's JSON, the same from either backend): the source part,
 * shared by `select` and `probe`, and lookups into the host list.
 */
#ifndef MDEVMIG_CLI_ANSWER_H
#define MDEVMIG_CLI_ANSWER_H

#include "cli.h"

#include <jansson.h>
#include <stdio.h>

/* The source: where it runs, whether its versions are live or the
 * registry's (stale), whether it can migrate at all, and its mdevs.
 * TABLE: a line and an indented table; TSV: records "source" and "mdev".
 * 0, or -1 when printing failed. */
int answer_print_source(const struct cli *cli, const json_t *answer, FILE *out);

/* The entry of hosts[] for name, or NULL. */
const json_t *answer_host(const json_t *answer, const char *name);

/* Why a host got its verdict, for a table cell: its error text ("" for
 * a compatible host). */
const char *answer_reason(const json_t *host);

/* A host's remarks: "stale", "same-version", "cached-compatible", comma
 * separated ("" when none). */
void answer_notes(const json_t *host, char *buf, size_t len);

#endif
