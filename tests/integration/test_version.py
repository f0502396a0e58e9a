"""Build information (DESIGN.md §7 "Operations"): `--version` of
mdevmig-collector, mdevmig-sched and mdevmig prints `PROGRAM VERSION
(commit COMMIT)` and exits 0; the three agree; VERSION is the public
header's MDEVMIG_VERSION_MAJOR.MINOR.PATCH (which project() takes); COMMIT is what
common/buildinfo_commit.cmake records: `git -C SOURCE rev-parse --short=12
HEAD`, with "-dirty" exactly when tracked files have uncommitted changes,
or "unknown" when SOURCE is not a git checkout. The running daemons say
the same: GET /v1/health's "version" and "commit" (no token needed), the
one mdevmig_build_info{version,commit} sample (value 1) of GET /metrics,
and the start line in their logs. The "unknown" branch of the script is
run too, on a folder outside any checkout.

usage: test_version.py BUILD_DIR SOURCE_DIR
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

LINE = re.compile(r"^(\S+) (\S+) \(commit (\S+)\)\n$")
BUILD_INFO = re.compile(r'^mdevmig_build_info\{(.*)\} (\S+)$', re.M)
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def project_version(source):
    """MAJOR.MINOR.PATCH from the public header, the one place the version
    is written (CMakeLists.txt reads it from there)."""
    with open(os.path.join(source, "include/mdevmig/mdevmig.h")) as f:
        text = f.read()
    parts = [re.search(r"^#define MDEVMIG_VERSION_%s (\d+)$" % p, text, re.M) for p in
             ("MAJOR", "MINOR", "PATCH")]
    return ".".join(m.group(1) for m in parts) if all(parts) else None


def git(source, *args):
    proc = subprocess.run(["git", "-C", source] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout.decode(errors="replace").strip()


def expected_commit(source):
    """What buildinfo_commit.cmake records for source, by the same rules."""
    rc, head = git(source, "rev-parse", "--short=12", "HEAD")
    if rc != 0 or not head:
        return "unknown"
    rc, dirty = git(source, "status", "--porcelain", "--untracked-files=no")
    return head + "-dirty" if rc == 0 and dirty else head


def version_line(binary):
    """(exit status, stdout, stderr) of `binary --version`."""
    proc = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=30)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def build_info(text):
    """[(labels dict, value)] of every mdevmig_build_info sample."""
    return [(dict(LABEL.findall(m.group(1))), m.group(2)) for m in BUILD_INFO.finditer(text)]


def sanitizer_report(log_path):
    with open(log_path, errors="replace") as f:
        log = f.read()
    return [mark for mark in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                              "runtime error") if mark in log]


def check_script(checks, source):
    """buildinfo_commit.cmake run by hand: SOURCE gives the expected
    commit, a folder outside any checkout gives "unknown"."""
    cmake = os.environ.get("CMAKE_COMMAND") or shutil.which("cmake")
    checks.true("cmake is on PATH (to run buildinfo_commit.cmake)", cmake)
    if not cmake:
        return
    script = os.path.join(source, "common/buildinfo_commit.cmake")
    tmp = tempfile.mkdtemp(prefix="mdevmig-it-version.")
    try:
        outside = os.path.join(tmp, "not-a-checkout")
        os.makedirs(outside)
        rc, _ = git(outside, "rev-parse", "HEAD")
        checks.true("%s is outside any git checkout" % outside, rc != 0)
        for i, (name, src, expect) in enumerate((("the source", source, expected_commit(source)),
                                                 ("a folder outside git", outside, "unknown"))):
            out = os.path.join(tmp, "buildinfo_commit_%d.h" % i)
            proc = subprocess.run([cmake, "-DSOURCE_DIR=" + src, "-DOUT=" + out, "-P", script],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=60)
            checks.eq("buildinfo_commit.cmake on %s: exit status" % name, 0, proc.returncode)
            text = open(out).read() if os.path.exists(out) else ""
            m = re.search(r'#define BUILDINFO_COMMIT "([^"]*)"', text)
            checks.eq("buildinfo_commit.cmake on %s records %r" % (name, expect), expect,
                      m.group(1) if m else text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    try:
        run(checks, build, source)
    except Exception:
        traceback.print_exc()
        checks.true("the test ran to its end without an exception", False)
    return checks.finish()


def run(checks, build, source):
    version = project_version(source)
    checks.true("include/mdevmig/mdevmig.h names the version (%r)" % version, version)
    commit = expected_commit(source)
    print("# expected: version %s, commit %s" % (version, commit))
    checks.true("the expected commit is 12 hex digits (+ -dirty) or unknown (%r)" % commit,
                re.match(r"^([0-9a-f]{12}(-dirty)?|unknown)$", commit))

    binaries = [("mdevmig-collector", "collector/mdevmig-collector"),
                ("mdevmig-sched", "plugin/mdevmig-sched"),
                ("mdevmig", "plugin/mdevmig")]
    seen = set()
    for program, path in binaries:
        rc, out, err = version_line(os.path.join(build, path))
        checks.eq("%s --version: exit status 0" % program, 0, rc)
        checks.eq("%s --version: nothing on stderr" % program, "", err)
        m = LINE.match(out)
        checks.true("%s --version: one line 'PROGRAM VERSION (commit COMMIT)' (%r)"
                    % (program, out), m)
        got = m.groups() if m else (None, None, None)
        checks.eq("%s --version: names the program" % program, program, got[0])
        checks.eq("%s --version: the project version" % program, version, got[1])
        checks.eq("%s --version: the source's commit" % program, commit, got[2])
        seen.add(got[1:])
    checks.eq("the three binaries print the same version and commit", 1, len(seen))

    with Cluster(build, prefix="mdevmig-it-version") as cluster:
        sched = cluster.add_sched()
        collector = cluster.add_host("gpu-a", os.path.join(source, "deploy/cluster/gpu-a.json"),
                                     registry=None, extra=["--registry", sched.url])
        for name, daemon, program in (("mdevmig-sched", sched, "mdevmig-sched"),
                                      ("mdevmig-collector", collector, "mdevmig-collector")):
            status, health = daemon.request("GET", "/v1/health", auth=False)
            checks.eq("%s: GET /v1/health (no token) is 200" % name, 200, status)
            health = health if isinstance(health, dict) else {}
            checks.eq("%s: /v1/health version" % name, version, health.get("version"))
            checks.eq("%s: /v1/health commit" % name, commit, health.get("commit"))

            status, text = daemon.request("GET", "/metrics")
            checks.eq("%s: GET /metrics with the token is 200" % name, 200, status)
            infos = build_info(text if isinstance(text, str) else "")
            checks.eq("%s: one mdevmig_build_info sample" % name, 1, len(infos))
            labels, value = infos[0] if infos else ({}, None)
            checks.eq("%s: mdevmig_build_info is 1" % name, 1.0,
                      float(value) if value is not None else None)
            checks.eq("%s: mdevmig_build_info's labels" % name,
                      {"version": version, "commit": commit}, labels)
            checks.true("%s: mdevmig_build_info is a gauge" % name,
                        isinstance(text, str) and re.search(r"^# TYPE mdevmig_build_info gauge$",
                                                            text, re.M))
            status, _ = daemon.request("GET", "/metrics", auth=False)
            checks.eq("%s: GET /metrics without the token is 401" % name, 401, status)

            with open(daemon.log, errors="replace") as f:
                log = f.read()
            checks.true("%s: the start line says '%s %s (commit %s)'"
                        % (name, program, version, commit),
                        "%s %s (commit %s)" % (program, version, commit) in log)

        for name, daemon in (("mdevmig-sched", sched), ("mdevmig-collector", collector)):
            daemon.stop()
            checks.eq("%s stops cleanly on SIGTERM" % name, 0, daemon.proc.returncode)
            checks.eq("%s: no sanitizer report in its log" % name, [],
                      sanitizer_report(daemon.log))

    check_script(checks, source)


if __name__ == "__main__":
    sys.exit(main())
