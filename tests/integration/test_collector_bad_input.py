"""Every bad input to the collector's HTTP API gets its 4xx with a message
that says what is wrong, touches no sysfs attribute, and leaves the
collector answering. One case per file in cases/bad_input/NNN-name.json:

  {"description": "...",
   "method": "POST", "path": "/v1/probe",
   "auth": true | false | "wrong",        the cluster token, none, or a wrong one
   "headers": {...},                      optional, sent as given (after auth)
   "body": <JSON>,                        optional, sent serialised, or
   "raw_body": "<text>",                  sent as UTF-8 bytes, or
   "raw_body_template": "..@REPEAT@..",   with @REPEAT@ replaced by
   "repeat": {"char": "a", "count": N},   char * N (for large bodies)
   "chunked": true,                       optional: the body in 4 KiB chunks,
                                          Transfer-Encoding: chunked
   "expect_status": 400,
   "expect_error_contains": "...",        optional: in the reply's "error"
   "expect_headers": {"Allow": "GET"},    optional
   "expect_json": {...},                  optional: these keys of the reply
   "expect_writes": 0}                    optional: sysfs writes it may cause
                                          (default 0; the boundary cases that
                                          are accepted write once)

The host is the t4 fixture (types on two parents, devices). Before and
after each case the write counters of every migration_version attribute
the inventory lists (type and device nodes) are summed through mdevsim's
`counts`; the difference must be expect_writes. The collector must answer
/v1/health after every case.

usage: test_collector_bad_input.py BUILD_DIR SOURCE_DIR
"""

import glob
import http.client
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import TOKEN, Checks, Cluster  # noqa: E402

REPEAT = "@REPEAT@"


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


def total_writes(sim, paths):
    return sum(sim.counts(path)[1] for path in paths)


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


def send(collector, case):
    """The case's request, as raw as http.client allows. Returns (status,
    headers, parsed JSON or text)."""
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
    conn = http.client.HTTPConnection(collector.address, collector.port, timeout=30)
    try:
        if case.get("chunked") and body is not None:
            chunks = [body[i:i + 4096] for i in range(0, len(body), 4096)]
            conn.request(case["method"], case["path"], body=iter(chunks), headers=headers,
                         encode_chunked=True)
        else:
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


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    case_dir = os.path.join(source, "tests/integration/cases/bad_input")
    files = sorted(glob.glob(os.path.join(case_dir, "*.json")))
    checks = Checks()
    checks.true("there are bad-input cases in " + case_dir, files)
    with Cluster(build, prefix="mdevmig-it") as cluster:
        collector = cluster.add_host("t4", os.path.join(source, "tests/sim/fixtures/t4.json"))
        sim = cluster.sims["t4"]
        attrs = migration_attrs(collector.inventory())
        checks.eq("the t4 host has 6 type and 3 device attributes", 9, len(attrs))

        # The counters see a real probe: without this, "no change" proves nothing.
        before = total_writes(sim, attrs)
        status, body = collector.probe("nvidia-222", "10de:1eb8:nvidia-222-535.54")
        checks.eq("control: a valid probe is compatible", (200, "compatible"),
                  (status, body.get("verdict") if isinstance(body, dict) else body))
        checks.eq("control: a valid probe writes once", 1, total_writes(sim, attrs) - before)

        for path in files:
            name = os.path.basename(path)[:-len(".json")]
            with open(path) as f:
                case = json.load(f)
            before = total_writes(sim, attrs)
            try:
                status, headers, reply = send(collector, case)
            except (OSError, http.client.HTTPException) as e:
                checks.eq(name + ": a reply", "a reply", "no reply: %r" % e)
                status, headers, reply = None, {}, None
            after = total_writes(sim, attrs)
            checks.eq("%s: status (%s)" % (name, case.get("description", "")),
                      case["expect_status"], status)
            if "expect_error_contains" in case:
                error = reply.get("error") if isinstance(reply, dict) else None
                checks.true("%s: error %r contains %r" % (name, error, case["expect_error_contains"]),
                            isinstance(error, str) and case["expect_error_contains"] in error)
            for header, value in case.get("expect_headers", {}).items():
                checks.eq("%s: header %s" % (name, header), value, headers.get(header))
            for key, value in case.get("expect_json", {}).items():
                checks.eq("%s: reply %s" % (name, key), value,
                          reply.get(key) if isinstance(reply, dict) else reply)
            checks.eq(name + ": sysfs writes", case.get("expect_writes", 0), after - before)
            try:
                health, _ = collector.request("GET", "/v1/health", auth=False)
            except OSError as e:
                health = repr(e)
            checks.eq(name + ": health answers afterwards", 200, health)

        checks.true("the collector is still running", collector.proc.poll() is None)
        status, metrics = collector.request("GET", "/metrics")
        checks.true("metrics count bad requests",
                    status == 200 and "mdevmig_collector_bad_requests_total 0" not in metrics)
        checks.true("metrics count unauthorized requests",
                    status == 200 and "mdevmig_collector_unauthorized_total 0" not in metrics)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
