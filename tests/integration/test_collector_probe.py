"""Write-probes between simulated hosts give exactly what each vendor rule
says (DESIGN.md §1): i915's exact match, the T4 hosts' newer-minor rule
(deploy/cluster/gpu-{a,b,c}: 535.104, 535.54, 550.54), mtty's accept list
(mtty-2 refuses with EOPNOTSUPP), a target whose attribute fails with
ENODEV (readfail), and a target without the attribute (nomig). The source
version of every probe is read from a host's inventory or from its live
device endpoint, as the scheduler would; mdevsim's counters prove that each
probe wrote the exact target attribute once and nothing else. Then a driver
upgrade (mdevsim's `version` command) shows in the next inventory with a
new generation and digest, and later probes follow the new version.

usage: test_collector_probe.py BUILD_DIR SOURCE_DIR
"""

import hashlib
import http.client
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import TOKEN, Checks, Cluster  # noqa: E402

FIXTURES = {
    "t4": "tests/sim/fixtures/t4.json",
    "i915": "tests/sim/fixtures/i915.json",
    "mtty": "tests/sim/fixtures/mtty.json",
    "nomig": "tests/sim/fixtures/nomig.json",
    "readfail": "tests/sim/fixtures/readfail.json",
    "gpu-a": "deploy/cluster/gpu-a.json",
    "gpu-b": "deploy/cluster/gpu-b.json",
    "gpu-c": "deploy/cluster/gpu-c.json",
}

T4_DEV_1 = "c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c01"
T4_DEV_3 = "d27e0b44-9f1a-4c3e-8b6d-5a4c3b2a1f03"
I915_DEV = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
MTTY_DEV = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
NOMIG_DEV = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
READFAIL_DEV = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

EINVAL, ENODEV, EOPNOTSUPP = 22, 19, 95

