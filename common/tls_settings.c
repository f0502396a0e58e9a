/*
 * tls_settings — the checks of the TLS settings that span more than one
 * key, and of the client-side files, which libcurl would otherwise first
 * read at the first call (too late for a clear refusal at start).
 */
#include "tls_settings.h"

#include "keyfile.h"

#include <stdlib.h>
#include <string.h>

#define TLS_SETTINGS_MAX_FILE (4 * 1024 * 1024)

int tls_settings_check(const struct tls_settings *tls, char *err, size_t errlen)
{
    if ((tls->tls_cert_file == NULL) != (tls->tls_key_file == NULL)) {
        snprintf(err, errlen, "%s is set but %s is not: HTTPS needs both",
                 tls->tls_cert_file != NULL ? "tls_cert_file" : "tls_key_file",
                 tls->tls_cert_file != NULL ? "tls_key_file" : "tls_cert_file");
        return -1;
    }
    if (tls->tls_client_ca_file != NULL && tls->tls_cert_file == NULL) {
        snprintf(err, errlen,
                 "tls_client_ca_file is set but tls_cert_file is not: mutual TLS needs the "
                 "server to speak HTTPS");
        return -1;
    }
    if (tls->tls_client_key_file != NULL && tls->tls_client_cert_file == NULL) {
        snprintf(err, errlen, "tls_client_key_file is set but tls_client_cert_file is not");
        return -1;
    }
    return 0;
}

static int tls_settings_probe_file(const char *path, const char *what, bool secret, char *err,
                                   size_t errlen)
{
    if (path == NULL)
        return 0;
    char *text = NULL;
    size_t len = 0;
    if (keyfile_read(path, what, secret, TLS_SETTINGS_MAX_FILE, &text, &len, err, errlen) < 0)
        return -1;
    int rc = 0;
    if (strstr(text, "-----BEGIN ") == NULL) {
        snprintf(err, errlen, "%s %s: not PEM (no -----BEGIN line)", what, path);
        rc = -1;
    }
    if (secret)
        explicit_bzero(text, len);
    free(text);
    return rc;
}

int tls_settings_check_client_files(const struct tls_settings *tls, char *err, size_t errlen)
{
    if (tls_settings_probe_file(tls->ca_file, "ca_file", false, err, errlen) < 0 ||
        tls_settings_probe_file(tls->tls_client_cert_file, "tls_client_cert_file",
                                tls->tls_client_key_file == NULL, err, errlen) < 0 ||
        tls_settings_probe_file(tls->tls_client_key_file, "tls_client_key_file", true, err,
                                errlen) < 0)
        return -1;
    return 0;
}
