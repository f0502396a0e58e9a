"""Faults below the collector give errors, never crashes, and the collector
recovers when they go away:

- an attribute whose read fails with EIO (mdevsim `fault … read EIO`) is
  recorded in the inventory as {"supported": true, "errno": 5, "error":
  "EIO"}; the device endpoint reports the same for a device attribute;
  clearing the fault brings the version (and its digest) back;
- a write that fails once with EIO (`fault … write EIO 1`) makes exactly
  that probe incompatible with errno 5; the next probe works;
- a slow driver (`delay … write MS 1`) delays the probe's answer, which
  still comes, and elapsed_us covers the delay;
- a killed mdevsim (SIGKILL; the mount answers ENOTCONN): health keeps
  answering, GET /v1/inventory keeps returning the last good inventory
  unchanged while scans fail, probes give an error or errno 107, the log
  says the scan failed; after fusermount3 -u and a new mdevsim on the same
  mount the collector recovers: probes work and a version change is seen.

usage: test_collector_faults.py BUILD_DIR SOURCE_DIR
"""

import errno
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

EIO, ENOTCONN = 5, 107
A_DEVICE = "c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c01"  # nvidia-222 on 0000:3b:00.0 of gpu-a
OLDER = "10de:1eb8:nvidia-222-535.54"  # accepted by 535.104 (newer-minor)
OLDER_223 = "10de:1eb8:nvidia-223-535.54"
TIMEOUT = 60


def type_attr(parent, type_id):
    return "sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version" % (parent, type_id)


def device_attr(uuid):
    return "sys/bus/mdev/devices/%s/migration_version" % uuid


def find_type(inv, parent, type_id):
    for p in inv["parents"]:
        if p["name"] == parent:
            for t in p["types"]:
                if t["id"] == type_id:
                    return t
    return None


def poll(what, timeout=TIMEOUT, interval=0.05):
    """what() until it returns something true; that value, or None."""
    deadline = time.time() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.time() > deadline:
            return None
        time.sleep(interval)


