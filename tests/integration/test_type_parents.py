"""A type on two parents at two versions: a verdict per parent (issue 12).

twin-a and twin-b offer nvidia-222 on two parents. The roomiest one
(0000:3b:00.0, 16 free) still runs 535.54 and refuses a 535.104 source
(newer-minor: EINVAL); the other (0000:d8:00.0) was upgraded to 535.129
and takes it, with room for 4 on twin-a and 1 on twin-b. Probing one
parent per type (the roomiest) called both hosts incompatible. What must
hold now:
  - select, filter and probe write to both parents, and a host passes when
    a parent with room accepts: both take one 535.104 mdev;
  - a VM with two 535.104 mdevs fits twin-a (4 on the accepting parent)
    but not twin-b: no-capacity there (16 free where it is refused does
    not count), with the reason;
  - each probe names the mdev it answers for, and the writes mdevsim
    counts are exactly the probes answered;
  - an evacuation of evac-src onto the twins places nvidia-222 VMs only on
    the accepting parent, no more than its room (4 + 1).

usage: test_type_parents.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

FIXTURES = "tests/integration/fixtures"
TWINS = ["twin-a", "twin-b"]
OLD, NEW = "0000:3b:00.0", "0000:d8:00.0"
V104 = "10de:1eb8:nvidia-222-535.104"
EINVAL = 22


def attr(parent):
    return "sys/class/mdev_bus/%s/mdev_supported_types/nvidia-222/migration_version" % parent


def host_entry(reply, name):
    return next((h for h in reply.get("hosts", []) if h["host"] == name), None)


class Twins:
    def __init__(self, checks, cluster, sched):
        self.checks, self.cluster, self.sched = checks, cluster, sched

    def reset(self):
        for name in TWINS:
            self.cluster.sims[name].ctl("reset-counts")

    def writes(self):
        out = {}
        for name in TWINS:
            for parent in (OLD, NEW):
                w = self.cluster.sims[name].counts(attr(parent))[1]
                if w:
                    out[(name, parent)] = w
        return out

    def ask(self, name, path, body):
        self.reset()
        status, reply = self.sched.request("POST", path, body)
        self.checks.eq(name + ": HTTP 200", 200, status)
        return (reply if status == 200 else {}), self.writes()

    def probed_both(self, name, reply, host, mdevs):
        """Each mdev was written to both parents, each probe naming it."""
        h = host_entry(reply, host) or {}
        got = sorted((p.get("mdev"), p["target"], p["verdict"], p["errno"]) for p in h.get("probes", []))
        want = sorted(x for m in range(mdevs) for x in (
            (m, OLD + "/nvidia-222", "incompatible", EINVAL),
            (m, NEW + "/nvidia-222", "compatible", None)))
        self.checks.eq("%s: %s probed on both parents, per mdev" % (name, host), want, got)

    def wrote_probes(self, name, reply, writes):
        wanted = {}
        for h in reply.get("hosts", []):
            for p in h.get("probes", []):
                if p["verdict"] in ("compatible", "incompatible"):
                    key = (h["host"], p["target"].split("/")[0])
                    wanted[key] = wanted.get(key, 0) + 1
        self.checks.eq(name + ": mdevsim's writes are exactly the probes answered", wanted, writes)


def check_one_mdev(t):
    c = t.checks
    one = {"mdevs": [{"type": "nvidia-222", "version": V104}]}
    reply, writes = t.ask("select one", "/v1/select", dict(one, count=5))
    c.eq("select one: both twins pass on their upgraded parent", TWINS,
         sorted(reply.get("destinations", [])))
    for host in TWINS:
        t.probed_both("select one", reply, host, 1)
    t.wrote_probes("select one", reply, writes)

    reply, writes = t.ask("filter one", "/v1/filter", dict(one, hosts=["twin-b", "twin-a"]))
    c.eq("filter one: both pass, in Nova's order", ["twin-b", "twin-a"], reply.get("destinations"))
    t.wrote_probes("filter one", reply, writes)


def check_two_mdevs(t):
    c = t.checks
    two = {"mdevs": [{"type": "nvidia-222", "version": V104}] * 2}
    reply, writes = t.ask("select two", "/v1/select", dict(two, count=5))
    c.eq("select two: only twin-a has room for both where they are taken", ["twin-a"],
         reply.get("destinations"))
    b = host_entry(reply, "twin-b") or {}
    c.eq("select two: twin-b is no-capacity (17 free, 1 where accepted)", "no-capacity",
         b.get("verdict"))
    c.true("select two: twin-b says room for 1 of 2 (%r)" % b.get("error"),
           "room for 1 of its 2" in (b.get("error") or ""))
    for host in TWINS:
        t.probed_both("select two", reply, host, 2)
    t.wrote_probes("select two", reply, writes)


def check_cli_probe(t, build):
    """The operator's probe is a filter of one host: the same answer."""
    cli = os.path.join(build, "plugin/mdevmig")
    out = subprocess.run([cli, "--url", t.sched.url, "--token-file", t.sched.token_file, "probe",
                          "--version", V104, "--type", "nvidia-222", "--to", "twin-b"],
                         capture_output=True, text=True, timeout=60)
    t.checks.eq("mdevmig probe --to twin-b: exit 0 (compatible) (%s)" % out.stderr.strip(), 0,
                out.returncode)


def check_evacuate(t, source, cluster):
    c = t.checks
    fx = os.path.join(source, FIXTURES)
    cluster.add_host("evac-src", os.path.join(fx, "evac-src.json"),
                     libvirt_uri="test://" + os.path.join(fx, "evac-src-libvirt.xml"),
                     extra=["--registry", t.sched.url])
    deadline = time.time() + 60
    while time.time() < deadline:
        status, body = t.sched.request("GET", "/v1/inventory")
        if status == 200 and "evac-src" in {h["host"] for h in body["hosts"]}:
            break
        time.sleep(0.1)
    reply, _ = t.ask("evacuate", "/v1/evacuate", {"host": "evac-src"})
    placed = {}
    for vm in reply.get("vms", []):
        if vm.get("destination"):
            for m in vm["mdevs"]:
                key = (vm["destination"], m["parent"], m["type"])
                placed[key] = placed.get(key, 0) + 1
    c.eq("evacuate: nvidia-222 VMs only on the accepting parents, up to their room",
         {("twin-a", NEW, "nvidia-222"): 4, ("twin-b", NEW, "nvidia-222"): 1}, placed)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-twins") as cluster:
        sched = cluster.add_sched()
        for name in TWINS:
            cluster.add_host(name, os.path.join(source, FIXTURES, name + ".json"),
                             extra=["--registry", sched.url])
        deadline = time.time() + 60
        while time.time() < deadline:
            status, body = sched.request("GET", "/v1/inventory")
            if status == 200 and set(TWINS) <= {h["host"] for h in body["hosts"]}:
                break
            time.sleep(0.1)
        t = Twins(checks, cluster, sched)
        check_one_mdev(t)
        check_two_mdevs(t)
        check_cli_probe(t, build)
        check_evacuate(t, source, cluster)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
