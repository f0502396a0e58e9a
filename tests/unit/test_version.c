/*
 * test_version — holds common/version.c to the seed's rules for
 * migration_version strings. Each case is one file under data/version/,
 * so a rule the kernel or a vendor adds later is one new file, and a
 * failure names the file that broke.
 *
 * Usage: test_version DATA_DIR   (every non-hidden file in it is a case)
 *
 * A case file holds "key = value" lines. Its first line is a "# " comment
 * saying what it checks; later '#' lines are comments too. Spaces around
 * '=' and at the end of a line are not part of a value, so a significant
 * space is written \x20. Escapes: \\ \n \r \t \xHH.
 *
 *   check = version | normalise | digest | type_id
 *   input = BYTES              the string under test (version, normalise, type_id)
 *   pad_with = BYTE            then append this byte ...
 *   pad_to = N                 ... until input is N bytes (long cases stay short)
 *   suffix = BYTES             then append these
 *   valid = yes | no           version_validate() / version_type_id_valid();
 *                              for normalise, of the normalised string
 *   reason = TEXT              a substring of the reason when valid = no
 *   normalised = BYTES         normalise: what is kept ...
 *   normalised_len = N         ... or just its length
 *   type = ID, version = BYTES digest: the inputs of version_digest()
 *   digest = HEX               digest: expected (computed with sha256sum)
 *   trait = NAME               digest: version_digest_trait(); type_id: version_type_trait()
 */
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CASE_MAX_KEYS 16

struct case_value {
    char *key;
    char *bytes; /* decoded, NUL-terminated for convenience */
    size_t len;  /* may hold NUL bytes, so the length is authoritative */
};

struct version_case {
    char *path;
    char *name; /* the file name: what a failure reports */
    char *about;
    struct case_value values[CASE_MAX_KEYS];
    size_t count;
    char *input; /* input + padding + suffix */
    size_t input_len;
};

static const char *data_dir;

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode the escapes of the format; returns -1 on an unknown escape so a
 * typo in a case file is reported rather than tested. */
static int case_unescape(const char *text, char **out, size_t *out_len)
{
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    if (buf == NULL)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '\\') {
            buf[n++] = text[i];
            continue;
        }
        char e = text[++i];
        if (e == '\\') {
            buf[n++] = '\\';
        } else if (e == 'n') {
            buf[n++] = '\n';
        } else if (e == 'r') {
            buf[n++] = '\r';
        } else if (e == 't') {
            buf[n++] = '\t';
        } else if (e == 'x' && i + 2 < len && hex_digit(text[i + 1]) >= 0 &&
                   hex_digit(text[i + 2]) >= 0) {
            buf[n++] = (char)(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
            i += 2;
        } else {
            free(buf);
            return -1;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
}

static const struct case_value *case_get(const struct version_case *c, const char *key)
{
    for (size_t i = 0; i < c->count; i++) {
        if (strcmp(c->values[i].key, key) == 0)
            return &c->values[i];
    }
    return NULL;
}

/* The value of key as text; fails the test when a required key is absent. */
static const char *case_text(const struct version_case *c, const char *key)
{
    const struct case_value *v = case_get(c, key);
    if (v == NULL)
        fail_msg("%s: no \"%s\" line", c->name, key);
    return v->bytes;
}

static bool case_number(const struct version_case *c, const char *key, size_t *out)
{
    const struct case_value *v = case_get(c, key);
    if (v == NULL)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v->bytes, &end, 10);
    if (errno != 0 || end == v->bytes || *end != '\0' || n > SIZE_MAX / 2)
        fail_msg("%s: \"%s\" is not a number: \"%s\"", c->name, key, v->bytes);
    *out = (size_t)n;
    return true;
}

static bool case_yes(const struct version_case *c, const char *key)
{
    const char *v = case_text(c, key);
    if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
        fail_msg("%s: \"%s\" must be yes or no, not \"%s\"", c->name, key, v);
    return strcmp(v, "yes") == 0;
}

static void case_only_keys(const struct version_case *c, const char *const *allowed)
{
    for (size_t i = 0; i < c->count; i++) {
        bool known = false;
        for (size_t k = 0; allowed[k] != NULL && !known; k++)
            known = strcmp(c->values[i].key, allowed[k]) == 0;
        if (!known)
            fail_msg("%s: key \"%s\" does not belong to check \"%s\"", c->name, c->values[i].key,
                     case_text(c, "check"));
    }
}

static void case_free(struct version_case *c)
{
    for (size_t i = 0; i < c->count; i++) {
        free(c->values[i].key);
        free(c->values[i].bytes);
    }
    free(c->path);
    free(c->name);
    free(c->about);
    free(c->input);
    free(c);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        s[--len] = '\0';
    return s;
}

