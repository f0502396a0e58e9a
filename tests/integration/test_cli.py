"""The mdevmig command against a live 4-host cluster (mdevsim + collector
each, publishing into one registry file): gpu-a, gpu-b, gpu-c from
deploy/cluster and gpu-d, a copy of tests/sim/fixtures/t4.json with its
own name, no devices and nvidia-222 at 535.210 (nvidia-223/234 stay at
gpu-a's 535.104). All T4 types follow the newer-minor rule: a version
goes into a driver of the same major whose minor is not older.

    gpu-a 535.104 (VMs vm-a, vm-b; libvirt's test driver)   gpu-b 535.54
    gpu-c 550.54 (refuses every other major)                 gpu-d 535.210 / 535.104

First with --registry (the file read directly, libmdevmig in-process):
inventory, versions, probe and select give exactly what the vendor rules
say, with the documented exit codes, TSV records, JSON and errors. Then,
when mdevmig-sched is built, the same questions through it (--url) must
give the same answers. Last, a dead collector is `unreachable`.

usage: test_cli.py BUILD_DIR SOURCE_DIR
"""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import TOKEN, Checks, Cluster, free_port, run_tty  # noqa: E402

DEV_1 = "c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c01"  # gpu-a, nvidia-222, used by vm-a
DEV_3 = "d27e0b44-9f1a-4c3e-8b6d-5a4c3b2a1f03"  # gpu-a, nvidia-223, used by vm-b
VM_A = "5a0f6c2e-1b3d-4e5f-8a9b-0c1d2e3f4a01"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
HOSTS = ["gpu-a", "gpu-b", "gpu-c", "gpu-d"]
EINVAL = 22


def v(type_id, release):
    return "10de:1eb8:%s-%s" % (type_id, release)


# The version each host reports per type.
VERSIONS = {
    "gpu-a": {t: v(t, "535.104") for t in ("nvidia-222", "nvidia-223", "nvidia-234")},
    "gpu-b": {t: v(t, "535.54") for t in ("nvidia-222", "nvidia-223", "nvidia-234")},
    "gpu-c": {t: v(t, "550.54") for t in ("nvidia-222", "nvidia-223", "nvidia-234")},
    "gpu-d": dict({t: v(t, "535.104") for t in ("nvidia-223", "nvidia-234")},
                  **{"nvidia-222": v("nvidia-222", "535.210")}),
}


def accepts(target_version, written):
    """The newer-minor rule, independently of mdevsim: prefix and major
    equal, the written minor not greater than the target's."""
    tp, trel = target_version.rsplit("-", 1)
    wp, wrel = written.rsplit("-", 1)
    tmaj, tmin = (int(x) for x in trel.split("."))
    wmaj, wmin = (int(x) for x in wrel.split("."))
    return tp == wp and tmaj == wmaj and wmin <= tmin


def digest(type_id, version):
    return hashlib.sha256((type_id + "\n" + version).encode()).hexdigest()


def gpu_d_fixture(source, path):
    with open(os.path.join(source, "tests/sim/fixtures/t4.json")) as f:
        fixture = json.load(f)
    fixture["host"] = "gpu-d"
    fixture["devices"] = []
    for parent in fixture["parents"]:
        for t in parent["types"]:
            t["migration"]["version"] = VERSIONS["gpu-d"][t["id"]]
    with open(path, "w") as f:
        json.dump(fixture, f)


class Cli:
    def __init__(self, binary, backend, token_file):
        self.binary, self.backend, self.token_file = binary, backend, token_file

    def run(self, *args, backend=True, token=True, env=None):
        argv = [self.binary] + list(args)
        if backend:
            argv += self.backend
        if token:
            argv += ["--token-file", self.token_file]
        environ = {k: val for k, val in os.environ.items() if not k.startswith("MDEVMIG_")}
        environ.update(env or {})
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=environ)

    def json(self, *args):
        r = self.run(*(list(args) + ["--json"]))
        try:
            return r.returncode, json.loads(r.stdout), r
        except ValueError:
            return r.returncode, None, r


def records(stdout, kind):
    return [line.split("\t")[1:] for line in stdout.splitlines() if line.split("\t")[0] == kind]


