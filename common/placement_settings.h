/*
 * placement_settings — the Placement and Keystone settings both daemons
 * take (the collector publishes traits, the sched finds candidates by
 * them), written once like tls_settings.h: a program's config struct holds
 * char * fields of these names (placement_url, placement_token,
 * placement_token_file, keystone_auth_url, keystone_username,
 * keystone_password_file, keystone_project, keystone_user_domain,
 * keystone_project_domain), and its table splices
 * PLACEMENT_SETTINGS_ITEMS(struct its_config, URL_SHOWN, URL_HELP) in,
 * with the two texts that differ: what placement_url's default means for
 * the program, and what the program does with Placement.
 */
#ifndef MDEVMIG_PLACEMENT_SETTINGS_H
#define MDEVMIG_PLACEMENT_SETTINGS_H

#include "http_url.h"
#include "settings.h"

#define PLACEMENT_SETTINGS_ITEMS(type, url_shown, url_help)                                        \
    {.key = "placement_url",                                                                       \
     .flag = "placement-url",                                                                      \
     .metavar = "URL",                                                                             \
     .kind = SETTINGS_STRING,                                                                      \
     .offset = SETTINGS_FIELD(type, placement_url, char *),                                        \
     .shown = url_shown,                                                                           \
     .check = http_url_setting_check,                                                              \
     .help = "Placement's base URL (e.g. http://controller:8778). " url_help                       \
             " Needs placement_token_file (or placement_token), or the keystone_* settings."},     \
        {.key = "placement_token",                                                                 \
         .flag = "placement-token",                                                                \
         .metavar = "TOKEN",                                                                       \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, placement_token, char *),                                  \
         .shown = "(none)",                                                                        \
         .help = "A static X-Auth-Token for Placement (\"admin\" with noauth2, as in tests); "     \
                 "prefer placement_token_file, which keeps it out of the process list."},          \
        {.key = "placement_token_file",                                                            \
         .flag = "placement-token-file",                                                           \
         .metavar = "FILE",                                                                        \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, placement_token_file, char *),                             \
         .shown = "(none)",                                                                        \
         .help = "File (mode 0600) holding a static X-Auth-Token for Placement."},                 \
        {.key = "keystone_auth_url",                                                               \
         .flag = "keystone-auth-url",                                                              \
         .metavar = "URL",                                                                         \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, keystone_auth_url, char *),                                \
         .shown = "(none: no Keystone)",                                                           \
         .check = http_url_setting_check,                                                          \
         .help = "Keystone v3 URL (e.g. http://controller:5000/v3) for password auth to "          \
                 "Placement; the token is cached until shortly before it expires and renewed "     \
                 "once when Placement refuses it. Needs keystone_username, "                       \
                 "keystone_password_file and keystone_project."},                                  \
        {.key = "keystone_username",                                                               \
         .flag = "keystone-username",                                                              \
         .metavar = "NAME",                                                                        \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, keystone_username, char *),                                \
         .shown = "(none)",                                                                        \
         .help = "Keystone user this daemon authenticates as."},                                   \
        {.key = "keystone_password_file",                                                          \
         .flag = "keystone-password-file",                                                         \
         .metavar = "FILE",                                                                        \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, keystone_password_file, char *),                           \
         .shown = "(none)",                                                                        \
         .help = "File (mode 0600) holding that user's password (one line, no spaces)."},          \
        {.key = "keystone_project",                                                                \
         .flag = "keystone-project",                                                               \
         .metavar = "NAME",                                                                        \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, keystone_project, char *),                                 \
         .shown = "(none)",                                                                        \
         .help = "Project the Keystone token is scoped to (e.g. service)."},                       \
        {.key = "keystone_user_domain",                                                            \
         .flag = "keystone-user-domain",                                                           \
         .metavar = "NAME",                                                                        \
         .kind = SETTINGS_STRING,                                                                  \
         .offset = SETTINGS_FIELD(type, keystone_user_domain, char *),                             \
         .def = "Default",                                                                         \
         .help = "Name of the Keystone domain of the user."},                                      \
    {                                                                                              \
        .key = "keystone_project_domain", .flag = "keystone-project-domain", .metavar = "NAME",    \
        .kind = SETTINGS_STRING, .offset = SETTINGS_FIELD(type, keystone_project_domain, char *),  \
        .def = "Default", .help = "Name of the Keystone domain of the project."                    \
    }

#endif
