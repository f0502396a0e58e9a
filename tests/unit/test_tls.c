/*
 * test_tls — common/http_server's TLS and common/http_client's TLS against
 * each other in this process, with certificates a test CA made at test
 * time (test-tls.sh runs tests/integration/tlsca.py first): HTTPS served
 * and verified; a call pinned to a host name (peer_name) reaches an IP URL
 * only when the certificate names that host, and never over http://;
 * mutual TLS refuses a client without a certificate, or with another CA's,
 * before the handler runs, and tells the handler whom a certificate names;
 * certificates swapped by a reload reach new handshakes, a broken reload
 * changes nothing, an unchanged one makes no new generation; a key others
 * can read is refused; new client credentials replace the token.
 *
 * Usage: test_tls DIR   (DIR holds the files test-tls.sh made)
 */
#include "http_client.h"
#include "http_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *dir;

static char *path_of(const char *name)
{
    static char paths[16][512];
    static int next;
    char *p = paths[next++ % 16];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* The handler: "/whoami/HOST" answers whether the client certificate
 * names HOST; "/auth" echoes the Authorization header; anything else "ok". */
static void handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
    int *calls = ctx;
    (*calls)++;
    const char *text = "ok";
    char buf[256];
    if (strncmp(req->path, "/whoami/", 8) == 0) {
        text = http_request_client_is(req, req->path + 8) ? "yes" : "no";
    } else if (strcmp(req->path, "/auth") == 0) {
        snprintf(buf, sizeof buf, "%s", req->authorization ? req->authorization : "none");
        text = buf;
    }
    http_response_text(resp, 200, "text/plain", text, strlen(text));
}

struct served {
    struct http_server *server;
    int calls;
    char base[64];
};

static void serve(struct served *s, const char *cert, const char *key, const char *client_ca)
{
    struct tls_server_files files = {
        .cert_file = path_of(cert),
        .key_file = path_of(key),
        .client_ca_file = client_ca != NULL ? path_of(client_ca) : NULL,
    };
    struct http_server_options o = {
        .listen = "127.0.0.1:0", .threads = 2, .max_body = 4096, .tls = &files};
    char err[512];
    s->calls = 0;
    s->server = http_server_start(&o, handle, &s->calls, err, sizeof err);
    if (s->server == NULL)
        fail_msg("http_server_start: %s", err);
    snprintf(s->base, sizeof s->base, "https://127.0.0.1:%d", http_server_port(s->server));
}

static struct http_client *client(const char *ca, const char *cert, const char *key)
{
    struct http_client_options o = {
        .ca_file = ca != NULL ? path_of(ca) : NULL,
        .client_cert_file = cert != NULL ? path_of(cert) : NULL,
        .client_key_file = key != NULL ? path_of(key) : NULL,
        .token = "tok-1",
        .timeout_ms = 10000,
        /* A TLS handshake under ASan on a loaded machine can take a second. */
        .connect_timeout_ms = 5000,
    };
    char err[512];
    struct http_client *c = http_client_new(&o, err, sizeof err);
    if (c == NULL)
        fail_msg("http_client_new: %s", err);
    return c;
}

/* One GET; the call's outputs stay in *call (reset by the caller). */
static void get(struct http_client *c, const char *url, const char *peer, struct http_call *call)
{
    memset(call, 0, sizeof *call);
    call->url = url;
    call->peer_name = peer;
    char err[256];
    assert_int_equal(http_client_run(c, call, 1, err, sizeof err), 0);
}

static void expect_ok(struct http_call *call, const char *body)
{
    if (call->error[0] != '\0')
        fail_msg("%s: %s", call->url, call->error);
    assert_int_equal(call->status, 200);
    assert_string_equal(call->response, body);
    http_calls_reset(call, 1);
}

static void expect_error(struct http_call *call, const char *a, const char *b)
{
    if (call->error[0] == '\0')
        fail_msg("%s: answered %d, expected an error naming '%s'", call->url, call->status, a);
    if (strstr(call->error, a) == NULL || (b != NULL && strstr(call->error, b) == NULL))
        fail_msg("%s: error '%s' does not name '%s'%s%s", call->url, call->error, a,
                 b ? " and " : "", b ? b : "");
    http_calls_reset(call, 1);
}

