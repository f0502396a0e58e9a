/*
 * verdict — the names are part of the wire format and of stored files
 * (the probe cache, the audit trail): a name once given never changes.
 */
#include "verdict.h"

#include <stddef.h>
#include <string.h>

static const char *const verdict_names[VERDICT_COUNT] = {
    [VERDICT_COMPATIBLE] = "compatible",         [VERDICT_INCOMPATIBLE] = "incompatible",
    [VERDICT_UNSUPPORTED] = "unsupported",       [VERDICT_NO_TYPE] = "no-type",
    [VERDICT_NO_CAPACITY] = "no-capacity",       [VERDICT_UNREACHABLE] = "unreachable",
    [VERDICT_NOT_PROBED] = "not-probed",         [VERDICT_SOURCE_HOST] = "source-host",
    [VERDICT_NOT_MIGRATABLE] = "not-migratable", [VERDICT_PLACED] = "placed",
};

const char *verdict_name(enum verdict verdict)
{
    /* Through an int: a value outside the enum must not index the table. */
    int v = (int)verdict;
    return v >= 0 && v < VERDICT_COUNT ? verdict_names[v] : "unknown";
}

int verdict_parse(const char *name, enum verdict *out)
{
    for (int v = 0; name != NULL && v < VERDICT_COUNT; v++) {
        if (strcmp(name, verdict_names[v]) == 0) {
            *out = (enum verdict)v;
            return 0;
        }
    }
    return -1;
}
