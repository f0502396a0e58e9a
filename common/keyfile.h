/*
 * keyfile — reading the files a daemon's trust rests on: the cluster token,
 * TLS keys and certificates (DESIGN.md §7). Each must be a regular file, is
 * opened non-blocking (a FIFO planted in its place cannot hang a start or a
 * reload), and a secret one must not be readable by others (group read is
 * the operator's choice, e.g. root:nova 0640).
 */
#ifndef MDEVMIG_KEYFILE_H
#define MDEVMIG_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The whole file, NUL-terminated, in *out (malloc'd; the caller frees it,
 * after explicit_bzero for a secret) with its length in *len. what names
 * the setting for messages ("tls_key_file"). Files over max bytes are
 * refused. Returns 0, or -1 with a message naming what and path. */
int keyfile_read(const char *path, const char *what, bool secret, size_t max, char **out,
                 size_t *len, char *err, size_t errlen);

#endif
