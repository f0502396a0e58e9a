"""Driver rollouts (docs/READINESS.md, Rollout): POST /v1/rollout and
`mdevmig rollout` against real collectors and mdevsim drivers, checked
against a model of the contract computed here from the fixtures and the
vendor rule (newer-minor: same prefix and major, the written minor not
above the driver's), independently of the planner.

Three loopback clusters, one after the other (mdevsim + collector per
host, publishing into one sched's ingest; one mdev per VM, one parent
0000:3b:00.0 per host; "room" is max_instances less the devices there):

  order (like roll-ref, hosts roll-a,roll-b,roll-c):
    roll-ref  nvidia-222 535.129, room 0 (it only answers the probes for
              the hosts already upgraded: a type-level probe needs no room)
    roll-a    535.104, vm-a1 vm-a2, room 1
    roll-b    535.54,  vm-b1,       room 0
    roll-c    535.54,  vm-c1 vm-c2, room 1
    roll-s    535.54,  no VM,       room 1 (not rolled out)
  As given (a, b, c) roll-a goes first and strands both its VMs: nothing
  at 535.54 takes 535.104. The model plans b, c, a with nothing stranded:
    wave 1 roll-b: vm-b1 -> roll-s (the only host not upgraded later);
    wave 2 roll-c: one VM -> roll-b (upgraded: room 1 again), the other ->
      roll-a (to be upgraded later: it runs 535.104 there and moves again);
      roll-s took vm-b1 in wave 1, so it has no room now: a planner that
      forgot the room spent in wave 1 would send it there (ENOSPC on the
      replay);
    wave 3 roll-a: its three VMs -> roll-c (upgraded, room 3); roll-b is
      full with wave 2's VM.
  The scenario is built so that no tie-break the contract leaves open
  decides anything (checked on the model).
  The plan is then replayed on the simulator, wave by wave: first a live
  POST /v1/filter {"instance", "hosts": [destination]} per planned move
  must find the destination compatible with the VM's current version and
  room for it; then each move is made for real: the VM's mdev is created
  on the destination (a UUID written to the type's `create`: it runs the
  destination's version, and mdevsim refuses it with ENOSPC past the
  room) and removed on the source (`remove`); the VM follows its mdev in
  libvirt: VMs come from libvirt's test driver (test:///FILE), which reads
  its XML once per connection, so each host's XML is rewritten (from the
  fixtures' roll-*-libvirt.xml domains, with the new mdev UUID) and the
  two collectors restarted, which publish at once; then mdevsimctl
  `version` gives the wave's hosts roll-ref's version (a driver upgrade;
  the devices left there follow their type). Once the registry shows the
  new placement and versions, the next wave. At the end every listed host
  runs roll-ref's version and the VMs are where the plan put them.

  nosafe (like roll-nref 535.129, hosts roll-n1,roll-n2,roll-n3, every
  refusal EPROTO): roll-n1 535.140 (newer than the reference: refused by
  535.129), roll-n2 535.104, roll-n3 550.54 (another major), one VM and
  no room each; roll-ns 535.129 room 1. No order saves vm-n1 and vm-n3:
  planned n2 (vm-n2 -> roll-ns), n1, n3; vm-n1 stranded in wave 2, vm-n3
  in wave 3, incompatible with EPROTO (the upgraded roll-n2, the one host
  with room left, refuses them through the probe into roll-nref).

  whatif (like roll-wref, hosts roll-w1,roll-w2,roll-w3, EPROTO):
  roll-w1 nvidia-222 535.54 (vm-w1), roll-w2 535.104 (vm-w2), no room;
  roll-wold 535.104 room 1 takes both now, not once they run 535.129;
  roll-w3 nvidia-223 535.140 room 1, no VM: the one home of vm-wnew
  (nvidia-223 535.140 on roll-wnew, not rolled out) until roll-w3 goes
  to 535.129. --what-if: 0 stranded now, all three VMs after.

Checked on each: the answer against the model (order, waves, moves as
(from, to, to_upgraded) per wave, stranded with wave, verdict, errno,
given_order), and the answer on its own: every move from where the VM is,
into a host outside its wave, with room left (capacity spent across
waves), accepted by the rule (the upgraded host's new version), the mdev's
version, digest (sha256 of "type\\nversion") and to_version; every VM left
on a wave's host is listed stranded and truly had nowhere to go.
max_down 2 (waves of at most 2, sound), max_down absent (1), the hosts in
another order (the same plan); max_down 2 against the model too (waves,
moves and stranded compared without the VMs' identity). Probes: mdevsim's write counters equal the
probes answered, host by host; at most one probe per (source digest,
host, target); each move confirmed by a compatible probe into its
destination or, when upgraded, into the reference. Bad input: unknown
like (404 naming it), empty or missing hosts, max_down 0 or -1 (400), and
the choices the contract leaves open (the reference among the hosts, an
unknown or repeated host) are asserted as decided here (400/404/400) and
printed; no probe is written for any of them. The CLI's --json (with --url
and --registry) equals the service's answer less the elapsed fields,
--what-if and max_down 2 too; its records in a pipe are the answer's
(wave, move, stranded, vm, summary); exit 0, or 1 when a VM would not
stay migratable, 3 for an unknown --like or host, 2 for a usage error
(--max-down 0 or -1, no or empty --hosts, no --like, the reference among
the hosts: the sched's 400). Every sched (and collector) stops cleanly
with no ASan/UBSan/LSan report.

Helpers cluster.py lacks live here (and test_rollout_graph.py imports
them): writing a host's libvirt XML and restarting its collector on it,
creating and removing mdevs through the mount.

usage: test_rollout.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import copy
import hashlib
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

FIXTURES = "tests/integration/fixtures"
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error")
ERRNOS = {"EINVAL": 22, "EPROTO": 71, "EPERM": 1}

SCENARIOS = {
    "order": {"like": "roll-ref", "listed": ["roll-a", "roll-b", "roll-c"],
              "others": ["roll-ref", "roll-s"]},
    "nosafe": {"like": "roll-nref", "listed": ["roll-n1", "roll-n2", "roll-n3"],
               "others": ["roll-nref", "roll-ns"]},
    "whatif": {"like": "roll-wref", "listed": ["roll-w1", "roll-w2", "roll-w3"],
               "others": ["roll-wref", "roll-wold", "roll-wnew"]},
}


# -- the vendor rule, the digest, paths ---------------------------------------
def release(version):
    prefix, rel = version.rsplit("-", 1)
    major, minor = (int(x) for x in rel.split("."))
    return prefix, major, minor


def accepts(rule, target, written):
    """Does a driver at `target` under `rule` take `written`?"""
    if rule == "exact":
        return written == target
    if rule == "newer-minor":
        tp, tmaj, tmin = release(target)
        wp, wmaj, wmin = release(written)
        return tp == wp and tmaj == wmaj and wmin <= tmin
    raise ValueError(rule)


def digest(type_id, version):
    return hashlib.sha256((type_id + "\n" + version).encode()).hexdigest()


def type_dir(parent, type_id):
    return "sys/class/mdev_bus/%s/mdev_supported_types/%s" % (parent, type_id)


def type_attr(parent, type_id):
    return type_dir(parent, type_id) + "/migration_version"


def device_attr(uuid):
    return "sys/bus/mdev/devices/%s/migration_version" % uuid


def load(source, name):
    with open(os.path.join(source, FIXTURES, name + ".json")) as f:
        return json.load(f)


def sanitizer_report(path):
    try:
        with open(path, errors="replace") as f:
            log = f.read()
    except OSError:
        return []
    return [m for m in SANITIZER_MARKS if m in log]


def stable(answer):
    """An answer without what differs from call to call (timings)."""
    answer = json.loads(json.dumps(answer))
    answer.pop("elapsed_us", None)
    for p in answer.get("probes", []) or []:
        p.pop("elapsed_us", None)
    return answer


def plan_part(answer):
    """What a plan says, less its probes and timings."""
    return {k: answer.get(k) for k in ("like", "max_down", "what_if", "hosts", "versions", "order",
                                       "vm_count", "moves", "stranded_count", "given_order", "waves",
                                       "stranded")}


def cli_run(binary, args, env=None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
    environ.update(env or {})
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=180, env=environ)


# -- libvirt's test driver: the VMs as XML ------------------------------------
def parse_domains(path):
    """[(name, uuid, [mdev uuid])] of a libvirt test driver XML."""
    with open(path) as f:
        xml = f.read()
    out = []
    for chunk in xml.split("<domain")[1:]:
        name = chunk.split("<name>")[1].split("</name>")[0]
        uuid = chunk.split("<uuid>")[1].split("</uuid>")[0]
        mdevs = [part.split("'")[0] for part in chunk.split("address uuid='")[1:]]
        out.append((name, uuid, mdevs))
    return out


def domains_xml(domains):
    """A libvirt test driver node with these (name, uuid, [mdev]) domains."""
    out = ["<node>"]
    for name, uuid, mdevs in domains:
        out += ["  <domain type='test'>", "    <name>%s</name>" % name, "    <uuid>%s</uuid>" % uuid,
                "    <memory>4194304</memory>", "    <vcpu>2</vcpu>",
                "    <os><type arch='x86_64'>hvm</type></os>", "    <devices>"]
        for m in mdevs:
            out += ["      <hostdev mode='subsystem' type='mdev' model='vfio-pci'>",
                    "        <source><address uuid='%s'/></source>" % m, "      </hostdev>"]
        out += ["    </devices>", "  </domain>"]
    out.append("</node>")
    return "\n".join(out) + "\n"


# -- the model ---------------------------------------------------------------
class State:
    """Who runs what where, as a plan goes: versions per (host, type),
    devices used per (host, type), each VM's host and mdev versions."""

    def __init__(self, model):
        self.ver = {k: o["version"] for k, o in model.offer.items()}
        self.used = dict(model.used)
        self.vm_host = {u: v["host"] for u, v in model.vms.items()}
        self.vm_ver = {u: [model.offer[(v["host"], t)]["version"] for _, t in v["mdevs"]]
                       for u, v in model.vms.items()}
        self.upgraded = set()

    def copy(self):
        return copy.deepcopy(self)


