"""Evacuation plans (issue 7) on a loopback cluster: POST /v1/evacuate and
`mdevmig evacuate` against real collectors and mdevsim drivers.

Hosts (mdevsim + collector each, publishing into the sched's ingest):
  evac-src   fixtures/evac-src.json with libvirt's fixtures/evac-src-libvirt.xml:
             30 VMs, nvidia-222 and nvidia-223 at 535.104 (newer-minor):
             vm-01..18 one nvidia-222, vm-19..28 one nvidia-223 (vm-28's
             attribute fails with ENODEV: not migratable), vm-29 and vm-30
             one of each
  dst-new    535.129, newer-minor: takes both; nvidia-222 room 3 + 3 on two
             parents, no nvidia-223 room at all
  dst-exact  535.104, i915-like exact match: takes both; nvidia-222 room 3,
             nvidia-223 room 8 + 4
  dst-list   535.200 with accept lists: takes nvidia-222 535.104, refuses
             nvidia-223 535.104 with EPERM; room 4 and 6
  dst-old    535.54, newer-minor: refuses both (EINVAL); plenty of room

What must hold, computed here from the fixtures and the vendor rules,
independently of the planner:
  - every placed VM's destination accepts every one of its versions, all
    of its mdevs are there, and no parent gets more VMs than it has free
    instances (read back from the registry);
  - exactly the VMs capacity and compatibility allow are placed (22), the
    rest have reasons; the exact plan per policy is in
    expected/evacuate/{spread,pack}.json, and a second run is identical;
  - the two-mdev VMs only where both types fit and pass (dst-exact: dst-new
    has no nvidia-223 room, dst-list refuses it);
  - mdevsim's write counters show one probe per (source version, host,
    type) at most, each probe a real write made in that call;
  - the most constrained VMs come first;
  - a dead destination collector is unreachable and gets nothing; a dead
    source collector gives the same plan from the registry, marked stale,
    with live probes on the destinations;
  - the CLI (--registry and --url): JSON equal to the service's, records,
    --emit openstack lines, exit codes, usage errors, a progress bar and a
    summary on a terminal.
At the end the sched must stop cleanly with no ASan/UBSan/LSan report.

usage: test_evacuate.py BUILD_DIR SOURCE_DIR
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, run_tty  # noqa: E402

FIXTURES = "tests/integration/fixtures"
EXPECTED = "tests/integration/expected/evacuate"
SOURCE = "evac-src"
DESTS = ["dst-exact", "dst-list", "dst-new", "dst-old"]
TYPES = ("nvidia-222", "nvidia-223")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error")


def vm_uuid(n):
    return "e0000000-0000-4000-8000-0000000000%02d" % n


DUALS = [vm_uuid(29), vm_uuid(30)]


# -- the vendor rules, independently of mdevsim and the planner -----------
def release(version):
    prefix, rel = version.rsplit("-", 1)
    major, minor = (int(x) for x in rel.split("."))
    return prefix, major, minor


def accepts(migration, written):
    """Would a type with this fixture migration behaviour take `written`?"""
    rule = migration.get("accept")
    if rule == "exact":
        return written == migration["version"]
    if rule == "list":
        return written in migration["accept_list"]
    if rule == "newer-minor":
        tp, tmaj, tmin = release(migration["version"])
        wp, wmaj, wmin = release(written)
        return tp == wp and tmaj == wmaj and wmin <= tmin
    return False


def load(source, name):
    with open(os.path.join(source, FIXTURES, name + ".json")) as f:
        return json.load(f)


def source_model(source):
    """{vm uuid: [(type, version)]} of evac-src, None for the not migratable."""
    fx = load(source, SOURCE)
    versions = {(p["name"], t["id"]): t["migration"]["version"] for p in fx["parents"] for t in p["types"]}
    devices = {d["uuid"]: d for d in fx["devices"]}
    with open(os.path.join(source, FIXTURES, SOURCE + "-libvirt.xml")) as f:
        xml = f.read()
    vms = {}
    for chunk in xml.split("<domain")[1:]:
        uuid = chunk.split("<uuid>")[1].split("</uuid>")[0]
        mdevs = []
        for part in chunk.split("address uuid='")[1:]:
            dev = devices[part.split("'")[0]]
            broken = "migration" in dev and "read_errno" in (dev["migration"] or {})
            mdevs.append(None if broken else (dev["type"], versions[(dev["parent"], dev["type"])]))
        vms[uuid] = None if None in mdevs else mdevs
    return vms


def dest_model(source):
    """{host: {type: [(parent, migration)]}} of the destinations."""
    out = {}
    for host in DESTS:
        fx = load(source, host)
        out[host] = {}
        for p in fx["parents"]:
            for t in p["types"]:
                out[host].setdefault(t["id"], []).append((p["name"], t["migration"]))
    return out


def attrs_of(inv):
    paths = ["sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version" % (p["name"], t["id"])
             for p in inv["parents"] for t in p["types"] if t["migration"]["supported"]]
    paths += ["sys/bus/mdev/devices/%s/migration_version" % d["uuid"]
              for d in inv["devices"] if d["migration"]["supported"]]
    return paths


def sanitizer_report(path):
    with open(path, errors="replace") as f:
        log = f.read()
    return [m for m in SANITIZER_MARKS if m in log]


def stable(plan):
    """A plan without what differs from call to call (timings)."""
    plan = json.loads(json.dumps(plan))
    plan.pop("elapsed_us", None)
    for p in plan.get("probes", []):
        p.pop("elapsed_us", None)
    return plan


def placement(plan):
    return [(v["instance"], v["verdict"], v["destination"], [m["parent"] for m in v["mdevs"]])
            for v in plan["vms"]]


class Bench:
    def __init__(self, checks, cluster, sched, source):
        self.checks, self.cluster, self.sched, self.source = checks, cluster, sched, source
        self.vms = source_model(source)
        self.dests = dest_model(source)
        self.attrs = {}

    def registry_free(self):
        """{(host, parent, type): available_instances} as the registry holds it."""
        status, body = self.sched.request("GET", "/v1/inventory")
        free = {}
        for h in body["hosts"]:
            for p in h["inventory"]["parents"]:
                for t in p["types"]:
                    free[(h["host"], p["name"], t["id"])] = t["available_instances"]
        return free

    def reset(self):
        for name, sim in self.cluster.sims.items():
            if sim.proc.poll() is None:
                sim.ctl("reset-counts")

    def writes(self):
        out = {}
        for host in DESTS + [SOURCE]:
            sim = self.cluster.sims[host]
            for path in self.attrs[host]:
                w = sim.counts(path)[1]
                if w:
                    out[(host, path)] = w
        return out

    def plan(self, name, policy, expect_status=200):
        self.reset()
        status, plan = self.sched.request("POST", "/v1/evacuate", {"host": SOURCE, "policy": policy})
        self.checks.eq("%s: HTTP %d" % (name, expect_status), expect_status, status)
        if status != 200:
            print("    reply: %r" % (plan,))
            return None, None
        return plan, self.writes()

    # -- what every plan must satisfy ----------------------------------------
    def sound(self, name, plan, writes, down=()):
        c = self.checks
        free = self.registry_free()
        used = {}
        vms = {v["instance"]: v for v in plan["vms"]}
        c.eq(name + ": every VM of the host is in the plan once", sorted(self.vms), sorted(vms))
        for uuid, vm in sorted(vms.items()):
            model = self.vms.get(uuid)
            if model is None:
                c.eq(name + ": %s (broken attribute) is not migratable" % vm["name"],
                     ("not-migratable", None), (vm["verdict"], vm["destination"]))
                c.true(name + ": %s says why (%r)" % (vm["name"], vm["reason"]),
                       "ENODEV" in (vm["reason"] or ""))
                continue
            dest = vm["destination"]
            if dest is None:
                c.true(name + ": %s unplaced with a reason (%r)" % (vm["name"], vm["reason"]),
                       vm["reason"] and vm["verdict"] != "placed")
                continue
            c.true(name + ": %s placed on a destination, not the source" % vm["name"],
                   vm["verdict"] == "placed" and dest in DESTS and dest not in down)
            c.eq(name + ": %s has all its mdevs in the plan" % vm["name"], len(model), len(vm["mdevs"]))
            for (type_id, version), mdev in zip(model, vm["mdevs"]):
                offered = dict(self.dests[dest].get(type_id, []))
                migration = offered.get(mdev["parent"])
                c.true(name + ": %s's %s on %s:%s, which takes %s" % (vm["name"], type_id, dest,
                                                                      mdev["parent"], version),
                       migration is not None and accepts(migration, version))
                key = (dest, mdev["parent"], type_id)
                used[key] = used.get(key, 0) + 1
        over = {k: (n, free.get(k)) for k, n in used.items() if free.get(k) is None or n > free[k]}
        c.eq(name + ": no parent gets more than its free instances", {}, over)
        # The plan's own accounting agrees.
        planned = {(t["host"], s["parent"], s["type"]): s["planned"] for t in plan["targets"]
                   for s in t["slots"] if s["planned"]}
        c.eq(name + ": the plan's slots count the same use", used, planned)
        # Every destination used was confirmed by a compatible probe made in
        # this call, a real write on that host's type attribute.
        probes = {(p["host"], p["type"]): p for p in plan["probes"]}
        for uuid, vm in vms.items():
            for mdev in vm["mdevs"] if vm["destination"] else ():
                p = probes.get((vm["destination"], mdev["type"]))
                c.true(name + ": %s's %s on %s confirmed by a compatible probe" %
                       (vm["name"], mdev["type"], vm["destination"]),
                       p is not None and p["verdict"] == "compatible")
                if p is not None and p["level"] == "type":
                    parent, type_id = p["target"].split("/", 1)
                    attr = "sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version" % (parent, type_id)
                    c.eq(name + ": that probe wrote %s on %s once" % (p["target"], p["host"]), 1,
                         writes.get((p["host"], attr), 0))
        # Deduplicated: at most one write per (host, type attribute), and the
        # writes are exactly the probes answered.
        c.eq(name + ": no attribute written twice", [], [k for k, w in writes.items() if w > 1])
        answered = sum(1 for p in plan["probes"] if p["verdict"] != "unreachable")
        c.eq(name + ": writes == probes answered", answered, sum(writes.values()))
        digests = {m["digest"] for v in plan["vms"] for m in v["mdevs"] if m["digest"]}
        triples = len(digests) * len(DESTS)  # each digest belongs to one type
        c.true(name + ": probes_sent %d <= distinct (digest, host, type) %d" %
               (plan["probes_sent"], triples), plan["probes_sent"] <= triples)
        per_vm = sum(len(m) for m in self.vms.values() if m) * len(DESTS)
        c.true(name + ": far fewer probes than (mdev, host) pairs (%d < %d)" %
               (plan["probes_sent"], per_vm), plan["probes_sent"] * 4 < per_vm)
        c.eq(name + ": no write on the source", [], [k for k in writes if k[0] == SOURCE])
        c.eq(name + ": counts add up", (len(self.vms), plan["placed"] + plan["unplaced"]),
             (plan["vm_count"], plan["vm_count"]))
        # The most constrained first: fewer fitting hosts, then more mdevs.
        keys = [(v["fitting_hosts"], -len(v["mdevs"])) for v in plan["vms"] if v["verdict"] != "not-migratable"]
        c.eq(name + ": planned most constrained first", sorted(keys), keys)
        c.eq(name + ": orders 1..N", list(range(1, len(plan["vms"]) + 1)), [v["order"] for v in plan["vms"]])

    def expected(self, name, plan, policy):
        with open(os.path.join(self.source, EXPECTED, policy + ".json")) as f:
            want = json.load(f)
        c = self.checks
        c.eq(name + ": the planning order", want["order"], [v["instance"] for v in plan["vms"]])
        c.eq(name + ": placed as expected/%s.json" % policy, want["placed"],
             {v["instance"]: v["destination"] for v in plan["vms"] if v["destination"]})
        c.eq(name + ": unplaced as expected/%s.json" % policy, want["unplaced"],
             {v["instance"]: v["verdict"] for v in plan["vms"] if not v["destination"]})
        c.eq(name + ": 22 placed, 8 not", (30, 22, 8), (plan["vm_count"], plan["placed"], plan["unplaced"]))
        for v in plan["vms"]:
            if v["verdict"] == "no-capacity":
                c.true(name + ": %s: the hosts with room were filled, dst-old refused (%r)" % (v["name"], v["reason"]),
                       "room taken by VMs placed before it" in v["reason"] and "dst-old (nvidia-222: EINVAL)" in v["reason"]
                       and v["hosts"] == {"full": 0, "filled": 3, "refused": 1, "unreachable": 0, "no_type": 0})
        # Two-mdev VMs: only dst-exact has room for both types and takes both.
        for uuid in DUALS:
            vm = [v for v in plan["vms"] if v["instance"] == uuid][0]
            c.eq(name + ": %s (two mdevs) on dst-exact with both types" % vm["name"],
                 ("dst-exact", ["nvidia-222", "nvidia-223"]),
                 (vm["destination"], [m["type"] for m in vm["mdevs"]]))
        verdicts = {(p["host"], p["type"]): (p["verdict"], p["errno_name"]) for p in plan["probes"]}
        c.eq(name + ": dst-list refused nvidia-223 with EPERM", ("incompatible", "EPERM"),
             verdicts.get(("dst-list", "nvidia-223")))
        c.eq(name + ": dst-old refused nvidia-222 with EINVAL", ("incompatible", "EINVAL"),
             verdicts.get(("dst-old", "nvidia-222")))


def cli_run(binary, args, env=None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
    environ.update(env or {})
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=120, env=environ)


def check_cli(b, binary):
    c, sched = b.checks, b.sched
    token = ["--token-file", sched.token_file]
    status, direct = sched.request("POST", "/v1/evacuate", {"host": SOURCE})
    for mode, backend in (("registry", ["--registry", sched.registry]), ("sched", ["--url", sched.url])):
        r = cli_run(binary, ["evacuate", "--host", SOURCE, "--json"] + backend + token)
        c.eq("cli %s: --json exits 1 (VMs without a destination)" % mode, 1, r.returncode)
        try:
            plan = json.loads(r.stdout)
        except ValueError:
            plan = None
        c.eq("cli %s: --json is the service's plan" % mode, placement(direct) if status == 200 else None,
             placement(plan) if plan else r.stderr)
        if mode == "sched" and plan:
            c.eq("cli sched: --json passes the service's answer through", stable(direct), stable(plan))
        r = cli_run(binary, ["evacuate", "--host", SOURCE, "--emit", "openstack"] + backend + token)
        want = ["openstack --os-compute-api-version 2.30 server migrate --live-migration --host %s %s"
                % (v["destination"], v["instance"]) for v in direct["vms"] if v["destination"]]
        c.eq("cli %s: --emit openstack, one line per placed VM in plan order" % mode, want,
             r.stdout.splitlines())
        c.eq("cli %s: --emit openstack exits 1 and says how many are left out" % mode, (1, True),
             (r.returncode, "8 of 30 VMs have no destination" in r.stderr))
        r = cli_run(binary, ["evacuate", "--host", SOURCE] + backend + token)
        recs = [line.split("\t") for line in r.stdout.splitlines()]
        plan_rec = [x for x in recs if x[0] == "plan"]
        c.eq("cli %s: a plan record" % mode, [["plan", SOURCE, "spread", "30", "22", "8", "live"]],
             [x[:7] for x in plan_rec])
        c.eq("cli %s: vm records in plan order" % mode,
             [[str(v["order"]), v["instance"], v["name"], v["verdict"], v["destination"] or "-"]
              for v in direct["vms"]], [x[1:6] for x in recs if x[0] == "vm"])
        c.eq("cli %s: an mdev record per mdev" % mode, 32, len([x for x in recs if x[0] == "mdev"]))
        c.true("cli %s: probe records with verdicts" % mode,
               any(x[0] == "probe" and x[6] == "incompatible" and x[7] == "EPERM" for x in recs))
        r = cli_run(binary, ["evacuate", "--host", "dst-old"] + backend + token)
        empty = [line.split("\t")[1:6] for line in r.stdout.splitlines() if line.startswith("plan\t")]
        c.eq("cli %s: a host without VMs: exit 0, nothing to plan" % mode,
             (0, [["dst-old", "spread", "0", "0", "0"]]), (r.returncode, empty))
        r = cli_run(binary, ["evacuate", "--host", "no-such-host"] + backend + token)
        c.eq("cli %s: unknown host: exit 3" % mode, (3, True), (r.returncode, "no-such-host" in r.stderr))
        r = cli_run(binary, ["evacuate", "--host", SOURCE, "--policy", "pack", "--json"] + backend + token)
        try:
            pack = json.loads(r.stdout)
        except ValueError:
            pack = {}
        c.eq("cli %s: --policy pack" % mode, "pack", pack.get("policy"))
    for args, what in ((["evacuate"], "--host HOST is required"),
                       (["evacuate", "--host", SOURCE, "--policy", "fill"], "expected spread or pack"),
                       (["evacuate", "--host", SOURCE, "--emit", "nova"], "the one format is openstack"),
                       (["evacuate", "--host", SOURCE, "--emit", "openstack", "--json"], "give one"),
                       (["evacuate", "--host", "a b"], "printable ASCII")):
        r = cli_run(binary, args + ["--url", sched.url] + token)
        c.eq("cli usage: %s: exit 2 (%s)" % (" ".join(args[1:]), what), (2, True),
             (r.returncode, what in r.stderr))
    r = cli_run(binary, ["evacuate", "--help"])
    c.true("cli: evacuate --help documents --emit openstack and the exit codes",
           r.returncode == 0 and "--emit openstack" in r.stdout and "Exit codes:" in r.stdout)
    code, out = run_tty([binary, "evacuate", "--host", SOURCE, "--registry", sched.registry] + token)
    c.eq("cli TTY: exit 1", 1, code)
    c.true("cli TTY: a progress bar on stderr while probing", "[" in out and "probes answered" in out)
    c.true("cli TTY: a summary and the plan table",
           "Evacuation of evac-src, policy spread: 22 of 30 VMs with mdevs placed" in out
           and "DESTINATION" in out and "no-capacity" in out and "\t" not in out)
    code, out = run_tty([binary, "evacuate", "--host", SOURCE, "--url", sched.url] + token)
    c.true("cli TTY --url: progress shown and the summary", code == 1 and "planning the evacuation" in out
           and "22 of 30" in out)


def wait_ready(sched, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if set(DESTS + [SOURCE]) <= set(invs) and len(invs[SOURCE]["instances"]) == 30:
                return True
        time.sleep(0.1)
    return False


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    binary = os.path.join(build, "plugin/mdevmig")
    checks = Checks()
    with Cluster(build, prefix="mdevmig-it") as cluster:
        sched = cluster.add_sched()
        fx = os.path.join(source, FIXTURES)
        cluster.add_host(SOURCE, os.path.join(fx, SOURCE + ".json"),
                         libvirt_uri="test://" + os.path.join(fx, SOURCE + "-libvirt.xml"),
                         registry=None, extra=["--registry", sched.url])
        for host in DESTS:
            cluster.add_host(host, os.path.join(fx, host + ".json"), registry=None,
                             extra=["--registry", sched.url])
        ready = wait_ready(sched)
        checks.true("the sched's registry holds every host and evac-src's 30 VMs", ready)
        if not ready:
            print(open(sched.log).read()[-3000:])
            return checks.finish()
        b = Bench(checks, cluster, sched, source)
        b.attrs = {n: attrs_of(col.inventory()) for n, col in cluster.collectors.items()}

        first = None
        for policy in ("spread", "pack"):
            name = "evacuate " + policy
            plan, writes = b.plan(name, policy)
            if plan is None:
                continue
            checks.eq(name + ": source versions read live", (False, SOURCE, policy),
                      (plan["source_stale"], plan["host"], plan["policy"]))
            b.sound(name, plan, writes)
            b.expected(name, plan, policy)
            if policy == "spread":
                first = plan
        again, writes = b.plan("evacuate spread again", "spread")
        if again is not None and first is not None:
            checks.eq("evacuate spread again: the same plan", placement(first), placement(again))
            b.sound("evacuate spread again", again, writes)
        status, plan = sched.request("POST", "/v1/evacuate", {"host": SOURCE})
        checks.eq("no policy: spread", (200, "spread", placement(first) if first else None),
                  (status, plan.get("policy"), placement(plan)))

        check_cli(b, binary)

        # A destination's collector down: unreachable, nothing goes there.
        cluster.collectors["dst-new"].stop()
        plan, writes = b.plan("dst-new down", "spread")
        if plan is not None:
            b.sound("dst-new down", plan, writes, down=("dst-new",))
            target = [t for t in plan["targets"] if t["host"] == "dst-new"]
            checks.eq("dst-new down: reported unreachable, no VM on it", [(True, 0)],
                      [(t["unreachable"], t["vms"]) for t in target])
            # nvidia-222 room that takes 535.104 is now dst-exact 3 + dst-list 4.
            checks.eq("dst-new down: 2 + 9 + 5 placed", 16, plan["placed"])
            left = [v for v in plan["vms"] if v["verdict"] == "no-capacity"]
            checks.true("dst-new down: the unplaced say it did not answer",
                        left and all("collector unreachable: dst-new" in v["reason"] and
                                     v["hosts"]["unreachable"] == 1 for v in left))
        cluster.collectors["dst-new"].start()

        # The source's collector down: the registry's versions, marked
        # stale; the destinations still probed live.
        cluster.collectors[SOURCE].stop()
        plan, writes = b.plan("source down", "spread")
        if plan is not None:
            checks.eq("source down: planned from the registry, marked stale", True, plan["source_stale"])
            checks.eq("source down: the same plan as with the source up",
                      placement(first) if first else None, placement(plan))
            checks.true("source down: the destinations probed live in this call",
                        plan["probes_sent"] > 0 and sum(writes.values()) == plan["probes_sent"])
            b.sound("source down", plan, writes)
        r = cli_run(binary, ["evacuate", "--host", SOURCE, "--url", sched.url, "--token-file", sched.token_file])
        checks.true("source down: the CLI says the versions are stale",
                    any(line.startswith("plan\tevac-src\tspread\t30\t22\t8\tstale") for line in r.stdout.splitlines()))

        checks.true("the sched is still running", sched.proc.poll() is None)
        checks.eq("no sanitizer report in the sched's log", [], sanitizer_report(sched.log))
        sched.stop()
        checks.eq("the sched stops cleanly on SIGTERM", 0, sched.proc.returncode)
        checks.eq("no sanitizer report after the stop", [], sanitizer_report(sched.log))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
