/*
 * collector — the scan loop and the shared state. A new generation is
 * made only when what the host has really changed, so subscribers (the
 * registry, Placement) see one write per change plus heartbeats.
 */
#include "collector.h"

#include "buildinfo.h"

#include "attrdir.h"
#include "log.h"
#include "metrics_reply.h"
#include "monotonic.h"
#include "publish.h"
#include "scan.h"
#include "sdnotify.h"
#include "traits.h"
#include "vmmap.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static int64_t collector_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static long collector_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

/* Remake /v1/health's reply. Caller holds the write lock. */
static void collector_health_refresh(struct collector *c)
{
    /* Degraded: serving the last good inventory while scans fail. */
    const char *status = !c->have_inventory ? "starting" : c->scan_failing ? "degraded" : "ok";
    json_t *json = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "status", status, "host",
                             c->cfg->host, "generation", (json_int_t)c->inv.generation,
                             "scanned_at", (json_int_t)c->inv.scanned_at, "version",
                             buildinfo_version(), "commit", buildinfo_commit());
    size_t n = json != NULL
                   ? json_dumpb(json, c->health_json, sizeof c->health_json - 1, JSON_COMPACT)
                   : 0;
    json_decref(json);
    /* A host name is at most 255 bytes, so the reply fits; say so if not. */
    if (n == 0 || n >= sizeof c->health_json)
        n = (size_t)snprintf(c->health_json, sizeof c->health_json,
                             "{\"status\":\"%s\",\"error\":\"health reply too large\"}", status);
    c->health_json[n] = '\0';
    c->health_json_len = n;
}

int collector_init(struct collector *c, const struct collector_config *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    if (pthread_rwlock_init(&c->lock, NULL) != 0 || pthread_mutex_init(&c->wake_lock, NULL) != 0 ||
        auth_current_init(&c->token) != 0)
        return -1;
    metrics_reply_collector_init(&c->metrics);
    /* Room for every type and device directory of a large host. */
    c->attrdirs = attrdir_new(8192, cfg->sysfs_root);
    if (c->attrdirs == NULL)
        return -1;
    collector_health_refresh(c);
    return monotonic_cond_init(&c->wake) == 0 ? 0 : -1;
}

void collector_destroy(struct collector *c)
{
    attrdir_free(c->attrdirs);
    inventory_free(&c->inv);
    free(c->inventory_json);
    vmmap_instances_free(c->instances, c->instance_count);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->wake_lock);
    pthread_cond_destroy(&c->wake);
    auth_current_destroy(&c->token);
}

/* Deep-copy the VM list into inv and mark the devices each VM uses. */
static int collector_merge_instances(struct inventory *inv, const struct inv_instance *vms,
                                     size_t count)
{
    inv->instances = calloc(count + 1, sizeof *inv->instances);
    if (inv->instances == NULL)
        return -1;
    for (size_t i = 0; i < count; i++) {
        struct inv_instance *dst = &inv->instances[i];
        memcpy(dst->uuid, vms[i].uuid, sizeof dst->uuid);
        dst->name = strdup(vms[i].name != NULL ? vms[i].name : "");
        dst->state = strdup(vms[i].state != NULL ? vms[i].state : "");
        dst->mdevs = calloc(vms[i].mdev_count + 1, sizeof *dst->mdevs);
        inv->instance_count = i + 1;
        if (dst->name == NULL || dst->state == NULL || dst->mdevs == NULL)
            return -1;
        memcpy(dst->mdevs, vms[i].mdevs, vms[i].mdev_count * sizeof *dst->mdevs);
        dst->mdev_count = vms[i].mdev_count;
        for (size_t m = 0; m < vms[i].mdev_count; m++) {
            for (size_t d = 0; d < inv->device_count; d++) {
                if (strcmp(inv->devices[d].uuid, vms[i].mdevs[m]) == 0)
                    memcpy(inv->devices[d].instance, vms[i].uuid, INV_UUID_LEN);
            }
        }
    }
    return 0;
}

/* Refresh c->instances from libvirt; on failure keep the last list. */
static void collector_poll_libvirt(struct collector *c)
{
    if (c->vmmap == NULL)
        return;
    struct inv_instance *list = NULL;
    size_t count = 0;
    char err[1024];
    if (vmmap_collect(c->vmmap, &list, &count, err, sizeof err) < 0) {
        atomic_fetch_add(&c->metrics.libvirt_failures, 1);
        log_warn("%s; keeping the last known VM list (%zu VMs)", err, c->instance_count);
        return;
    }
    vmmap_instances_free(c->instances, c->instance_count);
    c->instances = list;
    c->instance_count = count;
    if (!c->events_reported) {
        /* Once per process: whether changes arrive as events, or only with
         * the next scan. */
        char note[512];
        if (vmmap_events(c->vmmap, note, sizeof note))
            log_info("libvirt %s: rescanning on domain and node-device events",
                     c->cfg->libvirt_uri);
        else
            log_info("libvirt %s: %s; relying on the %.1f s scan interval", c->cfg->libvirt_uri,
                     note, c->cfg->scan_interval);
        c->events_reported = true;
    }
}

