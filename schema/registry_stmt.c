/*
 * registry_stmt — the statement layer under every registry query: failure
 * messages that name the file and what was being done, binding, running
 * and resetting prepared statements, transactions, and reading columns
 * into the caller's structs. Every path that steps a statement ends in
 * registry_done(): an unreset statement would hold its read snapshot open
 * and stop WAL checkpoints.
 */
#include "registry_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors and statements --------------------------------------------- */

/* "registry PATH: <what>: <SQLite's reason>", with a hint when the reason
 * is a lock held too long, which an operator can act on. */
int registry_fail(struct registry *reg, char *err, size_t errlen, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char hint[96] = "";
    int code = sqlite3_errcode(reg->db);
    if (code == SQLITE_BUSY)
        snprintf(hint, sizeof hint, " (another process held the registry for over %d s)",
                 REGISTRY_BUSY_TIMEOUT_MS / 1000);
    else if (code == SQLITE_READONLY)
        snprintf(hint, sizeof hint, " (is the file or its directory writable?)");
    snprintf(err, errlen, "registry %s: %s: %s%s", reg->path, what, sqlite3_errmsg(reg->db), hint);
    return -1;
}

/* For failures that are not SQLite's. */
int registry_fail_plain(struct registry *reg, char *err, size_t errlen, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "registry %s: %s", reg->path, what);
    return -1;
}

/* A name for a message, even when the caller left it out. */
const char *registry_name(const char *s)
{
    return s != NULL ? s : "(none)";
}

/* Makes a statement ready for its next use and lets go of its snapshot. */
void registry_done(sqlite3_stmt *stmt)
{
    /* sqlite3_reset() repeats the last step's error, already reported. */
    (void)sqlite3_reset(stmt);
    (void)sqlite3_clear_bindings(stmt);
}

int registry_bind_text(sqlite3_stmt *stmt, int index, const char *s)
{
    return s == NULL ? sqlite3_bind_null(stmt, index)
                     : sqlite3_bind_text(stmt, index, s, -1, SQLITE_STATIC);
}

/* "" and NULL mean "none" in struct inventory; both are NULL here. */
int registry_bind_text_or_null(sqlite3_stmt *stmt, int index, const char *s)
{
    return registry_bind_text(stmt, index, s != NULL && *s != '\0' ? s : NULL);
}

/* -1 and 0 mean "none" for counts and errnos respectively. */
int registry_bind_int_or_null(sqlite3_stmt *stmt, int index, long long value, long long none)
{
    return value == none ? sqlite3_bind_null(stmt, index) : sqlite3_bind_int64(stmt, index, value);
}

/* Runs a statement that returns no rows (its parameters already bound). */
int registry_bind_migration(sqlite3_stmt *stmt, int first, const struct inv_migration *mig)
{
    int rc;
    if ((rc = sqlite3_bind_int(stmt, first, mig->supported)) != SQLITE_OK ||
        (rc = registry_bind_text(stmt, first + 1, mig->version)) != SQLITE_OK ||
        (rc = registry_bind_text_or_null(stmt, first + 2,
                                         mig->version != NULL ? mig->digest : NULL)) != SQLITE_OK)
        return rc;
    return registry_bind_int_or_null(stmt, first + 3, mig->read_errno, 0);
}

int registry_bind_type_key(sqlite3_stmt *stmt, const char *host, const char *parent,
                           const char *type_id)
{
    int rc;
    if ((rc = registry_bind_text(stmt, 1, host)) != SQLITE_OK ||
        (rc = registry_bind_text(stmt, 2, parent)) != SQLITE_OK)
        return rc;
    return registry_bind_text(stmt, 3, type_id);
}

int registry_run(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    registry_done(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

int registry_begin(struct registry *reg, enum registry_stmt_id which, char *err, size_t errlen)
{
    if (registry_run(reg->stmt[which]) < 0)
        return registry_fail(reg, err, errlen, "starting a transaction");
    return 0;
}

int registry_commit(struct registry *reg, char *err, size_t errlen)
{
    if (registry_run(reg->stmt[ST_COMMIT]) < 0)
        return registry_fail(reg, err, errlen, "committing");
    return 0;
}

int registry_read_begin(struct registry *reg, char *err, size_t errlen)
{
    return registry_begin(reg, ST_BEGIN_READ, err, errlen);
}

void registry_read_end(struct registry *reg)
{
    registry_rollback(reg);
}

/* After a failure inside a transaction: the message in err is the one that
 * matters, so ROLLBACK's own outcome is not reported. SQLite may already
 * have rolled back (e.g. on SQLITE_FULL), hence the autocommit test. */
void registry_rollback(struct registry *reg)
{
    if (!sqlite3_get_autocommit(reg->db))
        (void)registry_run(reg->stmt[ST_ROLLBACK]);
}

/* ---- column readers ---------------------------------------------------- */

/* A copy of a text column; NULL column gives NULL. -1 on allocation
 * failure. */
int registry_column_dup(sqlite3_stmt *stmt, int col, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return 0;
    const unsigned char *s = sqlite3_column_text(stmt, col);
    if (s == NULL)
        return -1; /* not NULL yet no text: out of memory */
    *out = strdup((const char *)s);
    return *out == NULL ? -1 : 0;
}

/* Like registry_column_dup() but never NULL: "" for a NULL column. */
int registry_column_dup_str(sqlite3_stmt *stmt, int col, char **out)
{
    if (registry_column_dup(stmt, col, out) < 0)
        return -1;
    if (*out == NULL)
        *out = strdup("");
    return *out == NULL ? -1 : 0;
}

/* Copies a text column into a fixed buffer; "" for NULL. -1 when it does
 * not fit, which means the file was written by something else. */
int registry_column_copy(sqlite3_stmt *stmt, int col, char *out, size_t size)
{
    out[0] = '\0';
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return 0;
    const unsigned char *s = sqlite3_column_text(stmt, col);
    size_t len = (size_t)sqlite3_column_bytes(stmt, col);
    if (s == NULL || len >= size)
        return -1;
    memcpy(out, s, len + 1);
    return 0;
}

int registry_column_int_or(sqlite3_stmt *stmt, int col, int none)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL ? none : sqlite3_column_int(stmt, col);
}

/* supported, version, digest, read_errno at columns col .. col+3. */
int registry_column_migration(sqlite3_stmt *stmt, int col, struct inv_migration *out)
{
    memset(out, 0, sizeof *out);
    out->supported = sqlite3_column_int(stmt, col) != 0;
    out->read_errno = registry_column_int_or(stmt, col + 3, 0);
    if (registry_column_dup(stmt, col + 1, &out->version) < 0 ||
        registry_column_copy(stmt, col + 2, out->digest, sizeof out->digest) < 0) {
        inv_migration_clear(out);
        return -1;
    }
    return 0;
}

/* Room for one more element in a growing array. */
int registry_grow(void **items, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t next = *cap == 0 ? 8 : *cap * 2;
    if (next > SIZE_MAX / size)
        return -1;
    void *grown = realloc(*items, next * size);
    if (grown == NULL)
        return -1;
    *items = grown;
    *cap = next;
    return 0;
}
