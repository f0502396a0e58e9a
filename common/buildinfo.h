/*
 * buildinfo — which mdevmig this binary is: the project version and the
 * git commit it was built from, the same text in --version, /v1/health
 * and the mdevmig_build_info metric, so an operator can tell which build
 * answers on every host.
 */
#ifndef MDEVMIG_BUILDINFO_H
#define MDEVMIG_BUILDINFO_H

#include <stdio.h>

/* "0.1.0" */
const char *buildinfo_version(void);

/* The commit's short hash, with "-dirty" when the tree had uncommitted
 * changes; "unknown" when built outside a git checkout. */
const char *buildinfo_commit(void);

/* "PROGRAM VERSION (commit COMMIT)\n", as every --version prints it. */
void buildinfo_print(FILE *out, const char *program);

#endif
