"""The soak test (issue 12): a 10-host simulated cluster under a steady mix
of selects, filters, ingests, SIGHUPs, collector kills and mdevsim faults
for a given number of minutes, then a report and a verdict.

Cluster (tests/integration/cluster.py: one mdevsim FUSE mount and one
mdevmig-collector per host, every collector publishing to one
mdevmig-sched):

  gpu-a      deploy/cluster/gpu-a.json, 535.104 newer-minor; libvirt
             deploy/cluster/gpu-a-libvirt.xml: 2 VMs (nvidia-222, nvidia-223)
  gpu-b      535.54 (refuses 535.104)       gpu-c   550.54 (another major)
  gpu-d      535.129 (accepts 535.104)      gpu-e   535.104, no instance left
  evac-src   fixtures/evac-src.json + evac-src-libvirt.xml: 30 VMs, one of
             them (vm-28) not migratable (its attribute reads ENODEV), two
             with one mdev of each type
  dst-exact  exact rule               dst-list  list rule (EPERM)
  dst-new    535.129, no nvidia-223   gpu-split nvidia-222 535.129, nvidia-223 535.54

Load, from three threads: two send selects (for all destinations, or for
1-3) and filters (a random subset of the hosts in random order, sometimes
with a host nobody reports; sometimes for an instance nobody knows, a new
boot) for the 32 VMs, each a random 0.25-0.75 s after its last answer; one
makes the events below, each about every CHAOS[event] seconds: SIGHUP to
the sched, SIGHUP to a collector, an extra ingest of a collector's current
snapshot, an ingest of an older generation (must not be applied), a write
EIO or a 500 ms write delay on a type's migration_version (mdevsim's
control socket; cleared 3-6 s later), a driver change (mdevsim `version`:
a type on every parent of a host to another version of the pool), a
collector SIGKILLed and restarted 2-5 s later. The collectors of STEADY
are never killed, so that their RSS is compared over the whole run.

The expected answer of every select and filter comes from a model of
mdevsim's vendor rules (tests/sim/README.md: exact, newer-minor, list, a
read errno, no attribute) over each fixture's versions and capacity, and
follows every driver upgrade the soak makes through mdevsim's control
socket. A version change is a window, not an instant: while it is under
way (and GRACE seconds after) both the old and the new version are
possible, and a request overlapping it may see either. Faults are windows
too: a refusal the model would not give is excused only by a fault that
explains it (a killed collector or a write delay: unreachable; an injected
EIO: incompatible with errno 5) on that host at that time.

  wrong verdict   the sched calls a host compatible (or returns it as a
                  destination) that the model refuses at every possible
                  version: must be 0
  missed          the model accepts the host at every possible version,
                  the sched refuses it, and no injected fault explains it
  reason mismatch the sched refuses for another reason than the model's
                  (e.g. no-capacity where the driver says EINVAL), unexcused

usage: soak.py BUILD_DIR SOURCE_DIR MINUTES [--seed N] [--warmup S]
               [--report FILE] [--keep-logs DIR]
Runs with Debian's /usr/bin/python3 and its standard library only.
"""

import argparse
import collections
import errno as errno_mod
import itertools
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import sys
import threading
import time
import traceback
import uuid
import xml.etree.ElementTree as ET

HOSTS = [
    ("gpu-a", "deploy/cluster/gpu-a.json", "deploy/cluster/gpu-a-libvirt.xml"),
    ("gpu-b", "deploy/cluster/gpu-b.json", None),
    ("gpu-c", "deploy/cluster/gpu-c.json", None),
    ("gpu-d", "deploy/cluster/gpu-d.json", None),
    ("gpu-e", "deploy/cluster/gpu-e.json", None),
    ("evac-src", "tests/integration/fixtures/evac-src.json",
     "tests/integration/fixtures/evac-src-libvirt.xml"),
    ("dst-exact", "tests/integration/fixtures/dst-exact.json", None),
    ("dst-list", "tests/integration/fixtures/dst-list.json", None),
    ("dst-new", "tests/integration/fixtures/dst-new.json", None),
    ("gpu-split", "tests/integration/fixtures/gpu-split.json", None),
]
NAMES = [h[0] for h in HOSTS]
GHOST = "gpu-ghost"            # a host no collector reports, in some filters
# Collectors never killed, so that their RSS is compared over the whole
# run; the others are killed (and restarted) in turn.
STEADY = ("gpu-b", "gpu-d", "dst-list")
VERSION_POOL = ("535.54", "535.104", "535.129", "550.54")
GRACE = 2.0                    # s a version change stays ambiguous after its command returned
EXCUSE_TAIL = 1.5              # s a fault window stays open after it was cleared
REQUEST_TIMEOUT = 30           # s per sched request (cluster.Sched.request)
RSS_LIMIT = 0.10               # growth allowed from the warm-up sample to the end
MIN_SPAN = 60                  # s from the warm-up sample to the end below which RSS is not compared
# Actions of the chaos thread: mean interval in seconds (each next one is
# drawn uniformly between 0.5x and 1.5x).
CHAOS = {
    "sighup-sched": 5.0,
    "sighup-collector": 3.0,
    "ingest": 4.0,
    "ingest-older": 15.0,
    "fault-eio": 8.0,
    "fault-delay": 10.0,
    "driver-upgrade": 12.0,
    "collector-kill": 40.0,
}
WEIGHT = {"incompatible": 5, "unsupported": 4, "no-type": 3, "no-capacity": 2, "unreachable": 1}
NO_ERRNO = ("unsupported", "no-type", "no-capacity", "unreachable", "source-host",
            "not-migratable", "not-probed")
EIO = errno_mod.EIO


def errno_of(value):
    if isinstance(value, int):
        return value
    return getattr(errno_mod, value)


def now():
    return time.time()


# -- mdevsim's vendor rules ------------------------------------------------

def behaviour(mig):
    """A fixture's "migration" object as the model's behaviour."""
    if mig is None:
        return {"kind": "none"}
    if "read_errno" in mig:
        read = errno_of(mig["read_errno"])
        return {"kind": "errno", "read_errno": read,
                "write_errno": errno_of(mig.get("write_errno", read))}
    return {"kind": "version", "version": mig["version"], "accept": mig.get("accept", "exact"),
            "accept_list": list(mig.get("accept_list", [])),
            "refuse_errno": errno_of(mig.get("refuse_errno", "EINVAL"))}


