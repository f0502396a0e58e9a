/*
 * sim_control — line commands on a Unix socket, one reply line each.
 * Commands run under the host lock, so a test sees a consistent tree: a
 * version changed here is what the next read of the attribute shows.
 * The protocol is documented in tests/sim/README.md and `mdevsim --help`.
 */
#include "sim_control.h"

#include "errname.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SIM_CONTROL_LINE_MAX 8192

struct sim_control {
    struct sim_host *host;
    int listen_fd;
    char *path;
    pthread_t thread;
    atomic_bool stop;
};

/* Split off the first space-separated word of *rest. */
static char *sim_next_word(char **rest)
{
    char *s = *rest;
    while (*s == ' ')
        s++;
    if (*s == '\0')
        return NULL;
    char *word = s;
    while (*s != '\0' && *s != ' ')
        s++;
    if (*s == ' ')
        *s++ = '\0';
    *rest = s;
    return word;
}

static struct sim_node *sim_control_node(struct sim_host *host, const char *path)
{
    while (*path == '/')
        path++;
    return sim_tree_lookup(host->root, path, true);
}

static void sim_control_set_migration(struct sim_host *host, char *rest, bool version_only,
                                      char *reply, size_t replylen)
{
    char *path = sim_next_word(&rest);
    while (rest != NULL && *rest == ' ')
        rest++;
    if (path == NULL || rest == NULL || *rest == '\0') {
        snprintf(reply, replylen, "err usage: %s PATH %s", version_only ? "version" : "migration",
                 version_only ? "STRING" : "JSON");
        return;
    }
    struct sim_node *node = sim_control_node(host, path);
    /* An attribute names the type or device whose directory holds it. */
    if (node != NULL && node->kind != SIM_NODE_DIR)
        node = node->parent;
    struct sim_type *type = sim_host_type_of(node);
    struct sim_device *dev = type == NULL && node != NULL ? sim_host_device_of(host, node) : NULL;
    if (type == NULL && dev == NULL) {
        snprintf(reply, replylen, "err %s is not a type or device directory", path);
        return;
    }
    char err[512];
    struct sim_migration mig;
    if (version_only) {
        const struct sim_migration *current = type != NULL ? &type->mig : sim_host_device_mig(dev);
        if (sim_migration_copy(current, &mig) < 0) {
            snprintf(reply, replylen, "err out of memory");
            return;
        }
        if (sim_migration_set_version(&mig, rest, err, sizeof err) < 0) {
            sim_migration_clear(&mig);
            snprintf(reply, replylen, "err %s", err);
            return;
        }
    } else if (dev != NULL && strcmp(rest, "\"inherit\"") == 0) {
        if (sim_host_set_device_migration_locked(host, dev, NULL, err, sizeof err) < 0)
            snprintf(reply, replylen, "err %s", err);
        else
            snprintf(reply, replylen, "ok");
        return;
    } else {
        json_error_t jerr;
        json_t *json = json_loads(rest, JSON_DECODE_ANY, &jerr);
        if (json == NULL) {
            snprintf(reply, replylen, "err invalid JSON at column %d: %s", jerr.column, jerr.text);
            return;
        }
        int rc = sim_migration_parse(json, &mig, err, sizeof err);
        json_decref(json);
        if (rc < 0) {
            snprintf(reply, replylen, "err %s", err);
            return;
        }
    }
    int rc = type != NULL ? sim_host_set_type_migration_locked(host, type, &mig, err, sizeof err)
                          : sim_host_set_device_migration_locked(host, dev, &mig, err, sizeof err);
    sim_migration_clear(&mig);
    if (rc < 0)
        snprintf(reply, replylen, "err %s", err);
    else
        snprintf(reply, replylen, "ok");
}

static bool sim_parse_count(const char *word, long *out)
{
    if (word == NULL) {
        *out = -1;
        return true;
    }
    char *end;
    long v = strtol(word, &end, 10);
    if (*end != '\0' || v <= 0)
        return false;
    *out = v;
    return true;
}