/* Read a case file; a malformed one fails with its line number. */
static int case_parse(struct version_case *c, char *err, size_t errlen)
{
    FILE *f = fopen(c->path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *text = trim(line);
        if (lineno == 1) {
            if (strncmp(text, "# ", 2) != 0) {
                snprintf(err, errlen, "line 1 must be a \"# \" comment saying what is checked");
                rc = -1;
            } else if ((c->about = strdup(text + 2)) == NULL) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
            continue;
        }
        if (*text == '\0' || *text == '#')
            continue;
        char *eq = strchr(text, '=');
        if (eq == NULL || c->count == CASE_MAX_KEYS) {
            snprintf(err, errlen, "line %u: expected \"key = value\"", lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        const char *key = trim(text);
        if (case_get(c, key) != NULL) {
            snprintf(err, errlen, "line %u: \"%s\" given twice", lineno, key);
            rc = -1;
            break;
        }
        struct case_value *v = &c->values[c->count];
        if ((v->key = strdup(key)) == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        c->count++;
        if (case_unescape(trim(eq + 1), &v->bytes, &v->len) < 0) {
            snprintf(err, errlen, "line %u: bad escape in the value of \"%s\"", lineno, key);
            rc = -1;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "read error: %s", strerror(errno));
        rc = -1;
    }
    free(line);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "close: %s", strerror(errno));
        rc = -1;
    }
    if (rc == 0 && c->about == NULL) {
        snprintf(err, errlen, "the file is empty");
        rc = -1;
    }
    if (rc == 0 && case_get(c, "check") == NULL) {
        snprintf(err, errlen, "no \"check\" line");
        rc = -1;
    }
    return rc;
}

/* input, padded and suffixed as the case asks. */
static int case_build_input(struct version_case *c, char *err, size_t errlen)
{
    const struct case_value *input = case_get(c, "input");
    const struct case_value *pad_with = case_get(c, "pad_with");
    const struct case_value *suffix = case_get(c, "suffix");
    const struct case_value *pad_to_v = case_get(c, "pad_to");
    size_t len = input != NULL ? input->len : 0;
    size_t pad_to = len;
    if ((pad_with == NULL) != (pad_to_v == NULL) || (pad_with != NULL && pad_with->len != 1)) {
        snprintf(err, errlen, "pad_with (one byte) and pad_to go together");
        return -1;
    }
    if (pad_to_v != NULL) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(pad_to_v->bytes, &end, 10);
        if (errno != 0 || *end != '\0' || n < len || n > 1 << 20) {
            snprintf(err, errlen, "pad_to must be a length from the input's up to 1 MiB");
            return -1;
        }
        pad_to = n;
    }
    size_t total = pad_to + (suffix != NULL ? suffix->len : 0);
    c->input = malloc(total + 1);
    if (c->input == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (len > 0)
        memcpy(c->input, input->bytes, len);
    if (pad_to > len)
        memset(c->input + len, pad_with->bytes[0], pad_to - len);
    if (suffix != NULL && suffix->len > 0)
        memcpy(c->input + pad_to, suffix->bytes, suffix->len);
    c->input[total] = '\0';
    c->input_len = total;
    return 0;
}

/* Only parses: main owns every case, so a failed assertion (a longjmp out
 * of the test) leaks nothing. */
static int case_setup(void **state)
{
    struct version_case *c = *state;
    char err[256];
    if (case_parse(c, err, sizeof err) < 0 || case_build_input(c, err, sizeof err) < 0) {
        print_error("%s: %s\n", c->name, err);
        return -1;
    }
    return 0;
}

static void check_validity(const struct version_case *c, const char *s, size_t len)
{
    char why[256] = "";
    bool valid = version_validate(s, len, why, sizeof why);
    bool want = case_yes(c, "valid");
    if (valid != want)
        fail_msg("%s: version_validate says %s, the case says %s (%s)", c->name,
                 valid ? "valid" : "invalid", want ? "valid" : "invalid", why);
    if (!valid) {
        const struct case_value *reason = case_get(c, "reason");
        if (reason != NULL && strstr(why, reason->bytes) == NULL)
            fail_msg("%s: reason \"%s\" does not contain \"%s\"", c->name, why, reason->bytes);
        if (why[0] == '\0')
            fail_msg("%s: invalid without a reason for the operator", c->name);
    } else if (case_get(c, "reason") != NULL) {
        fail_msg("%s: a reason only goes with valid = no", c->name);
    }
}

static void check_version(const struct version_case *c)
{
    static const char *const keys[] = {"check",  "input", "pad_with", "pad_to",
                                       "suffix", "valid", "reason",   NULL};
    case_only_keys(c, keys);
    check_validity(c, c->input, c->input_len);
}

static void check_normalise(const struct version_case *c)
{
    static const char *const keys[] = {"check",          "input",      "pad_with", "pad_to",
                                       "suffix",         "normalised", "valid",    "reason",
                                       "normalised_len", NULL};
    case_only_keys(c, keys);
    size_t got = version_normalised_len(c->input, c->input_len);
    const struct case_value *want = case_get(c, "normalised");
    size_t want_len = 0;
    if (want != NULL) {
        want_len = want->len;
    } else if (!case_number(c, "normalised_len", &want_len)) {
        fail_msg("%s: needs \"normalised\" or \"normalised_len\"", c->name);
    }
    if (got != want_len)
        fail_msg("%s: normalised length %zu, expected %zu", c->name, got, want_len);
    if (want != NULL && memcmp(c->input, want->bytes, want_len) != 0)
        fail_msg("%s: the case's \"normalised\" is not a prefix of its input", c->name);
    if (case_get(c, "valid") != NULL)
        check_validity(c, c->input, got);
}

static void check_digest(const struct version_case *c)
{
    static const char *const keys[] = {"check", "type", "version", "digest", "trait", NULL};
    case_only_keys(c, keys);
    const struct case_value *version = case_get(c, "version");
    if (version == NULL || strlen(version->bytes) != version->len)
        fail_msg("%s: needs a \"version\" without NUL bytes", c->name);
    char digest[VERSION_DIGEST_LEN];
    if (version_digest(case_text(c, "type"), version->bytes, digest) != 0)
        fail_msg("%s: version_digest failed", c->name);
    if (strcmp(digest, case_text(c, "digest")) != 0)
        fail_msg("%s: digest %s, expected %s", c->name, digest, case_text(c, "digest"));
    char trait[VERSION_TRAIT_MAX];
    if (version_digest_trait(digest, trait) != 0)
        fail_msg("%s: version_digest_trait failed", c->name);
    if (strcmp(trait, case_text(c, "trait")) != 0)
        fail_msg("%s: trait %s, expected %s", c->name, trait, case_text(c, "trait"));
}

static void check_type_id(const struct version_case *c)
{
    static const char *const keys[] = {"check",  "input", "pad_with", "pad_to",
                                       "suffix", "valid", "trait",    NULL};
    case_only_keys(c, keys);
    if (strlen(c->input) != c->input_len)
        fail_msg("%s: a type id case cannot hold a NUL byte", c->name);
    bool want = case_yes(c, "valid");
    if (version_type_id_valid(c->input) != want)
        fail_msg("%s: version_type_id_valid(\"%s\") is %s, expected %s", c->name, c->input,
                 want ? "false" : "true", want ? "true" : "false");
    const struct case_value *want_trait = case_get(c, "trait");
    if (want_trait != NULL) {
        char trait[VERSION_TRAIT_MAX];
        if (version_type_trait(c->input, trait) != 0)
            fail_msg("%s: version_type_trait failed", c->name);
        if (strcmp(trait, want_trait->bytes) != 0)
            fail_msg("%s: trait %s, expected %s", c->name, trait, want_trait->bytes);
    }
}

static void run_case(void **state)
{
    const struct version_case *c = *state;
    const char *check = case_text(c, "check");
    if (strcmp(check, "version") == 0)
        check_version(c);
    else if (strcmp(check, "normalise") == 0)
        check_normalise(c);
    else if (strcmp(check, "digest") == 0)
        check_digest(c);
    else if (strcmp(check, "type_id") == 0)
        check_type_id(c);
    else
        fail_msg("%s: unknown check \"%s\"", c->name, check);
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    data_dir = argv[1];
    struct dirent **names;
    /* Sorted, so runs are comparable and a report reads in file order. */
    int n = scandir(data_dir, &names, visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", data_dir, strerror(errno));
        return 2;
    }
    if (n == 0) {
        fprintf(stderr, "%s: no case files\n", data_dir);
        free(names);
        return 2;
    }
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    int rc = tests == NULL ? 2 : 0;
    int made = 0;
    for (; rc == 0 && made < n; made++) {
        struct version_case *c = calloc(1, sizeof *c);
        tests[made] = (struct CMUnitTest){
            .name = NULL, .test_func = run_case, .setup_func = case_setup, .initial_state = c};
        if (c == NULL || (c->name = strdup(names[made]->d_name)) == NULL) {
            rc = 2;
            break;
        }
        /* asprintf leaves its pointer undefined on failure. */
        if (asprintf(&c->path, "%s/%s", data_dir, names[made]->d_name) < 0) {
            c->path = NULL;
            rc = 2;
            break;
        }
        tests[made].name = c->name;
    }
    /* The count of failures would wrap as an exit status. */
    if (rc == 0)
        rc = _cmocka_run_group_tests("version", tests, (size_t)n, NULL, NULL) != 0;
    else
        fprintf(stderr, "out of memory\n");
    for (int i = 0; tests != NULL && i < n; i++) {
        if (tests[i].initial_state != NULL)
            case_free(tests[i].initial_state);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(tests);
    return rc;
}
