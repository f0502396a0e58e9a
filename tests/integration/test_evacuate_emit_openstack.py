"""`mdevmig evacuate --emit openstack` lines run as printed with Debian's
openstack client (python3-openstackclient) and do what they say (issue
13). A small loopback cluster: the quickstart's gpu-a (two VMs, one mdev
each, from libvirt's test driver) and gpu-d (a newer driver that takes
both), publishing to one mdevmig-sched.

  - the CLI prints one line per VM of the service's plan, in plan order:
    openstack --os-compute-api-version 2.30 server migrate
    --live-migration --host gpu-d UUID;
  - each line, run by /bin/sh exactly as printed against a stub cloud
    (compute_stub.py: Keystone v3 password auth, a catalog pointing
    compute at the stub, on 127.0.0.1), exits 0 after one
    POST /v2.1/servers/UUID/action with microversion 2.30 and the body
    {"os-migrateLive": {"host": "gpu-d", "block_migration": "auto"}}
    (novaclient's for 2.30-2.67: no "force", so Nova's scheduler checks
    the host, MdevMigrationFilter included);
  - the same line without the microversion is refused by the client
    (`--host` needs 2.30) and migrates nothing: why the line carries it;
  - `mdevmig evacuate --help` shows the line as printed.

Everything started is stopped (processes by PID, the stub's thread).

usage: test_evacuate_emit_openstack.py BUILD_DIR SOURCE_DIR
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402
from compute_stub import ComputeStub, TOKEN  # noqa: E402

SOURCE, DEST = "gpu-a", "gpu-d"
VMS = ["4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01", "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a02"]
MICROVERSION = "2.30"
LINE = "openstack --os-compute-api-version %s server migrate --live-migration --host %s %s"
OPENSTACK = "/usr/bin/openstack"


def wait_vms(sched, timeout=60):
    """True once the registry holds both hosts and gpu-a's two VMs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if {SOURCE, DEST} <= set(invs) and len(invs[SOURCE]["instances"]) == len(VMS):
                return True
        time.sleep(0.1)
    return False


def cli(binary, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=120, env=env)


def run_line(cloud, home, line):
    """line through /bin/sh, as a batch tool would run it: (exit, stderr,
    the stub's requests)."""
    cloud.taken()
    run = subprocess.run(["/bin/sh", "-c", line], env=cloud.env(home), capture_output=True,
                         text=True, timeout=180)
    return run.returncode, run.stderr, cloud.taken()


def actions(requests):
    return [r for r in requests if r.method == "POST" and r.path.endswith("/action")]


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    binary = os.path.join(build, "plugin/mdevmig")
    checks = Checks()
    checks.true("%s is there (deploy/install-deps: python3-openstackclient)" % OPENSTACK,
                os.access(OPENSTACK, os.X_OK))

    r = cli(binary, ["evacuate", "--help"])
    checks.true("evacuate --help shows the line with the microversion",
                r.returncode == 0 and "openstack --os-compute-api-version 2.30 server migrate"
                in r.stdout)

    with Cluster(build, prefix="mdevmig-emit") as cluster:
        sched = cluster.add_sched()
        ready = cluster.add_deploy_hosts(source, [SOURCE, DEST], sched) and wait_vms(sched)
        checks.true("the sched's registry holds gpu-a with its two VMs, and gpu-d", ready)
        if not ready:
            print(open(sched.log).read()[-3000:])
            return checks.finish()

        status, plan = sched.request("POST", "/v1/evacuate", {"host": SOURCE})
        checks.eq("the service places both VMs on gpu-d", (200, {vm: DEST for vm in VMS}),
                  (status, {v["instance"]: v["destination"] for v in plan.get("vms", [])}))
        r = cli(binary, ["evacuate", "--host", SOURCE, "--emit", "openstack",
                         "--url", sched.url, "--token-file", sched.token_file])
        want = [LINE % (MICROVERSION, v["destination"], v["instance"])
                for v in plan.get("vms", []) if v["destination"]]
        checks.eq("--emit openstack: exit 0, one line per VM in plan order%s"
                  % (": " + r.stderr.strip()[-200:] if r.returncode else ""),
                  (0, want), (r.returncode, r.stdout.splitlines()))
        lines = r.stdout.splitlines()

        home = tempfile.mkdtemp(prefix="home.", dir=cluster.root)
        with ComputeStub() as cloud:
            for line in lines:
                vm = line.rsplit(" ", 1)[1]
                code, err, requests = run_line(cloud, home, line)
                checks.eq("%s: the openstack client runs it as printed (exit 0%s)"
                          % (vm, ", " + err.strip()[-300:] if code else ""), 0, code)
                posted = actions(requests)
                checks.eq("%s: one POST /v2.1/servers/%s/action" % (vm, vm),
                          ["/v2.1/servers/%s/action" % vm], [p.path for p in posted])
                for p in posted:
                    checks.eq("%s: os-migrateLive to gpu-d, block_migration auto (2.30)" % vm,
                              {"os-migrateLive": {"host": DEST, "block_migration": "auto"}},
                              p.body)
                    checks.eq("%s: sent with compute microversion 2.30 and the token" % vm,
                              ("compute " + MICROVERSION, TOKEN),
                              (p.headers.get("OpenStack-API-Version"),
                               p.headers.get("X-Auth-Token")))

            # Without the microversion the client refuses --host: the line
            # as mdevmig printed it before this change.
            if lines:
                old = lines[0].replace(" --os-compute-api-version %s" % MICROVERSION, "")
                code, err, requests = run_line(cloud, home, old)
                checks.true("without --os-compute-api-version 2.30 the client refuses --host "
                            "(exit %d: %s)" % (code, err.strip()[-200:]),
                            code != 0 and "2.30 or greater is required" in err)
                checks.eq("without it nothing is migrated", [], actions(requests))

        checks.true("the sched is still running", sched.proc.poll() is None)
        sched.stop()
        checks.eq("the sched stops cleanly on SIGTERM", 0, sched.proc.returncode)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