class Model:
    """The cluster as the fixtures and the XML say, and the contract's
    planner over it (max_down 1)."""

    def __init__(self, source, like, listed, others):
        self.like, self.listed = like, list(listed)
        self.hosts = sorted(set(listed) | set(others))
        self.offer, self.used, self.vms, self.devices = {}, {}, {}, {}
        for h in self.hosts:
            fx = load(source, h)
            for p in fx["parents"]:
                for t in p["types"]:
                    mig = t["migration"]
                    assert (h, t["id"]) not in self.offer, "one parent per type"
                    errno = mig.get("refuse_errno", "EINVAL")
                    self.offer[(h, t["id"])] = {
                        "parent": p["name"], "version": mig["version"], "rule": mig["accept"],
                        "max": t["max_instances"], "errno": ERRNOS.get(errno, errno),
                        "errno_name": errno}
                    self.used.setdefault((h, t["id"]), 0)
            for d in fx["devices"]:
                assert "migration" not in d, "devices follow their type"
                self.used[(h, d["type"])] += 1
                self.devices[d["uuid"]] = (h, d["parent"], d["type"])
            xml = os.path.join(source, FIXTURES, h + "-libvirt.xml")
            if os.path.exists(xml):
                for name, uuid, mdevs in parse_domains(xml):
                    assert all(self.devices[m][0] == h for m in mdevs)
                    self.vms[uuid] = {"name": name, "host": h,
                                      "mdevs": [(m, self.devices[m][2]) for m in mdevs]}
        self.like_ver = {t: o["version"] for (h, t), o in self.offer.items() if h == like}
        self.ties = []

    def types_of(self, host):
        return sorted(t for (h, t) in self.offer if h == host)

    def shared(self, host):
        return [t for t in self.types_of(host) if t in self.like_ver]

    def target(self, st, host, type_id):
        """(version, rule, errno) a VM's version is written to on host: the
        reference's for an upgraded host (the planner probes like), else
        the host's own."""
        if host in st.upgraded and type_id in self.like_ver:
            o = self.offer[(self.like, type_id)]
            return o["version"], o["rule"], o["errno"]
        o = self.offer[(host, type_id)]
        return st.ver[(host, type_id)], o["rule"], o["errno"]

    def room(self, st, host, type_id):
        return self.offer[(host, type_id)]["max"] - st.used[(host, type_id)]

    def fits(self, st, vm, host):
        """None if host takes vm now (room and rule), else why not:
        ("no-type"|"no-capacity"|"incompatible", errno)."""
        types = [t for _, t in self.vms[vm]["mdevs"]]
        if any((host, t) not in self.offer for t in types):
            return ("no-type", None)
        for t in set(types):
            if self.room(st, host, t) < types.count(t):
                return ("no-capacity", None)
        for t, v in zip(types, st.vm_ver[vm]):
            version, rule, errno = self.target(st, host, t)
            if not accepts(rule, version, v):
                return ("incompatible", errno)
        return None

    def verdict(self, st, vm, excluded):
        """The reason a VM has nowhere to go (the first that holds)."""
        why = [(h, self.fits(st, vm, h)) for h in self.hosts if h not in excluded]
        if all(w == ("no-type", None) for _, w in why):
            return "no-type", None
        with_room = [(h, w) for h, w in why if w is None or w[0] == "incompatible"]
        if not with_room:
            return "no-capacity", None
        return "incompatible", with_room[0][1][1]

    def move(self, st, vm, dest):
        src = st.vm_host[vm]
        types = [t for _, t in self.vms[vm]["mdevs"]]
        new = [self.target(st, dest, t)[0] for t in types]
        for t in types:
            st.used[(src, t)] -= 1
            st.used[(dest, t)] += 1
        st.vm_host[vm] = dest
        st.vm_ver[vm] = new
        return new

    def upgrade(self, st, host):
        st.upgraded.add(host)
        for t in self.shared(host):
            st.ver[(host, t)] = self.like_ver[t]
        for vm, h in st.vm_host.items():
            if h == host:
                st.vm_ver[vm] = [self.like_ver.get(t, v) for (_, t), v in
                                 zip(self.vms[vm]["mdevs"], st.vm_ver[vm])]

    def evacuate(self, st, wave, later, note_ties=False):
        """Move the VMs of the wave's hosts (by instance UUID): to a host
        that takes them, preferring hosts not upgraded later, then the most
        room. Returns (moves, stranded)."""
        moves, stranded = [], []
        for vm in sorted(u for u, h in st.vm_host.items() if h in wave):
            src = st.vm_host[vm]
            first = self.vms[vm]["mdevs"][0][1]
            cands = sorted(((h in later, -self.room(st, h, first)), h) for h in self.hosts
                           if h not in wave and self.fits(st, vm, h) is None)
            if not cands:
                verdict, errno = self.verdict(st, vm, wave)
                stranded.append({"instance": vm, "host": src, "verdict": verdict, "errno": errno})
                continue
            if note_ties and len(cands) > 1 and cands[0][0] == cands[1][0]:
                self.ties.append("%s: %s or %s" % (self.vms[vm]["name"], cands[0][1], cands[1][1]))
            dest = cands[0][1]
            upgraded = dest in st.upgraded
            old = list(st.vm_ver[vm])
            new = self.move(st, vm, dest)
            moves.append({"instance": vm, "from": src, "to": dest, "to_upgraded": upgraded,
                          "versions": old, "to_versions": new})
        return moves, stranded

    def plan(self, order=None, max_down=1):
        """The contract's plan; order: the hosts' order as given
        (given_order), None: the planner's pick. A wave of several hosts
        takes those that, each evacuated alone, strand the fewest (then
        have the fewest VMs, then by name), and moves their VMs together
        (by instance UUID)."""
        st = State(self)
        left = list(self.listed)
        waves = []
        if order is None:
            self.ties = []
        while left:
            if order is None:
                keys = {}
                for h in left:
                    trial = st.copy()
                    _, stranded = self.evacuate(trial, [h], set(left) - {h})
                    keys[h] = (len(stranded), sum(1 for x in st.vm_host.values() if x == h))
                ranked = sorted(left, key=lambda h: (keys[h], h))
                wave = ranked[:max_down]
                if len(ranked) > len(wave) and keys[ranked[len(wave) - 1]] == keys[ranked[len(wave)]]:
                    self.ties.append("wave %d: %s" % (len(waves) + 1, sorted(
                        h for h in left if keys[h] == keys[ranked[len(wave) - 1]])))
            else:
                done = sum(len(w["hosts"]) for w in waves)
                wave = order[done:done + max_down]
            for h in wave:
                left.remove(h)
            moves, stranded = self.evacuate(st, wave, set(left), note_ties=order is None)
            for h in wave:
                self.upgrade(st, h)
            for s in stranded:
                s["wave"] = len(waves) + 1
            waves.append({"hosts": sorted(wave), "moves": moves, "stranded": stranded})
        return waves, st

    def destinations(self, st, vm):
        return [h for h in self.hosts if h != st.vm_host[vm] and self.fits(st, vm, h) is None]

    def what_if(self):
        """(now, after): {vm: destinations} with the hosts as they are, and
        with every listed host on like's driver (its VMs on like's
        versions), nothing moved."""
        now_st = State(self)
        after_st = State(self)
        for h in self.listed:
            for t in self.shared(h):
                after_st.ver[(h, t)] = self.like_ver[t]
            for vm, at in after_st.vm_host.items():
                if at == h:
                    after_st.vm_ver[vm] = [self.like_ver.get(t, v) for (_, t), v in
                                           zip(self.vms[vm]["mdevs"], after_st.vm_ver[vm])]
        now = {vm: self.destinations(now_st, vm) for vm in self.vms}
        after = {vm: self.destinations(after_st, vm) for vm in self.vms}
        why = {vm: self.verdict(after_st, vm, [after_st.vm_host[vm]]) for vm in self.vms if not after[vm]}
        return now, after, why

    def digests(self):
        """Every (type, version) digest a VM can run during any rollout of
        this cluster: the fixtures' versions and the reference's."""
        out = set()
        for (h, t), o in self.offer.items():
            out.add(digest(t, o["version"]))
        for t, v in self.like_ver.items():
            out.add(digest(t, v))
        return out


