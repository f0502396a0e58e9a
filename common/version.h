/*
 * version — the seed's rules for migration_version strings, in one place:
 * what a valid string is, how mdevmig stores it (one trailing newline
 * dropped, byte-exact otherwise), its digest, and the Placement trait
 * names derived from a type and its version (DESIGN.md §1, §3).
 */
#ifndef MDEVMIG_VERSION_H
#define MDEVMIG_VERSION_H

#include <stdbool.h>
#include <stddef.h>

/* PATH_MAX including the newline a driver prints: the string itself may be
 * at most 4095 bytes. */
#define VERSION_MAX 4095

/* 64 hex digits of SHA-256 and a NUL. */
#define VERSION_DIGEST_LEN 65

/* Trait names stay under Placement's 255-byte limit. */
#define VERSION_TRAIT_MAX 256

/* Length of s once one trailing '\n' (as drivers print it) is dropped. */
size_t version_normalised_len(const char *s, size_t len);

/* Check len bytes (already normalised) against the seed's rules: non-empty,
 * ASCII only (any byte but NUL, and no newline left after the one trailing
 * newline is dropped), at most VERSION_MAX bytes. Returns true when valid;
 * otherwise false with a reason for an operator in why. Control bytes are
 * valid: escape them wherever a version is logged or shown. */
bool version_validate(const char *s, size_t len, char *why, size_t whylen);

/* Hex SHA-256 over `type_id "\n" version`: equal digests mean the same
 * type at the same version, so no probe is needed to know they match. */
int version_digest(const char *type_id, const char *version, char out[VERSION_DIGEST_LEN]);

/* A type id is "<driver>-<name>": [A-Za-z0-9_.:+-], 1 to 128 bytes, with
 * a '-' and no "..": safe to use as one sysfs path component. */
bool version_type_id_valid(const char *type_id);

/* CUSTOM_MDEV_TYPE_<TYPE>: the type id upper-cased, [^A-Z0-9] as '_'. */
int version_type_trait(const char *type_id, char out[VERSION_TRAIT_MAX]);

/* CUSTOM_MDEVMIG_<first 32 hex digits of the digest, upper case>. */
int version_digest_trait(const char *digest, char out[VERSION_TRAIT_MAX]);

#endif
