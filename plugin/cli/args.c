/*
 * args — getopt_long over one table made of the global options and a
 * subcommand's own. getopt's own messages are off (opterr = 0) so that
 * every complaint reaches the operator in one voice, through main, with
 * the exit code for a usage error.
 */
#include "args.h"

#include <mdevmig/mdevmig.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long hands back these values: past every short option character. */
enum args_global {
    ARGS_OPT_JSON = 1000,
    ARGS_OPT_REGISTRY,
    ARGS_OPT_URL,
    ARGS_OPT_TOKEN_FILE,
    ARGS_OPT_TIMEOUT,
    ARGS_OPT_HELP,
    ARGS_OPT_VERSION,
    ARGS_OPT_CA_FILE,
    ARGS_OPT_CLIENT_CERT,
    ARGS_OPT_CLIENT_KEY,
    ARGS_OWN_BASE = 2000,
};

#define ARGS_GLOBAL_COUNT 10
#define ARGS_MAX_OWN      16
#define ARGS_TIMEOUT_MAX  3600.0

static const struct args_option args_globals[ARGS_GLOBAL_COUNT] = {
    {"json", NULL, ARGS_OPT_JSON},
    {"registry", "PATH", ARGS_OPT_REGISTRY},
    {"url", "URL", ARGS_OPT_URL},
    {"token-file", "FILE", ARGS_OPT_TOKEN_FILE},
    {"timeout", "SECONDS", ARGS_OPT_TIMEOUT},
    {"help", NULL, ARGS_OPT_HELP},
    {"version", NULL, ARGS_OPT_VERSION},
    {"ca-file", "FILE", ARGS_OPT_CA_FILE},
    {"tls-client-cert-file", "FILE", ARGS_OPT_CLIENT_CERT},
    {"tls-client-key-file", "FILE", ARGS_OPT_CLIENT_KEY},
};

/* Whether a global option is in the table: --version only before the
 * command, where it cannot shadow a subcommand's own --version. */
static bool args_global_offered(const struct args_option *o, bool leading)
{
    return leading || o->id != ARGS_OPT_VERSION;
}

static void args_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void args_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int args_seconds(const char *text, const char *option, double *out, char *err, size_t errlen)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 ||
        v > ARGS_TIMEOUT_MAX) {
        args_fail(err, errlen,
                  "%s \"%s\": expected seconds above 0 and at most %.0f, e.g. 5 or 0.5", option,
                  text, ARGS_TIMEOUT_MAX);
        return -1;
    }
    *out = v;
    return 0;
}

int args_count(const char *text, const char *option, long max, long *out, char *err, size_t errlen)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || v < 1 || v > max) {
        args_fail(err, errlen, "%s \"%s\": expected a whole number from 1 to %ld", option, text,
                  max);
        return -1;
    }
    *out = v;
    return 0;
}

static int args_global(struct cli *cli, int id, const char *value, char *err, size_t errlen)
{
    switch (id) {
    case ARGS_OPT_JSON:
        cli->format = CLI_FORMAT_JSON;
        return 0;
    case ARGS_OPT_REGISTRY:
    case ARGS_OPT_URL:
    case ARGS_OPT_TOKEN_FILE:
        if (value[0] == '\0') {
            args_fail(err, errlen, "--%s needs a non-empty value",
                      id == ARGS_OPT_REGISTRY ? "registry"
                      : id == ARGS_OPT_URL    ? "url"
                                              : "token-file");
            return -1;
        }
        *(id == ARGS_OPT_REGISTRY ? &cli->registry
          : id == ARGS_OPT_URL    ? &cli->url
                                  : &cli->token_file) = value;
        return 0;
    case ARGS_OPT_TIMEOUT:
        return args_seconds(value, "--timeout", &cli->timeout_s, err, errlen);
    case ARGS_OPT_CA_FILE:
    case ARGS_OPT_CLIENT_CERT:
    case ARGS_OPT_CLIENT_KEY: {
        const char *name = id == ARGS_OPT_CA_FILE       ? "ca-file"
                           : id == ARGS_OPT_CLIENT_CERT ? "tls-client-cert-file"
                                                        : "tls-client-key-file";
        if (value[0] == '\0') {
            args_fail(err, errlen, "--%s needs a non-empty value", name);
            return -1;
        }
        *(id == ARGS_OPT_CA_FILE       ? &cli->ca_file
          : id == ARGS_OPT_CLIENT_CERT ? &cli->tls_client_cert_file
                                       : &cli->tls_client_key_file) = value;
        return 0;
    }
    }
    return 0;
}

/* The option an id stands for, to name it in a message. */
static const struct args_option *args_find(const struct args_option *own, size_t own_count, int id)
{
    for (size_t i = 0; i < ARGS_GLOBAL_COUNT; i++) {
        if (args_globals[i].id == id)
            return &args_globals[i];
    }
    if (id >= ARGS_OWN_BASE && (size_t)(id - ARGS_OWN_BASE) < own_count)
        return &own[id - ARGS_OWN_BASE];
    return NULL;
}

