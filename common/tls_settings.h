/*
 * tls_settings — the six TLS settings both daemons take (DESIGN.md §7),
 * written once: the server's certificate, key and client CA, and the
 * client side's CA file, certificate and key for the calls the daemon
 * makes. A program's config struct holds fields of these names; its table
 * splices TLS_SETTINGS_ITEMS(struct its_config) in, and its parse checks
 * the pairs with tls_settings_check().
 */
#ifndef MDEVMIG_TLS_SETTINGS_H
#define MDEVMIG_TLS_SETTINGS_H

#include "settings.h"

#include <stddef.h>
#include <stdio.h>

/* The fields a config struct carries for TLS_SETTINGS_ITEMS. */
struct tls_settings {
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_client_ca_file;
    char *ca_file;
    char *tls_client_cert_file;
    char *tls_client_key_file;
};

#define TLS_SETTINGS_ITEMS(type)                                                                   \
    {.key = "tls_cert_file",                                                                       \
     .flag = "tls-cert-file",                                                                      \
     .metavar = "FILE",                                                                            \
     .kind = SETTINGS_STRING,                                                                      \
     .offset = SETTINGS_FIELD(type, tls.tls_cert_file, char *),                                    \
     .shown = "(none: plain HTTP)",                                                                \
     .help = "PEM certificate (then its chain) this daemon serves HTTPS with; with "               \
             "tls_key_file it serves HTTPS only. Re-read on SIGHUP."},                             \
        {.key = "tls_key_file",                                                                    \
         .flag = "tls-key-file",                                                                   \
         .metavar = "FILE",                                                                        \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, tls.tls_key_file, char *),                                 \
         .shown = "(none)",                                                                        \
         .help = "PEM private key of tls_cert_file; must not be readable by others (0600, or "     \
                 "0640 for a group). Re-read on SIGHUP."},                                         \
        {.key = "tls_client_ca_file",                                                              \
         .flag = "tls-client-ca-file",                                                             \
         .metavar = "FILE",                                                                        \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, tls.tls_client_ca_file, char *),                           \
         .shown = "(none: no client certificate asked)",                                           \
         .help = "Mutual TLS: PEM CA that every client's certificate must chain to; requests "     \
                 "without one get 403. The bearer token stays required too. Re-read on SIGHUP "    \
                 "(turning it on or off needs a restart)."},                                       \
        {.key = "ca_file",                                                                         \
         .flag = "ca-file",                                                                        \
         .metavar = "FILE",                                                                        \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, tls.ca_file, char *),                                      \
         .shown = "(the system's CA store)",                                                       \
         .help = "PEM CA bundle that https:// servers this daemon calls must chain to. A "         \
                 "certificate that does not verify is an error; there is no fallback to "          \
                 "unverified TLS or to http. Re-read on SIGHUP."},                                 \
        {.key = "tls_client_cert_file",                                                            \
         .flag = "tls-client-cert-file",                                                           \
         .metavar = "FILE",                                                                        \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, tls.tls_client_cert_file, char *),                         \
         .shown = "(none)",                                                                        \
         .help = "PEM client certificate presented to https:// servers that ask for one "          \
                 "(mutual TLS). Re-read on SIGHUP."},                                              \
    {                                                                                              \
        .key = "tls_client_key_file", .flag = "tls-client-key-file", .metavar = "FILE",            \
        .kind = SETTINGS_STRING, .offset = SETTINGS_FIELD(type, tls.tls_client_key_file, char *),  \
        .shown = "(none: in tls_client_cert_file)",                                                \
        .help = "PEM key of tls_client_cert_file; must not be readable by others. Re-read on "     \
                "SIGHUP."                                                                          \
    }

/* The pairs: a certificate needs its key and the reverse, a client CA
 * needs a server certificate, a client key needs a client certificate.
 * 0, or -1 with a message naming the keys. */
int tls_settings_check(const struct tls_settings *tls, char *err, size_t errlen);

/* Read the client-side files once (at start and on reload) so a missing,
 * unreadable or world-readable one is refused with a message naming its
 * key, before any call needs it. The server's files are read by
 * tls_server. */
int tls_settings_check_client_files(const struct tls_settings *tls, char *err, size_t errlen);

#endif
