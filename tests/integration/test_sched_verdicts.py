"""No wrong or poisoned verdicts (issue 12): only what a driver's store()
answers is a verdict, and only a well-formed probe reply carries one.

  - mdevsim killed while a probe's write(2) waits in it: the collector
    answers 503 (the write never reached the driver), the sched reports the
    host unreachable with that reason, and the probe cache keeps the
    compatible verdict it had; the collector lets go of the dead mount, so
    fusermount3 -u succeeds at once.
  - a collector that answers POST /v1/probe with something that is not a
    well-formed probe reply ({"verdict": "compatible"} alone,
    "compatible": "yes", a verdict for another host, an errno with
    "unsupported", HTML): unreachable with the codec's reason, nothing
    cached; the same collector answering a well-formed reply: compatible.

usage: test_sched_verdicts.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, free_port  # noqa: E402

VM_222 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01"  # gpu-a, one nvidia-222 mdev
ATTR = "sys/class/mdev_bus/%s/mdev_supported_types/nvidia-222/migration_version"


def cached(registry, host):
    db = sqlite3.connect("file:%s?mode=ro" % registry, uri=True, timeout=10)
    try:
        return sorted(r[0] for r in db.execute(
            "SELECT verdict FROM probe_cache WHERE target_host = ?", (host,)))
    finally:
        db.close()


def filter_one(sched, host):
    status, body = sched.request("POST", "/v1/filter", {"instance": VM_222, "hosts": [host]})
    if status != 200:
        return status, None, None
    h = body["hosts"][0]
    return status, h["verdict"], h.get("error") or ""


def check_dying_fuse(checks, cluster, sched):
    d = cluster.collectors["gpu-d"]
    sim = cluster.sims["gpu-d"]
    status, verdict, _ = filter_one(sched, "gpu-d")
    checks.eq("gpu-d accepts VM_222 while its mdevsim lives", "compatible", verdict)
    checks.true("the compatible verdict is cached", "compatible" in cached(sched.registry, "gpu-d"))

    parents = [p["name"] for p in d.inventory()["parents"]
               if any(t["id"] == "nvidia-222" for t in p["types"])]
    for parent in parents:
        sim.ctl("delay", ATTR % parent, "write", "4000")
    result = {}

    def run():
        result["answer"] = filter_one(sched, "gpu-d")
    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(1.0)  # the write now waits inside mdevsim
    sim.kill(signal.SIGKILL)
    worker.join(30)
    status, verdict, error = result.get("answer", (None, None, None))
    checks.eq("mdevsim killed mid-write: the filter still answers", 200, status)
    checks.eq("mdevsim killed mid-write: gpu-d is unreachable, not incompatible",
              "unreachable", verdict)
    checks.true("the reason says the write did not reach the driver (%r)" % error,
                "did not reach the driver" in (error or ""))
    checks.eq("the cache keeps the compatible verdict", ["compatible"],
              cached(sched.registry, "gpu-d"))
    # The collector dropped its kept directory fds on the dead mount.
    time.sleep(0.5)
    run = subprocess.run(["fusermount3", "-u", sim.mount], capture_output=True, text=True)
    checks.eq("the dead mount unmounts at once (%s)" % run.stderr.strip(), 0, run.returncode)
    status, body = d.request("GET", "/metrics")
    checks.true("the collector counts the probe error",
                status == 200 and "mdevmig_collector_probe_errors_total 1" in body)


class FakeCollector:
    """A collector that answers every probe with the body it is told to:
    what a broken or hostile collector might send."""

    def __init__(self, address):
        self.body = b"{}"
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = owner.body
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer((address, free_port(address)), Handler)
        self.url = "http://%s:%d" % self.server.server_address
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def check_malformed_replies(checks, cluster, sched):
    fake = FakeCollector("127.0.0.9")
    try:
        inv = cluster.collectors["gpu-b"].inventory()
        inv = dict(inv, host="fake", collector_url=fake.url, generation=1)
        status, body = sched.request("POST", "/v1/hosts/fake/inventory", inv)
        checks.eq("a fake collector registers as host fake", 200, status)
        good = {"compatible": True, "verdict": "compatible", "level": "type", "host": "fake",
                "parent": inv["parents"][0]["name"], "errno": None, "error": None,
                "target_version": None, "elapsed_us": 10}
        cases = [
            ("{\"verdict\": \"compatible\"} alone", {"verdict": "compatible"},
             "\"compatible\" must be true or false"),
            ("\"compatible\": \"yes\"", dict(good, compatible="yes"),
             "\"compatible\" must be true or false"),
            ("compatible with verdict incompatible", dict(good, verdict="incompatible"),
             "disagrees"),
            ("a verdict for another host", dict(good, host="gpu-d"), "answered as host gpu-d"),
            ("an errno with unsupported", dict(good, compatible=False, verdict="unsupported",
                                               errno=2), "only a refusing driver"),
            ("a field the codec does not know", dict(good, trust_me=True), "unknown field"),
        ]
        for name, reply, reason in cases:
            fake.body = json.dumps(reply).encode()
            status, verdict, error = filter_one(sched, "fake")
            checks.eq(name + ": unreachable", "unreachable", verdict)
            checks.true(name + ": the reason names the fault (%r)" % error, reason in error)
        fake.body = b"<html>not a collector</html>"
        status, verdict, error = filter_one(sched, "fake")
        checks.eq("an HTML page: unreachable", "unreachable", verdict)
        checks.true("an HTML page: not JSON (%r)" % error, "not JSON" in error)
        checks.eq("nothing malformed was cached", [], cached(sched.registry, "fake"))
        # The control: the same collector with a well-formed reply.
        fake.body = json.dumps(good).encode()
        status, verdict, error = filter_one(sched, "fake")
        checks.eq("a well-formed compatible reply is a verdict", "compatible", verdict)
    finally:
        fake.close()


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-verdicts") as cluster:
        sched = cluster.add_sched()
        ready = cluster.add_deploy_hosts(source, ["gpu-a", "gpu-b", "gpu-d"], sched)
        checks.true("the registry lists every host", ready)
        if ready:
            check_malformed_replies(checks, cluster, sched)
            check_dying_fuse(checks, cluster, sched)
        log = open(sched.log).read()
        checks.true("no sanitizer report from the sched",
                    "Sanitizer" not in log and "runtime error" not in log)
        collector_log = open(cluster.collectors["gpu-d"].log).read()
        checks.true("no sanitizer report from gpu-d's collector",
                    "Sanitizer" not in collector_log and "runtime error" not in collector_log)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
