/*
 * vmmap — the collector's view of libvirt: which domain holds which mdev.
 *
 * The mdev side of the inventory comes from sysfs; only libvirt knows which
 * VM a device is attached to, and the scheduler needs that to find a VM's
 * source devices. The mapping is read from each domain's XML (the one
 * place libvirt states it), with XPath rather than string matching so
 * formatting and attribute order do not matter.
 *
 * libvirtd restarts under a running collector (package upgrades), so the
 * connection is treated as disposable: a dead one is closed and reopened,
 * with exponential backoff and without ever sleeping in vmmap_collect,
 * which runs on the collector's scan path.
 *
 * Events only make the collector rescan sooner; the scan interval is the
 * safety net. libvirt's event loop is process-wide, so one thread serves
 * every map: started by the first vmmap_new, stopped by the last
 * vmmap_free.
 */
#include "vmmap.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(VIR_UUID_STRING_BUFLEN == INV_UUID_LEN, "a libvirt UUID string fills inv uuid");

/* Only subsystem mdev hostdevs: a PCI or USB hostdev also has
 * <source><address>, but no uuid, and is not ours to report. */
#define VMMAP_MDEV_XPATH                                                                           \
    "/domain/devices/hostdev[@mode='subsystem' and @type='mdev']/source/address/@uuid"

/* libvirt stores every event callback as one generic type and casts it back
 * before calling; going through void (*)(void) tells -Wcast-function-type
 * the cast is meant. */
#define VMMAP_DOMAIN_CB(f)  ((virConnectDomainEventGenericCallback)(void (*)(void))(f))
#define VMMAP_NODEDEV_CB(f) ((virConnectNodeDeviceEventGenericCallback)(void (*)(void))(f))

/* A remote connection (qemu:///system goes through libvirtd) notices a
 * dead daemon only through keepalive: 3 missed pings 5 s apart. */
#define VMMAP_KEEPALIVE_INTERVAL 5
#define VMMAP_KEEPALIVE_COUNT    3

/* What the libvirt callbacks share with their map. It lives apart from
 * struct vmmap and is counted because libvirt may still be dispatching a
 * callback when the map is freed: each registered callback holds a
 * reference that libvirt drops (through its free function) only after its
 * last call. */
struct vmmap_notify {
    pthread_mutex_t lock;
    unsigned refs;                /* the map, plus one per registered event callback */
    void (*on_change)(void *arg); /* NULL once the map is freed */
    void *arg;
    atomic_bool closed; /* libvirt reported the connection closed */
};

enum vmmap_event {
    VMMAP_EV_DOMAIN_LIFECYCLE,
    VMMAP_EV_DOMAIN_ADDED,
    VMMAP_EV_DOMAIN_REMOVED,
    VMMAP_EV_NODEDEV_LIFECYCLE,
    VMMAP_EV_NODEDEV_UPDATE,
    VMMAP_EV_COUNT
};

struct vmmap {
    char *uri;
    struct vmmap_notify *notify;
    bool loop;                     /* holds a reference on the event thread */
    char loop_error[640];          /* why there is none, when !loop */
    virConnectPtr conn;            /* NULL: not connected */
    bool close_cb;                 /* a close callback is registered on conn */
    int event_ids[VMMAP_EV_COUNT]; /* -1: not registered */
    char events_note[1024];        /* which events conn does not deliver, and why */
    int64_t retry_at_ms;           /* monotonic; no connection attempt before */
    int backoff_ms;                /* the wait after the next failed attempt */
    char last_error[512];          /* why the last attempt failed */
};

/* A libvirt error, copied out before the next libvirt call resets it. */
struct vmmap_error {
    int code;
    int domain;
    char message[512];
};

/* ---- process-wide setup and the event thread ---- */

static pthread_once_t vmmap_once = PTHREAD_ONCE_INIT;
static char vmmap_init_error[640]; /* set once; "" when setup worked */

static struct {
    pthread_mutex_t lock;
    unsigned users;
    bool running;
    pthread_t thread;
    uintptr_t generation;  /* of the running thread */
    atomic_uintptr_t stop; /* the generation told to stop */
} vmmap_loop = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* libvirt prints every error on stderr unless a handler takes it; the
 * message still reaches us through virGetLastError, which is where err
 * gets it from. */
