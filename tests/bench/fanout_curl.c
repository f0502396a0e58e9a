/*
 * fanout_curl — the baseline of bench_fanout: the leanest client that
 * sends the sched's probes the way the sched does, written straight
 * against libcurl's multi API. One easy handle per call, made once and
 * kept (its options set once), one multi handle whose connection cache
 * keeps one connection per server warm across rounds, the same headers,
 * HTTP/1.1, TCP_NODELAY and limits as common/http_client: at most
 * `parallel` transfers in the multi and `per_host` per server. It feeds
 * the multi from per-server queues round-robin, as http_client does,
 * rather than adding the whole batch: a thousand pending handles in a
 * multi cost libcurl more CPU than 64 (http_client.c's header), and a
 * baseline should be the cheap way. It reads each reply into a buffer
 * and checks only the status: parsing, verdicts and caching are what the
 * sched adds on top, and what the ratio measures.
 */
#include "fanout.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FANOUT_CURL_MAX_REPLY 65536

struct fanout_curl_call {
    CURL *easy;
    char reply[FANOUT_CURL_MAX_REPLY];
    size_t reply_len;
    bool too_large;
};

struct fanout_curl {
    const struct fanout_plan *plan;
    CURLM *multi;
    struct curl_slist *headers;
    struct fanout_curl_call *calls;
    long *next;     /* per server: its next queued call, or >= calls */
    int *in_flight; /* per server */
    long cursor;    /* round-robin start over servers */
    char auth[256];
};

static size_t fanout_curl_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct fanout_curl_call *call = userdata;
    size_t n = size * nmemb;
    if (n > sizeof call->reply - 1 - call->reply_len) {
        call->too_large = true;
        return 0;
    }
    memcpy(call->reply + call->reply_len, data, n);
    call->reply_len += n;
    return n;
}

static void fanout_curl_free(void *ctx)
{
    struct fanout_curl *fc = ctx;
    if (fc == NULL)
        return;
    for (long i = 0; fc->calls != NULL && i < fc->plan->calls; i++)
        if (fc->calls[i].easy != NULL)
            curl_easy_cleanup(fc->calls[i].easy);
    if (fc->multi != NULL)
        curl_multi_cleanup(fc->multi);
    curl_slist_free_all(fc->headers);
    free(fc->calls);
    free(fc->next);
    free(fc->in_flight);
    free(fc);
}

/* Add queued calls, servers round-robin, up to the limits. */
static int fanout_curl_feed(struct fanout_curl *fc, long *running)
{
    const struct fanout_plan *p = fc->plan;
    bool added = true;
    while (added && *running < p->parallel) {
        added = false;
        for (long k = 0; k < p->servers && *running < p->parallel; k++) {
            long s = (fc->cursor + k) % p->servers;
            if (fc->next[s] >= p->calls || fc->in_flight[s] >= p->per_host)
                continue;
            struct fanout_curl_call *call = &fc->calls[fc->next[s]];
            call->reply_len = 0;
            call->too_large = false;
            if (curl_multi_add_handle(fc->multi, call->easy) != CURLM_OK)
                return -1;
            fc->next[s] += p->servers;
            fc->in_flight[s]++;
            (*running)++;
            added = true;
        }
        fc->cursor = (fc->cursor + 1) % p->servers;
    }
    return 0;
}