# -- the running cluster -----------------------------------------------------
class Bench:
    """One scenario's cluster: the sched, a collector and mdevsim per host,
    each host's libvirt XML written from `placement` (the live model)."""

    def __init__(self, checks, cluster, sched, source, model):
        self.checks, self.cluster, self.sched, self.source, self.model = (
            checks, cluster, sched, source, model)
        # The VMs as they are on the simulator: {vm: [host, [mdev uuid]]}.
        self.placement = {u: [v["host"], [m for m, _ in v["mdevs"]]] for u, v in model.vms.items()}
        self.devices = dict(model.devices)  # mdev uuid -> (host, parent, type)
        self.versions = {k: o["version"] for k, o in model.offer.items()}

    @classmethod
    def start(cls, checks, cluster, source, model):
        sched = cluster.add_sched()
        bench = cls(checks, cluster, sched, source, model)
        for h in model.hosts:
            xml = bench.write_xml(h)
            cluster.add_host(h, os.path.join(source, FIXTURES, h + ".json"),
                             libvirt_uri="test://" + xml, registry=None,
                             extra=["--registry", sched.url])
        return bench

    def xml_path(self, host):
        return os.path.join(self.cluster.root, "%s-libvirt.xml" % host)

    def write_xml(self, host):
        domains = [(self.model.vms[u]["name"], u, mdevs)
                   for u, (h, mdevs) in sorted(self.placement.items()) if h == host]
        path = self.xml_path(host)
        with open(path, "w") as f:
            f.write(domains_xml(domains))
        return path

    def restart_collector(self, host):
        """The collector again on the host's rewritten XML: libvirt's test
        driver reads it when the collector connects."""
        self.write_xml(host)
        col = self.cluster.collectors[host]
        col.stop()
        col.start()

    def registry_view(self):
        status, body = self.sched.request("GET", "/v1/inventory")
        if status != 200:
            return None, None
        vms, versions = {}, {}
        for h in body["hosts"]:
            for i in h["inventory"]["instances"]:
                vms.setdefault(i["uuid"], []).append([h["host"], sorted(i["mdevs"])])
            for p in h["inventory"]["parents"]:
                for t in p["types"]:
                    versions[(h["host"], t["id"])] = t["migration"].get("version")
        return vms, versions

    def expected_view(self):
        vms = {u: [[h, sorted(m)]] for u, (h, m) in self.placement.items()}
        return vms, dict(self.versions)

    def wait_registry(self, timeout=60):
        """Until the sched's registry holds the VMs where they are and the
        versions the drivers run."""
        want = self.expected_view()
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = self.registry_view()
            if got == want:
                return True
            time.sleep(0.1)
        print("    registry: %r\n    expected: %r" % (got, want))
        return False

    # -- write counters ------------------------------------------------------
    def reset_counts(self):
        for sim in self.cluster.sims.values():
            if sim.proc.poll() is None:
                sim.ctl("reset-counts")

    def writes(self):
        """{host: writes to any migration_version} since the reset."""
        out = {}
        for h in self.model.hosts:
            sim = self.cluster.sims[h]
            paths = [type_attr(o["parent"], t) for (hh, t), o in self.model.offer.items() if hh == h]
            paths += [device_attr(u) for u, d in self.devices.items() if d[0] == h]
            n = sum(sim.counts(p)[1] for p in paths)
            if n:
                out[h] = n
        return out

    def rollout(self, name, body, expect_status=200):
        """One POST /v1/rollout with the counters zeroed first: (answer,
        writes), or (None, writes) when the status is not the expected one."""
        self.reset_counts()
        start = time.time()
        status, answer = self.sched.request("POST", "/v1/rollout", body)
        wall = time.time() - start
        writes = self.writes()
        self.checks.eq("%s: HTTP %d" % (name, expect_status), expect_status, status)
        if status != expect_status or not isinstance(answer, dict):
            print("    reply: %r" % (answer,))
            return None, writes
        if status == 200:
            print("    (%s: %.2f s)" % (name, wall))
        return answer, writes

    # -- the simulator: moves and upgrades ------------------------------------
    def sysfs_write(self, host, path, data):
        fd = os.open(os.path.join(self.cluster.sims[host].mount, path), os.O_WRONLY)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)

    def sysfs_read(self, host, path):
        with open(os.path.join(self.cluster.sims[host].mount, path)) as f:
            return f.read().strip()


