"""libmdevmig as a deployer gets it (issue 13): `cmake --install` into a
temporary prefix, a program built against the installed header with
`pkg-config --cflags --libs mdevmig` (consumer.c), and a select it runs on
a loopback cluster's registry, which must name the destinations the sched
names for the same VM.

usage: test_consumer.py BUILD_DIR SOURCE_DIR [CFLAGS...]   (with /usr/bin/python3)
CFLAGS: the sanitizer flags the library was built with (the consumer needs
the same runtime).
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration"))
from cluster import Checks, Cluster  # noqa: E402

VM_222 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01"


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    cflags = sys.argv[3:]
    checks = Checks()
    prefix = tempfile.mkdtemp(prefix="mdevmig-prefix.")
    try:
        for component in ("lib", "dev"):
            subprocess.run(["cmake", "--install", build, "--prefix", prefix, "--component", component],
                           check=True, capture_output=True)
        installed = sorted(os.path.relpath(p, prefix) for p in glob.glob(prefix + "/**", recursive=True)
                           if os.path.isfile(p) or os.path.islink(p))
        checks.true("lib and dev install the header, the .so.0 with its links and mdevmig.pc (%s)"
                    % installed,
                    "include/mdevmig/mdevmig.h" in installed and
                    any(p.endswith("/libmdevmig.so.0") for p in installed) and
                    any(p.endswith("/libmdevmig.so") for p in installed) and
                    any(p.endswith("/pkgconfig/mdevmig.pc") for p in installed))
        pcdirs = [os.path.dirname(p) for p in glob.glob(prefix + "/**/pkgconfig/mdevmig.pc",
                                                        recursive=True)]
        env = dict(os.environ, PKG_CONFIG_PATH=":".join(pcdirs))
        pc = subprocess.run(["pkg-config", "--cflags", "--libs", "mdevmig"], env=env,
                            capture_output=True, text=True)
        checks.eq("pkg-config --cflags --libs mdevmig answers (%s)" % pc.stderr.strip(), 0,
                  pc.returncode)
        flags = pc.stdout.split()
        checks.true("its flags point into the prefix (%s)" % flags,
                    all(f[2:].startswith(prefix) for f in flags if f[:2] in ("-I", "-L")))
        libdir = next((f[2:] for f in flags if f.startswith("-L")), prefix)
        consumer = os.path.join(prefix, "consumer")
        cc = subprocess.run(["cc", "-std=c17", "-Wall", "-Wextra", "-Werror"] + cflags +
                            [os.path.join(source, "tests/install/consumer.c"), "-o", consumer] +
                            flags + ["-Wl,-rpath," + libdir], capture_output=True, text=True)
        checks.eq("the consumer builds against the installed header only (%s)" % cc.stderr.strip(),
                  0, cc.returncode)
        if cc.returncode != 0:
            return checks.finish()
        with Cluster(build, prefix="mdevmig-consumer") as cluster:
            sched = cluster.add_sched()
            checks.true("the registry lists every host",
                        cluster.add_deploy_hosts(source, ["gpu-a", "gpu-b", "gpu-d"], sched))
            status, want = sched.request("POST", "/v1/select", {"instance": VM_222, "count": 5})
            checks.eq("the sched answers the select", 200, status)
            run = subprocess.run([consumer, sched.registry, sched.token_file, VM_222],
                                 capture_output=True, text=True, timeout=60)
            checks.eq("the consumer's select succeeds (%s)" % run.stderr.strip(), 0, run.returncode)
            lines = run.stdout.splitlines()
            got = [ln.split()[1] for ln in lines if ln.startswith("destination ")]
            checks.eq("the consumer names the sched's destinations", want.get("destinations"), got)
            checks.true("it reports every host's verdict (%s)" % lines,
                        any(ln.startswith("host gpu-b ") for ln in lines))
            checks.true("it loaded the installed library, not the build tree's",
                        os.path.realpath(libdir).startswith(os.path.realpath(prefix)))
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