int collector_build(struct collector *c, struct inventory *out, char *err, size_t errlen)
{
    struct scan_stats stats;
    long start = collector_mono_us();
    int rc = scan_host(c->cfg->sysfs_root, out, &stats, err, errlen);
    atomic_store(&c->metrics.last_scan_us, collector_mono_us() - start);
    atomic_fetch_add(&c->metrics.scans, 1);
    if (rc < 0) {
        atomic_fetch_add(&c->metrics.scan_failures, 1);
        return -1;
    }
    atomic_fetch_add(&c->metrics.scan_skipped, stats.skipped);
    atomic_fetch_add(&c->metrics.scan_errors, stats.errors);
    collector_poll_libvirt(c);
    out->host = strdup(c->cfg->host);
    out->collector_url = strdup(c->cfg->advertise_url);
    out->scanned_at = collector_now_ms() / 1000;
    if (out->host == NULL || out->collector_url == NULL ||
        collector_merge_instances(out, c->instances, c->instance_count) < 0) {
        inventory_free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int collector_rescan(struct collector *c, char *err, size_t errlen)
{
    struct inventory fresh;
    if (collector_build(c, &fresh, err, errlen) < 0)
        return -1;

    /* Only this thread writes, so reading c->inv without the lock is safe. */
    if (c->have_inventory && inventory_same_content(&c->inv, &fresh)) {
        pthread_rwlock_wrlock(&c->lock);
        c->inv.scanned_at = fresh.scanned_at;
        collector_health_refresh(c);
        pthread_rwlock_unlock(&c->lock);
        inventory_free(&fresh);
        return 0;
    }
    /* Generations are milliseconds of wall time at least, so a restarted
     * collector never publishes a generation below its previous life's. */
    int64_t generation = c->inv.generation + 1;
    int64_t now_ms = collector_now_ms();
    fresh.generation = generation > now_ms ? generation : now_ms;
    json_t *json = wire_inventory_to_json(&fresh);
    char *text = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (text == NULL) {
        inventory_free(&fresh);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t text_len = strlen(text);

    pthread_rwlock_wrlock(&c->lock);
    struct inventory old = c->inv;
    char *old_text = c->inventory_json;
    c->inv = fresh;
    c->inventory_json = text;
    c->inventory_json_len = text_len;
    c->have_inventory = true;
    collector_health_refresh(c);
    pthread_rwlock_unlock(&c->lock);
    /* Directories the new inventory names may be new ones under old
     * names (a driver reload); kept fds are reopened on next use. */
    attrdir_clear(c->attrdirs);

    log_info("inventory changed: generation %lld, %zu parents, %zu devices, %zu VMs",
             (long long)fresh.generation, fresh.parent_count, fresh.device_count,
             fresh.instance_count);
    if (c->publish != NULL)
        publish_offer(c->publish, text, text_len, fresh.generation);
    if (c->traits != NULL)
        traits_offer(c->traits, text, text_len, fresh.generation);
    inventory_free(&old);
    free(old_text);
    return 1;
}

void collector_request_rescan(struct collector *c)
{
    pthread_mutex_lock(&c->wake_lock);
    c->rescan_requested = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->wake_lock);
}

void collector_stop(struct collector *c)
{
    pthread_mutex_lock(&c->wake_lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->wake_lock);
}

void collector_run(struct collector *c)
{
    char err[1024];
    /* The caller made the first scan before serving; the next one waits
     * its interval (a large host's scan is seconds of sysfs reads that
     * would otherwise compete with the first probes). */
    pthread_rwlock_rdlock(&c->lock);
    bool was_failing = !c->have_inventory;
    pthread_rwlock_unlock(&c->lock);
    for (;;) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        long long ns = (long long)(c->cfg->scan_interval * 1e9);
        deadline.tv_sec += (time_t)(ns / 1000000000LL);
        deadline.tv_nsec += (long)(ns % 1000000000LL);
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        /* systemd's watchdog hears from this loop: a scan stuck in a dead
         * sysfs stops the pings, and systemd restarts the collector. */
        uint64_t watchdog_us = sdnotify_watchdog_interval_us();
        sdnotify_watchdog();
        pthread_mutex_lock(&c->wake_lock);
        while (!c->stopping && !c->rescan_requested) {
            struct timespec until = deadline;
            if (watchdog_us > 0) {
                struct timespec ping;
                clock_gettime(CLOCK_MONOTONIC, &ping);
                ping.tv_sec += (time_t)(watchdog_us / 1000000);
                ping.tv_nsec += (long)(watchdog_us % 1000000) * 1000;
                if (ping.tv_nsec >= 1000000000L) {
                    ping.tv_sec++;
                    ping.tv_nsec -= 1000000000L;
                }
                if (ping.tv_sec < until.tv_sec ||
                    (ping.tv_sec == until.tv_sec && ping.tv_nsec < until.tv_nsec))
                    until = ping;
            }
            if (pthread_cond_timedwait(&c->wake, &c->wake_lock, &until) != ETIMEDOUT)
                continue;
            if (until.tv_sec == deadline.tv_sec && until.tv_nsec == deadline.tv_nsec)
                break;
            sdnotify_watchdog();
        }
        bool stop = c->stopping;
        c->rescan_requested = false;
        pthread_mutex_unlock(&c->wake_lock);
        if (stop)
            return;
        int rc = collector_rescan(c, err, sizeof err);
        pthread_rwlock_wrlock(&c->lock);
        if (c->scan_failing != (rc < 0)) {
            c->scan_failing = rc < 0;
            collector_health_refresh(c);
        }
        pthread_rwlock_unlock(&c->lock);
        if (rc < 0) {
            log_error("scan failed: %s", err);
            was_failing = true;
        } else if (was_failing) {
            log_info("scan recovered");
            was_failing = false;
        }
    }
}
