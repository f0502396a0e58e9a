"""mdevmig-sched's select and filter on a loopback cluster (issue 4, "Done
when"; DESIGN.md §3): every host returned is one the vendor rules accept,
and mdevsim's write counters prove it was probed in that very call.

Hosts (mdevsim + collector each, publishing into the sched's ingest):
  gpu-a       deploy/cluster/gpu-a.json, libvirt two-vms.xml: the source
              (vm-a on c1a7…8c01 nvidia-222, vm-b on d27e…1f03 nvidia-223),
              T4 535.104, rule newer-minor
  gpu-dual    the same hardware and driver, libvirt two-mdevs.xml: vm-dual
              holds both devices (nvidia-223 and nvidia-222)
  gpu-b       535.54: refuses 535.104 (EINVAL)
  gpu-c       550.54: another major, refuses (EINVAL)
  gpu-new     fixtures/gpu-new.json, 535.129: accepts
  gpu-full    fixtures/gpu-full.json, 535.104 but no nvidia-222 instance left
  gpu-notype  fixtures/gpu-notype.json, 535.104 without nvidia-223
  gpu-noattr  fixtures/gpu-noattr.json, no migration_version attribute
              (and two unused devices with gpu-a's UUIDs: a source that
              cannot migrate)
  gpu-readerr fixtures/gpu-readerr.json, the attribute fails with ENODEV
              (read and write; two unused devices likewise)
  gpu-split   fixtures/gpu-split.json, nvidia-222 at 535.129 (accepts),
              nvidia-223 at 535.54 (refuses)

Covered: select and filter for an instance, for "host"+"devices" and for
"mdevs"; Nova's order kept by filter (the VM's own host reported as
source-host); a new boot passing all without a probe; count N (at most N,
best first); every verdict (compatible, incompatible with errno, no-type,
no-capacity, unsupported, unreachable); a VM with two mdevs of different
types; a source that is not migratable (no attribute, read errno); a
cached verdict that does not survive a driver change on the target
(before and after the collector published it) nor a driver upgrade the
other way; a stopped (SIGSTOP: timeout) and a killed target collector; a
killed source collector (answer from the registry, marked source_stale;
the host reported stale after --stale-after). At the end the sched must
stop cleanly with no ASan/UBSan/LSan report.

usage: test_sched_select.py BUILD_DIR SOURCE_DIR
"""

import os
import signal
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

VMMAP = "tests/unit/data/vmmap"
# name, fixture, libvirt XML (or None)
HOSTS = [
    ("gpu-a", "deploy/cluster/gpu-a.json", "two-vms.xml"),
    ("gpu-dual", "deploy/cluster/gpu-a.json", "two-mdevs.xml"),
    ("gpu-b", "deploy/cluster/gpu-b.json", None),
    ("gpu-c", "deploy/cluster/gpu-c.json", None),
    ("gpu-new", "tests/integration/fixtures/gpu-new.json", None),
    ("gpu-full", "tests/integration/fixtures/gpu-full.json", None),
    ("gpu-notype", "tests/integration/fixtures/gpu-notype.json", None),
    ("gpu-noattr", "tests/integration/fixtures/gpu-noattr.json", None),
    ("gpu-readerr", "tests/integration/fixtures/gpu-readerr.json", None),
    ("gpu-split", "tests/integration/fixtures/gpu-split.json", None),
]
NAMES = [h[0] for h in HOSTS]

VM_A = "5a0f6c2e-1b3d-4e5f-8a9b-0c1d2e3f4a01"
VM_B = "5a0f6c2e-1b3d-4e5f-8a9b-0c1d2e3f4a02"
VM_DUAL = "7b1e9d40-2c3a-4f6b-9e8d-1a2b3c4d5e01"
DEV_222 = "c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c01"
DEV_222_UNUSED = "c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c02"
DEV_223 = "d27e0b44-9f1a-4c3e-8b6d-5a4c3b2a1f03"
V222 = "10de:1eb8:nvidia-222-535.104"
V223 = "10de:1eb8:nvidia-223-535.104"
PARENTS = ("0000:3b:00.0", "0000:d8:00.0")

ENOENT, EINVAL, ENODEV = 2, 22, 19
OK = ("compatible", None)
REFUSED = ("incompatible", EINVAL)

# What the vendor rules (and the registry) say for each source, per host.
# (verdict, errno); hosts not listed must not appear (the source itself).
EXPECT_222 = {  # vm-a: nvidia-222 at 535.104
    "gpu-dual": OK, "gpu-b": REFUSED, "gpu-c": REFUSED, "gpu-new": OK,
    "gpu-full": ("no-capacity", None), "gpu-notype": OK, "gpu-noattr": ("unsupported", None),
    "gpu-readerr": ("incompatible", ENODEV), "gpu-split": OK,
}
EXPECT_223 = {  # vm-b: nvidia-223 at 535.104
    "gpu-dual": OK, "gpu-b": REFUSED, "gpu-c": REFUSED, "gpu-new": OK, "gpu-full": OK,
    "gpu-notype": ("no-type", None), "gpu-noattr": ("unsupported", None),
    "gpu-readerr": ("incompatible", ENODEV), "gpu-split": REFUSED,
}
EXPECT_DUAL = {  # vm-dual (on gpu-dual): nvidia-223 and nvidia-222, both 535.104
    "gpu-a": OK, "gpu-b": REFUSED, "gpu-c": REFUSED, "gpu-new": OK,
    "gpu-full": ("no-capacity", None), "gpu-notype": ("no-type", None),
    "gpu-noattr": ("unsupported", None), "gpu-readerr": ("incompatible", ENODEV),
    "gpu-split": REFUSED,
}


