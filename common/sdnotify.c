/*
 * sdnotify — the daemons' side of systemd's notify protocol, through
 * libsystemd's sd_notify(3). NOTIFY_SOCKET is left in the environment
 * (unset_environment = 0) because a daemon notifies many times over its
 * life: ready, reloading and ready again, a watchdog ping every interval.
 * A failed notification is not reported: the daemon's work does not depend
 * on it, and systemd itself notices the silence (a start timeout or the
 * watchdog).
 */
#include "sdnotify.h"

#include <string.h>
#include <systemd/sd-daemon.h>

void sdnotify_ready(const char *status)
{
    if (status == NULL) {
        (void)sd_notify(0, "READY=1");
        return;
    }
    /* Each line of a notification is one assignment: a newline in the
     * text would let it say more than STATUS=, so only its first line
     * goes out. */
    (void)sd_notifyf(0, "READY=1\nSTATUS=%.*s", (int)strcspn(status, "\n"), status);
}

void sdnotify_reloading(void)
{
    (void)sd_notify(0, "RELOADING=1");
}

void sdnotify_stopping(void)
{
    (void)sd_notify(0, "STOPPING=1");
}

uint64_t sdnotify_watchdog_interval_us(void)
{
    uint64_t usec = 0;
    /* > 0 only when WATCHDOG_USEC is set, valid and meant for this
     * process (WATCHDOG_PID); a malformed value is no watchdog, not an
     * error to stop for. */
    if (sd_watchdog_enabled(0, &usec) <= 0)
        return 0;
    return usec / 2;
}

void sdnotify_watchdog(void)
{
    (void)sd_notify(0, "WATCHDOG=1");
}
