"""Collectors publish traits to a real Placement (DESIGN.md §3, Placement;
python3-placement on 127.0.0.1, started and stopped here):

- each parent's provider ends with exactly the mdevmig traits its types
  earn (CUSTOM_MDEV_TYPE_<TYPE>, CUSTOM_MDEVMIG_<digest>): Nova's pGPU
  child provider where one exists, else the host's root provider; with
  create_providers = true the root and per-parent children are made;
- traits others put there first (COMPUTE_*, CUSTOM_OTHER) stay; mdevmig
  traits that no longer hold (a stale digest, a type that cannot migrate)
  are removed;
- a concurrent writer that bumps the provider's generation between the
  collector's read and write (a proxy between them does it on the first
  trait PUT) causes a 409 the collector survives, and both writers'
  traits end up there;
- an unchanged host makes no further requests;
- a driver upgrade moves the host's providers from the old version trait
  to the new one;
- with Placement stopped, the collector keeps answering probes and
  publishing to its SQLite registry; when Placement is back the traits
  converge to the latest state.

usage: test_placement_traits.py BUILD_DIR SOURCE_DIR
"""

import hashlib
import http.client
import http.server
import os
import re
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402
from placement_server import CountingProxy, PlacementServer  # noqa: E402

TIMEOUT = 60

V1 = {"gpu-a": "535.104", "gpu-b": "535.54", "gpu-c": "550.54"}
TYPES = ("nvidia-222", "nvidia-223", "nvidia-234")
PARENTS = ("0000:3b:00.0", "0000:d8:00.0")


def poll(what, timeout=TIMEOUT, interval=0.2):
    deadline = time.time() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.time() > deadline:
            return None
        time.sleep(interval)


def type_trait(type_id):
    return "CUSTOM_MDEV_TYPE_" + re.sub("[^A-Z0-9]", "_", type_id.upper())


def digest_trait(type_id, version):
    d = hashlib.sha256((type_id + "\n" + version).encode()).hexdigest()
    return "CUSTOM_MDEVMIG_" + d[:32].upper()


def nvidia_traits(driver):
    """The traits a parent offering every nvidia type at driver earns."""
    out = set()
    for t in TYPES:
        out |= {type_trait(t), digest_trait(t, "10de:1eb8:%s-%s" % (t, driver))}
    return out


def owned(traits):
    return {t for t in traits if t.startswith(("CUSTOM_MDEV_TYPE_", "CUSTOM_MDEVMIG_"))}


def log_has(collector, *words):
    with open(collector.log, errors="replace") as f:
        return any(all(w in line for w in words) for line in f)


