/*
 * buildinfo — the version comes from CMake's project(), the commit from
 * buildinfo_commit.h, which the build rewrites (only when it changes) at
 * every build so a new commit never ships the previous one's hash.
 */
#include "buildinfo.h"

#include "buildinfo_commit.h"

const char *buildinfo_version(void)
{
    return MDEVMIG_VERSION_TEXT;
}

const char *buildinfo_commit(void)
{
    return BUILDINFO_COMMIT;
}

void buildinfo_print(FILE *out, const char *program)
{
    fprintf(out, "%s %s (commit %s)\n", program, buildinfo_version(), buildinfo_commit());
}
