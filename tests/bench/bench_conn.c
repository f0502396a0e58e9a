/*
 * bench_conn — see bench_conn.h.
 */
#include "bench_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BENCH_CONN_MAX_REPLY (64 * 1024 * 1024)

static int bench_conn_connect(struct bench_conn *c, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    if (inet_pton(AF_INET, c->address, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "%s is not an IPv4 address", c->address);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* Head and body go out in one writev; Nagle would hold a short body
     * back for the delayed ACK. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        snprintf(err, errlen, "connect %s:%d: %s", c->address, c->port, strerror(errno));
        close(fd);
        return -1;
    }
    c->fd = fd;
    return 0;
}

int bench_conn_open(struct bench_conn *c, const char *address, int port, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    snprintf(c->address, sizeof c->address, "%s", address);
    c->port = port;
    return bench_conn_connect(c, err, errlen);
}

void bench_conn_close(struct bench_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->cap = 0;
}

static int bench_conn_send(struct bench_conn *c, const char *head, size_t head_len,
                           const char *body, size_t body_len)
{
    struct iovec iov[2] = {{(void *)head, head_len}, {(void *)body, body_len}};
    int n = body_len > 0 ? 2 : 1;
    int i = 0;
    while (i < n) {
        /* MSG_NOSIGNAL: a server that closed the connection is an EPIPE to
         * reconnect on, not a SIGPIPE that ends the client. */
        struct msghdr msg = {.msg_iov = &iov[i], .msg_iovlen = (size_t)(n - i)};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        size_t left = (size_t)w;
        while (i < n && left >= iov[i].iov_len)
            left -= iov[i++].iov_len;
        if (i < n) {
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
        }
    }
    return 0;
}

/* The value of header name in head (NUL-terminated), or NULL. */
static const char *bench_conn_header(const char *head, const char *name)
{
    size_t len = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, len) == 0 && h[len] == ':') {
            h += len + 1;
            while (*h == ' ')
                h++;
            return h;
        }
    }
    return NULL;
}

/* Reads one reply. 1: the server had closed before sending a byte (retry
 * on a new connection), 0, -1. */
static int bench_conn_read(struct bench_conn *c, int *status, const char **reply, size_t *reply_len,
                           bool *close_after, char *err, size_t errlen)
{
    size_t have = 0, head_end = 0, total = 0;
    for (;;) {
        if (c->cap - have < 4096) {
            size_t cap = c->cap == 0 ? 16384 : c->cap * 2;
            char *buf = cap <= BENCH_CONN_MAX_REPLY ? realloc(c->buf, cap + 1) : NULL;
            if (buf == NULL) {
                snprintf(err, errlen, "reply too large or out of memory");
                return -1;
            }
            c->buf = buf;
            c->cap = cap;
        }
        ssize_t r = read(c->fd, c->buf + have, c->cap - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (have == 0)
                return 1;
            snprintf(err, errlen, "reply cut short: %s", r < 0 ? strerror(errno) : "EOF");
            return -1;
        }
        have += (size_t)r;
        c->buf[have] = '\0';
        if (head_end == 0) {
            const char *end = strstr(c->buf, "\r\n\r\n");
            if (end == NULL)
                continue;
            head_end = (size_t)(end - c->buf) + 4;
            c->buf[head_end - 2] = '\0'; /* the head alone, for the header lookups */
            if (sscanf(c->buf, "HTTP/1.%*d %d", status) != 1) {
                snprintf(err, errlen, "not an HTTP reply");
                return -1;
            }
            const char *length = bench_conn_header(c->buf, "Content-Length");
            if (length == NULL) {
                snprintf(err, errlen, "a reply without Content-Length");
                return -1;
            }
            const char *conn = bench_conn_header(c->buf, "Connection");
            *close_after = conn != NULL && strncasecmp(conn, "close", 5) == 0;
            total = head_end + strtoul(length, NULL, 10);
        }
        if (head_end != 0 && have >= total)
            break;
    }
    c->buf[total] = '\0';
    *reply = c->buf + head_end;
    *reply_len = total - head_end;
    return 0;
}

int bench_conn_request(struct bench_conn *c, const char *head, size_t head_len, const char *body,
                       size_t body_len, int *status, const char **reply, size_t *reply_len,
                       char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->fd < 0) {
            if (bench_conn_connect(c, err, errlen) < 0)
                return -1;
            c->reconnects++;
        }
        bool close_after = false;
        int rc = bench_conn_send(c, head, head_len, body, body_len) < 0
                     ? 1
                     : bench_conn_read(c, status, reply, reply_len, &close_after, err, errlen);
        if (rc == 0) {
            if (close_after) {
                close(c->fd);
                c->fd = -1;
            }
            return 0;
        }
        close(c->fd);
        c->fd = -1;
        if (rc < 0)
            return -1;
    }
    snprintf(err, errlen, "the server closed the connection twice without replying");
    return -1;
}
