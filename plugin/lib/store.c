/*
 * store — the registry as libmdevmig's callers see it: the inventory out
 * as JSON, host counts for metrics, the integrity check a service runs at
 * start, and the health that the latest registry access decides (what
 * comes in, snapshots and heartbeats, is ingest.c's). The library owns
 * the one SQLite connection; a service never opens the file itself.
 */
#include "ingest.h"
#include "internal.h"

#include "wire.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void store_outcome(struct mdevmig *m, int status, const char *err)
{
    if (status != MDEVMIG_OK && status != MDEVMIG_ERR_INTERNAL)
        return; /* the caller's mistake says nothing of the registry */
    pthread_mutex_lock(&m->health_lock);
    snprintf(m->registry_error, sizeof m->registry_error, "%s",
             status == MDEVMIG_OK || err == NULL ? "" : err);
    pthread_mutex_unlock(&m->health_lock);
}

int mdevmig_check(struct mdevmig *m, char *err, size_t errlen)
{
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_check(m->registry, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    return rc == 0 ? MDEVMIG_OK : MDEVMIG_ERR_INTERNAL;
}

int mdevmig_health(struct mdevmig *m, char *err, size_t errlen)
{
    pthread_mutex_lock(&m->health_lock);
    bool failing = m->registry_error[0] != '\0';
    if (errlen > 0)
        snprintf(err, errlen, "%s", m->registry_error);
    pthread_mutex_unlock(&m->health_lock);
    return failing ? MDEVMIG_ERR_INTERNAL : MDEVMIG_OK;
}

/* One host's entry: NULL with err set (rc 1: gone since it was listed). */
static json_t *store_host_json(struct mdevmig *m, const struct registry_host *h, int64_t now,
                               int *rc, char *err, size_t errlen)
{
    struct inventory inv;
    pthread_mutex_lock(&m->registry_lock);
    *rc = registry_load_host(m->registry, h->name, &inv, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    if (*rc != 0) {
        if (*rc == 1)
            snprintf(err, errlen, "host %s is not in the registry", h->name);
        return NULL;
    }
    json_t *entry =
        json_pack("{s:s, s:I, s:I, s:b, s:o}", "host", h->name, "last_seen",
                  (json_int_t)h->last_seen, "age_s", (json_int_t)(now - h->last_seen), "stale",
                  now - h->last_seen > m->stale_after_s, "inventory", wire_inventory_to_json(&inv));
    inventory_free(&inv);
    if (entry == NULL) {
        snprintf(err, errlen, "out of memory");
        *rc = -1;
    }
    return entry;
}

static int store_list(struct mdevmig *m, struct registry_hosts *hosts, char *err, size_t errlen)
{
    /* These answers show last_seen and staleness: the heartbeats kept in
     * memory are written first, so they are exact (touches.c). */
    if (touches_flush(m, err, errlen) < 0) {
        store_outcome(m, MDEVMIG_ERR_INTERNAL, err);
        return MDEVMIG_ERR_INTERNAL;
    }
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_list_hosts(m->registry, hosts, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    int status = rc < 0 ? MDEVMIG_ERR_INTERNAL : MDEVMIG_OK;
    store_outcome(m, status, err);
    return status;
}

/* One host's entry, its row read alone: at 100,000 hosts, listing every
 * host to find one cost ~10 MiB and most of the time. */
static int store_one_json(struct mdevmig *m, const char *host, int64_t now, json_t **answer,
                          char *err, size_t errlen)
{
    if (touches_flush(m, err, errlen) < 0) {
        store_outcome(m, MDEVMIG_ERR_INTERNAL, err);
        return MDEVMIG_ERR_INTERNAL;
    }
    struct registry_host row;
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_host_get(m->registry, host, &row, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    store_outcome(m, rc < 0 ? MDEVMIG_ERR_INTERNAL : MDEVMIG_OK, err);
    if (rc < 0)
        return MDEVMIG_ERR_INTERNAL;
    if (rc == 0)
        *answer = store_host_json(m, &row, now, &rc, err, errlen);
    registry_host_clear(&row);
    if (rc == 1) {
        snprintf(err, errlen, "host %.200s is not in the registry", host);
        return MDEVMIG_ERR_NOT_FOUND;
    }
    return *answer != NULL ? MDEVMIG_OK : MDEVMIG_ERR_INTERNAL;
}

/* Every host's entry. */
static int store_all_json(struct mdevmig *m, int64_t now, json_t **answer, char *err, size_t errlen)
{
    struct registry_hosts hosts;
    int status = store_list(m, &hosts, err, errlen);
    if (status != MDEVMIG_OK)
        return status;
    json_t *list = json_array();
    if (list == NULL)
        status = MDEVMIG_ERR_INTERNAL;
    for (size_t i = 0; i < hosts.count && status == MDEVMIG_OK; i++) {
        int rc;
        json_t *entry = store_host_json(m, &hosts.items[i], now, &rc, err, errlen);
        /* A host removed between the listing and its read is gone. */
        if (entry == NULL && rc != 1)
            status = MDEVMIG_ERR_INTERNAL;
        else if (entry != NULL && json_array_append_new(list, entry) < 0)
            status = MDEVMIG_ERR_INTERNAL;
    }
    registry_hosts_free(&hosts);
    if (status == MDEVMIG_OK && (*answer = json_pack("{s:O}", "hosts", list)) == NULL)
        status = MDEVMIG_ERR_INTERNAL;
    json_decref(list);
    return status;
}

int mdevmig_inventory_json(struct mdevmig *m, const char *host, char **out, char *err,
                           size_t errlen)
{
    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    int64_t now = (int64_t)time(NULL);
    json_t *answer = NULL;
    int status = host != NULL ? store_one_json(m, host, now, &answer, err, errlen)
                              : store_all_json(m, now, &answer, err, errlen);
    if (status == MDEVMIG_OK && (*out = json_dumps(answer, JSON_COMPACT)) == NULL)
        status = MDEVMIG_ERR_INTERNAL;
    if (status == MDEVMIG_ERR_INTERNAL && errlen > 0 && err[0] == '\0')
        snprintf(err, errlen, "out of memory");
    json_decref(answer);
    return status;
}

int mdevmig_host_counts(struct mdevmig *m, size_t *count, size_t *stale, char *err, size_t errlen)
{
    /* Every scrape asks: a count, never the list of 100,000 names. The
     * heartbeats kept in memory are written first (touches.c). */
    if (touches_flush(m, err, errlen) < 0) {
        store_outcome(m, MDEVMIG_ERR_INTERNAL, err);
        return MDEVMIG_ERR_INTERNAL;
    }
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&m->registry_lock);
    int rc = registry_host_counts(m->registry, now - m->stale_after_s, count, stale, err, errlen);
    pthread_mutex_unlock(&m->registry_lock);
    int status = rc < 0 ? MDEVMIG_ERR_INTERNAL : MDEVMIG_OK;
    store_outcome(m, status, err);
    return status;
}