static long fanout_curl_round(void *ctx, char *err, size_t errlen)
{
    struct fanout_curl *fc = ctx;
    const struct fanout_plan *p = fc->plan;
    for (long s = 0; s < p->servers; s++) {
        fc->next[s] = s;
        fc->in_flight[s] = 0;
    }
    long running = 0, done = 0, failures = 0;
    if (fanout_curl_feed(fc, &running) < 0) {
        snprintf(err, errlen, "curl_multi_add_handle failed");
        return -1;
    }
    while (done < p->calls) {
        int still;
        CURLMcode mrc = curl_multi_perform(fc->multi, &still);
        if (mrc != CURLM_OK) {
            snprintf(err, errlen, "curl_multi_perform: %s", curl_multi_strerror(mrc));
            return -1;
        }
        CURLMsg *msg;
        int left;
        bool finished = false;
        while ((msg = curl_multi_info_read(fc->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *easy = msg->easy_handle;
            CURLcode result = msg->data.result;
            char *priv = NULL;
            long status = 0;
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(fc->multi, easy);
            long i = (long)(priv - (char *)fc->calls) / (long)sizeof *fc->calls;
            if (result != CURLE_OK || status != 200 || fc->calls[i].too_large) {
                if (failures == 0)
                    fprintf(stderr, "bench_fanout: curl: first failure: %ld %s\n", status,
                            curl_easy_strerror(result));
                failures++;
            }
            fc->in_flight[i % p->servers]--;
            running--;
            done++;
            finished = true;
        }
        if (finished && fanout_curl_feed(fc, &running) < 0) {
            snprintf(err, errlen, "curl_multi_add_handle failed");
            return -1;
        }
        if (done < p->calls && !finished &&
            (mrc = curl_multi_poll(fc->multi, NULL, 0, 1000, NULL)) != CURLM_OK) {
            snprintf(err, errlen, "curl_multi_poll: %s", curl_multi_strerror(mrc));
            return -1;
        }
    }
    return failures;
}

/* One call's easy handle, its options set once for every round. */
static CURL *fanout_curl_easy(struct fanout_curl *fc, long i)
{
    const struct fanout_plan *p = fc->plan;
    CURL *easy = curl_easy_init();
    if (easy == NULL)
        return NULL;
    CURLcode rc = CURLE_OK;
#define FANOUT_SET(opt, val)                                                                       \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(easy, opt, val);                                                 \
    } while (0)
    FANOUT_SET(CURLOPT_URL, p->urls[i]);
    FANOUT_SET(CURLOPT_POSTFIELDS, p->bodies[i]);
    FANOUT_SET(CURLOPT_POSTFIELDSIZE, (long)p->body_lens[i]);
    FANOUT_SET(CURLOPT_HTTPHEADER, fc->headers);
    FANOUT_SET(CURLOPT_WRITEFUNCTION, fanout_curl_write);
    FANOUT_SET(CURLOPT_WRITEDATA, &fc->calls[i]);
    FANOUT_SET(CURLOPT_PRIVATE, (void *)&fc->calls[i]);
    FANOUT_SET(CURLOPT_NOSIGNAL, 1L);
    FANOUT_SET(CURLOPT_PROXY, "");
    FANOUT_SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    FANOUT_SET(CURLOPT_TCP_NODELAY, 1L);
    FANOUT_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    FANOUT_SET(CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    FANOUT_SET(CURLOPT_TIMEOUT_MS, 3000L);
#undef FANOUT_SET
    if (rc != CURLE_OK) {
        curl_easy_cleanup(easy);
        return NULL;
    }
    return easy;
}

int fanout_curl_new(const struct fanout_plan *plan, struct fanout_client *out, char *err,
                    size_t errlen)
{
    struct fanout_curl *fc = calloc(1, sizeof *fc);
    if (fc == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fc->plan = plan;
    fc->calls = calloc((size_t)plan->calls, sizeof *fc->calls);
    fc->next = calloc((size_t)plan->servers, sizeof *fc->next);
    fc->in_flight = calloc((size_t)plan->servers, sizeof *fc->in_flight);
    fc->multi = curl_multi_init();
    snprintf(fc->auth, sizeof fc->auth, "Authorization: Bearer %s", plan->token);
    /* http_client's headers for a request with a body ("Expect:" turns off
     * 100-continue). */
    const char *lines[] = {fc->auth, "Content-Type: application/json", "Expect:"};
    bool ok = fc->calls != NULL && fc->next != NULL && fc->in_flight != NULL && fc->multi != NULL;
    for (size_t k = 0; ok && k < sizeof lines / sizeof lines[0]; k++) {
        struct curl_slist *more = curl_slist_append(fc->headers, lines[k]);
        ok = more != NULL;
        if (ok)
            fc->headers = more;
    }
    /* Keep every server's connection: the cache, not the in-flight cap,
     * bounds the idle ones (http_client's default 256). */
    long keep = plan->parallel > 256 ? plan->parallel : 256;
    ok = ok && curl_multi_setopt(fc->multi, CURLMOPT_MAXCONNECTS, keep) == CURLM_OK &&
         curl_multi_setopt(fc->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)plan->per_host) ==
             CURLM_OK;
    for (long i = 0; ok && i < plan->calls; i++)
        ok = (fc->calls[i].easy = fanout_curl_easy(fc, i)) != NULL;
    if (!ok) {
        fanout_curl_free(fc);
        snprintf(err, errlen, "cannot set up the libcurl multi client");
        return -1;
    }
    *out = (struct fanout_client){
        .name = "curl", .ctx = fc, .round = fanout_curl_round, .free = fanout_curl_free};
    return 0;
}
