/*
 * reload — the shared half of a SIGHUP. Each daemon's main.c decides what
 * to re-read and in which order (all checks first, so a refused reload
 * changes nothing); this is the bookkeeping around it.
 */
#include "reload.h"

#include "log.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool reload_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

void reload_report_restart_only(const struct reload_text *texts, size_t text_count,
                                const struct reload_number *numbers, size_t number_count)
{
    for (size_t i = 0; i < text_count; i++)
        if (!reload_same(texts[i].was, texts[i].now))
            log_warn("SIGHUP: %s changed; it needs a restart (keeping the running value)",
                     texts[i].key);
    for (size_t i = 0; i < number_count; i++)
        if (numbers[i].was != numbers[i].now)
            log_warn("SIGHUP: %s changed; it needs a restart (keeping %g)", numbers[i].key,
                     numbers[i].was);
}

void reload_take(char **running, char **fresh)
{
    free(*running);
    *running = *fresh;
    *fresh = NULL;
}

void reload_take_tls(struct tls_settings *running, struct tls_settings *fresh)
{
    reload_take(&running->tls_cert_file, &fresh->tls_cert_file);
    reload_take(&running->tls_key_file, &fresh->tls_key_file);
    reload_take(&running->tls_client_ca_file, &fresh->tls_client_ca_file);
    reload_take(&running->ca_file, &fresh->ca_file);
    reload_take(&running->tls_client_cert_file, &fresh->tls_client_cert_file);
    reload_take(&running->tls_client_key_file, &fresh->tls_client_key_file);
}