def split_version(s):
    """'<prefix>-<major>.<minor>' split at the last '-' (sim_vendor.c's
    sim_split), or None."""
    dash = s.rfind("-")
    if dash <= 0:
        return None
    m = re.fullmatch(r"([0-9]+)\.([0-9]+)", s[dash + 1:])
    if m is None:
        return None
    return s[:dash], int(m.group(1)), int(m.group(2))


def judge(beh, written):
    """What the target's driver answers a write of written: (verdict, errno)."""
    if beh["kind"] == "none":
        return ("unsupported", None)
    if beh["kind"] == "errno":
        return ("incompatible", beh["write_errno"])
    accepted = False
    if beh["accept"] == "exact":
        accepted = written == beh["version"]
    elif beh["accept"] == "list":
        accepted = written in beh["accept_list"]
    elif beh["accept"] == "newer-minor":
        own, new = split_version(beh["version"]), split_version(written)
        accepted = (own is not None and new is not None and own[0] == new[0] and
                    own[1] == new[1] and new[2] <= own[2])
    return ("compatible", None) if accepted else ("incompatible", beh["refuse_errno"])


def with_version(beh, version):
    if beh["kind"] != "version" or version is None:
        return beh
    return dict(beh, version=version)


# -- the model ---------------------------------------------------------------

class HostModel:
    """One fixture: per type its offers (parent, available, unused
    devices), per (parent, type) the type's behaviour, per device its own
    behaviour (None: as its type's), and the VMs on it."""

    def __init__(self, name, fixture, vms):
        self.name = name
        self.vms = vms                     # vm uuid -> [device uuid]
        self.base = {}                     # (parent, type) -> behaviour
        self.offers = collections.OrderedDict()  # type -> [(parent, available, [unused uuid])]
        self.devices = {}                  # uuid -> (parent, type, behaviour or None)
        used = {d for devs in vms.values() for d in devs}
        count = collections.Counter()
        for d in fixture.get("devices", []):
            own = behaviour(d["migration"]) if "migration" in d else None
            self.devices[d["uuid"]] = (d["parent"], d["type"], own)
            count[(d["parent"], d["type"])] += 1
        for p in fixture["parents"]:
            for t in p["types"]:
                key = (p["name"], t["id"])
                self.base[key] = behaviour(t.get("migration"))
                unused = sorted(u for u, (par, typ, _) in self.devices.items()
                                if (par, typ) == key and u not in used)
                avail = max(0, t["max_instances"] - count[key])
                self.offers.setdefault(t["id"], []).append((p["name"], avail, unused))

    def parents_of(self, type_id):
        return [o[0] for o in self.offers.get(type_id, [])]

    def capacity(self, type_id):
        """As the sched counts it (candidates_fold): free instances plus one
        for a row with an unused device."""
        return sum(avail + (1 if unused else 0)
                   for _, avail, unused in self.offers.get(type_id, []))

    def probe_targets(self, type_id):
        """Where the sched writes a probe for type_id: the roomiest parent
        (any of them on a tie), else an unused device. [("type", parent) or
        ("device", uuid)]."""
        offers = self.offers.get(type_id, [])
        best = max((avail for _, avail, _ in offers), default=0)
        if best > 0:
            return [("type", parent) for parent, avail, _ in offers if avail == best]
        for _, _, unused in offers:
            if unused:
                return [("device", unused[0])]
        return []


class Model:
    """Every host's model plus the history of every version change."""

    def __init__(self, hosts):
        self.hosts = hosts                 # name -> HostModel
        self.lock = threading.Lock()
        self.history = {}                  # (host, parent, type) -> [(t_begin, t_end, version)]
        for name, hm in hosts.items():
            for (parent, type_id), beh in hm.base.items():
                if beh["kind"] == "version":
                    self.history[(name, parent, type_id)] = [(0.0, 0.0, beh["version"])]
        self.vm_host = {vm: name for name, hm in hosts.items() for vm in hm.vms}

    def current(self, host, parent, type_id):
        with self.lock:
            return self.history[(host, parent, type_id)][-1][2]

    def set_version(self, host, type_id, version, t_begin, t_end):
        with self.lock:
            for parent in self.hosts[host].parents_of(type_id):
                self.history[(host, parent, type_id)].append((t_begin, t_end, version))

    def possible(self, key, t0, t1):
        """The versions key may have had at some moment of [t0, t1]: each
        from the start of its command to GRACE after the next one's end."""
        with self.lock:
            hist = list(self.history.get(key, ()))
        if not hist:
            return [None]
        out = []
        for i, (begin, _, version) in enumerate(hist):
            end = hist[i + 1][1] + GRACE if i + 1 < len(hist) else float("inf")
            if begin <= t1 and end >= t0 and version not in out:
                out.append(version)
        return out or [hist[-1][2]]

    def type_behaviour(self, host, parent, type_id, version):
        return with_version(self.hosts[host].base[(parent, type_id)], version)

    # Sources: [(device uuid, type, [behaviour options])]
    def source_mdevs(self, vm, t0, t1):
        host = self.vm_host[vm]
        hm = self.hosts[host]
        out = []
        for dev in hm.vms[vm]:
            parent, type_id, own = hm.devices[dev]
            if own is not None:
                options = [own]
            else:
                options = [self.type_behaviour(host, parent, type_id, v)
                           for v in self.possible((host, parent, type_id), t0, t1)]
            out.append((dev, type_id, options))
        return out

    def target_options(self, host, type_id, t0, t1):
        """Every behaviour the probe for type_id on host may meet."""
        hm = self.hosts[host]
        out = []
        for level, target in hm.probe_targets(type_id):
            if level == "device":
                parent, typ, own = hm.devices[target]
                if own is not None:
                    out.append(own)
                    continue
                key = (host, parent, typ)
            else:
                key = (host, target, type_id)
            for v in self.possible(key, t0, t1):
                out.append(self.type_behaviour(host, key[1], type_id, v))
        return out

    def migratable(self, vm, t0, t1, src=None):
        """True, False, or None (it changed within [t0, t1])."""
        src = src if src is not None else self.source_mdevs(vm, t0, t1)
        kinds = [{b["kind"] == "version" for b in options} for _, _, options in src]
        if all(k == {True} for k in kinds):
            return True
        if any(k == {False} for k in kinds):
            return False
        return None

    def expect(self, vm, host, t0, t1):
        """{(verdict, errno)} the sched may rightly give host for vm at some
        moment of [t0, t1], and whether the VM is migratable at all
        (True, False, or None: it changed in between)."""
        src = self.source_mdevs(vm, t0, t1)
        mig = self.migratable(vm, t0, t1, src)
        if host == self.vm_host[vm]:
            return {("source-host", None)}, mig
        if host not in self.hosts:
            return {("no-type", None)}, mig
        hm = self.hosts[host]
        demand = collections.Counter(t for _, t, _ in src)
        for t in demand:
            if t not in hm.offers:
                return {("no-type", None)}, mig
        for t, n in demand.items():
            if hm.capacity(t) < n:
                return {("no-capacity", None)}, mig
        per_mdev = []
        for _, t, options in src:
            versions = [b["version"] for b in options if b["kind"] == "version"]
            outcomes = set()
            for target in self.target_options(host, t, t0, t1):
                for v in versions:
                    outcomes.add(judge(target, v))
            per_mdev.append(outcomes or {("not-migratable", None)})
        result = set()
        for combo in itertools.product(*per_mdev):
            worst = None
            for v in combo:
                if v[0] != "compatible" and (worst is None or
                                             WEIGHT.get(v[0], 0) > WEIGHT.get(worst[0], 0)):
                    worst = v
            result.add(worst or ("compatible", None))
        return result, mig