# Where the source version comes from:
#   ("type", host, parent, type_id)  -- the host's inventory
#   ("device", host, uuid)           -- GET /v1/devices/<uuid>/migration_version
#   ("literal", version)             -- a version no fixture host has (older/newer)
# expect: verdict, errno, the errno's name that "error" starts with.
CASES = [
    # T4, newer-minor: an older minor goes into a newer driver, not back.
    dict(name="gpu-b 535.54 into gpu-a 535.104", source=("type", "gpu-b", "0000:3b:00.0", "nvidia-222"),
         target="gpu-a", type="nvidia-222", expect=("compatible", None, None)),
    dict(name="gpu-a 535.104 into gpu-b 535.54", source=("type", "gpu-a", "0000:3b:00.0", "nvidia-222"),
         target="gpu-b", type="nvidia-222", expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="gpu-a 535.104 into gpu-c 550.54", source=("type", "gpu-a", "0000:d8:00.0", "nvidia-222"),
         target="gpu-c", type="nvidia-222", expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="gpu-b 535.54 into gpu-c 550.54", source=("type", "gpu-b", "0000:d8:00.0", "nvidia-223"),
         target="gpu-c", type="nvidia-223", expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="gpu-c 550.54 into gpu-a 535.104", source=("type", "gpu-c", "0000:3b:00.0", "nvidia-234"),
         target="gpu-a", type="nvidia-234", expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="gpu-a into gpu-a (same version)", source=("type", "gpu-a", "0000:3b:00.0", "nvidia-223"),
         target="gpu-a", type="nvidia-223", expect=("compatible", None, None)),
    dict(name="t4 535.104 into gpu-a 535.104", source=("type", "t4", "0000:d8:00.0", "nvidia-234"),
         target="gpu-a", type="nvidia-234", expect=("compatible", None, None)),
    dict(name="gpu-b nvidia-222 version into gpu-a nvidia-223 (other type in the string)",
         source=("type", "gpu-b", "0000:3b:00.0", "nvidia-222"),
         target="gpu-a", type="nvidia-223", expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="gpu-b into gpu-a, parent 0000:3b:00.0 named",
         source=("type", "gpu-b", "0000:3b:00.0", "nvidia-223"), target="gpu-a", type="nvidia-223",
         parent="0000:3b:00.0", expect=("compatible", None, None)),
    dict(name="gpu-a into gpu-b, parent 0000:d8:00.0 named",
         source=("type", "gpu-a", "0000:3b:00.0", "nvidia-223"), target="gpu-b", type="nvidia-223",
         parent="0000:d8:00.0", expect=("incompatible", EINVAL, "EINVAL")),
    # T4 device level: the device folds in its type's newer-minor rule.
    dict(name="gpu-b 535.54 into t4 device (535.104)", source=("type", "gpu-b", "0000:3b:00.0", "nvidia-222"),
         target="t4", type="nvidia-222", device=T4_DEV_1, expect=("compatible", None, None)),
    dict(name="gpu-c 550.54 into t4 device (535.104)", source=("type", "gpu-c", "0000:3b:00.0", "nvidia-222"),
         target="t4", type="nvidia-222", device=T4_DEV_1, expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="t4 device version into gpu-a type", source=("device", "t4", T4_DEV_3),
         target="gpu-a", type="nvidia-223", expect=("compatible", None, None)),
    dict(name="t4 device version into gpu-b type", source=("device", "t4", T4_DEV_3),
         target="gpu-b", type="nvidia-223", expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="device of another type: no-type, no write", source=("type", "gpu-b", "0000:3b:00.0", "nvidia-223"),
         target="t4", type="nvidia-223", device=T4_DEV_1, expect=("no-type", None, None)),
    # i915 GVT-g: exact match only.
    dict(name="i915 V5_4 into itself", source=("type", "i915", "0000:00:02.0", "i915-GVTg_V5_4"),
         target="i915", type="i915-GVTg_V5_4", expect=("compatible", None, None)),
    dict(name="i915 device version into its type", source=("device", "i915", I915_DEV),
         target="i915", type="i915-GVTg_V5_4", expect=("compatible", None, None)),
    dict(name="i915 V5_8 version into V5_4", source=("type", "i915", "0000:00:02.0", "i915-GVTg_V5_8"),
         target="i915", type="i915-GVTg_V5_4", expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="i915 newer software version refused", source=("literal", "8086-591d-i915-GVTg_V5_4-00000002"),
         target="i915", type="i915-GVTg_V5_4", expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="i915 device: exact version", source=("type", "i915", "0000:00:02.0", "i915-GVTg_V5_4"),
         target="i915", type="i915-GVTg_V5_4", device=I915_DEV, expect=("compatible", None, None)),
    dict(name="i915 device: other version", source=("type", "i915", "0000:00:02.0", "i915-GVTg_V5_8"),
         target="i915", type="i915-GVTg_V5_4", device=I915_DEV.upper(), expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="i915 device: type mismatch", source=("type", "i915", "0000:00:02.0", "i915-GVTg_V5_8"),
         target="i915", type="i915-GVTg_V5_8", device=I915_DEV, expect=("no-type", None, None)),
    # An unsupported generation: the write fails ENODEV.
    dict(name="i915 into readfail type (ENODEV)", source=("type", "i915", "0000:00:02.0", "i915-GVTg_V5_4"),
         target="readfail", type="i915-GVTg_V4_2", expect=("incompatible", ENODEV, "ENODEV")),
    dict(name="i915 into readfail device (ENODEV)", source=("device", "i915", I915_DEV),
         target="readfail", type="i915-GVTg_V4_2", device=READFAIL_DEV, expect=("incompatible", ENODEV, "ENODEV")),
    # mtty: an explicit accept list; mtty-2 refuses with EOPNOTSUPP.
    dict(name="mtty-1 v2 into mtty-1", source=("type", "mtty", "mtty", "mtty-1"),
         target="mtty", type="mtty-1", expect=("compatible", None, None)),
    dict(name="mtty-1 v1 (listed) into mtty-1", source=("literal", "mtty-1-v1"),
         target="mtty", type="mtty-1", expect=("compatible", None, None)),
    dict(name="mtty-1 v3 (not listed) into mtty-1", source=("literal", "mtty-1-v3"),
         target="mtty", type="mtty-1", expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="mtty-2 v2 into mtty-2", source=("type", "mtty", "mtty", "mtty-2"),
         target="mtty", type="mtty-2", expect=("compatible", None, None)),
    dict(name="mtty-1 version into mtty-2 (EOPNOTSUPP)", source=("type", "mtty", "mtty", "mtty-1"),
         target="mtty", type="mtty-2", expect=("incompatible", EOPNOTSUPP, "EOPNOTSUPP")),
    dict(name="mtty device version into mtty-2 type (EOPNOTSUPP)", source=("device", "mtty", MTTY_DEV),
         target="mtty", type="mtty-2", expect=("incompatible", EOPNOTSUPP, "EOPNOTSUPP")),
    dict(name="mtty device version into the device", source=("device", "mtty", MTTY_DEV),
         target="mtty", type="mtty-2", device=MTTY_DEV, expect=("compatible", None, None)),
    dict(name="mtty-2 type version into the device (exact rule)", source=("type", "mtty", "mtty", "mtty-2"),
         target="mtty", type="mtty-2", device=MTTY_DEV, expect=("incompatible", EINVAL, "EINVAL")),
    dict(name="mtty device: type mismatch", source=("device", "mtty", MTTY_DEV),
         target="mtty", type="mtty-1", device=MTTY_DEV, expect=("no-type", None, None)),
    # No attribute on the target: unsupported, nothing written.
    dict(name="t4 version into nomig type", source=("type", "t4", "0000:3b:00.0", "nvidia-222"),
         target="nomig", type="mdpy-hd", expect=("unsupported", None, None)),
    dict(name="t4 version into nomig device", source=("type", "t4", "0000:3b:00.0", "nvidia-222"),
         target="nomig", type="mdpy-hd", device=NOMIG_DEV, expect=("unsupported", None, None)),
]


