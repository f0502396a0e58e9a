/*
 * args — the command line: a subcommand's own options and the global ones
 * (cli.h), accepted in any order around the subcommand's name, with a
 * message naming the word that was wrong.
 */
#ifndef MDEVMIG_CLI_ARGS_H
#define MDEVMIG_CLI_ARGS_H

#include "cli.h"

#include <stddef.h>

/* One option of a subcommand: --name, or --name VALUE when metavar is set. */
struct args_option {
    const char *name;
    const char *metavar;
    int id;
};

/* Takes one of the subcommand's options: 0, or -1 with a message. */
typedef int (*args_take)(void *ctx, int id, const char *value, char *err, size_t errlen);

/* What args_parse found besides options to apply. */
enum args_result {
    ARGS_RUN = 0,     /* carry on */
    ARGS_HELP = 1,    /* --help or -h */
    ARGS_VERSION = 2, /* --version, and no --help */
};

/* Parse argv[1..argc) into cli (global options) and through take (own).
 * leading: stop at the first word that is not an option (the subcommand's
 * name, which *next then indexes); otherwise any such word is an error.
 * --version is an option only when leading, before the command: after it
 * the word is the subcommand's own (probe --version VERSION).
 * Returns an args_result (--help, then --version, win over other
 * mistakes), or -1 with a message. */
int args_parse(struct cli *cli, int argc, char **argv, const struct args_option *own,
               size_t own_count, args_take take, void *ctx, bool leading, int *next, char *err,
               size_t errlen);

/* Strict numbers for option values: the whole text, in range. 0 or -1. */
int args_seconds(const char *text, const char *option, double *out, char *err, size_t errlen);
int args_count(const char *text, const char *option, long max, long *out, char *err, size_t errlen);

/* A host name for a list option (--host, --hosts): valid by the
 * registry's rule, not yet listed, at most max; appended to *list (which
 * borrows name). 0, or -1 with a message naming option. */
int args_add_host(const char ***list, size_t *count, size_t max, const char *option,
                  const char *name, char *err, size_t errlen);

#endif