def metric(collector, name):
    status, text = collector.request("GET", "/metrics")
    if status != 200:
        return None
    m = re.search(r"^%s ([0-9.e+-]+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def log_text(collector):
    with open(collector.log, errors="replace") as f:
        return f.read()


def strip_volatile(inv):
    inv = dict(inv)
    inv.pop("scanned_at", None)
    return inv


def check_read_eio(checks, cluster):
    a, sim = cluster.collectors["gpu-a"], cluster.sims["gpu-a"]
    attr = type_attr("0000:3b:00.0", "nvidia-223")
    old = a.inventory()
    old_mig = find_type(old, "0000:3b:00.0", "nvidia-223")["migration"]
    checks.eq("read EIO: fault set", "ok", sim.ctl("fault", attr, "read", "EIO"))
    faulted = {"supported": True, "errno": EIO, "error": "EIO"}
    inv = poll(lambda: (lambda i: i if find_type(i, "0000:3b:00.0", "nvidia-223")["migration"]
                        == faulted else None)(a.inventory()))
    checks.true("read EIO: the inventory records errno 5 for the type", inv is not None)
    if inv is not None:
        checks.true("read EIO: a new generation", inv["generation"] > old["generation"])
        for parent in ("0000:3b:00.0", "0000:d8:00.0"):
            for type_id in ("nvidia-222", "nvidia-223", "nvidia-234"):
                if (parent, type_id) == ("0000:3b:00.0", "nvidia-223"):
                    continue
                checks.eq("read EIO: %s %s untouched" % (parent, type_id),
                          find_type(old, parent, type_id), find_type(inv, parent, type_id))
        checks.eq("read EIO: devices untouched", old["devices"], inv["devices"])
    checks.eq("read EIO: health", 200, a.request("GET", "/v1/health", auth=False)[0])
    checks.true("read EIO: collector alive", a.proc.poll() is None)

    # A read fault does not stop a write-probe: the target's version is just unknown.
    before = sim.counts(attr)[1]
    status, body = a.probe("nvidia-223", OLDER_223, parent="0000:3b:00.0")
    checks.eq("read EIO: a probe still writes and is compatible", (200, "compatible", None),
              (status, body.get("verdict"), body.get("target_version")))
    checks.eq("read EIO: that probe wrote once", 1, sim.counts(attr)[1] - before)

    checks.eq("read EIO: cleared", "ok", sim.ctl("clear", attr))
    inv2 = poll(lambda: (lambda i: i if find_type(i, "0000:3b:00.0", "nvidia-223")["migration"]
                         == old_mig else None)(a.inventory()))
    checks.true("read EIO: the version and digest come back after clearing", inv2 is not None)
    if inv2 is not None and inv is not None:
        checks.true("read EIO: and a new generation", inv2["generation"] > inv["generation"])

    # The device endpoint reads live: a device attribute failing with EIO.
    dattr = device_attr(A_DEVICE)
    checks.eq("device read EIO: fault set", "ok", sim.ctl("fault", dattr, "read", "EIO"))
    status, body = a.request("GET", "/v1/devices/%s/migration_version" % A_DEVICE)
    checks.eq("device read EIO: the endpoint reports errno 5", (200, faulted),
              (status, body.get("migration") if isinstance(body, dict) else body))
    checks.eq("device read EIO: cleared", "ok", sim.ctl("clear", dattr))
    status, body = a.request("GET", "/v1/devices/%s/migration_version" % A_DEVICE)
    checks.eq("device read EIO: the version is back",
              (200, "10de:1eb8:nvidia-222-535.104"),
              (status, body.get("migration", {}).get("version") if isinstance(body, dict) else body))


def check_write_eio(checks, cluster):
    a, sim = cluster.collectors["gpu-a"], cluster.sims["gpu-a"]
    for label, attr, kwargs in [
            ("type", type_attr("0000:d8:00.0", "nvidia-222"), {"parent": "0000:d8:00.0"}),
            ("device", device_attr(A_DEVICE), {"device": A_DEVICE})]:
        checks.eq("write EIO %s: fault set" % label, "ok",
                  sim.ctl("fault", attr, "write", "EIO", "1"))
        before = sim.counts(attr)[1]
        status, body = a.probe("nvidia-222", OLDER, **kwargs)
        checks.eq("write EIO %s: incompatible with errno 5" % label,
                  (200, False, "incompatible", EIO),
                  (status, body.get("compatible"), body.get("verdict"), body.get("errno")))
        checks.true("write EIO %s: error %r starts with EIO" % (label, body.get("error")),
                    str(body.get("error")).startswith("EIO"))
        checks.eq("write EIO %s: one write" % label, 1, sim.counts(attr)[1] - before)
        status, body = a.probe("nvidia-222", OLDER, **kwargs)
        checks.eq("write EIO %s: the next probe works" % label,
                  (200, True, "compatible", None),
                  (status, body.get("compatible"), body.get("verdict"), body.get("errno")))
        checks.eq("write EIO %s: two writes in all" % label, 2, sim.counts(attr)[1] - before)


def check_delay(checks, cluster):
    a, sim = cluster.collectors["gpu-a"], cluster.sims["gpu-a"]
    attr = type_attr("0000:d8:00.0", "nvidia-234")
    delay_ms = 400
    checks.eq("delay: set", "ok", sim.ctl("delay", attr, "write", str(delay_ms), "1"))
    status, body = a.probe("nvidia-234", "10de:1eb8:nvidia-234-535.54", parent="0000:d8:00.0")
    checks.eq("delay: the probe answers, compatible", (200, "compatible"),
              (status, body.get("verdict")))
    checks.true("delay: elapsed_us %r >= %d ms" % (body.get("elapsed_us"), delay_ms),
                isinstance(body.get("elapsed_us"), int) and body["elapsed_us"] >= delay_ms * 1000)
    status, body = a.probe("nvidia-234", "10de:1eb8:nvidia-234-535.54", parent="0000:d8:00.0")
    checks.eq("delay: only once", (200, "compatible"), (status, body.get("verdict")))


def check_recreated_device(checks, cluster):
    """Probes open the attribute through a kept directory fd; a device
    removed and made again under the same UUID must be probed afresh."""
    a, sim = cluster.collectors["gpu-a"], cluster.sims["gpu-a"]
    status, body = a.probe("nvidia-222", OLDER, device=A_DEVICE)
    checks.eq("kept dir: first device probe", (200, "compatible"), (status, body.get("verdict")))
    checks.true("kept dir: the device directory fd is kept (metric)",
                (metric(a, "mdevmig_collector_probe_dirs_kept") or 0) >= 1)
    dev_dir = os.path.join(sim.sysfs, "bus/mdev/devices", A_DEVICE)
    with open(os.path.join(dev_dir, "remove"), "w") as f:
        f.write("1")
    status, body = a.probe("nvidia-222", OLDER, device=A_DEVICE)
    checks.eq("kept dir: removed device is gone, not probed through the old fd (got %r)" % (body,),
              404, status)
    create = os.path.join(sim.sysfs, "class/mdev_bus/0000:3b:00.0/mdev_supported_types",
                          "nvidia-222/create")
    with open(create, "w") as f:
        f.write(A_DEVICE)
    checks.true("kept dir: the device is back in the inventory",
                poll(lambda: any(d["uuid"] == A_DEVICE for d in a.inventory()["devices"])))
    before = sim.counts(device_attr(A_DEVICE))[1]
    status, body = a.probe("nvidia-222", OLDER, device=A_DEVICE)
    checks.eq("kept dir: the re-created device is probed", (200, "compatible"),
              (status, body.get("verdict")))
    checks.eq("kept dir: one write on the new device's attribute", before + 1,
              sim.counts(device_attr(A_DEVICE))[1])
    checks.true("kept dir: collector alive", a.proc.poll() is None)


def check_killed_sim(checks, cluster):
    b, sim = cluster.collectors["gpu-b"], cluster.sims["gpu-b"]
    good = b.inventory()
    failures0 = metric(b, "mdevmig_collector_scan_failures_total")
    sim.kill()
    try:
        os.listdir(sim.sysfs)
        listed = 0
    except OSError as e:
        listed = e.errno
    checks.eq("killed: the mount answers ENOTCONN", errno.ENOTCONN, listed)

    checks.true("killed: the log says the scan failed",
                poll(lambda: "scan failed" in log_text(b)))
    # Several failed scans later, the last good inventory is still served whole.
    checks.true("killed: scans keep failing (metric)", poll(
        lambda: (metric(b, "mdevmig_collector_scan_failures_total") or 0) >= failures0 + 3))
    status, health = b.request("GET", "/v1/health", auth=False)
    checks.eq("killed: health answers degraded (serving the last good inventory)",
              (200, "degraded"),
              (status, health.get("status") if isinstance(health, dict) else health))
    now = b.inventory()
    checks.eq("killed: the inventory is the last good one", strip_volatile(good), strip_volatile(now))
    checks.eq("killed: generation unchanged", good["generation"], now["generation"])

    status, body = b.probe("nvidia-222", OLDER)
    # Not a verdict: a scheduler must not cache a dead mount as a refusal.
    checks.eq("killed: the probe is 503, not a verdict (got %r)" % (body,), 503, status)
    checks.true("killed: collector alive after the probe", b.proc.poll() is None)
    checks.eq("killed: health after the probe", 200, b.request("GET", "/v1/health", auth=False)[0])
    status, _ = b.request("GET", "/metrics")
    checks.eq("killed: metrics answer", 200, status)

    # The mount comes back: unmount the dead one, start mdevsim again.
    rc = os.system("fusermount3 -u '%s'" % sim.mount)
    checks.eq("killed: fusermount3 -u", 0, rc)
    # With the mount gone the root is an empty directory: still not a host
    # with nothing, so the last good inventory stays.
    failures1 = metric(b, "mdevmig_collector_scan_failures_total")
    checks.true("unmounted: scans fail", poll(
        lambda: (metric(b, "mdevmig_collector_scan_failures_total") or 0) >= failures1 + 2))
    checks.eq("unmounted: the inventory is still the last good one",
              strip_volatile(good), strip_volatile(b.inventory()))
    if os.path.exists(sim.sock):
        os.unlink(sim.sock)
    sim.start()
    checks.eq("restarted: mdevsim answers", "ok", sim.ctl("ping"))
    checks.true("restarted: the log says the scan recovered",
                poll(lambda: "scan recovered" in log_text(b)))
    checks.true("restarted: health is ok again",
                poll(lambda: b.request("GET", "/v1/health", auth=False)[1].get("status") == "ok"))
    status, body = b.probe("nvidia-222", OLDER)
    checks.eq("restarted: a probe works", (200, "compatible"), (status, body.get("verdict")))
    inv = b.inventory()
    checks.eq("restarted: the same tree, the same content", strip_volatile(good)["parents"],
              inv["parents"])
    new_version = "10de:1eb8:nvidia-222-535.161"
    checks.eq("restarted: upgrade", "ok", sim.ctl(
        "version", "sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-222", new_version))
    inv2 = poll(lambda: (lambda i: i if find_type(i, "0000:3b:00.0", "nvidia-222")["migration"]
                         .get("version") == new_version else None)(b.inventory()))
    checks.true("restarted: the version change is seen", inv2 is not None)
    if inv2 is not None:
        checks.true("restarted: with a new generation", inv2["generation"] > good["generation"])
    status, body = b.probe("nvidia-222", "10de:1eb8:nvidia-222-535.129", parent="0000:3b:00.0")
    checks.eq("restarted: probes follow the new version", (200, "compatible"),
              (status, body.get("verdict")))
    checks.true("restarted: collector alive", b.proc.poll() is None)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-it") as cluster:
        for name in ("gpu-a", "gpu-b"):
            cluster.add_host(name, os.path.join(source, "deploy/cluster", name + ".json"))
        check_read_eio(checks, cluster)
        check_write_eio(checks, cluster)
        check_delay(checks, cluster)
        check_recreated_device(checks, cluster)
        check_killed_sim(checks, cluster)
        # The other host never noticed.
        a = cluster.collectors["gpu-a"]
        status, body = a.probe("nvidia-222", OLDER)
        checks.eq("gpu-a unaffected by gpu-b's outage", (200, "compatible"),
                  (status, body.get("verdict")))
        for name, collector in cluster.collectors.items():
            checks.true(name + ": collector still running", collector.proc.poll() is None)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
