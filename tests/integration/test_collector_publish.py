"""Collectors publish into the SQLite registry (DESIGN.md §3, Registry):

- after start, every host's row holds its collector URL and the
  inventory's generation; parents, types, devices, instances and their
  mdevs equal the inventory (t4 with the libvirt test driver for the VM
  mapping, readfail for a stored read errno);
- a driver upgrade (mdevsim `version`) reaches the registry with the new
  generation and digest;
- heartbeats advance last_seen without a new generation;
- a restarted collector publishes a greater generation than before;
- a registry that cannot be written (another process holds its write lock
  past the busy timeout) fails publishing, probes keep answering, and the
  latest generation arrives once the lock is gone;
- a registry path that cannot be opened (a directory stands there; chmod
  would not stop root) fails publishing, probes keep answering, and once
  the path is usable the latest generation arrives.

Reads go through Python's sqlite3 on a read-only URI, so the test never
takes a write lock except where it means to.

usage: test_collector_publish.py BUILD_DIR SOURCE_DIR
"""

import hashlib
import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

TIMEOUT = 90


def poll(what, timeout=TIMEOUT, interval=0.1):
    deadline = time.time() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.time() > deadline:
            return None
        time.sleep(interval)


def query(path, sql, args=()):
    """Rows of one read-only query; [] while the file is not a registry yet."""
    if not os.path.isfile(path):
        return []
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    except sqlite3.Error:
        return []
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []  # no such table yet: the schema is being created
    finally:
        db.close()


def host_row(path, host):
    rows = query(path, "SELECT name, collector_url, generation, last_seen, scanned_at "
                       "FROM hosts WHERE name = ?", (host,))
    return rows[0] if rows else None


def registry_generation(path, host):
    row = host_row(path, host)
    return row[2] if row else None


