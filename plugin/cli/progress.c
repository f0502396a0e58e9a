/*
 * progress — a status line, not a log: it is overwritten in place and
 * gone once the answer is printed.
 */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>

bool progress_show(const struct cli *cli, const char *fmt, ...)
{
    if (!cli->progress)
        return false;
    va_list ap;
    va_start(ap, fmt);
    fputc('\r', stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    return true;
}

void progress_done(bool shown)
{
    if (!shown)
        return;
    /* Back to column 0 and clear to the end of the line. */
    fputs("\r\033[K", stderr);
    fflush(stderr);
}
