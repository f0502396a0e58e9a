/*
 * sim_vendor — the write rules of the vendor drivers mdevsim imitates.
 *
 * The kernel contract leaves compatibility to the vendor: userspace writes
 * the source's string and the driver's store() accepts or refuses it.
 * These rules are the shapes seen in practice: exact equality (i915 GVT-g),
 * "same major, not a newer minor" (what a versioned vGPU manager allows),
 * and an explicit list.
 */
#include "sim_vendor.h"

#include "errname.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The seed's limits: ASCII, at most PATH_MAX bytes including the newline
 * show() adds. */
#define SIM_VERSION_MAX 4095

struct sim_split_version {
    const char *prefix;
    size_t prefix_len;
    unsigned long major;
    unsigned long minor;
};

/* Split "<prefix>-<major>.<minor>" at the last '-'. */
static bool sim_split(const char *s, size_t len, struct sim_split_version *out)
{
    const char *dash = NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '-')
            dash = s + i;
    }
    if (dash == NULL || dash == s)
        return false;
    const char *p = dash + 1;
    const char *end = s + len;
    unsigned long parts[2] = {0, 0};
    for (int part = 0; part < 2; part++) {
        const char *start = p;
        while (p < end && *p >= '0' && *p <= '9') {
            if (parts[part] > 100000000UL)
                return false;
            parts[part] = parts[part] * 10 + (unsigned long)(*p - '0');
            p++;
        }
        if (p == start)
            return false;
        if (part == 0) {
            if (p == end || *p != '.')
                return false;
            p++;
        }
    }
    if (p != end)
        return false;
    out->prefix = s;
    out->prefix_len = (size_t)(dash - s);
    out->major = parts[0];
    out->minor = parts[1];
    return true;
}

static int sim_check_version(const char *version, enum sim_accept accept, char *err, size_t errlen)
{
    size_t len = strlen(version);
    if (len == 0 || len > SIM_VERSION_MAX) {
        snprintf(err, errlen, "version must be 1 to %d bytes, got %zu", SIM_VERSION_MAX, len);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)version[i];
        if (c == '\0' || c == '\n' || c > 0x7f) {
            snprintf(err, errlen, "version has a NUL, a newline or a non-ASCII byte 0x%02x at %zu",
                     c, i);
            return -1;
        }
    }
    struct sim_split_version split;
    if (accept == SIM_ACCEPT_NEWER_MINOR && !sim_split(version, len, &split)) {
        snprintf(err, errlen, "version \"%s\" is not <prefix>-<major>.<minor> (newer-minor rule)",
                 version);
        return -1;
    }
    return 0;
}

static int sim_parse_errno(const json_t *value, const char *what, int fallback, char *err,
                           size_t errlen)
{
    if (value == NULL)
        return fallback;
    int e = 0;
    if (json_is_string(value))
        e = errname_parse(json_string_value(value));
    else if (json_is_integer(value) && json_integer_value(value) > 0 &&
             json_integer_value(value) < 4096)
        e = (int)json_integer_value(value);
    if (e == 0)
        snprintf(err, errlen, "%s must be an errno name like \"EINVAL\" or a positive number",
                 what);
    return e == 0 ? -1 : e;
}

void sim_migration_clear(struct sim_migration *mig)
{
    free(mig->version);
    for (size_t i = 0; i < mig->accept_count; i++)
        free(mig->accept_list[i]);
    free(mig->accept_list);
    memset(mig, 0, sizeof *mig);
}

