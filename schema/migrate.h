/*
 * migrate — brings a registry database to the schema this build knows, one
 * numbered migration at a time (schema/migrations/NNNN-name.sql, compiled
 * in by embed_migrations.cmake). PRAGMA user_version is the number of the
 * last migration applied; PRAGMA application_id marks the file as an
 * mdevmig registry, so a wrong path fails loudly instead of gaining tables.
 */
#ifndef MDEVMIG_MIGRATE_H
#define MDEVMIG_MIGRATE_H

#include <sqlite3.h>
#include <stddef.h>

/* "mdvm": PRAGMA application_id of every registry. */
#define MIGRATE_APPLICATION_ID 0x6d64766d

struct migration {
    int version;      /* 1, 2, ...: position in the list */
    const char *name; /* file name, for messages */
    const char *sql;  /* statements; no BEGIN/COMMIT, no user_version */
};

/* What this build carries (generated from schema/migrations/). */
extern const struct migration migrate_embedded[];
extern const size_t migrate_embedded_count;

/* Refuses, before anything writes to it, a database that is not a
 * registry (another application's file, or tables without a version) or
 * whose version is newer than count. where names the file in messages.
 * 0 or -1 with err. */
int migrate_check(sqlite3 *db, const char *where, size_t count, char *err, size_t errlen);

/* Applies list[user_version .. count-1], each in its own BEGIN IMMEDIATE
 * transaction with foreign keys off and PRAGMA foreign_key_check before the
 * COMMIT (so a migration may rebuild a table), re-reading user_version
 * under the lock so processes opening the file together migrate it once.
 * A failed migration leaves the database as the previous one left it.
 * Call outside any transaction. 0 or -1 with err. */
int migrate_apply(sqlite3 *db, const char *where, const struct migration *list, size_t count,
                  char *err, size_t errlen);

#endif
