"""mdevmig-sched with candidate_source = placement (issue 5, "Scheduler
draws candidates from Placement"; DESIGN.md §3), against a real
placement-api (python3-placement on 127.0.0.1, started and stopped here):

- seven collectors publish their inventories to a sched over HTTP and their
  traits to Placement (create_providers = true: on a child provider per
  parent, as on Nova's pGPU providers); gpu-notype lacks nvidia-223,
  gpu-split refuses nvidia-223, gpu-e has no room;
- select, for the same specs (one type, and a VM with two types), gives
  the same destinations and the same verdict for every host with the
  registry as the candidate source and with Placement, and says which it
  used ("candidate_source");
- the Placement queries are counted by a proxy in front of Placement that
  only this sched uses. These selects ask for 20 destinations, more than
  the cluster holds, so each asks every step (issue 16;
  test_sched_placement_stages.py has the steps that stop early): the
  VM's version traits, then its type traits, one required=in: query each
  whatever the number of types (the versions known to accept them are
  skipped: the registry says their hosts could not fill the select's
  wave, and the type query holds them). Only the first select of a fresh
  sched adds look-ups of the root providers' names, which it then keeps:
  a GET for each of the 3 roots of the version query's providers, then
  one listing of every provider for the type query's, where 24 roots are
  new to it (20 more hosts exist only in Placement, and are dropped for
  having no registry rows);
- a version no provider has ever published (Placement refuses a query
  naming an unknown trait) still gets its answer from Placement's type
  traits;
- past --full-scan-max parents of a type (forced with 1), Placement's type
  query is not asked: the type's hosts come from the registry's bounded
  look, as for a select from the registry, and the registry's rows of the
  hosts Placement named come from one read per type instead of one per
  host: the same destinations and verdicts (less full hosts the bounded
  look does not read);
- with Placement stopped, the placement-mode sched still answers, from
  the registry, and logs why.

usage: test_sched_placement.py BUILD_DIR SOURCE_DIR
"""

import hashlib
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, Sched  # noqa: E402
from placement_server import CountingProxy, PlacementServer  # noqa: E402

# name, fixture (relative to the source tree)
HOSTS = [
    ("gpu-a", "deploy/cluster/gpu-a.json"),
    ("gpu-b", "deploy/cluster/gpu-b.json"),
    ("gpu-c", "deploy/cluster/gpu-c.json"),
    ("gpu-d", "deploy/cluster/gpu-d.json"),
    ("gpu-e", "deploy/cluster/gpu-e.json"),
    ("gpu-notype", "tests/integration/fixtures/gpu-notype.json"),
    ("gpu-split", "tests/integration/fixtures/gpu-split.json"),
]
V222 = "10de:1eb8:nvidia-222-535.104"
V223 = "10de:1eb8:nvidia-223-535.104"
EXTRA_HOSTS = 20
TWO_TYPES = [{"type": "nvidia-222", "version": V222}, {"type": "nvidia-223", "version": V223}]
SPECS = [
    ("222", [{"type": "nvidia-222", "version": V222}]),
    ("223", [{"type": "nvidia-223", "version": V223}]),
    ("222+223", TWO_TYPES),
    # No provider carries this version's trait: Placement refuses the
    # version query (400, unknown trait); the type query still answers.
    ("222 at 999.1", [{"type": "nvidia-222", "version": "10de:1eb8:nvidia-222-999.1"}]),
]