static void vmmap_error_quiet(void *data, virErrorPtr error)
{
    (void)data;
    (void)error;
}

static void vmmap_error_take(struct vmmap_error *e)
{
    const virError *v = virGetLastError();
    e->code = v != NULL ? v->code : VIR_ERR_OK;
    e->domain = v != NULL ? v->domain : VIR_FROM_NONE;
    snprintf(e->message, sizeof e->message, "%s",
             v != NULL && v->message != NULL ? v->message : "unknown libvirt error");
    virResetLastError();
}

static void vmmap_init_once(void)
{
    /* libxml2 wants its global setup done once before threads parse. */
    xmlInitParser();
    virSetErrorFunc(NULL, vmmap_error_quiet);
    struct vmmap_error e;
    if (virInitialize() < 0) {
        vmmap_error_take(&e);
        snprintf(vmmap_init_error, sizeof vmmap_init_error, "libvirt did not initialise: %s",
                 e.message);
        return;
    }
    /* Must precede the first connection: a remote connection binds to the
     * event implementation present when it opens. */
    if (virEventRegisterDefaultImpl() < 0) {
        vmmap_error_take(&e);
        snprintf(vmmap_init_error, sizeof vmmap_init_error,
                 "cannot set up libvirt's event loop: %s", e.message);
    }
}

static void *vmmap_loop_run(void *arg)
{
    uintptr_t generation = (uintptr_t)arg;
    while (atomic_load(&vmmap_loop.stop) != generation) {
        if (virEventRunDefaultImpl() < 0)
            break;
    }
    return NULL;
}

/* The wake-up that stops the thread: a timer firing at once, so the
 * blocked loop returns. Its generation keeps a late timer from stopping a
 * thread started after the one it was meant for. */
static void vmmap_loop_wake(int timer, void *opaque)
{
    virEventRemoveTimeout(timer);
    atomic_store(&vmmap_loop.stop, (uintptr_t)opaque);
}

static int vmmap_loop_acquire(char *why, size_t whylen)
{
    int rc = 0;
    pthread_mutex_lock(&vmmap_loop.lock);
    if (!vmmap_loop.running) {
        uintptr_t generation = vmmap_loop.generation + 1;
        int e = pthread_create(&vmmap_loop.thread, NULL, vmmap_loop_run, (void *)generation);
        if (e != 0) {
            snprintf(why, whylen, "cannot start the libvirt event thread: %s", strerror(e));
            rc = -1;
        } else {
            vmmap_loop.generation = generation;
            vmmap_loop.running = true;
        }
    }
    if (rc == 0)
        vmmap_loop.users++;
    pthread_mutex_unlock(&vmmap_loop.lock);
    return rc;
}

static void vmmap_loop_release(void)
{
    pthread_mutex_lock(&vmmap_loop.lock);
    if (--vmmap_loop.users == 0 && vmmap_loop.running) {
        int timer = virEventAddTimeout(0, vmmap_loop_wake, (void *)vmmap_loop.generation, NULL);
        if (timer >= 0) {
            pthread_join(vmmap_loop.thread, NULL);
            vmmap_loop.running = false;
        } else {
            /* Without a wake-up a join would hang; the thread stays for the
             * next map instead. */
            virResetLastError();
        }
    }
    pthread_mutex_unlock(&vmmap_loop.lock);
}

/* ---- change notification ---- */

static struct vmmap_notify *vmmap_notify_ref(struct vmmap_notify *n)
{
    pthread_mutex_lock(&n->lock);
    n->refs++;
    pthread_mutex_unlock(&n->lock);
    return n;
}

static void vmmap_notify_unref(void *opaque)
{
    struct vmmap_notify *n = opaque;
    pthread_mutex_lock(&n->lock);
    bool last = --n->refs == 0;
    pthread_mutex_unlock(&n->lock);
    if (last) {
        pthread_mutex_destroy(&n->lock);
        free(n);
    }
}

/* Calls on_change under the lock, so vmmap_free can wait out a call in
 * progress before it returns. */
