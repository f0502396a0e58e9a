"""A simulated cluster for integration tests: per host, one mdevsim FUSE
mount and one mdevmig-collector on its own loopback address. Everything
started is stopped again (processes by PID, mounts with fusermount3 -u),
also when a test fails; use it as a context manager.

Runs with Debian's /usr/bin/python3 and its standard library only.
"""

import http.client
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TOKEN = "test-token-0123456789abcdef"


def free_port(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def mounted(path):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)


class Sim:
    """One mdevsim mount with its control socket."""

    def __init__(self, binary, fixture, root):
        self.binary, self.fixture = binary, fixture
        self.mount = os.path.join(root, "mnt")
        self.sock = os.path.join(root, "control.sock")
        self.log = os.path.join(root, "mdevsim.log")
        self.proc = None
        os.makedirs(self.mount, exist_ok=True)

    @property
    def sysfs(self):
        return os.path.join(self.mount, "sys")

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--fixture", self.fixture, "--mount", self.mount,
                 "--control", self.sock],
                stdout=log, stderr=log)
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.isdir(os.path.join(self.sysfs, "class")) and os.path.exists(self.sock):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("mdevsim did not start: " + open(self.log).read())

    def ctl(self, *words):
        """Send one control command; return the reply line."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.sock)
            s.sendall((" ".join(words) + "\n").encode())
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return reply.decode().strip()

    def counts(self, path):
        """(reads, writes) of an attribute, path relative to the mount."""
        reply = self.ctl("counts", path)
        if not reply.startswith("ok "):
            raise RuntimeError(reply)
        fields = dict(kv.split("=") for kv in reply[3:].split())
        return int(fields["reads"]), int(fields["writes"])

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self.kill(signal.SIGTERM)
        if mounted(self.mount):
            subprocess.call(["fusermount3", "-u", self.mount], stderr=subprocess.DEVNULL)
        if mounted(self.mount):
            subprocess.call(["fusermount3", "-uz", self.mount], stderr=subprocess.DEVNULL)


class Collector:
    """One mdevmig-collector, serving one Sim's tree."""

    def __init__(self, binary, name, sim, root, address, libvirt_uri="none",
                 registry=None, extra=()):
        self.binary, self.name, self.sim = binary, name, sim
        self.address = address
        self.port = free_port(address)
        self.root = root
        self.log = os.path.join(root, "collector.log")
        self.token_file = os.path.join(root, "token")
        self.audit = os.path.join(root, "audit.db")
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  "w") as f:
            f.write(TOKEN + "\n")
        self.args = [binary, "--host", name, "--sysfs-root", sim.sysfs,
                     "--libvirt-uri", libvirt_uri,
                     "--listen", "%s:%d" % (address, self.port),
                     "--token-file", self.token_file, "--audit-db", self.audit,
                     "--scan-interval", "0.2", "--heartbeat-interval", "1"]
        if registry:
            self.args += ["--registry", "sqlite:" + registry]
        self.args += list(extra)
        self.proc = None

    @property
    def url(self):
        return "http://%s:%d" % (self.address, self.port)

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                status, body = self.request("GET", "/v1/health", auth=False)
                if status == 200 and body.get("status") == "ok":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("collector %s did not start: %s" % (self.name, open(self.log).read()))

    def request(self, method, path, body=None, auth=True, token=TOKEN, raw=None, headers=None):
        """One HTTP request; returns (status, parsed JSON or text)."""
        conn = http.client.HTTPConnection(self.address, self.port, timeout=10)
        try:
            hdrs = dict(headers or {})
            if auth:
                hdrs["Authorization"] = "Bearer " + token
            data = raw if raw is not None else (json.dumps(body) if body is not None else None)
            if data is not None:
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text
        finally:
            conn.close()

    def probe(self, type_id, version, device=None, parent=None):
        body = {"type": type_id, "version": version}
        if device is not None:
            body["device"] = device
        if parent is not None:
            body["parent"] = parent
        return self.request("POST", "/v1/probe", body)

    def inventory(self):
        status, body = self.request("GET", "/v1/inventory")
        if status != 200:
            raise RuntimeError("inventory: %d %s" % (status, body))
        return body

    def wait_generation_above(self, generation, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            inv = self.inventory()
            if inv["generation"] > generation:
                return inv
            time.sleep(0.05)
        raise RuntimeError("generation stayed at %d" % generation)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Cluster:
    """with Cluster(build_dir) as c: c.add_host("gpu-a", fixture) ..."""

    def __init__(self, build_dir, prefix="mdevmig-it"):
        self.build = build_dir
        self.root = tempfile.mkdtemp(prefix=prefix + ".")
        self.sims, self.collectors = {}, {}
        self.scheds = []
        self.next_address = 2

    @property
    def mdevsim(self):
        return os.path.join(self.build, "tests/sim/mdevsim")

    @property
    def collector_binary(self):
        return os.path.join(self.build, "collector/mdevmig-collector")

    def add_sim(self, name, fixture):
        root = os.path.join(self.root, name)
        os.makedirs(root, exist_ok=True)
        sim = Sim(self.mdevsim, fixture, root)
        self.sims[name] = sim
        sim.start()
        return sim

    def add_host(self, name, fixture, **kwargs):
        """An mdevsim mount and a collector on 127.0.0.N for it."""
        sim = self.add_sim(name, fixture)
        address = "127.0.0.%d" % self.next_address
        self.next_address += 1
        collector = Collector(self.collector_binary, name, sim, os.path.join(self.root, name),
                              address, **kwargs)
        self.collectors[name] = collector
        collector.start()
        return collector

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def add_sched(self, registry=None, extra=()):
        """An mdevmig-sched (started) owning registry (default: a new file)."""
        root = os.path.join(self.root, "sched%d" % len(self.scheds))
        registry = registry or os.path.join(root, "registry.db")
        sched = Sched(self.build, root, registry, extra)
        self.scheds.append(sched)
        sched.start()
        return sched

    def close(self):
        for sched in self.scheds:
            sched.stop()
        for collector in self.collectors.values():
            collector.stop()
        for sim in self.sims.values():
            sim.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Checks:
    """Plain assertions with a closing 'N passed, N failed' line."""

    def __init__(self):
        self.passed = self.failed = 0

    def eq(self, name, expected, actual):
        if expected == actual:
            self.passed += 1
            print("ok - " + name)
        else:
            self.failed += 1
            print("not ok - %s\n    expected: %r\n    actual:   %r" % (name, expected, actual))

    def true(self, name, value):
        self.eq(name, True, bool(value))

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


class Sched:
    """One mdevmig-sched owning a registry file, on 127.0.0.1."""

    def __init__(self, build_dir, root, registry, extra=()):
        self.binary = os.path.join(build_dir, "plugin/mdevmig-sched")
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.address = "127.0.0.1"
        self.port = free_port(self.address)
        self.registry = registry
        self.log = os.path.join(root, "sched.log")
        self.token_file = os.path.join(root, "sched-token")
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  "w") as f:
            f.write(TOKEN + "\n")
        self.args = [self.binary, "--listen", "%s:%d" % (self.address, self.port),
                     "--token-file", self.token_file, "--registry", registry,
                     "--probe-timeout", "2", "--connect-timeout", "0.5"] + list(extra)
        self.proc = None

    @property
    def url(self):
        return "http://%s:%d" % (self.address, self.port)

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                status, _ = self.request("GET", "/v1/health", auth=False)
                if status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("mdevmig-sched did not start: " + open(self.log).read())

    def request(self, method, path, body=None, auth=True, token=TOKEN, raw=None):
        conn = http.client.HTTPConnection(self.address, self.port, timeout=30)
        try:
            hdrs = {"Authorization": "Bearer " + token} if auth else {}
            data = raw if raw is not None else (json.dumps(body) if body is not None else None)
            if data is not None:
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text
        finally:
            conn.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_tty(argv):
    """Run argv with stdout and stderr on a pseudo-terminal (the CLI's
    tables and progress bars): (exit code, output). MDEVMIG_* variables of
    the caller's environment are left out."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
    proc = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(30), out.decode(errors="replace")
