/*
 * move — the source of a select or probe. Everything is kept in fixed
 * arrays inside struct move: the values are bounded (MOVE_MAX mdevs, host
 * names of at most 255 bytes) and nothing then needs freeing.
 */
#include "move.h"

#include "version.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MOVE_UUID_HINT "8-4-4-4-12 hex digits, e.g. 5a0f6c2e-1b3d-4e5f-8a9b-0c1d2e3f4a01"

void move_init(struct move *m)
{
    memset(m, 0, sizeof *m);
}

int move_instance(struct move *m, const char *arg, char *err, size_t errlen)
{
    if (m->instance[0] != '\0') {
        snprintf(err, errlen, "--instance given twice; select moves one VM at a time");
        return -1;
    }
    if (!mdevmig_uuid_valid(arg)) {
        snprintf(err, errlen, "--instance \"%.80s\" is not a UUID (%s)", arg, MOVE_UUID_HINT);
        return -1;
    }
    for (size_t i = 0; i < 36; i++)
        m->instance[i] = (char)tolower((unsigned char)arg[i]);
    m->instance[36] = '\0';
    return 0;
}

/* The registry's rule for names (wire.c): printable ASCII, no space, no '/'. */
static bool move_host_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] <= 0x20 || s[i] > 0x7e || s[i] == '/')
            return false;
    }
    return len > 0;
}

/* Forget a half-parsed --from, so nothing of it is mistaken for a source. */
static int move_from_fail(struct move *m)
{
    m->host[0] = '\0';
    m->device_count = 0;
    return -1;
}

int move_from(struct move *m, const char *arg, char *err, size_t errlen)
{
    if (m->host[0] != '\0') {
        snprintf(err, errlen,
                 "--from given twice; name several devices of one host as "
                 "HOST:DEVICE,DEVICE");
        return -1;
    }
    /* A UUID has no colon, so the last one ends the host name. */
    const char *colon = strrchr(arg, ':');
    if (colon == NULL) {
        snprintf(err, errlen,
                 "--from \"%.80s\": expected HOST:DEVICE (a host, a colon, an mdev UUID), e.g. "
                 "gpu-a:c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c01",
                 arg);
        return -1;
    }
    size_t host_len = (size_t)(colon - arg);
    if (host_len == 0 || host_len > 255 || !move_host_ok(arg, host_len)) {
        snprintf(err, errlen, "--from \"%.80s\": %s", arg,
                 host_len == 0    ? "the host name before the colon is missing"
                 : host_len > 255 ? "the host name is longer than 255 bytes"
                                  : "the host name may hold only printable ASCII without "
                                    "spaces or '/'");
        return -1;
    }
    memcpy(m->host, arg, host_len);
    m->host[host_len] = '\0';
    const char *p = colon + 1;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        char uuid[MDEVMIG_UUID_LEN];
        if (len == 0) {
            snprintf(err, errlen, "--from \"%.80s\": a device UUID is missing after %s", arg,
                     p == colon + 1 ? "the colon" : "a comma");
            return move_from_fail(m);
        }
        if (len != 36) {
            snprintf(err, errlen, "--from \"%.80s\": \"%.*s\" is not a device UUID (%s)", arg,
                     (int)(len > 60 ? 60 : len), p, MOVE_UUID_HINT);
            return move_from_fail(m);
        }
        memcpy(uuid, p, 36);
        uuid[36] = '\0';
        if (!mdevmig_uuid_valid(uuid)) {
            snprintf(err, errlen, "--from \"%.80s\": \"%s\" is not a device UUID (%s)", arg, uuid,
                     MOVE_UUID_HINT);
            return move_from_fail(m);
        }
        for (size_t i = 0; i < 36; i++)
            uuid[i] = (char)tolower((unsigned char)uuid[i]);
        for (size_t i = 0; i < m->device_count; i++) {
            if (strcmp(m->device_store[i], uuid) == 0) {
                snprintf(err, errlen, "--from \"%.80s\": device %s is named twice", arg, uuid);
                return move_from_fail(m);
            }
        }
        if (m->device_count == MOVE_MAX) {
            snprintf(err, errlen, "--from: more than %d devices", MOVE_MAX);
            return move_from_fail(m);
        }
        memcpy(m->device_store[m->device_count], uuid, sizeof uuid);
        m->devices[m->device_count] = m->device_store[m->device_count];
        m->device_count++;
        if (end == NULL)
            return 0;
        p = end + 1;
    }
}

int move_type(struct move *m, const char *arg, char *err, size_t errlen)
{
    if (!version_type_id_valid(arg)) {
        snprintf(err, errlen,
                 "--type \"%.80s\" is not an mdev type id (<driver>-<name>, e.g. nvidia-222 or "
                 "i915-GVTg_V5_4)",
                 arg);
        return -1;
    }
    if (m->type_count == MOVE_MAX) {
        snprintf(err, errlen, "--type: more than %d", MOVE_MAX);
        return -1;
    }
    m->types[m->type_count++] = arg;
    return 0;
}

int move_version(struct move *m, const char *arg, char *err, size_t errlen)
{
    char why[160];
    if (!version_validate(arg, strlen(arg), why, sizeof why)) {
        snprintf(err, errlen, "--version \"%.80s\": %s", arg, why);
        return -1;
    }
    if (m->version_count == MOVE_MAX) {
        snprintf(err, errlen, "--version: more than %d", MOVE_MAX);
        return -1;
    }
    m->versions[m->version_count++] = arg;
    return 0;
}

int move_request(struct move *m, bool allow_instance, struct mdevmig_request *req, char *err,
                 size_t errlen)
{
    bool instance = m->instance[0] != '\0';
    bool from = m->host[0] != '\0';
    bool specs = m->type_count > 0 || m->version_count > 0;
    if (instance + from + specs > 1) {
        snprintf(err, errlen, "%s and %s name two different sources; give one",
                 instance ? "--instance" : "--from", specs ? "--version/--type" : "--from");
        return -1;
    }
    if (instance + from + specs == 0) {
        snprintf(err, errlen,
                 "say what would migrate: %s--from HOST:DEVICE, or --version STRING "
                 "with --type TYPE",
                 allow_instance ? "--instance UUID, " : "");
        return -1;
    }
    if (instance && !allow_instance) {
        snprintf(err, errlen, "--instance is not taken here");
        return -1;
    }
    if (specs && m->type_count != m->version_count) {
        snprintf(err, errlen,
                 "--version and --type go in pairs (got %zu --version, %zu --type): each "
                 "version needs the type it belongs to",
                 m->version_count, m->type_count);
        return -1;
    }
    if (instance)
        req->instance = m->instance;
    if (from) {
        req->host = m->host;
        req->devices = m->devices;
        req->device_count = m->device_count;
    }
    for (size_t i = 0; specs && i < m->type_count; i++)
        m->specs[i] = (struct mdevmig_spec){.type = m->types[i], .version = m->versions[i]};
    if (specs) {
        req->specs = m->specs;
        req->spec_count = m->type_count;
    }
    return 0;
}