# -- checks on an answer -----------------------------------------------------
def move_key(m):
    return (m["from"], m["to"], m["to_upgraded"])


def check_plan_model(c, name, model, answer, hosts_given):
    """The answer is the model's plan."""
    waves, _ = model.plan()
    given, _ = model.plan(order=hosts_given)
    c.eq(name + ": the order the model plans", [w["hosts"][0] for w in waves], answer.get("order"))
    c.eq(name + ": waves of one host, in that order", [w["hosts"] for w in waves],
         [w.get("hosts") for w in answer.get("waves", [])])
    c.eq(name + ": wave numbers 1..N", list(range(1, len(waves) + 1)),
         [w.get("wave") for w in answer.get("waves", [])])
    c.eq(name + ": the moves of each wave (from, to, to_upgraded)",
         [sorted(move_key(m) for m in w["moves"]) for w in waves],
         [sorted(move_key(m) for m in w.get("moves", [])) for w in answer.get("waves", [])])
    want_stranded = [(s["instance"], s["host"], s["wave"], s["verdict"], s["errno"])
                     for w in waves for s in w["stranded"]]
    c.eq(name + ": the stranded VMs (instance, host, wave, verdict, errno)", want_stranded,
         [(s.get("instance"), s.get("host"), s.get("wave"), s.get("verdict"), s.get("errno"))
          for s in answer.get("stranded", [])])
    c.eq(name + ": each wave lists its stranded",
         [[s["instance"] for s in w["stranded"]] for w in waves],
         [[s.get("instance") for s in w.get("stranded", [])] for w in answer.get("waves", [])])
    c.eq(name + ": counts (vm_count, moves, stranded_count)",
         (sum(1 for v in model.vms.values() if v["host"] in model.listed),
          sum(len(w["moves"]) for w in waves), len(want_stranded)),
         (answer.get("vm_count"), answer.get("moves"), answer.get("stranded_count")))
    c.eq(name + ": given_order: the hosts as given and what that order strands",
         {"order": list(hosts_given), "stranded_count": sum(len(w["stranded"]) for w in given)},
         answer.get("given_order"))
    names = {u: v["name"] for u, v in model.vms.items()}
    c.eq(name + ": names of the moved and the stranded",
         [(m["instance"], names.get(m["instance"])) for w in answer.get("waves", []) for m in w.get("moves", [])]
         + [(s["instance"], names.get(s["instance"])) for s in answer.get("stranded", [])],
         [(m["instance"], m.get("name")) for w in answer.get("waves", []) for m in w.get("moves", [])]
         + [(s["instance"], s.get("name")) for s in answer.get("stranded", [])])


def check_plan_waves(c, name, model, answer, max_down):
    """A plan with waves of several hosts against the model: the same
    waves; moves and stranded compared without the VMs' identity, which
    the order of VMs within a wave decides (the contract leaves it open,
    and VMs of one host at one version are alike)."""
    waves, _ = model.plan(max_down=max_down)
    given, _ = model.plan(order=model.listed, max_down=max_down)
    c.eq(name + ": the waves the model plans", [w["hosts"] for w in waves],
         [sorted(w.get("hosts", [])) for w in answer.get("waves", [])])
    c.eq(name + ": the moves of each wave (from, to, to_upgraded)",
         [sorted(move_key(m) for m in w["moves"]) for w in waves],
         [sorted(move_key(m) for m in w.get("moves", [])) for w in answer.get("waves", [])])
    c.eq(name + ": the stranded of each wave (host, verdict, errno)",
         [sorted((s["host"], s["verdict"], s["errno"]) for s in w["stranded"]) for w in waves],
         [sorted((s.get("host"), s.get("verdict"), s.get("errno")) for s in w.get("stranded", []))
          for w in answer.get("waves", [])])
    c.eq(name + ": given_order strands as the model says",
         sum(len(w["stranded"]) for w in given), (answer.get("given_order") or {}).get("stranded_count"))