static void vmmap_notify_fire(struct vmmap_notify *n)
{
    pthread_mutex_lock(&n->lock);
    if (n->on_change != NULL)
        n->on_change(n->arg);
    pthread_mutex_unlock(&n->lock);
}

static void vmmap_on_domain_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                                      void *opaque)
{
    (void)conn;
    (void)dom;
    (void)event;
    (void)detail;
    vmmap_notify_fire(opaque);
}

/* Hot-plugging an mdev into a running VM changes the mapping without any
 * lifecycle event. */
static void vmmap_on_domain_device(virConnectPtr conn, virDomainPtr dom, const char *alias,
                                   void *opaque)
{
    (void)conn;
    (void)dom;
    (void)alias;
    vmmap_notify_fire(opaque);
}

static void vmmap_on_nodedev_lifecycle(virConnectPtr conn, virNodeDevicePtr dev, int event,
                                       int detail, void *opaque)
{
    (void)conn;
    (void)dev;
    (void)event;
    (void)detail;
    vmmap_notify_fire(opaque);
}

static void vmmap_on_nodedev_update(virConnectPtr conn, virNodeDevicePtr dev, void *opaque)
{
    (void)conn;
    (void)dev;
    vmmap_notify_fire(opaque);
}

/* Runs under the connection's own lock: flag it and wake the collector;
 * its next collect reconnects. */
static void vmmap_on_close(virConnectPtr conn, int reason, void *opaque)
{
    struct vmmap_notify *n = opaque;
    (void)conn;
    (void)reason;
    atomic_store(&n->closed, true);
    vmmap_notify_fire(n);
}

static const struct vmmap_event_kind {
    const char *what;
    bool nodedev;
    int id;
    virConnectDomainEventGenericCallback domain_cb;
    virConnectNodeDeviceEventGenericCallback nodedev_cb;
} vmmap_event_kinds[VMMAP_EV_COUNT] = {
    [VMMAP_EV_DOMAIN_LIFECYCLE] = {"domain lifecycle", false, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                   VMMAP_DOMAIN_CB(vmmap_on_domain_lifecycle), NULL},
    [VMMAP_EV_DOMAIN_ADDED] = {"domain device-added", false, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                               VMMAP_DOMAIN_CB(vmmap_on_domain_device), NULL},
    [VMMAP_EV_DOMAIN_REMOVED] = {"domain device-removed", false, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                 VMMAP_DOMAIN_CB(vmmap_on_domain_device), NULL},
    [VMMAP_EV_NODEDEV_LIFECYCLE] = {"node-device lifecycle", true,
                                    VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE, NULL,
                                    VMMAP_NODEDEV_CB(vmmap_on_nodedev_lifecycle)},
    [VMMAP_EV_NODEDEV_UPDATE] = {"node-device update", true, VIR_NODE_DEVICE_EVENT_ID_UPDATE, NULL,
                                 VMMAP_NODEDEV_CB(vmmap_on_nodedev_update)},
};

