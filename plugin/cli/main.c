/*
 * mdevmig — the command-line tool for operators and scripts: which hosts
 * can take a VM's mediated devices by live migration, asked of the
 * registry file directly or of mdevmig-sched. main picks the subcommand
 * and owns the process: its exit code, stdout's format, and the one place
 * that turns an error value into a message on stderr.
 */
#include "args.h"
#include "buildinfo.h"
#include "cli.h"
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct cli_command *const main_commands[] = {
    &cmd_inventory, &cmd_versions, &cmd_probe,     &cmd_select,
    &cmd_evacuate,  &cmd_matrix,   &cmd_readiness, &cmd_rollout,
};

#define MAIN_COMMAND_COUNT (sizeof main_commands / sizeof main_commands[0])

void cli_help_common(FILE *out)
{
    fputs("Where the answers come from (one of):\n"
          "  --registry PATH    read the registry file (SQLite) directly; probes run\n"
          "                     in this process, which caches their verdicts in the\n"
          "                     file as mdevmig-sched does (so it must be writable)\n"
          "  --url URL[,URL...] ask mdevmig-sched at URL (default: $MDEVMIG_URL;\n"
          "                     --registry wins over the variable); with a list of\n"
          "                     scheds fed by the same collectors (at most 8), the\n"
          "                     next is asked, in order, when one cannot be reached,\n"
          "                     times out or fails (HTTP 5xx); an HTTP 4xx is an\n"
          "                     answer\n"
          "Global options (before or after the command):\n"
          "  --token-file FILE  the cluster token (0600, or 0640 for a group that reads\n"
          "                     it), needed with --url, and\n"
          "                     with --registry by probe, select, evacuate, matrix,\n"
          "                     readiness and rollout,\n"
          "                     which talk to the collectors (default:\n"
          "                     $MDEVMIG_TOKEN_FILE)\n"
          "  --timeout SECONDS  with --registry: each probe's limit (default 3);\n"
          "                     with --url: the whole request's to each sched\n"
          "                     (default 30; 600 for evacuate, matrix, readiness and\n"
          "                     rollout)\n"
          "  --ca-file FILE     the CA bundle https:// servers (mdevmig-sched, or the\n"
          "                     collectors with --registry) must chain to (default: the\n"
          "                     system's store); a certificate that does not verify is\n"
          "                     an error, never a fallback\n"
          "  --tls-client-cert-file FILE, --tls-client-key-file FILE\n"
          "                     the client certificate (and its key, when not in the\n"
          "                     same file) for servers with mutual TLS\n"
          "  --json             print JSON (its shape is in each command's help)\n"
          "  -h, --help         print help and exit\n"
          "\n"
          "Output: on a terminal, aligned tables. Otherwise (a pipe, a file) one\n"
          "record a line, fields separated by tabs, the first field naming the\n"
          "record's kind; no header line, an empty field is \"-\". With --json, JSON.\n"
          "A progress line (a bar for evacuate, matrix, readiness and rollout) goes to\n"
          "stderr during probes,\n"
          "only when it is a terminal.\n"
          "\n"
          "Exit codes:\n"
          "  0  success (select: at least one destination; probe: compatible;\n"
          "     evacuate: every VM placed)\n"
          "  1  answered, negatively: no destination, incompatible, not migratable,\n"
          "     or the target's verdict is no-type, no-capacity, unsupported or\n"
          "     unreachable; evacuate: a VM without a destination; readiness: a\n"
          "     stranded VM; rollout: a VM that cannot stay migratable\n"
          "  2  usage error: the command line is wrong\n"
          "  3  not found: an instance, host or device nobody reports\n"
          "  4  the backend failed: the registry cannot be read, no mdevmig-sched\n"
          "     listed could be reached and answer, or one refused the token\n",
          out);
}

void cli_help_command(FILE *out, const struct cli_command *cmd)
{
    fputs(cmd->help, out);
    fputc('\n', out);
    cli_help_common(out);
}

