"""Readiness (docs/READINESS.md): POST /v1/readiness and `mdevmig readiness`
on a 6-host loopback cluster whose answer is known, against real
collectors and mdevsim drivers.

Hosts (mdevsim + collector each, libvirt's test driver for the VMs,
publishing into the sched's ingest; fixtures/ready-HOST.json and
ready-HOST-libvirt.xml). Every T4 type follows NVIDIA's newer-minor rule
(same prefix and major, the written minor not above the driver's):

  ready-src   535.104; nvidia-222 on two parents (room 1 + 3: one target
              version, so one probe), nvidia-223 room 1, nvidia-234 room 1;
              a refused nvidia-222 write gives EPERM.
              src-01..04  one nvidia-222 each: four VMs, one source version
              src-05      one nvidia-223
              src-06      one nvidia-234: only ready-dead has room for it
              src-07      nvidia-222 + nvidia-223
              src-08      no mdevs: the collector leaves it out, so the
                          registry has no VM without mdevs (0 of them)
              src-09      nvidia-222 whose attribute fails with ENODEV
              src-10      three nvidia-223: no host has room for three
  ready-twin  535.104; nvidia-222 room 4, nvidia-223 room 2. twin-01: 223
  ready-new   535.129; nvidia-222 room 4, nvidia-223 room 1, nvidia-224
              (no other host offers it). new-01: 222; new-02: 224
  ready-old   535.54; nvidia-222 room 3 (refuses with EOPNOTSUPP),
              nvidia-223: no free instance, one unused mdev (a device-level
              probe). old-01: 223
  ready-full  535.129, no room at all: never a destination, never probed.
              full-01: 222, full-02: 223
  ready-dead  535.104; nvidia-222 full, nvidia-223 room 1, nvidia-234 room 2.
              dead-01: 222, dead-02: 234. Its collector is stopped after
              it published.

What must hold is computed here (Model) from the fixtures and the vendor
rule, independently of the C code (the fixtures are first checked against
the registry and against direct collector probes, so a mismatch later is
the readiness code's): each VM's destinations, readiness, best (most free
instances beats the name for old-01; the same version beats the name for
src-01..04, dead-01 and twin-01), verdict and errno; the counts; the
candidate and unreachable hosts; the triples (source digest, host, type at
one target version) and the probes, one per triple (a dead host asked
once), each a real write on the driver (mdevsim's counters) and never one
per VM. First with every collector up, then with ready-dead's stopped and
stale (the sched runs with --stale-after 4); the `hosts` and `stranded`
filters; bad input; the CLI (--url: --json is the service's answer,
--stranded, records in a pipe, a table on a TTY; --registry: the model's
answer too; exit codes 0/1/3/4); readiness_interval 0 accepted; a sched
running readiness every second exports the model's counts in /metrics.
Every sched must stop cleanly with no ASan/UBSan/LSan report.

usage: test_readiness.py BUILD_DIR SOURCE_DIR
"""

import errno
import hashlib
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, free_port, run_tty  # noqa: E402

FIXTURES = "tests/integration/fixtures"
HOSTS = ["ready-dead", "ready-full", "ready-new", "ready-old", "ready-src", "ready-twin"]
DEAD = "ready-dead"
STALE_AFTER = 4  # the sched's --stale-after: seconds
# docs/READINESS.md: exit 0 when no VM is stranded, 1 when one is, 3 for a
# host the registry does not know, 4 when the backend fails.
STRANDED_EXIT, UNKNOWN_HOST_EXIT, BACKEND_EXIT = 1, 3, 4
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error")


# -- the vendor rule and the digest, independently of mdevsim and the C code
def release(version):
    prefix, rel = version.rsplit("-", 1)
    major, minor = (int(x) for x in rel.split("."))
    return prefix, major, minor


def accepts(migration, written):
    """Would a driver with this fixture migration behaviour take `written`?"""
    rule = migration.get("accept")
    if rule == "exact":
        return written == migration["version"]
    if rule == "list":
        return written in migration["accept_list"]
    if rule == "newer-minor":
        tp, tmaj, tmin = release(migration["version"])
        wp, wmaj, wmin = release(written)
        return tp == wp and tmaj == wmaj and wmin <= tmin
    raise ValueError("unknown rule %r" % rule)


def refusal(migration):
    """(errno, name) a refusing write gets: the fixture's refuse_errno."""
    name = migration.get("refuse_errno", "EINVAL")
    return getattr(errno, name), name


def digest(type_id, version):
    return hashlib.sha256((type_id + "\n" + version).encode()).hexdigest()


def type_attr(parent, type_id):
    return "sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version" % (parent, type_id)


def device_attr(uuid):
    return "sys/bus/mdev/devices/%s/migration_version" % uuid


