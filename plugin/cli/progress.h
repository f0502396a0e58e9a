/*
 * progress — one line on stderr while work that takes seconds (a probe
 * fan-out) runs, erased when it ends; only when stderr is a terminal, so
 * logs and pipes never collect it.
 */
#ifndef MDEVMIG_CLI_PROGRESS_H
#define MDEVMIG_CLI_PROGRESS_H

#include "cli.h"

#include <stdbool.h>

/* Shows the line; true when it was shown (pass that to progress_done). */
bool progress_show(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A bar, "[#######.......] DONE/TOTAL text", redrawn in place; a
 * total of 0 shows the text alone. true when shown. */
bool progress_bar(const struct cli *cli, size_t done, size_t total, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void progress_done(bool shown);

#endif
