"""Every bad input to mdevmig-sched's HTTP API gets its 4xx with a message
that says what is wrong, sends no probe (no sysfs write anywhere), and
leaves the service answering; the ASan/UBSan build must not report
anything. One case per file in cases/sched_bad_input/NNN-name.json:

  {"description": "...",
   "method": "POST", "path": "/v1/select",
   "auth": true | false | "wrong",        the cluster token, none, or a wrong one
   "headers": {...},                      optional, sent as given (after auth)
   "body": <JSON>,                        optional, sent serialised, or
   "raw_body": "<text>",                  sent as UTF-8 bytes, or
   "raw_body_template": "..@REPEAT@..",   with @REPEAT@ replaced by
   "repeat": {"char": " ", "count": N},   char * N (for large bodies)
   "expect_status": 400,
   "expect_error_contains": "...",        optional: in the reply's "error"
   "expect_headers": {"Allow": "POST"},   optional
   "expect_json": {...},                  optional: these keys of the reply
   "expect_writes": 0}                    optional: sysfs writes it may cause
                                          (default 0; accepted controls may
                                          probe)

Cases run in file order (an accepted ingest comes before the case that
reads it back). The cluster: the sched, gpu-a (deploy/cluster/gpu-a.json
with libvirt's two-vms.xml: vm-a, vm-b) and gpu-b, both publishing to the
sched. After every case GET /v1/health must answer 200; at the end the
sched must still be running, its log free of sanitizer reports, and it
must stop cleanly on SIGTERM (LeakSanitizer runs then).

usage: test_sched_bad_input.py BUILD_DIR SOURCE_DIR
"""

import glob
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import TOKEN, Checks, Cluster  # noqa: E402

REPEAT = "@REPEAT@"
VM_A = "5a0f6c2e-1b3d-4e5f-8a9b-0c1d2e3f4a01"
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error", "UndefinedBehaviorSanitizer")


def type_attr(parent, type_id):
    return "sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version" % (parent, type_id)


def device_attr(uuid):
    return "sys/bus/mdev/devices/%s/migration_version" % uuid


def migration_attrs(inv):
    paths = [type_attr(p["name"], t["id"]) for p in inv["parents"] for t in p["types"]
             if t["migration"]["supported"]]
    paths += [device_attr(d["uuid"]) for d in inv["devices"] if d["migration"]["supported"]]
    return paths


def total_writes(cluster, attrs):
    return sum(cluster.sims[host].counts(path)[1] for host, paths in attrs.items() for path in paths)


def case_body(case):
    if "raw_body_template" in case:
        repeat = case["repeat"]
        return case["raw_body_template"].replace(
            REPEAT, repeat["char"] * repeat["count"]).encode()
    if "raw_body" in case:
        return case["raw_body"].encode()
    if "body" in case:
        return json.dumps(case["body"]).encode()
    return None