def readiness_of(n):
    return "stranded" if n == 0 else "single" if n == 1 else "ready"


class Model:
    """The cluster as the fixtures say, and the answer readiness must give."""

    def __init__(self, source):
        self.groups = {}   # (host, type, target version) -> group
        self.offers = {}   # host -> the types it offers (room or not)
        self.vms = []      # every domain, with its mdevs
        self.free = {}     # (host, parent, type) -> available_instances
        self.instances = {}  # host -> number of domains
        for host in HOSTS:
            with open(os.path.join(source, FIXTURES, host + ".json")) as f:
                fx = json.load(f)
            assert fx["host"] == host
            tree = ET.parse(os.path.join(source, FIXTURES, host + "-libvirt.xml"))
            domains = []
            for dom in tree.getroot().findall("domain"):
                mdevs = [a.get("uuid") for a in dom.findall("./devices/hostdev[@type='mdev']/source/address")]
                domains.append((dom.findtext("name"), dom.findtext("uuid"), mdevs))
            used = {u for _, _, mdevs in domains for u in mdevs}
            devices = {d["uuid"]: d for d in fx["devices"]}
            types = {}
            for p in fx["parents"]:
                for t in p["types"]:
                    types[(p["name"], t["id"])] = t
            self.offers[host] = {t for _, t in types}
            for (parent, type_id), t in sorted(types.items()):
                on = [d for d in fx["devices"] if (d["parent"], d["type"]) == (parent, type_id)]
                available = t["max_instances"] - len(on)
                unused = sorted(d["uuid"] for d in on if d["uuid"] not in used)
                self.free[(host, parent, type_id)] = available
                mig = t["migration"]
                key = (host, type_id, mig["version"])
                g = self.groups.setdefault(key, {"host": host, "type": type_id, "version": mig["version"],
                                                 "migration": mig, "room": 0, "free": 0, "parents": [],
                                                 "unused": []})
                assert g["migration"] == mig, "one target version, one behaviour"
                # Room: free instances, plus an unused created mdev.
                g["room"] += available + (1 if unused else 0)
                g["free"] += available
                g["parents"].append((parent, available))
                g["unused"] += unused
            # The collector leaves out the domains without mdevs (vmmap.c):
            # they never reach the registry.
            self.instances[host] = len([d for d in domains if d[2]])
            for name, uuid, mdevs in domains:
                if not mdevs:
                    continue
                vm = {"instance": uuid, "name": name, "host": host, "mdevs": []}
                for u in mdevs:
                    d = devices[u]
                    mig = d["migration"] if "migration" in d else types[(d["parent"], d["type"])]["migration"]
                    version = mig.get("version") if mig else None
                    vm["mdevs"].append((d["type"], version))
                self.vms.append(vm)

    # -- per VM ---------------------------------------------------------------
    def need(self, vm):
        """{type: [versions]} of a migratable VM."""
        out = {}
        for type_id, version in vm["mdevs"]:
            out.setdefault(type_id, []).append(version)
        return out

    def host_groups(self, host, type_id):
        return [g for (h, t, _), g in sorted(self.groups.items()) if h == host and t == type_id]

    def room(self, host, type_id, accepting=None):
        return sum(g["room"] for g in self.host_groups(host, type_id) if accepting is None or accepting(g))

    def fits(self, vm, host):
        """Room on host for all of the VM's mdevs (compatibility aside)."""
        return all(type_id in self.offers[host] and self.room(host, type_id) >= len(vs)
                   for type_id, vs in self.need(vm).items())

    def takes(self, vm, host):
        """Room on host for all its mdevs on targets that accept their versions."""
        for type_id, versions in self.need(vm).items():
            room = self.room(host, type_id, lambda g: all(accepts(g["migration"], v) for v in versions))
            if room < len(versions):
                return False
        return True

    def vm_answer(self, vm, down, stale):
        c = {"instance": vm["instance"], "name": vm["name"], "state": "running", "host": vm["host"],
             "source_stale": vm["host"] in stale, "mdevs": len(vm["mdevs"]),
             "types": sorted({t for t, _ in vm["mdevs"]}),
             "destinations": 0, "readiness": "stranded", "best": None,
             "verdict": None, "errno": None, "errno_name": None}
        others = [h for h in HOSTS if h != vm["host"]]
        if any(v is None for _, v in vm["mdevs"]):
            c["verdict"] = "not-migratable"
            return c
        dests = [h for h in others if h not in down and self.takes(vm, h)]
        c["destinations"] = len(dests)
        c["readiness"] = readiness_of(len(dests))
        if dests:
            c["verdict"] = "compatible"
            c["best"] = self.best(vm, dests, stale)
            return c
        need = self.need(vm)
        if any(not any(t in self.offers[h] for h in others) for t in need):
            c["verdict"] = "no-type"
            return c
        roomy = [h for h in others if self.fits(vm, h)]
        if not roomy:
            c["verdict"] = "no-capacity"
            return c
        # Every host with room either refused or did not answer; this
        # cluster never mixes the two for one VM.
        refused = [h for h in roomy if h not in down]
        assert not (refused and len(refused) < len(roomy)), "fixture: %s mixes refusals and down hosts" % vm["name"]
        if refused:
            c["verdict"] = "incompatible"
            first = refused[0]  # by host name
            for type_id, versions in sorted(need.items()):
                bad = [g for g in self.host_groups(first, type_id) if g["room"] > 0
                       and not all(accepts(g["migration"], v) for v in versions)]
                if bad:
                    c["errno"], c["errno_name"] = refusal(bad[0]["migration"])
                    break
        else:
            c["verdict"] = "unreachable"
        return c

    def best(self, vm, dests, stale):
        """Fresh first, then most free instances of the VM's types, then a
        host already running the VM's version, then the name. The fixture
        keeps sum and min of the free instances in agreement."""
        need = self.need(vm)

        def same(h):
            return all(any(g["version"] == v for g in self.host_groups(h, t)) for t, vs in need.items() for v in vs)

        def key(h, agg):
            free = agg(sum(g["free"] for g in self.host_groups(h, t)) for t in need)
            return (h in stale, -free, not same(h), h)
        by_sum = min(dests, key=lambda h: key(h, sum))
        by_min = min(dests, key=lambda h: key(h, min))
        assert by_sum == by_min, "fixture: %s's best depends on how free instances add up" % vm["name"]
        return by_sum

    # -- the whole answer ---------------------------------------------------
    def migratable(self, vm):
        return vm["mdevs"] and all(v is not None for _, v in vm["mdevs"])

    def triples(self, vms, strict=False):
        """{(digest, host, type, target version)}: a probe is needed where a
        VM with that source version is on another host, on a target of its
        type with room. strict: only where that VM would fit the host."""
        out = set()
        for vm in vms:
            if not self.migratable(vm):
                continue
            for type_id, version in vm["mdevs"]:
                for g in self.groups.values():
                    if g["type"] == type_id and g["host"] != vm["host"] and g["room"] > 0 and \
                            (not strict or self.fits(vm, g["host"])):
                        out.add((digest(type_id, version), g["host"], type_id, g["version"]))
        return out

    def answer(self, hosts=None, down=(), stale=(), stranded=False):
        scope = [vm for vm in self.vms if hosts is None or vm["host"] in hosts]
        with_mdevs = [vm for vm in scope if vm["mdevs"]]
        vms = sorted((self.vm_answer(vm, down, stale) for vm in with_mdevs),
                     key=lambda v: (v["host"], v["instance"]))
        triples = self.triples(with_mdevs)
        assert triples == self.triples(with_mdevs, strict=True), "fixture: a triple only a VM that cannot fit needs"
        candidates = sorted({h for _, h, _, _ in triples})
        unreachable = [h for h in candidates if h in down]
        at = {h: len([x for x in triples if x[1] == h]) for h in candidates}
        counts = {k: len([v for v in vms if v["readiness"] == k]) for k in ("stranded", "single", "ready")}
        return {
            "vm_count": len(vms), "vms_without_mdevs": len(scope) - len(with_mdevs),
            "counts": counts, "source_hosts": len({vm["host"] for vm in with_mdevs}),
            "candidate_hosts": len(candidates), "unreachable_hosts": unreachable,
            "triples": len(triples),
            # A down host is asked once (wave 1) and not again.
            "probes_sent": sum(1 if h in down else at[h] for h in candidates),
            "vms": [v for v in vms if not stranded or v["readiness"] == "stranded"],
            "_triples": triples,
            "_scope": with_mdevs,
            "_second_wave": any(at[h] > 1 for h in candidates if h not in down),
        }

    def probe_verdict(self, triple):
        d, host, type_id, version = triple
        g = self.groups[(host, type_id, version)]
        src = [v for vm in self.vms for t, v in vm["mdevs"] if t == type_id and v and digest(t, v) == d][0]
        if accepts(g["migration"], src):
            return "compatible", None
        return ("incompatible",) + refusal(g["migration"])[1:]


