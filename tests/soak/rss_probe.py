"""The sched's RSS under one kind of request, apart from the soak's mix:
docs/SOAK.md uses it to tell the daemon's own memory from a sanitizer's.

A sched and three of the quickstart's hosts (gpu-a, gpu-b, gpu-d) on
loopback; 300 filters to warm up, then ROUNDS rounds of N filters (each a
new connection, so a new thread in the sched), printing RssAnon after each.

usage: /usr/bin/python3 tests/soak/rss_probe.py BUILD_DIR SOURCE_DIR [N] [ROUNDS]
Set ASAN_OPTIONS as tests/soak/run does for a sanitized build (quarantine
off), or the quarantine alone fills RSS by hundreds of MiB.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration"))
from cluster import Cluster  # noqa: E402

VM_222 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01"


def rss_kib(pid, field="RssAnon"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1500
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    with Cluster(build, prefix="mdevmig-rss") as cluster:
        sched = cluster.add_sched()
        if not cluster.add_deploy_hosts(source, ["gpu-a", "gpu-b", "gpu-d"], sched):
            print("the hosts did not reach the registry")
            return 1
        pid = sched.proc.pid

        def burst(count):
            for _ in range(count):
                sched.request("POST", "/v1/filter", {"instance": VM_222, "hosts": ["gpu-b", "gpu-d"]})

        burst(300)
        time.sleep(1)
        base = rss_kib(pid)
        print("after warm-up: RssAnon %d KiB (VmRSS %d KiB)" % (base, rss_kib(pid, "VmRSS")))
        for r in range(1, rounds + 1):
            burst(n)
            time.sleep(1)
            now = rss_kib(pid)
            print("after %d filters: RssAnon %d KiB (%+d)" % (r * n, now, now - base), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
