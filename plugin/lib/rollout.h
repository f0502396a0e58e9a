/*
 * rollout.h — what the parts of a rollout plan share: the working set one
 * mdevmig_rollout call builds over the fleet (the hosts to upgrade, where
 * each VM is and what version each of its mdevs runs as the plan goes),
 * and the answer being written. Private to plugin/lib/rollout*.c.
 *
 *   rollout.c         the call, the reference, the simulated waves
 *   rollout_answer.c  the plan as JSON: waves, moves, stranded VMs, why
 *   rollout_whatif.c  readiness now and with every host upgraded
 */
#ifndef MDEVMIG_ROLLOUT_H
#define MDEVMIG_ROLLOUT_H

#include "fleet.h"

struct rollout {
    struct fleet f;
    const struct mdevmig_rollout_request *req;
    size_t like;     /* the reference host */
    size_t *targets; /* the hosts to upgrade, in the order given */
    size_t target_count;
    bool *is_target; /* per host */
    /* One simulated rollout's state. */
    size_t *need_base; /* per VM: its first mdev in the arrays below */
    size_t need_total;
    size_t *vm_host;      /* per VM: where it is now */
    size_t *need_slot;    /* per mdev: the slot it uses, FLEET_NONE unknown */
    size_t *need_version; /* per mdev: the version it runs */
    bool *pending;        /* per host: to be upgraded, not yet */
    bool *in_wave;        /* per host: being emptied now */
    size_t *wave_hosts;
    size_t *vm_order;
    size_t *scratch; /* 2 x the most mdevs of a VM */
    size_t *types, *versions;
    size_t *undo;
};

/* The answer as it is written, wave by wave. */
struct rollout_record {
    json_t *waves, *order, *stranded;
    json_t *wave; /* the current one, borrowed from waves */
    size_t moves, stranded_count, wave_count;
};

/* rollout.c */
void rollout_clear(struct rollout *r);
/* Per type the reference offers: its version, and the group that answers
 * for it (the reference's, or another's at that version). */
int rollout_reference(struct rollout *r, char *err, size_t errlen);
/* One whole rollout: the order given, or the planner's. The VMs
 * stranded, or -1 when out of memory. */
long rollout_simulate(struct rollout *r, bool given, struct rollout_record *rec);

/* rollout_answer.c: each 0, or -1 when out of memory. */
int rollout_record_begin(struct rollout_record *rec);
void rollout_record_clear(struct rollout_record *rec);
int rollout_record_wave(struct rollout *r, struct rollout_record *rec, size_t wave,
                        const size_t *hosts, size_t count);
/* Before the move: vm's slots-to-be are in r->scratch. */
int rollout_record_move(struct rollout *r, struct rollout_record *rec, size_t vm, size_t to);
int rollout_record_stranded(struct rollout *r, struct rollout_record *rec, size_t wave, size_t vm);
/* The plan's document into out (rec is taken either way). */
int rollout_record_end(struct rollout *r, struct rollout_record *rec, size_t given_stranded,
                       struct mdevmig_rollout *out);
/* What every answer ends with: probes, their count, the time. */
int rollout_record_finish(struct rollout *r, struct mdevmig_rollout *out);
/* The reference's versions, per type it offers. */
json_t *rollout_versions_json(const struct rollout *r);
json_t *rollout_hosts_json(const struct rollout *r);

/* rollout_whatif.c: an mdevmig_status. */
int rollout_whatif(struct rollout *r, struct mdevmig_rollout *out, char *err, size_t errlen);

#endif
