"""GET /metrics of mdevmig-collector and mdevmig-sched under `promtool
check metrics` (DESIGN.md §7), after traffic that moves every family.

Hosts (mdevsim + collector each, publishing into the sched's ingest):
  gpu-a       deploy/cluster/gpu-a.json, libvirt two-vms.xml: vm-a
              (nvidia-222) and vm-b (nvidia-223), 535.104, newer-minor
  gpu-new     fixtures/gpu-new.json, 535.129: accepts 535.104
  gpu-noattr  fixtures/gpu-noattr.json, no migration_version attribute

Traffic: a probe of every collector verdict (compatible, incompatible,
unsupported, no-type), a bad and an unauthorized request to each daemon,
select, filter, evacuate and matrix, and the collectors' ingests. Then
every /metrics must be clean under promtool (HELP and TYPE on every
family, counters ending in _total, no sample under another family's
TYPE); the histograms must be whole (the documented buckets, cumulative,
+Inf equal to _count) and have counted what was done; mdevmig_build_info
must name the same non-empty version and commit everywhere, the ones
--version prints. At the end the daemons must stop cleanly with no
ASan/UBSan/LSan report.

usage: test_metrics.py BUILD_DIR SOURCE_DIR
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

PROMTOOL = "/usr/local/bin/promtool"
VMMAP = "tests/unit/data/vmmap"
HOSTS = [
    ("gpu-a", "deploy/cluster/gpu-a.json", "two-vms.xml"),
    ("gpu-new", "tests/integration/fixtures/gpu-new.json", None),
    ("gpu-noattr", "tests/integration/fixtures/gpu-noattr.json", None),
]
NAMES = [h[0] for h in HOSTS]
VM_A = "5a0f6c2e-1b3d-4e5f-8a9b-0c1d2e3f4a01"
VM_B = "5a0f6c2e-1b3d-4e5f-8a9b-0c1d2e3f4a02"
DEV_223 = "d27e0b44-9f1a-4c3e-8b6d-5a4c3b2a1f03"
V222 = "10de:1eb8:nvidia-222-535.104"
V222_OTHER_MAJOR = "10de:1eb8:nvidia-222-550.54"

# Bucket bounds (le, seconds) as common/metrics.c documents them.
LE_WRITE = ["5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
            "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"]
LE_REQUEST = ["0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
              "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
LE_DECISION = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
               "2.5", "5", "10", "30", "+Inf"]

COLLECTOR_FAMILIES = {
    "mdevmig_build_info": "gauge",
    "mdevmig_collector_probes_total": "counter",
    "mdevmig_collector_probe_duration_seconds": "histogram",
    "mdevmig_collector_probe_errors_total": "counter",
    "mdevmig_collector_version_batches_total": "counter",
    "mdevmig_collector_version_batch_devices_total": "counter",
    "mdevmig_collector_requests_total": "counter",
    "mdevmig_collector_bad_requests_total": "counter",
    "mdevmig_collector_unauthorized_total": "counter",
    "mdevmig_collector_scans_total": "counter",
    "mdevmig_collector_scan_failures_total": "counter",
    "mdevmig_collector_scan_skipped_total": "counter",
    "mdevmig_collector_scan_errors_total": "counter",
    "mdevmig_collector_libvirt_failures_total": "counter",
    "mdevmig_collector_last_scan_seconds": "gauge",
    "mdevmig_collector_generation": "gauge",
    "mdevmig_collector_devices": "gauge",
    "mdevmig_collector_instances": "gauge",
    "mdevmig_collector_probe_dirs_kept": "gauge",
    "mdevmig_collector_publish_total": "counter",
    "mdevmig_collector_publish_heartbeats_total": "counter",
    "mdevmig_collector_publish_failures_total": "counter",
    "mdevmig_collector_published_generation": "gauge",
    "mdevmig_collector_audit_dropped_total": "counter",
}
SCHED_FAMILIES = {
    "mdevmig_build_info": "gauge",
    "mdevmig_sched_requests_total": "counter",
    "mdevmig_sched_bad_requests_total": "counter",
    "mdevmig_sched_unauthorized_total": "counter",
    "mdevmig_sched_decisions_total": "counter",
    "mdevmig_sched_decision_seconds_total": "counter",
    "mdevmig_sched_decision_duration_seconds": "histogram",
    "mdevmig_sched_probes_sent_total": "counter",
    "mdevmig_sched_probe_duration_seconds": "histogram",
    "mdevmig_sched_ingest_total": "counter",
    "mdevmig_sched_snapshot_writes_total": "counter",
    "mdevmig_sched_snapshot_batches_total": "counter",
    "mdevmig_sched_registry_checkpoints_total": "counter",
    "mdevmig_sched_registry_checkpoint_failures_total": "counter",
    "mdevmig_sched_hosts": "gauge",
    "mdevmig_sched_hosts_stale": "gauge",
    "mdevmig_sched_probes_total": "counter",
    "mdevmig_sched_vms": "gauge",
    "mdevmig_sched_readiness_last_run_timestamp_seconds": "gauge",
    "mdevmig_sched_readiness_duration_seconds": "gauge",
    "mdevmig_sched_readiness_runs_total": "counter",
    "mdevmig_sched_readiness_interval_seconds": "gauge",
}
VERDICTS = ("compatible", "incompatible", "unsupported", "no-type", "unreachable")
OPS = ("select", "filter", "evacuate", "matrix")

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


class Exposition:
    """One /metrics text: families (name -> type, help) and samples."""

    def __init__(self, text):
        self.text = text
        self.types, self.helps = {}, {}
        self.samples = []   # (name, {label: value}, float)
        self.misplaced = []  # samples not of the family whose TYPE precedes them
        current = None
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, help_text = line[7:].partition(" ")
                self.helps[name] = help_text
            elif line.startswith("# TYPE "):
                name, _, kind = line[7:].partition(" ")
                self.types[name] = kind
                current = name
            elif line and not line.startswith("#"):
                m = SAMPLE.match(line)
                if m is None:
                    self.misplaced.append(line)
                    continue
                name, labels = m.group(1), dict(LABEL.findall(m.group(2) or ""))
                self.samples.append((name, labels, float(m.group(3))))
                family = name
                if self.types.get(current) == "histogram":
                    family = re.sub(r"_(bucket|sum|count)$", "", name)
                if family != current:
                    self.misplaced.append(line)

    def value(self, name, **labels):
        """The value of the one sample with these labels (exactly), or None."""
        for n, l, v in self.samples:
            if n == name and l == labels:
                return v
        return None

    def series(self, name, **fixed):
        """A histogram series: ([(le, cumulative)], sum, count) or None."""
        buckets = [(l["le"], v) for n, l, v in self.samples
                   if n == name + "_bucket" and {k: x for k, x in l.items() if k != "le"} == fixed]
        total = self.value(name + "_sum", **fixed)
        count = self.value(name + "_count", **fixed)
        if not buckets or total is None or count is None:
            return None
        return buckets, total, count


def promtool(text):
    """promtool check metrics on text: (exit code, its complaints)."""
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def sanitizer_report(log_path):
    with open(log_path, errors="replace") as f:
        log = f.read()
    return [mark for mark in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                              "runtime error") if mark in log]


def scrape(checks, name, daemon):
    status, text = daemon.request("GET", "/metrics")
    checks.eq("%s: GET /metrics is 200" % name, 200, status)
    return Exposition(text if status == 200 and isinstance(text, str) else "")


def check_exposition(checks, name, exp, families):
    """promtool's verdict, and what it implies read directly."""
    rc, complaints = promtool(exp.text)
    checks.eq("%s: promtool check metrics is clean" % name, (0, ""), (rc, complaints))
    checks.eq("%s: every sample under its own family's TYPE" % name, [], exp.misplaced)
    checks.eq("%s: the families and their types" % name, families,
              {n: t for n, t in exp.types.items()})
    checks.eq("%s: every family has HELP" % name, sorted(exp.types),
              sorted(n for n in exp.helps if exp.helps[n]))
    checks.eq("%s: counters end in _total" % name, [],
              [n for n, t in exp.types.items() if t == "counter" and not n.endswith("_total")])


