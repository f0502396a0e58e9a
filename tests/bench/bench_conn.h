/*
 * bench_conn — one kept-alive HTTP/1.1 connection over a plain socket, for
 * load clients that must cost the machine less than the server they
 * measure (bench_ingest: tens of thousands of small POSTs a second on the
 * same two cores as the sched). Sequential requests, Content-Length
 * replies only (libmicrohttpd's for a buffer), reconnects when the server
 * closed the connection between requests. A benchmark tool, not a test.
 */
#ifndef MDEVMIG_BENCH_CONN_H
#define MDEVMIG_BENCH_CONN_H

#include <stddef.h>

struct bench_conn {
    int fd; /* -1: not connected */
    char address[64];
    int port;
    char *buf; /* the last reply, head and body */
    size_t cap;
    size_t reconnects; /* connections opened after the first */
};

/* Connects to address:port (IPv4): 0, or -1 with err. */
int bench_conn_open(struct bench_conn *c, const char *address, int port, char *err, size_t errlen);

/* Sends head (the request line and headers, ending in an empty line) and
 * body, reads the reply: 0 with *status and the body (borrowed until the
 * next call), or -1 with err. */
int bench_conn_request(struct bench_conn *c, const char *head, size_t head_len, const char *body,
                       size_t body_len, int *status, const char **reply, size_t *reply_len,
                       char *err, size_t errlen);

void bench_conn_close(struct bench_conn *c);

#endif
