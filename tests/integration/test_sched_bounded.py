"""Select on a registry too large to read in full (forced small with
--full-scan-max 1): it ranks only the likeliest hosts — the source's version,
cached compatible verdicts, the roomiest — and still returns exactly the
hosts the vendor rules accept, each confirmed by a probe in that call. A
filter there reads only its listed hosts' rows and gives the same answer.

usage: test_sched_bounded.py BUILD_DIR SOURCE_DIR
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

VM = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01"  # on gpu-a, one nvidia-222 mdev
TYPE_ATTR = "sys/class/mdev_bus/0000:%s/mdev_supported_types/nvidia-222/migration_version"


def writes(sim):
    return sum(sim.counts(TYPE_ATTR % parent)[1] for parent in ("3b:00.0", "d8:00.0"))


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-bounded") as cluster:
        sched = cluster.add_sched(extra=["--full-scan-max", "1"])
        hosts = ("gpu-a", "gpu-b", "gpu-c", "gpu-d", "gpu-e")
        for name in hosts:
            uri = "none"
            if name == "gpu-a":
                uri = "test://" + os.path.join(source, "deploy/cluster/gpu-a-libvirt.xml")
            cluster.add_host(name, os.path.join(source, "deploy/cluster", name + ".json"),
                             libvirt_uri=uri, extra=["--registry", sched.url])
        deadline = time.time() + 30
        while time.time() < deadline:
            status, inv = sched.request("GET", "/v1/inventory")
            if status == 200 and len(inv["hosts"]) == len(hosts):
                break
            time.sleep(0.1)
        checks.eq("every host is in the registry", len(hosts), len(inv["hosts"]))

        for attempt in ("first", "second (a cached verdict ranks, the probe confirms)"):
            before = {h: writes(cluster.sims[h]) for h in hosts}
            status, r = sched.request("POST", "/v1/select", {"instance": VM, "count": 3})
            checks.eq(attempt + ": select answers", 200, status)
            checks.eq(attempt + ": exactly the accepting host", ["gpu-d"], r["destinations"])
            verdicts = {h["host"]: h["verdict"] for h in r["hosts"]}
            checks.eq(attempt + ": gpu-b refuses", "incompatible", verdicts.get("gpu-b"))
            checks.eq(attempt + ": gpu-c refuses", "incompatible", verdicts.get("gpu-c"))
            # gpu-e runs the source's version, so it is among the likeliest
            # even without room: it is reported, not probed.
            checks.eq(attempt + ": gpu-e, full, is no-capacity", "no-capacity",
                      verdicts.get("gpu-e"))
            checks.eq(attempt + ": gpu-d was probed in this call", before["gpu-d"] + 1,
                      writes(cluster.sims["gpu-d"]))
            checks.eq(attempt + ": the full host was not probed", before["gpu-e"],
                      writes(cluster.sims["gpu-e"]))
        # A filter on the same registry: Nova's four hosts are fewer than
        # the type's rows, so each listed host's rows are read by
        # themselves, never the whole fleet's; the answer is the same.
        listed = ["gpu-b", "gpu-d", "nowhere", "gpu-a"]
        before = {h: writes(cluster.sims[h]) for h in hosts}
        status, r = sched.request("POST", "/v1/filter", {"instance": VM, "hosts": listed})
        checks.eq("filter answers", 200, status)
        checks.eq("filter: exactly the accepting host", ["gpu-d"], r["destinations"])
        verdicts = {h["host"]: h["verdict"] for h in r["hosts"]}
        checks.eq("filter: gpu-b refuses", "incompatible", verdicts.get("gpu-b"))
        checks.eq("filter: a host the registry does not know offers nothing", "no-type",
                  verdicts.get("nowhere"))
        checks.eq("filter: the VM's own host is not a destination", "source-host",
                  verdicts.get("gpu-a"))
        checks.eq("filter: the hosts in the list's order", listed, [h["host"] for h in r["hosts"]])
        checks.eq("filter: gpu-d was probed in this call", before["gpu-d"] + 1,
                  writes(cluster.sims["gpu-d"]))
        checks.eq("filter: hosts not listed were not probed", [before[h] for h in ("gpu-c", "gpu-e")],
                  [writes(cluster.sims[h]) for h in ("gpu-c", "gpu-e")])
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
