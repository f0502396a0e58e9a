/*
 * migrate — forward-only schema migrations for the registry, tracked with
 * PRAGMA user_version. There is no "down": a registry only ever moves to a
 * newer schema, and an mdevmig that meets a newer file refuses it rather
 * than guess what the new columns mean.
 */
#include "migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* One integer from a PRAGMA (or any one-value query). */
static int migrate_int(sqlite3 *db, const char *where, const char *sql, long long *out, char *err,
                       size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(stmt, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            /* A PRAGMA this SQLite does not know returns no row. */
            snprintf(err, errlen, "%s: \"%s\" returned nothing", where, sql);
            sqlite3_finalize(stmt);
            return -1;
        }
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", where, sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return 0;
}

static int migrate_exec(sqlite3 *db, const char *where, const char *what, const char *sql,
                        char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s: %s", where, what, msg != NULL ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The checks of migrate_check(); *version gets the user_version. */
static int migrate_recognise(sqlite3 *db, const char *where, size_t count, long long *version,
                             char *err, size_t errlen)
{
    long long app_id, objects;
    if (migrate_int(db, where, "PRAGMA application_id", &app_id, err, errlen) < 0 ||
        migrate_int(db, where, "PRAGMA user_version", version, err, errlen) < 0 ||
        migrate_int(db, where, "SELECT count(*) FROM sqlite_schema", &objects, err, errlen) < 0)
        return -1;
    if (app_id != 0 && app_id != MIGRATE_APPLICATION_ID) {
        snprintf(err, errlen,
                 "%s is not an mdevmig registry (it belongs to another application: "
                 "application_id 0x%08llx); check the path",
                 where, (unsigned long long)app_id & 0xffffffffULL);
        return -1;
    }
    if (app_id == 0 && (*version != 0 || objects != 0)) {
        snprintf(err, errlen,
                 "%s is not an mdevmig registry (it holds %lld tables or indexes but no mdevmig "
                 "schema version); check the path, or move the file away to start afresh",
                 where, objects);
        return -1;
    }
    if (*version < 0) {
        snprintf(err, errlen, "%s has an invalid registry schema version %lld", where, *version);
        return -1;
    }
    if ((unsigned long long)*version > count) {
        snprintf(err, errlen,
                 "%s has registry schema version %lld, newer than the %zu this mdevmig knows: it "
                 "was written by a newer mdevmig; upgrade this one, or point it at another file",
                 where, *version, count);
        return -1;
    }
    return 0;
}

int migrate_check(sqlite3 *db, const char *where, size_t count, char *err, size_t errlen)
{
    long long version;
    return migrate_recognise(db, where, count, &version, err, errlen);
}

/* Applies list[index] unless another process did it first; inside an open
 * write transaction. */
static int migrate_one(sqlite3 *db, const char *where, const struct migration *list, size_t count,
                       size_t index, char *err, size_t errlen)
{
    long long version;
    if (migrate_recognise(db, where, count, &version, err, errlen) < 0)
        return -1;
    if ((unsigned long long)version > index)
        return 0;
    const struct migration *m = &list[index];
    char what[160];
    snprintf(what, sizeof what, "migration %s", m->name);
    if (migrate_exec(db, where, what, m->sql, err, errlen) < 0)
        return -1;

    /* Foreign keys are off while a migration runs (a table rebuild would
     * trip them half-way); the result must still satisfy them. */
    sqlite3_stmt *check = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &check, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s: %s", where, what, sqlite3_errmsg(db));
        return -1;
    }
    int rc = sqlite3_step(check);
    if (rc == SQLITE_ROW) {
        snprintf(err, errlen, "%s: %s leaves a row of table %s that breaks a foreign key into %s",
                 where, what, (const char *)sqlite3_column_text(check, 0),
                 (const char *)sqlite3_column_text(check, 2));
        sqlite3_finalize(check);
        return -1;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: %s: %s", where, what, sqlite3_errmsg(db));
        sqlite3_finalize(check);
        return -1;
    }
    sqlite3_finalize(check);

    char pragma[96];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d; PRAGMA application_id = %d",
             m->version, MIGRATE_APPLICATION_ID);
    return migrate_exec(db, where, what, pragma, err, errlen);
}

int migrate_apply(sqlite3 *db, const char *where, const struct migration *list, size_t count,
                  char *err, size_t errlen)
{
    for (size_t i = 0; i < count; i++) {
        if (list[i].version < 0 || (size_t)list[i].version != i + 1) {
            snprintf(err, errlen, "%s: migration %s is numbered %d but is number %zu in the list",
                     where, list[i].name, list[i].version, i + 1);
            return -1;
        }
    }
    long long version;
    if (migrate_recognise(db, where, count, &version, err, errlen) < 0)
        return -1;
    if ((unsigned long long)version == count)
        return 0; /* the usual open: no write lock taken */

    long long foreign_keys;
    if (migrate_int(db, where, "PRAGMA foreign_keys", &foreign_keys, err, errlen) < 0 ||
        migrate_exec(db, where, "turning foreign keys off for migrations",
                     "PRAGMA foreign_keys = OFF", err, errlen) < 0)
        return -1;
    int rc = 0;
    for (size_t i = (size_t)version; i < count && rc == 0; i++) {
        if (migrate_exec(db, where, "starting a migration", "BEGIN IMMEDIATE", err, errlen) < 0) {
            rc = -1;
            break;
        }
        rc = migrate_one(db, where, list, count, i, err, errlen);
        if (rc == 0)
            rc = migrate_exec(db, where, "committing a migration", "COMMIT", err, errlen);
        if (rc < 0 && !sqlite3_get_autocommit(db)) {
            /* The error in err is the one to report; a failing ROLLBACK
             * only means SQLite already rolled back. */
            char ignored[8];
            (void)migrate_exec(db, where, "", "ROLLBACK", ignored, sizeof ignored);
        }
    }
    if (foreign_keys) {
        char fk_err[256];
        if (migrate_exec(db, where, "turning foreign keys back on", "PRAGMA foreign_keys = ON",
                         fk_err, sizeof fk_err) < 0 &&
            rc == 0) {
            snprintf(err, errlen, "%s", fk_err);
            rc = -1;
        }
    }
    return rc;
}