static void vmmap_append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vmmap_append(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(buf, len);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* Registration failure is not fatal: the scan interval still catches every
 * change, later. events_note says what is missing. */
static void vmmap_events_register(struct vmmap *m)
{
    m->events_note[0] = '\0';
    if (!m->loop) {
        snprintf(m->events_note, sizeof m->events_note, "libvirt %s: no change events: %s", m->uri,
                 m->loop_error);
        return;
    }
    for (int i = 0; i < VMMAP_EV_COUNT; i++) {
        const struct vmmap_event_kind *k = &vmmap_event_kinds[i];
        struct vmmap_notify *n = vmmap_notify_ref(m->notify);
        int id = k->nodedev ? virConnectNodeDeviceEventRegisterAny(
                                  m->conn, NULL, k->id, k->nodedev_cb, n, vmmap_notify_unref)
                            : virConnectDomainEventRegisterAny(m->conn, NULL, k->id, k->domain_cb,
                                                               n, vmmap_notify_unref);
        m->event_ids[i] = id;
        if (id >= 0)
            continue;
        /* libvirt does not call the free function when registration fails. */
        vmmap_notify_unref(n);
        struct vmmap_error e;
        vmmap_error_take(&e);
        if (m->events_note[0] == '\0')
            vmmap_append(m->events_note, sizeof m->events_note, "libvirt %s: no ", m->uri);
        else
            vmmap_append(m->events_note, sizeof m->events_note, "; no ");
        vmmap_append(m->events_note, sizeof m->events_note, "%s events (%s)", k->what, e.message);
    }
}

static void vmmap_events_deregister(struct vmmap *m)
{
    for (int i = 0; i < VMMAP_EV_COUNT; i++) {
        if (m->event_ids[i] < 0)
            continue;
        int rc = vmmap_event_kinds[i].nodedev
                     ? virConnectNodeDeviceEventDeregisterAny(m->conn, m->event_ids[i])
                     : virConnectDomainEventDeregisterAny(m->conn, m->event_ids[i]);
        /* On a dead connection this may fail; the callbacks (and their
         * references) go with the connection when it is closed. */
        if (rc < 0)
            virResetLastError();
        m->event_ids[i] = -1;
    }
}

/* ---- connection ---- */

static int64_t vmmap_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0; /* CLOCK_MONOTONIC is always there; 0 just means "try now" */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "0.5", "1", "29.7": seconds rounded up to a tenth. */
static void vmmap_format_secs(char *buf, size_t len, int64_t ms)
{
    int64_t tenths = ms <= 0 ? 0 : (ms + 99) / 100;
    if (tenths % 10 == 0)
        snprintf(buf, len, "%lld", (long long)(tenths / 10));
    else
        snprintf(buf, len, "%lld.%lld", (long long)(tenths / 10), (long long)(tenths % 10));
}

/* After a failed attempt: no new one for the current delay, which doubles
 * up to the cap. Returns the delay now in force. */
static int64_t vmmap_backoff(struct vmmap *m)
{
    int64_t delay = m->backoff_ms;
    m->retry_at_ms = vmmap_now_ms() + delay;
    m->backoff_ms =
        m->backoff_ms >= VMMAP_BACKOFF_MAX_MS / 2 ? VMMAP_BACKOFF_MAX_MS : m->backoff_ms * 2;
    return delay;
}

static bool vmmap_lost(virConnectPtr conn, const struct vmmap_error *e)
{
    switch (e->code) {
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
        return true;
    case VIR_ERR_INTERNAL_ERROR:
        if (e->domain == VIR_FROM_RPC)
            return true;
        break;
    default:
        break;
    }
    int alive = virConnectIsAlive(conn);
    if (alive < 0)
        virResetLastError();
    return alive == 0;
}

static void vmmap_disconnect(struct vmmap *m)
{
    if (m->conn == NULL)
        return;
    vmmap_events_deregister(m);
    /* Once unregistered the close callback cannot be running: libvirt
     * calls it under the lock unregistering takes. */
    if (m->close_cb && virConnectUnregisterCloseCallback(m->conn, vmmap_on_close) < 0)
        virResetLastError();
    m->close_cb = false;
    if (virConnectClose(m->conn) < 0)
        virResetLastError();
    m->conn = NULL;
    m->events_note[0] = '\0';
}

/* The test driver reads its file with libxml2, which reports a missing
 * file on stderr through its per-thread generic handler before libvirt
 * turns it into an error; libvirt's message says the same, so the handler
 * is muted around the open (this thread only). */
static void vmmap_xml_quiet(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static int vmmap_connect(struct vmmap *m, char *err, size_t errlen)
{
    char secs[32];
    int64_t now = vmmap_now_ms();
    if (now < m->retry_at_ms) {
        vmmap_format_secs(secs, sizeof secs, m->retry_at_ms - now);
        snprintf(err, errlen, "libvirt unreachable at %s, next try in %s s (last error: %s)",
                 m->uri, secs, m->last_error);
        return -1;
    }
    /* Read-only: vmmap never changes anything, and a read-only socket is
     * what an unprivileged collector may open. */
    xmlGenericErrorFunc saved = xmlGenericError;
    void *saved_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(NULL, vmmap_xml_quiet);
    virConnectPtr conn = virConnectOpenReadOnly(m->uri);
    xmlSetGenericErrorFunc(saved_ctx, saved);
    if (conn == NULL) {
        struct vmmap_error e;
        vmmap_error_take(&e);
        snprintf(m->last_error, sizeof m->last_error, "%s", e.message);
        vmmap_format_secs(secs, sizeof secs, vmmap_backoff(m));
        snprintf(err, errlen, "libvirt %s: cannot connect: %s (next try in %s s)", m->uri,
                 e.message, secs);
        return -1;
    }
    virConnSetErrorFunc(conn, NULL, vmmap_error_quiet);
    m->conn = conn;
    m->retry_at_ms = 0;
    m->backoff_ms = VMMAP_BACKOFF_FIRST_MS;
    m->last_error[0] = '\0';
    atomic_store(&m->notify->closed, false);

    /* Keepalive needs the event thread; local drivers (test://) refuse it
     * and need none. */
    if (m->loop &&
        virConnectSetKeepAlive(conn, VMMAP_KEEPALIVE_INTERVAL, VMMAP_KEEPALIVE_COUNT) < 0)
        virResetLastError();
    if (virConnectRegisterCloseCallback(conn, vmmap_on_close, m->notify, NULL) == 0)
        m->close_cb = true;
    else
        virResetLastError();
    vmmap_events_register(m);
    return 0;
}

/* ---- domains ---- */

static const char *vmmap_state_word(int state)
{
    switch (state) {
    case VIR_DOMAIN_NOSTATE:
        return "nostate";
    case VIR_DOMAIN_RUNNING:
        return "running";
    case VIR_DOMAIN_BLOCKED:
        return "blocked";
    case VIR_DOMAIN_PAUSED:
        return "paused";
    case VIR_DOMAIN_SHUTDOWN:
        return "shutdown";
    case VIR_DOMAIN_SHUTOFF:
        return "shutoff";
    case VIR_DOMAIN_CRASHED:
        return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
        return "pmsuspended";
    default:
        return "unknown";
    }
}

static int vmmap_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Copies s into out in lower case when it is an 8-4-4-4-12 UUID: the
 * sysfs scan names devices that way, and the two must compare equal. */
static bool vmmap_uuid_copy(char out[INV_UUID_LEN], const char *s)
{
    if (strlen(s) != INV_UUID_LEN - 1)
        return false;
    for (size_t i = 0; i < INV_UUID_LEN - 1; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !vmmap_hex((unsigned char)s[i]))
            return false;
        out[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
    }
    out[INV_UUID_LEN - 1] = '\0';
    return true;
}

static void vmmap_xml_error(char *why, size_t whylen, const char *what)
{
    const xmlError *e = xmlGetLastError();
    snprintf(why, whylen, "%s: %s", what,
             e != NULL && e->message != NULL ? e->message : "unknown libxml2 error");
    size_t len = strlen(why);
    while (len > 0 && why[len - 1] == '\n')
        why[--len] = '\0';
}

/* The mdev UUIDs of one domain XML, in document order; *out is NULL when
 * there are none. */
static int vmmap_parse_mdevs(const char *xml, char (**out)[INV_UUID_LEN], size_t *count, char *why,
                             size_t whylen)
{
    *out = NULL;
    *count = 0;
    size_t len = strlen(xml);
    if (len > INT_MAX) {
        snprintf(why, whylen, "domain XML of %zu bytes is too large to parse", len);
        return -1;
    }
    xmlResetLastError();
    /* NOERROR/NOWARNING: libxml2 would print on stderr; the message is
     * taken from xmlGetLastError instead. */
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        vmmap_xml_error(why, whylen, "domain XML does not parse");
        return -1;
    }
    int rc = 0;
    char(*list)[INV_UUID_LEN] = NULL;
    size_t n = 0;
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr res =
        ctx != NULL ? xmlXPathEvalExpression(BAD_CAST VMMAP_MDEV_XPATH, ctx) : NULL;
    if (res == NULL) {
        vmmap_xml_error(why, whylen, "cannot search the domain XML for mdev hostdevs");
        rc = -1;
    } else if (res->nodesetval != NULL && res->nodesetval->nodeNr > 0) {
        size_t found = (size_t)res->nodesetval->nodeNr;
        list = calloc(found, sizeof *list);
        if (list == NULL) {
            snprintf(why, whylen, "out of memory for %zu mdev UUIDs", found);
            rc = -1;
        }
        for (size_t i = 0; rc == 0 && i < found; i++) {
            xmlChar *value = xmlNodeGetContent(res->nodesetval->nodeTab[i]);
            if (value == NULL) {
                snprintf(why, whylen, "out of memory reading an mdev hostdev address");
                rc = -1;
            } else if (!vmmap_uuid_copy(list[n], (const char *)value)) {
                snprintf(why, whylen, "mdev hostdev address uuid '%.64s' is not a UUID",
                         (const char *)value);
                rc = -1;
            } else {
                n++;
            }
            xmlFree(value);
        }
    }
    xmlXPathFreeObject(res);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    if (rc < 0) {
        free(list);
        return -1;
    }
    *out = list;
    *count = n;
    return 0;
}

/* A failed per-domain call: a domain undefined since the listing holds no
 * mdev any more and is skipped (0); anything else fails the scan (-1). */
static int vmmap_domain_error(struct vmmap *m, const char *name, const char *doing, bool *lost,
                              char *err, size_t errlen)
{
    struct vmmap_error e;
    vmmap_error_take(&e);
    if (e.code == VIR_ERR_NO_DOMAIN)
        return 0;
    *lost = vmmap_lost(m->conn, &e);
    snprintf(err, errlen, "libvirt %s: cannot %s domain %s: %s", m->uri, doing, name, e.message);
    return -1;
}

/* Fills vm for one domain: 1 when it holds mdevs, 0 when it is left out,
 * -1 on error (vm left empty). */
static int vmmap_domain(struct vmmap *m, virDomainPtr dom, struct inv_instance *vm, bool *lost,
                        char *err, size_t errlen)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *name = virDomainGetName(dom);
    if (name == NULL || virDomainGetUUIDString(dom, uuid) < 0)
        return vmmap_domain_error(m, name != NULL ? name : "(unnamed)", "identify", lost, err,
                                  errlen);
    int state, reason;
    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        return vmmap_domain_error(m, name, "read the state of", lost, err, errlen);
    char *xml = virDomainGetXMLDesc(dom, 0);
    if (xml == NULL)
        return vmmap_domain_error(m, name, "read the XML of", lost, err, errlen);

    char why[256];
    char(*mdevs)[INV_UUID_LEN] = NULL;
    size_t count = 0;
    int rc = vmmap_parse_mdevs(xml, &mdevs, &count, why, sizeof why);
    free(xml);
    if (rc < 0) {
        snprintf(err, errlen, "libvirt %s: domain %s (%s): %s", m->uri, name, uuid, why);
        return -1;
    }
    if (count == 0)
        return 0;
    vm->name = strdup(name);
    vm->state = strdup(vmmap_state_word(state));
    if (vm->name == NULL || vm->state == NULL) {
        free(vm->name);
        free(vm->state);
        free(mdevs);
        memset(vm, 0, sizeof *vm);
        snprintf(err, errlen, "out of memory recording domain %s", name);
        return -1;
    }
    memcpy(vm->uuid, uuid, INV_UUID_LEN);
    vm->mdevs = mdevs;
    vm->mdev_count = count;
    return 1;
}

