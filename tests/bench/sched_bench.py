#!/usr/bin/python3
"""Helpers for tests/bench/bench-sched (the scheduler benchmark): synthetic
registry rows, request bodies, and one-shot checks of select and filter
replies. Debian's /usr/bin/python3 and its standard library only.

  sched_bench.py spec FIXTURE [INDEX]          "PARENT TYPE VERSION" of the fixture's INDEXth type
  sched_bench.py types FIXTURE                 "PARENT TYPE" per type, one a line
  sched_bench.py ingest URL TOKEN FIXTURE COUNT PREFIX DEAD_URL
                                                POST COUNT synthetic inventories (one
                                                keep-alive connection); prints figures
  sched_bench.py wait-hosts URL TOKEN TIMEOUT HOST...
  sched_bench.py select-body FIXTURE COUNT     the select request (one mdev: type 0)
  sched_bench.py filter-body FIXTURE HOST...   the filter request (one mdev per type)
  sched_bench.py check-select URL TOKEN BODY LIVE_HOST...
  sched_bench.py check-filter URL TOKEN BODY
  sched_bench.py metric URL TOKEN NAME
  sched_bench.py pki DIR COUNT                 a test CA (tests/integration/tlsca.py) in DIR
                                                and certificates: live-01..COUNT (SAN DNS:live-NN,
                                                IP:127.0.2.N), sched (DNS:sched, localhost,
                                                IP:127.0.0.1), operator (client only)

Every command that talks to the sched takes an https:// URL too: it
verifies the server against BENCH_CA_FILE and presents BENCH_CLIENT_CERT
and BENCH_CLIENT_KEY when they are set (mutual TLS).
"""

import hashlib
import http.client
import json
import os
import random
import ssl
import sys
import time
import urllib.parse

# The synthetic hosts run an older driver than the live ones: a different
# version digest, so they rank below every live host of the same type.
SYNTH_DRIVER = "535.54"


