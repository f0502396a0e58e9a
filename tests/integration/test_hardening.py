"""Slow, greedy and malformed clients, and a failing registry (issue 12):

  - 1,100 connections from one address trickling a request line byte by
    byte (a slowloris) do not stop either daemon: health, probes and
    select are served meanwhile, within a second, to other clients;
  - a Content-Length of 2^64-1, and a 100 MB body announced with
    "Expect: 100-continue", get 413 at once (no "100 Continue", no
    waiting for a body); HTTP/1.1 without Host gets 400, and so does a
    NUL in the request target, raw or as %00;
  - the registry the sched creates is mode 0600, and so are its -wal
    and -shm files;
  - a registry with damaged pages is refused at start, naming the damage;
  - a registry that fails under the running sched (its filesystem full)
    turns /v1/health to 503 "degraded" with the reason, and back to 200
    "ok" once writes work again.

usage: test_hardening.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import os
import resource
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import TOKEN, Checks, Cluster, free_port  # noqa: E402

VM_222 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01"
ATTACKER = "127.0.0.66"


def raw(address, port, data, timeout=5):
    """One raw request; (first line of the reply, seconds taken)."""
    start = time.time()
    with socket.create_connection((address, port), timeout=timeout) as s:
        s.sendall(data)
        reply = b""
        try:
            while b"\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except socket.timeout:
            return "(no reply)", time.time() - start
    return reply.split(b"\r\n")[0].decode(errors="replace"), time.time() - start


class Slowloris:
    """count connections from ATTACKER to (address, port), each sending
    one byte of a request line every 2 s, until stop()."""

    def __init__(self, address, port, count):
        self.socks = []
        self.refused = 0
        for _ in range(count):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.bind((ATTACKER, 0))
                s.connect((address, port))
                s.sendall(b"G")
                self.socks.append(s)
            except OSError:
                self.refused += 1
                s.close()
        self.running = True
        self.thread = threading.Thread(target=self.trickle, daemon=True)
        self.thread.start()

    def trickle(self):
        deadline = time.time() + 60
        while self.running and time.time() < deadline:
            for s in self.socks:
                try:
                    s.send(b"E")
                except OSError:
                    pass
            time.sleep(2)

    def stop(self):
        self.running = False
        self.thread.join(5)
        for s in self.socks:
            s.close()


def check_daemon(checks, name, address, port, served):
    """served() -> (ok, what): a real request another client makes."""
    line, took = raw(address, port, b"POST /v1/probe HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 18446744073709551615\r\n\r\n")
    checks.true("%s: Content-Length 2^64-1 gets 413 at once (%s, %.2f s)" % (name, line, took),
                line.startswith("HTTP/1.1 413") and took < 1)
    line, took = raw(address, port, b"POST /v1/probe HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 100000000\r\nExpect: 100-continue\r\n\r\n")
    checks.true("%s: Expect: 100-continue with 100 MB gets 413, not 100 (%s)" % (name, line),
                line.startswith("HTTP/1.1 413"))
    line, _ = raw(address, port, b"GET /v1/health HTTP/1.1\r\n\r\n")
    checks.true("%s: HTTP/1.1 without Host gets 400 (%s)" % (name, line),
                line.startswith("HTTP/1.1 400"))
    # A NUL would cut the C string libmicrohttpd hands on: "/v1/health"
    # would be served for either of these.
    for target in (b"/v1/health\x00/../x", b"/v1/health%00/../x", b"/v1/health?x=%00"):
        line, _ = raw(address, port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        checks.true("%s: a NUL in the target %r gets 400 (%s)" % (name, target, line),
                    line.startswith("HTTP/1.1 400"))

    attack = Slowloris(address, port, 1100)
    try:
        checks.true("%s: the attacker opened connections (%d, %d refused)"
                    % (name, len(attack.socks), attack.refused), len(attack.socks) > 0)
        time.sleep(1)
        worst = 0.0
        answered = 0
        for _ in range(5):
            start = time.time()
            line, _ = raw(address, port, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            ok, what = served()
            worst = max(worst, time.time() - start)
            answered += line.startswith("HTTP/1.1 200") and ok
            time.sleep(0.5)
        checks.eq("%s: health and %s answered during the slowloris" % (name, what), 5, answered)
        checks.true("%s: each within a second (worst %.2f s)" % (name, worst), worst < 1.0)
    finally:
        attack.stop()


def check_registry_files(checks, sched):
    for suffix in ("", "-wal", "-shm"):
        path = sched.registry + suffix
        if os.path.exists(path):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            checks.eq("the registry%s is mode 0600" % suffix, "0o600", oct(mode))
        elif suffix == "":
            checks.true("the registry exists", False)


def check_damaged_registry(checks, build, root, registry):
    damaged = os.path.join(root, "damaged.db")
    with open(registry, "rb") as f:
        data = bytearray(f.read())
    page = 4096
    checks.true("the registry has pages to damage (%d bytes)" % len(data), len(data) > 3 * page)
    for i in range(2 * page, min(len(data), 6 * page)):
        data[i] = 0xA5
    with open(os.open(damaged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(data)
    token = os.path.join(root, "token-damaged")
    with open(os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(TOKEN + "\n")
    run = subprocess.run([os.path.join(build, "plugin/mdevmig-sched"),
                          "--listen", "127.0.0.1:%d" % free_port("127.0.0.1"),
                          "--token-file", token, "--registry", damaged],
                         capture_output=True, text=True, timeout=60)
    checks.true("a damaged registry is refused at start (exit %d: %s)"
                % (run.returncode, run.stderr.strip()[-200:]),
                run.returncode == 1 and "is damaged" in run.stderr)


def check_failing_registry(checks, cluster, source):
    """The registry on a 2 MiB tmpfs, filled up under the running sched."""
    mount = tempfile.mkdtemp(prefix="mdevmig-full.")
    subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", mount])
    try:
        sched = cluster.add_sched(registry=os.path.join(mount, "registry.db"))
        inv = cluster.collectors["gpu-b"].inventory()
        status, _ = sched.request("POST", "/v1/hosts/gpu-b/inventory", inv)
        checks.eq("the tmpfs registry takes an ingest", 200, status)
        status, body = sched.request("GET", "/v1/health", auth=False)
        checks.eq("health is ok", (200, "ok"), (status, body.get("status")))
        filler = os.path.join(mount, "filler")
        subprocess.call(["dd", "if=/dev/zero", "of=" + filler, "bs=64k"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        failed = None
        for n in range(200):
            big = dict(inv, host="bulk-%d" % n, generation=1,
                       collector_url="http://127.0.0.9:1")
            status, body = sched.request("POST", "/v1/hosts/bulk-%d/inventory" % n, big)
            if status == 500:
                failed = body
                break
        checks.true("with its filesystem full, an ingest fails (%r)" % (failed,),
                    failed is not None)
        status, body = sched.request("GET", "/v1/health", auth=False)
        checks.eq("health then says degraded, with 503", (503, "degraded"),
                  (status, body.get("status")))
        checks.true("and says why (%r)" % body.get("error"), body.get("error"))
        os.unlink(filler)
        status, _ = sched.request("POST", "/v1/hosts/gpu-b/inventory",
                                  dict(inv, generation=inv["generation"] + 1))
        checks.eq("with room again, an ingest works", 200, status)
        status, body = sched.request("GET", "/v1/health", auth=False)
        checks.eq("and health is ok again", (200, "ok"), (status, body.get("status")))
        sched.stop()
    finally:
        subprocess.call(["umount", mount])
        os.rmdir(mount)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    # The attacker's sockets are this process's: room for them.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    with Cluster(build, prefix="mdevmig-hardening") as cluster:
        sched = cluster.add_sched()
        checks.true("the registry lists every host",
                    cluster.add_deploy_hosts(source, ["gpu-a", "gpu-b", "gpu-d"], sched))
        d = cluster.collectors["gpu-d"]
        version = "10de:1eb8:nvidia-222-535.104"

        def probe():
            status, body = d.request("POST", "/v1/probe", {"type": "nvidia-222",
                                                          "version": version})
            return status == 200 and body.get("verdict") == "compatible", "probes"

        def select():
            status, body = sched.request("POST", "/v1/select", {"instance": VM_222})
            return status == 200 and body.get("destinations") == ["gpu-d"], "selects"

        check_daemon(checks, "collector", d.address, d.port, probe)
        check_daemon(checks, "sched", sched.address, sched.port, select)
        check_registry_files(checks, sched)
        sched.stop()
        check_damaged_registry(checks, build, cluster.root, sched.registry)
        check_failing_registry(checks, cluster, source)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