static int vmmap_instance_cmp(const void *a, const void *b)
{
    return strcmp(((const struct inv_instance *)a)->uuid, ((const struct inv_instance *)b)->uuid);
}

/* One pass over the domains. *lost says the failure was the connection's,
 * so the caller reconnects instead of reporting a broken libvirt. */
static int vmmap_list(struct vmmap *m, struct inv_instance **out, size_t *count, bool *lost,
                      char *err, size_t errlen)
{
    virDomainPtr *doms = NULL;
    /* Flags 0 = active and inactive: a shut-off VM still owns its mdev in
     * its config. (The test driver also rejects the ACTIVE/INACTIVE flags.) */
    int n = virConnectListAllDomains(m->conn, &doms, 0);
    if (n < 0) {
        struct vmmap_error e;
        vmmap_error_take(&e);
        *lost = vmmap_lost(m->conn, &e);
        snprintf(err, errlen, "libvirt %s: cannot list domains: %s", m->uri, e.message);
        return -1;
    }
    struct inv_instance *list = calloc((size_t)n + 1, sizeof *list);
    size_t used = 0;
    int rc = 0;
    if (list == NULL) {
        snprintf(err, errlen, "out of memory listing %d libvirt domains", n);
        rc = -1;
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            int r = vmmap_domain(m, doms[i], &list[used], lost, err, errlen);
            if (r < 0)
                rc = -1;
            else
                used += (size_t)r;
        }
        if (virDomainFree(doms[i]) < 0)
            virResetLastError();
    }
    free(doms);
    if (rc < 0) {
        vmmap_instances_free(list, used);
        return -1;
    }
    if (used == 0) {
        free(list);
        list = NULL;
    } else {
        qsort(list, used, sizeof *list, vmmap_instance_cmp);
    }
    *out = list;
    *count = used;
    return 0;
}