static void main_help(FILE *out)
{
    fputs("usage: mdevmig [OPTIONS] COMMAND [OPTIONS]\n"
          "\n"
          "Which hosts can take a VM's mediated devices (vGPUs) by live migration,\n"
          "each answer confirmed by a write-probe on the destination's driver.\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < MAIN_COMMAND_COUNT; i++)
        fprintf(out, "  %-10s  %s\n", main_commands[i]->name, main_commands[i]->summary);
    fputs("  help        mdevmig help COMMAND: a command's options and output\n"
          "\n"
          "Before the command only:\n"
          "  --version          print mdevmig's version and the commit it was built\n"
          "                     from, and exit\n"
          "\n",
          out);
    cli_help_common(out);
}

int cli_fail(const struct cli *cli, int code, const char *message)
{
    fflush(stdout);
    fprintf(stderr, "%s: %s\n", cli->program, message);
    return code;
}

/* Edit distance, small: enough to say "did you mean select?". */
static size_t main_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 31 || lb > 31)
        return 99;
    size_t d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    }
    return d[la][lb];
}

static const struct cli_command *main_find(const char *name)
{
    for (size_t i = 0; i < MAIN_COMMAND_COUNT; i++) {
        if (strcmp(main_commands[i]->name, name) == 0)
            return main_commands[i];
    }
    return NULL;
}

static int main_unknown(const struct cli *cli, const char *name)
{
    char msg[512];
    const char *near = NULL;
    for (size_t i = 0; i < MAIN_COMMAND_COUNT && near == NULL; i++) {
        if (main_distance(name, main_commands[i]->name) <= 2 ||
            strncmp(main_commands[i]->name, name, strlen(name)) == 0)
            near = main_commands[i]->name;
    }
    snprintf(msg, sizeof msg,
             "unknown command \"%.64s\"%s%s%s (commands: inventory, versions, probe, select, "
             "evacuate, matrix; see mdevmig --help)",
             name, near != NULL ? ": did you mean \"" : "", near != NULL ? near : "",
             near != NULL ? "\"?" : "");
    return cli_fail(cli, CLI_EXIT_USAGE, msg);
}

int main(int argc, char **argv)
{
    struct cli cli = {
        .program = "mdevmig",
        .format = isatty(STDOUT_FILENO) ? CLI_FORMAT_TABLE : CLI_FORMAT_TSV,
        .progress = isatty(STDERR_FILENO) == 1,
    };
    /* libmdevmig logs what it cannot report through a return value (a
     * probe cache it could not write): warnings, no chatter. */
    log_init("mdevmig", LOG_LEVEL_WARN);

    char err[512];
    int next = argc;
    int rc = args_parse(&cli, argc, argv, NULL, 0, NULL, NULL, true, &next, err, sizeof err);
    if (rc < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s (see mdevmig --help)", err);
        return cli_fail(&cli, CLI_EXIT_USAGE, msg);
    }
    bool help = rc == ARGS_HELP;
    if (rc == ARGS_VERSION) {
        buildinfo_print(stdout, "mdevmig");
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_BACKEND;
    }
    if (next >= argc) {
        if (help) {
            main_help(stdout);
            return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_BACKEND;
        }
        return cli_fail(&cli, CLI_EXIT_USAGE,
                        "no command given (inventory, versions, probe, select, evacuate or "
                        "matrix; see mdevmig --help)");
    }
    const char *name = argv[next];
    if (strcmp(name, "help") == 0) {
        if (next + 1 >= argc) {
            main_help(stdout);
            return CLI_EXIT_OK;
        }
        const struct cli_command *cmd = main_find(argv[next + 1]);
        if (cmd == NULL)
            return main_unknown(&cli, argv[next + 1]);
        cli_help_command(stdout, cmd);
        return CLI_EXIT_OK;
    }
    const struct cli_command *cmd = main_find(name);
    if (cmd == NULL)
        return main_unknown(&cli, name);
    if (help) {
        cli_help_command(stdout, cmd);
        return CLI_EXIT_OK;
    }
    rc = cmd->run(&cli, argc - next, argv + next);
    /* A full disk or a closed pipe must not pass for a clean answer. */
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_fail(&cli, CLI_EXIT_BACKEND, "cannot write the output");
    return rc;
}