/* fault PATH read|write ERRNO [COUNT] and delay PATH read|write MS [COUNT]. */
static void sim_control_fault(struct sim_host *host, char *rest, bool is_delay, char *reply,
                              size_t replylen)
{
    const char *cmd = is_delay ? "delay" : "fault";
    char *path = sim_next_word(&rest);
    char *dir = sim_next_word(&rest);
    char *value = sim_next_word(&rest);
    char *count_word = sim_next_word(&rest);
    if (path == NULL || dir == NULL || value == NULL || sim_next_word(&rest) != NULL) {
        snprintf(reply, replylen, "err usage: %s PATH read|write %s [COUNT]", cmd,
                 is_delay ? "MS" : "ERRNO");
        return;
    }
    struct sim_node *node = sim_control_node(host, path);
    if (node == NULL || node->kind != SIM_NODE_ATTR) {
        snprintf(reply, replylen, "err %s is not an attribute", path);
        return;
    }
    struct sim_fault *fault;
    if (strcmp(dir, "read") == 0) {
        fault = &node->read_fault;
    } else if (strcmp(dir, "write") == 0) {
        fault = &node->write_fault;
    } else {
        snprintf(reply, replylen, "err direction must be read or write, not \"%s\"", dir);
        return;
    }
    long count;
    if (!sim_parse_count(count_word, &count)) {
        snprintf(reply, replylen, "err COUNT must be a positive number");
        return;
    }
    if (is_delay) {
        char *end;
        long ms = strtol(value, &end, 10);
        if (*end != '\0' || ms <= 0 || ms > 600000) {
            snprintf(reply, replylen, "err MS must be 1 to 600000");
            return;
        }
        fault->delay_ms = (int)ms;
        fault->delay_remaining = count;
    } else {
        int e = errname_parse(value);
        if (e == 0) {
            snprintf(reply, replylen, "err unknown errno \"%s\"", value);
            return;
        }
        fault->err = e;
        fault->err_remaining = count;
    }
    snprintf(reply, replylen, "ok");
}

static void sim_clear_faults(struct sim_node *node, bool counters)
{
    if (node->kind == SIM_NODE_ATTR) {
        if (counters) {
            node->reads = node->writes = 0;
        } else {
            memset(&node->read_fault, 0, sizeof node->read_fault);
            memset(&node->write_fault, 0, sizeof node->write_fault);
        }
    }
    for (struct sim_node *c = node->first_child; c != NULL; c = c->next_sibling)
        sim_clear_faults(c, counters);
}

/* clear PATH|all and reset-counts [PATH]. */
static void sim_control_clear(struct sim_host *host, char *rest, bool counters, char *reply,
                              size_t replylen)
{
    char *path = sim_next_word(&rest);
    if ((path == NULL && !counters) || sim_next_word(&rest) != NULL) {
        snprintf(reply, replylen,
                 counters ? "err usage: reset-counts [PATH]" : "err usage: clear PATH|all");
        return;
    }
    struct sim_node *node = host->root;
    if (path != NULL && strcmp(path, "all") != 0) {
        node = sim_control_node(host, path);
        if (node == NULL || node->kind != SIM_NODE_ATTR) {
            snprintf(reply, replylen, "err %s is not an attribute", path);
            return;
        }
    }
    sim_clear_faults(node, counters);
    snprintf(reply, replylen, "ok");
}

static void sim_control_counts(struct sim_host *host, char *rest, char *reply, size_t replylen)
{
    char *path = sim_next_word(&rest);
    if (path == NULL || sim_next_word(&rest) != NULL) {
        snprintf(reply, replylen, "err usage: counts PATH");
        return;
    }
    struct sim_node *node = sim_control_node(host, path);
    if (node == NULL || node->kind != SIM_NODE_ATTR) {
        snprintf(reply, replylen, "err %s is not an attribute", path);
        return;
    }
    snprintf(reply, replylen, "ok reads=%lu writes=%lu", node->reads, node->writes);
}

