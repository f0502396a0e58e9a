"""The cluster token file's permission rule (DESIGN.md §7, common/keyfile.c)
as the three programs that read it apply it: nothing for others, no group
write, group read allowed (root:nova 0640, as deploy/nova/nova.conf.example
advises). One case per file in cases/secret_modes/ (mode, accepted or
refused, and the refusal's message); for each:

  - mdevmig-sched --token-file: accepted, it serves and takes that token
    (a wrong one gets 401); refused, it exits at start naming the file,
    the mode and the chmod that fixes it;
  - mdevmig-collector --token-file: the same, on an empty sysfs tree;
  - mdevmig --token-file (against a sched holding the same token in a 0600
    file): accepted, `inventory` answers; refused, exit 2 (usage) with the
    message;
  - a refused mode on SIGHUP: the running sched logs the refusal and keeps
    serving with the token it had.

Everything started is stopped by PID; the test's folder is removed.

usage: test_token_file_modes.py BUILD_DIR SOURCE_DIR
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, free_port  # noqa: E402

CASES = "tests/integration/cases/secret_modes"
TOKEN = "token-modes-0123456789abcdef"
ADDRESS = "127.0.0.1"


def load_cases(source):
    cases = []
    folder = os.path.join(source, CASES)
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue
        with open(os.path.join(folder, name)) as f:
            lines = f.read().splitlines()
        if not lines or not lines[0].startswith("# "):
            raise ValueError("%s: line 1 must be a '# ' comment saying what it checks" % name)
        case = {"name": name, "about": lines[0][2:]}
        for line in lines[1:]:
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                case[key.strip()] = value.strip()
        if set(case) - {"name", "about", "mode", "expect", "message"} or \
                case.get("expect") not in ("accepted", "refused") or \
                (case["expect"] == "refused") != ("message" in case):
            raise ValueError("%s: needs mode, expect = accepted|refused, and a message "
                             "when refused" % name)
        case["mode"] = int(case["mode"], 8)
        cases.append(case)
    return cases


def write_token(path, mode, token=TOKEN):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(token + "\n")
    # chmod, not open's mode: the umask must not decide what is tested.
    os.chmod(path, mode)


def http_status(port, path, token):
    import http.client
    conn = http.client.HTTPConnection(ADDRESS, port, timeout=10)
    try:
        headers = {"Authorization": "Bearer " + token} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


class Daemon:
    """One mdevmig-sched or mdevmig-collector, stopped by PID."""

    def __init__(self, name, argv, log):
        self.name, self.argv, self.log = name, argv, log
        self.port = int(argv[argv.index("--listen") + 1].rsplit(":", 1)[1])
        self.proc = None

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=log)
        return self

    def wait_serving(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if http_status(self.port, "/v1/health", None) == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def wait_exit(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc is not None else None


def sched_argv(build, folder, token_file):
    return [os.path.join(build, "plugin/mdevmig-sched"),
            "--listen", "%s:%d" % (ADDRESS, free_port(ADDRESS)),
            "--token-file", token_file, "--registry", os.path.join(folder, "registry.db")]


def collector_argv(build, folder, token_file):
    # An empty mdev tree: the collector scans it and serves an empty
    # inventory, enough to show which token it holds.
    sysfs = os.path.join(folder, "sysfs")
    for sub in ("class/mdev_bus", "bus/mdev/devices", "devices"):
        os.makedirs(os.path.join(sysfs, sub), exist_ok=True)
    return [os.path.join(build, "collector/mdevmig-collector"), "--host", "token-modes",
            "--sysfs-root", sysfs, "--libvirt-uri", "none",
            "--listen", "%s:%d" % (ADDRESS, free_port(ADDRESS)),
            "--token-file", token_file, "--audit-db", "none"]


def check_daemon(checks, case, daemon, token_file, started, authorized_path):
    what = "%s (%s)" % (case["name"], case["about"])
    daemon.start()
    started.append(daemon)
    if case["expect"] == "accepted":
        serving = daemon.wait_serving()
        checks.true("%s: %s --token-file accepts mode %04o%s"
                    % (daemon.name, what, case["mode"],
                       "" if serving else ": " + daemon.output()[-400:]), serving)
        if serving:
            checks.eq("%s: %s: requests with the token served, others 401"
                      % (daemon.name, case["name"]),
                      (200, 401), (http_status(daemon.port, authorized_path, TOKEN),
                                   http_status(daemon.port, authorized_path, "wrong-token")))
        checks.eq("%s: %s: stops cleanly" % (daemon.name, case["name"]), 0, daemon.stop())
        return
    rc = daemon.wait_exit()
    daemon.stop()
    out = daemon.output()
    want = "token file %s: %s" % (token_file, case["message"])
    checks.true("%s: %s --token-file refuses mode %04o at start (exit %r): %r"
                % (daemon.name, what, case["mode"], rc, want),
                rc not in (None, 0) and want in out)


def check_cli(checks, case, build, sched, token_file):
    what = "%s (%s)" % (case["name"], case["about"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
    run = subprocess.run([os.path.join(build, "plugin/mdevmig"), "inventory", "--json",
                          "--url", "http://%s:%d" % (ADDRESS, sched.port),
                          "--token-file", token_file],
                         capture_output=True, text=True, timeout=60, env=env)
    if case["expect"] == "accepted":
        checks.eq("mdevmig: %s --token-file accepts mode %04o%s"
                  % (what, case["mode"], run.returncode and ": " + run.stderr.strip()[-200:] or ""),
                  0, run.returncode)
        return
    want = "token file %s: %s" % (token_file, case["message"])
    checks.true("mdevmig: %s --token-file refuses mode %04o with exit 2 (exit %d: %s)"
                % (what, case["mode"], run.returncode, run.stderr.strip()[-200:]),
                run.returncode == 2 and want in run.stderr)


def check_reload(checks, case, sched, token_file):
    """A refused mode on SIGHUP: logged, the running token kept."""
    what = case["name"]
    before = len(sched.output())
    os.chmod(token_file, case["mode"])
    sched.proc.send_signal(signal.SIGHUP)
    want = "token file %s: %s" % (token_file, case["message"])
    deadline = time.time() + 15
    logged = False
    while time.time() < deadline and not logged:
        logged = want in sched.output()[before:]
        time.sleep(0.05)
    os.chmod(token_file, 0o600)
    checks.true("mdevmig-sched: SIGHUP with %s: the reload is refused with %r" % (what, want),
                logged)
    checks.eq("mdevmig-sched: SIGHUP with %s: still serving with its token" % what,
              (200, 401), (http_status(sched.port, "/v1/inventory", TOKEN),
                           http_status(sched.port, "/v1/inventory", "wrong-token")))


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    cases = load_cases(source)
    checks.true("cases/secret_modes: 0600 and 0640 accepted; 0644, 0660, 0666 refused",
                {c["mode"]: c["expect"] for c in cases} ==
                {0o600: "accepted", 0o640: "accepted", 0o644: "refused", 0o660: "refused",
                 0o666: "refused"})
    root = tempfile.mkdtemp(prefix="mdevmig-token-modes.")
    started = []
    try:
        # The sched the CLI asks, and whose reloads are tried: its own 0600
        # copy of the token.
        ref_folder = os.path.join(root, "reference")
        os.makedirs(ref_folder)
        ref_token = os.path.join(ref_folder, "token")
        write_token(ref_token, 0o600)
        ref = Daemon("mdevmig-sched", sched_argv(build, ref_folder, ref_token),
                     os.path.join(ref_folder, "sched.log")).start()
        started.append(ref)
        checks.true("the reference mdevmig-sched serves", ref.wait_serving())

        for case in cases:
            folder = os.path.join(root, case["name"])
            os.makedirs(folder)
            token_file = os.path.join(folder, "token")
            write_token(token_file, case["mode"])
            check_daemon(checks, case, Daemon("mdevmig-sched", sched_argv(build, folder, token_file),
                                              os.path.join(folder, "sched.log")),
                         token_file, started, "/v1/inventory")
            check_daemon(checks, case,
                         Daemon("mdevmig-collector", collector_argv(build, folder, token_file),
                                os.path.join(folder, "collector.log")),
                         token_file, started, "/v1/inventory")
            check_cli(checks, case, build, ref, token_file)
            if case["expect"] == "refused":
                check_reload(checks, case, ref, ref_token)

        checks.eq("the reference mdevmig-sched stops cleanly", 0, ref.stop())
        for d in started:
            out = d.output()
            bad = [m for m in ("AddressSanitizer", "LeakSanitizer", "runtime error") if m in out]
            if bad:
                checks.eq("no sanitizer report in %s" % d.log, [], bad)
    finally:
        for d in started:
            d.stop()
        shutil.rmtree(root, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