def type_attr(parent, type_id):
    return "sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version" % (parent, type_id)


def device_attr(uuid):
    return "sys/bus/mdev/devices/%s/migration_version" % uuid


def migration_attrs(inv):
    """Every migration_version attribute the inventory says exists."""
    paths = [type_attr(p["name"], t["id"]) for p in inv["parents"] for t in p["types"]
             if t["migration"]["supported"]]
    paths += [device_attr(d["uuid"]) for d in inv["devices"] if d["migration"]["supported"]]
    return paths


def write_counts(sim, paths):
    return {path: sim.counts(path)[1] for path in paths}


def digest(type_id, version):
    return hashlib.sha256((type_id + "\n" + version).encode()).hexdigest()


def find_type(inv, parent, type_id):
    for p in inv["parents"]:
        if p["name"] == parent:
            for t in p["types"]:
                if t["id"] == type_id:
                    return t
    return None


def find_device(inv, uuid):
    for d in inv["devices"]:
        if d["uuid"] == uuid:
            return d
    return None


def source_version(cluster, spec):
    if spec[0] == "literal":
        return spec[1]
    if spec[0] == "type":
        _, host, parent, type_id = spec
        return find_type(cluster.collectors[host].inventory(), parent, type_id)["migration"]["version"]
    _, host, uuid = spec
    status, body = cluster.collectors[host].request(
        "GET", "/v1/devices/%s/migration_version" % uuid)
    if status != 200:
        raise RuntimeError("device %s on %s: %d %s" % (uuid, host, status, body))
    return body["migration"]["version"]


def expected_target_version(inv, parent, type_id, device):
    mig = (find_device(inv, device)["migration"] if device
           else find_type(inv, parent, type_id)["migration"])
    return mig.get("version")


