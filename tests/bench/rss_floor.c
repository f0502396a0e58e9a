/*
 * rss_floor — what the libraries the collector links cost resident before
 * it does any work: the ones the benchmark's collector uses (libvirt off,
 * SQLite publishing) initialised once, then the process prints its VmRSS
 * and exits. bench-collector reads the collector's idle RSS against it.
 * Built twice: linked with every library the collector links
 * (bench_rss_floor; libcurl, libvirt and libxml2 loaded, not initialised,
 * as in the benchmark), and with only the ones a collector without
 * libvirt and HTTP publishing would need (bench_rss_floor_core).
 */
#include <ini.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#ifdef RSS_FLOOR_ALL
#include <curl/curl.h>
#include <libvirt/libvirt.h>
#include <libxml/parser.h>

/* Referenced, so the linker keeps them as the collector does; never run. */
void *rss_floor_keep[] = {(void *)curl_easy_init, (void *)virConnectOpen, (void *)xmlReadMemory};
#endif

int main(void)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len;
    /* OpenSSL 3 loads its default provider on the first digest. */
    if (EVP_Digest("x", 1, md, &md_len, EVP_sha256(), NULL) != 1)
        return 1;
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return 1;
    json_decref(json_object());
    (void)MHD_is_feature_supported(MHD_FEATURE_EPOLL);
    (void)ini_parse_string("", NULL, NULL);
    int rc = 1;
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    while (status != NULL && fgets(line, sizeof line, status) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            fputs(line, stdout);
            rc = 0;
        }
    }
    if (status != NULL)
        fclose(status);
    sqlite3_close(db);
    return rc;
}
