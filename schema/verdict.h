/*
 * verdict — the one table of verdict names as they go over the wire and
 * into files: probe replies (probe_wire), the probe cache (registry), the
 * collector's audit and metrics, and the sched's select, filter, evacuate
 * and matrix answers. Each of those keeps its own enum of the verdicts it
 * can give, valued from this one, so a name is spelled here and nowhere
 * else and a reader can always map a name back.
 */
#ifndef MDEVMIG_VERDICT_H
#define MDEVMIG_VERDICT_H

/* The first four are what a probe can answer, and the first three what
 * the probe cache keeps: probe_wire and registry take their values from
 * these in this order. */
enum verdict {
    VERDICT_COMPATIBLE,     /* the target's driver took the source's version */
    VERDICT_INCOMPATIBLE,   /* the driver refused it (an errno) or took a short write */
    VERDICT_UNSUPPORTED,    /* the target has no migration_version attribute */
    VERDICT_NO_TYPE,        /* the target does not offer the type */
    VERDICT_NO_CAPACITY,    /* it offers the types, without room for all mdevs */
    VERDICT_UNREACHABLE,    /* its collector did not answer: no verdict of the driver */
    VERDICT_NOT_PROBED,     /* a candidate not needed: enough were confirmed */
    VERDICT_SOURCE_HOST,    /* a filter listed the host the VM runs on */
    VERDICT_NOT_MIGRATABLE, /* the source side has no readable version */
    VERDICT_PLACED,         /* evacuate: the VM has a confirmed destination */
};

#define VERDICT_COUNT ((int)VERDICT_PLACED + 1)

/* "compatible", "no-type", ...; "unknown" for a value that is none. */
const char *verdict_name(enum verdict verdict);

/* 0 and *out set, or -1 for a name (or NULL) that is no verdict. */
int verdict_parse(const char *name, enum verdict *out);

#endif
