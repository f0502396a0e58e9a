/*
 * fmt — the small renderings every listing shares: ages and durations a
 * person reads at a glance, errno names instead of numbers, the short
 * digest, and JSON fields as cell text.
 */
#ifndef MDEVMIG_CLI_FMT_H
#define MDEVMIG_CLI_FMT_H

#include <jansson.h>
#include <stddef.h>

/* "45s ago", "12m ago", "3h ago", "2d ago"; "in the future" for clock skew. */
void fmt_age(char *buf, size_t len, long long seconds);

/* "850 us", "12.3 ms", "2.45 s". */
void fmt_us(char *buf, size_t len, long long us);

/* "EINVAL", or "errno 200" for one without a name here; "" for 0. */
void fmt_errno(char *buf, size_t len, long long err);

/* The first 12 hex digits of a digest ("" when none): enough to tell
 * versions apart at a glance, as git's short hashes are. */
void fmt_digest12(char *buf, size_t len, const char *digest);

/* A JSON value as cell text: strings as they are, integers in decimal,
 * booleans "yes"/"no", null or missing "" (which a table shows as "-"). */
const char *fmt_field(const json_t *obj, const char *key, char *buf, size_t len);

/* A JSON string field, or NULL. */
const char *fmt_str(const json_t *obj, const char *key);

/* A JSON integer field, or fallback. */
long long fmt_int(const json_t *obj, const char *key, long long fallback);

/* A JSON array of strings joined by sep (malloc'd), or NULL when out of
 * memory. */
char *fmt_join(const json_t *list, const char *sep);

#endif
