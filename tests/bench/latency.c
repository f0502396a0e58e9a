/*
 * latency — sequential round trips over one keep-alive connection, the
 * way a scheduler probes a collector: prints p50/p99/max in microseconds.
 * A benchmark tool, not a test: figures go to docs/BENCHMARKS.md.
 *
 * latency URL COUNT [TOKEN [JSON_BODY]]   (a body makes it a POST)
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

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: latency URL COUNT [TOKEN [JSON_BODY]]\n");
        return 2;
    }
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
    long failures = 0;
    /* One warm-up request opens the connection. */
    curl_easy_perform(curl);
    for (long i = 0; i < count; i++) {
        double start = latency_now_us();
        CURLcode rc = curl_easy_perform(curl);
        samples[i] = latency_now_us() - start;
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200)
            failures++;
    }
    long connects = 0;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
    qsort(samples, (size_t)count, sizeof *samples, latency_compare);
    printf("requests=%ld failures=%ld p50_us=%.1f p99_us=%.1f max_us=%.1f new_connections=%ld\n",
           count, failures, samples[count / 2], samples[(count * 99) / 100], samples[count - 1],
           connects);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(samples);
    return failures == 0 ? 0 : 1;
}
