/*
 * test_json_quick — common/json_quick against json_loadb, one case per
 * file under DATA_DIR, the file's bytes the input (names say what each
 * holds):
 *   quick-NAME.txt  must take the quick path (a plain document), under
 *                   JSON_REJECT_DUPLICATES too unless NAME holds
 *                   "repeated-key", and give what json_loadb gives;
 *   full-NAME.txt   must not take it: json_quick_loadb must give what
 *                   json_loadb gives, a value or NULL with the same
 *                   message ("-refused" cases must be NULL).
 * Each case runs without flags and with JSON_REJECT_DUPLICATES.
 *
 * Usage: test_json_quick DATA_DIR
 */
#include "json_quick.h"

#include "case_files.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *data_dir;

static char *read_case(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open", name);
    char *text = malloc(65536);
    assert_non_null(text);
    *len = fread(text, 1, 65536, f);
    fclose(f);
    return text;
}

/* One case under one set of flags. */
static void check_case(const char *name, const char *text, size_t len, size_t flags)
{
    const char *how = flags != 0 ? "with JSON_REJECT_DUPLICATES" : "without flags";
    bool quick =
        strncmp(name, "quick-", 6) == 0 && !(flags != 0 && strstr(name, "repeated-key") != NULL);
    bool refused = strstr(name, "-refused.") != NULL;
    json_t *plain = NULL;
    int rc = json_quick_plain(text, len, flags, &plain);
    if (rc != (quick ? 1 : 0))
        fail_msg("%s %s: json_quick_plain gave %d, not %d", name, how, rc, quick ? 1 : 0);
    json_error_t want_err, got_err;
    json_t *want = json_loadb(text, len, flags, &want_err);
    json_t *got = json_quick_loadb(text, len, flags, &got_err);
    if (refused && want != NULL)
        fail_msg("%s %s: json_loadb took what the case says it refuses", name, how);
    if ((want == NULL) != (got == NULL) || (want != NULL && !json_equal(want, got)))
        fail_msg("%s %s: json_quick_loadb differs from json_loadb", name, how);
    if (want == NULL && (strcmp(want_err.text, got_err.text) != 0 ||
                         want_err.line != got_err.line || want_err.column != got_err.column))
        fail_msg("%s %s: refused with \"%s\" at %d:%d, json_loadb says \"%s\" at %d:%d", name, how,
                 got_err.text, got_err.line, got_err.column, want_err.text, want_err.line,
                 want_err.column);
    if (quick && !json_equal(plain, want))
        fail_msg("%s %s: the quick path built another value than json_loadb", name, how);
    json_decref(plain);
    json_decref(want);
    json_decref(got);
}

static void test_case(void **state)
{
    const char *name = *state;
    size_t len;
    char *text = read_case(name, &len);
    check_case(name, text, len, 0);
    check_case(name, text, len, JSON_REJECT_DUPLICATES);
    free(text);
}

static bool is_case(const char *name)
{
    return strncmp(name, "quick-", 6) == 0 || strncmp(name, "full-", 5) == 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_json_quick DATA_DIR\n");
        return 2;
    }
    data_dir = argv[1];
    return case_files_run("test_json_quick", data_dir, is_case, test_case, NULL, 0);
}
