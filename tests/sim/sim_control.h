/*
 * sim_control — mdevsim's control channel: a Unix socket through which
 * tests upgrade a driver's version at run time, inject faults and delays,
 * and read per-attribute counters that prove what reached the driver.
 */
#ifndef MDEVSIM_CONTROL_H
#define MDEVSIM_CONTROL_H

#include "sim_host.h"

#include <stddef.h>

struct sim_control;

/* Listen on socket_path (replacing a stale socket file) and serve it from
 * a thread of its own. NULL with a message on failure. */
struct sim_control *sim_control_start(struct sim_host *host, const char *socket_path, char *err,
                                      size_t errlen);

/* Stop the thread, close and unlink the socket. */
void sim_control_stop(struct sim_control *control);

/* Run one command line; the reply ("ok …" or "err …", no newline) goes
 * to reply. Takes the host lock. */
void sim_control_execute(struct sim_host *host, const char *line, char *reply, size_t replylen);

#endif
