"""Failover across schedulers (issue 12; DESIGN.md §7 "Scale"): three
mdevmig-sched fed by the same five collectors, and MdevMigrationFilter in
Debian's Nova (test_nova_filter's set-up, in this process) with
[mdevmig] url listing all three; the mdevmig CLI with --url A,B,C.

Hosts as in test_nova_filter: VM_222 and VM_223 on gpu-a; of the other
collected hosts only gpu-d accepts their mdevs, so every answer is gpu-d.

Covered:
  - the collectors publish to all three scheds (--registry A,B,C), and
    [mdevmig] url = A,B,C is read as a list;
  - all up: the filter answers from A, without a warning;
  - A killed (SIGKILL) while it works on a request (gpu-d's driver slowed
    so that the request is in flight): that request is answered by B with
    the same destinations, a warning names A and B; the next goes
    straight to B (the last that answered);
  - the CLI with --url A,B,C and A dead answers from B, saying so on
    stderr;
  - B stopped (SIGSTOP): the filter still answers, from C, within
    [mdevmig] timeout + one probe wave (the sched's probe timeout) + a
    margin; the next request goes straight to C; the CLI too, within
    --timeout + one probe wave;
  - every URL failing: fail closed, one error line naming each URL and
    why; the CLI exits 4 naming each;
  - B resumed (SIGCONT): requests stay with C;
  - a 4xx from the first URL is an answer (fail closed, the second not
    asked); a 5xx or an answer without destinations fails over.

usage: test_failover.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import http.server
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time

# No __pycache__ in the source tree (plugin/nova is imported from there).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

VM_222 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01"  # gpu-a, nvidia-222
VM_223 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a02"  # gpu-a, nvidia-223
COLLECTED = ["gpu-a", "gpu-b", "gpu-c", "gpu-d", "gpu-e"]
PARENTS = ("0000:3b:00.0", "0000:d8:00.0")
EXPECTED = ["gpu-d"]
# cluster.Sched's --probe-timeout: one probe wave takes at most this.
PROBE_TIMEOUT = 2.0
# Nova's [mdevmig] timeout as test_nova_filter's nova.conf sets it.
NOVA_TIMEOUT = 5.0
# Nova's own work, the filter's, and a loaded machine (ASan build).
MARGIN = 1.0
# gpu-d's probe write, slowed while A is killed, so that A's request is
# still in flight at the kill.
SLOW_MS = 600
KILL_AFTER = 0.25


class CannedSched:
    """An HTTP server that answers every POST with one status and body: a
    sched that refuses (4xx), fails (5xx) or answers garbage."""

    def __init__(self, status, body):
        self.requests = 0
        canned = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                canned.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def decisions(sched, kind="filter"):
    """The sched's count of decisions of kind, from its /metrics."""
    status, text = sched.request("GET", "/metrics")
    m = re.search(r'mdevmig_sched_decisions_total\{kind="%s"\} (\d+)' % kind, text or "")
    return int(m.group(1)) if status == 200 and m else None


def wait_registries(scheds, timeout=90):
    """Until every sched's registry lists every host and gpu-a's VMs."""
    deadline = time.time() + timeout
    pending = list(scheds)
    while pending and time.time() < deadline:
        for sched in list(pending):
            status, body = sched.request("GET", "/v1/inventory")
            if status != 200:
                continue
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if set(COLLECTED) <= set(invs) and \
                    {VM_222, VM_223} <= {i["uuid"] for i in invs["gpu-a"]["instances"]}:
                pending.remove(sched)
        time.sleep(0.1)
    return not pending


