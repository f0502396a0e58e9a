/*
 * reload — what both daemons do the same way on SIGHUP (DESIGN.md §7):
 * name the settings that changed but cannot change while running, and
 * move the ones that can from the freshly parsed settings into the running
 * ones.
 */
#ifndef MDEVMIG_RELOAD_H
#define MDEVMIG_RELOAD_H

#include "tls_settings.h"

#include <stddef.h>

/* A setting's running and newly read value, as text or as a number. */
struct reload_text {
    const char *key;
    const char *was, *now;
};
struct reload_number {
    const char *key;
    double was, now;
};

/* Log, for each setting whose value differs, that it needs a restart and
 * keeps its running value. */
void reload_report_restart_only(const struct reload_text *texts, size_t text_count,
                                const struct reload_number *numbers, size_t number_count);

/* Free *running and move *fresh into it (leaving *fresh NULL). */
void reload_take(char **running, char **fresh);

/* reload_take for each of the six TLS settings. */
void reload_take_tls(struct tls_settings *running, struct tls_settings *fresh);

#endif
