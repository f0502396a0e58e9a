/*
 * table — rows of text printed two ways: aligned columns under a header
 * for a person at a terminal, or for a pipe one record a line with tabs
 * between fields and the record's kind first ("host", "type", ...), so
 * `grep ^type | cut -f3` works and no header needs skipping.
 */
#ifndef MDEVMIG_CLI_TABLE_H
#define MDEVMIG_CLI_TABLE_H

#include "cli.h"

#include <stddef.h>
#include <stdio.h>

struct table;

/* A table of kind (the TSV tag) with columns headers (copied by
 * reference: static strings). headers NULL: no header line (a key/value
 * block). NULL when out of memory. */
struct table *table_new(const char *kind, size_t columns, const char *const *headers);
void table_free(struct table *t);

/* Append a row of exactly `columns` cells (copied); a NULL or empty cell
 * shows as "-". A failure is remembered and reported by table_print. */
void table_add(struct table *t, const char *const *cells);

/* Print in format (TABLE or TSV), TABLE rows indented by indent spaces.
 * An empty table prints nothing. -1 when a row could not be added (out of
 * memory) or the output failed. */
int table_print(const struct table *t, FILE *out, enum cli_format format, int indent);

size_t table_rows(const struct table *t);

#endif