# -- helpers ------------------------------------------------------------------
def sanitizer_report(path):
    with open(path, errors="replace") as f:
        log = f.read()
    return [m for m in SANITIZER_MARKS if m in log]


def stable(answer):
    """An answer without what differs from call to call: timings; the
    probes in a fixed order."""
    answer = json.loads(json.dumps(answer))
    answer.pop("elapsed_us", None)
    for p in answer.get("probes", []):
        p.pop("elapsed_us", None)
    answer["probes"] = sorted(answer.get("probes", []),
                              key=lambda p: (p.get("host"), p.get("type"), p.get("source_digest")))
    return answer


def cli_run(binary, args):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=120, env=environ)


VM_FIELDS = ("instance", "name", "state", "host", "source_stale", "mdevs", "types", "destinations",
             "readiness", "best", "verdict", "errno", "errno_name")
TOP_FIELDS = ("vm_count", "vms_without_mdevs", "counts", "source_hosts", "candidate_hosts",
              "unreachable_hosts", "triples", "probes_sent")


class Bench:
    def __init__(self, checks, cluster, sched, model):
        self.checks, self.cluster, self.sched, self.model = checks, cluster, sched, model
        self.attrs = {}  # host -> every migration_version attribute of its tree

    def live_sims(self):
        return {h: s for h, s in self.cluster.sims.items() if s.proc.poll() is None}

    def reset(self):
        for sim in self.live_sims().values():
            sim.ctl("reset-counts")

    def writes(self):
        """{(host, attribute): writes} since the last reset."""
        out = {}
        for host, sim in self.live_sims().items():
            for path in self.attrs[host]:
                w = sim.counts(path)[1]
                if w:
                    out[(host, path)] = w
        return out

    def ask(self, name, body, expect_status=200):
        self.reset()
        status, answer = self.sched.request("POST", "/v1/readiness", body)
        self.checks.eq("%s: HTTP %d" % (name, expect_status), expect_status, status)
        if status != expect_status or not isinstance(answer, dict):
            print("    reply: %r" % (answer,))
            return None, None
        return answer, self.writes()

    def check(self, name, answer, writes, want, down=()):
        """The answer equals the model's, and its probes are the triples,
        each a real write on a live host."""
        c = self.checks
        c.eq(name + ": the totals", {k: want[k] for k in TOP_FIELDS},
             {k: answer.get(k) for k in TOP_FIELDS})
        got_vms = answer.get("vms") or []
        c.eq(name + ": the VMs, by host then instance UUID", [(v["host"], v["instance"]) for v in want["vms"]],
             [(v.get("host"), v.get("instance")) for v in got_vms])
        by_uuid = {v.get("instance"): v for v in got_vms}
        for w in want["vms"]:
            g = by_uuid.get(w["instance"], {})
            got = {k: g.get(k) for k in VM_FIELDS}
            if isinstance(got["types"], list):
                got["types"] = sorted(set(got["types"]))
            c.eq("%s: %s (%s on %s)" % (name, w["name"], w["readiness"] if w["verdict"] == "compatible"
                                         else w["verdict"], w["host"]), w, got)
            stranded = w["readiness"] == "stranded"
            reason = g.get("reason")
            c.true("%s: %s has a reason exactly when stranded (%r)" % (name, w["name"], reason),
                   (isinstance(reason, str) and reason != "") if stranded else reason is None)
        # One probe per VM would be one per (VM, host it could go to).
        per_vm = 0
        for vm in want["_scope"]:
            if self.model.migratable(vm):
                mine = {digest(t, v) for t, v in vm["mdevs"]}
                per_vm += len({h for d, h, _, _ in want["_triples"] if d in mine and h != vm["host"]})
        used = [digest(t, v) for vm in want["_scope"] if self.model.migratable(vm) for t, v in vm["mdevs"]]
        if len(set(used)) < len(used):  # VMs sharing a source version: shared probes
            c.true(name + ": fewer probes than one per (VM, host) (%r < %d)" % (answer.get("probes_sent"), per_vm),
                   isinstance(answer.get("probes_sent"), int) and answer["probes_sent"] < per_vm)
        if want["_second_wave"]:
            c.eq(name + ": two waves", 2, answer.get("waves"))
        self.check_probes(name, answer, writes, want, down)

    def check_probes(self, name, answer, writes, want, down):
        c, m = self.checks, self.model
        probes = answer.get("probes") or []
        c.eq(name + ": one probe entry per probe sent", answer.get("probes_sent"), len(probes))
        triples = want["_triples"]
        live = sorted((d, h, t) for d, h, t, _ in triples if h not in down)
        c.eq(name + ": the live hosts got one probe per triple, no more",
             live, sorted((p.get("source_digest"), p.get("host"), p.get("type")) for p in probes
                          if p.get("host") not in down))
        for h in sorted(set(down)):
            mine = [p for p in probes if p.get("host") == h]
            needed = {(d, t) for d, hh, t, _ in triples if hh == h}
            if not needed:
                c.eq(name + ": %s (down, no triple) not asked" % h, [], mine)
                continue
            c.eq(name + ": %s (down) asked once, unreachable, for one of its triples" % h,
                 [("unreachable", True)],
                 [(p.get("verdict"), (p.get("source_digest"), p.get("type")) in needed) for p in mine])
        groups = {(h, t): v for _, h, t, v in triples}
        want_verdicts, got_verdicts = {}, {}
        for p in probes:
            if p.get("host") in down:
                continue
            key = (p.get("source_digest"), p.get("host"), p.get("type"))
            version = groups.get(key[1:])
            if version is None:
                continue
            want_verdicts[key] = m.probe_verdict(key + (version,))
            got_verdicts[key] = (p.get("verdict"), p.get("errno_name"))
        c.eq(name + ": each probe's verdict and errno as the vendor rule says", want_verdicts, got_verdicts)
        # Where each probe wrote: a type attribute of a parent with free
        # instances, or an unused mdev when that is all the room.
        expected_writes = {}
        bad_targets = []
        for p in probes:
            if p.get("host") in down or p.get("verdict") not in ("compatible", "incompatible"):
                continue
            g = m.groups.get((p.get("host"), p.get("type"), groups.get((p.get("host"), p.get("type")))))
            target = p.get("target") or ""
            if g is None:
                bad_targets.append(target)
                continue
            if any(free > 0 for _, free in g["parents"]):
                parent, _, type_id = target.partition("/")
                ok = p.get("level") == "type" and type_id == g["type"] and \
                    any(pp == parent and free > 0 for pp, free in g["parents"])
                attr = type_attr(parent, type_id)
            else:
                ok = p.get("level") == "device" and target in g["unused"]
                attr = device_attr(target)
            if not ok:
                bad_targets.append((p.get("host"), p.get("level"), target))
            key = (p.get("host"), attr)
            expected_writes[key] = expected_writes.get(key, 0) + 1
        c.eq(name + ": each probe at a target with room (a free instance, else an unused mdev)", [], bad_targets)
        c.eq(name + ": mdevsim's writes are exactly the probes answered, one each", expected_writes, writes)
        per_host = {}
        for _, h, _, _ in triples:
            if h not in down:
                per_host[h] = per_host.get(h, 0) + 1
        got_host = {}
        for (h, _), n in writes.items():
            got_host[h] = got_host.get(h, 0) + n
        c.eq(name + ": writes per host == the model's triples there", per_host, got_host)