def poll(what, timeout=60, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = what()
        if value:
            return value
        time.sleep(interval)
    return None


def select(sched, specs):
    return sched.request("POST", "/v1/select", {"mdevs": specs, "count": 20})


def answer(body):
    """(sorted destinations, {host: (verdict, errno)}) of a select reply."""
    hosts = body.get("hosts", []) if isinstance(body, dict) else []
    return (sorted(body.get("destinations", [])) if isinstance(body, dict) else None,
            {h["host"]: (h["verdict"], h.get("errno")) for h in hosts})


def registry_lists(sched, hosts):
    """Whether sched's registry holds at least len(hosts) hosts."""
    status, body = sched.request("GET", "/v1/inventory")
    listed = body.get("hosts", []) if status == 200 and isinstance(body, dict) else []
    return len(listed) >= len(hosts)


def placement_carries(placement, hosts):
    """Whether every host's provider tree carries a CUSTOM_MDEVMIG_ trait."""
    for name, _ in hosts:
        p = placement.provider(name)
        if p is None:
            return False
        tree = placement.call("GET", "/resource_providers?in_tree=" + p["uuid"])
        names = set()
        for child in tree["resource_providers"]:
            names |= set(placement.traits(child)[0])
        if not any(t.startswith("CUSTOM_MDEVMIG_") for t in names):
            return False
    return True


def trait_query(path):
    """The traits of a GET /resource_providers?required=in:A,B, or None."""
    url = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(url.query)
    if url.path != "/resource_providers" or list(query) != ["required"]:
        return None
    value = query["required"][0]
    return sorted(value[3:].split(",")) if value.startswith("in:") else None


def is_root_lookup(method, path):
    parts = path.split("?")[0].strip("/").split("/")
    return method == "GET" and len(parts) == 2 and parts[0] == "resource_providers"


def is_listing(method, path):
    return method == "GET" and path == "/resource_providers"


def exit_report(sched):
    """(exit status, whether ASan/UBSan/LSan reported) of a stopped sched."""
    with open(sched.log, errors="replace") as f:
        text = f.read()
    return sched.proc.returncode, "Sanitizer" in text or "runtime error" in text


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-schedpl") as cluster:
        placement = PlacementServer(os.path.join(cluster.root, "placement"))
        proxy = CountingProxy(placement)
        try:
            placement.start()
            proxy.start()
            run(cluster, placement, proxy, source, checks)
        finally:
            proxy.stop()
            placement.stop()
    return checks.finish()


def run(cluster, placement, proxy, source, checks):
    token_file = os.path.join(cluster.root, "placement-token")
    with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("admin\n")
    registry_sched = cluster.add_sched()
    for name, fixture in HOSTS:
        cluster.add_host(name, os.path.join(source, fixture),
                         extra=["--registry", registry_sched.url, "--placement-url", placement.url,
                                "--placement-token-file", token_file,
                                "--create-providers", "true"])

    def registry_ready():
        return registry_lists(registry_sched, HOSTS)

    def traits_ready():
        return placement_carries(placement, HOSTS)

    checks.true("the registry lists every host", poll(registry_ready))
    checks.true("Placement carries every host's traits", poll(traits_ready))
    # Hosts only Placement knows, shaped as Nova makes them (the trait on
    # a pGPU child provider): the registry has no row for them.
    for i in range(EXTRA_HOSTS):
        host = placement.create_provider("placement-only-%02d" % i)
        child = placement.create_provider("placement-only-%02d_pci_0000_3b_00_0" % i, host)
        placement.set_traits(child, ["CUSTOM_MDEV_TYPE_NVIDIA_222"])

    # Registry mode first, then the same registry file under a sched that
    # asks Placement (the first is stopped: one owner per registry).
    by_registry = {}
    for label, specs in SPECS:
        status, body = select(registry_sched, specs)
        checks.eq("registry select %s: status" % label, 200, status)
        checks.eq("registry select %s: source" % label, "registry", body.get("candidate_source"))
        by_registry[label] = answer(body)
    checks.true("registry select finds destinations",
                all(by_registry[label][0] for label in ("222", "223", "222+223")))
    checks.eq("registry select 222+223: gpu-notype lacks a type, gpu-split refuses one",
              (("no-type", None), "incompatible"),
              (by_registry["222+223"][1].get("gpu-notype"),
               by_registry["222+223"][1].get("gpu-split", ("?",))[0]))
    registry_sched.stop()

    # The placement-mode sched reaches Placement only through the proxy.
    root = os.path.join(cluster.root, "sched-placement")
    sched = Sched(cluster.build, root, registry_sched.registry,
                  ["--candidate-source", "placement", "--placement-url", proxy.url,
                   "--placement-token-file", token_file])
    cluster.scheds.append(sched)
    sched.start()
    proxy.take()

    # First select of a fresh sched: the version query and a GET for each
    # of its 3 roots (the traits are on child providers), then the type
    # query and, with 24 more roots unknown, one listing of every provider
    # for their names; never again.
    status, body = select(sched, TWO_TYPES)
    seen = proxy.take()
    checks.eq("first select 222+223: status, source", (200, "placement"),
              (status, body.get("candidate_source")))
    checks.eq("first select 222+223: the version query, a GET per root, the type query, one "
              "listing of every provider",
              ["version query", "root", "root", "root", "type query", "listing"],
              ["listing" if is_listing(m, p) else
               "root" if is_root_lookup(m, p) else
               "type query" if (trait_query(p) or [""])[0].startswith("CUSTOM_MDEV_TYPE_") else
               "version query" if (trait_query(p) or [""])[0].startswith("CUSTOM_MDEVMIG_") else
               p for m, p, _, _ in seen])
    checks.eq("first select 222+223: same destinations and verdicts as the registry "
              "(Placement-only hosts left out)", by_registry["222+223"], answer(body))

    for label, specs in SPECS:
        for attempt in (1, 2, 3):
            status, body = select(sched, specs)
            seen = proxy.take()
            name = "placement select %s (#%d)" % (label, attempt)
            checks.eq(name + ": status", 200, status)
            checks.eq(name + ": source", "placement", body.get("candidate_source"))
            checks.eq(name + ": same destinations and verdicts as the registry",
                      by_registry[label], answer(body))
            checks.eq(name + ": the version query, then the type query (%s)"
                      % [(m, p, s) for m, p, s, _ in seen],
                      ["version query", "type query"],
                      ["type query" if (trait_query(p) or [""])[0].startswith("CUSTOM_MDEV_TYPE_")
                       else "version query" if (trait_query(p) or [""])[0].startswith(
                           "CUSTOM_MDEVMIG_") else p for _, p, _, _ in seen])
            if attempt > 1:
                continue
            queries = [trait_query(path) for _, path, _, _ in seen]
            version_traits = sorted({t for q in queries if q for t in q
                                     if t.startswith("CUSTOM_MDEVMIG_")})
            type_traits = sorted({t for q in queries if q for t in q
                                  if t.startswith("CUSTOM_MDEV_TYPE_")})
            types = sorted({"CUSTOM_MDEV_TYPE_" + s["type"].upper().replace("-", "_")
                            for s in specs})
            checks.eq(name + ": both queries are required=in: any-of queries",
                      [True] * len(seen), [q is not None for q in queries])
            checks.eq(name + ": one query names every type trait", [types],
                      [q for q in queries if q and q[0].startswith("CUSTOM_MDEV_TYPE_")])
            checks.eq(name + ": one query names every version trait",
                      len({s["version"] for s in specs}),
                      len(version_traits))
            checks.eq(name + ": type traits asked", types, type_traits)
    # The unknown version's query was refused, and did not matter.
    status, body = select(sched, SPECS[3][1])
    seen = proxy.take()
    checks.eq("unknown version: Placement refused the version query, answered the type query",
              [400, 200], [s for _, _, s, _ in seen])
    sched.stop()
    checks.eq("clean exit, no sanitizer report", (0, False), exit_report(sched))

    # Past --full-scan-max parents of a type, no type query: the registry's
    # bounded look gives the type's hosts. The version query's hosts past
    # --full-scan-max get their rows from one read per type, filtered, not
    # one per host: the same rows.
    sched = Sched(cluster.build, os.path.join(cluster.root, "sched-placement-scan"),
                  registry_sched.registry,
                  ["--candidate-source", "placement", "--placement-url", proxy.url,
                   "--placement-token-file", token_file, "--full-scan-max", "1"])
    cluster.scheds.append(sched)
    sched.start()
    for round_ in (1, 2):
        for label, specs in SPECS:
            status, body = select(sched, specs)
            seen = proxy.take()
            name = "placement select %s, bounded look (#%d)" % (label, round_)
            checks.eq(name + ": status, source", (200, "placement"),
                      (status, body.get("candidate_source")))
            destinations, verdicts = answer(body)
            checks.eq(name + ": same destinations as the registry", by_registry[label][0],
                      destinations)
            checks.eq(name + ": the registry's verdicts, less full hosts the bounded look skips",
                      {h: v for h, v in by_registry[label][1].items()
                       if h in verdicts or v[0] != "no-capacity"}, verdicts)
            queries = [(s, trait_query(p)) for m, p, s, _ in seen
                       if not is_listing(m, p) and not is_root_lookup(m, p)]
            traits = sorted({"CUSTOM_MDEVMIG_" + hashlib.sha256(
                (mdev["type"] + "\n" + mdev["version"]).encode()).hexdigest()[:32].upper()
                for mdev in specs})
            checks.eq(name + ": only the version query", [(400 if "999" in label else 200, traits)],
                      queries)
            if round_ == 2:
                checks.eq(name + ": no root provider looked up", [], [p for m, p, _, _ in seen
                                                                     if is_root_lookup(m, p)])

    placement.stop()
    status, body = select(sched, SPECS[0][1])
    checks.eq("Placement down: select still answers", 200, status)
    checks.eq("Placement down: from the registry", "registry", body.get("candidate_source"))
    checks.eq("Placement down: same destinations", by_registry["222"][0],
              sorted(body.get("destinations", [])))
    with open(sched.log, errors="replace") as f:
        checks.true("Placement down: the log says so", "falls back to the registry" in f.read())
    checks.true("the sched is still running", sched.proc.poll() is None)
    sched.stop()
    checks.eq("clean exit, no sanitizer report", (0, False), exit_report(sched))


if __name__ == "__main__":
    sys.exit(main())
