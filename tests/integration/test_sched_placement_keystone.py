"""mdevmig-sched with candidate_source = placement through Keystone v3
password auth (not a static token), against a real Keystone
(python3-keystone) guarding a real Placement (auth_strategy = keystone),
both on 127.0.0.1, started and stopped here (DESIGN.md §5):

- four collectors publish their inventories to a sched and, with their
  own Keystone user, their traits to Placement;
- a sched in placement mode, with its own Keystone user and password file,
  gives the same destinations and verdicts as the registry, for a VM with
  one type and one with two, in at most two Placement queries each
  (counted by a proxy in front of Placement that only the sched uses; the
  first select also GETs each root provider for its name), on one
  Keystone token;
- once that token is revoked (the user disabled and enabled again),
  Placement's 401 makes the sched get exactly one new token, and the
  select still answers from Placement;
- a sched given a wrong password answers from the registry and logs the
  Keystone refusal.

usage: test_sched_placement_keystone.py BUILD_DIR SOURCE_DIR
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, Sched  # noqa: E402
from keystone_server import KeystoneServer  # noqa: E402
from placement_server import CountingProxy, PlacementServer  # noqa: E402
from test_sched_placement import (  # noqa: E402
    answer, placement_carries, poll, registry_lists, select)

COLLECTOR_PASSWORD = "collector-pw-0123"
SCHED_PASSWORD = "sched-pw-4567"
HOSTS = [
    ("gpu-a", "deploy/cluster/gpu-a.json"),
    ("gpu-b", "deploy/cluster/gpu-b.json"),
    ("gpu-d", "deploy/cluster/gpu-d.json"),
    ("gpu-notype", "tests/integration/fixtures/gpu-notype.json"),
]
V222 = "10de:1eb8:nvidia-222-535.104"
V223 = "10de:1eb8:nvidia-223-535.104"
SPECS = [
    ("222", [{"type": "nvidia-222", "version": V222}]),
    ("222+223", [{"type": "nvidia-222", "version": V222},
                 {"type": "nvidia-223", "version": V223}]),
]


def secret_file(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text + "\n")
    return path


def tokens_issued(log):
    with open(log, errors="replace") as f:
        return sum(1 for line in f if "keystone: new token" in line)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-schedks") as cluster:
        keystone = KeystoneServer(os.path.join(cluster.root, "keystone"))
        placement = proxy = None
        try:
            keystone.start()
            placement = PlacementServer(os.path.join(cluster.root, "placement"),
                                        keystone=keystone)
            placement.token = keystone.admin_token
            placement.start()
            proxy = CountingProxy(placement).start()
            run(cluster, keystone, placement, proxy, source, checks)
        except Exception:
            for server in (placement, keystone):
                if server is not None and os.path.exists(server.log):
                    print("--- %s (tail)\n%s" % (server.log, open(server.log).read()[-3000:]))
            raise
        finally:
            if proxy is not None:
                proxy.stop()
            if placement is not None:
                placement.stop()
            keystone.stop()
    return checks.finish()


def keystone_flags(keystone, user, password_file):
    return ["--keystone-auth-url", keystone.url + "/v3", "--keystone-username", user,
            "--keystone-password-file", password_file, "--keystone-project", "service"]


def run(cluster, keystone, placement, proxy, source, checks):
    keystone.add_admin_user("mdevmig-collector", COLLECTOR_PASSWORD)
    keystone.add_admin_user("mdevmig-sched", SCHED_PASSWORD)
    collector_pw = secret_file(os.path.join(cluster.root, "collector-pw"), COLLECTOR_PASSWORD)
    sched_pw = secret_file(os.path.join(cluster.root, "sched-pw"), SCHED_PASSWORD)
    wrong_pw = secret_file(os.path.join(cluster.root, "wrong-pw"), "not-the-password")

    registry_sched = cluster.add_sched()
    for name, fixture in HOSTS:
        cluster.add_host(name, os.path.join(source, fixture), extra=[
            "--registry", registry_sched.url, "--placement-url", placement.url,
            "--create-providers", "true"] + keystone_flags(keystone, "mdevmig-collector",
                                                           collector_pw))

    def registry_ready():
        return registry_lists(registry_sched, HOSTS)

    def traits_ready():
        return placement_carries(placement, HOSTS)

    checks.true("the registry lists every host", poll(registry_ready))
    checks.true("Placement (behind Keystone) carries every host's traits", poll(traits_ready))

    by_registry = {}
    for label, specs in SPECS:
        status, body = select(registry_sched, specs)
        checks.eq("registry select %s: status, source" % label, (200, "registry"),
                  (status, body.get("candidate_source")))
        by_registry[label] = answer(body)
    checks.true("registry select finds destinations",
                all(by_registry[label][0] for label, _ in SPECS))
    registry_sched.stop()

    sched = Sched(cluster.build, os.path.join(cluster.root, "sched-keystone"),
                  registry_sched.registry,
                  ["--candidate-source", "placement", "--placement-url", proxy.url]
                  + keystone_flags(keystone, "mdevmig-sched", sched_pw))
    cluster.scheds.append(sched)
    sched.start()
    proxy.take()
    # The first select also learns the root providers' names: a GET for
    # each of the four (the traits are on child providers).
    for label, specs in SPECS:
        status, body = select(sched, specs)
        seen = proxy.take()
        checks.eq("first select %s: status, source" % label, (200, "placement"),
                  (status, body.get("candidate_source")))
        if label == "222":
            checks.eq("first select 222: two trait queries, then a GET per root provider",
                      (2, len(HOSTS)),
                      (sum(1 for _, p, _, _ in seen if "required=in:" in p),
                       len({p for _, p, _, _ in seen if "?" not in p
                            and p.startswith("/resource_providers/")})))
            checks.eq("first select 222: nothing else", 2 + len(HOSTS), len(seen))

    for round_ in (1, 2):
        for label, specs in SPECS:
            name = "Keystone select %s (#%d)" % (label, round_)
            status, body = select(sched, specs)
            seen = proxy.take()
            checks.eq(name + ": status, source", (200, "placement"),
                      (status, body.get("candidate_source")))
            checks.eq(name + ": same destinations and verdicts as the registry",
                      by_registry[label], answer(body))
            checks.eq(name + ": two Placement queries, both let in",
                      [200, 200], [s for _, _, s, _ in seen])
    checks.eq("one Keystone token for every select so far", 1, tokens_issued(sched.log))

    keystone.set_enabled("mdevmig-sched", False)
    keystone.set_enabled("mdevmig-sched", True)
    time.sleep(1)  # revocation events are kept per second
    status, body = select(sched, SPECS[1][1])
    seen = proxy.take()
    checks.eq("revoked token: select still from Placement", (200, "placement"),
              (status, body.get("candidate_source")))
    checks.eq("revoked token: same destinations and verdicts", by_registry["222+223"],
              answer(body))
    checks.eq("revoked token: the first query refused, retried with a new token",
              [401, 200, 200], [s for _, _, s, _ in seen])
    checks.eq("revoked token: exactly one new token", 2, tokens_issued(sched.log))
    sched.stop()
    text = open(sched.log, errors="replace").read()
    checks.eq("clean exit, no sanitizer report", (0, False),
              (sched.proc.returncode, "Sanitizer" in text or "runtime error" in text))

    bad = Sched(cluster.build, os.path.join(cluster.root, "sched-wrong-pw"),
                registry_sched.registry,
                ["--candidate-source", "placement", "--placement-url", proxy.url]
                + keystone_flags(keystone, "mdevmig-sched", wrong_pw))
    cluster.scheds.append(bad)
    bad.start()
    status, body = select(bad, SPECS[0][1])
    checks.eq("wrong password: select answers from the registry", (200, "registry"),
              (status, body.get("candidate_source")))
    checks.eq("wrong password: same destinations", by_registry["222"][0], answer(body)[0])
    checks.eq("wrong password: Placement never asked", [], proxy.take())
    text = open(bad.log, errors="replace").read()
    checks.true("wrong password: the log names Keystone's refusal",
                "Keystone" in text and "HTTP 401" in text and "falls back to the registry" in text)
    checks.true("wrong password: the password is not in the log", "not-the-password" not in text)
    bad.stop()


if __name__ == "__main__":
    sys.exit(main())
