"""The compatibility matrix (issue 7): POST /v1/matrix and `mdevmig matrix`
on a 3-version loopback cluster under NVIDIA's newer-minor rule.

Hosts (deploy/cluster fixtures; mdevsim + collector each, publishing into
the sched's ingest), every T4 type (nvidia-222, -223, -234) at:
  gpu-b  535.54
  gpu-a  535.104   (gpu-a and gpu-e: one group of two hosts)
  gpu-e  535.104   (no free instance: a type-level probe needs none)
  gpu-d  535.129

What must hold, from the rule computed here (same prefix and major, the
written minor not above the driver's):
  - per type, three groups in natural version order (535.54, 535.104,
    535.129) with their host counts;
  - every ordered pair answered by one live probe: old -> new and the
    diagonal allowed, new -> old refused with EINVAL; mdevsim's counters
    show exactly one write per cell, on the representative named;
  - a representative whose collector is down is replaced by another host
    of its group; a group with no host answering is unreachable;
  - unknown and malformed types; the CLI's records, grid and JSON.
At the end the sched must stop cleanly with no ASan/UBSan/LSan report.

usage: test_matrix.py BUILD_DIR SOURCE_DIR
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, run_tty  # noqa: E402

HOSTS = {"gpu-a": "535.104", "gpu-b": "535.54", "gpu-d": "535.129", "gpu-e": "535.104"}
TYPES = ("nvidia-222", "nvidia-223", "nvidia-234")
RELEASES = ["535.54", "535.104", "535.129"]  # natural order
PARENTS = ("0000:3b:00.0", "0000:d8:00.0")
EINVAL = 22
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error")


def version(type_id, release):
    return "10de:1eb8:%s-%s" % (type_id, release)


def accepts(target, written):
    tp, trel = target.rsplit("-", 1)
    wp, wrel = written.rsplit("-", 1)
    tmaj, tmin = (int(x) for x in trel.split("."))
    wmaj, wmin = (int(x) for x in wrel.split("."))
    return tp == wp and tmaj == wmaj and wmin <= tmin


def type_attr(parent, type_id):
    return "sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version" % (parent, type_id)


def sanitizer_report(path):
    with open(path, errors="replace") as f:
        log = f.read()
    return [m for m in SANITIZER_MARKS if m in log]


class Bench:
    def __init__(self, checks, cluster, sched):
        self.checks, self.cluster, self.sched = checks, cluster, sched

    def writes(self):
        out = {}
        for host, sim in self.cluster.sims.items():
            for t in TYPES:
                for p in PARENTS:
                    w = sim.counts(type_attr(p, t))[1]
                    if w:
                        out[(host, p, t)] = w
        return out

    def matrix(self, name, body, expect_status=200):
        for sim in self.cluster.sims.values():
            sim.ctl("reset-counts")
        status, reply = self.sched.request("POST", "/v1/matrix", body)
        self.checks.eq("%s: HTTP %d" % (name, expect_status), expect_status, status)
        if status != expect_status:
            print("    reply: %r" % (reply,))
            return None, None
        return reply, self.writes()

    def groups_ok(self, name, entry, type_id, hosts=HOSTS):
        want = []
        for rel in RELEASES:
            members = sorted(h for h, r in hosts.items() if r == rel)
            want.append((version(type_id, rel), len(members), members))
        got = [(g["version"], g["host_count"], sorted(g["hosts"])) for g in entry["groups"]]
        self.checks.eq("%s: %s's groups, oldest first, with their hosts" % (name, type_id), want, got)

    def cells_ok(self, name, entry, type_id, writes, down=()):
        """Each cell as the rule says, probed once on a live host of the group."""
        c = self.checks
        groups = entry["groups"]
        want, got = {}, {}
        for cell in entry["cells"]:
            src, dst = groups[cell["from"]], groups[cell["to"]]
            ok = accepts(dst["version"], src["version"])
            want[(cell["from"], cell["to"])] = ("compatible", None) if ok else ("incompatible", EINVAL)
            got[(cell["from"], cell["to"])] = (cell["verdict"], cell["errno"])
            c.true("%s: %s %d->%d probed on a host of the target group, not a down one (%s)" %
                   (name, type_id, cell["from"], cell["to"], cell["host"]),
                   cell["host"] in dst["hosts"] and cell["host"] not in down)
            if cell["verdict"] in ("compatible", "incompatible"):
                parent = cell["target"].split("/")[0]
                c.true("%s: %s %d->%d wrote %s on %s" % (name, type_id, cell["from"], cell["to"],
                                                         cell["target"], cell["host"]),
                       writes.get((cell["host"], parent, type_id), 0) >= 1)
        c.eq("%s: %s: all 9 ordered pairs, diagonal included" % (name, type_id), 9, len(entry["cells"]))
        c.eq("%s: %s: old -> new and same allowed, new -> old refused with EINVAL" % (name, type_id),
             want, got)
        # In RELEASES order: 0 -> 1 -> 2 allowed, never backwards.
        c.eq("%s: %s: the grid is upper-triangular" % (name, type_id),
             {(f, t): f <= t for f in range(3) for t in range(3)},
             {k: v[0] == "compatible" for k, v in got.items()})
        type_writes = sum(w for (h, p, t), w in writes.items() if t == type_id)
        c.eq("%s: %s: one write per cell" % (name, type_id), 9, type_writes)


def check_service(b):
    c = b.checks
    reply, writes = b.matrix("matrix nvidia-222", {"type": "nvidia-222"})
    if reply is not None:
        c.eq("matrix nvidia-222: one type, 3 groups, 9 cells, 9 probes", (["nvidia-222"], 3, 9, 9),
             ([t["type"] for t in reply["types"]], reply["group_count"], reply["cell_count"],
              reply["probes_sent"]))
        entry = reply["types"][0]
        b.groups_ok("matrix nvidia-222", entry, "nvidia-222")
        b.cells_ok("matrix nvidia-222", entry, "nvidia-222", writes)
        c.eq("matrix nvidia-222: nothing else written", 9, sum(writes.values()))
        c.eq("matrix nvidia-222: host_count", 4, entry["host_count"])
    reply, writes = b.matrix("matrix, every type", {})
    if reply is not None:
        c.eq("matrix, every type: 3 types x 9 cells, one probe each", (list(TYPES), 27, 27),
             ([t["type"] for t in reply["types"]], reply["cell_count"], reply["probes_sent"]))
        for entry in reply["types"]:
            b.groups_ok("matrix, every type", entry, entry["type"])
            b.cells_ok("matrix, every type", entry, entry["type"], writes)
        c.eq("matrix, every type: exactly the probes written", 27, sum(writes.values()))
    reply, _ = b.matrix("matrix of an unknown type", {"type": "nvidia-999"}, expect_status=404)
    if reply is not None:
        c.true("matrix of an unknown type: says so (%r)" % reply.get("error"),
               "no host in the registry offers type nvidia-999" in reply.get("error", ""))
    b.matrix("matrix of a malformed type", {"type": "../x"}, expect_status=400)


def check_failover(b):
    """The representative of 535.104 is down: the other host answers."""
    c = b.checks
    reply, _ = b.matrix("before failover", {"type": "nvidia-223"})
    if reply is None:
        return
    groups = reply["types"][0]["groups"]
    mid = [i for i, g in enumerate(groups) if g["version"].endswith("535.104")][0]
    reps = {cell["host"] for cell in reply["types"][0]["cells"] if cell["to"] == mid}
    c.eq("before failover: one representative for the 535.104 group", 1, len(reps))
    rep = reps.pop()
    c.eq("before failover: the first by name represents it", "gpu-a", rep)
    other = ({"gpu-a", "gpu-e"} - {rep}).pop()
    b.cluster.collectors[rep].stop()
    reply, writes = b.matrix("%s down" % rep, {"type": "nvidia-223"})
    if reply is not None:
        entry = reply["types"][0]
        b.cells_ok("%s down" % rep, entry, "nvidia-223", writes, down=(rep,))
        into = [cell for cell in entry["cells"] if cell["to"] == mid]
        c.eq("%s down: cells into 535.104 answered by %s on the second try" % (rep, other),
             [(other, 2)] * 3, [(cell["host"], cell["attempts"]) for cell in into])
        c.eq("%s down: one unreachable probe per cell tried there, then the answer" % rep,
             9 + 3, reply["probes_sent"])
    b.cluster.collectors[other].stop()
    reply, writes = b.matrix("535.104 all down", {"type": "nvidia-223"})
    if reply is not None:
        entry = reply["types"][0]
        into = [cell for cell in entry["cells"] if cell["to"] == mid]
        c.eq("535.104 all down: cells into it unreachable after both hosts", [("unreachable", 2)] * 3,
             [(cell["verdict"], cell["attempts"]) for cell in into])
        fro = [cell for cell in entry["cells"] if cell["from"] == mid and cell["to"] != mid]
        c.eq("535.104 all down: its version still goes into the others (the registry's copy)",
             [(0, "incompatible", "gpu-b"), (2, "compatible", "gpu-d")],
             [(cell["to"], cell["verdict"], cell["host"]) for cell in fro])
    b.cluster.collectors[rep].start()
    b.cluster.collectors[other].start()


def cli(binary, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=120, env=env)


def check_cli(b, binary):
    c, sched = b.checks, b.sched
    token = ["--token-file", sched.token_file]
    status, direct = sched.request("POST", "/v1/matrix", {"type": "nvidia-222"})
    for mode, backend in (("registry", ["--registry", sched.registry]), ("sched", ["--url", sched.url])):
        r = cli(binary, ["matrix", "--type", "nvidia-222", "--json"] + backend + token)
        try:
            out = json.loads(r.stdout)
        except ValueError:
            out = None

        def cells(m):
            return [(x["from"], x["to"], x["verdict"], x["errno"]) for x in m["types"][0]["cells"]] if m else None
        c.eq("cli %s: --json, exit 0, the service's cells" % mode, (0, cells(direct)), (r.returncode, cells(out)))
        r = cli(binary, ["matrix", "--type", "nvidia-222"] + backend + token)
        recs = [line.split("\t") for line in r.stdout.splitlines()]
        c.eq("cli %s: group records" % mode,
             [["nvidia-222", "0", version("nvidia-222", "535.54"), "1", "gpu-b"],
              ["nvidia-222", "1", version("nvidia-222", "535.104"), "2", "gpu-a,gpu-e"],
              ["nvidia-222", "2", version("nvidia-222", "535.129"), "1", "gpu-d"]],
             [x[1:4] + x[5:7] for x in recs if x[0] == "group"])
        c.eq("cli %s: cell records" % mode,
             [[str(f), str(t), "compatible" if f <= t else "incompatible", "-" if f <= t else "EINVAL"]
              for f in range(3) for t in range(3)],
             [x[2:6] for x in recs if x[0] == "cell"])
        c.eq("cli %s: a summary record" % mode, [["3", "9", "9"]], [x[1:4] for x in recs if x[0] == "summary"])
        r = cli(binary, ["matrix", "--type", "nvidia-999"] + backend + token)
        c.eq("cli %s: unknown type: exit 3" % mode, 3, r.returncode)
    r = cli(binary, ["matrix", "--type", "no_dash", "--url", sched.url] + token)
    c.eq("cli: malformed --type: exit 2", (2, True), (r.returncode, "not an mdev type id" in r.stderr))
    r = cli(binary, ["matrix", "--help"])
    c.true("cli: matrix --help", r.returncode == 0 and "FROM" in r.stdout and "Exit codes:" in r.stdout)
    code, out = run_tty([binary, "matrix", "--type", "nvidia-222", "--registry", sched.registry] + token)
    c.eq("cli TTY: exit 0", 0, code)
    c.true("cli TTY: a progress bar while probing", "cells answered" in out and "[" in out)
    c.true("cli TTY: the grid with yes and EINVAL, the groups with hosts",
           "FROM\\TO" in out and "yes" in out and "no: EINVAL" in out and "gpu-a, gpu-e" in out
           and "\t" not in out)


def wait_ready(sched, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200 and set(HOSTS) <= {h["host"] for h in body["hosts"]}:
            return True
        time.sleep(0.1)
    return False


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    binary = os.path.join(build, "plugin/mdevmig")
    checks = Checks()
    with Cluster(build, prefix="mdevmig-it") as cluster:
        sched = cluster.add_sched()
        for host in sorted(HOSTS):
            cluster.add_host(host, os.path.join(source, "deploy/cluster/%s.json" % host),
                             registry=None, extra=["--registry", sched.url])
        ready = wait_ready(sched)
        checks.true("the sched's registry holds every host", ready)
        if not ready:
            return checks.finish()
        b = Bench(checks, cluster, sched)
        check_service(b)
        check_cli(b, binary)
        check_failover(b)
        checks.true("the sched is still running", sched.proc.poll() is None)
        checks.eq("no sanitizer report in the sched's log", [], sanitizer_report(sched.log))
        sched.stop()
        checks.eq("the sched stops cleanly on SIGTERM", 0, sched.proc.returncode)
        checks.eq("no sanitizer report after the stop", [], sanitizer_report(sched.log))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
