"""Heartbeats and batched snapshots into mdevmig-sched (DESIGN.md §7,
Scale; issue 15):

- a collector whose inventory is unchanged heartbeats with its
  generation alone (POST /v1/hosts/{host}/heartbeat {"generation": N}):
  the registry keeps the same generation, last_seen moves, and
  mdevmig_sched_snapshot_writes_total stays where it was;
- a heartbeat of another generation, or of a host the registry lacks,
  gets 409 naming what is held (or null); a malformed one 400;
- the sched restarted on an empty registry: the collectors' next
  heartbeats get 409 and they send their full inventories at once (the
  write counter moves, the hosts reappear);
- a stale host becomes fresh by heartbeats alone (no snapshot written);
- 8 threads posting interleaved generations of the same and of different
  hosts at once (group commit): the registry ends with each host's newest
  generation and its content, never an older one.

usage: test_heartbeat.py BUILD_DIR SOURCE_DIR
"""

import copy
import os
import random
import re
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

STALE_AFTER = 3
BATCH_HOSTS = ["batch-%d" % i for i in range(4)]
BATCH_GENERATIONS = 24
BATCH_THREADS = 8


def poll(what, timeout=30, interval=0.1):
    deadline = time.time() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.time() > deadline:
            return None
        time.sleep(interval)


def host_row(path, host):
    """(generation, last_seen, scanned_at) as the registry file holds it."""
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        rows = db.execute("SELECT generation, last_seen, scanned_at FROM hosts WHERE name = ?",
                          (host,)).fetchall()
        return rows[0] if rows else None
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def metric(daemon, name, **labels):
    status, text = daemon.request("GET", "/metrics")
    if status != 200:
        return None
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if m and m.group(1) == name and (m.group(2) or "") == want:
            return float(m.group(3))
    return None


def inventory_entry(sched, host):
    status, body = sched.request("GET", "/v1/hosts/%s/inventory" % host)
    return body if status == 200 else None


def heartbeat(sched, host, body, raw=None):
    return sched.request("POST", "/v1/hosts/%s/heartbeat" % host, body, raw=raw)


def check_touch(checks, sched):
    """A heartbeat of the generation held moves last_seen only."""
    row = host_row(sched.registry, "gpu-a")
    writes = metric(sched, "mdevmig_sched_snapshot_writes_total")
    touched = metric(sched, "mdevmig_sched_ingest_total", outcome="heartbeat") or 0
    time.sleep(2.2)  # last_seen has a resolution of 1 s
    status, body = heartbeat(sched, "gpu-a", {"generation": row[0]})
    checks.eq("touch: 200 {generation, touched}", (200, {"generation": row[0], "touched": True}),
              (status, body))
    # The flush thread writes it within a second; GET /v1/inventory flushes.
    moved = poll(lambda: (lambda r: r if r and r[1] > row[1] else None)(
        host_row(sched.registry, "gpu-a")), timeout=5)
    checks.true("touch: last_seen moved in the registry file (from %d)" % row[1],
                moved is not None)
    if moved is not None:
        checks.eq("touch: the same generation", row[0], moved[0])
        checks.eq("touch: the snapshot itself untouched (scanned_at)", row[2], moved[2])
    entry = inventory_entry(sched, "gpu-a")
    checks.true("touch: GET shows the fresh last_seen",
                entry is not None and entry["last_seen"] >= time.time() - 2)
    checks.eq("touch: no snapshot written (the collectors heartbeat too)", writes,
              metric(sched, "mdevmig_sched_snapshot_writes_total"))
    checks.true("touch: heartbeats counted",
                (metric(sched, "mdevmig_sched_ingest_total", outcome="heartbeat") or 0)
                > touched)


