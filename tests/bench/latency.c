/*
 * latency — sequential round trips over one keep-alive connection, the
 * way a scheduler probes a collector: prints p50/p99/max in microseconds.
 * A benchmark tool, not a test: figures go to docs/BENCHMARKS.md.
 *
 * latency [--cacert FILE [--cert FILE [--key FILE]]] URL COUNT [TOKEN [JSON_BODY]]
 *
 * A body makes it a POST. An https:// URL is verified (peer and host name)
 * against --cacert (else the system's CA store); --cert/--key present a
 * client certificate (mutual TLS). Over https:// the line also gives the
 * opening request's time, its TLS handshake's share, and the connections
 * (so full or resumed handshakes) the timed requests opened, summed over
 * all of them (new_connections is the last request's alone): 0 when every
 * timed request reused the opening connection. Plain http:// prints
 * exactly what it always did.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t latency_discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * nmemb;
}

static int latency_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double latency_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static const char latency_usage[] =
    "usage: latency [--cacert FILE [--cert FILE [--key FILE]]] URL COUNT [TOKEN [JSON_BODY]]\n";

int main(int argc, char **argv)
{
    const char *cacert = NULL, *cert = NULL, *key = NULL;
    while (argc > 2 && strncmp(argv[1], "--", 2) == 0) {
        const char **opt = strcmp(argv[1], "--cacert") == 0 ? &cacert
                           : strcmp(argv[1], "--cert") == 0 ? &cert
                           : strcmp(argv[1], "--key") == 0  ? &key
                                                            : NULL;
        if (opt == NULL) {
            fprintf(stderr, "latency: unknown option %s\n%s", argv[1], latency_usage);
            return 2;
        }
        *opt = argv[2];
        argc -= 2;
        argv += 2;
    }
    if (argc < 3 || (key != NULL && cert == NULL)) {
        fputs(latency_usage, stderr);
        return 2;
    }
    int https = strncmp(argv[1], "https://", 8) == 0;
    long count = strtol(argv[2], NULL, 10);
    if (count <= 0 || count > 10000000) {
        fprintf(stderr, "latency: COUNT must be 1..10000000\n");
        return 2;
    }
    double *samples = calloc((size_t)count, sizeof *samples);
    CURL *curl = curl_easy_init();
    if (samples == NULL || curl == NULL) {
        fprintf(stderr, "latency: out of memory\n");
        return 1;
    }
    struct curl_slist *headers = NULL;
    char auth[600];
    if (argc > 3) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[3]);
        headers = curl_slist_append(headers, auth);
    }
    if (argc > 4) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, argv[4]);
    }
    curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, latency_discard);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    if (https) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
        if (cacert != NULL)
            curl_easy_setopt(curl, CURLOPT_CAINFO, cacert);
        if (cert != NULL)
            curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
        if (key != NULL)
            curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
    }
    long failures = 0;
    /* One warm-up request opens the connection. */
    double first_start = latency_now_us();
    CURLcode first = curl_easy_perform(curl);
    double first_us = latency_now_us() - first_start;
    curl_off_t tcp_us = 0, tls_us = 0;
    curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &tcp_us);
    curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &tls_us);
    if (first != CURLE_OK && https)
        fprintf(stderr, "latency: the opening request failed: %s\n", curl_easy_strerror(first));
    long timed_connects = 0; /* over every timed request, not only the last */
    for (long i = 0; i < count; i++) {
        double start = latency_now_us();
        CURLcode rc = curl_easy_perform(curl);
        samples[i] = latency_now_us() - start;
        long status = 0, made = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &made);
        timed_connects += made;
        if (rc != CURLE_OK || status != 200)
            failures++;
    }
    long connects = 0;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
    qsort(samples, (size_t)count, sizeof *samples, latency_compare);
    printf("requests=%ld failures=%ld p50_us=%.1f p99_us=%.1f max_us=%.1f new_connections=%ld",
           count, failures, samples[count / 2], samples[(count * 99) / 100], samples[count - 1],
           connects);
    /* The opening request: TCP connect, then the TLS handshake (appconnect
     * counts from the start, so its share is the difference); and the
     * connections (so handshakes) the timed requests opened, summed. */
    if (https)
        printf(" first_request_us=%.1f tls_handshake_us=%.1f timed_handshakes=%ld", first_us,
               tls_us > tcp_us ? (double)(tls_us - tcp_us) : 0.0, timed_connects);
    putchar('\n');
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(samples);
    return failures == 0 ? 0 : 1;
}
