/*
 * settings — the configuration engine every mdevmig daemon shares: one
 * table names each setting once (INI key, flag, kind of value, default,
 * help), and the INI reader (inih, with FILE:LINE errors), getopt_long and
 * --help all work from it, so a key cannot exist in one and be missing
 * from another. A program's config.c is its table, its --help prose and
 * the checks that span several settings.
 *
 * Precedence: built-in defaults, then the --config file, then flags
 * (wherever they stand on the command line).
 */
#ifndef MDEVMIG_SETTINGS_H
#define MDEVMIG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum settings_kind {
    SETTINGS_STRING,  /* char *: non-empty text, then .check if set */
    SETTINGS_SECONDS, /* double: seconds above 0 (or from .min) up to .max */
    SETTINGS_INT,     /* int: a whole number from .min to .max */
    SETTINGS_LISTEN,  /* char *: ADDR:PORT or [ADDR]:PORT, an IP literal, port 1-65535 */
    SETTINGS_ENUM,    /* char *: one of .choices */
    SETTINGS_LIST,    /* char *[.max_items] and a size_t count at .count_offset:
                         repeatable, each value a comma list; every element
                         passes .check. A file's list replaces the default
                         and the first flag replaces the file's list. */
    SETTINGS_SWITCH,  /* bool: a flag without a value; no INI key */
    SETTINGS_CONFIG,  /* char *: --config FILE, read before flags apply; no key */
    SETTINGS_HELP,    /* --help, -h: print spec->usage to stdout; no key */
    SETTINGS_VERSION, /* --version: print buildinfo_print(stdout, spec->program); no key */
};

/* A rule beyond the kind's: 0 to accept value, -1 with a message in err
 * that starts with name (the INI key or "--flag" the operator wrote). */
typedef int (*settings_check_fn)(const char *value, const char *name, char *err, size_t errlen);

struct settings_item {
    const char *key;     /* INI key; NULL: command line only */
    const char *flag;    /* long flag, without the dashes */
    const char *metavar; /* as --help names the value; NULL for SWITCH, HELP and VERSION */
    enum settings_kind kind;
    size_t offset;              /* of the field in the program's struct: SETTINGS_FIELD() */
    const char *def;            /* the default as a value would be written; NULL: none */
    const char *shown;          /* the default as --help shows it; NULL: def */
    const char *help;           /* one paragraph; --help wraps it */
    double min, max;            /* SECONDS (min 0: "above 0") and INT */
    bool zero_off;              /* SECONDS: 0 is allowed too, and turns the thing off */
    const char *const *choices; /* ENUM: NULL-terminated */
    settings_check_fn check;    /* STRING, and each LIST element */
    size_t count_offset;        /* LIST: SETTINGS_FIELD(..., size_t) */
    size_t max_items;           /* LIST */
    const char *noun;           /* LIST: one element in messages ("registry target") */
    const char *needs;          /* SWITCH: the flag it only applies with */
};

/* offsetof(type, member), refused at compile time unless the member is a
 * ctype (an array member counts as a pointer to its elements), so the
 * table cannot point the engine at a field of another type. */
#define SETTINGS_FIELD(type, member, ctype)                                                        \
    (offsetof(type, member) + 0 * sizeof(_Generic(((type *)0)->member, ctype : 1)))

struct settings_spec {
    const char *section; /* the one INI section read, e.g. "collector" */
    const struct settings_item *items;
    size_t count;
    size_t size;              /* sizeof the program's config struct */
    void (*usage)(FILE *out); /* the whole --help text */
    const char *program;      /* as --version names it: "mdevmig-collector" */
};

/* The whole command line: zero *cfg, check every flag (unknown flags,
 * missing values, stray operands, a SWITCH without its .needs) before
 * anything is read, apply defaults, read the --config file, apply flags.
 * Returns 0 to run, 1 when --help or --version was printed (whichever
 * comes first; from there on the command line is not looked at), -1 with
 * a message naming the flag or FILE:LINE in err. On 1 and -1 *cfg holds
 * nothing to free. */
int settings_parse(const struct settings_spec *spec, void *cfg, int argc, char **argv, char *err,
                   size_t errlen);

/* The steps settings_parse takes, for a program that needs another order.
 * On -1 *cfg may hold values: settings_free() it. */
int settings_defaults(const struct settings_spec *spec, void *cfg, char *err, size_t errlen);
int settings_read_file(const struct settings_spec *spec, void *cfg, const char *path, char *err,
                       size_t errlen);
int settings_apply_flags(const struct settings_spec *spec, void *cfg, int argc, char **argv,
                         char *err, size_t errlen);

/* The "Settings" and "Command-line only" sections of --help; the program
 * prints its own text before and after. */
void settings_usage(const struct settings_spec *spec, FILE *out);

/* Free every field the table names and zero *cfg; safe on a zeroed cfg. */
void settings_free(const struct settings_spec *spec, void *cfg);

#endif
