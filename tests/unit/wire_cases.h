/*
 * wire_cases — the case files every wire codec's unit test reads, one
 * case per file (DIR/{request,reply}/{valid,invalid}/NAME.json):
 *   {"input": ...}                      decodes, and encodes back to the
 *                                       input, or to "output" when given;
 *   {"input": ..., "error": "..."}      refused with a message holding it.
 * For test_probe_wire, test_heartbeat_wire and test_versions_wire.
 */
#ifndef MDEVMIG_TEST_WIRE_CASES_H
#define MDEVMIG_TEST_WIRE_CASES_H

#include <jansson.h>
#include <stddef.h>

struct CMUnitTest;

struct wire_case {
    const char *name;    /* the file's name, for messages */
    const json_t *input; /* what is decoded */
    const json_t *want;  /* what encoding it back must give: "output", else the input */
    const char *error;   /* invalid cases: a part of the expected message */
};

typedef void (*wire_case_check)(const struct wire_case *c);

/* check every case of DIR/KIND/WHICH/ (a cmocka failure when there are
 * none, or a file is not a case). */
void wire_cases_each(const char *dir, const char *kind, const char *which, wire_case_check check);

/* encoded (taken) must equal the case's want. */
void wire_cases_expect_same(const struct wire_case *c, json_t *encoded);

/* rc (a decoder's) must be a refusal whose message err holds the case's
 * error. */
void wire_cases_expect_refused(const struct wire_case *c, int rc, const char *err);

/* One codec's checks of its four kinds of case. */
struct wire_case_checks {
    wire_case_check request_valid;
    wire_case_check request_invalid;
    wire_case_check reply_valid;
    wire_case_check reply_invalid;
};

/* A codec test's main: `PROGRAM DATA_DIR`, the four groups of cases under
 * DATA_DIR, then the codec's own extra tests (extra_count of them). */
int wire_cases_main(int argc, char **argv, const char *program,
                    const struct wire_case_checks *checks, const struct CMUnitTest *extra,
                    size_t extra_count);

#endif
