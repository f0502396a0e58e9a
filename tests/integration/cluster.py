"""A simulated cluster for integration tests: per host, one mdevsim FUSE
mount and one mdevmig-collector on its own loopback address. Everything
started is stopped again (processes by PID, mounts with fusermount3 -u),
also when a test fails; use it as a context manager.

TLS (DESIGN.md §7), off unless asked for: a daemon given tls=TLS(...)
gets the TLS flags, an https:// url, and the harness's own requests to it
go over HTTPS, verifying its certificate. Cluster(build, tls_ca=True) (or
a tlsca.CA) issues each daemon one certificate naming it (SAN DNS:<host
name> and IP:<its address>) for both sides; mutual_tls=True makes every
daemon ask for client certificates, and the harness presents
cluster.operator's.

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
import ssl
import subprocess
import tempfile
import time

TOKEN = "test-token-0123456789abcdef"


def free_port(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def ssl_context(ca_file, cert_file=None, key_file=None):
    """A client context verifying servers against ca_file (names checked)
    and presenting cert_file/key_file when a server asks for one."""
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


class TLS:
    """One daemon's TLS files; each one set is passed as the flag named
    after it: cert_file, key_file (--tls-cert-file, --tls-key-file: it
    serves HTTPS), client_ca_file (--tls-client-ca-file: mutual TLS),
    ca_file (--ca-file: what it verifies the servers it calls with),
    client_cert_file, client_key_file (--tls-client-cert-file,
    --tls-client-key-file: what it presents to them).

    The harness's own requests to the daemon verify it against verify_file
    (default ca_file, else client_ca_file) and present harness_cert_file
    and harness_key_file when set (default: none, or the daemon's own
    certificate under mutual TLS)."""

    FLAGS = (("cert_file", "--tls-cert-file"), ("key_file", "--tls-key-file"),
             ("client_ca_file", "--tls-client-ca-file"), ("ca_file", "--ca-file"),
             ("client_cert_file", "--tls-client-cert-file"),
             ("client_key_file", "--tls-client-key-file"))

    def __init__(self, cert_file=None, key_file=None, client_ca_file=None, ca_file=None,
                 client_cert_file=None, client_key_file=None, verify_file=None,
                 harness_cert_file=None, harness_key_file=None):
        self.cert_file, self.key_file = cert_file, key_file
        self.client_ca_file, self.ca_file = client_ca_file, ca_file
        self.client_cert_file, self.client_key_file = client_cert_file, client_key_file
        self.verify_file = verify_file or ca_file or client_ca_file
        if harness_cert_file is None and client_ca_file:
            harness_cert_file = client_cert_file or cert_file
            harness_key_file = client_key_file if client_cert_file else key_file
        self.harness_cert_file, self.harness_key_file = harness_cert_file, harness_key_file

    @classmethod
    def from_cert(cls, cert, ca, mutual=False, harness=None):
        """A daemon with one certificate (a tlsca.Cert) for both sides,
        trusting ca (a tlsca.CA); mutual: it asks for client certificates;
        harness: the tlsca.Cert the harness presents (default: cert)."""
        return cls(cert_file=cert.cert, key_file=cert.key,
                   client_ca_file=ca.bundle if mutual else None, ca_file=ca.bundle,
                   client_cert_file=cert.cert, client_key_file=cert.key,
                   harness_cert_file=(harness or cert).cert if mutual else None,
                   harness_key_file=(harness or cert).key if mutual else None)

    @classmethod
    def client(cls, ca, cert=None):
        """Client side only (a CLI run, the Nova filter): trusts ca (a
        tlsca.CA or a CA file), presents cert (a tlsca.Cert) if given."""
        ca_file = getattr(ca, "bundle", ca)
        return cls(ca_file=ca_file, client_cert_file=cert.cert if cert else None,
                   client_key_file=cert.key if cert else None)

    @property
    def serves(self):
        return bool(self.cert_file)

    def args(self):
        """The daemon (or CLI) flags for the files set."""
        out = []
        for attr, flag in self.FLAGS:
            if getattr(self, attr):
                out += [flag, getattr(self, attr)]
        return out

    def context(self):
        """The harness's context for requests to this daemon (made anew
        each time, so that files replaced by a test count at once)."""
        return ssl_context(self.verify_file, self.harness_cert_file, self.harness_key_file)


def _connection(address, port, timeout, tls, context):
    if context is not None:
        return http.client.HTTPSConnection(address, port, timeout=timeout, context=context)
    if tls is not None and tls.serves:
        return http.client.HTTPSConnection(address, port, timeout=timeout,
                                           context=tls.context())
    return http.client.HTTPConnection(address, port, timeout=timeout)


def without_flags(args, omit):
    """args less every flag named in omit ("--token-file", ...) and the
    value that follows it (every flag the harness passes takes one). For a
    daemon started with --config FILE whose file must decide a setting:
    a flag wins over the file."""
    omit = set(omit)
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in omit:
            skip = True
        else:
            out.append(arg)
    return out


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
                 registry=None, extra=(), tls=None, omit=()):
        """omit: flags the harness would pass that are left out (see
        without_flags), e.g. ("--token-file", "--listen") for a collector
        whose --config file sets them; extra is never filtered."""
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
        self.tls = tls or None
        if self.tls is not None:
            self.args += self.tls.args()
            if self.tls.serves and "--advertise-url" not in extra:
                self.args += ["--advertise-url", self.url]
        if omit:
            self.args = self.args[:1] + without_flags(self.args[1:], omit)
        self.args += list(extra)
        self.proc = None

    @property
    def url(self):
        scheme = "https" if self.tls is not None and self.tls.serves else "http"
        return "%s://%s:%d" % (scheme, self.address, self.port)

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        deadline = time.time() + 10
        last = None
        while time.time() < deadline:
            try:
                status, body = self.request("GET", "/v1/health", auth=False)
                if status == 200 and body.get("status") == "ok":
                    return
            except OSError as e:
                last = e
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        why = " (last health request: %s)" % last if self.tls is not None and last else ""
        raise RuntimeError("collector %s did not start%s: %s"
                           % (self.name, why, open(self.log).read()))

    def request(self, method, path, body=None, auth=True, token=TOKEN, raw=None, headers=None,
                context=None):
        """One HTTP request; returns (status, parsed JSON or text). Over
        HTTPS when the collector serves TLS, or with context (an
        ssl.SSLContext: another client identity or CA)."""
        conn = _connection(self.address, self.port, 10, self.tls, context)
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
    """with Cluster(build_dir) as c: c.add_host("gpu-a", fixture) ...

    With TLS, every daemon added gets a certificate of the cluster's CA:
        with Cluster(build_dir, tls_ca=True, mutual_tls=True) as c:
            s = c.add_sched()                     # https://127.0.0.1:P
            c.add_host("gpu-a", fixture, registry=None,
                       extra=["--registry", s.url])  # https://127.0.0.2:P
            cli_flags = ["--url", s.url] + c.client_tls().args()
    """

    def __init__(self, build_dir, prefix="mdevmig-it", tls_ca=None, mutual_tls=False):
        self.build = build_dir
        self.root = tempfile.mkdtemp(prefix=prefix + ".")
        self.sims, self.collectors = {}, {}
        self.scheds = []
        self.next_address = 2
        # tls_ca: True (a new CA in the cluster's folder) or a tlsca.CA;
        # every daemon then serves TLS with a certificate of its own.
        if tls_ca is True:
            from tlsca import CA
            try:
                tls_ca = CA(os.path.join(self.root, "ca"))
            except BaseException:
                shutil.rmtree(self.root, ignore_errors=True)
                raise
        self.tls_ca = tls_ca or None
        self.mutual_tls = mutual_tls
        self._operator = None

    @property
    def operator(self):
        """The harness's client certificate (CN=operator, client use only),
        issued on first use; None without tls_ca."""
        if self._operator is None and self.tls_ca is not None:
            self._operator = self.tls_ca.issue("operator", server=False)
        return self._operator

    def issue(self, name, **kwargs):
        """A certificate from the cluster's CA (tlsca.CA.issue)."""
        return self.tls_ca.issue(name, **kwargs)

    def daemon_tls(self, name, address, dns=None):
        """The TLS of a daemon of this cluster: a new certificate naming
        name (or dns) and address, the cluster's CA, mutual_tls."""
        cert = self.tls_ca.issue(name, dns=dns, ips=[address])
        return TLS.from_cert(cert, self.tls_ca, mutual=self.mutual_tls,
                             harness=self.operator if self.mutual_tls else None)

    def client_tls(self, cert=None):
        """Client-side TLS (TLS.client) trusting the cluster's CA, with cert
        (default: the operator's): .args() are a CLI's flags."""
        return TLS.client(self.tls_ca, cert or self.operator)

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
        """An mdevsim mount and a collector on 127.0.0.N for it. In a
        cluster with tls_ca it serves TLS with a certificate naming name
        and 127.0.0.N, unless tls= says otherwise (a TLS, or False: none)."""
        sim = self.add_sim(name, fixture)
        address = "127.0.0.%d" % self.next_address
        self.next_address += 1
        if kwargs.get("tls") is None and self.tls_ca is not None:
            kwargs["tls"] = self.daemon_tls(name, address)
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

    def add_sched(self, registry=None, extra=(), tls=None, omit=()):
        """An mdevmig-sched (started) owning registry (default: a new file).
        In a cluster with tls_ca it serves TLS with a certificate naming
        schedN, localhost and 127.0.0.1, unless tls= says otherwise; omit:
        flags left out (Sched)."""
        name = "sched%d" % len(self.scheds)
        root = os.path.join(self.root, name)
        registry = registry or os.path.join(root, "registry.db")
        if tls is None and self.tls_ca is not None:
            tls = self.daemon_tls(name, "127.0.0.1", dns=[name, "localhost"])
        sched = Sched(self.build, root, registry, extra, tls=tls, omit=omit)
        self.scheds.append(sched)
        sched.start()
        return sched

    def add_deploy_hosts(self, source, names, sched, timeout=60):
        """Hosts of the quickstart's cluster (deploy/cluster/NAME.json; gpu-a
        with its VMs from libvirt's test driver), each publishing to sched;
        returns once sched's registry lists them all (False on timeout)."""
        for name in names:
            fixture = os.path.join(source, "deploy/cluster/%s.json" % name)
            uri = ("test://" + os.path.join(source, "deploy/cluster/gpu-a-libvirt.xml")
                   if name == "gpu-a" else "none")
            self.add_host(name, fixture, libvirt_uri=uri, extra=["--registry", sched.url])
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, body = sched.request("GET", "/v1/inventory")
            if status == 200 and set(names) <= {h["host"] for h in body["hosts"]}:
                return True
            time.sleep(0.1)
        return False

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
        if self.passed + self.failed == 0:
            # A test whose checks never ran proves nothing: count it failed.
            self.failed += 1
            print("not ok - no check ran")
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


