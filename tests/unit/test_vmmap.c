/*
 * test_vmmap — vmmap against libvirt's in-process test driver. Every
 * NAME.xml in the data folder (a whole fake host: domains and node devices)
 * must give NAME.json, so a new case is two new files and no code. Beyond
 * the scenarios: an unreachable URI fails with a clear message and then
 * backs off; events reach on_change and stop at vmmap_free; vmmap_free
 * leaves no thread behind.
 *
 * Usage: test_vmmap DATA_DIR
 */
#include "vmmap.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* test:///default is one host shared by every connection in the process,
 * so the test can change it under vmmap's connection and watch events
 * arrive. Its only domain, "test", has no mdev. */
#define DEFAULT_URI    "test:///default"
#define DEFAULT_DOMAIN "test"

static char data_dir[PATH_MAX];

struct changes {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int count;
};

static void changes_init(struct changes *c)
{
    assert_int_equal(pthread_mutex_init(&c->lock, NULL), 0);
    assert_int_equal(pthread_cond_init(&c->cond, NULL), 0);
    c->count = 0;
}

static void changes_destroy(struct changes *c)
{
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

static void on_change(void *arg)
{
    struct changes *c = arg;
    pthread_mutex_lock(&c->lock);
    c->count++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static int changes_get(struct changes *c)
{
    pthread_mutex_lock(&c->lock);
    int n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* Waits until more than `above` changes were seen, at most ms; returns
 * the count. Events come from vmmap's thread, so the test must wait. */
static int changes_wait(struct changes *c, int above, int ms)
{
    struct timespec until;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &until), 0);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (c->count <= above) {
        if (pthread_cond_timedwait(&c->cond, &c->lock, &until) != 0)
            break;
    }
    int n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Threads of this process, from /proc/self/task. */
static int thread_count(void)
{
    DIR *dir = opendir("/proc/self/task");
    assert_non_null(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(dir);
    return n;
}

/* The same shape as the inventory wire format's "instances". */
static json_t *instances_json(const struct inv_instance *list, size_t count)
{
    json_t *array = json_array();
    assert_non_null(array);
    for (size_t i = 0; i < count; i++) {
        json_t *mdevs = json_array();
        assert_non_null(mdevs);
        for (size_t d = 0; d < list[i].mdev_count; d++)
            assert_int_equal(json_array_append_new(mdevs, json_string(list[i].mdevs[d])), 0);
        json_t *vm = json_pack("{s:s, s:s, s:s, s:o}", "uuid", list[i].uuid, "name", list[i].name,
                               "state", list[i].state, "mdevs", mdevs);
        assert_non_null(vm);
        assert_int_equal(json_array_append_new(array, vm), 0);
    }
    return array;
}

static void collect_ok(struct vmmap *m, json_t **got)
{
    struct inv_instance *list = NULL;
    size_t count = 99;
    char err[1024] = "";
    int rc = vmmap_collect(m, &list, &count, err, sizeof err);
    if (rc != 0)
        fail_msg("vmmap_collect: %s", err);
    assert_true(count == 0 ? list == NULL : list != NULL);
    *got = instances_json(list, count);
    vmmap_instances_free(list, count);
}

static void assert_json_equal(const json_t *expected, const json_t *got, const char *what)
{
    if (json_equal(expected, got))
        return;
    char *e = json_dumps(expected, JSON_INDENT(2));
    char *g = json_dumps(got, JSON_INDENT(2));
    print_error("%s: expected\n%s\ngot\n%s\n", what, e ? e : "?", g ? g : "?");
    free(e);
    free(g);
    fail();
}

/* One scenario: *state is its name (NAME.xml → NAME.json). Collected twice
 * to cover the reuse of an open connection. */
static void test_scenario(void **state)
{
    const char *name = *state;
    char uri[PATH_MAX + 32], expected_path[PATH_MAX + 32];
    snprintf(uri, sizeof uri, "test://%s/%s.xml", data_dir, name);
    snprintf(expected_path, sizeof expected_path, "%s/%s.json", data_dir, name);
    json_error_t jerr;
    json_t *expected = json_load_file(expected_path, 0, &jerr);
    if (expected == NULL)
        fail_msg("%s:%d: %s", expected_path, jerr.line, jerr.text);

    struct changes changes;
    changes_init(&changes);
    struct vmmap *m = vmmap_new(uri, on_change, &changes);
    assert_non_null(m);
    for (int pass = 0; pass < 2; pass++) {
        json_t *got = NULL;
        collect_ok(m, &got);
        assert_json_equal(expected, got, name);
        json_decref(got);
    }
    char note[1024];
    if (!vmmap_events(m, note, sizeof note))
        print_message("note: %s\n", note);
    vmmap_free(m);
    changes_destroy(&changes);
    json_decref(expected);
}

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in: %s", part, text);
}

static void collect_fails(struct vmmap *m, char *err, size_t errlen)
{
    struct inv_instance *list = (struct inv_instance *)&list; /* must be reset */
    size_t count = 99;
    err[0] = '\0';
    assert_int_equal(vmmap_collect(m, &list, &count, err, errlen), -1);
    assert_null(list);
    assert_int_equal(count, 0);
}

/* A URI that cannot connect: a clear error, then no new attempt until the
 * backoff has passed, then a doubled wait. */
static void test_unreachable(void **state)
{
    (void)state;
    struct vmmap *m = vmmap_new("test:///nonexistent/mdevmig-vmmap.xml", NULL, NULL);
    assert_non_null(m);
    char err[1024];

    collect_fails(m, err, sizeof err);
    assert_contains(err, "libvirt test:///nonexistent/mdevmig-vmmap.xml: cannot connect: ");
    assert_contains(err, "(next try in 0.5 s)");

    collect_fails(m, err, sizeof err);
    assert_contains(err, "libvirt unreachable at test:///nonexistent/mdevmig-vmmap.xml, "
                         "next try in ");
    assert_contains(err, "(last error: ");

    sleep_ms(VMMAP_BACKOFF_FIRST_MS + 100);
    collect_fails(m, err, sizeof err);
    assert_contains(err, "cannot connect: ");
    assert_contains(err, "(next try in 1 s)");

    char note[256];
    assert_false(vmmap_events(m, note, sizeof note));
    assert_contains(note, "not connected");
    vmmap_free(m);
}

/* Suspending and resuming a domain of test:///default from another
 * connection must reach on_change through vmmap's event thread; after
 * vmmap_free nothing may. */
static void test_domain_events(void **state)
{
    (void)state;
    struct changes changes;
    changes_init(&changes);
    struct vmmap *m = vmmap_new(DEFAULT_URI, on_change, &changes);
    assert_non_null(m);
    json_t *got = NULL;
    collect_ok(m, &got);
    assert_int_equal(json_array_size(got), 0); /* its one domain has no mdev */
    json_decref(got);
    char note[1024];
    if (!vmmap_events(m, note, sizeof note))
        print_message("note: %s\n", note);
    /* The test driver supports domain lifecycle events. */
    assert_null(strstr(note, "domain lifecycle"));

    virConnectPtr conn = virConnectOpen(DEFAULT_URI);
    assert_non_null(conn);
    virDomainPtr dom = virDomainLookupByName(conn, DEFAULT_DOMAIN);
    assert_non_null(dom);

    int before = changes_get(&changes);
    assert_int_equal(virDomainSuspend(dom), 0);
    assert_true(changes_wait(&changes, before, 5000) > before);

    collect_ok(m, &got);
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);

    vmmap_free(m);
    int after_free = changes_get(&changes);
    assert_int_equal(virDomainResume(dom), 0);
    sleep_ms(200);
    assert_int_equal(changes_get(&changes), after_free);

    assert_int_equal(virDomainFree(dom), 0);
    assert_true(virConnectClose(conn) >= 0);
    changes_destroy(&changes);
}

/* Creating a vHBA is the one node-device change the test driver makes:
 * it must reach on_change through the node-device lifecycle event. */
static void test_nodedev_events(void **state)
{
    (void)state;
    static const char vhba[] = "<device>"
                               "  <parent>scsi_host1</parent>"
                               "  <capability type='scsi_host'>"
                               "    <capability type='fc_host'>"
                               "      <wwnn>2000000012345678</wwnn>"
                               "      <wwpn>1000000012345678</wwpn>"
                               "    </capability>"
                               "  </capability>"
                               "</device>";
    struct changes changes;
    changes_init(&changes);
    struct vmmap *m = vmmap_new(DEFAULT_URI, on_change, &changes);
    assert_non_null(m);
    json_t *got = NULL;
    collect_ok(m, &got);
    json_decref(got);
    char note[1024];
    if (!vmmap_events(m, note, sizeof note))
        print_message("note: %s\n", note);
    assert_null(strstr(note, "node-device lifecycle"));

    virConnectPtr conn = virConnectOpen(DEFAULT_URI);
    assert_non_null(conn);
    int before = changes_get(&changes);
    virNodeDevicePtr dev = virNodeDeviceCreateXML(conn, vhba, 0);
    if (dev == NULL)
        fail_msg("virNodeDeviceCreateXML: %s", virGetLastErrorMessage());
    assert_true(changes_wait(&changes, before, 5000) > before);
    assert_int_equal(virNodeDeviceDestroy(dev), 0);
    assert_int_equal(virNodeDeviceFree(dev), 0);
    assert_true(virConnectClose(conn) >= 0);
    vmmap_free(m);
    changes_destroy(&changes);
}

/* vmmap_free of the last map stops the event thread; maps alive together
 * share it, and a map freed without ever connecting is fine. */
static void test_free_stops_thread(void **state)
{
    (void)state;
    /* A first cycle lets libvirt start whatever it keeps for good. */
    struct vmmap *m = vmmap_new(DEFAULT_URI, NULL, NULL);
    assert_non_null(m);
    json_t *got = NULL;
    collect_ok(m, &got);
    json_decref(got);
    vmmap_free(m);
    int base = thread_count();

    struct vmmap *a = vmmap_new(DEFAULT_URI, NULL, NULL);
    struct vmmap *b = vmmap_new("test:///nonexistent/never-used.xml", NULL, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(thread_count(), base + 1);
    collect_ok(a, &got);
    json_decref(got);
    vmmap_free(a);
    assert_int_equal(thread_count(), base + 1); /* b still holds it */
    vmmap_free(b);
    assert_int_equal(thread_count(), base);

    vmmap_free(NULL);
    vmmap_instances_free(NULL, 0);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    /* The test driver wants an absolute path in the URI. */
    if (realpath(argv[1], data_dir) == NULL) {
        perror(argv[1]);
        return 2;
    }
    DIR *dir = opendir(data_dir);
    if (dir == NULL) {
        perror(data_dir);
        return 2;
    }
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (!has_suffix(e->d_name, ".xml"))
            continue;
        if (n == sizeof names / sizeof names[0]) {
            fprintf(stderr, "%s: more than %zu scenarios\n", data_dir, n);
            return 2;
        }
        names[n] = strndup(e->d_name, strlen(e->d_name) - 4);
        if (names[n] == NULL) {
            perror("strndup");
            return 2;
        }
        n++;
    }
    closedir(dir);
    if (n == 0) {
        fprintf(stderr, "%s: no scenario (*.xml)\n", data_dir);
        return 2;
    }
    qsort(names, n, sizeof names[0], name_cmp);

    struct CMUnitTest tests[64 + 4];
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        tests[t++] = (struct CMUnitTest){names[i], test_scenario, NULL, NULL, names[i]};
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_unreachable);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_domain_events);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_nodedev_events);
    tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_free_stops_thread);
    int failed = _cmocka_run_group_tests("vmmap", tests, t, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return failed == 0 ? 0 : 1;
}
