"""Batched source reads (issue 15): POST /v1/devices/migration_versions on
a collector, and the evacuation planner reading a whole source host in
one such request instead of one GET per device.

Cluster (mdevsim + collector each, publishing into the sched's ingest), the
hosts of test_evacuate.py:
  evac-src   fixtures/evac-src.json with libvirt's evac-src-libvirt.xml: 30
             VMs over 32 mdevs on three parents (nvidia-222 and nvidia-223
             at 535.104); d...28's attribute fails with ENODEV. Its
             collector rescans only when asked (--scan-interval 3600), so
             mdevsim's read counters count the reads a request made and
             nothing else, and it advertises a pass-through proxy that
             counts the sched's requests to it and can play an older
             collector (404 to the batch endpoint) or one that hangs up.
  dst-*      the four destinations of test_evacuate.py.

What must hold:
  - an evacuation of evac-src makes ONE batch request to its collector and
    no GET (proxy counts; /metrics: one batch answered, 32 devices), reads
    each device attribute and each type node once (mdevsim counters), and
    gives the plans of expected/evacuate/{spread,pack}.json, live;
  - from an "older collector" (404 to the batch) the same plan through one
    GET per device; from one that predates the compact reply (400 to
    "type_table") the same plan through a second batch in the full form; from one that hangs up, the same plan from the
    registry, marked stale;
  - on the collector, with attributes removed at run time, a read failing
    with an injected EIO, a type node failing with EBUSY and an unknown
    UUID: the batch answers every device, in order, field by field what
    the single-device GETs answer (and what the fixture and the faults
    say), the unknown one as "not found"; one live read per attribute per
    batch, no write; repeated, malformed, too many UUIDs, an empty list,
    unknown fields, bad JSON refused with 400 naming what is wrong, GET
    405, no token 401; /metrics counts answered and refused batches;
  - an evacuation with those attributes removed still places their VMs by
    the type node read live in the batch (not stale), and the VM whose
    read fails is not migratable, with EIO, and never falls back;
  - between batches the collector keeps each attribute it read open and
    reads it again at offset 0 (attrread.h): after a batch it holds one fd
    per readable device attribute and none for one that is missing or
    whose read fails with ENODEV; a version changed (mdevsimctl) between
    two batches is read live through the same fd, one read reaching
    mdevsim, as the device's GET reads it; a device removed between two
    batches (its remove attribute) is answered as its GET answers it (no
    attribute) and its fd is let go; a rescan that sees the removal lets
    go of every kept fd and the device is then "not found";
  - a dead sysfs mount (mdevsim killed): the batch, like a device's GET,
    answers 503 and says why, no version, and the collector lets go of
    every fd it kept in the mount.
At the end no daemon leaves an ASan/UBSan/LSan report.

usage: test_source_batch.py BUILD_DIR SOURCE_DIR
"""

import hashlib
import http.client
import http.server
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, free_port  # noqa: E402
from test_metrics import Exposition  # noqa: E402

FIXTURES = "tests/integration/fixtures"
EXPECTED = "tests/integration/expected/evacuate"
SOURCE = "evac-src"
DESTS = ["dst-exact", "dst-list", "dst-new", "dst-old"]
BATCH = "/v1/devices/migration_versions"
MAX_DEVICES = 1024  # VERSIONS_WIRE_MAX_DEVICES, schema/versions_wire.h
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error")
ERRNO = {"EIO": 5, "ENODEV": 19, "EBUSY": 16}

# Run-time changes to evac-src for the collector checks (mdevsimctl).
NO_ATTR = ["d0000000-0000-4000-8000-000000000003", "d0000000-0000-4000-8000-000000000020"]
EIO_DEVICE = "d0000000-0000-4000-8000-000000000007"
ENODEV_DEVICE = "d0000000-0000-4000-8000-000000000028"
UNKNOWN = "d0000000-0000-4000-8000-0000000000ff"
BUSY_TYPE = ("0000:af:00.0", "nvidia-223")


def dev_attr(uuid):
    return "sys/bus/mdev/devices/%s/migration_version" % uuid