def accepted(expect):
    return sorted(h for h, (verdict, _) in expect.items() if verdict == "compatible")


def type_dir(parent, type_id):
    return "sys/class/mdev_bus/%s/mdev_supported_types/%s" % (parent, type_id)


def type_attr(parent, type_id):
    return type_dir(parent, type_id) + "/migration_version"


def device_attr(device):
    return "sys/bus/mdev/devices/%s/migration_version" % device


def probe_attr(probe):
    """The attribute a probe in a select/filter answer wrote to."""
    if probe["level"] == "device":
        return device_attr(probe["target"])
    parent, type_id = probe["target"].split("/", 1)
    return type_attr(parent, type_id)


def migration_attrs(inv):
    """Every migration_version attribute a collector's inventory lists."""
    paths = [type_attr(p["name"], t["id"]) for p in inv["parents"] for t in p["types"]
             if t["migration"]["supported"]]
    paths += [device_attr(d["uuid"]) for d in inv["devices"] if d["migration"]["supported"]]
    return paths


def sanitizer_report(log_path):
    with open(log_path, errors="replace") as f:
        log = f.read()
    return [mark for mark in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                              "runtime error") if mark in log]


def host_entry(reply, host):
    for h in reply.get("hosts", []):
        if h["host"] == host:
            return h
    return None