def conn_for(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=os.environ.get("BENCH_CA_FILE"))
        if os.environ.get("BENCH_CLIENT_CERT"):
            ctx.load_cert_chain(os.environ["BENCH_CLIENT_CERT"],
                                os.environ.get("BENCH_CLIENT_KEY"))
        return http.client.HTTPSConnection(u.hostname, u.port, timeout=60, context=ctx)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def request(conn, method, path, token, body=None):
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        headers["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode()
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, (len(v) * p) // 100)] if v else 0.0


def fixture_types(path):
    fx = json.load(open(path))
    parent = fx["parents"][0]
    return parent, [(t["id"], t["migration"]["version"]) for t in parent["types"]]


def digest(type_id, version):
    return hashlib.sha256((type_id + "\n" + version).encode()).hexdigest()


def synth_inventory(parent, host, dead_url, rng, now):
    """A host shaped like the live fixture (one parent, the same types),
    on an older driver, with some room left; its collector is not there."""
    types = []
    for t in parent["types"]:
        version = t["migration"]["version"].rsplit("-", 1)[0] + "-" + SYNTH_DRIVER
        types.append({
            "id": t["id"],
            "name": t["name"],
            "description": t["description"],
            "device_api": t["device_api"],
            "available_instances": rng.randint(0, t["max_instances"]),
            "migration": {"supported": True, "version": version,
                          "digest": digest(t["id"], version)},
        })
    return {
        "schema_version": 1,
        "host": host,
        "collector_url": dead_url,
        "generation": 1,
        "scanned_at": now,
        "parents": [{"name": parent["name"], "types": types}],
        "devices": [],
        "instances": [],
    }


def cmd_ingest(url, token, fixture, count, prefix, dead_url):
    parent, _ = fixture_types(fixture)
    rng = random.Random(4)          # the same rows on every run
    now = int(time.time())
    conn = conn_for(url)
    times = []
    body = ""
    start = time.monotonic()
    for i in range(int(count)):
        host = "%s-%05d" % (prefix, i)
        body = json.dumps(synth_inventory(parent, host, dead_url, rng, now),
                          separators=(",", ":"))
        t0 = time.monotonic()
        status, text = request(conn, "POST", "/v1/hosts/%s/inventory" % host, token, body)
        times.append(time.monotonic() - t0)
        if status != 200 or not json.loads(text).get("applied"):
            sys.exit("ingest of %s: HTTP %d %s" % (host, status, text[:300]))
    total = max(time.monotonic() - start, 1e-6)
    conn.close()
    print("posted=%d seconds=%.2f post_p50_ms=%.2f post_p99_ms=%.2f body_bytes=%d"
          % (len(times), total, pct(times, 50) * 1e3, pct(times, 99) * 1e3, len(body)))


def cmd_wait_hosts(url, token, timeout, hosts):
    deadline = time.monotonic() + float(timeout)
    waiting = list(hosts)
    while waiting and time.monotonic() < deadline:
        conn = conn_for(url)
        try:
            still = []
            for h in waiting:
                status, _ = request(conn, "GET", "/v1/hosts/%s/inventory" % h, token)
                if status != 200:
                    still.append(h)
            waiting = still
        except OSError:
            pass
        finally:
            conn.close()
        if waiting:
            time.sleep(0.1)
    if waiting:
        sys.exit("not in the registry after %s s: %s" % (timeout, " ".join(waiting)))


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def cmd_check_select(url, token, body, live):
    conn = conn_for(url)
    status, text = request(conn, "POST", "/v1/select", token, body)
    conn.close()
    if status != 200:
        sys.exit("select: HTTP %d %s" % (status, text[:300]))
    r = json.loads(text)
    verdicts = {}
    for h in r["hosts"]:
        verdicts[h["verdict"]] = verdicts.get(h["verdict"], 0) + 1
    probed = [h["host"] for h in r["hosts"] if h["probes"]]
    ok = (len(r["destinations"]) == json.loads(body).get("count", 1)
          and all(d in live for d in r["destinations"])
          and all(h in live for h in probed))
    print("ok=%s probes_sent=%d destinations=%s probed_hosts=%d not_probed=%d verdicts=%s "
          "elapsed_us=%d reply_bytes=%d"
          % ("yes" if ok else "NO", r["probes_sent"], ",".join(r["destinations"]),
             len(probed), r["not_probed"],
             ",".join("%s:%d" % kv for kv in sorted(verdicts.items())),
             r["elapsed_us"], len(text)))


def cmd_check_filter(url, token, body):
    conn = conn_for(url)
    status, text = request(conn, "POST", "/v1/filter", token, body)
    conn.close()
    if status != 200:
        sys.exit("filter: HTTP %d %s" % (status, text[:300]))
    r = json.loads(text)
    asked = len(json.loads(body)["hosts"])
    verdicts = {}
    for h in r["hosts"]:
        verdicts[h["verdict"]] = verdicts.get(h["verdict"], 0) + 1
    ok = len(r["destinations"]) == asked
    # Why a host did not pass: its first probe's error (last on the line:
    # it has spaces).
    why = ""
    for h in r["hosts"]:
        if h["host"] not in r["destinations"]:
            errs = [p.get("error") for p in h.get("probes") or [] if p.get("error")]
            why = " first_failure=%s:%s" % (h["host"], errs[0] if errs else h["verdict"])
            break
    print("ok=%s probes_sent=%d passing=%d of=%d verdicts=%s elapsed_us=%d reply_bytes=%d%s"
          % ("yes" if ok else "NO", r["probes_sent"], len(r["destinations"]), asked,
             ",".join("%s:%d" % kv for kv in sorted(verdicts.items())),
             r["elapsed_us"], len(text), why))


def cmd_metric(url, token, name):
    conn = conn_for(url)
    status, text = request(conn, "GET", "/metrics", token)
    conn.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            print(line.split()[-1])
            return
    sys.exit("no metric " + name)


def cmd_pki(directory, count):
    """The bench's PKI: one certificate per live collector naming its host
    (the sched checks that under mutual TLS) and its address, one for the
    sched, one client-only for the bench's own requests."""
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "integration"))
    from tlsca import CA
    ca = CA(directory, name="mdevmig-bench-ca")
    for i in range(1, int(count) + 1):
        ca.issue("live-%02d" % i, ips=["127.0.2.%d" % i])
    ca.issue("sched", dns=["sched", "localhost"], ips=["127.0.0.1"])
    ca.issue("operator", server=False)
    print(ca.bundle)


def main(argv):
    if not argv:
        sys.exit(__doc__)
    cmd, args = argv[0], argv[1:]
    if cmd == "spec":
        parent, types = fixture_types(args[0])
        print(parent["name"], *types[int(args[1]) if len(args) > 1 else 0])
    elif cmd == "types":
        parent, types = fixture_types(args[0])
        for t, _ in types:
            print(parent["name"], t)
    elif cmd == "ingest":
        cmd_ingest(*args)
    elif cmd == "wait-hosts":
        cmd_wait_hosts(args[0], args[1], args[2], args[3:])
    elif cmd == "select-body":
        _, types = fixture_types(args[0])
        t, v = types[0]
        print(compact({"mdevs": [{"type": t, "version": v}], "count": int(args[1])}))
    elif cmd == "filter-body":
        _, types = fixture_types(args[0])
        print(compact({"mdevs": [{"type": t, "version": v} for t, v in types],
                       "hosts": args[1:]}))
    elif cmd == "check-select":
        cmd_check_select(args[0], args[1], args[2], set(args[3:]))
    elif cmd == "check-filter":
        cmd_check_filter(*args)
    elif cmd == "metric":
        cmd_metric(*args)
    elif cmd == "pki":
        cmd_pki(*args)
    else:
        sys.exit("sched_bench.py: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