# -- bookkeeping -------------------------------------------------------------

class Windows:
    """Fault windows: (host, kind, type or None, start, end)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def open(self, host, kind, type_id=None):
        w = [host, kind, type_id, now(), None]
        with self.lock:
            self.items.append(w)
        return w

    def close(self, w):
        with self.lock:
            w[4] = now() + EXCUSE_TAIL

    def find(self, host, kinds, types, t0, t1):
        """The first of kinds (in that order) with a window on host for one
        of types overlapping [t0, t1], or None."""
        with self.lock:
            hits = {kind for h, kind, type_id, start, end in self.items
                    if (h == host and kind in kinds and (type_id is None or type_id in types) and
                        start <= t1 and (end is None or end >= t0))}
        return next((k for k in kinds if k in hits), None)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = collections.Counter()
        self.errors = collections.Counter()      # kind -> count (failures)
        self.excused = collections.Counter()     # kind -> count (explained by a fault)
        self.verdicts = collections.Counter()    # verdict -> count, over every host answered
        self.problems = collections.defaultdict(list)  # category -> [detail] (first 10)
        self.problem_count = collections.Counter()
        self.latency = collections.defaultdict(list)
        self.judged = 0                          # (answer, host) pairs compared with the model
        self.ambiguous = 0                       # ... of them while a version change was under way

    def add(self, counter, key, n=1):
        with self.lock:
            getattr(self, counter)[key] += n

    def problem(self, category, detail):
        with self.lock:
            self.problem_count[category] += 1
            if len(self.problems[category]) < 10:
                self.problems[category].append(detail)


def normalize(text):
    """An error text with numbers, addresses and UUIDs folded, for counting."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "UUID", text or "")
    text = re.sub(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?", "ADDR", text)
    text = re.sub(r"\d+", "N", text)
    return text[:100]


def rss_kib(pid, field="VmRSS"):
    """A /proc/PID/status field in KiB (VmRSS, RssAnon, RssFile...), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def sanitizer_report(path):
    try:
        with open(path, errors="replace") as f:
            log = f.read()
    except OSError:
        return []
    return [mark for mark in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                              "runtime error") if mark in log]


def count_lines(path, word):
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if word in line)
    except OSError:
        return 0


def type_dir(parent, type_id):
    return "sys/class/mdev_bus/%s/mdev_supported_types/%s" % (parent, type_id)


VM_NAMES = {}                   # vm uuid -> its libvirt name, for the report


def libvirt_vms(path):
    """{vm uuid: [mdev uuids]} from a libvirt test-driver XML."""
    out = {}
    for dom in ET.parse(path).getroot().iter("domain"):
        vm = dom.findtext("uuid").strip().lower()
        devs = [a.get("uuid").lower() for h in dom.iter("hostdev") if h.get("type") == "mdev"
                for a in h.iter("address")]
        out[vm] = devs
        VM_NAMES[vm] = dom.findtext("name").strip()
    return out


class Checks:
    """cluster.Checks' output ('ok - ...', 'not ok - ...', 'N passed, N
    failed'), through say() so that --report gets it too."""

    def __init__(self, say):
        self.say = say
        self.passed = self.failed = 0

    def eq(self, name, expected, actual):
        if expected == actual:
            self.passed += 1
            self.say("ok - " + name)
        else:
            self.failed += 1
            self.say("not ok - %s\n    expected: %r\n    actual:   %r" % (name, expected, actual))

    def true(self, name, value):
        self.eq(name, True, bool(value))

    def finish(self):
        if self.passed + self.failed == 0:
            self.failed += 1
            self.say("not ok - no check ran")
        self.say("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


# -- the soak ------------------------------------------------------------------

class Soak:
    def __init__(self, args, cluster, sched, model, rng):
        self.args, self.cluster, self.sched, self.model, self.rng = args, cluster, sched, model, rng
        self.stats = Stats()
        self.windows = Windows()
        self.stop = threading.Event()
        self.vms = sorted(model.vm_host)
        self.deadline = None
        self.max_requests = None
        self.lives = {}                 # daemon -> {"pid", "up", "start_rss", "start_t"}
        self.lives_lock = threading.Lock()
        self.last_change = {}           # host -> time of its last driver change
        self.last_kill = {}             # host -> time its collector was last killed
        self.down = set()               # hosts whose collector is down now
        self.down_lock = threading.Lock()
        self.pending = []               # [(due, callable)] fault clears
        self.harness_errors = []
        self.threads = []
        self.died = set()               # (daemon, pid) seen exited by itself

    # -- daemon lives (RSS) --------------------------------------------------
    def life_started(self, name, pid):
        with self.lives_lock:
            self.lives[name] = {"pid": pid, "up": now(), "start_rss": None, "start_t": None,
                                "trace": [],
                                "restarts": self.lives.get(name, {}).get("restarts", -1) + 1}

    def sample_baselines(self):
        with self.lives_lock:
            for life in self.lives.values():
                if life["start_rss"] is None and now() >= life["up"] + self.args.warmup:
                    life["start_rss"] = rss_kib(life["pid"])
                    life["start_t"] = now()
                    life["trace"].append((now(), life["start_rss"],
                                          rss_kib(life["pid"], "RssAnon")))
                elif life["start_rss"] is not None and now() - life["trace"][-1][0] >= 10:
                    rss = rss_kib(life["pid"])
                    if rss is not None:
                        life["trace"].append((now(), rss, rss_kib(life["pid"], "RssAnon")))

    def watch_daemons(self):
        """A daemon that exits by itself is a failure, also when a later
        kill-and-restart of the soak's would hide it."""
        procs = [("sched", self.sched.proc)] + [
            (n, c.proc) for n, c in self.cluster.collectors.items()] + [
            (n + " mdevsim", s.proc) for n, s in self.cluster.sims.items()]
        with self.down_lock:  # held by a kill from before the signal to after the restart
            for name, proc in procs:
                if (name not in self.down and proc.poll() is not None and
                        (name, proc.pid) not in self.died):
                    self.died.add((name, proc.pid))
                    self.stats.problem("daemon exited by itself", "%s pid %d at +%.0fs: exit %s" % (
                        name, proc.pid, now() - self.started, proc.returncode))

    # -- requests --------------------------------------------------------------
    def over(self):
        return (self.stop.is_set() or now() >= self.deadline or
                sum(self.stats.requests[k] for k in ("select", "select-few", "filter",
                                                       "filter-new-boot")) >= self.max_requests)

    def ask(self, kind, path, body):
        t0 = now()
        try:
            status, reply = self.sched.request("POST", path, body)
        except Exception as e:  # noqa: BLE001 — every failure is counted by kind
            status, reply = None, "%s: %s" % (type(e).__name__, e)
        t1 = now()
        self.stats.add("requests", kind)
        with self.stats.lock:
            self.stats.latency[kind].append(t1 - t0)
        if status != 200 or not isinstance(reply, dict):
            what = ("HTTP %d" % status) if status is not None else "no answer"
            text = reply.get("error") if isinstance(reply, dict) else reply
            self.stats.add("errors", "sched %s %s: %s" % (path, what, normalize(str(text))))
            return None, t0, t1
        return reply, t0, t1

    def requester(self, index):
        rng = random.Random(self.rng.random())
        try:
            while not self.over():
                op = rng.choices(("select", "select-few", "filter", "filter-new-boot"),
                                 weights=(45, 10, 40, 5))[0]
                vm = rng.choice(self.vms)
                if op == "select":
                    reply, t0, t1 = self.ask(op, "/v1/select", {"instance": vm, "count": 20})
                    if reply is not None:
                        self.check(op, vm, reply, t0, t1)
                elif op == "select-few":
                    count = rng.randint(1, 3)
                    reply, t0, t1 = self.ask(op, "/v1/select", {"instance": vm, "count": count})
                    if reply is not None:
                        self.check(op, vm, reply, t0, t1, count=count)
                elif op == "filter":
                    hosts = rng.sample(NAMES, rng.randint(3, len(NAMES)))
                    if rng.random() < 0.2:
                        hosts.insert(rng.randint(0, len(hosts)), GHOST)
                    reply, t0, t1 = self.ask(op, "/v1/filter", {"instance": vm, "hosts": hosts})
                    if reply is not None:
                        self.check(op, vm, reply, t0, t1, given=hosts)
                else:
                    new = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    hosts = rng.sample(NAMES, rng.randint(1, len(NAMES)))
                    reply, t0, t1 = self.ask(op, "/v1/filter", {"instance": new, "hosts": hosts})
                    if reply is not None:
                        ok = reply.get("known") is False and reply.get("destinations") == hosts
                        if not ok:
                            self.stats.problem("new boot not passed", "%s -> %r" % (
                                hosts, reply.get("destinations")))
                self.stop.wait(rng.uniform(0.25, 0.75))
        except Exception:  # noqa: BLE001
            self.harness_errors.append("requester %d: %s" % (index, traceback.format_exc()))

    def excuse(self, host, got, types, t0, t1):
        """The injected fault that explains got on host, or None."""
        verdict, err = got
        if verdict == "unreachable":
            return self.windows.find(host, ("collector-down", "delay"), types, t0, t1)
        if verdict == "incompatible" and err == EIO:
            return self.windows.find(host, ("eio",), types, t0, t1)
        return None

    def check(self, op, vm, reply, t0, t1, given=None, count=None, final=False):
        """Compare one select/filter answer with the model."""
        model = self.model
        src = model.vm_host[vm]
        src_mdevs = model.source_mdevs(vm, t0, t1)
        types = {t for _, t, _ in src_mdevs}
        dest = reply.get("destinations") or []
        entries = {h["host"]: h for h in reply.get("hosts") or []}
        tag = "%s %s (on %s) at +%.1fs" % (op, VM_NAMES.get(vm, vm), src, t0 - self.started)
        if reply.get("source_host") != src or reply.get("known") is not True:
            self.stats.problem("source mismatch", "%s: source %r known %r" % (
                tag, reply.get("source_host"), reply.get("known")))
        # The versions the sched used for the source: ones it had then.
        for m in reply.get("mdevs") or []:
            options = [o for dev, _, o in src_mdevs if dev == m.get("uuid")]
            versions = {b.get("version") for o in options for b in o if b["kind"] == "version"}
            if m.get("version") is not None and versions and m["version"] not in versions:
                self.stats.problem("source version mismatch", "%s: %s read %r, model %r" % (
                    tag, m.get("uuid"), m["version"], sorted(versions)))
        if count is not None and len(dest) > count:
            self.stats.problem("more destinations than asked", "%s: %r" % (tag, dest))
        if given is not None:
            want_order = [h for h in given if h in dest]
            if want_order != dest:
                self.stats.problem("filter order", "%s: %r from %r" % (tag, dest, given))
        considered = given if given is not None else [h for h in NAMES if h != src]
        for host in considered:
            expected, migratable = model.expect(vm, host, t0, t1)
            with self.stats.lock:
                self.stats.judged += 1
                self.stats.ambiguous += len(expected) > 1
            entry = entries.get(host)
            got = None
            if entry is not None:
                got = (entry["verdict"], None if entry["verdict"] in NO_ERRNO else entry["errno"])
                self.stats.add("verdicts", entry["verdict"])
            could = ("compatible", None) in expected
            must = expected == {("compatible", None)}
            if host in dest or (got is not None and got[0] == "compatible"):
                if not could or host == src:
                    self.stats.problem("WRONG VERDICT", "%s: %s reported %s%s; model: %s" % (
                        tag, host, got[0] if got else "?",
                        " (a destination)" if host in dest else "", sorted(expected, key=str)))
                probes = (entry or {}).get("probes") or []
                if host in dest and (got is None or got[0] != "compatible" or
                                     len(probes) != len(reply.get("mdevs") or []) or
                                     any(p.get("verdict") != "compatible" for p in probes)):
                    self.stats.problem("destination not confirmed by a compatible probe per mdev",
                                       "%s: %s %r, probes %r" % (tag, host, got, probes))
                elif got is not None and got[0] == "compatible" and host not in dest and \
                        (given is not None or count is None):
                    self.stats.problem("compatible host not returned", "%s: %s" % (tag, host))
                continue
            if migratable is False:
                continue  # nothing to confirm; the answer says so (below)
            if got is None:
                if count is not None:
                    continue  # a select for a few stops probing early
                if given is None and expected == {("no-type", None)}:
                    continue  # no candidate at all: not listed
                if must:
                    self.stats.problem("missed", "%s: %s absent; model accepts" % (tag, host))
                else:
                    self.stats.problem("reason mismatch", "%s: %s absent; model %s" % (
                        tag, host, sorted(expected, key=str)))
                continue
            if got in expected:
                continue
            why = None if final else self.excuse(host, got, types, t0, t1)
            if why is not None:
                self.stats.add("excused", "%s%s, by an injected %s" % (
                    got[0], " %s" % errno_mod.errorcode.get(got[1], got[1]) if got[1] else "", why))
                if got[0] == "unreachable":
                    self.stats.add("errors", "unreachable (excused: %s): %s" % (
                        why, normalize((entry.get("error") or "").replace(host, "HOST"))))
                continue
            detail = "%s: %s got %s (%s); model %s" % (
                tag, host, got, entry.get("error"), sorted(expected, key=str))
            if got[0] == "unreachable":
                self.stats.add("errors", "unreachable (unexplained): %s" % normalize(
                    (entry.get("error") or "").replace(host, "HOST")))
                self.stats.problem("unexplained unreachable", detail)
            elif must:
                self.stats.problem("missed", detail)
            else:
                self.stats.problem("reason mismatch", detail)
        # A VM that cannot migrate gets no destination, and says so.
        if model.migratable(vm, t0, t1) is False and (reply.get("migratable") is not False or dest):
            self.stats.problem("not-migratable VM answered", "%s: migratable %r, %r" % (
                tag, reply.get("migratable"), dest))

    # -- chaos -------------------------------------------------------------------
    def up_hosts(self):
        with self.down_lock:
            return [h for h in NAMES if h not in self.down]

    def chaos(self):
        rng = random.Random(self.rng.random())
        due = {k: now() + rng.uniform(0.3, 1.0) * v for k, v in CHAOS.items()}
        # The first kill comes after the warm-up sample.
        due["collector-kill"] = max(due["collector-kill"], now() + self.args.warmup + 5)
        try:
            while not self.over():
                self.pending.sort(key=lambda p: p[0])
                if self.pending and self.pending[0][0] <= now():
                    self.pending.pop(0)[1]()
                    continue
                action = min(due, key=due.get)
                wake = min([due[action]] + [p[0] for p in self.pending[:1]])
                if wake > now():
                    self.stop.wait(min(wake - now(), 1.0))
                    continue
                due[action] = now() + rng.uniform(0.5, 1.5) * CHAOS[action]
                getattr(self, "do_" + action.replace("-", "_"))(rng)
        except Exception:  # noqa: BLE001
            self.harness_errors.append("chaos: " + traceback.format_exc())
        finally:
            for _, fn in sorted(self.pending, key=lambda p: p[0]):
                try:
                    fn()
                except Exception:  # noqa: BLE001
                    self.harness_errors.append("chaos cleanup: " + traceback.format_exc())
            self.pending = []

    def do_sighup_sched(self, rng):
        os.kill(self.sched.proc.pid, signal.SIGHUP)
        self.stats.add("requests", "sighup-sched")

    def do_sighup_collector(self, rng):
        host = rng.choice(self.up_hosts())
        os.kill(self.cluster.collectors[host].proc.pid, signal.SIGHUP)
        self.stats.add("requests", "sighup-collector")

    def do_ingest(self, rng, older=False):
        host = rng.choice(self.up_hosts())
        kind = "ingest-older" if older else "ingest"
        try:
            status, inv = self.cluster.collectors[host].request("GET", "/v1/inventory")
        except OSError as e:
            self.stats.add("errors", "collector GET /v1/inventory: %s" % type(e).__name__)
            return
        if status != 200:
            self.stats.add("errors", "collector GET /v1/inventory: HTTP %d" % status)
            return
        if older:
            # Older than both the registry's and the collector's: never applied.
            try:
                st, held = self.sched.request("GET", "/v1/hosts/%s/inventory" % host)
            except OSError as e:
                self.stats.add("errors", "sched GET inventory: %s" % type(e).__name__)
                return
            if st != 200:
                self.stats.add("errors", "sched GET /v1/hosts/H/inventory: HTTP %d" % st)
                return
            inv["generation"] = min(inv["generation"], held["inventory"]["generation"]) - 1
        reply, _, _ = self.ask(kind, "/v1/hosts/%s/inventory" % host, inv)
        if reply is not None and older and reply.get("applied") is not False:
            self.stats.problem("older generation applied", "%s generation %d: %r" % (
                host, inv["generation"], reply))

    def do_ingest_older(self, rng):
        self.do_ingest(rng, older=True)

    def fault(self, rng, kind):
        host = rng.choice(self.up_hosts())
        hm = self.model.hosts[host]
        type_id = rng.choice([t for t in hm.offers
                              if all(hm.base[(p, t)]["kind"] != "none" for p in hm.parents_of(t))])
        sim = self.cluster.sims[host]
        paths = [type_dir(p, type_id) + "/migration_version" for p in hm.parents_of(type_id)]
        w = self.windows.open(host, kind, type_id)
        for path in paths:
            words = (("fault", path, "write", "EIO", "1") if kind == "eio" else
                     ("delay", path, "write", "500", "1"))
            reply = sim.ctl(*words)
            if reply != "ok":
                self.stats.add("errors", "mdevsim %s: %s" % (words[0], reply))

        def clear():
            for path in paths:
                sim.ctl("clear", path)
            self.windows.close(w)
        self.pending.append((now() + rng.uniform(3, 6), clear))
        self.stats.add("requests", "fault-" + ("eio" if kind == "eio" else "delay"))

    def do_fault_eio(self, rng):
        self.fault(rng, "eio")

    def do_fault_delay(self, rng):
        self.fault(rng, "delay")

    def do_driver_upgrade(self, rng):
        host = rng.choice(self.up_hosts())
        hm = self.model.hosts[host]
        choices = [t for t in hm.offers
                   if all(hm.base[(p, t)]["kind"] == "version" for p in hm.parents_of(t))]
        if not choices:
            return
        type_id = rng.choice(choices)
        parents = hm.parents_of(type_id)
        current = self.model.current(host, parents[0], type_id)
        prefix = split_version(current)[0]
        version = "%s-%s" % (prefix, rng.choice([v for v in VERSION_POOL
                                                 if "%s-%s" % (prefix, v) != current]))
        t_begin = now()
        for parent in parents:
            reply = self.cluster.sims[host].ctl("version", type_dir(parent, type_id), version)
            if reply != "ok":
                self.stats.add("errors", "mdevsim version: %s" % reply)
        t_end = now()
        self.model.set_version(host, type_id, version, t_begin, t_end)
        self.last_change[host] = t_end
        self.stats.add("requests", "driver-upgrade")

    def do_collector_kill(self, rng):
        # Not a host whose last driver change may not have reached the
        # registry yet: with its collector down, the sched answers for its
        # VMs from the registry's copy.
        hosts = [h for h in self.up_hosts()
                 if h not in STEADY and now() - self.last_change.get(h, 0) > 10]
        if not hosts:
            return
        # The one killed longest ago (never first), ties at random.
        rng.shuffle(hosts)
        host = min(hosts, key=lambda h: self.last_kill.get(h, 0))
        self.last_kill[host] = now()
        collector = self.cluster.collectors[host]
        self.watch_daemons()  # before the kill hides an exit of its own
        w = self.windows.open(host, "collector-down")
        with self.down_lock:
            self.down.add(host)
            collector.proc.send_signal(signal.SIGKILL)
        collector.proc.wait()
        self.stats.add("requests", "collector-kill")
        self.stop.wait(rng.uniform(2, 5))
        try:
            collector.start()
            self.life_started(host, collector.proc.pid)
        except RuntimeError as e:
            self.stats.problem("collector restart failed", "%s: %s" % (host, str(e)[-500:]))
        finally:
            self.windows.close(w)
            with self.down_lock:
                self.down.discard(host)

    # -- the run -------------------------------------------------------------
    def run(self, minutes):
        self.started = now()
        self.deadline = self.started + minutes * 60
        # Bounded in count too: never more than 4 requests a second on average.
        self.max_requests = int(minutes * 60 * 4) + 10
        self.life_started("sched", self.sched.proc.pid)
        for name, collector in self.cluster.collectors.items():
            self.life_started(name, collector.proc.pid)
        threads = [threading.Thread(target=self.requester, args=(i,), daemon=True,
                                    name="requester-%d" % i) for i in range(2)]
        threads.append(threading.Thread(target=self.chaos, daemon=True, name="chaos"))
        self.threads = threads
        for t in threads:
            t.start()
        last_note = 0
        while not self.over():
            self.sample_baselines()
            self.watch_daemons()
            if now() - last_note >= 30:
                last_note = now()
                done = sum(self.stats.requests.values())
                print("soak: +%3.0fs  %d actions, %d wrong verdicts, %d problems" % (
                    now() - self.started, done, self.stats.problem_count["WRONG VERDICT"],
                    sum(self.stats.problem_count.values())), flush=True)
            time.sleep(1)
        self.halt(60)
        self.ended = now()

    def halt(self, timeout):
        """Stop the load and wait for its threads (a collector being
        restarted is restarted first, so that the cluster's cleanup meets
        every process it started)."""
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
            if t.is_alive():
                self.harness_errors.append("thread %s did not stop within %d s" % (t.name, timeout))
        self.threads = []


def wait_ready(sched, vms, timeout=120):
    deadline = now() + timeout
    while now() < deadline:
        try:
            status, body = sched.request("GET", "/v1/inventory")
        except OSError:
            status = None
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            known = {i["uuid"].lower() for inv in invs.values() for i in inv["instances"]}
            if set(NAMES) <= set(invs) and set(vms) <= known:
                return invs
        time.sleep(0.25)
    return None


def main():
    ap = argparse.ArgumentParser(description="mdevmig soak test (issue 12)")
    ap.add_argument("build")
    ap.add_argument("source")
    ap.add_argument("minutes", type=float)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--warmup", type=float, default=30.0,
                    help="seconds after a daemon starts before its RSS baseline (default 30)")
    ap.add_argument("--report", help="also write the report to this file")
    ap.add_argument("--keep-logs", help="copy every daemon's log to this directory at the end")
    args = ap.parse_args()
    build, source = os.path.abspath(args.build), os.path.abspath(args.source)
    sys.path.insert(0, os.path.join(source, "tests/integration"))
    from cluster import Cluster

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    rng = random.Random(seed)
    out = []

    def say(line=""):
        out.append(line)
        print(line, flush=True)

    # Ctrl-C and SIGTERM: unwind through the cluster's context manager.
    def interrupted(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, interrupted)

    hosts = {}
    for name, fixture, xml in HOSTS:
        with open(os.path.join(source, fixture)) as f:
            fx = json.load(f)
        vms = libvirt_vms(os.path.join(source, xml)) if xml else {}
        hosts[name] = HostModel(name, fx, vms)
    model = Model(hosts)

    checks = Checks(say)
    soak = None
    rc = 1
    say("soak: %g min, seed %d, build %s" % (args.minutes, seed, build))
    try:
        with Cluster(build, prefix="mdevmig-soak") as cluster:
            sched = cluster.add_sched()
            for name, fixture, xml in HOSTS:
                uri = "test://" + os.path.join(source, xml) if xml else "none"
                # Rescans every 1 s rather than the harness's 0.2 s: ten
                # collectors scanning FUSE trees 5 times a second would take
                # a core of a 2-core machine before any request.
                cluster.add_host(name, os.path.join(source, fixture), libvirt_uri=uri,
                                 registry=None, omit=("--scan-interval",),
                                 extra=["--registry", sched.url, "--scan-interval", "1"])
            invs = wait_ready(sched, model.vm_host)
            checks.true("the registry holds all 10 hosts and their %d VMs" % len(model.vm_host),
                        invs)
            if not invs:
                print(open(sched.log).read()[-3000:])
                return checks.finish()
            # The model's capacity against what the collectors report.
            mismatch = []
            for name, hm in hosts.items():
                for p in invs[name]["parents"]:
                    for t in p["types"]:
                        offer = [o for o in hm.offers.get(t["id"], []) if o[0] == p["name"]]
                        if not offer or offer[0][1] != t.get("available_instances"):
                            mismatch.append((name, p["name"], t["id"],
                                             t.get("available_instances")))
            checks.eq("the model's free instances are the collectors'", [], mismatch)
            soak = Soak(args, cluster, sched, model, rng)
            try:
                soak.run(args.minutes)
            except KeyboardInterrupt:
                print("\nsoak: interrupted; stopping the load, then the cluster", flush=True)
                soak.halt(30)
                raise
            rc = finish(soak, cluster, sched, checks, say, args, seed)
    except KeyboardInterrupt:
        print("soak: interrupted; cluster cleaned up", flush=True)
        rc = 130
    finally:
        if args.report:
            with open(args.report, "w") as f:
                f.write("\n".join(out) + "\n")
    return rc


def finish(soak, cluster, sched, checks, say, args, seed):
    stats = soak.stats
    # Settle: faults cleared, every collector up, then a final sweep in
    # which every VM's select must match the model exactly.
    for sim in cluster.sims.values():
        if sim.proc.poll() is None:
            sim.ctl("clear", "all")
    dead = [n for n, c in cluster.collectors.items() if c.proc.poll() is not None]
    time.sleep(3)
    sweep_problems = sum(stats.problem_count.values())
    sweep_deadline = now() + 120
    for vm in soak.vms:
        if now() > sweep_deadline:
            stats.problem("final sweep overran", "stopped after 120 s at %s" % vm)
            break
        reply, t0, t1 = soak.ask("select (final sweep)", "/v1/select",
                                 {"instance": vm, "count": 20})
        if reply is not None:
            soak.check("final sweep", vm, reply, t0, t1, final=True)
    sweep_problems = sum(stats.problem_count.values()) - sweep_problems

    # RSS at the end, of every daemon still alive.
    rss = []
    with soak.lives_lock:
        for name in ["sched"] + NAMES:
            life = soak.lives[name]
            end = rss_kib(life["pid"])
            life["end_anon"] = rss_kib(life["pid"], "RssAnon")
            rss.append((name, life, end))
    sched_alive = sched.proc.poll() is None
    sched_sanitizer_running = sanitizer_report(sched.log)

    # Stop the sched, then look at its registry with SQLite itself.
    sched.stop()
    sched_rc = sched.proc.returncode
    integrity, fk, registry_hosts, user_version = None, None, [], None
    try:
        db = sqlite3.connect(sched.registry)
        integrity = [r[0] for r in db.execute("PRAGMA integrity_check")]
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        registry_hosts = sorted(r[0] for r in db.execute("SELECT name FROM hosts"))
        user_version = db.execute("PRAGMA user_version").fetchone()[0]
        instances = db.execute("SELECT count(*) FROM instances").fetchone()[0]
        db.close()
    except sqlite3.Error as e:
        integrity = ["sqlite3: %s" % e]
        instances = None
    collector_rcs = {}
    for name, collector in cluster.collectors.items():
        if collector.proc.poll() is None:
            collector.stop()
            collector_rcs[name] = collector.proc.returncode
        else:
            collector_rcs[name] = "dead (%s)" % collector.proc.returncode
    sims_alive = [n for n, s in cluster.sims.items() if s.proc.poll() is None]
    logs = [("sched", sched.log)] + [(n, c.log) for n, c in cluster.collectors.items()] + \
           [(n + " mdevsim", s.log) for n, s in cluster.sims.items()]
    reloads = {name: count_lines(path, "SIGHUP") for name, path in logs}
    reports = {name: sanitizer_report(path) for name, path in logs}
    reports = {k: v for k, v in reports.items() if v}
    if args.keep_logs:
        os.makedirs(args.keep_logs, exist_ok=True)
        for name, path in logs:
            if os.path.exists(path):
                shutil.copy(path, os.path.join(args.keep_logs, name.replace(" ", "-") + ".log"))
        shutil.copy(sched.registry, os.path.join(args.keep_logs, "registry.db"))
        with open(os.path.join(args.keep_logs, "rss.json"), "w") as f:
            json.dump({name: {"pid": life["pid"], "trace": life["trace"], "end": end,
                              "end_anon": life.get("end_anon")}
                       for name, life, end in rss}, f, indent=1)

    # -- the report ---------------------------------------------------------------
    minutes = (soak.ended - soak.started) / 60
    say("")
    say("== mdevmig soak report: %.1f min of load, 10 hosts, %d VMs, seed %d" % (
        minutes, len(soak.vms), seed))
    say("requests (sched HTTP requests and injected events):")
    for kind, n in sorted(stats.requests.items()):
        lat = sorted(stats.latency.get(kind, []))
        extra = ""
        if lat:
            extra = "   p50 %.0f ms, p95 %.0f ms, max %.0f ms" % (
                1000 * lat[len(lat) // 2], 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.95))],
                1000 * lat[-1])
        say("  %-22s %6d%s" % (kind, n, extra))
    say("host verdicts in answers: " + ", ".join(
        "%s %d" % kv for kv in sorted(stats.verdicts.items())))
    say("host verdicts compared with the model: %d (%d while a driver change was under way: "
        "either version's answer accepted)" % (stats.judged, stats.ambiguous))
    say("errors by kind:" + ("" if stats.errors else " none"))
    for kind, n in sorted(stats.errors.items(), key=lambda kv: (-kv[1], kv[0])):
        say("  %6d  %s" % (n, kind))
    say("refusals explained by an injected fault:" + ("" if stats.excused else " none"))
    for kind, n in sorted(stats.excused.items(), key=lambda kv: (-kv[1], kv[0])):
        say("  %6d  %s" % (n, kind))
    say("wrong verdicts: %d" % stats.problem_count["WRONG VERDICT"])
    for category in sorted(stats.problem_count):
        say("  %s: %d" % (category, stats.problem_count[category]))
        for d in stats.problems[category]:
            say("      " + d)
    say("final sweep (no faults, every VM's select): %d problems" % sweep_problems)
    say("registry: integrity_check %s, foreign_key_check %d rows, user_version %s, %d hosts, "
        "%s instances" % (",".join(integrity or ["?"]), len(fk or []), user_version,
                          len(registry_hosts), instances))
    say("RSS (VmRSS; start = %g s after the daemon (re)started):" % args.warmup)
    growth_bad = []
    for name, life, end in rss:
        start = life["start_rss"]
        note = " (restarted %d time%s)" % (life["restarts"], "" if life["restarts"] == 1 else "s") \
            if life["restarts"] else ""
        span = soak.ended - life["start_t"] if life["start_t"] else 0
        if start is None or end is None or span < MIN_SPAN:
            say("  %-10s pid %-7d start %s, end %s KiB%s: not compared (under %d s apart)" % (
                name, life["pid"], start, end, note, MIN_SPAN))
            continue
        growth = (end - start) / start
        peak = max([end] + [r for _, r, _ in life["trace"]])
        anon = ""
        if life["trace"][0][2] is not None and life.get("end_anon") is not None:
            anon = ", anon %+d KiB" % (life["end_anon"] - life["trace"][0][2])
        say("  %-10s pid %-7d %7d KiB -> %7d KiB  %+6.1f%% over %4.0f s (peak %d KiB%s)%s" % (
            name, life["pid"], start, end, 100 * growth, span, peak, anon, note))
        if growth > RSS_LIMIT:
            growth_bad.append("%s %+.1f%%" % (name, 100 * growth))
    if soak.harness_errors:
        say("harness errors:")
        for e in soak.harness_errors:
            say("  " + e.rstrip().replace("\n", "\n  "))
    if reports:
        say("sanitizer reports: %r" % reports)
        for name, path in logs:
            if name in reports:
                say("--- %s (%s), last 40 lines:" % (name, path))
                with open(path, errors="replace") as f:
                    for line in f.read().splitlines()[-40:]:
                        say("    " + line)
    say("")

    # -- the verdict ----------------------------------------------------------------
    c = checks
    c.eq("wrong verdicts", 0, stats.problem_count["WRONG VERDICT"])
    c.eq("missed accepts (the model accepts, no fault explains the refusal)", 0,
         stats.problem_count["missed"])
    c.eq("refusal reasons as the model's (unless a fault explains them)", 0,
         stats.problem_count["reason mismatch"])
    c.eq("unexplained unreachable verdicts", 0, stats.problem_count["unexplained unreachable"])
    other = {k: v for k, v in stats.problem_count.items()
             if k not in ("WRONG VERDICT", "missed", "reason mismatch", "unexplained unreachable")}
    c.eq("no other answer problem", {}, other)
    sched_errors = {k: v for k, v in stats.errors.items() if k.startswith("sched ")}
    c.eq("every sched request answered 200", {}, sched_errors)
    c.eq("the final sweep matches the model", 0, sweep_problems)
    c.eq("the load ran: selects, filters, ingests, SIGHUPs, kills, faults, upgrades "
         "(kinds that never happened)", [],
         [k for k in ("select", "select-few", "filter", "filter-new-boot", "ingest",
                      "ingest-older", "sighup-sched", "sighup-collector", "collector-kill",
                      "fault-eio", "fault-delay", "driver-upgrade") if stats.requests[k] == 0])
    c.eq("no harness error", [], soak.harness_errors)
    c.true("the sched ran to the end", sched_alive)
    c.eq("every collector ran to the end", [], dead)
    c.eq("the sched stops cleanly on SIGTERM", 0, sched_rc)
    c.eq("every collector stops cleanly on SIGTERM", {n: 0 for n in NAMES}, collector_rcs)
    c.eq("every mdevsim ran to the end", sorted(NAMES), sorted(sims_alive))
    c.eq("registry: PRAGMA integrity_check", ["ok"], integrity)
    c.eq("registry: PRAGMA foreign_key_check", [], fk)
    c.eq("registry: every host present", sorted(NAMES), [h for h in registry_hosts if h in NAMES])
    c.eq("registry: no other host", [], [h for h in registry_hosts if h not in NAMES])
    c.eq("every SIGHUP to the sched logged its reload", stats.requests["sighup-sched"],
         reloads["sched"])
    c.eq("every SIGHUP to a collector logged its reload", stats.requests["sighup-collector"],
         sum(reloads[n] for n in NAMES))
    c.eq("no sanitizer report while running (sched)", [], sched_sanitizer_running)
    c.eq("no sanitizer report in any log", {}, reports)
    c.true("RSS baselines taken for the sched and at least one collector",
           sum(1 for _, life, end in rss if life["start_rss"] and end) >= 2)
    c.eq("RSS growth within %d%%" % (100 * RSS_LIMIT), [], growth_bad)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