class Bench:
    """The cluster, the sched, and counted requests."""

    def __init__(self, checks, cluster, sched, attrs):
        self.checks, self.cluster, self.sched, self.attrs = checks, cluster, sched, attrs

    def writes(self):
        """{(host, attr): writes} for every attribute written since the reset."""
        out = {}
        for host, paths in self.attrs.items():
            sim = self.cluster.sims[host]
            for path in paths:
                w = sim.counts(path)[1]
                if w:
                    out[(host, path)] = w
        return out

    def ask(self, name, path, body, expect_status=200):
        """One select/filter with the counters zeroed first. Returns (reply,
        writes) or (None, None) when the status is not the expected one."""
        for sim in self.cluster.sims.values():
            if sim.proc.poll() is None:
                sim.ctl("reset-counts")
        start = time.time()
        status, reply = self.sched.request("POST", path, body)
        elapsed = time.time() - start
        writes = self.writes()
        self.checks.eq("%s: HTTP %d" % (name, expect_status), expect_status, status)
        if status != expect_status or not isinstance(reply, dict):
            print("    reply: %r" % (reply,))
            return None, None
        reply["_wall_s"] = elapsed
        return reply, writes

    def select(self, name, body):
        return self.ask(name, "/v1/select", body)

    def filter(self, name, body):
        return self.ask(name, "/v1/filter", body)

    # -- checks on an answer ---------------------------------------------
    def verdicts(self, name, reply, expect, absent=()):
        for host, (verdict, err) in sorted(expect.items()):
            h = host_entry(reply, host)
            got = (h["verdict"], h["errno"]) if h else None
            if got and verdict == "unsupported" and got[1] == ENOENT:
                # Nothing to write to: the collector passes on open(2)'s
                # ENOENT, which is the truth too.
                got = (got[0], None)
            self.checks.eq("%s: %s is %s%s" % (name, host, verdict, " (errno %d)" % err if err else ""),
                           (verdict, err), got)
            if h is None:
                continue
            if err and verdict != "unsupported":
                self.checks.true("%s: %s errno_name/error name the errno (%r)" % (name, host, h["error"]),
                                 h["errno_name"] and (h["error"] or "").startswith(h["errno_name"]))
            elif verdict in ("no-type", "no-capacity", "unsupported", "unreachable", "source-host"):
                self.checks.true("%s: %s says why (%r)" % (name, host, h["error"]), h["error"])
        for host in absent:
            self.checks.eq("%s: %s not among the hosts" % (name, host), None, host_entry(reply, host))

    def proven(self, name, reply, writes):
        """Every destination is compatible in every probe, each probe wrote
        its attribute in this call; and nothing else was written than what
        the answer says was probed."""
        for dest in reply["destinations"]:
            h = host_entry(reply, dest)
            self.checks.true("%s: destination %s is listed compatible" % (name, dest),
                             h is not None and h["verdict"] == "compatible")
            if h is None:
                continue
            self.checks.true("%s: %s has a compatible probe for each mdev" % (name, dest),
                             {p["mdev"] for p in h["probes"] if p["verdict"] == "compatible"} ==
                             set(range(len(reply["mdevs"]))))
            targets = [probe_attr(p) for p in h["probes"]]
            for attr in sorted(set(targets)):
                self.checks.eq("%s: %s %s written in this call, once per probe" % (name, dest, attr),
                               targets.count(attr), writes.get((dest, attr), 0))
        wanted = {}
        for h in reply["hosts"]:
            for p in h["probes"]:
                if p["verdict"] in ("compatible", "incompatible"):
                    key = (h["host"], probe_attr(p))
                    wanted[key] = wanted.get(key, 0) + 1
        self.checks.eq("%s: writes are exactly the probes answered" % name, wanted, writes)

    def ranked(self, name, reply):
        """Confirmed hosts come first, best first: same version, then a
        cached compatible verdict, then most free instances, then name."""
        hosts = reply["hosts"]
        ok = [h for h in hosts if h["verdict"] == "compatible"]
        self.checks.eq("%s: compatible hosts lead the list" % name,
                       [h["host"] for h in ok], [h["host"] for h in hosts[:len(ok)]])
        key = [(not h["same_version"], not h["cached_compatible"], -h["free_instances"], h["host"])
               for h in ok]
        self.checks.eq("%s: compatible hosts in rank order" % name, sorted(key), key)
        self.checks.eq("%s: destinations are the best confirmed" % name,
                       [h["host"] for h in ok][:len(reply["destinations"])], reply["destinations"])

    # -- cluster state -----------------------------------------------------
    def registry_host(self, host):
        status, body = self.sched.request("GET", "/v1/hosts/%s/inventory" % host)
        return body["inventory"] if status == 200 else None

    def registry_version(self, host, parent, type_id):
        inv = self.registry_host(host)
        for p in inv["parents"] if inv else ():
            if p["name"] == parent:
                for t in p["types"]:
                    if t["id"] == type_id:
                        return t["migration"].get("version")
        return None

    def wait_registry(self, host, parent, type_id, version, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.registry_version(host, parent, type_id) == version:
                return True
            time.sleep(0.05)
        return False

    def set_version(self, host, type_id, version, wait=True):
        sim = self.cluster.sims[host]
        for parent in PARENTS:
            self.checks.eq("%s: %s on %s set to %s" % (host, type_id, parent, version), "ok",
                           sim.ctl("version", type_dir(parent, type_id), version))
        if wait:
            self.checks.true("%s: the sched's registry shows %s %s" % (host, type_id, version),
                             all(self.wait_registry(host, p, type_id, version) for p in PARENTS))


def wait_cluster(sched, timeout=90):
    """Until the sched's registry holds every host, and the source hosts
    with their VMs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if set(NAMES) <= set(invs):
                vms = {i["uuid"] for n in ("gpu-a", "gpu-dual") for i in invs[n]["instances"]}
                if {VM_A, VM_B, VM_DUAL} <= vms:
                    return True
        time.sleep(0.1)
    return False


def check_select_instance(b):
    checks = b.checks
    reply, writes = b.select("select vm-a", {"instance": VM_A, "count": 20})
    if reply is None:
        return
    checks.eq("select vm-a: source", ("gpu-a", True, False, True),
              (reply["source_host"], reply["known"], reply["source_stale"], reply["migratable"]))
    checks.eq("select vm-a: the mdev, read live", [(DEV_222, "nvidia-222", V222)],
              [(m["uuid"], m["type"], m["version"]) for m in reply["mdevs"]])
    checks.eq("select vm-a: exactly the hosts the vendor rules accept", accepted(EXPECT_222),
              sorted(reply["destinations"]))
    b.verdicts("select vm-a", reply, EXPECT_222, absent=("gpu-a",))
    b.proven("select vm-a", reply, writes)
    b.ranked("select vm-a", reply)
    checks.eq("select vm-a: probes_sent counts the probes", len(writes) + 1, reply["probes_sent"])

    reply, writes = b.select("select vm-b", {"instance": VM_B, "count": 20})
    if reply is not None:
        checks.eq("select vm-b: exactly the hosts the vendor rules accept", accepted(EXPECT_223),
                  sorted(reply["destinations"]))
        # A host that offers none of the VM's types is not a candidate of a
        # select at all; a filter that names it gets no-type (below).
        expect = {h: v for h, v in EXPECT_223.items() if h != "gpu-notype"}
        b.verdicts("select vm-b", reply, expect, absent=("gpu-a", "gpu-notype"))
        b.proven("select vm-b", reply, writes)
        b.ranked("select vm-b", reply)
    reply, writes = b.filter("filter vm-b", {"instance": VM_B, "hosts": NAMES})
    if reply is not None:
        checks.eq("filter vm-b: exactly the hosts the vendor rules accept, in order",
                  [h for h in NAMES if h in accepted(EXPECT_223)], reply["destinations"])
        b.verdicts("filter vm-b", reply, dict(EXPECT_223, **{"gpu-a": ("source-host", None)}))
        b.proven("filter vm-b", reply, writes)

    # Upper case is the same instance.
    reply, writes = b.select("select VM-A (upper case)", {"instance": VM_A.upper(), "count": 20})
    if reply is not None:
        checks.eq("select VM-A: the same answer", accepted(EXPECT_222), sorted(reply["destinations"]))
        b.proven("select VM-A", reply, writes)


def check_count(b):
    checks = b.checks
    best_two = None
    for count in (1, 2, 3, 4, 5):
        name = "select vm-a count %d" % count
        reply, writes = b.select(name, {"instance": VM_A, "count": count})
        if reply is None:
            continue
        dest = reply["destinations"]
        checks.eq(name + ": min(count, 4) destinations", min(count, 4), len(dest))
        checks.true(name + ": all accepted by the rules", set(dest) <= set(accepted(EXPECT_222)))
        b.proven(name, reply, writes)
        b.ranked(name, reply)
        if count <= 2:
            # Two hosts already run 535.104 for nvidia-222: those first.
            checks.true(name + ": the same version first",
                        all(host_entry(reply, d)["same_version"] for d in dest))
        if count == 2:
            best_two = dest
        elif count > 2 and best_two is not None:
            checks.eq(name + ": starts with count 2's answer", best_two, dest[:2])
    # Without count: one.
    reply, writes = b.select("select vm-a, no count", {"instance": VM_A})
    if reply is not None:
        checks.eq("select vm-a, no count: one destination", 1, len(reply["destinations"]))
        b.proven("select vm-a, no count", reply, writes)


def check_filter(b):
    checks = b.checks
    # Nova's order, scrambled on purpose; the source and an unknown host in it.
    order = ["gpu-split", "gpu-c", "gpu-noattr", "gpu-new", "gpu-a", "gpu-full", "gpu-ghost",
             "gpu-readerr", "gpu-dual", "gpu-b", "gpu-notype"]
    reply, writes = b.filter("filter vm-a", {"instance": VM_A, "hosts": order})
    if reply is not None:
        want = [h for h in order if h in accepted(EXPECT_222)]
        checks.eq("filter vm-a: the accepted hosts, in Nova's order", want, reply["destinations"])
        # The VM's own host is reported as such (Nova never lists it), an
        # unknown one as offering nothing.
        b.verdicts("filter vm-a", reply, dict(EXPECT_222, **{"gpu-ghost": ("no-type", None),
                                                             "gpu-a": ("source-host", None)}))
        b.proven("filter vm-a", reply, writes)
        checks.eq("filter vm-a: hosts listed in Nova's order", order, [h["host"] for h in reply["hosts"]])
    rev = list(reversed(order))
    reply, writes = b.filter("filter vm-a reversed", {"instance": VM_A, "hosts": rev})
    if reply is not None:
        checks.eq("filter vm-a reversed: the order follows", [h for h in rev if h in accepted(EXPECT_222)],
                  reply["destinations"])
        b.proven("filter vm-a reversed", reply, writes)
    # A subset: only those are probed.
    subset = ["gpu-b", "gpu-new"]
    reply, writes = b.filter("filter vm-a subset", {"instance": VM_A, "hosts": subset})
    if reply is not None:
        checks.eq("filter vm-a subset: gpu-new passes", ["gpu-new"], reply["destinations"])
        checks.eq("filter vm-a subset: only the listed hosts probed", {"gpu-b", "gpu-new"},
                  {host for host, _ in writes})
        b.proven("filter vm-a subset", reply, writes)
    reply, writes = b.filter("filter vm-a, no hosts", {"instance": VM_A, "hosts": []})
    if reply is not None:
        checks.eq("filter vm-a, no hosts: nothing passes, nothing probed", ([], {}, 0),
                  (reply["destinations"], writes, reply["probes_sent"]))

    # A new boot: the registry does not know the instance; all pass, unprobed.
    new_boot = str(uuid.UUID("00000000-0000-4000-8000-00000000b007"))
    given = ["gpu-c", "gpu-b", "gpu-ghost", "gpu-noattr", "gpu-new"]
    reply, writes = b.filter("filter new boot", {"instance": new_boot, "hosts": given})
    if reply is not None:
        checks.eq("filter new boot: every given host, in order", given, reply["destinations"])
        checks.eq("filter new boot: not known", False, reply["known"])
        checks.eq("filter new boot: no probe sent", 0, reply["probes_sent"])
        checks.eq("filter new boot: nothing written", {}, writes)
    reply, _ = b.ask("select new boot", "/v1/select", {"instance": new_boot}, expect_status=404)
    if reply is not None:
        checks.true("select new boot: 404 names the instance (%r)" % reply.get("error"),
                    new_boot in (reply.get("error") or ""))


def check_dual(b):
    checks = b.checks
    reply, writes = b.select("select vm-dual", {"instance": VM_DUAL, "count": 20})
    if reply is not None:
        checks.eq("select vm-dual: two mdevs, in the domain's order",
                  [(DEV_223, "nvidia-223", V223), (DEV_222, "nvidia-222", V222)],
                  [(m["uuid"], m["type"], m["version"]) for m in reply["mdevs"]])
        checks.eq("select vm-dual: only where both types pass", accepted(EXPECT_DUAL),
                  sorted(reply["destinations"]))
        b.verdicts("select vm-dual", reply, EXPECT_DUAL, absent=("gpu-dual",))
        b.proven("select vm-dual", reply, writes)
        b.ranked("select vm-dual", reply)
        split = host_entry(reply, "gpu-split")
        if split is not None:
            checks.eq("select vm-dual: gpu-split took nvidia-222 and refused nvidia-223",
                      [("incompatible", "nvidia-223"), ("compatible", "nvidia-222")],
                      [(p["verdict"], p["target"].split("/")[-1]) for p in split["probes"]])
    reply, writes = b.filter("filter vm-dual", {"instance": VM_DUAL, "hosts": NAMES})
    if reply is not None:
        checks.eq("filter vm-dual: only where both pass", [h for h in NAMES if h in accepted(EXPECT_DUAL)],
                  reply["destinations"])
        b.proven("filter vm-dual", reply, writes)

    # The same two mdevs named by host + devices: gpu-a is the source now.
    expect = dict(EXPECT_DUAL)
    expect["gpu-dual"] = expect.pop("gpu-a")
    reply, writes = b.select("select gpu-a devices 223+222",
                             {"host": "gpu-a", "devices": [DEV_223, DEV_222], "count": 20})
    if reply is not None:
        checks.eq("select gpu-a devices 223+222: only where both pass", accepted(expect),
                  sorted(reply["destinations"]))
        checks.eq("select gpu-a devices: source host", ("gpu-a", None), (reply["source_host"], reply["instance"]))
        b.verdicts("select gpu-a devices 223+222", reply, expect, absent=("gpu-a",))
        b.proven("select gpu-a devices 223+222", reply, writes)
    # Two mdevs of the same type need room for two.
    reply, writes = b.select("select gpu-a devices 222+222",
                             {"host": "gpu-a", "devices": [DEV_222, DEV_222_UNUSED], "count": 20})
    if reply is not None:
        checks.eq("select gpu-a devices 222+222: the nvidia-222 hosts", accepted(EXPECT_222),
                  sorted(reply["destinations"]))
        b.proven("select gpu-a devices 222+222", reply, writes)


def check_other_forms(b):
    checks = b.checks
    reply, writes = b.select("select gpu-a device 222",
                             {"host": "gpu-a", "devices": [DEV_222.upper()], "count": 20})
    if reply is not None:
        checks.eq("select gpu-a device 222: as vm-a", accepted(EXPECT_222), sorted(reply["destinations"]))
        checks.eq("select gpu-a device 222: the version read live", [V222],
                  [m["version"] for m in reply["mdevs"]])
        b.verdicts("select gpu-a device 222", reply, EXPECT_222, absent=("gpu-a",))
        b.proven("select gpu-a device 222", reply, writes)
    reply, writes = b.filter("filter gpu-a device 223",
                             {"host": "gpu-a", "devices": [DEV_223], "hosts": NAMES})
    if reply is not None:
        checks.eq("filter gpu-a device 223: as vm-b", [h for h in NAMES if h in accepted(EXPECT_223)],
                  reply["destinations"])
        b.proven("filter gpu-a device 223", reply, writes)

    # Explicit mdevs: no source host, so gpu-a is a candidate too.
    expect = dict(EXPECT_222, **{"gpu-a": OK})
    reply, writes = b.select("select mdevs 222", {"mdevs": [{"type": "nvidia-222", "version": V222}],
                                                  "count": 20})
    if reply is not None:
        checks.eq("select mdevs 222: no source host", (None, None, False),
                  (reply["source_host"], reply["instance"], reply["source_stale"]))
        checks.eq("select mdevs 222: the hosts the rules accept", accepted(expect),
                  sorted(reply["destinations"]))
        b.verdicts("select mdevs 222", reply, expect)
        b.proven("select mdevs 222", reply, writes)
        b.ranked("select mdevs 222", reply)
    reply, writes = b.select("select mdevs 222 count 2", {"mdevs": [{"type": "nvidia-222", "version": V222}],
                                                          "count": 2})
    if reply is not None:
        checks.eq("select mdevs 222 count 2: two", 2, len(reply["destinations"]))
        b.proven("select mdevs 222 count 2", reply, writes)
        b.ranked("select mdevs 222 count 2", reply)
    # An older driver's version goes into every 535 host with minor >= 54.
    old = "10de:1eb8:nvidia-222-535.54"
    expect_old = dict(expect, **{"gpu-b": OK})
    reply, writes = b.filter("filter mdevs 222 at 535.54",
                             {"mdevs": [{"type": "nvidia-222", "version": old}], "hosts": NAMES})
    if reply is not None:
        checks.eq("filter mdevs 222 at 535.54: the hosts the rules accept",
                  [h for h in NAMES if h in accepted(expect_old)], reply["destinations"])
        b.verdicts("filter mdevs 222 at 535.54", reply, expect_old)
        b.proven("filter mdevs 222 at 535.54", reply, writes)
    # Two spec'd mdevs of different types.
    reply, writes = b.select("select mdevs 223+222", {"mdevs": [{"type": "nvidia-223", "version": V223},
                                                                {"type": "nvidia-222", "version": V222}],
                                                      "count": 20})
    if reply is not None:
        expect2 = dict(EXPECT_DUAL, **{"gpu-dual": OK})
        checks.eq("select mdevs 223+222: only where both pass", accepted(expect2),
                  sorted(reply["destinations"]))
        b.verdicts("select mdevs 223+222", reply, expect2)
        b.proven("select mdevs 223+222", reply, writes)
    # A type nobody offers: an answer with nothing in it.
    reply, writes = b.select("select mdevs nvidia-999", {"mdevs": [{"type": "nvidia-999", "version": "x-1.0"}]})
    if reply is not None:
        checks.eq("select mdevs nvidia-999: no destination, no probe", ([], 0, {}),
                  (reply["destinations"], reply["probes_sent"], writes))


def check_not_migratable(b):
    """A source mdev without a readable version: no destination, no probe,
    and the reason (gpu-noattr and gpu-readerr hold gpu-a's device UUIDs,
    unused)."""
    checks = b.checks
    for host, why in (("gpu-noattr", "has no migration_version attribute"),
                      ("gpu-readerr", "fails with ENODEV")):
        name = "select %s device (not migratable)" % host
        reply, writes = b.select(name, {"host": host, "devices": [DEV_222], "count": 20})
        if reply is None:
            continue
        checks.eq(name + ": not migratable, nothing probed", (False, [], 0, {}),
                  (reply["migratable"], reply["destinations"], reply["probes_sent"], writes))
        checks.true(name + ": the reason says why (%r)" % reply["reason"], why in (reply["reason"] or ""))
        checks.true(name + ": the mdev has no version", reply["mdevs"] and reply["mdevs"][0]["version"] is None)
        reply, writes = b.filter(name + ", filter", {"host": host, "devices": [DEV_223], "hosts": NAMES})
        if reply is not None:
            checks.eq(name + ", filter: nothing passes, nothing probed", (False, [], 0, {}),
                      (reply["migratable"], reply["destinations"], reply["probes_sent"], writes))


def check_cache(b):
    """A cached compatible verdict ranks a host up, never confirms it."""
    checks = b.checks
    reply, _ = b.select("cache: select vm-a", {"instance": VM_A, "count": 20})
    reply, writes = b.select("cache: select vm-a again", {"instance": VM_A, "count": 20})
    if reply is None:
        return
    new = host_entry(reply, "gpu-new")
    checks.true("cache: gpu-new compatible and its verdict cached",
                new and new["verdict"] == "compatible" and new["cached_compatible"])
    b.proven("cache: select vm-a again", reply, writes)

    # Order 1: the target downgrades and the question comes before its
    # collector has published. A delayed read holds the collector's next
    # scan, so the registry keeps the old version (and its cached verdict).
    sim = b.cluster.sims["gpu-new"]
    down = "10de:1eb8:nvidia-222-535.99"
    for parent in PARENTS:
        checks.eq("cache: hold gpu-new's scan of %s" % parent, "ok",
                  sim.ctl("delay", type_attr(parent, "nvidia-222"), "read", "10000", "1"))
    b.set_version("gpu-new", "nvidia-222", down, wait=False)
    before = b.registry_version("gpu-new", PARENTS[0], "nvidia-222")
    reply, writes = b.select("cache: downgraded, unpublished", {"instance": VM_A, "count": 20})
    after = b.registry_version("gpu-new", PARENTS[0], "nvidia-222")
    checks.eq("cache: the registry still had 535.129 around the call",
              ["10de:1eb8:nvidia-222-535.129"] * 2, [before, after])
    if reply is not None:
        new = host_entry(reply, "gpu-new")
        checks.true("cache: gpu-new still ranked by its cached verdict", new and new["cached_compatible"])
        checks.eq("cache: gpu-new refuses live", REFUSED, new and (new["verdict"], new["errno"]))
        checks.true("cache: gpu-new dropped", "gpu-new" not in reply["destinations"])
        checks.eq("cache: the rest as before", sorted(set(accepted(EXPECT_222)) - {"gpu-new"}),
                  sorted(reply["destinations"]))
        b.proven("cache: downgraded, unpublished", reply, writes)
        checks.eq("cache: gpu-new was probed in that call", 1,
                  sum(w for (h, _), w in writes.items() if h == "gpu-new"))
    reply, writes = b.filter("cache: filter, unpublished", {"instance": VM_A, "hosts": ["gpu-new", "gpu-dual"]})
    if reply is not None:
        checks.eq("cache: filter drops gpu-new too", ["gpu-dual"], reply["destinations"])
        b.proven("cache: filter, unpublished", reply, writes)
    sim.ctl("clear", "all")

    # Order 2: the registry has caught up: still refused, no longer cached.
    checks.true("cache: the registry shows the downgrade",
                all(b.wait_registry("gpu-new", p, "nvidia-222", down) for p in PARENTS))
    reply, writes = b.select("cache: downgraded, published", {"instance": VM_A, "count": 20})
    if reply is not None:
        new = host_entry(reply, "gpu-new")
        checks.eq("cache: gpu-new refuses, nothing cached for its new version", (REFUSED, False),
                  new and ((new["verdict"], new["errno"]), new["cached_compatible"]))
        checks.true("cache: gpu-new still dropped", "gpu-new" not in reply["destinations"])
        b.proven("cache: downgraded, published", reply, writes)

    # Back to 535.129, asked at once: accepted again (the live probe says so).
    b.set_version("gpu-new", "nvidia-222", "10de:1eb8:nvidia-222-535.129", wait=False)
    reply, writes = b.select("cache: gpu-new restored", {"instance": VM_A, "count": 20})
    if reply is not None:
        checks.true("cache: gpu-new back among the destinations", "gpu-new" in reply["destinations"])
        b.proven("cache: gpu-new restored", reply, writes)
    checks.true("cache: the registry shows gpu-new restored",
                all(b.wait_registry("gpu-new", p, "nvidia-222", "10de:1eb8:nvidia-222-535.129")
                    for p in PARENTS))

    # The other way: gpu-b's refusal is cached; an upgrade to 535.129 makes
    # the next call take it, before and after the publish.
    reply, _ = b.select("cache: gpu-b refuses", {"instance": VM_A, "count": 20})
    if reply is not None:
        checks.eq("cache: gpu-b refuses first", REFUSED, (host_entry(reply, "gpu-b")["verdict"],
                                                           host_entry(reply, "gpu-b")["errno"]))
    b.set_version("gpu-b", "nvidia-222", "10de:1eb8:nvidia-222-535.129", wait=False)
    reply, writes = b.select("cache: gpu-b upgraded", {"instance": VM_A, "count": 20})
    if reply is not None:
        checks.true("cache: gpu-b upgraded is a destination at once", "gpu-b" in reply["destinations"])
        b.proven("cache: gpu-b upgraded", reply, writes)
    checks.true("cache: the registry shows gpu-b upgraded",
                all(b.wait_registry("gpu-b", p, "nvidia-222", "10de:1eb8:nvidia-222-535.129")
                    for p in PARENTS))
    reply, writes = b.select("cache: gpu-b upgraded, published", {"instance": VM_A, "count": 20})
    if reply is not None:
        checks.true("cache: gpu-b still a destination", "gpu-b" in reply["destinations"])
        b.proven("cache: gpu-b upgraded, published", reply, writes)
    b.set_version("gpu-b", "nvidia-222", "10de:1eb8:nvidia-222-535.54", wait=False)
    reply, writes = b.select("cache: gpu-b back to 535.54", {"instance": VM_A, "count": 20})
    if reply is not None:
        checks.true("cache: gpu-b dropped again at once", "gpu-b" not in reply["destinations"])
        b.proven("cache: gpu-b back to 535.54", reply, writes)
    checks.true("cache: the registry shows gpu-b back",
                all(b.wait_registry("gpu-b", p, "nvidia-222", "10de:1eb8:nvidia-222-535.54")
                    for p in PARENTS))


def check_target_down(b):
    checks = b.checks
    collector = b.cluster.collectors["gpu-new"]
    # Stopped (SIGSTOP): connections are accepted, nothing answers.
    os.kill(collector.proc.pid, signal.SIGSTOP)
    try:
        reply, writes = b.select("stopped target", {"instance": VM_A, "count": 20})
        reply_f, writes_f = b.filter("stopped target: filter", {"instance": VM_A, "hosts": NAMES})
    finally:
        os.kill(collector.proc.pid, signal.SIGCONT)
    for name, r, w in (("stopped target", reply, writes), ("stopped target: filter", reply_f, writes_f)):
        if r is None:
            continue
        new = host_entry(r, "gpu-new")
        checks.eq(name + ": gpu-new unreachable", "unreachable", new and new["verdict"])
        checks.true(name + ": the error says it timed out (%r)" % (new and new["error"]),
                    new and "timed out" in (new["error"] or ""))
        checks.true(name + ": gpu-new not returned", "gpu-new" not in r["destinations"])
        checks.eq(name + ": the others as before", sorted(set(accepted(EXPECT_222)) - {"gpu-new"}),
                  sorted(r["destinations"]))
        # The library's bound is the probe timeout (2 s); a generous margin
        # for a loaded machine, this is not a latency test.
        checks.true(name + ": answered within the probe timeout plus slack (%.1f s)" % r["_wall_s"],
                    r["_wall_s"] < 30)
        # Either the connect (0.5 s) or the whole probe (2 s) timed out,
        # depending on whether the stopped process's listen backlog still
        # took the connection; the probe ends there, not later (a generous
        # margin again).
        print("    gpu-new: %s after %d us" % (new["error"], new["probes"][0]["elapsed_us"]))
        checks.true(name + ": gpu-new's probe ended at a timeout (%d us)" % new["probes"][0]["elapsed_us"],
                    400000 <= new["probes"][0]["elapsed_us"] < 10000000)
        b.proven(name, r, w)

    # Killed: connection refused.
    collector.stop()
    reply, writes = b.select("killed target", {"instance": VM_A, "count": 20})
    if reply is not None:
        new = host_entry(reply, "gpu-new")
        checks.eq("killed target: gpu-new unreachable", "unreachable", new and new["verdict"])
        checks.true("killed target: gpu-new not returned", "gpu-new" not in reply["destinations"])
        checks.true("killed target: answered in time (%.1f s)" % reply["_wall_s"], reply["_wall_s"] < 30)
        b.proven("killed target", reply, writes)
    reply, writes = b.select("killed target, count 1", {"instance": VM_A, "count": 1})
    if reply is not None:
        checks.eq("killed target, count 1: one destination", 1, len(reply["destinations"]))
        b.proven("killed target, count 1", reply, writes)
    # Back: compatible again.
    collector.start()
    reply, writes = b.select("restarted target", {"instance": VM_A, "count": 20})
    if reply is not None:
        checks.true("restarted target: gpu-new back", "gpu-new" in reply["destinations"])
        b.proven("restarted target", reply, writes)


def wait_stale(b, host, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = b.sched.request("GET", "/v1/hosts/%s/inventory" % host)
        if status == 200 and body["stale"]:
            return body
        time.sleep(0.2)
    return None


def check_source_down(b):
    checks = b.checks
    b.cluster.collectors["gpu-a"].stop()
    reply, writes = b.select("source down, at once", {"instance": VM_A, "count": 20})
    if reply is not None:
        checks.eq("source down, at once: marked source_stale", (True, [V222]),
                  (reply["source_stale"], [m["version"] for m in reply["mdevs"]]))
        checks.eq("source down, at once: the same destinations", accepted(EXPECT_222),
                  sorted(reply["destinations"]))
        b.proven("source down, at once", reply, writes)
    # Unheard of past --stale-after, the registry reports it stale as well.
    entry = wait_stale(b, "gpu-a")
    checks.true("source down: the registry reports gpu-a stale", entry)
    status, metrics = b.sched.request("GET", "/metrics")
    checks.true("source down: metrics count a stale host",
                status == 200 and "mdevmig_sched_hosts_stale 0\n" not in metrics)
    reply, writes = b.select("source down", {"instance": VM_A, "count": 20})
    if reply is not None:
        checks.eq("source down: answered from the registry, marked stale", ("gpu-a", True, True),
                  (reply["source_host"], reply["known"], reply["source_stale"]))
        checks.eq("source down: the registry's version", [(DEV_222, "nvidia-222", V222)],
                  [(m["uuid"], m["type"], m["version"]) for m in reply["mdevs"]])
        checks.eq("source down: the hosts the rules accept, confirmed live", accepted(EXPECT_222),
                  sorted(reply["destinations"]))
        b.verdicts("source down", reply, EXPECT_222, absent=("gpu-a",))
        b.proven("source down", reply, writes)
    reply, writes = b.filter("source down: filter", {"instance": VM_DUAL.upper(), "hosts": NAMES})
    if reply is not None:
        checks.eq("source down: vm-dual's filter unaffected (its source is up)", False,
                  reply["source_stale"])
    reply, writes = b.filter("source down: filter vm-a", {"instance": VM_A, "hosts": NAMES})
    if reply is not None:
        checks.eq("source down: filter vm-a stale too", True, reply["source_stale"])
        checks.eq("source down: filter vm-a passes the same hosts",
                  [h for h in NAMES if h in accepted(EXPECT_222)], reply["destinations"])
        b.proven("source down: filter vm-a", reply, writes)
    reply, writes = b.select("source down: host+devices", {"host": "gpu-a", "devices": [DEV_223],
                                                           "count": 20})
    if reply is not None:
        checks.eq("source down: host+devices stale, from the registry", (True, [V223]),
                  (reply["source_stale"], [m["version"] for m in reply["mdevs"]]))
        checks.eq("source down: host+devices hosts", accepted(EXPECT_223), sorted(reply["destinations"]))
    # As a target, the dead collector is unreachable (and stale).
    reply, writes = b.select("source down: mdevs", {"mdevs": [{"type": "nvidia-222", "version": V222}],
                                                    "count": 20})
    if reply is not None:
        a = host_entry(reply, "gpu-a")
        checks.eq("source down: gpu-a unreachable and stale as a target", ("unreachable", True),
                  a and (a["verdict"], a["stale"]))
        checks.true("source down: gpu-a not returned", "gpu-a" not in reply["destinations"])
        b.proven("source down: mdevs", reply, writes)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-it") as cluster:
        # Hosts unheard of for 5 s are stale (collectors heartbeat every 1 s).
        sched = cluster.add_sched(extra=["--stale-after", "5"])
        for name, fixture, xml in HOSTS:
            uri = "test://" + os.path.join(source, VMMAP, xml) if xml else "none"
            cluster.add_host(name, os.path.join(source, fixture), libvirt_uri=uri, registry=None,
                             extra=["--registry", sched.url])
        ready = wait_cluster(sched)
        checks.true("the sched's registry lists every host and the VMs", ready)
        if not ready:
            print(open(sched.log).read()[-4000:])
            return checks.finish()
        attrs = {name: migration_attrs(c.inventory()) for name, c in cluster.collectors.items()}
        checks.eq("gpu-noattr has no attribute to count", [], attrs["gpu-noattr"])
        b = Bench(checks, cluster, sched, attrs)

        check_select_instance(b)
        check_count(b)
        check_filter(b)
        check_dual(b)
        check_other_forms(b)
        check_not_migratable(b)
        check_cache(b)
        check_target_down(b)
        check_source_down(b)

        checks.true("the sched is still running", sched.proc.poll() is None)
        checks.eq("no sanitizer report in the sched's log", [], sanitizer_report(sched.log))
        # A clean stop, with LeakSanitizer's look at the heap after all that.
        sched.stop()
        checks.eq("the sched stops cleanly on SIGTERM", 0, sched.proc.returncode)
        checks.eq("no sanitizer report in the sched's log after the stop", [],
                  sanitizer_report(sched.log))
        for name, collector in sorted(cluster.collectors.items()):
            checks.eq(name + ": no sanitizer report in the collector's log", [],
                      sanitizer_report(collector.log))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
