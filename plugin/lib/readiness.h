/*
 * readiness.h — how many hosts could take each VM now, as readiness
 * answers it and a rollout's what-if asks it twice (now, and with hosts
 * upgraded in thought). Private to plugin/lib/.
 */
#ifndef MDEVMIG_READINESS_H
#define MDEVMIG_READINESS_H

#include "fleet.h"

/* One VM's answer. */
struct readiness_vm {
    size_t destinations;
    size_t best;                  /* host index, FLEET_NONE when stranded */
    enum mdevmig_verdict verdict; /* COMPATIBLE unless stranded */
    int err;                      /* incompatible: the first refusal's errno */
    char reason[512];             /* stranded: why */
};

/* The VMs listed (fleet indexes) against every other host, with what the
 * fleet says the versions are (fleet_vm_version): probes for every
 * (version, host, type target) with room that some VM needs, sent in
 * fleet_send's waves, then the count. *triples: the keys that were
 * needed. An mdevmig_status. */
int readiness_eval(struct fleet *f, const size_t *vms, size_t count, struct readiness_vm *out,
                   size_t *candidate_hosts, size_t *triples, char *err, size_t errlen);

/* readiness.c: "stranded", "single" or "ready"; the fleet's probes as the
 * answers list them (NULL when out of memory). */
const char *readiness_class(size_t destinations);
json_t *readiness_probes_json(const struct fleet *f);

#endif