def send(sched, case):
    """The case's request. Returns (status, headers, parsed JSON or text)."""
    headers = {}
    auth = case.get("auth", True)
    if auth is True:
        headers["Authorization"] = "Bearer " + TOKEN
    elif auth == "wrong":
        headers["Authorization"] = "Bearer wrong-" + TOKEN
    body = case_body(case)
    if body is not None:
        headers["Content-Type"] = "application/json"
    headers.update(case.get("headers", {}))
    conn = http.client.HTTPConnection(sched.address, sched.port, timeout=60)
    try:
        conn.request(case["method"], case["path"], body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return resp.status, resp.headers, parsed
    finally:
        conn.close()


def sanitizer_report(log_path):
    with open(log_path, errors="replace") as f:
        log = f.read()
    return [mark for mark in SANITIZER_MARKS if mark in log]


def wait_ready(sched, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if {"gpu-a", "gpu-b"} <= set(invs) and \
                    VM_A in {i["uuid"] for i in invs["gpu-a"]["instances"]}:
                return True
        time.sleep(0.1)
    return False


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    case_dir = os.path.join(source, "tests/integration/cases/sched_bad_input")
    files = sorted(glob.glob(os.path.join(case_dir, "*.json")))
    checks = Checks()
    checks.true("there are bad-input cases in " + case_dir, files)
    with Cluster(build, prefix="mdevmig-it") as cluster:
        sched = cluster.add_sched()
        cluster.add_host("gpu-a", os.path.join(source, "deploy/cluster/gpu-a.json"),
                         libvirt_uri="test://" + os.path.join(source, "tests/unit/data/vmmap/two-vms.xml"),
                         registry=None, extra=["--registry", sched.url])
        cluster.add_host("gpu-b", os.path.join(source, "deploy/cluster/gpu-b.json"),
                         registry=None, extra=["--registry", sched.url])
        ready = wait_ready(sched)
        checks.true("the sched's registry holds gpu-a (with vm-a) and gpu-b", ready)
        if not ready:
            return checks.finish()
        attrs = {name: migration_attrs(c.inventory()) for name, c in cluster.collectors.items()}

        # The counters see a real select: without this, "no write" proves nothing.
        before = total_writes(cluster, attrs)
        status, body = sched.request("POST", "/v1/select", {"instance": VM_A})
        checks.eq("control: a valid select answers", (200, "gpu-a"),
                  (status, body.get("source_host") if isinstance(body, dict) else body))
        checks.eq("control: it probed gpu-b (one write)", 1, total_writes(cluster, attrs) - before)

        for path in files:
            name = os.path.basename(path)[:-len(".json")]
            with open(path) as f:
                case = json.load(f)
            before = total_writes(cluster, attrs)
            try:
                status, headers, reply = send(sched, case)
            except (OSError, http.client.HTTPException) as e:
                checks.eq(name + ": a reply", "a reply", "no reply: %r" % e)
                status, headers, reply = None, {}, None
            after = total_writes(cluster, attrs)
            checks.eq("%s: status (%s)" % (name, case.get("description", "")),
                      case["expect_status"], status)
            error = reply.get("error") if isinstance(reply, dict) else None
            if case["expect_status"] >= 400:
                checks.true("%s: a JSON error message (%r)" % (name, error),
                            isinstance(error, str) and error)
            if "expect_error_contains" in case:
                checks.true("%s: error %r contains %r" % (name, error, case["expect_error_contains"]),
                            isinstance(error, str) and case["expect_error_contains"] in error)
            for header, value in case.get("expect_headers", {}).items():
                checks.eq("%s: header %s" % (name, header), value, headers.get(header))
            for key, value in case.get("expect_json", {}).items():
                checks.eq("%s: reply %s" % (name, key), value,
                          reply.get(key) if isinstance(reply, dict) else reply)
            checks.eq(name + ": sysfs writes", case.get("expect_writes", 0), after - before)
            try:
                health, _ = sched.request("GET", "/v1/health", auth=False)
            except OSError as e:
                health = repr(e)
            checks.eq(name + ": health answers afterwards", 200, health)
            if health != 200:
                break

        # Still whole: the same valid questions get the same answers.
        status, body = sched.request("POST", "/v1/select", {"instance": VM_A})
        checks.eq("afterwards: a valid select still answers", (200, "gpu-a"),
                  (status, body.get("source_host") if isinstance(body, dict) else body))
        status, body = sched.request("GET", "/v1/inventory")
        checks.true("afterwards: the inventory still lists gpu-a and gpu-b",
                    status == 200 and {"gpu-a", "gpu-b"} <= {h["host"] for h in body["hosts"]})
        status, metrics = sched.request("GET", "/metrics")
        checks.true("metrics count bad requests",
                    status == 200 and "mdevmig_sched_bad_requests_total 0\n" not in metrics)
        checks.true("metrics count unauthorized requests",
                    status == 200 and "mdevmig_sched_unauthorized_total 0\n" not in metrics)
        checks.true("metrics count rejected ingests",
                    status == 200 and 'mdevmig_sched_ingest_total{outcome="rejected"} 0\n' not in metrics)

        checks.true("the sched is still running", sched.proc.poll() is None)
        checks.eq("no sanitizer report in the sched's log while running", [],
                  sanitizer_report(sched.log))
        for name, collector in cluster.collectors.items():
            checks.true(name + ": collector still running", collector.proc.poll() is None)
        # A clean stop, with LeakSanitizer's look at the heap.
        sched.stop()
        checks.eq("the sched stops cleanly on SIGTERM", 0, sched.proc.returncode)
        checks.eq("no sanitizer report in the sched's log after the stop", [],
                  sanitizer_report(sched.log))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
