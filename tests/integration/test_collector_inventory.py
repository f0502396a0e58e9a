"""The collector's inventory of each mdevsim fixture equals its expected
JSON file (tests/integration/expected/inventory/<fixture>.json), scanned
with `mdevmig-collector --scan-once --json`. The t4 fixture is scanned
together with a libvirt test-driver file, so VM-to-mdev mapping is part
of what is compared. Volatile fields (generation, scanned_at) are dropped.

usage: test_collector_inventory.py BUILD_DIR SOURCE_DIR [--update]
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

# fixture name -> libvirt URI file (relative to the source dir) or None
CASES = {
    "t4": "tests/unit/data/vmmap/two-vms.xml",
    "i915": None,
    "mtty": None,
    "nomig": None,
    "readfail": None,
}


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    update = "--update" in sys.argv[3:]
    checks = Checks()
    with Cluster(build, prefix="mdevmig-inv") as cluster:
        for name, xml in sorted(CASES.items()):
            fixture = os.path.join(source, "tests/sim/fixtures", name + ".json")
            sim = cluster.add_sim(name, fixture)
            uri = "test://" + os.path.join(source, xml) if xml else "none"
            run = subprocess.run(
                [cluster.collector_binary, "--scan-once", "--json", "--host", name,
                 "--sysfs-root", sim.sysfs, "--libvirt-uri", uri,
                 "--advertise-url", "http://127.0.0.1:7301"],
                capture_output=True, text=True, timeout=60)
            checks.eq(name + ": --scan-once exits 0", 0, run.returncode)
            if run.returncode != 0:
                print(run.stderr)
                continue
            actual = json.loads(run.stdout)
            for key in ("generation", "scanned_at"):
                actual.pop(key, None)
            path = os.path.join(source, "tests/integration/expected/inventory", name + ".json")
            if update:
                with open(path, "w") as f:
                    json.dump(actual, f, indent=2, sort_keys=True)
                    f.write("\n")
            with open(path) as f:
                expected = json.load(f)
            checks.eq(name + ": inventory equals " + os.path.relpath(path, source),
                      expected, actual)
            # The human table reads the same tree without failing.
            table = subprocess.run(
                [cluster.collector_binary, "--scan-once", "--host", name,
                 "--sysfs-root", sim.sysfs, "--libvirt-uri", uri],
                capture_output=True, text=True, timeout=60)
            checks.eq(name + ": --scan-once table exits 0", 0, table.returncode)
            checks.true(name + ": the table names the host", ("host " + name) in table.stdout)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
