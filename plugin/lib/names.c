/*
 * names — the rules for the names that cross libmdevmig's API (host
 * names, device UUIDs), exported so a service or tool checks its input by
 * exactly the rule the registry keeps.
 */
#include "internal.h"

#include "wire.h"

bool mdevmig_host_name_valid(const char *name, char *why, size_t whylen)
{
    return name != NULL && wire_host_name_valid(name, why, whylen);
}

const char *mdevmig_host_name_rule(void)
{
    return WIRE_HOST_RULE;
}

bool mdevmig_uuid_valid(const char *s)
{
    return s != NULL && wire_uuid_valid(s);
}