def wait_registry(cli, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        code, out, _ = cli.json("inventory")
        if code == 0 and out and sorted(h["host"] for h in out["hosts"]) == HOSTS:
            # gpu-a's VMs come from libvirt: wait for them too.
            a = [h for h in out["hosts"] if h["host"] == "gpu-a"][0]["inventory"]
            if len(a["instances"]) == 2:
                return out
        time.sleep(0.2)
    raise RuntimeError("the registry never listed all of %s" % HOSTS)


def expected_destinations(type_id, version, exclude=None):
    return sorted(h for h in HOSTS if h != exclude and accepts(VERSIONS[h][type_id], version))


def probe_writes(cluster, host, type_id):
    """Writes into host's type attribute on both parents (mdevsim's counters)."""
    total = 0
    for parent in ("0000:3b:00.0", "0000:d8:00.0"):
        path = "sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version" % (parent, type_id)
        total += cluster.sims[host].counts(path)[1]
    return total


def check_inventory(c, cli, mode):
    code, out, r = cli.json("inventory")
    c.eq(mode + "inventory --json exits 0", 0, code)
    hosts = {h["host"]: h for h in (out or {}).get("hosts", [])}
    c.eq(mode + "inventory lists the 4 hosts, by name", HOSTS, [h["host"] for h in out["hosts"]])
    c.eq(mode + "no host is stale", [False] * 4, [hosts[h]["stale"] for h in HOSTS])
    a = hosts["gpu-a"]["inventory"]
    c.eq(mode + "gpu-a's device DEV_1 is used by vm-a", VM_A,
         [d for d in a["devices"] if d["uuid"] == DEV_1][0]["instance"])

    r = cli.run("inventory")
    c.eq(mode + "inventory (TSV) exits 0", 0, r.returncode)
    host_rows = records(r.stdout, "host")
    c.eq(mode + "TSV: one host record per host", HOSTS, [row[0] for row in host_rows])
    c.eq(mode + "TSV: host state ok", ["ok"] * 4, [row[1] for row in host_rows])
    type_rows = records(r.stdout, "type")
    c.eq(mode + "TSV: 6 type records per host (2 parents x 3 types)", 24, len(type_rows))
    c.true(mode + "TSV: gpu-d's nvidia-222 shows 535.210",
           ["gpu-d", "0000:3b:00.0", "nvidia-222", "GRID T4-1B", "16", v("nvidia-222", "535.210")]
           in type_rows)
    dev_rows = records(r.stdout, "device")
    c.true(mode + "TSV: device record names the VM",
           ["gpu-a", DEV_1, "0000:3b:00.0", "nvidia-222", VM_A, "vm-a"] in dev_rows)
    c.true(mode + "TSV: an unused device shows '-' as its VM",
           any(row[1] == "c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c02" and row[4:] == ["-", "-"]
               for row in dev_rows))
    c.eq(mode + "TSV: no progress or noise on stderr", "", r.stderr)

    code, out, _ = cli.json("inventory", "--host", "gpu-b")
    c.eq(mode + "inventory --host gpu-b exits 0", 0, code)
    c.eq(mode + "inventory --host gpu-b lists just gpu-b", ["gpu-b"],
         [h["host"] for h in (out or {}).get("hosts", [])])
    r = cli.run("inventory", "--host", "gpu-x")
    c.eq(mode + "inventory --host unknown exits 3", 3, r.returncode)
    c.true(mode + "... and names the host", "gpu-x" in r.stderr)
    return hosts


def free_of(entry, type_id):
    return sum(t["available_instances"] for p in entry["inventory"]["parents"]
               for t in p["types"] if t["id"] == type_id)


def check_versions(c, cli, mode, hosts):
    code, out, _ = cli.json("versions")
    c.eq(mode + "versions --json exits 0", 0, code)
    # The oracle: group the inventory by hand.
    groups = {}
    for name in HOSTS:
        for parent in hosts[name]["inventory"]["parents"]:
            for t in parent["types"]:
                g = groups.setdefault((t["id"], t["migration"]["version"]), {"hosts": set(), "free": 0})
                g["hosts"].add(name)
                g["free"] += t["available_instances"]
    expected = [{"type": t, "version": ver, "digest": digest(t, ver),
                 "hosts": sorted(g["hosts"]), "host_count": len(g["hosts"]),
                 "free_instances": g["free"]}
                for (t, ver), g in sorted(groups.items())]
    actual = [{k: grp[k] for k in ("type", "version", "digest", "hosts", "host_count",
                                   "free_instances")}
              for grp in (out or {}).get("groups", [])]
    c.eq(mode + "versions groups hosts by (type, version)", expected, actual)
    c.eq(mode + "nvidia-223 535.104 is gpu-a and gpu-d", ["gpu-a", "gpu-d"],
         [g["hosts"] for g in actual
          if g["type"] == "nvidia-223" and g["version"] == v("nvidia-223", "535.104")][0])

    r = cli.run("versions", "--type", "nvidia-222")
    c.eq(mode + "versions --type (TSV) exits 0", 0, r.returncode)
    rows = records(r.stdout, "group")
    c.eq(mode + "TSV: four nvidia-222 groups, one host each, digest12",
         sorted([["nvidia-222", VERSIONS[h]["nvidia-222"],
                  digest("nvidia-222", VERSIONS[h]["nvidia-222"])[:12], "1",
                  str(free_of(hosts[h], "nvidia-222")), h, "-"] for h in HOSTS],
                key=lambda row: row[1]),
         rows)
    r = cli.run("versions", "--type", "nvidia-999")
    c.eq(mode + "versions --type nobody offers exits 3", 3, r.returncode)


def check_probe(c, cli, mode, cluster):
    for src in HOSTS:
        for dst in HOSTS:
            if src == dst:
                continue
            version = VERSIONS[src]["nvidia-222"]
            before = probe_writes(cluster, dst, "nvidia-222")
            code, out, r = cli.json("probe", "--version", version, "--type", "nvidia-222",
                                    "--to", dst)
            ok = accepts(VERSIONS[dst]["nvidia-222"], version)
            host = [h for h in (out or {}).get("hosts", []) if h["host"] == dst]
            name = "%sprobe %s's version into %s" % (mode, src, dst)
            c.eq(name + ": exit code", 0 if ok else 1, code)
            c.eq(name + ": verdict, errno",
                 ("compatible", None, None) if ok else ("incompatible", EINVAL, "EINVAL"),
                 (host[0]["verdict"], host[0]["errno"], host[0]["errno_name"]) if host else r.stderr)
            c.eq(name + ": one live write on the target", before + 1,
                 probe_writes(cluster, dst, "nvidia-222"))

    r = cli.run("probe", "--from", "gpu-a:" + DEV_1, "--to", "gpu-b")
    c.eq(mode + "probe --from gpu-a:DEV --to gpu-b exits 1", 1, r.returncode)
    verdict = records(r.stdout, "verdict")
    c.eq(mode + "TSV verdict: host, verdict, errno name, the collector's text",
         [["gpu-b", "incompatible", "EINVAL", "EINVAL: Invalid argument"]],
         [row[:4] for row in verdict])
    c.true(mode + "TSV verdict: elapsed in microseconds", verdict and verdict[0][4].isdigit())
    c.eq(mode + "TSV source record: gpu-a, live",
         [["-", "gpu-a", "live", "migratable", "-"]], records(r.stdout, "source"))
    c.eq(mode + "TSV mdev record: the version written",
         [[DEV_1, "nvidia-222", VERSIONS["gpu-a"]["nvidia-222"],
           digest("nvidia-222", VERSIONS["gpu-a"]["nvidia-222"])[:12], "-"]],
         records(r.stdout, "mdev"))
    c.eq(mode + "TSV probe record: type level, refused", ["type", "incompatible", "EINVAL"],
         [records(r.stdout, "probe")[0][i] for i in (0, 2, 3)] if records(r.stdout, "probe")
         else None)
    r = cli.run("probe", "--from", "gpu-a:" + DEV_1, "--to", "gpu-d")
    c.eq(mode + "probe --from gpu-a:DEV --to gpu-d exits 0", 0, r.returncode)
    c.eq(mode + "... compatible", "compatible", (records(r.stdout, "verdict") or [[None, None]])[0][1])

    for args, code, why in [
        (["probe", "--version", VERSIONS["gpu-a"]["nvidia-222"], "--type", "nvidia-222",
          "--to", "gpu-x"], 3, "unknown --to host"),
        (["probe", "--from", "gpu-a:" + UNKNOWN, "--to", "gpu-b"], 3, "unknown device"),
        (["probe", "--from", "gpu-x:" + DEV_1, "--to", "gpu-b"], 3, "unknown source host"),
        (["probe", "--from", "gpu-a:" + DEV_1, "--to", "gpu-a"], 2, "--to the source host"),
        (["probe", "--from", "gpu-a:" + DEV_1], 2, "no --to"),
        (["probe", "--version", "x-1.0", "--to", "gpu-b"], 2, "--version without --type"),
        (["probe", "--from", "gpu-a:not-a-uuid", "--to", "gpu-b"], 2, "bad HOST:DEVICE"),
        (["probe", "--from", "gpu-a", "--to", "gpu-b"], 2, "HOST without :DEVICE"),
    ]:
        r = cli.run(*args)
        c.eq("%sprobe, %s: exit %d" % (mode, why, code), code, r.returncode)
        c.true("%sprobe, %s: one message on stderr" % (mode, why),
               r.stderr.startswith("mdevmig: ") and r.stdout == "")


def check_select(c, cli, mode):
    version = VERSIONS["gpu-a"]["nvidia-222"]
    code, out, r = cli.json("select", "--from", "gpu-a:" + DEV_1, "--count", "10")
    want = expected_destinations("nvidia-222", version, exclude="gpu-a")
    c.eq(mode + "select --from gpu-a:DEV exits 0", 0, code)
    c.eq(mode + "select --from gpu-a:DEV: exactly the hosts the rule accepts", want,
         sorted((out or {}).get("destinations", [])))
    verdicts = {h["host"]: (h["verdict"], h["errno_name"]) for h in (out or {}).get("hosts", [])}
    c.eq(mode + "select: every other host has its verdict",
         {h: ("compatible", None) if h in want else ("incompatible", "EINVAL")
          for h in HOSTS if h != "gpu-a"}, verdicts)
    c.eq(mode + "select: source gpu-a, live", ("gpu-a", False, True),
         (out["source_host"], out["source_stale"], out["migratable"]) if out else None)

    code, out, _ = cli.json("select", "--from", "gpu-a:" + DEV_3, "--count", "10")
    c.eq(mode + "select nvidia-223 from gpu-a: gpu-d (same version) only",
         expected_destinations("nvidia-223", VERSIONS["gpu-a"]["nvidia-223"], exclude="gpu-a"),
         sorted((out or {}).get("destinations", [])))

    for src in ("gpu-b", "gpu-c"):
        ver = VERSIONS[src]["nvidia-222"]
        code, out, _ = cli.json("select", "--version", ver, "--type", "nvidia-222",
                                "--count", "10")
        c.eq("%sselect --version %s's --count 10: the accepting hosts" % (mode, src),
             (0, expected_destinations("nvidia-222", ver)),
             (code, sorted((out or {}).get("destinations", []))))
    code, out, _ = cli.json("select", "--version", v("nvidia-222", "600.1"), "--type",
                            "nvidia-222")
    c.eq(mode + "select a version nobody takes: exit 1, no destination", (1, []),
         (code, (out or {}).get("destinations")))

    code, out, _ = cli.json("select", "--instance", VM_A)
    c.eq(mode + "select --instance vm-a: exit 0, one destination (count 1)", (0, ["gpu-d"]),
         (code, (out or {}).get("destinations")))
    c.eq(mode + "select --instance vm-a: source gpu-a with DEV_1",
         ("gpu-a", [DEV_1]), ((out or {}).get("source_host"),
                              [m["uuid"] for m in (out or {}).get("mdevs", [])]))

    r = cli.run("select", "--instance", VM_A, "--count", "3")
    c.eq(mode + "select (TSV) exits 0", 0, r.returncode)
    c.eq(mode + "TSV: destination records", [["gpu-d"]], records(r.stdout, "destination"))
    c.eq(mode + "TSV: source record", [[VM_A, "gpu-a", "live", "migratable", "-"]],
         records(r.stdout, "source"))
    hosts = records(r.stdout, "host")
    c.eq(mode + "TSV: host records, compatible first", "gpu-d", hosts[0][0] if hosts else None)
    c.eq(mode + "TSV: host record of gpu-b", ["gpu-b", "incompatible", "EINVAL"],
         [h[:3] for h in hosts if h[0] == "gpu-b"][0] if hosts else None)
    summary = records(r.stdout, "summary")
    c.true(mode + "TSV: a summary record of three numbers",
           len(summary) == 1 and all(x.isdigit() for x in summary[0]))
    c.eq(mode + "TSV: nothing on stderr (not a terminal)", "", r.stderr)

    for args, code, why in [
        (["select", "--instance", UNKNOWN], 3, "unknown instance"),
        (["select", "--instance", "5a0f6c2e-1b3d-4e5f-8a9b"], 2, "bad UUID"),
        (["select", "--instance", VM_A, "--from", "gpu-a:" + DEV_1], 2, "two sources"),
        (["select"], 2, "no source"),
        (["select", "--instance", VM_A, "--count", "0"], 2, "--count 0"),
        (["select", "--version", version, "--type", "nvidia/222"], 2, "bad --type"),
    ]:
        r = cli.run(*args)
        c.eq("%sselect, %s: exit %d" % (mode, why, code), code, r.returncode)
        c.true("%sselect, %s: a message on stderr" % (mode, why), r.stderr.startswith("mdevmig: "))


def check_errors(c, cli, registry):
    r = cli.run("inventory", backend=False)
    c.eq("no backend: exit 2", 2, r.returncode)
    c.true("no backend: says how to name one",
           "give --registry PATH or --url URL (or set MDEVMIG_URL)" in r.stderr)
    r = cli.run("inventory", "--registry", registry, "--url", "http://127.0.0.1:1",
                backend=False)
    c.eq("--registry and --url: exit 2", 2, r.returncode)
    r = cli.run("invntory", backend=False)
    c.eq("unknown command: exit 2", 2, r.returncode)
    c.true("unknown command: suggests --help and the near name",
           "--help" in r.stderr and '"inventory"' in r.stderr)
    r = cli.run("inventory", "--registry", registry + ".missing", backend=False)
    c.eq("missing registry file: exit 4", 4, r.returncode)
    c.true("missing registry file: not created", not os.path.exists(registry + ".missing"))
    r = cli.run("select", "--instance", VM_A, token=False)
    c.eq("select --registry without a token: exit 2", 2, r.returncode)
    c.true("... says --token-file", "--token-file" in r.stderr)
    r = cli.run("inventory", "--bogus")
    c.eq("unknown option: exit 2", 2, r.returncode)
    for args in (["--help"], ["help", "select"], ["select", "--help"], ["probe", "-h"]):
        r = cli.run(*args, backend=False, token=False)
        c.eq("%s: exit 0" % " ".join(args), 0, r.returncode)
        c.true("%s: documents the exit codes" % " ".join(args),
               "Exit codes:" in r.stdout and "3  not found" in r.stdout)


def check_tty(c, cli, binary, registry):
    code, out = run_tty([binary, "inventory", "--registry", registry])
    c.eq("TTY inventory exits 0", 0, code)
    c.true("TTY inventory: aligned tables with headers, no tabs",
           "HOST" in out and "COLLECTOR" in out and "\t" not in out)
    code, out = run_tty([binary, "select", "--instance", VM_A, "--registry", registry,
                         "--token-file", cli.token_file])
    c.eq("TTY select exits 0", 0, code)
    c.true("TTY select: destinations line and host table",
           "destinations: gpu-d" in out and "VERDICT" in out and "EINVAL" in out)
    c.true("TTY select: progress line shown on a terminal", "probing" in out)


def check_sched(c, cluster, binary, registry, cli_registry):
    sched = cluster.add_sched(registry=registry)
    cli = Cli(binary, ["--url", sched.url], cli_registry.token_file)
    mode = "sched: "
    hosts = check_inventory(c, cli, mode)
    check_versions(c, cli, mode, hosts)
    check_probe(c, cli, mode, cluster)
    check_select(c, cli, mode)

    # --json is the service's own answer: the CLI adds and drops nothing.
    code, out, _ = cli.json("select", "--instance", VM_A, "--count", "2")
    status, direct = sched.request("POST", "/v1/select", {"instance": VM_A, "count": 2})

    def stable(answer):
        answer = json.loads(json.dumps(answer))
        answer.pop("elapsed_us", None)
        for h in answer.get("hosts", []):
            h.pop("cached_compatible", None)
            for p in h.get("probes", []):
                p.pop("elapsed_us", None)
        return answer
    c.eq("sched: select --json equals POST /v1/select", (200, stable(direct)), (200, stable(out)))

    env = {"MDEVMIG_URL": sched.url, "MDEVMIG_TOKEN_FILE": cli.token_file}
    r = cli.run("select", "--from", "gpu-a:" + DEV_1, "--json", backend=False, token=False,
                env=env)
    c.eq("sched via MDEVMIG_URL and MDEVMIG_TOKEN_FILE: exit 0", 0, r.returncode)

    wrong = os.path.join(cluster.root, "wrong-token")
    with open(os.open(wrong, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("not-the-token\n")
    r = cli.run("inventory", "--url", sched.url, "--token-file", wrong, backend=False,
                token=False)
    c.eq("sched, wrong token: exit 4", 4, r.returncode)
    c.true("sched, wrong token: says so", "token" in r.stderr)
    r = cli.run("inventory", "--url", "http://127.0.0.1:%d" % free_port("127.0.0.1"),
                backend=False)
    c.eq("sched unreachable: exit 4", 4, r.returncode)
    r = cli.run("inventory", "--url", "ftp://127.0.0.1/", backend=False)
    c.eq("sched URL not http(s): exit 2", 2, r.returncode)
    r = cli.run("inventory", "--url", sched.url, backend=False, token=False)
    c.eq("sched without a token: exit 2", 2, r.returncode)
    return cli


def check_dead_collectors(c, cluster, clis, registry):
    """A dead target is unreachable (exit 1); a host silent for longer than
    180 s is stale; a dead source still gets an answer, marked stale."""
    cluster.collectors["gpu-c"].stop()
    for cli in clis:
        mode = "sched: " if "--url" in cli.backend else ""
        code, out, r = cli.json("probe", "--version", VERSIONS["gpu-c"]["nvidia-222"], "--type",
                                "nvidia-222", "--to", "gpu-c", "--timeout", "5")
        host = [h for h in (out or {}).get("hosts", []) if h["host"] == "gpu-c"]
        c.eq(mode + "probe into a dead collector: exit 1, unreachable", (1, "unreachable"),
             (code, host[0]["verdict"] if host else r.stderr))

    # gpu-c's collector no longer heartbeats: age it past the stale limit.
    db = sqlite3.connect(registry, timeout=10)
    with db:
        db.execute("UPDATE hosts SET last_seen = last_seen - 1000 WHERE name = 'gpu-c'")
    db.close()
    cluster.collectors["gpu-a"].stop()
    for cli in clis:
        mode = "sched: " if "--url" in cli.backend else ""
        code, out, _ = cli.json("inventory")
        c.eq(mode + "inventory marks only gpu-c stale", ["gpu-c"],
             [h["host"] for h in (out or {}).get("hosts", []) if h["stale"]])
        r = cli.run("inventory")
        c.eq(mode + "TSV host states", ["ok", "ok", "stale", "ok"],
             [row[1] for row in records(r.stdout, "host")])
        code, out, _ = cli.json("versions", "--type", "nvidia-223")
        c.eq(mode + "versions lists gpu-c among stale_hosts", [["gpu-c"]],
             [g["stale_hosts"] for g in (out or {}).get("groups", []) if g["stale_hosts"]])
        code, out, r = cli.json("select", "--instance", VM_A, "--count", "10")
        c.eq(mode + "select with the source collector dead: exit 0, stale source, gpu-d",
             (0, True, ["gpu-d"]),
             (code, (out or {}).get("source_stale"), (out or {}).get("destinations")))
        r = cli.run("select", "--instance", VM_A)
        c.eq(mode + "TSV source record says stale", [[VM_A, "gpu-a", "stale", "migratable", "-"]],
             records(r.stdout, "source"))


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    binary = os.path.join(build, "plugin/mdevmig")
    checks = Checks()
    with Cluster(build, prefix="mdevmig-cli") as cluster:
        registry = os.path.join(cluster.root, "registry.db")
        gpu_d = os.path.join(cluster.root, "gpu-d.json")
        gpu_d_fixture(source, gpu_d)
        vms = "test://" + os.path.join(source, "tests/unit/data/vmmap/two-vms.xml")
        cluster.add_host("gpu-a", os.path.join(source, "deploy/cluster/gpu-a.json"),
                         registry=registry, libvirt_uri=vms)
        for name in ("gpu-b", "gpu-c"):
            cluster.add_host(name, os.path.join(source, "deploy/cluster", name + ".json"),
                             registry=registry)
        cluster.add_host("gpu-d", gpu_d, registry=registry)
        token_file = os.path.join(cluster.root, "cli-token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(TOKEN + "\n")

        cli = Cli(binary, ["--registry", registry], token_file)
        wait_registry(cli)
        hosts = check_inventory(checks, cli, "")
        check_versions(checks, cli, "", hosts)
        check_probe(checks, cli, "", cluster)
        check_select(checks, cli, "")
        check_errors(checks, cli, registry)
        check_tty(checks, cli, binary, registry)
        clis = [cli]
        if os.path.exists(os.path.join(build, "plugin/mdevmig-sched")):
            clis.append(check_sched(checks, cluster, binary, registry, cli))
        else:
            print("# skipped: mdevmig-sched is not built")
        check_dead_collectors(checks, cluster, clis, registry)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