def check_histogram(checks, name, exp, family, layout, **fixed):
    """The series is whole: the documented buckets in order, cumulative,
    +Inf equal to _count. Returns (count, sum) or None."""
    what = "%s: %s%s" % (name, family, "{%s}" % ",".join('%s="%s"' % kv for kv in fixed.items())
                         if fixed else "")
    s = exp.series(family, **fixed)
    checks.true(what + " is exported", s is not None)
    if s is None:
        return None
    buckets, total, count = s
    checks.eq(what + ": the documented buckets", layout, [le for le, _ in buckets])
    values = [v for _, v in buckets]
    checks.true(what + ": buckets are cumulative", values == sorted(values))
    checks.eq(what + ": +Inf equals _count", count, values[-1] if values else None)
    checks.true(what + ": _sum is not negative", total >= 0)
    return count, total


def build_info(checks, name, exp, binary):
    """mdevmig_build_info's (version, commit), the same as --version's."""
    infos = [(l, v) for n, l, v in exp.samples if n == "mdevmig_build_info"]
    checks.eq("%s: one mdevmig_build_info sample, value 1" % name, [1.0], [v for _, v in infos])
    labels = infos[0][0] if infos else {}
    version, commit = labels.get("version", ""), labels.get("commit", "")
    checks.true("%s: build_info names a version (%r) and a commit (%r)" % (name, version, commit),
                version and commit)
    proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10,
                          stdin=subprocess.DEVNULL)
    m = re.match(r"^\S+ (\S+) \(commit (\S+)\)$", proc.stdout.strip())
    checks.eq("%s: build_info is what --version prints (%r)" % (name, proc.stdout.strip()),
              (0, (version, commit)), (proc.returncode, m.groups() if m else None))
    return version, commit