def check_plan_sound(c, name, model, answer, max_down):
    """Whatever the choices: the answer replayed on the model is possible.
    Returns the final State (None if the answer is not well formed)."""
    st = State(model)
    seen = []
    like_types = model.like_ver
    c.eq(name + ": like, max_down, what_if echoed", (model.like, max_down, False),
         (answer.get("like"), answer.get("max_down"), answer.get("what_if")))
    c.eq(name + ": versions: like's version of each type the hosts share with it",
         sorted((t, v, digest(t, v)) for t, v in like_types.items()
                if any((h, t) in model.offer for h in model.listed)),
         sorted((x.get("type"), x.get("version"), x.get("digest")) for x in answer.get("versions", [])))
    bad = []
    for w in answer.get("waves", []):
        wave = w.get("hosts", [])
        if not (1 <= len(wave) <= max_down) or not set(wave) <= set(model.listed) or set(wave) & set(seen):
            bad.append("wave %s: hosts %r" % (w.get("wave"), wave))
        seen += wave
        for m in w.get("moves", []):
            vm = m["instance"]
            if vm not in st.vm_host:
                bad.append("unknown VM %s" % vm)
                continue
            what = "wave %s: %s %s -> %s" % (w.get("wave"), model.vms[vm]["name"], m["from"], m["to"])
            if st.vm_host[vm] != m["from"] or m["from"] not in wave:
                bad.append(what + ": the VM is on %s" % st.vm_host[vm])
            if m["to"] in wave or m["to"] not in model.hosts:
                bad.append(what + ": into a host of its own wave (or unknown)")
                continue
            if m["to_upgraded"] != (m["to"] in st.upgraded):
                bad.append(what + ": to_upgraded %r" % m["to_upgraded"])
            why = model.fits(st, vm, m["to"])
            if why is not None:
                bad.append(what + ": the destination does not take it (%s, room %d)" %
                           (why[0], model.room(st, m["to"], model.vms[vm]["mdevs"][0][1])))
            # The mdev UUIDs after a move are the replay's to choose: the
            # rest of each mdev must be what the VM runs now and will run.
            want = [(t, v, digest(t, v), model.target(st, m["to"], t)[0])
                    for (_, t), v in zip(model.vms[vm]["mdevs"], st.vm_ver[vm])]
            got = [(x.get("type"), x.get("version"), x.get("digest"), x.get("to_version"))
                   for x in m.get("mdevs", [])]
            if want != got:
                bad.append(what + ": mdevs %r, expected %r" % (got, want))
            if why is None:
                model.move(st, vm, m["to"])
        left = sorted(u for u, h in st.vm_host.items() if h in wave)
        listed = sorted(s.get("instance") for s in w.get("stranded", []))
        if left != listed:
            bad.append("wave %s: left on its hosts %r, stranded listed %r" % (w.get("wave"), left, listed))
        for vm in left:
            could = [h for h in model.hosts if h not in wave and model.fits(st, vm, h) is None]
            if could:
                bad.append("wave %s: %s stranded though %r take it" % (w.get("wave"), model.vms[vm]["name"], could))
        for h in wave:
            model.upgrade(st, h)
    c.eq(name + ": every move possible, capacity spent across waves, the stranded truly stranded", [], bad)
    c.eq(name + ": every listed host in exactly one wave", sorted(model.listed), sorted(seen))
    c.eq(name + ": order is the waves' hosts", seen, answer.get("order"))
    stranded = [s.get("instance") for s in answer.get("stranded", [])]
    c.eq(name + ": stranded_count", len(stranded), answer.get("stranded_count"))
    c.eq(name + ": moves counts the moves", sum(len(w.get("moves", [])) for w in answer.get("waves", [])),
         answer.get("moves"))
    return st if not bad else None


def check_probes(c, name, model, answer, writes, moves=True):
    """mdevsim's counters against the probes; one probe per triple."""
    probes = answer.get("probes", [])
    keys = [(p.get("source_digest"), p.get("host"), p.get("target")) for p in probes]
    c.eq(name + ": at most one probe per (source digest, host, target)", len(keys), len(set(keys)))
    answered = {}
    for p in probes:
        if p.get("verdict") in ("compatible", "incompatible"):
            answered[p["host"]] = answered.get(p["host"], 0) + 1
    c.eq(name + ": mdevsim's writes are the probes answered, host by host", answered, writes)
    c.eq(name + ": probes_sent is the probes listed", len(probes), answer.get("probes_sent"))
    c.true(name + ": probes_sent %r <= triples %r" % (answer.get("probes_sent"), answer.get("triples")),
           isinstance(answer.get("probes_sent"), int) and answer["probes_sent"] <= answer.get("triples", -1))
    c.eq(name + ": every probe of a version a VM can run", [],
         [p for p in probes if p.get("source_digest") not in model.digests()])
    bound = len(model.digests()) * len(model.hosts)
    c.true(name + ": triples %r within (versions x hosts) %d" % (answer.get("triples"), bound),
           isinstance(answer.get("triples"), int) and answer["triples"] <= bound)
    if not moves:
        return
    ok = {(p.get("source_digest"), p.get("host")) for p in probes if p.get("verdict") == "compatible"}
    like_hosts = {h for (h, t), o in model.offer.items() if o["version"] == model.like_ver.get(t)
                  and h not in model.listed}
    missing = []
    for w in answer.get("waves", []):
        for m in w.get("moves", []):
            for x in m.get("mdevs", []):
                hosts = like_hosts if m["to_upgraded"] else {m["to"]}
                if not any((x.get("digest"), h) in ok for h in hosts):
                    missing.append("%s -> %s (%s)" % (m["from"], m["to"], x.get("version")))
    c.eq(name + ": each move confirmed by a compatible probe (into like when upgraded)", [], missing)


def check_what_if(c, name, model, answer, writes):
    now, after, why = model.what_if()
    dropped = sorted(vm for vm in model.vms if now[vm] and not after[vm])
    c.eq(name + ": like, what_if, hosts", (model.like, True, model.listed),
         (answer.get("like"), answer.get("what_if"), answer.get("hosts")))
    c.true(name + ": no waves planned (%r)" % (answer.get("waves"),), not answer.get("waves"))
    c.eq(name + ": vm_count, stranded_now, stranded_after",
         (len(model.vms), sum(1 for v in now.values() if not v), sum(1 for v in after.values() if not v)),
         (answer.get("vm_count"), answer.get("stranded_now"), answer.get("stranded_after")))
    c.eq(name + ": the VMs whose destinations drop to 0 (instance, name, host, now, after)",
         [(vm, model.vms[vm]["name"], model.vms[vm]["host"], len(now[vm]), 0) for vm in dropped],
         sorted((v.get("instance"), v.get("name"), v.get("host"), v.get("destinations_now"),
                 v.get("destinations_after")) for v in answer.get("vms", [])))
    got = {v.get("instance"): v for v in answer.get("vms", [])}
    for vm in dropped:
        v = got.get(vm, {})
        verdict, errno = why[vm]
        c.eq(name + ": %s after: %s %s" % (model.vms[vm]["name"], verdict, errno),
             (verdict, errno), (v.get("verdict"), v.get("errno")))
        if errno:
            c.true(name + ": %s: errno_name %r and a reason %r" % (model.vms[vm]["name"], v.get("errno_name"),
                                                                  v.get("reason")),
                   v.get("errno_name") == {n: e for e, n in ERRNOS.items()}.get(errno) and v.get("reason"))
    c.eq(name + ": mdevsim's writes are the probes sent", answer.get("probes_sent"), sum(writes.values()))
    c.true(name + ": probes_sent <= triples",
           isinstance(answer.get("probes_sent"), int) and answer["probes_sent"] <= answer.get("triples", -1))