# -- the checks -----------------------------------------------------------------
def check_fixture(b):
    """The registry holds what the model read from the fixtures (else the
    model, not the C code, would be wrong)."""
    c = b.checks
    status, body = b.sched.request("GET", "/v1/inventory")
    invs = {h["host"]: h["inventory"] for h in body["hosts"]} if status == 200 else {}
    free = {}
    for host, inv in invs.items():
        for p in inv["parents"]:
            for t in p["types"]:
                free[(host, p["name"], t["id"])] = t["available_instances"]
    c.eq("fixture: the registry's free instances are the model's", b.model.free, free)
    c.eq("fixture: the registry's VMs per host are the model's", b.model.instances,
         {h: len(inv["instances"]) for h, inv in invs.items()})
    # The cluster shows what it is meant to show.
    want = b.model.answer(down=(DEAD,), stale=(DEAD,))
    by_name = {v["name"]: v for v in want["vms"]}
    c.eq("fixture: 0, 1 and several destinations, each stranded verdict",
         ({0, 1, 2, 3}, {"not-migratable", "no-type", "no-capacity", "incompatible", "unreachable", "compatible"}),
         ({v["destinations"] for v in want["vms"]}, {v["verdict"] for v in want["vms"]}))
    four = ("src-01", "src-02", "src-03", "src-04")
    c.eq("fixture: four VMs share one source version on ready-src",
         1, len({digest(*vm["mdevs"][0]) for vm in b.model.vms if vm["name"] in four}))
    c.eq("fixture: best picks most free over the name (old-01), the same version over the name (src-01, dead-01)",
         ("ready-twin", "ready-twin", "ready-src"),
         (by_name["old-01"]["best"], by_name["src-01"]["best"], by_name["dead-01"]["best"]))
    c.eq("fixture: ready-full has no triple", [], [t for t in want["_triples"] if t[1] == "ready-full"])
    # Each triple asked of its collector directly: the drivers answer as
    # the model's vendor rule says (at a device when only an unused mdev
    # is left).
    versions = {digest(t, v): v for vm in b.model.vms for t, v in vm["mdevs"] if v}
    want_v, got_v = {}, {}
    for d, host, type_id, target in sorted(b.model.answer()["_triples"]):
        g = b.model.groups[(host, type_id, target)]
        device = None if g["free"] > 0 else g["unused"][0]
        status, reply = b.cluster.collectors[host].probe(type_id, versions[d], device=device)
        key = "%s %s %s" % (host, type_id, versions[d])
        verdict, name = b.model.probe_verdict((d, host, type_id, target))
        want_v[key] = (verdict, getattr(errno, name) if name else None)
        got_v[key] = (reply.get("verdict"), reply.get("errno")) if status == 200 else status
    c.eq("fixture: every triple probed directly answers as the model says", want_v, got_v)