def metric(collector, name):
    status, text = collector.request("GET", "/metrics")
    if status != 200:
        return None
    m = re.search(r"^%s ([0-9.e+-]+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def log_has(collector, *words):
    """Some line of the collector's log holds all the words."""
    with open(collector.log, errors="replace") as f:
        return any(all(w in line for w in words) for line in f)


def digest(type_id, version):
    return hashlib.sha256((type_id + "\n" + version).encode()).hexdigest()


def find_type(inv, parent, type_id):
    for p in inv["parents"]:
        if p["name"] == parent:
            for t in p["types"]:
                if t["id"] == type_id:
                    return t
    return None


def mig_cols(mig):
    return (1 if mig["supported"] else 0, mig.get("version"), mig.get("digest"), mig.get("errno"))


def expected_rows(inv):
    parents = sorted(p["name"] for p in inv["parents"])
    types = sorted((p["name"], t["id"], t["name"], t["description"], t["device_api"],
                    t["available_instances"]) + mig_cols(t["migration"])
                   for p in inv["parents"] for t in p["types"])
    devices = sorted((d["uuid"], d["parent"], d["type"], d["iommu_group"])
                     + mig_cols(d["migration"]) + (d["instance"],) for d in inv["devices"])
    instances = sorted((i["uuid"], i["name"], i["state"]) for i in inv["instances"])
    mdevs = sorted((i["uuid"], m) for i in inv["instances"] for m in i["mdevs"])
    return parents, types, devices, instances, mdevs


def stored_rows(path, host):
    parents = sorted(r[0] for r in query(path, "SELECT name FROM parents WHERE host = ?", (host,)))
    types = sorted(query(path, "SELECT parent, type_id, name, description, device_api, "
                               "available_instances, migration_supported, version, digest, "
                               "read_errno FROM types WHERE host = ?", (host,)))
    devices = sorted(query(path, "SELECT uuid, parent, type_id, iommu_group, migration_supported, "
                                 "version, digest, read_errno, instance FROM devices "
                                 "WHERE host = ?", (host,)))
    instances = sorted(query(path, "SELECT uuid, name, state FROM instances WHERE host = ?",
                             (host,)))
    mdevs = sorted(query(path, "SELECT instance, mdev FROM instance_mdevs WHERE host = ?", (host,)))
    return parents, types, devices, instances, mdevs


def wait_published(path, collector):
    """(inventory, host row) once the registry holds the collector's
    current generation; (last inventory, None) if it never does."""
    state = {}

    def done():
        state["inv"] = collector.inventory()
        row = host_row(path, collector.name)
        state["row"] = row
        return row is not None and row[2] == state["inv"]["generation"]

    ok = poll(done)
    return state["inv"], state["row"] if ok else None


def wait_version(collector, version, types=(), devices=()):
    """The inventory once every listed type (parent, id) and device shows version."""
    def shown():
        inv = collector.inventory()
        if all(find_type(inv, p, t)["migration"].get("version") == version for p, t in types) \
                and all(d["migration"].get("version") == version
                        for d in inv["devices"] if d["uuid"] in devices):
            return inv
        return None
    return poll(shown)


def check_snapshot(checks, label, path, collector):
    """The registry holds exactly the collector's current inventory."""
    inv, row = wait_published(path, collector)
    checks.true("%s: %s published at generation %d (registry has %r)"
                % (label, collector.name, inv["generation"], registry_generation(path, collector.name)),
                row is not None)
    if row is None:
        return inv
    checks.eq("%s: %s collector_url" % (label, collector.name), collector.url, row[1])
    expected, stored = expected_rows(inv), stored_rows(path, collector.name)
    for i, what in enumerate(("parents", "types", "devices", "instances", "instance mdevs")):
        checks.eq("%s: %s %s equal the inventory" % (label, collector.name, what),
                  expected[i], stored[i])
    return inv


def check_upgrade(checks, path, cluster):
    b, sim = cluster.collectors["gpu-b"], cluster.sims["gpu-b"]
    old = registry_generation(path, "gpu-b")
    new_version = "10de:1eb8:nvidia-223-535.129"
    checks.eq("upgrade: mdevsim took it", "ok", sim.ctl(
        "version", "sys/class/mdev_bus/0000:d8:00.0/mdev_supported_types/nvidia-223", new_version))
    seen = wait_version(b, new_version, types=[("0000:d8:00.0", "nvidia-223")])
    checks.true("upgrade: the inventory shows it", seen is not None)
    if seen is None:
        return
    inv, row = wait_published(path, b)
    checks.true("upgrade: the registry has the inventory's generation", row is not None)
    checks.true("upgrade: greater than before",
                row is not None and row[2] >= seen["generation"] > old)
    stored = query(path, "SELECT version, digest FROM types WHERE host = 'gpu-b' "
                         "AND parent = '0000:d8:00.0' AND type_id = 'nvidia-223'")
    checks.eq("upgrade: the registry has the new version and digest",
              [(new_version, digest("nvidia-223", new_version))], stored)
    old_rows = query(path, "SELECT version FROM types WHERE host = 'gpu-b' "
                           "AND parent = '0000:3b:00.0' AND type_id = 'nvidia-223'")
    checks.eq("upgrade: the other parent keeps its version",
              [("10de:1eb8:nvidia-223-535.54",)], old_rows)
    # The scheduler's digest lookup finds the upgraded parent only.
    hosts = query(path, "SELECT host, parent FROM types WHERE digest = ?",
                  (digest("nvidia-223", new_version),))
    checks.eq("upgrade: found by its digest", [("gpu-b", "0000:d8:00.0")], hosts)
    check_snapshot(checks, "upgrade", path, b)


def check_heartbeat(checks, path, cluster):
    c = cluster.collectors["gpu-c"]
    row = host_row(path, "gpu-c")
    seen = poll(lambda: (lambda r: r if r and r[3] > row[3] else None)(host_row(path, "gpu-c")))
    checks.true("heartbeat: last_seen advances (from %d)" % row[3], seen is not None)
    if seen is not None:
        checks.eq("heartbeat: the generation stays", row[2], seen[2])
        checks.true("heartbeat: last_seen is not in the future", seen[3] <= time.time() + 1)
    checks.true("heartbeat: the collector counts heartbeats",
                poll(lambda: (metric(c, "mdevmig_collector_publish_heartbeats_total") or 0) > 0))


def check_restart(checks, path, cluster):
    c = cluster.collectors["gpu-c"]
    before = registry_generation(path, "gpu-c")
    c.stop()
    checks.eq("restart: the host stays in the registry while its collector is down",
              before, registry_generation(path, "gpu-c"))
    c.start()
    inv, row = wait_published(path, c)
    checks.true("restart: the new inventory's generation %d > %d" % (inv["generation"], before),
                inv["generation"] > before)
    checks.true("restart: the registry has the new generation", row is not None)
    check_snapshot(checks, "restart", path, c)


def probe_ok(collector, version, label, checks):
    status, body = collector.probe("nvidia-222", version)
    checks.eq(label, (200, "compatible"),
              (status, body.get("verdict") if isinstance(body, dict) else body))


def check_locked(checks, path, cluster):
    """Another process holds the registry's write lock: SQLITE_BUSY."""
    a, sim = cluster.collectors["gpu-a"], cluster.sims["gpu-a"]
    published = registry_generation(path, "gpu-a")
    failures = metric(a, "mdevmig_collector_publish_failures_total") or 0
    lock = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        new_version = "10de:1eb8:nvidia-222-535.161"
        checks.eq("locked: upgrade", "ok", sim.ctl(
            "version", "sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-222",
            new_version))
        # Its devices inherit the type's version.
        inv = wait_version(a, new_version, types=[("0000:3b:00.0", "nvidia-222")],
                           devices=("c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c01",
                                    "c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c02"))
        checks.true("locked: the inventory changes", inv is not None)
        # The publisher now waits on the lock; probes do not.
        for i in range(20):
            probe_ok(a, "10de:1eb8:nvidia-222-535.54", "locked: probe %d answers" % i, checks)
        checks.true("locked: publishing fails", poll(
            lambda: (metric(a, "mdevmig_collector_publish_failures_total") or 0) > failures))
        probe_ok(a, "10de:1eb8:nvidia-222-535.54", "locked: a probe after the failure answers",
                 checks)
        checks.eq("locked: the registry still has the old generation", published,
                  registry_generation(path, "gpu-a"))
        checks.true("locked: the log says publishing failed and will be retried",
                    log_has(a, "publish sqlite:" + path, "retrying in"))
    finally:
        lock.rollback()
        lock.close()
    latest, row = wait_published(path, a)
    checks.true("unlocked: the latest generation arrives",
                row is not None and inv is not None and row[2] >= inv["generation"])
    check_snapshot(checks, "unlocked", path, a)


def check_unopenable(checks, cluster, source):
    """The registry path is a directory from the start, then is fixed."""
    path = os.path.join(cluster.root, "broken", "registry.db")
    os.makedirs(path)
    d = cluster.add_host("i915", os.path.join(source, "tests/sim/fixtures/i915.json"),
                         registry=path)
    sim = cluster.sims["i915"]
    checks.true("unopenable: the collector starts anyway", d.proc.poll() is None)
    checks.true("unopenable: publishing fails", poll(
        lambda: (metric(d, "mdevmig_collector_publish_failures_total") or 0) > 0))
    checks.true("unopenable: the log says publishing failed and will be retried",
                log_has(d, "publish sqlite:" + path, "retrying in"))
    status, body = d.probe("i915-GVTg_V5_4", "8086-591d-i915-GVTg_V5_4-00000001")
    checks.eq("unopenable: probes answer", (200, "compatible"),
              (status, body.get("verdict") if isinstance(body, dict) else body))
    first = d.inventory()["generation"]
    new_version = "8086-591d-i915-GVTg_V5_4-00000002"
    checks.eq("unopenable: upgrade", "ok", sim.ctl(
        "version", "sys/class/mdev_bus/0000:00:02.0/mdev_supported_types/i915-GVTg_V5_4",
        new_version))
    inv = wait_version(d, new_version, types=[("0000:00:02.0", "i915-GVTg_V5_4")],
                       devices=("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",))
    checks.true("unopenable: a new generation meanwhile",
                inv is not None and inv["generation"] > first)
    status, body = d.probe("i915-GVTg_V5_4", new_version)
    checks.eq("unopenable: probes follow it", (200, "compatible"),
              (status, body.get("verdict") if isinstance(body, dict) else body))
    os.rmdir(path)
    latest, row = wait_published(path, d)
    checks.true("fixed: the latest generation arrives",
                row is not None and inv is not None and row[2] >= inv["generation"])
    check_snapshot(checks, "fixed", path, d)
    stored = query(path, "SELECT version FROM types WHERE host = 'i915' "
                         "AND type_id = 'i915-GVTg_V5_4'")
    checks.eq("fixed: with the new version", [(new_version,)], stored)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-it") as cluster:
        path = os.path.join(cluster.root, "registry.db")
        started = int(time.time())
        for name in ("gpu-a", "gpu-b", "gpu-c"):
            cluster.add_host(name, os.path.join(source, "deploy/cluster", name + ".json"),
                             registry=path)
        cluster.add_host("t4", os.path.join(source, "tests/sim/fixtures/t4.json"), registry=path,
                         libvirt_uri="test://" + os.path.join(source,
                                                               "tests/unit/data/vmmap/two-vms.xml"))
        cluster.add_host("readfail", os.path.join(source, "tests/sim/fixtures/readfail.json"),
                         registry=path)
        for name, collector in cluster.collectors.items():
            check_snapshot(checks, "start", path, collector)
            row = host_row(path, name)
            checks.true("start: %s last_seen %r is from this run" % (name, row and row[3]),
                        row is not None and row[3] >= started - 1)
        checks.eq("start: exactly the five hosts",
                  ["gpu-a", "gpu-b", "gpu-c", "readfail", "t4"],
                  [r[0] for r in query(path, "SELECT name FROM hosts ORDER BY name")])
        checks.eq("start: the registry is in WAL mode", [("wal",)],
                  query(path, "PRAGMA journal_mode"))
        checks.eq("start: t4's VMs are mapped", 2,
                  len(query(path, "SELECT uuid FROM instances WHERE host = 't4'")))
        checks.eq("start: readfail's read errno is stored", [(1, None, None, 19)],
                  query(path, "SELECT migration_supported, version, digest, read_errno "
                              "FROM types WHERE host = 'readfail'"))
        check_upgrade(checks, path, cluster)
        check_heartbeat(checks, path, cluster)
        check_restart(checks, path, cluster)
        check_locked(checks, path, cluster)
        check_unopenable(checks, cluster, source)
        for name, collector in cluster.collectors.items():
            checks.true(name + ": collector still running", collector.proc.poll() is None)
            where = os.path.join(cluster.root, "broken", "registry.db") if name == "i915" else path
            checks.true(name + ": the registry ends at the inventory's generation",
                        wait_published(where, collector)[1] is not None)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
