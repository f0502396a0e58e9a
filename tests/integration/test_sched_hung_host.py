"""A hung collector costs each request its own timeout, no more (issue 12).

With gpu-d's collector stopped (SIGSTOP: its connections accepted by the
kernel, never answered), six selects sent at once must each come back
within the probe timeout plus a margin, with gpu-d unreachable and the
other hosts' verdicts intact; a hung host must not hold a slot that the
other requests queue behind.

usage: test_sched_hung_host.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

VM_222 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01"
PROBE_TIMEOUT = 2.0
CONCURRENT = 6


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-hung") as cluster:
        sched = cluster.add_sched(extra=["--probe-timeout", str(PROBE_TIMEOUT)])
        checks.true("the registry lists every host",
                    cluster.add_deploy_hosts(source, ["gpu-a", "gpu-b", "gpu-d"], sched))
        status, body = sched.request("POST", "/v1/filter",
                                     {"instance": VM_222, "hosts": ["gpu-b", "gpu-d"]})
        checks.eq("before: gpu-d passes", ["gpu-d"], body.get("destinations"))

        d = cluster.collectors["gpu-d"]
        d.proc.send_signal(signal.SIGSTOP)
        try:
            results = [None] * CONCURRENT

            def one(i):
                start = time.time()
                status, body = sched.request("POST", "/v1/filter",
                                             {"instance": VM_222, "hosts": ["gpu-b", "gpu-d"]})
                results[i] = (time.time() - start, status, body)
            threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENT)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            for i, result in enumerate(results):
                if result is None:
                    checks.true("request %d answered" % i, False)
                    continue
                took, status, body = result
                verdicts = {h["host"]: h["verdict"] for h in body.get("hosts", [])}
                checks.eq("request %d: gpu-d unreachable, gpu-b refused" % i,
                          (200, "unreachable", "incompatible"),
                          (status, verdicts.get("gpu-d"), verdicts.get("gpu-b")))
                checks.true("request %d took %.2f s, at most the probe timeout + 1.5 s"
                            % (i, took), took <= PROBE_TIMEOUT + 1.5)
        finally:
            d.proc.send_signal(signal.SIGCONT)
        status, body = sched.request("POST", "/v1/filter",
                                     {"instance": VM_222, "hosts": ["gpu-b", "gpu-d"]})
        checks.eq("after SIGCONT: gpu-d passes again", ["gpu-d"], body.get("destinations"))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
