/*
 * table — the one printer behind every listing of the mdevmig command.
 * Widths count UTF-8 characters, not bytes, so names from the registry
 * that are not ASCII still line up. Cells can hold a driver's opaque
 * version string, which may carry any ASCII byte (a tab, an escape
 * sequence): every control byte is printed escaped, C-style (\t, \x1b),
 * and a backslash as \\, so a terminal never runs one and a TSV record
 * stays one line whose tabs are only its separators.
 */
#include "table.h"

#include "escape.h"

#include <stdlib.h>
#include <string.h>

struct table {
    const char *kind;
    size_t columns;
    const char *const *headers;
    char **cells; /* rows * columns */
    size_t rows;
    size_t cap;
    bool failed;
};

struct table *table_new(const char *kind, size_t columns, const char *const *headers)
{
    struct table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->kind = kind;
    t->columns = columns;
    t->headers = headers;
    return t;
}

void table_free(struct table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->rows * t->columns; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

size_t table_rows(const struct table *t)
{
    return t != NULL ? t->rows : 0;
}

/* text with control bytes and backslashes escaped (malloc'd), or NULL. */
static char *table_escape(const char *text)
{
    size_t size = ESCAPE_SIZE(strlen(text));
    char *out = malloc(size);
    if (out != NULL)
        escape_text(text, out, size);
    return out;
}

void table_add(struct table *t, const char *const *cells)
{
    if (t == NULL || t->failed)
        return;
    if (t->rows == t->cap) {
        size_t cap = t->cap == 0 ? 16 : t->cap * 2;
        char **grown = realloc(t->cells, cap * t->columns * sizeof *grown);
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->cells = grown;
        t->cap = cap;
    }
    char **row = &t->cells[t->rows * t->columns];
    for (size_t c = 0; c < t->columns; c++) {
        const char *text = cells[c] != NULL && cells[c][0] != '\0' ? cells[c] : "-";
        if ((row[c] = table_escape(text)) == NULL) {
            for (size_t k = 0; k < c; k++)
                free(row[k]);
            t->failed = true;
            return;
        }
    }
    t->rows++;
}

/* Characters on screen: UTF-8 continuation bytes take no column. */
static size_t table_width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void table_tsv_field(FILE *out, const char *s)
{
    fputs(s, out); /* escaped when added: no tab or line break left */
}

int table_print(const struct table *t, FILE *out, enum cli_format format, int indent)
{
    if (t == NULL || t->failed)
        return -1;
    if (t->rows == 0)
        return 0;
    if (format == CLI_FORMAT_TSV) {
        for (size_t r = 0; r < t->rows; r++) {
            fputs(t->kind, out);
            for (size_t c = 0; c < t->columns; c++) {
                fputc('\t', out);
                table_tsv_field(out, t->cells[r * t->columns + c]);
            }
            fputc('\n', out);
        }
        return ferror(out) ? -1 : 0;
    }
    size_t *width = calloc(t->columns, sizeof *width);
    if (width == NULL)
        return -1;
    for (size_t c = 0; c < t->columns; c++) {
        if (t->headers != NULL)
            width[c] = table_width(t->headers[c]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t w = table_width(t->cells[r * t->columns + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t r = t->headers != NULL ? 0 : 1; r <= t->rows; r++) {
        /* Row 0 is the header line. */
        const char *const *line =
            r == 0 ? t->headers : (const char *const *)&t->cells[(r - 1) * t->columns];
        fprintf(out, "%*s", indent, "");
        for (size_t c = 0; c < t->columns; c++) {
            fputs(line[c], out);
            if (c + 1 < t->columns)
                fprintf(out, "%*s", (int)(width[c] - table_width(line[c]) + 2), "");
        }
        fputc('\n', out);
    }
    free(width);
    return ferror(out) ? -1 : 0;
}