def type_attr(parent, type_id):
    return "sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version" % (parent, type_id)


def digest(type_id, version):
    return hashlib.sha256((type_id + "\n" + version).encode()).hexdigest()


def sanitizer_report(path):
    with open(path, errors="replace") as f:
        log = f.read()
    return [m for m in SANITIZER_MARKS if m in log]


class Proxy(http.server.ThreadingHTTPServer):
    """What the sched reaches as evac-src's collector: every request passed
    to the real one and counted by (method, path); mode "old" answers the
    batch endpoint 404 as a collector that predates it does, "pre-table"
    refuses a batch that asks for the compact reply ("type_table") with the
    400 a collector older than that form gives, "hangup" closes the
    connection on every request without an answer. tables counts the
    batches that asked for the compact reply."""

    daemon_threads = True

    def __init__(self):
        self.port = free_port("127.0.0.1")
        super().__init__(("127.0.0.1", self.port), ProxyHandler)
        self.target = None
        self.mode = "pass"
        self.counts = {}
        self.tables = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def take_counts(self):
        with self.lock:
            counts, self.counts = self.counts, {}
        return counts

    def take_tables(self):
        with self.lock:
            tables, self.tables = self.tables, 0
        return tables

    def close(self):
        self.shutdown()
        self.server_close()


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the sched's client keeps connections alive

    def log_message(self, *args):
        pass

    def relay(self):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        kind = ("batch" if self.path == BATCH else
                "device" if self.path.startswith("/v1/devices/") else self.path)
        table = kind == "batch" and b'"type_table"' in (body or b"")
        with server.lock:
            key = (self.command, kind)
            server.counts[key] = server.counts.get(key, 0) + 1
            server.tables += 1 if table else 0
        if server.mode == "hangup":
            self.close_connection = True
            return
        if server.mode == "old" and kind == "batch":
            status, ctype, data = 404, "application/json", json.dumps(
                {"error": "no such endpoint: %s" % self.path}).encode()
        elif server.mode == "pre-table" and table:
            status, ctype, data = 400, "application/json", json.dumps(
                {"error": 'unknown field "type_table" (expected devices)'}).encode()
        else:
            conn = http.client.HTTPConnection(*server.target, timeout=10)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() in ("authorization", "content-type")}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            status, ctype, data = resp.status, resp.getheader("Content-Type"), resp.read()
            conn.close()
        self.send_response(status)
        self.send_header("Content-Type", ctype or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = relay


def wait_ready(sched, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if set(DESTS + [SOURCE]) <= set(invs) and len(invs[SOURCE]["instances"]) == 30:
                return True
        time.sleep(0.1)
    return False


def placement(plan):
    return [(v["instance"], v["verdict"], v["destination"], [m["parent"] for m in v["mdevs"]])
            for v in plan["vms"]]


class Bench:
    def __init__(self, checks, cluster, sched, proxy, source):
        self.checks, self.cluster, self.sched, self.proxy = checks, cluster, sched, proxy
        self.collector = cluster.collectors[SOURCE]
        self.sim = cluster.sims[SOURCE]
        with open(os.path.join(source, FIXTURES, SOURCE + ".json")) as f:
            fx = json.load(f)
        self.devices = {d["uuid"]: d for d in fx["devices"]}
        self.types = {(p["name"], t["id"]): t["migration"]["version"]
                      for p in fx["parents"] for t in p["types"]}
        self.expected = {}
        for policy in ("spread", "pack"):
            with open(os.path.join(source, EXPECTED, policy + ".json")) as f:
                self.expected[policy] = json.load(f)

    def metrics(self):
        status, text = self.collector.request("GET", "/metrics")
        return Exposition(text if status == 200 else "")

    def batches(self):
        exp = self.metrics()
        return (exp.value("mdevmig_collector_version_batches_total", result="answered"),
                exp.value("mdevmig_collector_version_batches_total", result="refused"),
                exp.value("mdevmig_collector_version_batch_devices_total"))

    def reads(self, paths):
        return {p: self.sim.counts(p) for p in paths}

    def source_attrs(self):
        """Every attribute evac-src has now: device nodes and type nodes."""
        paths = [dev_attr(u) for u in self.devices if u not in NO_ATTR or not self.changed]
        paths += [type_attr(p, t) for p, t in self.types]
        return paths

    changed = False

    def evacuate(self, name, policy="spread"):
        self.sim.ctl("reset-counts")
        self.proxy.take_counts()
        status, plan = self.sched.request("POST", "/v1/evacuate", {"host": SOURCE,
                                                                  "policy": policy})
        self.checks.eq(name + ": HTTP 200", 200, status)
        if status != 200:
            print("    reply: %r" % (plan,))
            return None, self.proxy.take_counts()
        return plan, self.proxy.take_counts()

    def same_as_expected(self, name, plan, policy):
        want, c = self.expected[policy], self.checks
        c.eq(name + ": the planning order of expected/%s.json" % policy, want["order"],
             [v["instance"] for v in plan["vms"]])
        c.eq(name + ": placed as expected/%s.json" % policy, want["placed"],
             {v["instance"]: v["destination"] for v in plan["vms"] if v["destination"]})
        c.eq(name + ": unplaced as expected/%s.json" % policy, want["unplaced"],
             {v["instance"]: v["verdict"] for v in plan["vms"] if not v["destination"]})

    # -- the model of what a live read gives -------------------------------
    def want_type(self, parent, type_id):
        if (parent, type_id) == BUSY_TYPE and self.changed:
            return {"supported": True, "errno": ERRNO["EBUSY"], "error": "EBUSY"}
        v = self.types[(parent, type_id)]
        return {"supported": True, "version": v, "digest": digest(type_id, v)}

    def want_device(self, uuid):
        d = self.devices[uuid]
        if self.changed and uuid in NO_ATTR:
            return {"supported": False}
        if self.changed and uuid == EIO_DEVICE:
            return {"supported": True, "errno": ERRNO["EIO"], "error": "EIO"}
        if uuid == ENODEV_DEVICE:
            return {"supported": True, "errno": ERRNO["ENODEV"], "error": "ENODEV"}
        v = self.types[(d["parent"], d["type"])]
        return {"supported": True, "version": v, "digest": digest(d["type"], v)}


def check_evacuations(b):
    """The pristine host: one batch, the expected plans, live."""
    c = b.checks
    for policy in ("spread", "pack"):
        name = "evacuate %s" % policy
        before = b.batches()
        plan, counts = b.evacuate(name, policy)
        after = b.batches()
        if plan is None:
            continue
        c.eq(name + ": the source read live", False, plan["source_stale"])
        b.same_as_expected(name, plan, policy)
        c.eq(name + ": ONE batch request to the source collector, no GET",
             {("POST", "batch"): 1}, counts)
        c.eq(name + ": it asked for the compact reply", 1, b.proxy.take_tables())
        c.eq(name + ": its /metrics: one batch answered, none refused, 32 devices read",
             (1, 0, 32), tuple(a - x for a, x in zip(after, before)))
        reads = b.reads(b.source_attrs())
        c.eq(name + ": each device attribute and type node read once, none written",
             {p: (1, 0) for p in reads}, reads)


def check_fallbacks(b):
    c = b.checks
    b.proxy.mode = "old"
    plan, counts = b.evacuate("older collector")
    if plan is not None:
        c.eq("older collector: the source read live", False, plan["source_stale"])
        b.same_as_expected("older collector", plan, "spread")
        c.eq("older collector: the batch answered 404, then one GET per device",
             {("POST", "batch"): 1, ("GET", "device"): 32}, counts)
    b.proxy.mode = "pre-table"
    b.proxy.take_tables()
    plan, counts = b.evacuate("collector before the compact reply")
    if plan is not None:
        c.eq("collector before the compact reply: the source read live", False,
             plan["source_stale"])
        b.same_as_expected("collector before the compact reply", plan, "spread")
        c.eq("collector before the compact reply: refused (400), asked again in full, no GET",
             ({("POST", "batch"): 2}, 1), (counts, b.proxy.take_tables()))
    b.proxy.mode = "hangup"
    plan, counts = b.evacuate("collector hangs up")
    if plan is not None:
        c.eq("collector hangs up: the registry's versions, stale", True, plan["source_stale"])
        b.same_as_expected("collector hangs up", plan, "spread")
        c.eq("collector hangs up: no GET after the batch failed", [],
             [k for k in counts if k[1] != "batch"])
    b.proxy.mode = "pass"


def check_batch_reads(b):
    """The endpoint itself, on a host changed at run time."""
    c, col, sim = b.checks, b.collector, b.sim
    for uuid in NO_ATTR:
        c.eq("mdevsimctl: %s loses its attribute" % uuid, "ok",
             sim.ctl("migration", "sys/bus/mdev/devices/" + uuid, "null"))
    c.eq("mdevsimctl: %s's read fails with EIO" % EIO_DEVICE, "ok",
         sim.ctl("fault", dev_attr(EIO_DEVICE), "read", "EIO"))
    c.eq("mdevsimctl: %s/%s's type node read fails with EBUSY" % BUSY_TYPE, "ok",
         sim.ctl("fault", type_attr(*BUSY_TYPE), "read", "EBUSY"))
    b.changed = True

    asked = sorted(b.devices)
    asked.insert(5, UNKNOWN)
    asked[0] = asked[0].upper()  # any case names the same device
    sim.ctl("reset-counts")
    before = b.batches()
    status, reply = col.request("POST", BATCH, {"devices": asked})
    c.eq("batch: HTTP 200", 200, status)
    if status != 200:
        print("    reply: %r" % (reply,))
        return
    reads = b.reads(b.source_attrs())
    c.eq("batch: one live read per attribute, no write", {p: (1, 0) for p in reads}, reads)
    c.eq("batch: host, an entry per UUID asked, elapsed_us",
         (SOURCE, [u.lower() for u in asked], True),
         (reply["host"], [e["uuid"] for e in reply["devices"]],
          isinstance(reply["elapsed_us"], int) and reply["elapsed_us"] >= 0))
    c.eq("batch: every field named", [], [e for e in reply["devices"] if set(e) not in (
        {"uuid", "parent", "type", "migration", "type_migration"}, {"uuid", "error"})])
    entries = {e["uuid"]: e for e in reply["devices"]}
    c.eq("batch: the unknown UUID is not found, not a failed request",
         {"uuid": UNKNOWN, "error": "not found"}, entries.get(UNKNOWN))
    status, single = col.request("GET", "/v1/devices/%s/migration_version" % UNKNOWN)
    c.eq("GET of the unknown UUID: 404", 404, status)

    model, singles = {}, {}
    for uuid in sorted(b.devices):
        d = b.devices[uuid]
        model[uuid] = {"uuid": uuid, "parent": d["parent"], "type": d["type"],
                       "migration": b.want_device(uuid),
                       "type_migration": b.want_type(d["parent"], d["type"])}
        status, single = col.request("GET", "/v1/devices/%s/migration_version" % uuid)
        singles[uuid] = (status, single.get("parent"), single.get("type"),
                         single.get("migration"))
    c.eq("batch: each entry what the fixture and the faults say", model,
         {u: entries.get(u) for u in model})
    c.eq("batch: field by field what each device's GET answers", singles,
         {u: (200, entries[u]["parent"], entries[u]["type"], entries[u]["migration"])
          for u in model if u in entries})
    after = b.batches()
    c.eq("batch /metrics: one answered, 32 devices read", (1, 0, 32),
         tuple(a - x for a, x in zip(after, before)))

    # The compact form of the same request: each type node's migration
    # once, in "types"; expanded, entry for entry the full form.
    status, compact = col.request("POST", BATCH, {"devices": asked, "type_table": True})
    c.eq("compact batch: HTTP 200", 200, status)
    if status == 200:
        table = {(t["parent"], t["type"]): t["migration"] for t in compact.get("types", [])}
        c.eq("compact batch: one \"types\" entry per (parent, type) of the devices found",
             sorted({(e["parent"], e["type"]) for e in entries.values() if "parent" in e}),
             sorted(table))
        expanded = [dict(e, type_migration=table.get((e["parent"], e["type"])))
                    if "parent" in e else e for e in compact["devices"]]
        c.eq("compact batch: no entry carries type_migration", [],
             [e["uuid"] for e in compact["devices"] if "type_migration" in e])
        c.eq("compact batch: expanded, what the full form answered", reply["devices"], expanded)

    # A second batch reads again: nothing is cached between requests.
    sim.ctl("version", dev_attr(asked[1]), "10de:1eb8:nvidia-222-535.105")
    status, again = col.request("POST", BATCH, {"devices": [asked[1], asked[2]]})
    c.eq("batch again: the version changed since is read live",
         (200, "10de:1eb8:nvidia-222-535.105"),
         (status, again["devices"][0]["migration"].get("version") if status == 200 else again))
    sim.ctl("version", dev_attr(asked[1]), b.types[(b.devices[asked[1]]["parent"],
                                                     b.devices[asked[1]]["type"])])


def check_refusals(b):
    c, col = b.checks, b.collector
    u = sorted(b.devices)
    many = ["00000000-0000-4000-8000-%012x" % i for i in range(MAX_DEVICES + 1)]
    cases = [
        ("repeated", {"devices": [u[0], u[1], u[2], u[1]]},
         "devices[3] repeats devices[1] (%s)" % u[1]),
        ("repeated in another case", {"devices": [u[0], u[0].upper()]},
         "devices[1] repeats devices[0]"),
        ("bad UUID", {"devices": [u[0], "gpu0"]}, "devices[1] is not an mdev UUID"),
        ("a path for a UUID", {"devices": [u[0], "../../../etc/passwd"]},
         "devices[1] is not an mdev UUID"),
        ("too many", {"devices": many},
         "\"devices\" lists %d UUIDs: at most %d per request" % (MAX_DEVICES + 1, MAX_DEVICES)),
        ("empty", {"devices": []}, "\"devices\" is empty"),
        ("no devices", {"uuids": [u[0]]}, "unknown field \"uuids\""),
        ("not a list", {"devices": u[0]}, "\"devices\" must be a list"),
    ]
    before = b.batches()
    for name, body, error in cases:
        status, reply = col.request("POST", BATCH, body)
        c.eq("refused, %s: 400 saying %r" % (name, error), (400, True),
             (status, isinstance(reply, dict) and error in reply.get("error", "")))
    status, reply = col.request("POST", BATCH, raw="{\"devices\": [")
    c.eq("refused, bad JSON: 400", (400, True),
         (status, "invalid JSON" in (reply.get("error", "") if isinstance(reply, dict) else "")))
    after = b.batches()
    c.eq("refusals counted in /metrics (refused), no device read",
         (0, len(cases) + 1, 0), tuple(a - x for a, x in zip(after, before)))
    status, _ = col.request("GET", BATCH)
    c.eq("GET on the batch endpoint: 405", 405, status)
    status, _ = col.request("POST", BATCH, {"devices": [u[0]]}, auth=False)
    c.eq("no token: 401", 401, status)
    status, reply = col.request("POST", BATCH, {"devices": many[:MAX_DEVICES]})
    c.eq("the maximum is taken: %d entries, all not found" % MAX_DEVICES, (200, MAX_DEVICES),
         (status, sum(1 for e in reply["devices"] if e.get("error") == "not found")
          if status == 200 else reply))


def check_changed_evacuation(b):
    """Attributes removed (their type node read live stands in), one read
    failing with EIO (not migratable, no fallback)."""
    c = b.checks
    b.sim.ctl("clear", type_attr(*BUSY_TYPE))
    plan, counts = b.evacuate("changed host")
    if plan is None:
        return
    c.eq("changed host: one batch, no GET", {("POST", "batch"): 1}, counts)
    c.eq("changed host: still live: the type nodes came in the batch", False,
         plan["source_stale"])
    vms = {m["uuid"]: v for v in plan["vms"] for m in v["mdevs"]}
    broken = vms.get(EIO_DEVICE)
    c.true("changed host: the VM whose read fails with EIO is not migratable (%r)"
           % (broken and broken["reason"]),
           broken is not None and broken["verdict"] == "not-migratable"
           and "EIO" in (broken["reason"] or ""))
    for uuid in NO_ATTR:
        vm = vms.get(uuid)
        d = b.devices[uuid]
        mdev = [m for m in vm["mdevs"] if m["uuid"] == uuid][0] if vm else None
        want = digest(d["type"], b.types[(d["parent"], d["type"])])
        c.eq("changed host: %s (no attribute) carries its type node's version" % uuid,
             want, mdev and mdev["digest"])
    want = {u: d for u, d in b.expected["spread"]["placed"].items()
            if u != vms[EIO_DEVICE]["instance"]}
    got = {v["instance"]: v["destination"] for v in plan["vms"] if v["destination"]}
    c.eq("changed host: the VMs placed before are placed alike, but the broken one's",
         sorted(want), sorted(u for u in got if u in want))


def mount_fds(b):
    """The collector's open fds into evac-src's mount: {fd: the path it names}."""
    pid = b.collector.proc.pid
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue  # closed meanwhile
        if target.startswith(b.sim.mount + "/"):
            out[int(fd)] = target
    return out


def kept_fd(fds, uuid):
    """The one fd of uuid's migration_version among fds, or None."""
    hits = [fd for fd, path in fds.items() if path.endswith("/%s/migration_version" % uuid)]
    return hits[0] if len(hits) == 1 else (hits or None)


def check_kept_fds(b):
    """Kept read fds: the descriptor is kept between batches, never what it
    read."""
    c, col, sim = b.checks, b.collector, b.sim
    plain = [u for u in sorted(b.devices)
             if u not in NO_ATTR and u not in (EIO_DEVICE, ENODEV_DEVICE)]
    status, _ = col.request("POST", BATCH, {"devices": sorted(b.devices)})
    c.eq("kept fds: a batch of every device: HTTP 200", 200, status)
    fds = mount_fds(b)
    c.eq("kept fds: one per readable device attribute",
         {u: True for u in plain}, {u: isinstance(kept_fd(fds, u), int) for u in plain})
    c.eq("kept fds: none for a missing attribute or one that fails with ENODEV",
         {u: None for u in NO_ATTR + [ENODEV_DEVICE]},
         {u: kept_fd(fds, u) for u in NO_ATTR + [ENODEV_DEVICE]})

    # A driver upgrade between two batches: the same fd reads the new string.
    u = plain[-2]
    d = b.devices[u]
    old = b.types[(d["parent"], d["type"])]
    new = old.replace("535.104", "535.106")
    fd_before = kept_fd(fds, u)
    sim.ctl("reset-counts")
    c.eq("mdevsimctl: %s's version changes" % u, "ok", sim.ctl("version", dev_attr(u), new))
    status, reply = col.request("POST", BATCH, {"devices": [u]})
    got = reply["devices"][0]["migration"] if status == 200 else reply
    c.eq("kept fds: the version changed between two batches is read live, on the same fd, "
         "one read reaching mdevsim",
         ({"supported": True, "version": new, "digest": digest(d["type"], new)}, fd_before,
          (1, 0)),
         (got, kept_fd(mount_fds(b), u), sim.counts(dev_attr(u))))
    status, single = col.request("GET", "/v1/devices/%s/migration_version" % u)
    c.eq("kept fds: the device's GET reads the same", (200, got),
         (status, single.get("migration") if status == 200 else single))
    sim.ctl("version", dev_attr(u), old)

    # A device removed between two batches, before any rescan.
    gone, other = plain[-1], plain[-3]
    with open(os.path.join(sim.mount, "sys/bus/mdev/devices/%s/remove" % gone), "w") as f:
        f.write("1")
    status, reply = col.request("POST", BATCH, {"devices": [gone, other]})
    entries = reply["devices"] if status == 200 else []
    status1, single = col.request("GET", "/v1/devices/%s/migration_version" % gone)
    c.eq("removed device: the batch answers as its GET does (no attribute), the other device "
         "its version",
         (200, 200, {"supported": False}, {"supported": False}, b.want_device(other)),
         (status, status1, entries[0]["migration"] if entries else None,
          single.get("migration") if status1 == 200 else single,
          entries[1]["migration"] if entries else None))
    c.eq("removed device: its kept fd is let go, the other's stays",
         (None, True), (kept_fd(mount_fds(b), gone), isinstance(kept_fd(mount_fds(b), other), int)))

    # The rescan that sees the removal drops every kept fd.
    generation = col.inventory()["generation"]
    col.proc.send_signal(signal.SIGHUP)  # reload, then rescan
    col.wait_generation_above(generation)
    deadline = time.time() + 5
    while time.time() < deadline and any(p.endswith("/migration_version")
                                         for p in mount_fds(b).values()):
        time.sleep(0.05)
    c.eq("rescan: a changed inventory lets go of every kept read fd", [],
         [p for p in mount_fds(b).values() if p.endswith("/migration_version")])
    status, reply = col.request("POST", BATCH, {"devices": [gone, other]})
    c.eq("rescan: the removed device is not found, the other read again on a fresh fd",
         (200, {"uuid": gone, "error": "not found"}, b.want_device(other), True),
         (status, reply["devices"][0] if status == 200 else reply,
          reply["devices"][1]["migration"] if status == 200 else None,
          isinstance(kept_fd(mount_fds(b), other), int)))


def check_dead_sysfs(b):
    """A dead FUSE mount (ENOTCONN) reaches no driver: 503, no version."""
    c = b.checks
    b.sim.kill()
    asked = sorted(b.devices)[:3]
    status, reply = b.collector.request("POST", BATCH, {"devices": asked})
    c.eq("sysfs gone: the batch answers 503 and says why", (503, True),
         (status, isinstance(reply, dict) and "not connected" in reply.get("error", "")))
    status, reply = b.collector.request("GET", "/v1/devices/%s/migration_version" % asked[0])
    c.eq("sysfs gone: so does a device's GET", (503, True),
         (status, isinstance(reply, dict) and "not connected" in reply.get("error", "")))
    c.eq("sysfs gone: the collector keeps no fd in the dead mount", {}, mount_fds(b))


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    proxy = Proxy()
    try:
        with Cluster(build, prefix="mdevmig-it") as cluster:
            sched = cluster.add_sched()
            fx = os.path.join(source, FIXTURES)
            col = cluster.add_host(
                SOURCE, os.path.join(fx, SOURCE + ".json"),
                libvirt_uri="test://" + os.path.join(fx, SOURCE + "-libvirt.xml"),
                registry=None, omit=("--scan-interval",),
                extra=["--registry", sched.url, "--scan-interval", "3600",
                       "--advertise-url", proxy.url])
            proxy.target = (col.address, col.port)
            for host in DESTS:
                cluster.add_host(host, os.path.join(fx, host + ".json"), registry=None,
                                 extra=["--registry", sched.url])
            ready = wait_ready(sched)
            checks.true("the sched's registry holds every host and evac-src's 30 VMs", ready)
            if not ready:
                print(open(sched.log).read()[-3000:])
                return checks.finish()
            b = Bench(checks, cluster, sched, proxy, source)
            check_evacuations(b)
            check_fallbacks(b)
            check_batch_reads(b)
            check_refusals(b)
            check_changed_evacuation(b)
            check_kept_fds(b)
            check_dead_sysfs(b)

            sched.stop()
            for c in cluster.collectors.values():
                c.stop()
            for name, log in [("sched", sched.log)] + [
                    (n, c.log) for n, c in cluster.collectors.items()]:
                checks.eq("%s: no sanitizer report" % name, [], sanitizer_report(log))
    finally:
        proxy.close()
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
