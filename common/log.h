/*
 * log — one line per event on stderr (journald adds its own timestamp;
 * running by hand, ours is there), with a level an operator can turn up.
 */
#ifndef MDEVMIG_LOG_H
#define MDEVMIG_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* The program name each line carries, and the most verbose level shown.
 * Also looks once at where stderr goes: journald's stream (JOURNAL_STREAM)
 * gets "<N>" priorities instead of timestamps, so call it after any
 * redirection of stderr. */
void log_init(const char *program, enum log_level level);

/* A reload's new level; threads may be logging meanwhile (log_init is for
 * the start, before any thread). */
void log_set_level(enum log_level level);

/* "error", "warn", "info", "debug"; false when text is none of them. */
bool log_level_parse(const char *text, enum log_level *out);

bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
