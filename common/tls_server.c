/*
 * tls_server — GnuTLS credentials behind libmicrohttpd. libmicrohttpd
 * reads its certificate once, at start; we hand it ours through its
 * certificate callback instead, so a SIGHUP can swap them. It verifies no
 * client certificate by itself (it only asks for one when given a trust
 * CA): that check is here, against a trust list we can also swap.
 */
#include "tls_server.h"

#include "keyfile.h"
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TLS_MAX_CHAIN   16
#define TLS_MAX_FILE    (1024 * 1024)
#define TLS_MAX_CA_FILE (4 * 1024 * 1024)
#define TLS_DIGEST_LEN  32

/* One set of credentials, as read from the files at one time. */
struct tls_gen {
    struct tls_gen *older;
    unsigned char digest[TLS_DIGEST_LEN]; /* of the three files' contents */
    gnutls_pcert_st pcerts[TLS_MAX_CHAIN];
    unsigned pcert_count;
    gnutls_privkey_t key;
    gnutls_x509_trust_list_t client_trust; /* NULL without mutual TLS */
};

struct tls_server {
    _Atomic(struct tls_gen *) current; /* the newest; ->older the rest */
    bool mutual;
    char *client_ca_pem; /* as first read, for libmicrohttpd */
};

static void tls_gen_free(struct tls_gen *g)
{
    if (g == NULL)
        return;
    for (unsigned i = 0; i < g->pcert_count; i++)
        gnutls_pcert_deinit(&g->pcerts[i]);
    if (g->key != NULL)
        gnutls_privkey_deinit(g->key);
    if (g->client_trust != NULL)
        gnutls_x509_trust_list_deinit(g->client_trust, 1);
    free(g);
}

/* The files' contents, read together so a change of any one is seen. */
struct tls_contents {
    char *cert, *key, *ca;
    size_t cert_len, key_len, ca_len;
};

static void tls_contents_free(struct tls_contents *c)
{
    free(c->cert);
    if (c->key != NULL)
        explicit_bzero(c->key, c->key_len);
    free(c->key);
    free(c->ca);
    memset(c, 0, sizeof *c);
}

static int tls_contents_read(const struct tls_server_files *f, struct tls_contents *c,
                             unsigned char digest[TLS_DIGEST_LEN], char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (f->cert_file == NULL || f->key_file == NULL) {
        snprintf(err, errlen, "TLS needs both tls_cert_file and tls_key_file");
        return -1;
    }
    if (keyfile_read(f->cert_file, "tls_cert_file", false, TLS_MAX_FILE, &c->cert, &c->cert_len,
                     err, errlen) < 0 ||
        keyfile_read(f->key_file, "tls_key_file", true, TLS_MAX_FILE, &c->key, &c->key_len, err,
                     errlen) < 0 ||
        (f->client_ca_file != NULL &&
         keyfile_read(f->client_ca_file, "tls_client_ca_file", false, TLS_MAX_CA_FILE, &c->ca,
                      &c->ca_len, err, errlen) < 0)) {
        tls_contents_free(c);
        return -1;
    }
    gnutls_hash_hd_t hash;
    if (gnutls_hash_init(&hash, GNUTLS_DIG_SHA256) < 0) {
        snprintf(err, errlen, "cannot hash the TLS files");
        tls_contents_free(c);
        return -1;
    }
    /* Lengths first, so moving bytes between files still changes it. */
    size_t lens[3] = {c->cert_len, c->key_len, c->ca_len};
    gnutls_hash(hash, lens, sizeof lens);
    gnutls_hash(hash, c->cert, c->cert_len);
    gnutls_hash(hash, c->key, c->key_len);
    if (c->ca != NULL)
        gnutls_hash(hash, c->ca, c->ca_len);
    gnutls_hash_deinit(hash, digest);
    return 0;
}

static bool tls_same_key(gnutls_pcert_st *cert, gnutls_privkey_t key)
{
    gnutls_pubkey_t pub;
    if (gnutls_pubkey_init(&pub) < 0)
        return false;
    unsigned char a[64], b[64];
    size_t alen = sizeof a, blen = sizeof b;
    bool same = gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0 &&
                gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &alen) >= 0 &&
                gnutls_pubkey_get_key_id(cert->pubkey, GNUTLS_KEYID_USE_SHA256, b, &blen) >= 0 &&
                alen == blen && memcmp(a, b, alen) == 0;
    gnutls_pubkey_deinit(pub);
    return same;
}

