"""The collector's Keystone v3 password auth against a real Keystone
(python3-keystone) guarding a real Placement (auth_strategy = keystone),
both on 127.0.0.1, started and stopped here (DESIGN.md §5):

- the collector gets one token and publishes its traits with it;
- a later change is published with the cached token (no new one);
- once its token is revoked (the user disabled and enabled again),
  Placement's 401 makes the collector get one new token and the next
  change is published.

usage: test_placement_keystone.py BUILD_DIR SOURCE_DIR
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402
from keystone_server import KeystoneServer  # noqa: E402
from placement_server import PlacementServer  # noqa: E402
from test_placement_traits import (nvidia_traits, owned, poll,  # noqa: E402
                                   upgrade, wait_traits)

PASSWORD = "mdevmig-pw-0123"


def tokens_issued(collector):
    with open(collector.log, errors="replace") as f:
        return sum(1 for line in f if "keystone: new token" in line)


def main():
    build, source = sys.argv[1], sys.argv[2]
    checks = Checks()
    with Cluster(build, prefix="mdevmig-keystone") as cluster:
        keystone = KeystoneServer(os.path.join(cluster.root, "keystone"))
        placement = None
        try:
            keystone.start()
            placement = PlacementServer(os.path.join(cluster.root, "placement"),
                                        keystone=keystone)
            placement.token = keystone.admin_token
            placement.start()
            run(cluster, keystone, placement, source, checks)
        except Exception:
            for server in (placement, keystone):
                if server is not None and os.path.exists(server.log):
                    print("--- %s (tail)\n%s" % (server.log, open(server.log).read()[-3000:]))
            raise
        finally:
            if placement is not None:
                placement.stop()
            keystone.stop()
    return checks.finish()


def run(cluster, keystone, placement, source, checks):
    status, _ = placement.request("GET", "/resource_providers", token="admin")
    checks.eq("Placement refuses noauth2's token under Keystone", 401, status)
    keystone.add_admin_user("mdevmig", PASSWORD)
    password_file = os.path.join(cluster.root, "keystone-password")
    with open(os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(PASSWORD + "\n")
    root = placement.create_provider("gpu-a")
    placement.create_provider("gpu-a_pci_0000_3b_00_0", root)
    placement.create_provider("gpu-a_pci_0000_d8_00_0", root)

    a = cluster.add_host("gpu-a", os.path.join(source, "deploy/cluster/gpu-a.json"), extra=[
        "--placement-url", placement.url, "--keystone-auth-url", keystone.url + "/v3",
        "--keystone-username", "mdevmig", "--keystone-password-file", password_file,
        "--keystone-project", "service"])
    sim = cluster.sims["gpu-a"]
    v1 = nvidia_traits("535.104")
    t = wait_traits(placement, "gpu-a_pci_0000_3b_00_0", v1)
    checks.eq("Keystone auth: traits published", v1, owned(t or set()))
    checks.eq("Keystone auth: one token issued", 1, tokens_issued(a))

    upgrade(sim, "535.129")
    v2 = nvidia_traits("535.129")
    t = wait_traits(placement, "gpu-a_pci_0000_d8_00_0", v2)
    checks.eq("cached token: the upgrade is published", v2, owned(t or set()))
    checks.eq("cached token: still one token issued", 1, tokens_issued(a))

    keystone.set_enabled("mdevmig", False)
    keystone.set_enabled("mdevmig", True)
    time.sleep(1)  # revocation events are kept per second
    upgrade(sim, "550.54")
    v3 = nvidia_traits("550.54")
    t = wait_traits(placement, "gpu-a_pci_0000_d8_00_0", v3)
    checks.eq("revoked token: the next change is published after re-auth", v3,
              owned(t or set()))
    checks.eq("revoked token: exactly one new token", 2, tokens_issued(a))
    checks.true("revoked token: no publish round failed over it",
                not poll(lambda: "not published" in open(a.log).read(), timeout=1))
    a.stop()
    text = open(a.log, errors="replace").read()
    checks.eq("clean exit, no sanitizer report", (0, False),
              (a.proc.returncode, "Sanitizer" in text or "runtime error" in text))


if __name__ == "__main__":
    sys.exit(main())
