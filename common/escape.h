/*
 * escape — showing untrusted bytes safely. A driver's migration_version
 * may hold any ASCII byte (DESIGN.md §1): a tab, an escape sequence, DEL.
 * Wherever such text reaches a log line or a terminal it goes through
 * here, so that no byte is lost and none is run by a terminal.
 */
#ifndef MDEVMIG_ESCAPE_H
#define MDEVMIG_ESCAPE_H

#include <stddef.h>

/* The most escape_text can write for len input bytes, NUL included. */
#define ESCAPE_SIZE(len) ((len)*4 + 1)

/* Copy in to out (outlen bytes, NUL-terminated, cut short when it does not
 * fit) with control bytes written C-style (\t, \n, \r, \xHH) and a
 * backslash as two, so the result reads back unambiguously. Returns the
 * length written. */
size_t escape_text(const char *in, char *out, size_t outlen);

#endif