void sim_control_execute(struct sim_host *host, const char *line, char *reply, size_t replylen)
{
    char *copy = strdup(line);
    if (copy == NULL) {
        snprintf(reply, replylen, "err out of memory");
        return;
    }
    char *rest = copy;
    char *cmd = sim_next_word(&rest);
    pthread_mutex_lock(&host->lock);
    if (cmd == NULL)
        snprintf(reply, replylen, "err empty command");
    else if (strcmp(cmd, "ping") == 0)
        snprintf(reply, replylen, "ok");
    else if (strcmp(cmd, "version") == 0)
        sim_control_set_migration(host, rest, true, reply, replylen);
    else if (strcmp(cmd, "migration") == 0)
        sim_control_set_migration(host, rest, false, reply, replylen);
    else if (strcmp(cmd, "fault") == 0)
        sim_control_fault(host, rest, false, reply, replylen);
    else if (strcmp(cmd, "delay") == 0)
        sim_control_fault(host, rest, true, reply, replylen);
    else if (strcmp(cmd, "clear") == 0)
        sim_control_clear(host, rest, false, reply, replylen);
    else if (strcmp(cmd, "reset-counts") == 0)
        sim_control_clear(host, rest, true, reply, replylen);
    else if (strcmp(cmd, "counts") == 0)
        sim_control_counts(host, rest, reply, replylen);
    else
        snprintf(reply, replylen, "err unknown command \"%s\" (see mdevsim --help)", cmd);
    pthread_mutex_unlock(&host->lock);
    free(copy);
}

static bool sim_send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Serve one client until it hangs up or the server stops. */
static void sim_control_serve(struct sim_control *control, int fd)
{
    char buf[SIM_CONTROL_LINE_MAX];
    size_t used = 0;
    while (!atomic_load(&control->stop)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, 200);
        if (ready < 0 && errno != EINTR)
            return;
        if (ready <= 0)
            continue;
        ssize_t n = recv(fd, buf + used, sizeof buf - used - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        used += (size_t)n;
        char *newline;
        while ((newline = memchr(buf, '\n', used)) != NULL) {
            *newline = '\0';
            if (newline > buf && newline[-1] == '\r')
                newline[-1] = '\0';
            char reply[SIM_CONTROL_LINE_MAX];
            sim_control_execute(control->host, buf, reply, sizeof reply - 1);
            strcat(reply, "\n");
            if (!sim_send_all(fd, reply, strlen(reply)))
                return;
            size_t consumed = (size_t)(newline - buf) + 1;
            memmove(buf, newline + 1, used - consumed);
            used -= consumed;
        }
        if (used == sizeof buf - 1) {
            sim_send_all(fd, "err line too long\n", 18);
            return;
        }
    }
}

static void *sim_control_thread(void *arg)
{
    struct sim_control *control = arg;
    while (!atomic_load(&control->stop)) {
        struct pollfd pfd = {.fd = control->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        int fd = accept(control->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        sim_control_serve(control, fd);
        close(fd);
    }
    return NULL;
}

struct sim_control *sim_control_start(struct sim_host *host, const char *socket_path, char *err,
                                      size_t errlen)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof addr.sun_path) {
        snprintf(err, errlen, "control socket path is longer than %zu bytes: %s",
                 sizeof addr.sun_path - 1, socket_path);
        return NULL;
    }
    strcpy(addr.sun_path, socket_path);
    struct sim_control *control = calloc(1, sizeof *control);
    if (control == NULL || (control->path = strdup(socket_path)) == NULL) {
        free(control);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    control->host = host;
    control->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (control->listen_fd < 0) {
        snprintf(err, errlen, "control socket: %s", strerror(errno));
        goto fail;
    }
    unlink(socket_path); /* a stale socket left by a killed mdevsim */
    if (bind(control->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(control->listen_fd, 8) < 0) {
        snprintf(err, errlen, "control socket %s: %s", socket_path, strerror(errno));
        goto fail;
    }
    int rc = pthread_create(&control->thread, NULL, sim_control_thread, control);
    if (rc != 0) {
        snprintf(err, errlen, "control thread: %s", strerror(rc));
        unlink(socket_path);
        goto fail;
    }
    return control;
fail:
    if (control->listen_fd >= 0)
        close(control->listen_fd);
    free(control->path);
    free(control);
    return NULL;
}

void sim_control_stop(struct sim_control *control)
{
    if (control == NULL)
        return;
    atomic_store(&control->stop, true);
    pthread_join(control->thread, NULL);
    close(control->listen_fd);
    unlink(control->path);
    free(control->path);
    free(control);
}
