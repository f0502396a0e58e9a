/*
 * registry_memory — SQLite's page cache in a pool of its own. Left to
 * malloc, the cache's ~500 page buffers are allocated as it fills: during
 * the first fleet-wide read (a matrix over 100,000 rows), in the middle
 * of that read's short-lived rows. Freed, those rows leave their pages
 * resident around every buffer that stays, and malloc_trim cannot give
 * them back: 7-35 MiB kept after the sched's evacuate, readiness and
 * matrix at 100,000 hosts. In one block of their own the buffers pin
 * nothing else. The same call turns SQLite's memory statistics off.
 */
#include "registry.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

/* The registry's page size, and its connections' default cache (2,000
 * KiB, ~500 pages) plus room for the checkpoint thread's connection. A
 * page that does not fit a slot, or a cache past the pool, comes from
 * malloc as before. */
#define REGISTRY_POOL_PAGE_SIZE 4096
#define REGISTRY_POOL_PAGES     576

int registry_reserve_page_cache(char *err, size_t errlen)
{
    static void *pool; /* SQLite's for the process's life */
    if (pool != NULL)
        return 0;
    int header = 0;
    int rc = sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &header);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "SQLite page cache: cannot learn its header size: %s",
                 sqlite3_errstr(rc));
        return -1;
    }
    size_t slot = REGISTRY_POOL_PAGE_SIZE + (size_t)header;
    void *block = malloc(slot * REGISTRY_POOL_PAGES);
    if (block == NULL) {
        snprintf(err, errlen, "SQLite page cache: out of memory");
        return -1;
    }
    rc = sqlite3_config(SQLITE_CONFIG_PAGECACHE, block, (int)slot, REGISTRY_POOL_PAGES);
    if (rc != SQLITE_OK) {
        free(block);
        snprintf(err, errlen,
                 "SQLite page cache: %s (SQLite was already in use in this process: reserve "
                 "the cache first)",
                 sqlite3_errstr(rc));
        return -1;
    }
    pool = block;
    /* SQLite counts every allocation and free it makes under one
     * process-wide mutex, for statistics nothing here reads: 2 % of the
     * sched's CPU while ingesting changed snapshots. Set with the pool,
     * while SQLite is still unused; a failure only costs that time. */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return 0;
}