def wait_cluster(sched, timeout=90):
    """Until the sched's registry holds every host and gpu-a's VMs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if set(NAMES) <= set(invs):
                if {VM_A, VM_B} <= {i["uuid"] for i in invs["gpu-a"]["instances"]}:
                    return True
        time.sleep(0.1)
    return False


def collector_traffic(checks, cluster):
    """A probe of every verdict, a bad request and an unauthorized one."""
    a, new, noattr = (cluster.collectors[n] for n in NAMES)
    for what, collector, args, verdict in (
            ("gpu-a takes its own version", a, ("nvidia-222", V222), "compatible"),
            ("gpu-new refuses another major", new, ("nvidia-222", V222_OTHER_MAJOR),
             "incompatible"),
            ("gpu-noattr has no attribute", noattr, ("nvidia-222", V222), "unsupported"),
            ("gpu-a's nvidia-223 device is not nvidia-222", a,
             ("nvidia-222", V222, DEV_223), "no-type")):
        status, reply = collector.probe(*args)
        checks.eq("probe: %s: %s" % (what, verdict), (200, verdict),
                  (status, reply.get("verdict") if isinstance(reply, dict) else reply))
    for name, collector in cluster.collectors.items():
        status, _ = collector.request("POST", "/v1/probe", raw="{not json")
        checks.eq("%s: a malformed probe is 400" % name, 400, status)
        status, _ = collector.request("GET", "/v1/inventory", token="wrong-token")
        checks.eq("%s: a wrong token is 401" % name, 401, status)


def sched_traffic(checks, sched):
    """select, filter, evacuate and matrix answered once each; a bad
    request and an unauthorized one. Returns the probes they reported."""
    asked = [
        ("select", "/v1/select", {"instance": VM_A, "count": 5}),
        ("filter", "/v1/filter", {"instance": VM_B, "hosts": NAMES}),
        ("evacuate", "/v1/evacuate", {"host": "gpu-a"}),
        ("matrix", "/v1/matrix", {"type": "nvidia-222"}),
    ]
    sent = 0
    for op, path, body in asked:
        status, reply = sched.request("POST", path, body)
        checks.eq("sched: %s answered" % op, 200, status)
        if status == 200 and isinstance(reply, dict):
            sent += reply.get("probes_sent", 0)
            checks.true("sched: %s sent probes (%r)" % (op, reply.get("probes_sent")),
                        reply.get("probes_sent", 0) > 0)
    status, _ = sched.request("POST", "/v1/select", raw="{not json")
    checks.eq("sched: a malformed select is 400", 400, status)
    status, _ = sched.request("GET", "/v1/inventory", token="wrong-token")
    checks.eq("sched: a wrong token is 401", 401, status)
    return sent


def check_collectors(checks, cluster, before):
    versions = set()
    totals = dict.fromkeys(("compatible", "incompatible", "unsupported", "no-type"), 0)
    for name, collector in sorted(cluster.collectors.items()):
        exp = scrape(checks, name, collector)
        check_exposition(checks, name, exp, COLLECTOR_FAMILIES)
        family = "mdevmig_collector_probe_duration_seconds"
        write = check_histogram(checks, name, exp, family, LE_WRITE, phase="write")
        request = check_histogram(checks, name, exp, family, LE_REQUEST, phase="request")
        verdicts = {v: exp.value("mdevmig_collector_probes_total", verdict=v) or 0
                    for v in totals}
        for v, n in verdicts.items():
            totals[v] += n
        # Only a driver's answer comes from a write(2): an unsupported
        # target had nothing to open, a no-type device nothing to write.
        if write is not None:
            checks.eq(name + ": one write observed per compatible or incompatible probe",
                      verdicts["compatible"] + verdicts["incompatible"], write[0])
        bad = exp.value("mdevmig_collector_bad_requests_total") or 0
        if request is not None:
            checks.true("%s: every POST /v1/probe observed (%r >= %r answered + %r bad)"
                        % (name, request[0], sum(verdicts.values()), bad),
                        request[0] >= sum(verdicts.values()) + bad and request[0] > before[name])
            checks.true(name + ": requests took time", request[1] > 0)
        checks.true(name + ": the bad request counted", bad >= 1)
        checks.true(name + ": the unauthorized request counted",
                    (exp.value("mdevmig_collector_unauthorized_total") or 0) >= 1)
        checks.true(name + ": snapshots published",
                    (exp.value("mdevmig_collector_publish_total") or 0) >= 1)
        versions.add(build_info(checks, name, exp, collector.binary))
    checks.true("every collector verdict counted somewhere (%r)" % totals,
                all(n > 0 for n in totals.values()))
    return versions


def wait_heartbeat(sched, timeout=10):
    """Collectors heartbeat once a second, and a run can be quicker than
    that: until the sched has counted one (or the timeout, for the check
    to report)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, text = sched.request("GET", "/metrics")
        if status == 200 and isinstance(text, str) and \
                (Exposition(text).value("mdevmig_sched_ingest_total", outcome="heartbeat") or 0) >= 1:
            return
        time.sleep(0.1)