def run_probe(checks, cluster, case):
    """One probe with its write-count proof. Returns the reply body."""
    name = case["name"]
    collector = cluster.collectors[case["target"]]
    sim = cluster.sims[case["target"]]
    version = source_version(cluster, case["source"])
    inv = collector.inventory()
    attrs = migration_attrs(inv)
    before = write_counts(sim, attrs)
    device = case.get("device")
    status, body = collector.probe(case["type"], version, device=device, parent=case.get("parent"))
    after = write_counts(sim, attrs)
    checks.eq(name + ": HTTP 200", 200, status)
    if status != 200:
        print("    body: %r" % (body,))
        return body
    verdict, err, err_name = case["expect"]
    checks.eq(name + ": verdict", verdict, body.get("verdict"))
    checks.eq(name + ": compatible", verdict == "compatible", body.get("compatible"))
    checks.eq(name + ": level", "device" if device else "type", body.get("level"))
    checks.eq(name + ": host", case["target"], body.get("host"))
    if verdict in ("compatible", "incompatible", "no-type"):
        checks.eq(name + ": errno", err, body.get("errno"))
    else:
        # No driver gave an errno when there is nothing to write to (issue
        # 12): open(2)'s ENOENT is the collector's, not a driver's answer.
        checks.eq(name + ": no errno", None, body.get("errno"))
    if err_name is not None:
        error = body.get("error") or ""
        checks.true(name + ": error %r starts with %s" % (error, err_name),
                    error.startswith(err_name))
    elif verdict == "compatible":
        checks.eq(name + ": no error", None, body.get("error"))
    elif verdict in ("no-type", "unsupported"):
        checks.true(name + ": error says why (%r)" % body.get("error"), body.get("error"))
    if device:
        checks.eq(name + ": device echoed (lower case)", device.lower(), body.get("device"))
        parent = find_device(inv, device.lower())["parent"]
        checks.eq(name + ": parent is the device's", parent, body.get("parent"))
        target = device_attr(device.lower())
    else:
        parent = body.get("parent")
        if case.get("parent"):
            checks.eq(name + ": parent as asked", case["parent"], parent)
        checks.true(name + ": parent %r offers %s" % (parent, case["type"]),
                    find_type(inv, parent, case["type"]) is not None)
        target = type_attr(parent, case["type"])
    if verdict != "no-type":
        checks.eq(name + ": target_version from the inventory",
                  expected_target_version(inv, parent, case["type"], device and device.lower()),
                  body.get("target_version"))
    # Exactly one write(2), on exactly the target attribute; none for
    # no-type (refused before sysfs) or unsupported (nothing to write to).
    diff = {path: after[path] - before[path] for path in attrs if after[path] != before[path]}
    wanted = {target: 1} if verdict in ("compatible", "incompatible") else {}
    checks.eq(name + ": writes per attribute", wanted, diff)
    if verdict == "unsupported":
        checks.true(name + ": mdevsim has no attribute there",
                    sim.ctl("counts", target).startswith("err"))
    checks.true(name + ": elapsed_us is a non-negative int",
                isinstance(body.get("elapsed_us"), int) and body["elapsed_us"] >= 0)
    return body


