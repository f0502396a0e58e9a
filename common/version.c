/*
 * version — migration_version strings as the kernel proposal defines them.
 * Everything that stores, compares or publishes a version goes through
 * here, so the collector, the registry and the scheduler agree on what a
 * version is and on its digest.
 */
#include "version.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

size_t version_normalised_len(const char *s, size_t len)
{
    return len > 0 && s[len - 1] == '\n' ? len - 1 : len;
}

bool version_validate(const char *s, size_t len, char *why, size_t whylen)
{
    if (len == 0) {
        snprintf(why, whylen, "version is empty");
        return false;
    }
    if (len > VERSION_MAX) {
        snprintf(why, whylen, "version is %zu bytes; at most %d are allowed", len, VERSION_MAX);
        return false;
    }
    /* The seed's rule: ASCII, nothing more. A tab, an escape sequence or
     * DEL is a driver's business (and is escaped wherever it is shown);
     * NUL would cut the string short, and a newline inside would make
     * "echo $VERSION" two lines. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x7f) {
            snprintf(why, whylen, "version has a non-ASCII byte 0x%02x at offset %zu", c, i);
            return false;
        }
        if (c == '\0') {
            snprintf(why, whylen, "version has a NUL byte at offset %zu", i);
            return false;
        }
        if (c == '\n') {
            snprintf(why, whylen,
                     "version has a newline at offset %zu (only one trailing newline is "
                     "dropped)",
                     i);
            return false;
        }
    }
    return true;
}

/* SHA-256 fetched from its provider once: with EVP_sha256() OpenSSL 3
 * looks it up again on every digest, which was about a quarter of decoding
 * a 20-type snapshot. Kept for the process's life. */
static EVP_MD *version_sha256;
static pthread_once_t version_sha256_once = PTHREAD_ONCE_INIT;

static void version_sha256_fetch(void)
{
    version_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int version_digest(const char *type_id, const char *version, char out[VERSION_DIGEST_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    (void)pthread_once(&version_sha256_once, version_sha256_fetch);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return -1;
    int ok = EVP_DigestInit_ex(ctx, version_sha256 != NULL ? version_sha256 : EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, type_id, strlen(type_id)) && EVP_DigestUpdate(ctx, "\n", 1) &&
             EVP_DigestUpdate(ctx, version, strlen(version)) &&
             EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    if (!ok || md_len != 32)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[2 * md_len] = '\0';
    return 0;
}

bool version_type_id_valid(const char *type_id)
{
    size_t len = strlen(type_id);
    if (len == 0 || len > 128 || strchr(type_id, '-') == NULL || strstr(type_id, "..") != NULL ||
        type_id[0] == '-' || type_id[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)type_id[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != ':' && c != '+' && c != '-')
            return false;
    }
    return true;
}

static int version_trait(const char *prefix, const char *body, size_t body_len,
                         char out[VERSION_TRAIT_MAX])
{
    size_t prefix_len = strlen(prefix);
    if (prefix_len + body_len >= VERSION_TRAIT_MAX)
        return -1;
    memcpy(out, prefix, prefix_len);
    for (size_t i = 0; i < body_len; i++) {
        unsigned char c = (unsigned char)toupper((unsigned char)body[i]);
        out[prefix_len + i] = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? (char)c : '_';
    }
    out[prefix_len + body_len] = '\0';
    return 0;
}

int version_type_trait(const char *type_id, char out[VERSION_TRAIT_MAX])
{
    return version_trait("CUSTOM_MDEV_TYPE_", type_id, strlen(type_id), out);
}

int version_digest_trait(const char *digest, char out[VERSION_TRAIT_MAX])
{
    if (strlen(digest) < 32)
        return -1;
    return version_trait("CUSTOM_MDEVMIG_", digest, 32, out);
}