class ConcurrentWriterProxy:
    """Forwards requests to Placement. On the first PUT of a provider's
    traits it first writes that provider itself (adding CUSTOM_CONCURRENT,
    which bumps its generation), so the forwarded PUT names a stale
    generation and gets 409. Counts what passes through."""

    def __init__(self, placement):
        self.placement = placement
        self.lock = threading.Lock()
        self.requests = []  # (method, path, status)
        self.intercepted = None
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if (self.command == "PUT" and re.fullmatch(
                        r"/resource_providers/[0-9a-f-]+/traits", self.path)):
                    proxy.maybe_interfere(self.path)
                conn = http.client.HTTPConnection(placement.address, placement.port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("host", "connection", "content-length")}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status = resp.status
                    reply_headers = resp.getheaders()
                finally:
                    conn.close()
                with proxy.lock:
                    proxy.requests.append((self.command, self.path, status))
                self.send_response(status)
                for k, v in reply_headers:
                    if k.lower() not in ("connection", "content-length", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def maybe_interfere(self, path):
        with self.lock:
            if self.intercepted is not None:
                return
            self.intercepted = path.split("/")[2]
        provider = {"uuid": self.intercepted}
        self.placement.set_traits(provider, {"CUSTOM_CONCURRENT"})

    def count(self):
        with self.lock:
            return len(self.requests)

    def conflicts(self):
        with self.lock:
            return [r for r in self.requests if r[0] == "PUT" and r[2] == 409]

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def registry_generation(path, host):
    if not os.path.isfile(path):
        return None
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
        try:
            rows = db.execute("SELECT generation FROM hosts WHERE name = ?", (host,)).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return rows[0][0] if rows else None


def traits_of(placement, name):
    p = placement.provider(name)
    return placement.traits(p)[0] if p else None


def wait_traits(placement, name, want_owned, also=()):
    """The provider's traits once its mdevmig traits are want_owned and it
    holds every trait in also; else its last traits."""
    state = {}

    def done():
        try:
            state["t"] = traits_of(placement, name)
        except (OSError, RuntimeError):
            return False
        t = state["t"]
        return t is not None and owned(t) == want_owned and set(also) <= t

    poll(done)
    return state.get("t")


def upgrade(sim, driver, parents=PARENTS):
    for p in parents:
        for t in TYPES:
            reply = sim.ctl("version", "sys/class/mdev_bus/%s/mdev_supported_types/%s" % (p, t),
                            "10de:1eb8:%s-%s" % (t, driver))
            if reply != "ok":
                raise RuntimeError("mdevsim version: " + reply)


def main():
    build, source = sys.argv[1], sys.argv[2]
    checks = Checks()
    with Cluster(build, prefix="mdevmig-placement") as cluster:
        placement = PlacementServer(os.path.join(cluster.root, "placement"))
        try:
            placement.start()
            run(cluster, placement, source, checks)
        finally:
            placement.stop()
    return checks.finish()


def run(cluster, placement, source, checks):
    token_file = os.path.join(cluster.root, "placement-token")
    with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("admin\n")
    cluster_dir = os.path.join(source, "deploy/cluster")
    fixtures = os.path.join(source, "tests/sim/fixtures")

    # What Nova would have made: gpu-a has a root and a pGPU provider for
    # 0000:3b:00.0 only (so 0000:d8:00.0 falls back to the root), each
    # already carrying others' traits and, on the root, a stale mdevmig
    # version trait from an earlier driver.
    stale = digest_trait("nvidia-222", "10de:1eb8:nvidia-222-470.01")
    root_a = placement.create_provider("gpu-a")
    child_a = placement.create_provider("gpu-a_pci_0000_3b_00_0", root_a)
    placement.set_traits(root_a, {"COMPUTE_NODE", "CUSTOM_OTHER", stale})
    placement.set_traits(child_a, {"COMPUTE_STATUS_DISABLED", "CUSTOM_OTHER"})
    # mtty's parent is no PCI device: its traits go on the root.
    placement.create_provider("mtty")
    # nomig's types cannot migrate: it earns nothing, and an old mdevmig
    # trait there goes away.
    root_n = placement.create_provider("nomig")
    placement.set_traits(root_n, {"CUSTOM_OTHER", type_trait("mdpy-vga")})
    # gpu-c: reached through the interfering proxy.
    root_c = placement.create_provider("gpu-c")
    placement.create_provider("gpu-c_pci_0000_3b_00_0", root_c)
    placement.create_provider("gpu-c_pci_0000_d8_00_0", root_c)

    proxy = ConcurrentWriterProxy(placement)
    proxy.start()
    try:
        common = ["--placement-token-file", token_file, "--log-level", "debug"]
        registry = os.path.join(cluster.root, "registry.db")
        a = cluster.add_host("gpu-a", os.path.join(cluster_dir, "gpu-a.json"), registry=registry,
                             extra=["--placement-url", placement.url] + common)
        cluster.add_host("gpu-b", os.path.join(cluster_dir, "gpu-b.json"),
                         extra=["--placement-url", placement.url, "--create-providers", "true"]
                         + common)
        cluster.add_host("mtty", os.path.join(fixtures, "mtty.json"),
                         extra=["--placement-url", placement.url] + common)
        cluster.add_host("nomig", os.path.join(fixtures, "nomig.json"),
                         extra=["--placement-url", placement.url] + common)
        c = cluster.add_host("gpu-c", os.path.join(cluster_dir, "gpu-c.json"),
                             extra=["--placement-url", proxy.url] + common)

        check_first_publish(placement, checks, stale)
        check_conflict(placement, proxy, c, checks)
        check_upgrade(placement, cluster.sims["gpu-a"], checks)
        check_outage(placement, a, cluster.sims["gpu-a"], registry, checks)
        check_restart(placement, cluster.collectors["gpu-b"], checks)
        check_clean_exit(cluster, checks)
    finally:
        proxy.stop()


def check_restart(placement, b, checks):
    """A restarted collector whose host did not change learns which custom
    traits exist in one GET and writes nothing: no PUT /traits/NAME, no
    provider PUT."""
    pgpu = "gpu-b_pci_0000_3b_00_0"
    want = nvidia_traits(V1["gpu-b"])
    checks.eq("restart: before, gpu-b's pGPU carries its traits", want,
              owned(traits_of(placement, pgpu) or set()))
    with CountingProxy(placement) as counting:
        b.stop()
        b.args = [counting.url if arg == placement.url else arg for arg in b.args]
        b.start()
        seen = []

        def settled():
            seen.extend(counting.take())
            return any(m == "GET" and "/traits?name=in:" in path for m, path, _, _ in seen)
        checks.true("restart: the collector asked which custom traits exist", poll(settled))
        time.sleep(2)  # heartbeats every second: an unchanged one calls nothing
        seen.extend(counting.take())
    puts = [(m, path) for m, path, _, _ in seen if m == "PUT"]
    checks.eq("restart: no PUT at all for an unchanged host (got %r)" % (puts[:5],), [], puts)
    checks.eq("restart: gpu-b's pGPU keeps its traits", want,
              owned(traits_of(placement, pgpu) or set()))
    checks.true("restart: collector alive", b.proc.poll() is None)


def check_clean_exit(cluster, checks):
    """Each collector stops on SIGTERM with status 0 and nothing from
    ASan/UBSan/LSan in its log."""
    for name, collector in sorted(cluster.collectors.items()):
        collector.stop()
        with open(collector.log, errors="replace") as f:
            text = f.read()
        bad = [line for line in text.splitlines()
               if "Sanitizer" in line or "runtime error" in line]
        checks.eq("%s: clean exit, no sanitizer report" % name, (0, []),
                  (collector.proc.returncode, bad[:3]))


def check_first_publish(placement, checks, stale):
    a_v1 = nvidia_traits(V1["gpu-a"])
    t = wait_traits(placement, "gpu-a_pci_0000_3b_00_0", a_v1)
    checks.eq("gpu-a pGPU provider: exactly its types' mdevmig traits", a_v1, owned(t or set()))
    checks.true("gpu-a pGPU provider: others' traits kept",
                t and {"COMPUTE_STATUS_DISABLED", "CUSTOM_OTHER"} <= t)
    t = wait_traits(placement, "gpu-a", a_v1)
    checks.eq("gpu-a root (for 0000:d8:00.0, which has no provider): its mdevmig traits",
              a_v1, owned(t or set()))
    checks.true("gpu-a root: COMPUTE_NODE and CUSTOM_OTHER kept",
                t and {"COMPUTE_NODE", "CUSTOM_OTHER"} <= t)
    checks.true("gpu-a root: the stale version trait is gone", t and stale not in t)
    checks.eq("gpu-a: no provider was created", None,
              placement.provider("gpu-a_pci_0000_d8_00_0"))

    b_v1 = nvidia_traits(V1["gpu-b"])
    for parent in ("0000_3b_00_0", "0000_d8_00_0"):
        name = "gpu-b_pci_" + parent
        t = wait_traits(placement, name, b_v1)
        checks.eq("gpu-b (create_providers): %s made, with its traits" % name, b_v1,
                  owned(t or set()))
    root_b = placement.provider("gpu-b")
    checks.true("gpu-b: root provider made", root_b)
    if root_b:
        child = placement.provider("gpu-b_pci_0000_3b_00_0")
        checks.eq("gpu-b: the child's parent is the root", root_b["uuid"],
                  child and child["parent_provider_uuid"])
        checks.eq("gpu-b: the root carries no mdevmig trait", set(),
                  owned(placement.traits(root_b)[0]))

    mtty = {type_trait("mtty-1"), digest_trait("mtty-1", "mtty-1-v2"),
            type_trait("mtty-2"), digest_trait("mtty-2", "mtty-2-v2")}
    t = wait_traits(placement, "mtty", mtty)
    checks.eq("mtty (no PCI parent): traits on the root", mtty, owned(t or set()))

    t = wait_traits(placement, "nomig", set())
    checks.eq("nomig (no migration_version): no mdevmig traits, the old one removed", set(),
              owned(t or set()))
    checks.true("nomig: CUSTOM_OTHER kept", t and "CUSTOM_OTHER" in t)

    status, reply = placement.request("GET", "/traits?name=startswith:CUSTOM_MDEV")
    checks.true("custom traits exist in Placement",
                status == 200 and a_v1 <= set(reply["traits"]))


def check_conflict(placement, proxy, c, checks):
    c_v1 = nvidia_traits(V1["gpu-c"])
    for parent in ("0000_3b_00_0", "0000_d8_00_0"):
        t = wait_traits(placement, "gpu-c_pci_" + parent, c_v1)
        checks.eq("gpu-c %s: mdevmig traits despite the concurrent writer" % parent, c_v1,
                  owned(t or set()))
    checks.true("conflict: the proxy wrote a provider between read and write",
                proxy.intercepted is not None)
    checks.eq("conflict: the collector's stale write got 409", 1, len(proxy.conflicts()))
    intercepted = placement.call("GET", "/resource_providers/%s" % proxy.intercepted) \
        if proxy.intercepted else {"name": "?"}
    t = traits_of(placement, intercepted["name"])
    checks.true("conflict: both writers' traits are on %s" % intercepted["name"],
                t and "CUSTOM_CONCURRENT" in t and c_v1 <= t)
    checks.true("conflict: the collector logged the 409 and retried",
                log_has(c, "409", "placement.concurrent_update"))
    status, _ = c.request("GET", "/v1/health", auth=False)
    checks.eq("conflict: the collector is still up", 200, status)
    # Several scans and heartbeats later an unchanged host has asked nothing more.
    before = proxy.count()
    time.sleep(3)
    checks.eq("unchanged host: no request to Placement", before, proxy.count())


def check_upgrade(placement, sim, checks):
    old, new = nvidia_traits(V1["gpu-a"]), nvidia_traits("535.129")
    upgrade(sim, "535.129")
    for name in ("gpu-a_pci_0000_3b_00_0", "gpu-a"):
        t = wait_traits(placement, name, new)
        checks.eq("upgrade: %s has the new version traits" % name, new, owned(t or set()))
        checks.eq("upgrade: %s lost the old ones" % name, set(),
                  (old - new) & (t or set()))
        checks.true("upgrade: %s keeps CUSTOM_OTHER" % name, t and "CUSTOM_OTHER" in t)
    t = traits_of(placement, "gpu-b_pci_0000_3b_00_0")
    checks.eq("upgrade: another host is untouched", nvidia_traits(V1["gpu-b"]), owned(t or set()))


def check_outage(placement, a, sim, registry, checks):
    placement.stop()
    gen = a.inventory()["generation"]
    upgrade(sim, "550.90", parents=("0000:3b:00.0",))
    inv = a.wait_generation_above(gen, timeout=TIMEOUT)
    latest = inv["generation"]
    checks.true("outage: the registry gets the new generation",
                poll(lambda: registry_generation(registry, "gpu-a") == latest))
    status, body = a.probe("nvidia-222", "10de:1eb8:nvidia-222-550.90")
    checks.true("outage: probes still answer", status == 200 and "compatible" in body)
    checks.true("outage: the collector says Placement failed",
                poll(lambda: log_has(a, "placement", "not published")))
    # A second change while Placement is away: only the latest must land.
    upgrade(sim, "550.100", parents=("0000:3b:00.0",))
    a.wait_generation_above(latest, timeout=TIMEOUT)
    time.sleep(1)
    placement.start()
    child = nvidia_traits("550.100")
    t = wait_traits(placement, "gpu-a_pci_0000_3b_00_0", child)
    checks.eq("outage over: the pGPU provider converged to the latest version", child,
              owned(t or set()))
    t = wait_traits(placement, "gpu-a", nvidia_traits("535.129"))
    checks.eq("outage over: the root keeps the unchanged parent's traits",
              nvidia_traits("535.129"), owned(t or set()))
    checks.true("outage over: the collector says Placement is back",
                poll(lambda: log_has(a, "placement: back")))


if __name__ == "__main__":
    sys.exit(main())