class Sched:
    """One mdevmig-sched owning a registry file, on 127.0.0.1."""

    def __init__(self, build_dir, root, registry, extra=(), tls=None, omit=()):
        """omit: flags the harness would pass that are left out (see
        without_flags); extra is never filtered."""
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
                     "--probe-timeout", "2", "--connect-timeout", "0.5"]
        self.tls = tls or None
        if self.tls is not None:
            self.args += self.tls.args()
        if omit:
            self.args = self.args[:1] + without_flags(self.args[1:], omit)
        self.args += list(extra)
        self.proc = None

    @property
    def url(self):
        scheme = "https" if self.tls is not None and self.tls.serves else "http"
        return "%s://%s:%d" % (scheme, self.address, self.port)

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        deadline = time.time() + 10
        last = None
        while time.time() < deadline:
            try:
                status, _ = self.request("GET", "/v1/health", auth=False)
                if status == 200:
                    return
            except OSError as e:
                last = e
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        why = " (last health request: %s)" % last if self.tls is not None and last else ""
        raise RuntimeError("mdevmig-sched did not start%s: %s" % (why, open(self.log).read()))

    def request(self, method, path, body=None, auth=True, token=TOKEN, raw=None, context=None):
        """As Collector.request: HTTPS when the sched serves TLS, or with
        context (e.g. a client certificate naming a host, for an ingest)."""
        conn = _connection(self.address, self.port, 30, self.tls, context)
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
