/*
 * memory — keeps the sched's resident set near what it holds (see
 * memory.c).
 */
#ifndef MDEVMIG_SCHED_MEMORY_H
#define MDEVMIG_SCHED_MEMORY_H

#include <stddef.h>

/* Before any thread starts: how the allocator hands memory back. */
void sched_memory_setup(void);

/* Gives every arena's free pages back to the system now. */
void sched_memory_trim(void);

/* After work that built `bytes` of answer (a fleet question's JSON text):
 * gives what it freed back to the system when that was a lot. */
void sched_memory_after(size_t bytes);

#endif
