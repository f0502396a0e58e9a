/*
 * case_files — a unit test whose cases are the files of one directory:
 * each file one cmocka test, named by the file and run in name order,
 * with the file's name as its state. For test_json_text and
 * test_json_quick.
 */
#ifndef MDEVMIG_TEST_CASE_FILES_H
#define MDEVMIG_TEST_CASE_FILES_H

#include <stdbool.h>
#include <stddef.h>

struct CMUnitTest;

/* Runs test on every file of dir that take accepts, then the extra tests:
 * cmocka's result, or 2 (with a message) when dir cannot be read or holds
 * no case. */
int case_files_run(const char *group, const char *dir, bool (*take)(const char *name),
                   void (*test)(void **state), const struct CMUnitTest *extra, size_t extra_count);

#endif
