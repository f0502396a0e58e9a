/*
 * answer — the parts of an answer that `select` and `probe` both show.
 * The source comes first because every verdict below it is about those
 * exact versions: an operator reading "incompatible" needs to see what
 * was written to the driver.
 */
#include "answer.h"

#include "fmt.h"
#include "table.h"

#include <string.h>

const json_t *answer_host(const json_t *answer, const char *name)
{
    size_t i;
    const json_t *host;
    json_array_foreach(json_object_get(answer, "hosts"), i, host)
    {
        const char *h = fmt_str(host, "host");
        if (h != NULL && strcmp(h, name) == 0)
            return host;
    }
    return NULL;
}

const char *answer_reason(const json_t *host)
{
    const char *error = fmt_str(host, "error");
    return error != NULL ? error : "";
}

void answer_notes(const json_t *host, char *buf, size_t len)
{
    static const struct {
        const char *key;
        const char *note;
    } notes[] = {
        {"stale", "stale"},
        {"same_version", "same-version"},
        {"cached_compatible", "cached-compatible"},
    };
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
        if (!json_is_true(json_object_get(host, notes[i].key)) || used >= len)
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used > 0 ? "," : "", notes[i].note);
        used += n > 0 ? (size_t)n : 0;
    }
}

/* live: read from the source's collector now; stale: its collector did
 * not answer, so the registry's copy; given: typed on the command line. */
static const char *answer_origin(const json_t *answer)
{
    if (fmt_str(answer, "source_host") == NULL)
        return "given";
    return json_is_true(json_object_get(answer, "source_stale")) ? "stale" : "live";
}

int answer_print_source(const struct cli *cli, const json_t *answer, FILE *out)
{
    const char *instance = fmt_str(answer, "instance");
    const char *host = fmt_str(answer, "source_host");
    const char *origin = answer_origin(answer);
    bool migratable = json_is_true(json_object_get(answer, "migratable"));
    const char *reason = fmt_str(answer, "reason");

    static const char *const mdev_headers[] = {"MDEV", "TYPE", "VERSION", "DIGEST", "REASON"};
    struct table *mdevs = table_new("mdev", 5, mdev_headers);
    size_t i;
    const json_t *mdev;
    json_array_foreach(json_object_get(answer, "mdevs"), i, mdev)
    {
        char digest[16];
        fmt_digest12(digest, sizeof digest, fmt_str(mdev, "digest"));
        table_add(mdevs,
                  (const char *[]){fmt_str(mdev, "uuid"), fmt_str(mdev, "type"),
                                   fmt_str(mdev, "version"), digest, fmt_str(mdev, "reason")});
    }
    int rc = 0;
    if (cli->format == CLI_FORMAT_TSV) {
        static const char *const source_headers[] = {"INSTANCE", "HOST", "VERSIONS", "MIGRATABLE",
                                                     "REASON"};
        struct table *source = table_new("source", 5, source_headers);
        table_add(source, (const char *[]){instance, host, origin,
                                           migratable ? "migratable" : "not-migratable", reason});
        rc = table_print(source, out, cli->format, 0);
        table_free(source);
    } else {
        if (instance != NULL)
            fprintf(out, "instance %s on %s", instance, host != NULL ? host : "?");
        else if (host != NULL)
            fprintf(out, "source %s", host);
        else
            fprintf(out, "source");
        if (strcmp(origin, "live") == 0)
            fprintf(out, ": versions read live from its collector\n");
        else if (strcmp(origin, "stale") == 0)
            fprintf(out, ": STALE, its collector did not answer: versions are the registry's "
                         "copy\n");
        else
            fprintf(out, ": versions as given\n");
        if (!migratable)
            fprintf(out, "NOT MIGRATABLE: %s\n", reason != NULL ? reason : "(no reason given)");
    }
    if (rc == 0)
        rc = table_print(mdevs, out, cli->format, cli->format == CLI_FORMAT_TABLE ? 2 : 0);
    table_free(mdevs);
    return rc;
}