/* Say so when the certificate served is not (or soon no longer) valid:
 * clients will refuse it, and the log is where the operator looks. */
static void tls_warn_dates(const char *path, gnutls_pcert_st *pcert)
{
    gnutls_x509_crt_t crt;
    if (gnutls_pcert_export_x509(pcert, &crt) < 0)
        return;
    time_t now = time(NULL);
    time_t expires = gnutls_x509_crt_get_expiration_time(crt);
    time_t starts = gnutls_x509_crt_get_activation_time(crt);
    if (expires != (time_t)-1 && expires < now)
        log_warn("tls_cert_file %s: the certificate expired %ld s ago; clients will refuse it",
                 path, (long)(now - expires));
    else if (starts != (time_t)-1 && starts > now)
        log_warn("tls_cert_file %s: the certificate is not valid for another %ld s", path,
                 (long)(starts - now));
    else if (expires != (time_t)-1 && expires - now < 14 * 86400)
        log_warn("tls_cert_file %s: the certificate expires in %ld days", path,
                 (long)((expires - now) / 86400));
    gnutls_x509_crt_deinit(crt);
}

static struct tls_gen *tls_gen_load(const struct tls_server_files *f, const struct tls_contents *c,
                                    const unsigned char digest[TLS_DIGEST_LEN], char *err,
                                    size_t errlen)
{
    struct tls_gen *g = calloc(1, sizeof *g);
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(g->digest, digest, TLS_DIGEST_LEN);
    gnutls_datum_t cert = {.data = (unsigned char *)c->cert, .size = (unsigned)c->cert_len};
    gnutls_datum_t key = {.data = (unsigned char *)c->key, .size = (unsigned)c->key_len};
    unsigned count = TLS_MAX_CHAIN;
    int rc = gnutls_pcert_list_import_x509_raw(g->pcerts, &count, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || count == 0) {
        snprintf(err, errlen, "tls_cert_file %s: no PEM certificate read (%s)", f->cert_file,
                 rc < 0 ? gnutls_strerror(rc) : "empty");
        tls_gen_free(g);
        return NULL;
    }
    g->pcert_count = count;
    if ((rc = gnutls_privkey_init(&g->key)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(g->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen, "tls_key_file %s: no PEM private key read (%s)", f->key_file,
                 gnutls_strerror(rc));
        tls_gen_free(g);
        return NULL;
    }
    if (!tls_same_key(&g->pcerts[0], g->key)) {
        snprintf(err, errlen,
                 "tls_key_file %s is not the key of the certificate in tls_cert_file %s",
                 f->key_file, f->cert_file);
        tls_gen_free(g);
        return NULL;
    }
    if (c->ca != NULL) {
        gnutls_datum_t ca = {.data = (unsigned char *)c->ca, .size = (unsigned)c->ca_len};
        if ((rc = gnutls_x509_trust_list_init(&g->client_trust, 0)) < 0 ||
            (rc = gnutls_x509_trust_list_add_trust_mem(g->client_trust, &ca, NULL,
                                                       GNUTLS_X509_FMT_PEM, 0, 0)) <= 0) {
            snprintf(err, errlen, "tls_client_ca_file %s: no PEM CA certificate read (%s)",
                     f->client_ca_file, rc < 0 ? gnutls_strerror(rc) : "none in it");
            tls_gen_free(g);
            return NULL;
        }
    }
    tls_warn_dates(f->cert_file, &g->pcerts[0]);
    return g;
}

struct tls_server *tls_server_new(const struct tls_server_files *files, char *err, size_t errlen)
{
    struct tls_contents c;
    unsigned char digest[TLS_DIGEST_LEN];
    if (tls_contents_read(files, &c, digest, err, errlen) < 0)
        return NULL;
    struct tls_server *t = calloc(1, sizeof *t);
    struct tls_gen *g = t != NULL ? tls_gen_load(files, &c, digest, err, errlen) : NULL;
    if (t == NULL)
        snprintf(err, errlen, "out of memory");
    if (g == NULL) {
        tls_contents_free(&c);
        free(t);
        return NULL;
    }
    t->mutual = c.ca != NULL;
    t->client_ca_pem = c.ca; /* kept: libmicrohttpd reads it at start */
    c.ca = NULL;
    tls_contents_free(&c);
    atomic_store(&t->current, g);
    return t;
}

int tls_server_reload(struct tls_server *t, const struct tls_server_files *files, bool *changed,
                      char *err, size_t errlen)
{
    *changed = false;
    if ((files->client_ca_file != NULL) != t->mutual) {
        snprintf(err, errlen, "tls_client_ca_file %s: turning mutual TLS %s needs a restart",
                 t->mutual ? "unset" : "set", t->mutual ? "off" : "on");
        return -1;
    }
    struct tls_contents c;
    unsigned char digest[TLS_DIGEST_LEN];
    if (tls_contents_read(files, &c, digest, err, errlen) < 0)
        return -1;
    struct tls_gen *current = atomic_load(&t->current);
    if (memcmp(current->digest, digest, TLS_DIGEST_LEN) == 0) {
        tls_contents_free(&c);
        return 0;
    }
    struct tls_gen *g = tls_gen_load(files, &c, digest, err, errlen);
    tls_contents_free(&c);
    if (g == NULL)
        return -1;
    g->older = current;
    atomic_store(&t->current, g);
    *changed = true;
    return 0;
}

void tls_server_free(struct tls_server *t)
{
    if (t == NULL)
        return;
    struct tls_gen *g = atomic_load(&t->current);
    while (g != NULL) {
        struct tls_gen *older = g->older;
        tls_gen_free(g);
        g = older;
    }
    free(t->client_ca_pem);
    free(t);
}

bool tls_server_mutual(const struct tls_server *t)
{
    return t->mutual;
}

const char *tls_server_client_ca_pem(const struct tls_server *t)
{
    return t->client_ca_pem;
}

void tls_server_current(struct tls_server *t, gnutls_pcert_st **pcerts, unsigned *count,
                        gnutls_privkey_t *key)
{
    struct tls_gen *g = atomic_load(&t->current);
    *pcerts = g->pcerts;
    *count = g->pcert_count;
    *key = g->key;
}

int tls_server_verify_client(struct tls_server *t, gnutls_session_t session,
                             gnutls_x509_crt_t *leaf, char *why, size_t whylen)
{
    *leaf = NULL;
    struct tls_gen *g = atomic_load(&t->current);
    if (g->client_trust == NULL) {
        snprintf(why, whylen, "this server has no tls_client_ca_file");
        return -1;
    }
    unsigned n = 0;
    const gnutls_datum_t *raw = gnutls_certificate_get_peers(session, &n);
    if (raw == NULL || n == 0) {
        snprintf(why, whylen,
                 "no client certificate (mutual TLS: present one signed by the "
                 "cluster CA)");
        return -1;
    }
    if (n > TLS_MAX_CHAIN)
        n = TLS_MAX_CHAIN;
    gnutls_x509_crt_t chain[TLS_MAX_CHAIN] = {0};
    int rc = 0;
    unsigned made = 0;
    for (; made < n && rc >= 0; made++) {
        rc = gnutls_x509_crt_init(&chain[made]);
        if (rc >= 0)
            rc = gnutls_x509_crt_import(chain[made], &raw[made], GNUTLS_X509_FMT_DER);
    }
    unsigned status = 0;
    if (rc >= 0) {
        gnutls_typed_vdata_st purpose = {
            .type = GNUTLS_DT_KEY_PURPOSE_OID,
            .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
        };
        rc = gnutls_x509_trust_list_verify_crt2(g->client_trust, chain, n, &purpose, 1, 0, &status,
                                                NULL);
    }
    if (rc < 0) {
        snprintf(why, whylen, "client certificate unreadable: %s", gnutls_strerror(rc));
    } else if (status != 0) {
        gnutls_datum_t text = {0};
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0) {
            size_t len = strlen((const char *)text.data);
            while (len > 0 && (text.data[len - 1] == ' ' || text.data[len - 1] == '\n'))
                len--;
            snprintf(why, whylen, "client certificate refused: %.*s", (int)len,
                     (const char *)text.data);
            gnutls_free(text.data);
        } else {
            snprintf(why, whylen, "client certificate refused (status 0x%x)", status);
        }
        rc = -1;
    }
    for (unsigned i = rc >= 0 ? 1 : 0; i < made; i++)
        if (chain[i] != NULL)
            gnutls_x509_crt_deinit(chain[i]);
    if (rc < 0)
        return -1;
    *leaf = chain[0];
    return 0;
}

bool tls_server_cert_names(gnutls_x509_crt_t cert, const char *host)
{
    return cert != NULL && host != NULL && host[0] != '\0' &&
           gnutls_x509_crt_check_hostname2(cert, host, GNUTLS_VERIFY_DO_NOT_ALLOW_WILDCARDS) != 0;
}