def check_conflict(checks, sched):
    """Another generation, an unknown host, bad bodies."""
    row = host_row(sched.registry, "gpu-a")
    conflicts = metric(sched, "mdevmig_sched_ingest_total", outcome="heartbeat_conflict") or 0
    status, body = heartbeat(sched, "gpu-a", {"generation": row[0] + 100})
    checks.eq("conflict: another generation gets 409 naming the one held",
              (409, row[0]), (status, body.get("generation") if isinstance(body, dict) else body))
    checks.true("conflict: the message says to send the inventory",
                isinstance(body, dict) and "send the full inventory" in body.get("error", ""))
    status, body = heartbeat(sched, "gpu-unknown", {"generation": 1})
    checks.eq("conflict: an unknown host gets 409 with generation null",
              (409, None), (status, body.get("generation", 0) if isinstance(body, dict) else body))
    checks.eq("conflict: counted", conflicts + 2,
              metric(sched, "mdevmig_sched_ingest_total", outcome="heartbeat_conflict"))
    checks.eq("conflict: the registry keeps its generation", row[0],
              host_row(sched.registry, "gpu-a")[0])
    for name, body, raw in (("no generation", {}, None), ("a negative one", {"generation": -1},
                                                           None),
                            ("an unknown field", {"generation": 1, "host": "gpu-a"}, None),
                            ("not JSON", None, "generation=1")):
        status, _ = heartbeat(sched, "gpu-a", body, raw=raw)
        checks.eq("bad heartbeat (%s): 400" % name, 400, status)
    status, _ = heartbeat(sched, "bad_host!", {"generation": 1})
    checks.eq("bad heartbeat (host name): 400", 400, status)
    status, _ = sched.request("GET", "/v1/hosts/gpu-a/heartbeat")
    checks.eq("GET heartbeat: 405", 405, status)


def check_stale_fresh(checks, cluster, sched):
    """gpu-b's collector stops; heartbeats alone make it fresh again."""
    b = cluster.collectors["gpu-b"]
    b.stop()
    stale = poll(lambda: (inventory_entry(sched, "gpu-b") or {}).get("stale"), timeout=15)
    checks.true("stale: gpu-b goes stale without its collector", stale)
    checks.true("stale: /metrics counts it",
                (metric(sched, "mdevmig_sched_hosts_stale") or 0) >= 1)
    writes = metric(sched, "mdevmig_sched_snapshot_writes_total")
    generation = host_row(sched.registry, "gpu-b")[0]
    status, body = heartbeat(sched, "gpu-b", {"generation": generation})
    checks.eq("stale: a heartbeat touches it", 200, status)
    entry = inventory_entry(sched, "gpu-b")
    checks.eq("stale: fresh again by the heartbeat alone", False,
              entry is not None and entry["stale"])
    checks.eq("stale: /metrics no longer counts it", 0, metric(sched, "mdevmig_sched_hosts_stale"))
    checks.eq("stale: no snapshot written", writes,
              metric(sched, "mdevmig_sched_snapshot_writes_total"))
    b.start()


def check_restart_empty(checks, cluster, sched):
    """The sched comes back on an empty registry: 409s, then inventories."""
    sched.stop()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(sched.registry + suffix):
            os.unlink(sched.registry + suffix)
    published = {n: metric(c, "mdevmig_collector_publish_total") or 0
                 for n, c in cluster.collectors.items()}
    sched.start()
    back = poll(lambda: all(host_row(sched.registry, n) for n in cluster.collectors), timeout=30)
    checks.true("restart: every host is back in the empty registry", back)
    checks.true("restart: heartbeats met 409",
                (metric(sched, "mdevmig_sched_ingest_total", outcome="heartbeat_conflict") or 0)
                >= len(cluster.collectors))
    checks.true("restart: the inventories were written",
                (metric(sched, "mdevmig_sched_snapshot_writes_total") or 0)
                >= len(cluster.collectors))
    for n, c in cluster.collectors.items():
        checks.true("restart: %s published its inventory again" % n,
                    poll(lambda: (metric(c, "mdevmig_collector_publish_total") or 0)
                         > published[n], timeout=10))
        inv = c.inventory()
        checks.eq("restart: %s's generation held" % n, inv["generation"],
                  (host_row(sched.registry, n) or (None,))[0])
    # Then heartbeats again: no more writes.
    writes = metric(sched, "mdevmig_sched_snapshot_writes_total")
    touched = metric(sched, "mdevmig_sched_ingest_total", outcome="heartbeat") or 0
    checks.true("restart: heartbeats resume", poll(
        lambda: (metric(sched, "mdevmig_sched_ingest_total", outcome="heartbeat") or 0)
        >= touched + len(cluster.collectors), timeout=10))
    checks.eq("restart: and write nothing", writes,
              metric(sched, "mdevmig_sched_snapshot_writes_total"))