static void test_https_verified(void **state)
{
    (void)state;
    struct served s;
    serve(&s, "ca/gpu-a.crt", "ca/gpu-a.key", NULL);
    struct http_client *c = client("ca/ca.crt", NULL, NULL);
    struct http_call call;
    char url[128];
    snprintf(url, sizeof url, "%s/x", s.base);
    get(c, url, NULL, &call);
    expect_ok(&call, "ok");
    http_client_free(c);

    /* Another CA's bundle: the certificate does not verify, and that is
     * an error, with nothing sent. */
    c = client("other/ca.crt", NULL, NULL);
    int before = s.calls;
    get(c, url, NULL, &call);
    expect_error(&call, "certificate", "127.0.0.1");
    assert_int_equal(s.calls, before);
    http_client_free(c);

    /* http:// to the TLS port: an error too (a hint says which). */
    c = client("ca/ca.crt", NULL, NULL);
    char plain[128];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%d/x", http_server_port(s.server));
    get(c, plain, NULL, &call);
    expect_error(&call, "127.0.0.1", NULL);
    assert_int_equal(s.calls, before);
    http_client_free(c);
    http_server_stop(s.server);
}

static void test_peer_name_pins_the_host(void **state)
{
    (void)state;
    struct served s;
    serve(&s, "ca/gpu-a.crt", "ca/gpu-a.key", NULL);
    struct http_client *c = client("ca/ca.crt", NULL, NULL);
    struct http_call call;
    char url[128];
    snprintf(url, sizeof url, "%s/x", s.base);
    get(c, url, "gpu-a", &call);
    expect_ok(&call, "ok");
    int before = s.calls;
    get(c, url, "gpu-b", &call);
    expect_error(&call, "gpu-b", "certificate");
    assert_int_equal(s.calls, before);
    /* A pinned call never goes out over http://. */
    char plain[128];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%d/x", http_server_port(s.server));
    get(c, plain, "gpu-a", &call);
    expect_error(&call, "refused to call host gpu-a over http://", NULL);
    http_client_free(c);
    http_server_stop(s.server);
}

static void test_mutual_tls(void **state)
{
    (void)state;
    struct served s;
    serve(&s, "ca/gpu-a.crt", "ca/gpu-a.key", "ca/ca.crt");
    char url[128];
    struct http_call call;

    struct http_client *c = client("ca/ca.crt", NULL, NULL);
    snprintf(url, sizeof url, "%s/x", s.base);
    get(c, url, NULL, &call);
    assert_int_equal(call.status, 403);
    assert_non_null(strstr(call.response, "no client certificate"));
    http_calls_reset(&call, 1);
    http_client_free(c);
    assert_int_equal(s.calls, 0);

    c = client("ca/ca.crt", "other/gpu-b.crt", "other/gpu-b.key");
    get(c, url, NULL, &call);
    assert_int_equal(call.status, 403);
    assert_non_null(strstr(call.response, "issuer is unknown"));
    http_calls_reset(&call, 1);
    http_client_free(c);

    c = client("ca/ca.crt", "ca/old.crt", "ca/old.key");
    get(c, url, NULL, &call);
    assert_int_equal(call.status, 403);
    assert_non_null(strstr(call.response, "expired"));
    http_calls_reset(&call, 1);
    http_client_free(c);
    assert_int_equal(s.calls, 0);

    c = client("ca/ca.crt", "ca/gpu-b.crt", "ca/gpu-b.key");
    snprintf(url, sizeof url, "%s/whoami/gpu-b", s.base);
    get(c, url, NULL, &call);
    expect_ok(&call, "yes");
    snprintf(url, sizeof url, "%s/whoami/gpu-a", s.base);
    get(c, url, NULL, &call);
    expect_ok(&call, "no");
    http_client_free(c);
    http_server_stop(s.server);
}