/* ---- public ---- */

struct vmmap *vmmap_new(const char *uri, void (*on_change)(void *arg), void *arg)
{
    if (uri == NULL || pthread_once(&vmmap_once, vmmap_init_once) != 0)
        return NULL;
    struct vmmap *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->uri = strdup(uri);
    m->notify = calloc(1, sizeof *m->notify);
    if (m->uri == NULL || m->notify == NULL || pthread_mutex_init(&m->notify->lock, NULL) != 0) {
        free(m->notify);
        free(m->uri);
        free(m);
        return NULL;
    }
    m->notify->refs = 1;
    m->notify->on_change = on_change;
    m->notify->arg = arg;
    atomic_init(&m->notify->closed, false);
    for (int i = 0; i < VMMAP_EV_COUNT; i++)
        m->event_ids[i] = -1;
    m->backoff_ms = VMMAP_BACKOFF_FIRST_MS;
    if (vmmap_init_error[0] != '\0')
        snprintf(m->loop_error, sizeof m->loop_error, "%s", vmmap_init_error);
    else if (vmmap_loop_acquire(m->loop_error, sizeof m->loop_error) == 0)
        m->loop = true;
    return m;
}

int vmmap_collect(struct vmmap *m, struct inv_instance **out, size_t *count, char *err,
                  size_t errlen)
{
    *out = NULL;
    *count = 0;
    if (m->conn != NULL) {
        int alive = virConnectIsAlive(m->conn);
        if (alive < 0)
            virResetLastError();
        /* libvirtd went away (a restart, most likely): reconnect at once;
         * the backoff starts only if that fails. */
        if (atomic_load(&m->notify->closed) || alive == 0)
            vmmap_disconnect(m);
    }
    for (int attempt = 0;; attempt++) {
        if (m->conn == NULL && vmmap_connect(m, err, errlen) < 0)
            return -1;
        bool lost = false;
        if (vmmap_list(m, out, count, &lost, err, errlen) == 0)
            return 0;
        if (!lost)
            return -1;
        vmmap_disconnect(m);
        if (attempt > 0) {
            /* Lost again right after reconnecting: wait before the next try. */
            char secs[32];
            snprintf(m->last_error, sizeof m->last_error, "%s", err);
            vmmap_format_secs(secs, sizeof secs, vmmap_backoff(m));
            vmmap_append(err, errlen, " (connection lost; next try in %s s)", secs);
            return -1;
        }
    }
}

bool vmmap_events(const struct vmmap *m, char *note, size_t notelen)
{
    if (m->conn == NULL) {
        snprintf(note, notelen, "libvirt %s: not connected", m->uri);
        return false;
    }
    snprintf(note, notelen, "%s", m->events_note);
    return m->events_note[0] == '\0';
}

void vmmap_free(struct vmmap *m)
{
    if (m == NULL)
        return;
    vmmap_disconnect(m);
    /* Taking the lock waits out an on_change in progress; callbacks that
     * libvirt still runs after this find nothing to call. */
    pthread_mutex_lock(&m->notify->lock);
    m->notify->on_change = NULL;
    m->notify->arg = NULL;
    pthread_mutex_unlock(&m->notify->lock);
    vmmap_notify_unref(m->notify);
    if (m->loop)
        vmmap_loop_release();
    free(m->uri);
    free(m);
}

void vmmap_instances_free(struct inv_instance *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        free(list[i].name);
        free(list[i].state);
        free(list[i].mdevs);
    }
    free(list);
}