def check_device_endpoint(checks, cluster):
    """GET /v1/devices/<uuid>/migration_version is a live read."""
    for host, uuid, expect in [
            ("t4", T4_DEV_1, {"supported": True, "version": "10de:1eb8:nvidia-222-535.104",
                              "digest": digest("nvidia-222", "10de:1eb8:nvidia-222-535.104")}),
            ("mtty", MTTY_DEV, {"supported": True, "version": "mtty-2-dev-v2",
                                "digest": digest("mtty-2", "mtty-2-dev-v2")}),
            ("readfail", READFAIL_DEV, {"supported": True, "errno": ENODEV, "error": "ENODEV"}),
            ("nomig", NOMIG_DEV, {"supported": False})]:
        status, body = cluster.collectors[host].request(
            "GET", "/v1/devices/%s/migration_version" % uuid)
        checks.eq("device endpoint %s: 200" % host, 200, status)
        if status == 200:
            checks.eq("device endpoint %s: migration" % host, expect, body.get("migration"))
            checks.eq("device endpoint %s: device" % host, uuid, body.get("device"))
    # Upper case is the same device.
    status, body = cluster.collectors["t4"].request(
        "GET", "/v1/devices/%s/migration_version" % T4_DEV_1.upper())
    checks.eq("device endpoint: upper-case UUID found", (200, T4_DEV_1),
              (status, body.get("device") if isinstance(body, dict) else body))

    # Live: a version changed behind the collector's back shows at once,
    # before any rescan could have been waited for.
    mtty = cluster.collectors["mtty"]
    sim = cluster.sims["mtty"]
    reads_before = sim.counts(device_attr(MTTY_DEV))[0]
    checks.eq("mtty device version set", "ok",
              sim.ctl("version", "sys/bus/mdev/devices/" + MTTY_DEV, "mtty-2-dev-v3"))
    status, body = mtty.request("GET", "/v1/devices/%s/migration_version" % MTTY_DEV)
    checks.eq("device endpoint: live version after the change",
              (200, "mtty-2-dev-v3"), (status, body.get("migration", {}).get("version")))
    checks.true("device endpoint: it read the attribute",
                sim.counts(device_attr(MTTY_DEV))[0] > reads_before)
    # The probes below compare target_version with the inventory: let the
    # rescan settle first.
    checks.true("mtty: the inventory shows the new device version", wait_inventory(
        mtty, lambda inv: find_device(inv, MTTY_DEV)["migration"].get("version")
        == "mtty-2-dev-v3"))
    run_probe(checks, cluster, dict(
        name="mtty device, new version", source=("device", "mtty", MTTY_DEV), target="mtty",
        type="mtty-2", device=MTTY_DEV, expect=("compatible", None, None)))
    run_probe(checks, cluster, dict(
        name="mtty device, old version refused", source=("literal", "mtty-2-dev-v2"),
        target="mtty", type="mtty-2", device=MTTY_DEV, expect=("incompatible", EINVAL, "EINVAL")))


def wait_inventory(collector, predicate, timeout=30):
    deadline = time.time() + timeout
    while True:
        inv = collector.inventory()
        if predicate(inv):
            return inv
        if time.time() > deadline:
            return None
        time.sleep(0.05)


def check_driver_upgrade(checks, cluster):
    """gpu-b goes from 535.54 to 535.129 on both parents."""
    b = cluster.collectors["gpu-b"]
    sim = cluster.sims["gpu-b"]
    old = b.inventory()
    new_version = "10de:1eb8:nvidia-222-535.129"
    parents = ("0000:3b:00.0", "0000:d8:00.0")
    for parent in parents:
        checks.eq("upgrade %s: mdevsim took it" % parent, "ok",
                  sim.ctl("version", "sys/class/mdev_bus/%s/mdev_supported_types/nvidia-222" % parent,
                          new_version))

    def upgraded(inv):
        return all(find_type(inv, p, "nvidia-222")["migration"].get("version") == new_version
                   for p in parents)

    inv = wait_inventory(b, upgraded)
    checks.true("upgrade: the inventory shows the new version", inv is not None)
    if inv is None:
        return
    checks.true("upgrade: generation grew (%d -> %d)" % (old["generation"], inv["generation"]),
                inv["generation"] > old["generation"])
    for parent in parents:
        before = find_type(old, parent, "nvidia-222")["migration"]
        after = find_type(inv, parent, "nvidia-222")["migration"]
        checks.true("upgrade %s: the digest changed" % parent, before["digest"] != after["digest"])
        checks.eq("upgrade %s: digest = sha256(type \\n version)" % parent,
                  digest("nvidia-222", new_version), after["digest"])
        # Untouched types keep theirs.
        checks.eq("upgrade %s: nvidia-223 unchanged" % parent,
                  find_type(old, parent, "nvidia-223")["migration"],
                  find_type(inv, parent, "nvidia-223")["migration"])
    status, health = b.request("GET", "/v1/health", auth=False)
    checks.true("upgrade: health reports a generation at least the inventory's",
                status == 200 and health["generation"] >= inv["generation"])

    # Probes follow: 535.104 now goes into gpu-b, and gpu-b's 535.129 no
    # longer goes into gpu-a.
    run_probe(checks, cluster, dict(
        name="after upgrade: gpu-a 535.104 into gpu-b 535.129",
        source=("type", "gpu-a", "0000:3b:00.0", "nvidia-222"), target="gpu-b", type="nvidia-222",
        expect=("compatible", None, None)))
    run_probe(checks, cluster, dict(
        name="after upgrade: gpu-b 535.129 into gpu-a 535.104",
        source=("type", "gpu-b", "0000:d8:00.0", "nvidia-222"), target="gpu-a", type="nvidia-222",
        expect=("incompatible", EINVAL, "EINVAL")))
    run_probe(checks, cluster, dict(
        name="after upgrade: gpu-b 535.129 into gpu-c 550.54",
        source=("type", "gpu-b", "0000:3b:00.0", "nvidia-222"), target="gpu-c", type="nvidia-222",
        expect=("incompatible", EINVAL, "EINVAL")))
    # nvidia-223 was not upgraded: the old rule still holds there.
    run_probe(checks, cluster, dict(
        name="after upgrade: gpu-a nvidia-223 still refused by gpu-b",
        source=("type", "gpu-a", "0000:3b:00.0", "nvidia-223"), target="gpu-b", type="nvidia-223",
        expect=("incompatible", EINVAL, "EINVAL")))