def check_batched(checks, sched, template):
    """Interleaved generations from 8 threads: each host ends at its newest."""
    def snapshot(host, generation):
        inv = copy.deepcopy(template)
        inv["host"] = host
        inv["generation"] = generation
        inv["scanned_at"] = 1700000000 + generation  # which generation's content won
        inv["collector_url"] = None
        inv["instances"] = []
        for d in inv["devices"]:
            d["instance"] = None
        return inv

    posts = [(h, g) for h in BATCH_HOSTS for g in range(1, BATCH_GENERATIONS + 1)]
    random.Random(15).shuffle(posts)
    shares = [posts[i::BATCH_THREADS] for i in range(BATCH_THREADS)]
    failures = []
    batches = metric(sched, "mdevmig_sched_snapshot_batches_total") or 0
    start = threading.Barrier(BATCH_THREADS)

    def run(share):
        start.wait()
        for host, generation in share:
            status, body = sched.request("POST", "/v1/hosts/%s/inventory" % host,
                                         snapshot(host, generation))
            if status != 200:
                failures.append((host, generation, status, body))

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checks.eq("batched: every post answered 200", [], failures)
    for host in BATCH_HOSTS:
        row = host_row(sched.registry, host)
        checks.eq("batched: %s holds its newest generation and its content" % host,
                  (BATCH_GENERATIONS, 1700000000 + BATCH_GENERATIONS),
                  (row[0], row[2]) if row else None)
        entry = inventory_entry(sched, host)
        checks.eq("batched: GET %s gives the newest" % host, BATCH_GENERATIONS,
                  entry and entry["inventory"]["generation"])
    took = (metric(sched, "mdevmig_sched_snapshot_batches_total") or 0) - batches
    print("# %d snapshots took %d transactions" % (len(posts), took))
    checks.true("batched: no more transactions than snapshots (%d)" % took,
                0 < took <= len(posts))


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-it") as cluster:
        sched = cluster.add_sched(extra=["--stale-after", str(STALE_AFTER)])
        for name in ("gpu-a", "gpu-b"):
            cluster.add_host(name, os.path.join(source, "deploy/cluster", name + ".json"),
                             registry=None, extra=["--registry", sched.url])
        ready = poll(lambda: all(host_row(sched.registry, n) for n in ("gpu-a", "gpu-b")))
        checks.true("both hosts published", ready)
        if not ready:
            print(open(sched.log).read()[-4000:])
            return checks.finish()
        # The collectors now only heartbeat: give them a few.
        checks.true("collectors heartbeat", poll(
            lambda: (metric(sched, "mdevmig_sched_ingest_total", outcome="heartbeat") or 0) >= 2))
        template = inventory_entry(sched, "gpu-a")["inventory"]
        check_touch(checks, sched)
        check_conflict(checks, sched)
        check_stale_fresh(checks, cluster, sched)
        check_batched(checks, sched, template)
        check_restart_empty(checks, cluster, sched)
        checks.true("the sched is still running", sched.proc.poll() is None)
        sched.stop()
        checks.eq("the sched stops cleanly", 0, sched.proc.returncode)
        log = open(sched.log).read()
        checks.eq("no sanitizer report in the sched's log", [],
                  re.findall(r"(?:AddressSanitizer|LeakSanitizer|runtime error).*", log))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
