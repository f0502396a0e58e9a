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

#define PROGRESS_WIDTH 24

bool progress_bar(const struct cli *cli, size_t done, size_t total, const char *fmt, ...)
{
    if (!cli->progress)
        return false;
    /* Clear first: the text may be shorter than the last one. */
    fputs("\r\033[K", stderr);
    if (total > 0) {
        size_t filled = (done > total ? total : done) * PROGRESS_WIDTH / total;
        fputc('[', stderr);
        for (size_t i = 0; i < PROGRESS_WIDTH; i++)
            fputc(i < filled ? '#' : '.', stderr);
        fprintf(stderr, "] %zu/%zu ", done, total);
    }
    va_list ap;
    va_start(ap, fmt);
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
