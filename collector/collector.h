/*
 * collector — the state of one mdevmig-collector: the current inventory
 * (sysfs scan merged with libvirt's VM-to-mdev map), its generation, and
 * the counters /metrics shows. The scan loop writes it; HTTP handlers and
 * the publisher read it.
 */
#ifndef MDEVMIG_COLLECTOR_H
#define MDEVMIG_COLLECTOR_H

#include "auth.h"
#include "config.h"
#include "inventory.h"
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct audit;
struct vmmap;
struct publish;
struct traits;
struct attrdir;

struct collector_metrics {
    atomic_ulong probes_compatible;
    atomic_ulong probes_incompatible;
    atomic_ulong probes_unsupported;
    atomic_ulong probes_no_type;
    atomic_ulong probe_errors; /* the write never reached the driver: 503, no verdict */
    atomic_ulong bad_requests;
    atomic_ulong unauthorized;
    atomic_ulong requests;
    atomic_ulong scans;
    atomic_ulong scan_failures;
    atomic_ulong scan_skipped;
    atomic_ulong scan_errors;
    atomic_long last_scan_us;
    atomic_ulong libvirt_failures;
    /* Zeroed with the rest; metrics_reply.c gives them their bounds. */
    struct metrics_histogram probe_write;   /* the write(2) into the attribute alone */
    struct metrics_histogram probe_request; /* a whole POST /v1/probe */
};

struct collector {
    const struct collector_config *cfg;
    struct auth_current token; /* the cluster token, replaced on SIGHUP */

    /* Guards inv and inventory_json: many readers (probes), one writer. */
    pthread_rwlock_t lock;
    struct inventory inv;
    char *inventory_json;
    size_t inventory_json_len;
    bool have_inventory; /* false until the first successful scan */
    bool scan_failing;   /* the last scan failed: the inventory is the last good one */
    /* /v1/health's reply, remade whenever what it says changes, so the
     * endpoint load balancers poll most costs a copy. */
    char health_json[512];
    size_t health_json_len;

    /* The VMs libvirt last reported, kept while libvirt is unreachable so
     * an outage does not look like every VM leaving. */
    struct inv_instance *instances;
    size_t instance_count;
    bool events_reported;

    struct audit *audit;
    struct vmmap *vmmap;
    struct publish *publish;
    struct traits *traits;    /* Placement; NULL when placement_url is unset */
    struct attrdir *attrdirs; /* kept directory fds of probe targets */

    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
    bool rescan_requested;
    bool stopping;

    struct collector_metrics metrics;
};

int collector_init(struct collector *c, const struct collector_config *cfg);
void collector_destroy(struct collector *c);

/* Scan sysfs, ask libvirt, and when anything changed install the result
 * under a new generation (and hand it to the publisher). Returns 1 when
 * it changed, 0 when not, -1 when the scan failed (the previous inventory
 * stays). */
int collector_rescan(struct collector *c, char *err, size_t errlen);

/* Build one inventory without installing it (for --scan-once). */
int collector_build(struct collector *c, struct inventory *out, char *err, size_t errlen);

/* Ask the loop for a scan now (libvirt events, tests). Thread-safe. */
void collector_request_rescan(struct collector *c);

/* After the caller's first scan: scan every scan_interval or when asked,
 * until collector_stop(). */
void collector_run(struct collector *c);
void collector_stop(struct collector *c);

#endif