/* getopt said '?': an unknown option, or a switch given a value. */
static void args_unknown(const char *word, const struct args_option *own, size_t own_count,
                         bool leading, char *err, size_t errlen)
{
    const char *eq = strchr(word, '=');
    if (strncmp(word, "--", 2) == 0 && eq != NULL) {
        size_t len = (size_t)(eq - word - 2);
        for (size_t i = 0; i < ARGS_GLOBAL_COUNT + own_count; i++) {
            const struct args_option *o =
                i < ARGS_GLOBAL_COUNT ? &args_globals[i] : &own[i - ARGS_GLOBAL_COUNT];
            if (i < ARGS_GLOBAL_COUNT && !args_global_offered(o, leading))
                continue;
            if (o->metavar == NULL && strlen(o->name) == len &&
                strncmp(o->name, word + 2, len) == 0) {
                args_fail(err, errlen, "--%s takes no value (got \"%s\")", o->name, word);
                return;
            }
        }
    }
    if (!leading && strcmp(word, "--version") == 0) {
        args_fail(err, errlen,
                  "unknown option \"--version\" (mdevmig --version, before the "
                  "command, prints mdevmig's version)");
        return;
    }
    args_fail(err, errlen, "unknown option \"%s\"", word);
}

int args_parse(struct cli *cli, int argc, char **argv, const struct args_option *own,
               size_t own_count, args_take take, void *ctx, bool leading, int *next, char *err,
               size_t errlen)
{
    if (own_count > ARGS_MAX_OWN) {
        args_fail(err, errlen, "internal: too many options");
        return -1;
    }
    struct option table[ARGS_GLOBAL_COUNT + ARGS_MAX_OWN + 1];
    size_t n = 0;
    for (size_t i = 0; i < ARGS_GLOBAL_COUNT; i++) {
        if (!args_global_offered(&args_globals[i], leading))
            continue;
        table[n++] = (struct option){args_globals[i].name,
                                     args_globals[i].metavar ? required_argument : no_argument,
                                     NULL, args_globals[i].id};
    }
    for (size_t i = 0; i < own_count; i++, n++)
        table[n] = (struct option){own[i].name, own[i].metavar ? required_argument : no_argument,
                                   NULL, ARGS_OWN_BASE + (int)i};
    table[n] = (struct option){NULL, 0, NULL, 0};

    bool help = false;
    bool version = false;
    char first[512] = "";
    opterr = 0;
    optind = 0; /* glibc: start over, a subcommand parses after main did */
    int opt;
    while ((opt = getopt_long(argc, argv, leading ? "+:h" : ":h", table, NULL)) != -1) {
        char msg[512] = "";
        const char *word = argv[optind - 1];
        if (opt == 'h' || opt == ARGS_OPT_HELP) {
            help = true;
        } else if (opt == ARGS_OPT_VERSION) {
            version = true;
        } else if (opt == '?') {
            if (optopt != 0 && optopt < 256)
                args_fail(msg, sizeof msg, "unknown option \"-%c\"", optopt);
            else
                args_unknown(word, own, own_count, leading, msg, sizeof msg);
        } else if (opt == ':') {
            const struct args_option *o = args_find(own, own_count, optopt);
            if (o != NULL)
                args_fail(msg, sizeof msg, "--%s needs a value: --%s %s", o->name, o->name,
                          o->metavar);
            else
                args_fail(msg, sizeof msg, "%s needs a value", word);
        } else if (opt >= ARGS_OWN_BASE) {
            if (take(ctx, opt - ARGS_OWN_BASE, optarg, msg, sizeof msg) < 0 && msg[0] == '\0')
                args_fail(msg, sizeof msg, "bad value for %s", word);
        } else if (args_global(cli, opt, optarg, msg, sizeof msg) < 0 && msg[0] == '\0') {
            args_fail(msg, sizeof msg, "bad value for %s", word);
        }
        if (msg[0] != '\0' && first[0] == '\0')
            snprintf(first, sizeof first, "%s", msg);
    }
    if (next != NULL)
        *next = optind;
    if (!leading && optind < argc && first[0] == '\0')
        args_fail(first, sizeof first, "unexpected argument \"%s\"", argv[optind]);
    if (help)
        return ARGS_HELP;
    if (version)
        return ARGS_VERSION;
    if (first[0] != '\0') {
        snprintf(err, errlen, "%s", first);
        return -1;
    }
    return ARGS_RUN;
}

int args_add_host(const char ***list, size_t *count, size_t max, const char *option,
                  const char *name, char *err, size_t errlen)
{
    char why[200];
    if (!mdevmig_host_name_valid(name, why, sizeof why)) {
        args_fail(err, errlen, "%s \"%.80s\": %s", option, name, why);
        return -1;
    }
    for (size_t i = 0; i < *count; i++) {
        if (strcmp((*list)[i], name) == 0) {
            args_fail(err, errlen, "%s names %.255s twice", option, name);
            return -1;
        }
    }
    if (*count == max) {
        args_fail(err, errlen, "%s: more than %zu hosts", option, max);
        return -1;
    }
    const char **grown = realloc(*list, (*count + 1) * sizeof *grown);
    if (grown == NULL) {
        args_fail(err, errlen, "out of memory");
        return -1;
    }
    *list = grown;
    (*list)[(*count)++] = name;
    return 0;
}
