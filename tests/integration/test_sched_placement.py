"""mdevmig-sched with candidate_source = placement (issue 5, "Scheduler
draws candidates from Placement"; DESIGN.md §3), against a real
placement-api (python3-placement on 127.0.0.1, started and stopped here):

- five collectors publish their inventories to a sched over HTTP and their
  traits to Placement (create_providers = true);
- select, for the same specs, gives the same destinations with the
  registry as the candidate source and with Placement, and says which it
  used ("candidate_source");
- with Placement stopped, the placement-mode sched still answers, from
  the registry, and logs why.

usage: test_sched_placement.py BUILD_DIR SOURCE_DIR
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, Sched  # noqa: E402
from placement_server import PlacementServer  # noqa: E402

HOSTS = ("gpu-a", "gpu-b", "gpu-c", "gpu-d", "gpu-e")
SPECS = [
    [{"type": "nvidia-222", "version": "10de:1eb8:nvidia-222-535.104"}],
    [{"type": "nvidia-223", "version": "10de:1eb8:nvidia-223-535.104"}],
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
    status, body = sched.request("POST", "/v1/select", {"mdevs": specs, "count": 20})
    return status, body


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-schedpl") as cluster:
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
    registry_sched = cluster.add_sched()
    for name in HOSTS:
        cluster.add_host(name, os.path.join(source, "deploy/cluster", name + ".json"),
                         extra=["--registry", registry_sched.url, "--placement-url", placement.url,
                                "--placement-token-file", token_file,
                                "--create-providers", "true"])

    def registry_ready():
        status, body = registry_sched.request("GET", "/v1/inventory")
        hosts = body.get("hosts", []) if status == 200 and isinstance(body, dict) else []
        return len(hosts) >= len(HOSTS)

    def traits_ready():
        for name in HOSTS:
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

    checks.true("the registry lists every host", poll(registry_ready))
    checks.true("Placement carries every host's traits", poll(traits_ready))

    # Registry mode first, then the same registry file under a sched that
    # asks Placement (the first is stopped: one owner per registry).
    by_registry = []
    for specs in SPECS:
        status, body = select(registry_sched, specs)
        checks.eq("registry select %s: status" % specs[0]["type"], 200, status)
        checks.eq("registry select %s: source" % specs[0]["type"], "registry",
                  body.get("candidate_source"))
        by_registry.append(sorted(body.get("destinations", [])))
    checks.true("registry select finds destinations", all(by_registry))
    registry_sched.stop()

    root = os.path.join(cluster.root, "sched-placement")
    sched = Sched(cluster.build, root, registry_sched.registry,
                  ["--candidate-source", "placement", "--placement-url", placement.url,
                   "--placement-token-file", token_file])
    cluster.scheds.append(sched)
    sched.start()
    for specs, want in zip(SPECS, by_registry):
        status, body = select(sched, specs)
        checks.eq("placement select %s: status" % specs[0]["type"], 200, status)
        checks.eq("placement select %s: source" % specs[0]["type"], "placement",
                  body.get("candidate_source"))
        checks.eq("placement select %s: same destinations" % specs[0]["type"], want,
                  sorted(body.get("destinations", [])))

    placement.stop()
    status, body = select(sched, SPECS[0])
    checks.eq("Placement down: select still answers", 200, status)
    checks.eq("Placement down: from the registry", "registry", body.get("candidate_source"))
    checks.eq("Placement down: same destinations", by_registry[0],
              sorted(body.get("destinations", [])))
    with open(sched.log, errors="replace") as f:
        checks.true("Placement down: the log says so", "falls back to the registry" in f.read())
    checks.true("the sched is still running", sched.proc.poll() is None)


if __name__ == "__main__":
    sys.exit(main())