def check_bad_input(b):
    c, sched = b.checks, b.sched
    status, reply = sched.request("POST", "/v1/readiness", {"hosts": ["ready-src", "no-such-host"]})
    err = reply.get("error", "") if isinstance(reply, dict) else str(reply)
    c.true("unknown host: 404 (or 400) naming it (%d %r)" % (status, err),
           status in (400, 404) and "no-such-host" in err)
    for what, body in (("hosts not a list", {"hosts": "ready-src"}),
                       ("hosts not names", {"hosts": [1]}),
                       ("a host named twice", {"hosts": ["ready-src", "ready-src"]}),
                       ("stranded not a boolean", {"stranded": "yes"}),
                       ("an unknown field", {"host": "ready-src"}),
                       ("not an object", ["ready-src"]),
                       ("10,001 hosts", {"hosts": ["h%05d" % i for i in range(10001)]})):
        status, reply = sched.request("POST", "/v1/readiness", body)
        err = reply.get("error", "") if isinstance(reply, dict) else str(reply)
        c.true("%s: 400 with an error (%d %r)" % (what, status, err), status == 400 and err)
    status, reply = sched.request("POST", "/v1/readiness", raw="{\"hosts\": [")
    c.eq("invalid JSON: 400", 400, status)
    status, reply = sched.request("POST", "/v1/readiness", {}, auth=False)
    c.eq("no token: 401", 401, status)


