/*
 * memory — keeps the sched's resident set near what it holds. A fleet
 * answer (matrix, evacuate, readiness, rollout) at 100,000 hosts builds
 * tens of MiB of small JSON and registry objects in the thread that serves
 * it, and frees them when the answer is sent. glibc keeps freed memory in
 * that thread's arena and grows its mmap threshold to the largest block
 * ever freed, so without this one such answer would leave the daemon at
 * its peak for good, and the next burst of ingest in another thread's
 * arena would add to it.
 */
#include "memory.h"

#include "log.h"

#include <malloc.h>

/* Blocks above this go to mmap() and back on free(); fixed, so glibc
 * does not raise it to the size of the largest answer it has freed. */
#define SCHED_MEMORY_MMAP_THRESHOLD (128 * 1024)
/* Free memory above this at the top of the main heap is returned. */
#define SCHED_MEMORY_TRIM_THRESHOLD (512 * 1024)
/* Answers at least this large are followed by a trim of every arena:
 * the few milliseconds it takes are small next to building them. */
#define SCHED_MEMORY_TRIM_AFTER (256 * 1024)

void sched_memory_setup(void)
{
    if (mallopt(M_MMAP_THRESHOLD, SCHED_MEMORY_MMAP_THRESHOLD) != 1 ||
        mallopt(M_TRIM_THRESHOLD, SCHED_MEMORY_TRIM_THRESHOLD) != 1)
        log_debug("memory: the allocator refused its settings (a sanitizer's?); memory freed "
                  "after large answers may stay resident");
}

void sched_memory_trim(void)
{
    (void)malloc_trim(0);
}

void sched_memory_after(size_t bytes)
{
    if (bytes >= SCHED_MEMORY_TRIM_AFTER)
        sched_memory_trim();
}
