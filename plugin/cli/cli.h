/*
 * cli.h — what the parts of the mdevmig command share: the exit codes
 * scripts rely on, the global options every subcommand takes, and one
 * entry point per subcommand. The command is a thin tool over libmdevmig
 * and mdevmig-sched (curl's library/tool split): it parses, asks a backend
 * (backend.h) and prints; it decides nothing itself.
 */
#ifndef MDEVMIG_CLI_H
#define MDEVMIG_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Stable: documented in --help, relied on by scripts. */
enum cli_exit {
    CLI_EXIT_OK = 0,        /* success; select: a destination; probe: compatible;
                               evacuate: every VM placed */
    CLI_EXIT_NO = 1,        /* answered, negatively */
    CLI_EXIT_USAGE = 2,     /* the command line is wrong */
    CLI_EXIT_NOT_FOUND = 3, /* an instance, host or device nobody reports */
    CLI_EXIT_BACKEND = 4,   /* the registry or mdevmig-sched failed */
};

/* How results are shaped on stdout. */
enum cli_format {
    CLI_FORMAT_TABLE, /* aligned, with headers: stdout is a terminal */
    CLI_FORMAT_TSV,   /* one record a line, tab-separated, kind first: a pipe */
    CLI_FORMAT_JSON,  /* --json */
};

/* The global options, valid before or after the subcommand's name. */
struct cli {
    const char *program;
    const char *registry;             /* --registry PATH */
    const char *url;                  /* --url URL, else $MDEVMIG_URL */
    const char *token_file;           /* --token-file FILE, else $MDEVMIG_TOKEN_FILE */
    double timeout_s;                 /* --timeout SECONDS; 0: the backend's default */
    const char *ca_file;              /* --ca-file FILE: verifies https:// servers */
    const char *tls_client_cert_file; /* --tls-client-cert-file FILE (mutual TLS) */
    const char *tls_client_key_file;  /* --tls-client-key-file FILE */
    enum cli_format format;
    bool progress; /* stderr is a terminal: long work says so there */
};

/* A subcommand: its name, one line for the overview, its --help text, and
 * its body, which gets argv from its own name on and returns an exit code. */
struct cli_command {
    const char *name;
    const char *summary;
    const char *help;
    int (*run)(struct cli *cli, int argc, char **argv);
};

extern const struct cli_command cmd_inventory;
extern const struct cli_command cmd_versions;
extern const struct cli_command cmd_probe;
extern const struct cli_command cmd_select;
extern const struct cli_command cmd_evacuate;
extern const struct cli_command cmd_matrix;
extern const struct cli_command cmd_readiness;
extern const struct cli_command cmd_rollout;

/* The options and exit codes every help text ends with. */
void cli_help_common(FILE *out);

/* Print a subcommand's help on out. */
void cli_help_command(FILE *out, const struct cli_command *cmd);

/* Report an error on stderr, as "mdevmig: MESSAGE", and pass code through. */
int cli_fail(const struct cli *cli, int code, const char *message);

#endif