def check_cli(b, binary, want_all):
    c, sched = b.checks, b.sched
    base = ["readiness", "--url", sched.url, "--token-file", sched.token_file]
    status, direct = sched.request("POST", "/v1/readiness", {})
    r = cli_run(binary, base + ["--json"])
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = None
    c.eq("cli --json: exit 1 (a VM is stranded)", STRANDED_EXIT, r.returncode)
    c.eq("cli --json: the service's answer", stable(direct) if status == 200 else None,
         stable(out) if out is not None else r.stderr)

    r = cli_run(binary, base + ["--stranded", "--json"])
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = {}
    want = [v["instance"] for v in want_all["vms"] if v["readiness"] == "stranded"]
    c.eq("cli --stranded --json: exit 1, the stranded VMs only, the counts of all",
         (STRANDED_EXIT, want, want_all["counts"]),
         (r.returncode, [v.get("instance") for v in out.get("vms", [])], out.get("counts")))

    for hosts in (["ready-full"], ["ready-full", "ready-old"]):
        args = [x for h in hosts for x in ("--host", h)]
        r = cli_run(binary, base + args + ["--json"])
        try:
            out = json.loads(r.stdout)
        except ValueError:
            out = {}
        want = b.model.answer(hosts=hosts, down=(DEAD,), stale=(DEAD,))
        c.eq("cli %s --json: exit 0 (none stranded), the model's VMs" % " ".join(args),
             (0, [(v["instance"], v["destinations"], v["best"]) for v in want["vms"]]),
             (r.returncode, [(v.get("instance"), v.get("destinations"), v.get("best")) for v in out.get("vms", [])]))

    # A pipe: one record per line, every VM in one (the fields as
    # `mdevmig readiness --help` documents them).
    r = cli_run(binary, base)
    lines = r.stdout.splitlines()
    c.eq("cli pipe: exit 1", STRANDED_EXIT, r.returncode)
    c.true("cli pipe: tab-separated records, no terminal codes",
           lines and all("\t" in line and "\x1b" not in line for line in lines))
    missing = [v["name"] for v in want_all["vms"]
               if len([line for line in lines if v["instance"] in line.split("\t")]) != 1]
    c.eq("cli pipe: every VM in exactly one record", [], missing)
    recs = [line.split("\t") for line in lines]
    c.eq("cli pipe: vm records (instance name host mdevs destinations readiness best verdict errno)",
         [["vm", v["instance"], v["name"], v["host"], str(v["mdevs"]), str(v["destinations"]), v["readiness"],
           v["best"] or "-", v["verdict"], v["errno_name"] or "-"] for v in want_all["vms"]],
         [x[:10] for x in recs if x[0] == "vm"])
    c.eq("cli pipe: a summary record (VMs stranded single ready probes_sent triples)",
         [[str(want_all["vm_count"])] + [str(want_all["counts"][k]) for k in ("stranded", "single", "ready")]
          + [str(want_all["probes_sent"]), str(want_all["triples"])]],
         [x[1:7] for x in recs if x[0] == "summary"])
    r = cli_run(binary, base + ["--stranded"])
    stranded = {v["instance"] for v in want_all["vms"] if v["readiness"] == "stranded"}
    others = {v["instance"] for v in want_all["vms"]} - stranded
    fields = {f for line in r.stdout.splitlines() for f in line.split("\t")}
    c.eq("cli pipe --stranded: exit 1, records for the stranded VMs only",
         (STRANDED_EXIT, sorted(stranded), []), (r.returncode, sorted(stranded & fields), sorted(others & fields)))
    r = cli_run(binary, base + ["--host", "ready-old"])
    c.eq("cli pipe --host ready-old: exit 0", 0, r.returncode)

    # --registry: the library in this process, the same answer (its
    # stale_after is 180 s: ready-dead's VMs not stale there), probing live.
    b.reset()
    r = cli_run(binary, ["readiness", "--registry", sched.registry, "--token-file", sched.token_file, "--json"])
    writes = b.writes()
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = None
    c.eq("cli --registry --json: exit 1", STRANDED_EXIT, r.returncode)
    if out is None:
        c.eq("cli --registry --json: an answer", "JSON", r.stderr)
    else:
        b.check("cli --registry", out, writes, b.model.answer(down=(DEAD,)), down=(DEAD,))

    r = cli_run(binary, base + ["--host", "no-such-host"])
    c.eq("cli unknown host: exit 3 naming it", (UNKNOWN_HOST_EXIT, True), (r.returncode, "no-such-host" in r.stderr))

    r = cli_run(binary, ["readiness", "--url", "http://127.0.0.1:%d" % free_port("127.0.0.1"),
                         "--token-file", sched.token_file])
    c.eq("cli: no sched listening: exit 4 (the backend failed)", BACKEND_EXIT, r.returncode)
    wrong = os.path.join(os.path.dirname(sched.token_file), "wrong-token")
    with open(os.open(wrong, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("wrong-token-0123456789abcdef\n")
    r = cli_run(binary, ["readiness", "--url", sched.url, "--token-file", wrong])
    c.eq("cli: the sched refuses the token: exit 4", BACKEND_EXIT, r.returncode)

    code, out = run_tty([binary] + base)
    names = [v["name"] for v in want_all["vms"]]
    c.eq("cli TTY: exit 1", STRANDED_EXIT, code)
    c.true("cli TTY: a table of every VM with its best host, no tabs",
           all(n in out for n in names) and "ready-twin" in out and "\t" not in out)


def metrics_of(sched):
    """{series: value} of the sched's /metrics."""
    status, text = sched.request("GET", "/metrics")
    out = {}
    for line in (text if status == 200 and isinstance(text, str) else "").splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            try:
                out[series] = float(value)
            except ValueError:
                pass
    return out


def wait_metric(sched, series, timeout=30):
    """The metrics once series is above 0 (or at the timeout)."""
    deadline = time.time() + timeout
    metrics = {}
    while time.time() < deadline:
        metrics = metrics_of(sched)
        if metrics.get(series, 0) > 0:
            return metrics
        time.sleep(0.2)
    return metrics


def wait_ready(sched, model, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if set(HOSTS) <= set(invs) and all(len(invs[h]["instances"]) == model.instances[h] for h in HOSTS):
                return True
        time.sleep(0.1)
    return False


def wait_stale(sched, host, timeout=30):
    """Until the registry marks host stale; {host: stale} then."""
    deadline = time.time() + timeout
    stale = {}
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            stale = {h["host"]: h.get("stale") for h in body["hosts"]}
            if stale.get(host):
                return stale
        time.sleep(0.2)
    return stale


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    binary = os.path.join(build, "plugin/mdevmig")
    checks = Checks()
    model = Model(source)
    started = time.time()
    with Cluster(build, prefix="mdevmig-it") as cluster:
        # The sched's own runs out of the way (the first would start one
        # interval after the service): only this test's requests probe.
        sched = cluster.add_sched(extra=["--stale-after", str(STALE_AFTER), "--readiness-interval", "604800"])
        fx = os.path.join(source, FIXTURES)
        for host in HOSTS:
            cluster.add_host(host, os.path.join(fx, host + ".json"),
                             libvirt_uri="test://" + os.path.join(fx, host + "-libvirt.xml"),
                             registry=None, extra=["--registry", sched.url])
        ready = wait_ready(sched, model)
        checks.true("the sched's registry holds every host and its VMs", ready)
        if not ready:
            print(open(sched.log).read()[-3000:])
            return checks.finish()
        b = Bench(checks, cluster, sched, model)
        for host, col in cluster.collectors.items():
            inv = col.inventory()
            b.attrs[host] = [type_attr(p["name"], t["id"]) for p in inv["parents"] for t in p["types"]
                             if t["migration"]["supported"]]
            b.attrs[host] += [device_attr(d["uuid"]) for d in inv["devices"]]
        check_fixture(b)

        # Every collector up.
        answer, writes = b.ask("all up", {})
        if answer is not None:
            b.check("all up", answer, writes, model.answer())

        # ready-dead's collector stopped after it published: never a
        # destination, its VMs still there from the registry, stale once
        # stale_after has passed.
        cluster.collectors[DEAD].stop()
        stale = wait_stale(sched, DEAD)
        checks.eq("ready-dead stale in the registry, the others fresh",
                  {h: h == DEAD for h in HOSTS}, stale)
        want_all = model.answer(down=(DEAD,), stale=(DEAD,))
        answer, writes = b.ask("ready-dead down", {})
        if answer is not None:
            b.check("ready-dead down", answer, writes, want_all, down=(DEAD,))
        answer, writes = b.ask("ready-dead down, the fields given empty", {"hosts": [], "stranded": False})
        if answer is not None:
            b.check("ready-dead down, the fields given empty", answer, writes, want_all, down=(DEAD,))

        # Only the VMs of some hosts; destinations still every host.
        for hosts in (["ready-full"], ["ready-old", DEAD], ["ready-src"]):
            name = "hosts %s" % ",".join(hosts)
            answer, writes = b.ask(name, {"hosts": hosts})
            if answer is not None:
                b.check(name, answer, writes, model.answer(hosts=hosts, down=(DEAD,), stale=(DEAD,)),
                        down=(DEAD,))

        # Only the stranded VMs listed; the counts cover all.
        for hosts in (None, ["ready-new", "ready-twin"]):
            body = {"stranded": True}
            if hosts:
                body["hosts"] = hosts
            name = "stranded" + (" on " + ",".join(hosts) if hosts else "")
            answer, writes = b.ask(name, body)
            if answer is not None:
                b.check(name, answer, writes, model.answer(hosts=hosts, down=(DEAD,), stale=(DEAD,), stranded=True),
                        down=(DEAD,))

        check_bad_input(b)
        check_cli(b, binary, want_all)

        # readiness_interval = 0 turns the sched's own runs off
        # (docs/READINESS.md): a sched so configured starts.
        try:
            off = cluster.add_sched(extra=["--readiness-interval", "0"])
            checks.true("a sched with --readiness-interval 0 (runs off) starts", off.proc.poll() is None)
            off.stop()
        except RuntimeError as e:
            checks.eq("a sched with --readiness-interval 0 (runs off) starts", "started", str(e).strip())

        checks.true("the sched is still running", sched.proc.poll() is None)
        checks.eq("no sanitizer report in the sched's log", [], sanitizer_report(sched.log))
        sched.stop()
        checks.eq("the sched stops cleanly on SIGTERM", 0, sched.proc.returncode)
        checks.eq("no sanitizer report after the stop", [], sanitizer_report(sched.log))

        # The sched's own runs: a sched on the same registry running every
        # second exports the last run's counts (ready-dead still down).
        periodic = cluster.add_sched(registry=sched.registry,
                                     extra=["--stale-after", str(STALE_AFTER), "--readiness-interval", "1"])
        runs_ok = 'mdevmig_sched_readiness_runs_total{outcome="ok"}'
        runs_error = 'mdevmig_sched_readiness_runs_total{outcome="error"}'
        metrics = wait_metric(periodic, runs_ok)
        checks.true("periodic: a run made, none failed (%r, %r)" % (metrics.get(runs_ok), metrics.get(runs_error)),
                    metrics.get(runs_ok, 0) >= 1 and not metrics.get(runs_error))
        checks.eq("periodic: mdevmig_sched_vms per readiness as the model says",
                  {k: float(want_all["counts"][k]) for k in ("stranded", "single", "ready")},
                  {k: metrics.get('mdevmig_sched_vms{readiness="%s"}' % k) for k in ("stranded", "single", "ready")})
        checks.true("periodic: the last run's time and duration",
                    metrics.get("mdevmig_sched_readiness_last_run_timestamp_seconds", 0) > started - 60
                    and metrics.get("mdevmig_sched_readiness_duration_seconds", -1) >= 0)
        periodic.stop()
        checks.eq("periodic: the sched stops cleanly", 0, periodic.proc.returncode)
        checks.eq("periodic: no sanitizer report", [], sanitizer_report(periodic.log))
    print("took %.1f s" % (time.time() - started))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
