/*
 * test_keyfile — holds common/keyfile.c to the rule of DESIGN.md §7 for the
 * files secrets live in (the cluster token, TLS keys, Keystone passwords):
 * nothing for others, no group write, group read allowed (root:nova 0640).
 * Each case is one file under data/keyfile/, so a mode someone asks about
 * is one new file, and a failure names the file that broke.
 *
 * Usage: test_keyfile DATA_DIR   (every non-hidden file in it is a case)
 *
 * A case file holds "key = value" lines after a first "# " line saying
 * what it checks:
 *
 *   mode = OCTAL               the file's permission bits (set with chmod,
 *                              whatever the umask)
 *   secret = yes | no          keyfile_read()'s secret argument
 *   expect = accepted | refused
 *   message = TEXT             refused: a substring of the error (which
 *                              must also name the setting and the path)
 */
#include "keyfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* What each case file holds, and what keyfile_read must return for it. */
#define KEYFILE_CONTENT "s3cret-token-0123456789\n"
#define KEYFILE_WHAT    "token file"

struct keyfile_case {
    char *path; /* the case file */
    char *name; /* its name: what a failure reports */
    mode_t mode;
    bool have_mode, secret, have_secret, accepted, have_expect;
    char *message;
};

static const char *data_dir;
static char work_dir[] = "/tmp/mdevmig-test-keyfile.XXXXXX";

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

/* One "key = value" line into c; -1 with a message for anything else, so a
 * typo in a case file is reported rather than skipped. */
static int case_line(struct keyfile_case *c, char *key, char *value, char *err, size_t errlen)
{
    if (strcmp(key, "mode") == 0) {
        char *end;
        errno = 0;
        unsigned long mode = strtoul(value, &end, 8);
        if (errno != 0 || end == value || *end != '\0' || mode > 07777) {
            snprintf(err, errlen, "mode \"%s\" is not an octal mode", value);
            return -1;
        }
        c->mode = (mode_t)mode;
        c->have_mode = true;
    } else if (strcmp(key, "secret") == 0 &&
               (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0)) {
        c->secret = strcmp(value, "yes") == 0;
        c->have_secret = true;
    } else if (strcmp(key, "expect") == 0 &&
               (strcmp(value, "accepted") == 0 || strcmp(value, "refused") == 0)) {
        c->accepted = strcmp(value, "accepted") == 0;
        c->have_expect = true;
    } else if (strcmp(key, "message") == 0 && c->message == NULL) {
        c->message = strdup(value);
        if (c->message == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    } else {
        snprintf(err, errlen, "unknown, repeated or bad line \"%s = %s\"", key, value);
        return -1;
    }
    return 0;
}

static int case_parse(struct keyfile_case *c, char *err, size_t errlen)
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
        if (lineno == 1 && strncmp(text, "# ", 2) != 0) {
            snprintf(err, errlen, "line 1: must be a \"# \" comment saying what the case checks");
            rc = -1;
        } else if (text[0] == '\0' || text[0] == '#') {
            continue;
        } else {
            char *eq = strchr(text, '=');
            char msg[256];
            if (eq == NULL) {
                snprintf(err, errlen, "line %u: no '='", lineno);
                rc = -1;
            } else {
                *eq = '\0';
                if (case_line(c, trim(text), trim(eq + 1), msg, sizeof msg) < 0) {
                    snprintf(err, errlen, "line %u: %s", lineno, msg);
                    rc = -1;
                }
            }
        }
    }
    free(line);
    fclose(f);
    if (rc == 0 && !(c->have_mode && c->have_secret && c->have_expect)) {
        snprintf(err, errlen, "needs mode, secret and expect lines");
        rc = -1;
    }
    if (rc == 0 && c->accepted != (c->message == NULL)) {
        snprintf(err, errlen, "a refused case needs a message line, an accepted one none");
        rc = -1;
    }
    return rc;
}

static int case_setup(void **state)
{
    struct keyfile_case *c = *state;
    char err[512];
    if (case_parse(c, err, sizeof err) < 0) {
        fprintf(stderr, "%s/%s: %s\n", data_dir, c->name, err);
        return -1;
    }
    return 0;
}

static void run_case(void **state)
{
    const struct keyfile_case *c = *state;
    char path[sizeof work_dir + 300];
    snprintf(path, sizeof path, "%s/%s", work_dir, c->name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, KEYFILE_CONTENT, strlen(KEYFILE_CONTENT)),
                     (ssize_t)strlen(KEYFILE_CONTENT));
    assert_int_equal(close(fd), 0);
    /* chmod, not open's mode: the umask must not decide what is tested. */
    assert_int_equal(chmod(path, c->mode), 0);

    char *text = NULL, err[1024] = "";
    size_t len = 99;
    int rc = keyfile_read(path, KEYFILE_WHAT, c->secret, 4096, &text, &len, err, sizeof err);
    unlink(path);
    if (c->accepted) {
        if (rc != 0)
            fail_msg("%s: mode %04o refused: %s", c->name, (unsigned)c->mode, err);
        assert_non_null(text);
        assert_int_equal(len, strlen(KEYFILE_CONTENT));
        assert_string_equal(text, KEYFILE_CONTENT);
        free(text);
        return;
    }
    if (rc == 0) {
        free(text);
        fail_msg("%s: mode %04o accepted", c->name, (unsigned)c->mode);
    }
    assert_null(text);
    assert_int_equal(len, 0);
    if (strstr(err, c->message) == NULL || strstr(err, path) == NULL ||
        strncmp(err, KEYFILE_WHAT " ", strlen(KEYFILE_WHAT) + 1) != 0)
        fail_msg("%s: the error \"%s\" does not name \"" KEYFILE_WHAT "\", the path and \"%s\"",
                 c->name, err, c->message);
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static void case_free(struct keyfile_case *c)
{
    free(c->path);
    free(c->name);
    free(c->message);
    free(c);
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
    if (mkdtemp(work_dir) == NULL) {
        fprintf(stderr, "mkdtemp %s: %s\n", work_dir, strerror(errno));
        for (int i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return 2;
    }
    struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
    int rc = tests == NULL ? 2 : 0;
    for (int made = 0; rc == 0 && made < n; made++) {
        struct keyfile_case *c = calloc(1, sizeof *c);
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
        rc = _cmocka_run_group_tests("keyfile", tests, (size_t)n, NULL, NULL) != 0;
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
    /* Every case unlinks its file; a failed one may have left it. */
    DIR *dir = opendir(work_dir);
    struct dirent *d;
    while (dir != NULL && (d = readdir(dir)) != NULL) {
        if (d->d_name[0] != '.')
            unlinkat(dirfd(dir), d->d_name, 0);
    }
    if (dir != NULL)
        closedir(dir);
    rmdir(work_dir);
    return rc;
}
