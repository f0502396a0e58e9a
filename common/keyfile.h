/*
 * keyfile — reading the files a daemon's trust rests on: the cluster token,
 * TLS keys and certificates (DESIGN.md §7). Each must be a regular file, is
 * opened non-blocking (a FIFO planted in its place cannot hang a start or a
 * reload), and a secret one must give others no permission at all and its
 * group no write (group read is the operator's choice, e.g. root:nova 0640).
 */
#ifndef MDEVMIG_KEYFILE_H
#define MDEVMIG_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The permission bits a secret's file must not have: any for others, and
 * group write. 0600 and 0640 pass; 0644, 0660 and 0666 do not. */
#define KEYFILE_FORBIDDEN 0027

/* The whole file, NUL-terminated, in *out (malloc'd; the caller frees it,
 * after explicit_bzero for a secret) with its length in *len. what names
 * the setting for messages ("tls_key_file"). Files over max bytes are
 * refused, and so is a secret whose mode has a KEYFILE_FORBIDDEN bit.
 * Returns 0, or -1 with a message naming what and path. */
int keyfile_read(const char *path, const char *what, bool secret, size_t max, char **out,
                 size_t *len, char *err, size_t errlen);

#endif