def dash(value):
    return "-" if value is None or value == "" else str(value)


def records(answer):
    """The records `mdevmig rollout` prints in a pipe, from the JSON, less
    the summary."""
    out = []
    if answer.get("what_if"):
        for v in answer.get("vms", []):
            out.append(["vm", v["instance"], v["name"], v["host"], dash(v["destinations_now"]),
                        dash(v["verdict"]), dash(v["errno_name"]), dash(v["reason"])])
        return out
    for w in answer.get("waves", []):
        out.append(["wave", str(w["wave"]), ",".join(w["hosts"])])
    for w in answer.get("waves", []):
        for m in w["moves"]:
            out.append(["move", str(w["wave"]), m["instance"], m["name"], m["from"], m["to"],
                        "yes" if m["to_upgraded"] else "no"])
    for s in answer.get("stranded", []):
        out.append(["stranded", str(s["wave"]), s["instance"], s["name"], s["host"], dash(s["verdict"]),
                    dash(s["errno_name"]), dash(s["reason"])])
    return out


def summary_record(answer):
    """The summary record less its last field (elapsed_us)."""
    if answer.get("what_if"):
        return ["summary", str(answer["vm_count"]), str(answer["stranded_now"]),
                str(answer["stranded_after"]), str(answer["probes_sent"])]
    return ["summary", str(len(answer["waves"])), str(answer["vm_count"]), str(answer["moves"]),
            str(answer["stranded_count"]), str(answer["given_order"]["stranded_count"]),
            str(answer["probes_sent"])]


def check_cli_errors(b, binary):
    """Exit codes of `mdevmig rollout` (its --help): 3 for a host nobody
    reports, 2 for a usage error (and the sched's 400)."""
    c, sched, model = b.checks, b.sched, b.model
    token = ["--token-file", sched.token_file]
    listed = ",".join(model.listed)
    cases = [
        ("unknown --like", ["--like", "no-such-host", "--hosts", listed], 3, "no-such-host"),
        ("unknown host in --hosts", ["--like", model.like, "--hosts", listed + ",no-such-host"], 3,
         "no-such-host"),
        ("--max-down 0", ["--like", model.like, "--hosts", listed, "--max-down", "0"], 2, "--max-down"),
        ("--max-down -1", ["--like", model.like, "--hosts", listed, "--max-down", "-1"], 2, "--max-down"),
        ("no --hosts", ["--like", model.like], 2, "--hosts"),
        ("--hosts empty", ["--like", model.like, "--hosts", ""], 2, "--hosts"),
        ("no --like", ["--hosts", listed], 2, "--like"),
        ("--like among --hosts", ["--like", model.like, "--hosts", listed + "," + model.like], 2, model.like),
    ]
    for mode, backend in (("sched", ["--url", sched.url]), ("registry", ["--registry", sched.registry])):
        for what, args, code, word in cases:
            r = cli_run(binary, ["rollout"] + args + backend + token)
            c.eq("cli %s: %s: exit %d, says why, nothing on stdout" % (mode, what, code), (code, True, ""),
                 (r.returncode, word in r.stderr, r.stdout))
            if r.returncode != code or word not in r.stderr:
                print("    stderr: %r" % r.stderr[:300])


def check_cli(b, binary, body, answer, what):
    """`mdevmig rollout --json` equals the service's answer."""
    c, sched = b.checks, b.sched
    args = ["rollout", "--like", body["like"], "--hosts", ",".join(body["hosts"])]
    if "max_down" in body:
        args += ["--max-down", str(body["max_down"])]
    if body.get("what_if"):
        args.append("--what-if")
    token = ["--token-file", sched.token_file]
    for mode, backend in (("sched", ["--url", sched.url]), ("registry", ["--registry", sched.registry])):
        r = cli_run(binary, args + ["--json"] + backend + token)
        try:
            out = json.loads(r.stdout)
        except ValueError:
            out = None
            print("    stdout %r stderr %r" % (r.stdout[:300], r.stderr[:600]))
        if not answer:
            c.true("cli %s %s: the service answered, to compare with" % (mode, what), False)
            continue
        want = stable(answer)
        got = stable(out) if isinstance(out, dict) else out
        if mode == "registry" and isinstance(got, dict):
            # Probed by the CLI itself: the same probes, perhaps in another order.
            for a in (want, got):
                a["probes"] = sorted(a.get("probes", []) or [], key=lambda p: json.dumps(p, sort_keys=True))
        c.eq("cli %s %s: --json is the service's answer (less elapsed)" % (mode, what), want, got)
        if body.get("what_if"):
            negative = any(v.get("destinations_now") and not v.get("destinations_after")
                           for v in answer.get("vms", []))
        else:
            negative = answer.get("stranded_count", 0) > 0
        c.eq("cli %s %s: exit %d (%s)" % (mode, what, 1 if negative else 0,
                                         "a VM would not stay migratable" if negative else "all stay migratable"),
             1 if negative else 0, r.returncode)
        c.eq("cli %s %s: no sanitizer report" % (mode, what), [],
             [m for m in SANITIZER_MARKS if m in r.stderr])
        r = cli_run(binary, args + backend + token)
        c.eq("cli %s %s: records, one a line (mdevmig rollout --help)" % (mode, what),
             records(answer), [line.split("\t") for line in r.stdout.splitlines()
                               if not line.startswith("summary")])
        summary = [line.split("\t")[:-1] for line in r.stdout.splitlines() if line.startswith("summary")]
        c.eq("cli %s %s: a summary record" % (mode, what), [summary_record(answer)], summary)