def check_sched(checks, sched, sent):
    wait_heartbeat(sched)
    exp = scrape(checks, "sched", sched)
    check_exposition(checks, "sched", exp, SCHED_FAMILIES)
    for op in OPS:
        h = check_histogram(checks, "sched", exp, "mdevmig_sched_decision_duration_seconds",
                            LE_DECISION, op=op)
        if h is not None:
            checks.eq("sched: one %s decision observed" % op, 1, h[0])
            checks.true("sched: the %s decision took time" % op, h[1] > 0)
        checks.eq("sched: decisions_total counts the %s" % op, 1,
                  exp.value("mdevmig_sched_decisions_total", kind=op))
    probes = check_histogram(checks, "sched", exp, "mdevmig_sched_probe_duration_seconds",
                             LE_REQUEST)
    sent_total = exp.value("mdevmig_sched_probes_sent_total")
    checks.eq("sched: probes_sent_total is what the replies said", sent, sent_total)
    if probes is not None:
        # Every collector answered, so no matrix cell retried: every probe
        # sent is one the decisions report.
        checks.eq("sched: every probe sent observed once", sent_total, probes[0])
    by_verdict = [exp.value("mdevmig_sched_probes_total", verdict=v) for v in VERDICTS]
    checks.true("sched: probes_total has every verdict (%r)" % by_verdict,
                all(v is not None for v in by_verdict))
    checks.eq("sched: probes_total by verdict adds up to probes_sent_total", sent_total,
              sum(v or 0 for v in by_verdict))
    checks.true("sched: the bad request counted",
                (exp.value("mdevmig_sched_bad_requests_total") or 0) >= 1)
    checks.true("sched: the unauthorized request counted",
                (exp.value("mdevmig_sched_unauthorized_total") or 0) >= 1)
    checks.true("sched: ingests applied",
                (exp.value("mdevmig_sched_ingest_total", outcome="applied") or 0) >= len(NAMES))
    # Collectors heartbeat every second with {"generation"} only.
    checks.true("sched: heartbeats touched",
                (exp.value("mdevmig_sched_ingest_total", outcome="heartbeat") or 0) >= 1)
    checks.true("sched: every snapshot written counted",
                (exp.value("mdevmig_sched_snapshot_writes_total") or 0) >= len(NAMES))
    checks.true("sched: the writes took no more transactions than snapshots",
                0 < (exp.value("mdevmig_sched_snapshot_batches_total") or 0)
                <= (exp.value("mdevmig_sched_ingest_total", outcome="applied") or 0)
                + (exp.value("mdevmig_sched_ingest_total", outcome="ignored") or 0))
    checks.eq("sched: every host in the registry", len(NAMES), exp.value("mdevmig_sched_hosts"))
    return build_info(checks, "sched", exp, sched.binary)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-it") as cluster:
        sched = cluster.add_sched()
        for name, fixture, xml in HOSTS:
            uri = "test://" + os.path.join(source, VMMAP, xml) if xml else "none"
            cluster.add_host(name, os.path.join(source, fixture), libvirt_uri=uri, registry=None,
                             extra=["--registry", sched.url])
        ready = wait_cluster(sched)
        checks.true("the sched's registry lists every host and gpu-a's VMs", ready)
        if not ready:
            print(open(sched.log).read()[-4000:])
            return checks.finish()

        # Before any probe or decision: clean, and the histograms already
        # whole, with every bucket at 0.
        exp = scrape(checks, "sched before", sched)
        check_exposition(checks, "sched before", exp, SCHED_FAMILIES)
        for op in OPS:
            h = check_histogram(checks, "sched before", exp,
                                "mdevmig_sched_decision_duration_seconds", LE_DECISION, op=op)
            checks.eq("sched before: no %s decision yet" % op, (0, 0), h)
        before = {}
        for name, collector in sorted(cluster.collectors.items()):
            exp = scrape(checks, name + " before", collector)
            check_exposition(checks, name + " before", exp, COLLECTOR_FAMILIES)
            h = check_histogram(checks, name + " before", exp,
                                "mdevmig_collector_probe_duration_seconds", LE_WRITE,
                                phase="write")
            checks.eq(name + " before: no write yet", (0, 0), h)
            before[name] = (exp.series("mdevmig_collector_probe_duration_seconds",
                                       phase="request") or ([], 0, 0))[2]

        collector_traffic(checks, cluster)
        sent = sched_traffic(checks, sched)
        versions = check_collectors(checks, cluster, before)
        versions.add(check_sched(checks, sched, sent))
        checks.eq("every daemon reports the same build", 1, len(versions))

        checks.true("the sched is still running", sched.proc.poll() is None)
        sched.stop()
        checks.eq("the sched stops cleanly on SIGTERM", 0, sched.proc.returncode)
        checks.eq("no sanitizer report in the sched's log", [], sanitizer_report(sched.log))
        for name, collector in sorted(cluster.collectors.items()):
            collector.stop()
            checks.eq(name + ": stops cleanly on SIGTERM", 0, collector.proc.returncode)
            checks.eq(name + ": no sanitizer report in the collector's log", [],
                      sanitizer_report(collector.log))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
