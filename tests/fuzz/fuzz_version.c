/*
 * fuzz_version — the seed's rules for migration_version strings
 * (common/version.c), held to what version.h promises rather than to a copy
 * of the code: a string is valid exactly when it is 1 to VERSION_MAX ASCII
 * bytes, none of them NUL or a newline (control bytes are valid: shown
 * escaped, stored byte-exact); a valid type id is safe as one sysfs path
 * component; a digest is SHA-256 over `type "\n" version` in lower-case hex;
 * trait names are Placement-safe ([A-Z0-9_], under 256 bytes).
 *
 * Input: a type id, a newline, then the version's raw bytes (which may hold
 * NULs and newlines of their own).
 */
#include "version.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_version_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_version: %s%s%s\n", what, detail != NULL ? ": " : "",
            detail != NULL ? detail : "");
    abort();
}

/* version.h's rule for the bytes of a (normalised) version. */
static bool fuzz_version_bytes_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0 || c == '\n' || c > 0x7f)
            return false;
    }
    return true;
}

static bool fuzz_version_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

/* prefix followed by body_len bytes of [A-Z0-9_]; the rule of version.h. */
static void fuzz_version_check_trait(const char *trait, const char *prefix, size_t body_len)
{
    size_t prefix_len = strlen(prefix);
    if (strncmp(trait, prefix, prefix_len) != 0 || strlen(trait) != prefix_len + body_len ||
        strlen(trait) >= VERSION_TRAIT_MAX)
        fuzz_version_fail("trait has the wrong prefix or length", trait);
    for (const char *c = trait + prefix_len; *c != '\0'; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
            fuzz_version_fail("trait holds a character Placement refuses", trait);
    }
}

static void fuzz_version_check_type(const char *type_id)
{
    size_t len = strlen(type_id);
    if (version_type_id_valid(type_id)) {
        /* One path component under /sys/.../mdev_supported_types/. */
        if (len == 0 || len > 128 || strchr(type_id, '/') != NULL || strcmp(type_id, ".") == 0 ||
            strcmp(type_id, "..") == 0 || strstr(type_id, "..") != NULL ||
            strchr(type_id, '-') == NULL || !fuzz_version_printable(type_id, len) ||
            strchr(type_id, ' ') != NULL)
            fuzz_version_fail("a type id accepted against the rules", type_id);
    }
    char trait[VERSION_TRAIT_MAX];
    int rc = version_type_trait(type_id, trait);
    bool fits = strlen("CUSTOM_MDEV_TYPE_") + len < VERSION_TRAIT_MAX;
    if ((rc == 0) != fits)
        fuzz_version_fail("type trait refused or accepted against its length", type_id);
    if (rc == 0)
        fuzz_version_check_trait(trait, "CUSTOM_MDEV_TYPE_", len);
    /* Any string as a digest: at least 32 characters give a trait. */
    rc = version_digest_trait(type_id, trait);
    if ((rc == 0) != (len >= 32))
        fuzz_version_fail("digest trait refused or accepted against its length", type_id);
    if (rc == 0)
        fuzz_version_check_trait(trait, "CUSTOM_MDEVMIG_", 32);
}

/* SHA-256 of type "\n" version in one call, to hold the digest to. */
static void fuzz_version_expected_digest(const char *type_id, const char *version,
                                         char out[VERSION_DIGEST_LEN])
{
    size_t tlen = strlen(type_id), vlen = strlen(version);
    unsigned char *msg = malloc(tlen + 1 + vlen + 1);
    if (msg == NULL)
        abort();
    memcpy(msg, type_id, tlen);
    msg[tlen] = '\n';
    memcpy(msg + tlen + 1, version, vlen);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(msg, tlen + 1 + vlen, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
        abort();
    free(msg);
    for (unsigned i = 0; i < md_len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void fuzz_version_check_version(const char *type_id, const char *v, size_t len)
{
    size_t n = version_normalised_len(v, len);
    bool one_newline_dropped = len > 0 && v[len - 1] == '\n' && n == len - 1;
    if (n != len && !one_newline_dropped)
        fuzz_version_fail("normalising dropped more than one trailing newline", NULL);
    if (n == len && len > 0 && v[len - 1] == '\n')
        fuzz_version_fail("normalising kept the trailing newline", NULL);

    char why[160] = "";
    bool valid = version_validate(v, n, why, sizeof why);
    bool expected = n >= 1 && n <= VERSION_MAX && fuzz_version_bytes_ok(v, n);
    if (valid != expected)
        fuzz_version_fail(valid ? "an invalid version accepted" : "a valid version refused", why);
    if (!valid && why[0] == '\0')
        fuzz_version_fail("refused without a reason", NULL);
    /* A short buffer for the reason is cut, never overrun. */
    char tiny[4];
    if (version_validate(v, n, tiny, sizeof tiny) != valid)
        fuzz_version_fail("the answer depends on the size of the reason buffer", NULL);
    if (!valid)
        return;

    char *version = malloc(n + 1);
    if (version == NULL)
        abort();
    memcpy(version, v, n);
    version[n] = '\0';
    char digest[VERSION_DIGEST_LEN], expected_digest[VERSION_DIGEST_LEN];
    if (version_digest(type_id, version, digest) < 0)
        fuzz_version_fail("no digest for a valid version", NULL);
    fuzz_version_expected_digest(type_id, version, expected_digest);
    if (strcmp(digest, expected_digest) != 0)
        fuzz_version_fail("digest is not SHA-256 of type, newline, version", digest);
    char trait[VERSION_TRAIT_MAX];
    if (version_digest_trait(digest, trait) < 0)
        fuzz_version_fail("no trait for a digest", digest);
    fuzz_version_check_trait(trait, "CUSTOM_MDEVMIG_", 32);
    free(version);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t type_len = nl != NULL ? (size_t)(nl - text) : size;
    /* The type id travels as a C string: what follows a NUL is not part of it. */
    char *type_id = malloc(type_len + 1);
    if (type_id == NULL)
        abort();
    memcpy(type_id, text, type_len);
    type_id[type_len] = '\0';
    fuzz_version_check_type(type_id);
    if (nl != NULL) {
        /* An exact-size copy: an overread of the version trips ASan. */
        size_t len = size - type_len - 1;
        char *v = malloc(len > 0 ? len : 1);
        if (v == NULL)
            abort();
        if (len > 0)
            memcpy(v, nl + 1, len);
        fuzz_version_check_version(type_id, v, len);
        free(v);
    }
    free(type_id);
    return 0;
}
