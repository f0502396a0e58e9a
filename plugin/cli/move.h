/*
 * move — what would migrate, as the operator names it on the command
 * line: a VM (--instance UUID), mdevs on a host (--from HOST:DEVICE,...),
 * or bare versions (--version STRING --type TYPE, in pairs). Checked here
 * so a typo is a usage error with the word that was wrong, never a trip
 * to the backend.
 */
#ifndef MDEVMIG_CLI_MOVE_H
#define MDEVMIG_CLI_MOVE_H

#include <mdevmig/mdevmig.h>

#include <stdbool.h>
#include <stddef.h>

/* As many mdevs as libmdevmig and mdevmig-sched take for one VM. */
#define MOVE_MAX 64

struct move {
    char instance[MDEVMIG_UUID_LEN];
    char host[256];
    char device_store[MOVE_MAX][MDEVMIG_UUID_LEN];
    const char *devices[MOVE_MAX];
    size_t device_count;
    const char *types[MOVE_MAX];
    size_t type_count;
    const char *versions[MOVE_MAX];
    size_t version_count;
    struct mdevmig_spec specs[MOVE_MAX];
};

void move_init(struct move *m);

/* Each takes one option's value: 0, or -1 with a message naming it. */
int move_instance(struct move *m, const char *arg, char *err, size_t errlen);
int move_from(struct move *m, const char *arg, char *err, size_t errlen);
int move_type(struct move *m, const char *arg, char *err, size_t errlen);
int move_version(struct move *m, const char *arg, char *err, size_t errlen);

/* Check that exactly one form was given (--instance only when
 * allow_instance) and point req's source fields into m. 0 or -1. */
int move_request(struct move *m, bool allow_instance, struct mdevmig_request *req, char *err,
                 size_t errlen);

#endif