static void test_reload(void **state)
{
    (void)state;
    struct served s;
    serve(&s, "ca/one.crt", "ca/one.key", NULL);
    char url[128];
    snprintf(url, sizeof url, "%s/x", s.base);
    struct http_call call;
    struct http_client *c = client("ca/ca.crt", NULL, NULL);
    get(c, url, "one", &call);
    expect_ok(&call, "ok");
    get(c, url, "two", &call);
    expect_error(&call, "two", "certificate");
    http_client_free(c);

    bool changed = true;
    char err[512];
    struct tls_server_files same = {.cert_file = path_of("ca/one.crt"),
                                    .key_file = path_of("ca/one.key")};
    assert_int_equal(http_server_reload_tls(s.server, &same, &changed, err, sizeof err), 0);
    assert_false(changed);

    /* A key of another certificate: refused, the old pair stays. */
    struct tls_server_files mismatched = {.cert_file = path_of("ca/two.crt"),
                                          .key_file = path_of("ca/one.key")};
    assert_int_equal(http_server_reload_tls(s.server, &mismatched, &changed, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not the key of the certificate"));
    /* Switching mutual TLS on needs a restart. */
    struct tls_server_files mutual = {.cert_file = path_of("ca/two.crt"),
                                      .key_file = path_of("ca/two.key"),
                                      .client_ca_file = path_of("ca/ca.crt")};
    assert_int_equal(http_server_reload_tls(s.server, &mutual, &changed, err, sizeof err), -1);
    assert_non_null(strstr(err, "needs a restart"));
    c = client("ca/ca.crt", NULL, NULL);
    get(c, url, "one", &call);
    expect_ok(&call, "ok");
    http_client_free(c);

    struct tls_server_files two = {.cert_file = path_of("ca/two.crt"),
                                   .key_file = path_of("ca/two.key")};
    assert_int_equal(http_server_reload_tls(s.server, &two, &changed, err, sizeof err), 0);
    assert_true(changed);
    c = client("ca/ca.crt", NULL, NULL);
    get(c, url, "two", &call);
    expect_ok(&call, "ok");
    get(c, url, "one", &call);
    expect_error(&call, "one", "certificate");
    http_client_free(c);
    http_server_stop(s.server);
}

static void test_refused_files(void **state)
{
    (void)state;
    struct tls_server_files files = {.cert_file = path_of("ca/gpu-a.crt"),
                                     .key_file = path_of("ca/gpu-a.key")};
    assert_int_equal(chmod(files.key_file, 0644), 0);
    struct http_server_options o = {
        .listen = "127.0.0.1:0", .threads = 1, .max_body = 4096, .tls = &files};
    char err[512];
    int calls = 0;
    struct http_server *server = http_server_start(&o, handle, &calls, err, sizeof err);
    assert_int_equal(chmod(files.key_file, 0600), 0);
    assert_null(server);
    assert_non_null(strstr(err, "tls_key_file"));
    assert_non_null(strstr(err, "mode 644"));

    files.key_file = path_of("missing.key");
    assert_null(http_server_start(&o, handle, &calls, err, sizeof err));
    assert_non_null(strstr(err, "missing.key"));

    files.key_file = NULL;
    assert_null(http_server_start(&o, handle, &calls, err, sizeof err));
    assert_non_null(strstr(err, "tls_key_file"));
}

static void test_new_credentials(void **state)
{
    (void)state;
    struct served s;
    serve(&s, "ca/gpu-a.crt", "ca/gpu-a.key", NULL);
    char url[128];
    snprintf(url, sizeof url, "%s/auth", s.base);
    struct http_call call;
    struct http_client *c = client("ca/ca.crt", NULL, NULL);
    get(c, url, NULL, &call);
    expect_ok(&call, "Bearer tok-1");
    struct http_client_credentials cred = {.token = "tok-2", .ca_file = path_of("ca/ca.crt")};
    char err[256];
    assert_int_equal(http_client_set_credentials(c, &cred, err, sizeof err), 0);
    get(c, url, NULL, &call);
    expect_ok(&call, "Bearer tok-2");
    /* A CA that does not fit: new connections fail to verify. */
    cred.ca_file = path_of("other/ca.crt");
    assert_int_equal(http_client_set_credentials(c, &cred, err, sizeof err), 0);
    get(c, url, NULL, &call);
    expect_error(&call, "certificate", NULL);
    cred.token = "bad token";
    assert_int_equal(http_client_set_credentials(c, &cred, err, sizeof err), -1);
    http_client_free(c);
    http_server_stop(s.server);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_tls DIR\n");
        return 2;
    }
    dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_verified), cmocka_unit_test(test_peer_name_pins_the_host),
        cmocka_unit_test(test_mutual_tls),     cmocka_unit_test(test_reload),
        cmocka_unit_test(test_refused_files),  cmocka_unit_test(test_new_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
