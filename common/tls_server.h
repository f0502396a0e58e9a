/*
 * tls_server — the server side of TLS for both daemons (DESIGN.md §7): the
 * certificate and key a daemon presents, the CA its clients' certificates
 * must chain to under mutual TLS, and the check of a client certificate.
 *
 * Credentials are loaded into generations. A reload (SIGHUP) that finds
 * new file contents makes a new generation that every later handshake
 * uses; connections already open keep the one they shook hands with, so a
 * rotation drops no request. Old generations are kept until the server
 * stops (a handshake in flight may still hold one); a reload that changes
 * nothing makes none, so repeated SIGHUPs cost no memory.
 */
#ifndef MDEVMIG_TLS_SERVER_H
#define MDEVMIG_TLS_SERVER_H

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stddef.h>

/* What the settings tls_cert_file, tls_key_file and tls_client_ca_file
 * name. cert_file and key_file go together; client_ca_file (mutual TLS)
 * needs them. */
struct tls_server_files {
    const char *cert_file;      /* PEM: the server's certificate, then its chain */
    const char *key_file;       /* PEM private key: 0600, or 0640 (keyfile.h) */
    const char *client_ca_file; /* PEM CA(s) client certificates must chain to; NULL: none */
};

struct tls_server;

/* Load the files; NULL with a message naming the setting and file. */
struct tls_server *tls_server_new(const struct tls_server_files *files, char *err, size_t errlen);

/* Re-read the files. A new generation when any content changed (*changed
 * set); on any error the current one stays and err says why. Turning
 * mutual TLS on or off is refused: it needs a restart. */
int tls_server_reload(struct tls_server *t, const struct tls_server_files *files, bool *changed,
                      char *err, size_t errlen);

void tls_server_free(struct tls_server *t);

/* Whether clients must present a certificate (client_ca_file was set). */
bool tls_server_mutual(const struct tls_server *t);

/* The client CA as PEM, for libmicrohttpd's HTTPS_MEM_TRUST (which makes
 * it ask clients for a certificate); NULL without mutual TLS. Stays valid
 * until tls_server_free. */
const char *tls_server_client_ca_pem(const struct tls_server *t);

/* The certificate chain and key of the current generation, for the
 * handshake callback. */
void tls_server_current(struct tls_server *t, gnutls_pcert_st **pcerts, unsigned *count,
                        gnutls_privkey_t *key);

/* Check the certificate the client sent on session against the current
 * client CA (chain, validity dates, client-auth purpose). 0 with the leaf
 * certificate in *leaf (the caller deinits it); -1 with why ("no client
 * certificate", "not signed by ...", "expired", ...). */
int tls_server_verify_client(struct tls_server *t, gnutls_session_t session,
                             gnutls_x509_crt_t *leaf, char *why, size_t whylen);

/* Whether a verified certificate names host (a SAN dNSName, or the CN when
 * it has none), without wildcards: one host's certificate never speaks for
 * another. */
bool tls_server_cert_names(gnutls_x509_crt_t cert, const char *host);

#endif
