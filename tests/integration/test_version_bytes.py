"""Versions with control bytes (issue 12): the seed allows any ASCII byte
but NUL, and mdevmig keeps them byte-exact end to end while never letting
one reach a terminal raw.

gpu-ctrl's mtty-1 prints "mtty<TAB><ESC>[31m-1.0<DEL>" (an exact-match
driver): mdevsim serves it, the collector's scan records it byte-exact
(no made-up EINVAL), a probe with it is written and accepted, one with a
different byte refused; the sched's registry and select keep it; the CLI
shows it escaped (\\t, \\x1b, \\x7f) on a terminal and in a pipe, never
the raw bytes, and exactly in --json.

usage: test_version_bytes.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster, run_tty  # noqa: E402

VERSION = "mtty\t\x1b[31m-1.0\x7f"
SHOWN = "mtty\\t\\x1b[31m-1.0\\x7f"


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    fixture = os.path.join(source, "tests/integration/fixtures/gpu-ctrl.json")
    with Cluster(build, prefix="mdevmig-bytes") as cluster:
        sched = cluster.add_sched()
        c = cluster.add_host("gpu-ctrl", fixture, extra=["--registry", sched.url])
        inv = c.inventory()
        mig = inv["parents"][0]["types"][0]["migration"]
        checks.eq("the scan keeps the version byte-exact", VERSION, mig.get("version"))
        checks.eq("with no read error", None, mig.get("read_errno"))

        sim = cluster.sims["gpu-ctrl"]
        attr = "sys/class/mdev_bus/0000:5e:00.0/mdev_supported_types/mtty-1/migration_version"
        before = sim.counts(attr)[1]
        status, body = c.probe("mtty-1", VERSION)
        checks.eq("a probe with the same bytes is accepted", (200, "compatible"),
                  (status, body.get("verdict") if isinstance(body, dict) else body))
        status, body = c.probe("mtty-1", VERSION.replace("\t", " "))
        checks.eq("one with a space for the tab is refused", (200, "incompatible"),
                  (status, body.get("verdict") if isinstance(body, dict) else body))
        checks.eq("both were real writes", before + 2, sim.counts(attr)[1])

        deadline = time.time() + 30
        while time.time() < deadline:
            status, body = sched.request("GET", "/v1/hosts/gpu-ctrl/inventory")
            if status == 200:
                break
            time.sleep(0.1)
        stored = body["inventory"]["parents"][0]["types"][0]["migration"]["version"]
        checks.eq("the registry keeps the bytes", VERSION, stored)

        status, body = sched.request("POST", "/v1/select",
                                     {"mdevs": [{"type": "mtty-1", "version": VERSION}]})
        checks.eq("select with the version finds gpu-ctrl", (200, ["gpu-ctrl"]),
                  (status, body.get("destinations")))

        cli = os.path.join(build, "plugin/mdevmig")
        args = [cli, "versions", "--type", "mtty-1", "--url", sched.url,
                "--token-file", sched.token_file]
        code, out = run_tty(args)
        checks.eq("mdevmig versions on a terminal exits 0", 0, code)
        checks.true("it shows the version escaped", SHOWN in out)
        checks.true("and no raw escape, tab or DEL byte (%r)" % out[-300:],
                    "\x1b" not in out and "\x7f" not in out and "\t" not in out)
        run = subprocess.run(args, capture_output=True, text=True, timeout=60)
        checks.true("in a pipe, the field is escaped too", SHOWN in run.stdout)
        fields = [line.split("\t") for line in run.stdout.splitlines()]
        checks.true("and every record keeps its field count (%r)" % run.stdout[:300],
                    len({len(f) for f in fields if f and f[0] == fields[0][0]}) == 1)
        run = subprocess.run(args + ["--json"], capture_output=True, text=True, timeout=60)
        def strings(node):
            if isinstance(node, dict):
                for v in node.values():
                    yield from strings(v)
            elif isinstance(node, list):
                for v in node:
                    yield from strings(v)
            elif isinstance(node, str):
                yield node
        checks.true("--json carries the exact bytes", VERSION in strings(json.loads(run.stdout)))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
