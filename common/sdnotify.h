/*
 * sdnotify — what the daemons tell systemd (Type=notify units): ready once
 * they serve, reloading around a SIGHUP, stopping on the way out, and a
 * watchdog ping from the main loop. Every call is a no-op outside systemd
 * (NOTIFY_SOCKET unset), so the daemons run the same by hand and in tests.
 */
#ifndef MDEVMIG_SDNOTIFY_H
#define MDEVMIG_SDNOTIFY_H

#include <stdint.h>

/* READY=1, with STATUS= text for systemctl status. */
void sdnotify_ready(const char *status);

/* RELOADING=1 before a reload; call sdnotify_ready() after it. */
void sdnotify_reloading(void);

/* STOPPING=1 */
void sdnotify_stopping(void);

/* How often the main loop must call sdnotify_watchdog(), in microseconds
 * (half of WatchdogSec=, as sd_watchdog_enabled(3) advises); 0 when the
 * unit has no watchdog. */
uint64_t sdnotify_watchdog_interval_us(void);

/* WATCHDOG=1 */
void sdnotify_watchdog(void);

#endif