def check_bad_input(b):
    c = b.checks
    like, listed = b.model.like, b.model.listed
    cases = [
        ("unknown like", {"like": "no-such-host", "hosts": listed}, 404, "no-such-host"),
        ("empty hosts", {"like": like, "hosts": []}, 400, "hosts"),
        ("no hosts", {"like": like}, 400, "hosts"),
        ("no like", {"hosts": listed}, 400, "like"),
        ("max_down 0", {"like": like, "hosts": listed, "max_down": 0}, 400, "max_down"),
        ("max_down -1", {"like": like, "hosts": listed, "max_down": -1}, 400, "max_down"),
        ("max_down a string", {"like": like, "hosts": listed, "max_down": "1"}, 400, "max_down"),
        # Not in the contract, decided here: the reference cannot take its
        # own driver (a typo, most likely) ...
        ("like among the hosts", {"like": like, "hosts": listed + [like]}, 400, like),
        # ... a host the registry does not know is as unknown as the like ...
        ("unknown host", {"like": like, "hosts": listed + ["no-such-host"]}, 404, "no-such-host"),
        # ... and a host twice is refused, as readiness refuses repeats.
        ("a host twice", {"like": like, "hosts": listed + [listed[0]]}, 400, listed[0]),
    ]
    for what, body, status, word in cases:
        answer, writes = b.rollout("bad input: " + what, body, expect_status=status)
        if answer is None:
            continue
        c.true("bad input: %s: the error says why (%r)" % (what, answer.get("error")),
               word in (answer.get("error") or ""))
        c.eq("bad input: %s: no probe written" % what, {}, writes)


# -- the replay ---------------------------------------------------------------
def replay(b, answer):
    """Carry the plan out on the simulator, wave by wave."""
    c, model = b.checks, b.model
    like_ver = model.like_ver
    for w in answer["waves"]:
        n = w["wave"]
        # 1. Live, before anything moves: each destination takes the VM's
        # version as it is now, and has room.
        for m in w["moves"]:
            vm_name = model.vms[m["instance"]]["name"]
            status, reply = b.sched.request("POST", "/v1/filter",
                                            {"instance": m["instance"], "hosts": [m["to"]]})
            entry = [h for h in reply.get("hosts", [])] if isinstance(reply, dict) else []
            c.eq("replay wave %d: %s -> %s: a live filter finds it compatible" % (n, vm_name, m["to"]),
                 (200, [m["to"]], [(m["to"], "compatible")], m["from"]),
                 (status, reply.get("destinations") if isinstance(reply, dict) else reply,
                  [(h.get("host"), h.get("verdict")) for h in entry],
                  reply.get("source_host") if isinstance(reply, dict) else None))
            current = [b.versions[(m["from"], b.devices[u][2])] for u in b.placement[m["instance"]][1]]
            c.eq("replay wave %d: %s runs the version the plan moves" % (n, vm_name),
                 current, [x["version"] for x in m["mdevs"]])
        # 2. The moves: the mdev made on the destination, removed on the source.
        touched = set()
        for m in w["moves"]:
            vm = m["instance"]
            vm_name = model.vms[vm]["name"]
            src, dest = m["from"], m["to"]
            new_mdevs = []
            for old in b.placement[vm][1]:
                _, _, type_id = b.devices[old]
                parent = model.offer[(dest, type_id)]["parent"]
                new = "f1%06d" % n + old[8:]
                try:
                    b.sysfs_write(dest, type_dir(parent, type_id) + "/create", new)
                    made = True
                except OSError as e:
                    made = False
                    print("    create on %s: %s" % (dest, e))
                c.true("replay wave %d: %s's mdev created on %s (room)" % (n, vm_name, dest), made)
                if not made:
                    return False
                b.devices[new] = (dest, parent, type_id)
                b.sysfs_write(src, "sys/bus/mdev/devices/%s/remove" % old, "1")
                del b.devices[old]
                new_mdevs.append(new)
            b.placement[vm] = [dest, new_mdevs]
            c.eq("replay wave %d: %s's mdev on %s runs to_version" % (n, vm_name, dest),
                 [x["to_version"] for x in m["mdevs"]],
                 [b.sysfs_read(dest, device_attr(u)) for u in new_mdevs])
            touched |= {src, dest}
        for h in sorted(touched):
            b.restart_collector(h)
        # 3. The wave's hosts take the reference's driver.
        for h in w["hosts"]:
            for t in model.shared(h):
                parent = model.offer[(h, t)]["parent"]
                c.eq("replay wave %d: %s's %s upgraded" % (n, h, t), "ok",
                     b.cluster.sims[h].ctl("version", type_dir(parent, t), like_ver[t]))
                b.versions[(h, t)] = like_ver[t]
        c.true("replay wave %d: the registry shows the moves and the upgrade" % n, b.wait_registry())
    return True


def check_replayed(b, final):
    c, model = b.checks, b.model
    for h in model.listed:
        for t in model.shared(h):
            parent = model.offer[(h, t)]["parent"]
            c.eq("after the rollout: %s runs %s's %s" % (h, model.like, t),
                 model.like_ver[t], b.sysfs_read(h, type_attr(parent, t)))
    vms, versions = b.registry_view()
    c.eq("after the rollout: the VMs where the plan put them",
         {u: h for u, h in final.vm_host.items()}, {u: v[0][0] for u, v in (vms or {}).items()})
    c.eq("after the rollout: every listed host on the reference's versions in the registry",
         {(h, t): model.like_ver[t] for h in model.listed for t in model.shared(h)},
         {(h, t): (versions or {}).get((h, t)) for h in model.listed for t in model.shared(h)})
    for u, (h, mdevs) in sorted(b.placement.items()):
        c.eq("after the rollout: %s's mdevs run what the plan said" % model.vms[u]["name"],
             final.vm_ver[u], [b.sysfs_read(h, device_attr(m)) for m in mdevs])


# -- the scenarios ------------------------------------------------------------
def wait_ready(b, timeout=90):
    ok = b.wait_registry(timeout)
    b.checks.true("the sched's registry holds every host, VM and version", ok)
    return ok


def stop_clean(c, cluster, sched, what):
    c.true("%s: the sched is still running" % what, sched.proc.poll() is None)
    c.eq("%s: no sanitizer report in the sched's log" % what, [], sanitizer_report(sched.log))
    sched.stop()
    c.eq("%s: the sched stops cleanly on SIGTERM" % what, 0, sched.proc.returncode)
    c.eq("%s: no sanitizer report after the stop" % what, [], sanitizer_report(sched.log))
    c.eq("%s: no sanitizer report in the collectors' logs" % what, [],
         [(n, r) for n, col in sorted(cluster.collectors.items()) for r in sanitizer_report(col.log)])


def model_for(source, scenario):
    s = SCENARIOS[scenario]
    return Model(source, s["like"], s["listed"], s["others"])