int sim_migration_parse(const json_t *json, struct sim_migration *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kind = SIM_MIG_NONE;
    if (json == NULL || json_is_null(json))
        return 0;
    if (!json_is_object(json)) {
        snprintf(err, errlen, "migration must be an object or null");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json, key, value)
    {
        static const char *const known[] = {"version",      "accept",     "accept_list",
                                            "refuse_errno", "read_errno", "write_errno"};
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "migration has an unknown key \"%s\"", key);
            return -1;
        }
    }

    const json_t *read_errno = json_object_get(json, "read_errno");
    const json_t *version = json_object_get(json, "version");
    if ((read_errno == NULL) == (version == NULL)) {
        snprintf(err, errlen, "migration needs exactly one of \"version\" and \"read_errno\"");
        return -1;
    }
    if (read_errno != NULL) {
        int r = sim_parse_errno(read_errno, "read_errno", 0, err, errlen);
        if (r < 0)
            return -1;
        int w =
            sim_parse_errno(json_object_get(json, "write_errno"), "write_errno", r, err, errlen);
        if (w < 0)
            return -1;
        out->kind = SIM_MIG_READ_ERRNO;
        out->read_errno = r;
        out->write_errno = w;
        return 0;
    }

    if (!json_is_string(version)) {
        snprintf(err, errlen, "migration version must be a string");
        return -1;
    }
    const char *accept = json_string_value(json_object_get(json, "accept"));
    if (accept == NULL || strcmp(accept, "exact") == 0) {
        out->accept = SIM_ACCEPT_EXACT;
    } else if (strcmp(accept, "newer-minor") == 0) {
        out->accept = SIM_ACCEPT_NEWER_MINOR;
    } else if (strcmp(accept, "list") == 0) {
        out->accept = SIM_ACCEPT_LIST;
    } else {
        snprintf(err, errlen, "migration accept must be \"exact\", \"newer-minor\" or \"list\"");
        return -1;
    }
    int refuse =
        sim_parse_errno(json_object_get(json, "refuse_errno"), "refuse_errno", EINVAL, err, errlen);
    if (refuse < 0)
        return -1;
    if (sim_check_version(json_string_value(version), out->accept, err, errlen) < 0)
        return -1;

    const json_t *list = json_object_get(json, "accept_list");
    if (out->accept == SIM_ACCEPT_LIST) {
        if (!json_is_array(list)) {
            snprintf(err, errlen, "the list rule needs an \"accept_list\" array of strings");
            return -1;
        }
    } else if (list != NULL) {
        snprintf(err, errlen, "\"accept_list\" is only for the list rule");
        return -1;
    }

    out->kind = SIM_MIG_VERSION;
    out->refuse_errno = refuse;
    out->version = strdup(json_string_value(version));
    if (out->version == NULL)
        goto nomem;
    if (list != NULL && json_array_size(list) > 0) {
        out->accept_list = calloc(json_array_size(list), sizeof *out->accept_list);
        if (out->accept_list == NULL)
            goto nomem;
        size_t i;
        json_t *item;
        json_array_foreach(list, i, item)
        {
            if (!json_is_string(item)) {
                snprintf(err, errlen, "accept_list[%zu] is not a string", i);
                sim_migration_clear(out);
                return -1;
            }
            out->accept_list[i] = strdup(json_string_value(item));
            if (out->accept_list[i] == NULL)
                goto nomem;
            out->accept_count = i + 1;
        }
    }
    return 0;
nomem:
    sim_migration_clear(out);
    snprintf(err, errlen, "out of memory");
    return -1;
}

int sim_migration_copy(const struct sim_migration *from, struct sim_migration *to)
{
    *to = *from;
    to->version = NULL;
    to->accept_list = NULL;
    to->accept_count = 0;
    if (from->version != NULL && (to->version = strdup(from->version)) == NULL)
        goto nomem;
    if (from->accept_count > 0) {
        to->accept_list = calloc(from->accept_count, sizeof *to->accept_list);
        if (to->accept_list == NULL)
            goto nomem;
        for (size_t i = 0; i < from->accept_count; i++) {
            if ((to->accept_list[i] = strdup(from->accept_list[i])) == NULL)
                goto nomem;
            to->accept_count = i + 1;
        }
    }
    return 0;
nomem:
    sim_migration_clear(to);
    return -1;
}

int sim_migration_set_version(struct sim_migration *mig, const char *version, char *err,
                              size_t errlen)
{
    if (mig->kind != SIM_MIG_VERSION) {
        snprintf(err, errlen, "this behaviour has no version string; use the migration command");
        return -1;
    }
    if (sim_check_version(version, mig->accept, err, errlen) < 0)
        return -1;
    char *copy = strdup(version);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(mig->version);
    mig->version = copy;
    return 0;
}

static bool sim_equal(const char *a, const char *buf, size_t len)
{
    return strlen(a) == len && memcmp(a, buf, len) == 0;
}

int sim_migration_judge(const struct sim_migration *mig, const char *buf, size_t len)
{
    switch (mig->kind) {
    case SIM_MIG_NONE:
        return ENOENT;
    case SIM_MIG_READ_ERRNO:
        return mig->write_errno;
    case SIM_MIG_VERSION:
        break;
    }
    /* Like sysfs_streq(): one trailing newline on the written side is not
     * part of the string. */
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    bool accepted = false;
    switch (mig->accept) {
    case SIM_ACCEPT_EXACT:
        accepted = sim_equal(mig->version, buf, len);
        break;
    case SIM_ACCEPT_LIST:
        for (size_t i = 0; i < mig->accept_count && !accepted; i++)
            accepted = sim_equal(mig->accept_list[i], buf, len);
        break;
    case SIM_ACCEPT_NEWER_MINOR: {
        struct sim_split_version own, written;
        if (sim_split(mig->version, strlen(mig->version), &own) && sim_split(buf, len, &written)) {
            accepted = own.prefix_len == written.prefix_len &&
                       memcmp(own.prefix, written.prefix, own.prefix_len) == 0 &&
                       own.major == written.major && written.minor <= own.minor;
        }
        break;
    }
    }
    return accepted ? 0 : mig->refuse_errno;
}