class Bench:
    def __init__(self, checks, cluster, scheds, nova, token_file):
        self.checks, self.cluster, self.scheds = checks, cluster, scheds
        self.nova, self.token_file = nova, token_file
        self.urls = [s.url for s in scheds]
        self.cli_binary = os.path.join(cluster.build, "plugin/mdevmig")

    def counts(self, kind="filter"):
        """Decisions per sched; None for one dead or stopped."""
        out = []
        for s in self.scheds:
            alive = s.proc.poll() is None and not getattr(s, "stopped", False)
            out.append(decisions(s, kind) if alive else None)
        return out

    def filtered(self, name, instance=VM_222):
        """A live migration of instance off gpu-a through Nova's
        HostManager: (hosts that pass, log lines of the filter, seconds)."""
        spec = self.nova.live_migration_spec(instance, "gpu-a")
        hosts = self.nova.hosts()
        self.nova.records.records.clear()
        start = time.monotonic()
        try:
            result = self.nova.host_manager.get_filtered_hosts(hosts, spec)
            got = [h.host for h in result]
        except Exception as e:  # a filter must never raise into Nova
            self.checks.eq("%s: no exception" % name, None, repr(e))
            got = []
        elapsed = time.monotonic() - start
        return got, self.nova.records.lines(logging.WARNING), elapsed

    def answered_by(self):
        """The sched the INFO line of the last filtered() names."""
        found = [re.search(r"\(mdevmig-sched at (\S+)\)", m)
                 for level, m, _ in self.nova.records.lines() if level == "INFO"]
        return [f.group(1) for f in found if f] or None

    def cli(self, urls, *args, timeout=None):
        argv = [self.cli_binary, "select", "--instance", VM_222, "--json",
                "--url", ",".join(urls), "--token-file", self.token_file]
        if timeout is not None:
            argv += ["--timeout", str(timeout)]
        argv += list(args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
        start = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
        elapsed = time.monotonic() - start
        try:
            out = json.loads(r.stdout)
        except ValueError:
            out = None
        return r.returncode, out, r.stderr, elapsed

    def override(self, **values):
        for key, value in values.items():
            self.nova.conf.set_override(key, value, group="mdevmig")

    def clear(self, *keys):
        for key in keys:
            self.nova.conf.clear_override(key, group="mdevmig")


def slow_gpu_d(cluster, ms):
    """Every probe write on gpu-d's nvidia-222 takes ms (0: as before)."""
    sim = cluster.sims["gpu-d"]
    replies = []
    for parent in PARENTS:
        path = "sys/class/mdev_bus/%s/mdev_supported_types/nvidia-222/migration_version" % parent
        replies.append(sim.ctl("delay", path, "write", str(ms)) if ms else sim.ctl("clear", path))
    return replies


def check_all_up(b):
    c, (a, _, _) = b.checks, b.urls
    c.eq("[mdevmig] url is read as the list of the three scheds", b.urls,
         list(b.nova.conf.mdevmig.url))
    before = b.counts()
    got, warnings, _ = b.filtered("all up")
    after = b.counts()
    c.eq("all up: the compatible host", EXPECTED, got)
    c.eq("all up: no warning", [], warnings)
    c.eq("all up: the first sched answered, the others were not asked", [1, 0, 0],
         [x - y for x, y in zip(after, before)])
    info = [m for level, m, _ in b.nova.records.lines() if level == "INFO"]
    c.true("all up: the log line names the sched that answered (%r)" % info,
           len(info) == 1 and ("mdevmig-sched at %s" % a) in info[0])
    got, _, _ = b.filtered("all up, VM_223", VM_223)
    c.eq("all up: VM_223 too", EXPECTED, got)


def check_kill_first(b):
    """SIGKILL of A while it probes for a request: B answers it."""
    c, cluster = b.checks, b.cluster
    a_url, b_url, _ = b.urls
    c.eq("gpu-d's probe writes slowed to %d ms" % SLOW_MS, ["ok", "ok"],
         slow_gpu_d(cluster, SLOW_MS))
    first = b.scheds[0]
    timer = threading.Timer(KILL_AFTER, lambda: first.proc.send_signal(signal.SIGKILL))
    before = b.counts()
    timer.start()
    try:
        got, warnings, elapsed = b.filtered("A killed mid-request")
    finally:
        timer.cancel()
        first.proc.wait(10)
    after = b.counts()
    c.true("A is dead", first.proc.poll() is not None)
    c.eq("A killed mid-request: the same destinations", EXPECTED, got)
    c.true("A killed mid-request: answered after the kill and one more probe wave "
           "(%.2f s)" % elapsed, KILL_AFTER < elapsed < KILL_AFTER + PROBE_TIMEOUT + MARGIN)
    warning = warnings[0][1] if len(warnings) == 1 else repr(warnings)
    c.true("A killed mid-request: one warning naming A, why, and B as the one that "
           "answered (%s)" % warning,
           len(warnings) == 1 and warnings[0][0] == "WARNING" and
           re.search(r"did not answer at %s: .+; %s answered"
                     % (re.escape(a_url), re.escape(b_url)), warning))
    c.true("A killed mid-request: A had the request (its connection dropped, not refused)",
           len(warnings) == 1 and "refused" not in warning.lower())
    c.eq("A killed mid-request: B decided it, C was not asked", [1, 0],
         [after[1] - before[1], after[2] - before[2]])
    c.eq("gpu-d's probe writes as before", ["ok", "ok"], slow_gpu_d(cluster, 0))

    before = b.counts()
    got, warnings, elapsed = b.filtered("after A's death")
    after = b.counts()
    c.eq("after A's death: the same destinations", EXPECTED, got)
    c.eq("after A's death: no warning (B, which answered last, is asked first)", [],
         warnings)
    c.eq("after A's death: B decided it", [1, 0], [after[1] - before[1], after[2] - before[2]])
    got, _, _ = b.filtered("after A's death, VM_223", VM_223)
    c.eq("after A's death: VM_223 too", EXPECTED, got)


def check_cli_first_dead(b):
    c = b.checks
    a_url, b_url, _ = b.urls
    before = b.counts("select")
    code, out, err, _ = b.cli(b.urls)
    after = b.counts("select")
    c.eq("CLI --url A,B,C with A dead: exit 0", 0, code)
    c.eq("CLI with A dead: the same destinations", EXPECTED,
         out.get("destinations") if isinstance(out, dict) else out)
    c.eq("CLI with A dead: B answered, C not asked", [1, 0],
         [after[1] - before[1], after[2] - before[2]])
    c.true("CLI with A dead: stderr names A, why, and B (%r)" % err,
           re.search(r"did not answer at %s: .*(connect|refused).*; %s answered"
                     % (re.escape(a_url), re.escape(b_url)), err, re.I))


def check_stop_second(b):
    """SIGSTOP of B, which the filter now asks first: C answers, within
    the filter's timeout and one probe wave."""
    c = b.checks
    _, b_url, c_url = b.urls
    second = b.scheds[1]
    second.proc.send_signal(signal.SIGSTOP)
    second.stopped = True
    before = b.counts()
    got, warnings, elapsed = b.filtered("B stopped")
    after = b.counts()
    c.eq("B stopped: the same destinations", EXPECTED, got)
    bound = NOVA_TIMEOUT + PROBE_TIMEOUT + MARGIN
    c.true("B stopped: answered within timeout + one probe wave + %.1f s (%.2f s < %.1f s)"
           % (MARGIN, elapsed, bound), elapsed < bound)
    c.true("B stopped: B was asked first and waited for the whole timeout (%.2f s >= %.1f s)"
           % (elapsed, NOVA_TIMEOUT), elapsed >= NOVA_TIMEOUT - 0.05)
    warning = warnings[0][1] if len(warnings) == 1 else repr(warnings)
    c.true("B stopped: one warning naming B, timed out, and C (%s)" % warning,
           len(warnings) == 1 and re.search(r"did not answer at %s: timed out.*; %s answered"
                                            % (re.escape(b_url), re.escape(c_url)), warning))
    c.eq("B stopped: C decided it", 1, after[2] - before[2])

    before = b.counts()
    got, warnings, elapsed = b.filtered("B stopped, next request")
    after = b.counts()
    c.eq("B stopped, next request: the same destinations", EXPECTED, got)
    c.true("B stopped, next request: straight to C, no timeout waited (%.2f s)" % elapsed,
           elapsed < PROBE_TIMEOUT + MARGIN)
    c.eq("B stopped, next request: no warning", [], warnings)
    c.eq("B stopped, next request: C decided it", 1, after[2] - before[2])

    cli_timeout = 2.0
    code, out, err, elapsed = b.cli(b.urls, timeout=cli_timeout)
    c.eq("CLI with A dead and B stopped: exit 0", 0, code)
    c.eq("CLI with A dead and B stopped: the same destinations", EXPECTED,
         out.get("destinations") if isinstance(out, dict) else out)
    bound = cli_timeout + PROBE_TIMEOUT + MARGIN
    c.true("CLI with A dead and B stopped: within --timeout + one probe wave + %.1f s "
           "(%.2f s < %.1f s)" % (MARGIN, elapsed, bound), elapsed < bound)
    c.true("CLI with A dead and B stopped: stderr names B as timed out and C (%r)" % err,
           re.search(r"%s: [^;]*timed out.*; %s answered" % (re.escape(b_url), re.escape(c_url)),
                     err, re.I))


def check_all_fail(b):
    c = b.checks
    a_url, b_url, _ = b.urls
    b.override(url=",".join([a_url, b_url]), timeout=1.0)
    try:
        got, lines, elapsed = b.filtered("A dead, B stopped, nothing else")
    finally:
        b.clear("url", "timeout")
    c.eq("none answers: no host passes (fail closed)", [], got)
    errors = [m for level, m, _ in lines if level == "ERROR"]
    c.true("none answers: one error line, naming A refused and B timed out (%r)" % lines,
           len(lines) == 1 and len(errors) == 1 and
           re.search(r"%s: .*refused.*; %s: timed out" % (re.escape(a_url), re.escape(b_url)),
                     errors[0]) and "fail_open is false" in errors[0])
    c.true("none answers: within the timeout once per URL (%.2f s)" % elapsed,
           elapsed < 2 * 1.0 + MARGIN)

    code, _, err, _ = b.cli([a_url, b_url], timeout=1)
    c.eq("CLI, none answers: exit 4", 4, code)
    c.true("CLI, none answers: the message names each URL and why (%r)" % err,
           re.search(r"none of the 2 mdevmig-sched URLs answered: %s: .*; %s: .*timed out"
                     % (re.escape(a_url), re.escape(b_url)), err, re.I))


def drained(sched, timeout=30):
    """Once the requests queued while sched was stopped are decided (their
    clients gone long ago): its decision count, steady for a second."""
    deadline = time.time() + timeout
    last = decisions(sched)
    while time.time() < deadline:
        time.sleep(1.0)
        now = decisions(sched)
        if now == last:
            return now
        last = now
    return None


def check_resumed(b):
    c = b.checks
    _, b_url, c_url = b.urls
    second = b.scheds[1]
    second.proc.send_signal(signal.SIGCONT)
    second.stopped = False
    c.true("B resumed: it decides what was queued while it was stopped, then idles",
           drained(second) is not None)
    before = b.counts()
    got, warnings, _ = b.filtered("B resumed")
    after = b.counts()
    c.eq("B resumed: the same destinations", EXPECTED, got)
    c.eq("B resumed: C, which answered last, is still asked first", [c_url], b.answered_by())
    c.eq("B resumed: B was not asked, C decided it", [0, 1],
         [after[1] - before[1], after[2] - before[2]])
    c.eq("B resumed: no warning", [], warnings)


def check_statuses(b):
    """4xx is an answer; 5xx and an answer without destinations fail over.
    Each list starts with a URL that has not answered yet, so the canned is
    asked first."""
    c = b.checks
    _, b_url, c_url = b.urls
    refusing = CannedSched(401, json.dumps({"error": "wrong bearer token"}))
    failing = CannedSched(503, json.dumps({"error": "registry unavailable"}))
    garbage = CannedSched(200, json.dumps({"hello": "world"}))
    try:
        b.override(url=",".join([refusing.url, b_url]))
        before = b.counts()
        try:
            got, lines, _ = b.filtered("first URL answers 401")
        finally:
            b.clear("url")
        after = b.counts()
        c.eq("401 first: no host passes (an answer, not a failure)", [], got)
        c.eq("401 first: the canned was asked once", 1, refusing.requests)
        c.eq("401 first: B was not asked", 0, after[1] - before[1])
        c.true("401 first: one error line with the 401, no failover warning (%r)" % lines,
               len(lines) == 1 and lines[0][0] == "ERROR" and
               re.search(r"%s: HTTP 401 from mdevmig-sched: wrong bearer token"
                         % re.escape(refusing.url), lines[0][1]))

        for canned, name, why in ((failing, "503", r"HTTP 503 from mdevmig-sched: registry "
                                 r"unavailable"),
                                (garbage, "200 without destinations", r"no list of "
                                 r"destinations")):
            # The last that answered (B, then C) must not be in the list.
            other = c_url if canned is failing else b_url
            other_index = 2 if canned is failing else 1
            b.override(url=",".join([canned.url, other]))
            before = b.counts()
            try:
                got, lines, _ = b.filtered("first URL answers " + name)
            finally:
                b.clear("url")
            after = b.counts()
            c.eq("%s first: the same destinations" % name, EXPECTED, got)
            c.eq("%s first: the canned was asked once" % name, 1, canned.requests)
            c.eq("%s first: the next sched decided it" % name, 1,
                 after[other_index] - before[other_index])
            c.true("%s first: a warning with why, and who answered (%r)" % (name, lines),
                   len(lines) == 1 and lines[0][0] == "WARNING" and
                   re.search(r"did not answer at %s: .*%s.*; %s answered"
                             % (re.escape(canned.url), why, re.escape(other)), lines[0][1]))
    finally:
        for canned in (refusing, failing, garbage):
            canned.close()


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    sys.path.insert(0, os.path.join(source, "plugin/nova"))
    checks = Checks()
    with Cluster(build, prefix="mdevmig-failover") as cluster:
        scheds = []
        try:
            scheds = [cluster.add_sched() for _ in range(3)]
            registries = ",".join(s.url for s in scheds)
            for name in COLLECTED:
                fixture = os.path.join(source, "deploy/cluster/%s.json" % name)
                uri = ("test://" + os.path.join(source, "deploy/cluster/gpu-a-libvirt.xml")
                       if name == "gpu-a" else "none")
                cluster.add_host(name, fixture, libvirt_uri=uri,
                                 extra=["--registry", registries])
            ready = wait_registries(scheds)
            checks.true("all three registries list every host and gpu-a's VMs", ready)
            if not ready:
                for s in scheds:
                    print(open(s.log).read()[-2000:])
                return checks.finish()

            # Nova parses its configuration once per process: this test's
            # own process, so test_nova_filter's Nova serves as it is.
            import test_nova_filter as tnf
            nova = tnf.Nova(cluster.root, ",".join(s.url for s in scheds),
                            scheds[0].token_file)
            checks.eq("[mdevmig] timeout as test_nova_filter sets it", NOVA_TIMEOUT,
                      nova.conf.mdevmig.timeout)
            b = Bench(checks, cluster, scheds, nova, scheds[0].token_file)
            check_all_up(b)
            check_kill_first(b)
            check_cli_first_dead(b)
            check_stop_second(b)
            check_all_fail(b)
            check_resumed(b)
            check_statuses(b)
        finally:
            # A stopped sched would not see Cluster's SIGTERM.
            for s in scheds:
                if s.proc is not None and s.proc.poll() is None:
                    s.proc.send_signal(signal.SIGCONT)
            # oslo.log's handlers hold the log file the cluster removes.
            root = logging.getLogger()
            for handler in list(root.handlers):
                root.removeHandler(handler)
                handler.close()
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