def run_order(c, build, source, binary):
    model = model_for(source, "order")
    waves, final_model = model.plan()
    c.eq("order model: the scenario's plan (b, c, a), nothing stranded",
         (["roll-b", "roll-c", "roll-a"], 0), ([w["hosts"][0] for w in waves],
                                                sum(len(w["stranded"]) for w in waves)))
    c.eq("order model: as given (a, b, c) roll-a strands both its VMs", 2,
         sum(len(w["stranded"]) for w in model.plan(order=model.listed)[0]))
    c.eq("order model: no open tie-break decides anything", [], model.ties)
    c.eq("order model: a VM moves twice (roll-c -> roll-a, then roll-a -> roll-c)", 6,
         sum(len(w["moves"]) for w in waves))
    with Cluster(build, prefix="mdevmig-roll") as cluster:
        b = Bench.start(c, cluster, source, model)
        if not wait_ready(b):
            return
        body = {"like": model.like, "hosts": model.listed, "max_down": 1}
        answer, writes = b.rollout("order", body)
        final = None
        if answer is not None:
            check_plan_model(c, "order", model, answer, model.listed)
            final = check_plan_sound(c, "order", Model(source, model.like, model.listed, model.hosts),
                                     answer, 1)
            check_probes(c, "order", model, answer, writes)
            c.eq("order: the moves into upgraded hosts are flagged",
                 [("roll-c", "roll-b"), ("roll-a", "roll-c"), ("roll-a", "roll-c"), ("roll-a", "roll-c")],
                 sorted([(m["from"], m["to"]) for w in answer["waves"] for m in w["moves"] if m["to_upgraded"]],
                        reverse=True))
        again, writes2 = b.rollout("order, max_down absent (1)", {"like": model.like, "hosts": model.listed})
        if again is not None and answer is not None:
            c.eq("order, max_down absent: the same plan", plan_part(answer), plan_part(again))
            check_probes(c, "order, max_down absent", model, again, writes2)
        shuffled = ["roll-c", "roll-a", "roll-b"]
        other, writes3 = b.rollout("order, hosts given c, a, b",
                                   {"like": model.like, "hosts": shuffled, "max_down": 1})
        if other is not None:
            check_plan_model(c, "order, hosts given c, a, b", model, other, shuffled)
            c.eq("order, hosts given c, a, b: hosts echoed as given", shuffled, other.get("hosts"))
            check_probes(c, "order, hosts given c, a, b", model, other, writes3)
        two, writes4 = b.rollout("order, max_down 2", dict(body, max_down=2))
        if two is not None:
            check_plan_waves(c, "order, max_down 2", model, two, 2)
            check_plan_sound(c, "order, max_down 2", Model(source, model.like, model.listed, model.hosts), two, 2)
            check_probes(c, "order, max_down 2", model, two, writes4)
            print("    (max_down 2: waves %r, stranded %r)" % (
                [w["hosts"] for w in two.get("waves", [])], two.get("stranded_count")))
        wi, writes5 = b.rollout("order --what-if", dict(body, what_if=True))
        if wi is not None:
            check_what_if(c, "order --what-if", model, wi, writes5)
        check_bad_input(b)
        check_cli(b, binary, body, answer, "plan")
        check_cli(b, binary, dict(body, what_if=True), wi, "what-if")
        check_cli(b, binary, dict(body, max_down=2), two, "max_down 2")
        check_cli_errors(b, binary)
        if answer is not None and final is not None:
            if replay(b, answer):
                check_replayed(b, final)
        stop_clean(c, cluster, b.sched, "order")


def run_nosafe(c, build, source, binary):
    model = model_for(source, "nosafe")
    waves, _ = model.plan()
    c.eq("nosafe model: n2 first, then n1 and n3 stranding their VMs in waves 2 and 3 with EPROTO",
         (["roll-n2", "roll-n1", "roll-n3"], [("vm-n1", 2, "incompatible", 71), ("vm-n3", 3, "incompatible", 71)]),
         ([w["hosts"][0] for w in waves],
          [(model.vms[s["instance"]]["name"], s["wave"], s["verdict"], s["errno"]) for w in waves
           for s in w["stranded"]]))
    c.eq("nosafe model: no open tie-break decides anything but the name (n1 before n3)",
         ["wave 2: ['roll-n1', 'roll-n3']"], model.ties)
    with Cluster(build, prefix="mdevmig-roll") as cluster:
        b = Bench.start(c, cluster, source, model)
        if not wait_ready(b):
            return
        body = {"like": model.like, "hosts": model.listed}
        answer, writes = b.rollout("nosafe", body)
        if answer is not None:
            check_plan_model(c, "nosafe", model, answer, model.listed)
            check_plan_sound(c, "nosafe", Model(source, model.like, model.listed, model.hosts), answer, 1)
            check_probes(c, "nosafe", model, answer, writes)
            for s in answer.get("stranded", []):
                c.true("nosafe: %s: errno_name EPROTO and a reason (%r)" % (s.get("name"), s.get("reason")),
                       s.get("errno_name") == "EPROTO" and s.get("reason"))
            c.eq("nosafe: given_order strands as many", 2, (answer.get("given_order") or {}).get("stranded_count"))
        wi, writes = b.rollout("nosafe --what-if", dict(body, what_if=True))
        if wi is not None:
            check_what_if(c, "nosafe --what-if", model, wi, writes)
        check_cli(b, binary, body, answer, "nosafe plan")
        stop_clean(c, cluster, b.sched, "nosafe")


def run_whatif(c, build, source, binary):
    model = model_for(source, "whatif")
    now, after, _ = model.what_if()
    c.eq("whatif model: every VM has a destination now, none after",
         ({"vm-w1": 1, "vm-w2": 1, "vm-wnew": 1}, {"vm-w1": 0, "vm-w2": 0, "vm-wnew": 0}),
         ({model.vms[v]["name"]: len(d) for v, d in now.items()},
          {model.vms[v]["name"]: len(d) for v, d in after.items()}))
    with Cluster(build, prefix="mdevmig-roll") as cluster:
        b = Bench.start(c, cluster, source, model)
        if not wait_ready(b):
            return
        body = {"like": model.like, "hosts": model.listed, "what_if": True}
        wi, writes = b.rollout("whatif", body)
        if wi is not None:
            check_what_if(c, "whatif", model, wi, writes)
        check_cli(b, binary, body, wi, "what-if")
        plan_body = {"like": model.like, "hosts": model.listed}
        answer, writes = b.rollout("whatif, the plan", plan_body)
        if answer is not None:
            check_plan_model(c, "whatif, the plan", model, answer, model.listed)
            check_plan_sound(c, "whatif, the plan", Model(source, model.like, model.listed, model.hosts),
                             answer, 1)
            check_probes(c, "whatif, the plan", model, answer, writes)
        stop_clean(c, cluster, b.sched, "whatif")


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    binary = os.path.join(build, "plugin/mdevmig")
    checks = Checks()
    for name, run in (("order", run_order), ("nosafe", run_nosafe), ("whatif", run_whatif)):
        start = time.time()
        run(checks, build, source, binary)
        print("# %s: %.1f s" % (name, time.time() - start))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