def check_audit_digests(checks, cluster):
    """Each audit row keeps the digest of the version its probe carried;
    the workers remember the last digest they made, so alternate versions
    and types to catch a stale one."""
    t4 = cluster.collectors["t4"]
    probes = [("nvidia-222", "10de:1eb8:nvidia-222-535.54"),
              ("nvidia-222", "10de:1eb8:nvidia-222-550.54"),
              ("nvidia-223", "10de:1eb8:nvidia-222-550.54"),
              ("nvidia-222", "10de:1eb8:nvidia-222-535.54"),
              ("nvidia-222", "10de:1eb8:nvidia-222-535.54"),
              ("nvidia-222", "10de:1eb8:nvidia-222-550.54")]
    start_us = int(time.time() * 1e6)
    # One keep-alive connection: one worker thread answers them all.
    conn = http.client.HTTPConnection(t4.address, t4.port, timeout=10)
    try:
        for type_id, version in probes:
            conn.request("POST", "/v1/probe", body=json.dumps({"type": type_id, "version": version}),
                         headers={"Authorization": "Bearer " + TOKEN,
                                  "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            checks.eq("audit: probe %s %s answered" % (type_id, version), 200, resp.status)
    finally:
        conn.close()
    wanted = [digest(t, v) for t, v in probes]

    def rows():
        db = sqlite3.connect("file:%s?mode=ro" % t4.audit, uri=True)
        try:
            return [r[0] for r in db.execute(
                "SELECT source_digest FROM probes WHERE at_us >= ? ORDER BY id", (start_us,))]
        finally:
            db.close()
    got = wait_for(lambda: rows() if len(rows()) >= len(probes) else None)
    checks.eq("audit: one row per probe, each with its own version's digest", wanted, got)


def wait_for(what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    return None


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-it") as cluster:
        for name, fixture in FIXTURES.items():
            cluster.add_host(name, os.path.join(source, fixture))
        for name, collector in cluster.collectors.items():
            checks.eq(name + ": inventory names the host", name, collector.inventory()["host"])
        for case in CASES:
            run_probe(checks, cluster, case)
        check_device_endpoint(checks, cluster)
        check_audit_digests(checks, cluster)
        check_driver_upgrade(checks, cluster)
        for name, collector in cluster.collectors.items():
            checks.true(name + ": collector still running", collector.proc.poll() is None)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
