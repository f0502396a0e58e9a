"""A real OpenStack Placement (Debian's python3-placement) for integration
tests, on 127.0.0.1 with an SQLite database in the test's folder
(DESIGN.md §5): `placement-manage db sync`, then Debian's
/usr/bin/placement-api, a wsgiref test server (single-threaded, HTTP/1.0)
run with --host/--port. Stopped and started again on the same port and
database, it comes back with everything it held.

With noauth2 (the default here) the token is "admin". Given a Keystone
(keystone_server.py), it checks tokens through keystonemiddleware.

CountingProxy sits in front of it for one client (a sched, the collectors)
and records every request that client makes, with Placement's time for it:
the way tests count Placement queries instead of assuming them.

Runs with Debian's /usr/bin/python3 and its standard library only.
"""

import http.client
import http.server
import json
import os
import socket
import subprocess
import threading
import time

PLACEMENT_API = "/usr/bin/placement-api"
PLACEMENT_MANAGE = "/usr/bin/placement-manage"
MICROVERSION = "placement 1.39"


def free_port(address="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class PlacementError(RuntimeError):
    pass


class PlacementServer:
    """with PlacementServer(root) as p: p.request("GET", "/resource_providers")"""

    def __init__(self, root, keystone=None, token="admin"):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.address = "127.0.0.1"
        self.port = free_port(self.address)
        self.db = os.path.join(root, "placement.db")
        self.log = os.path.join(root, "placement-api.log")
        self.keystone = keystone
        self.token = token
        self.proc = None
        self._configure()

    @property
    def url(self):
        return "http://%s:%d" % (self.address, self.port)

    def _configure(self):
        lines = ["[DEFAULT]", "debug = False", "",
                 "[api]", "auth_strategy = %s" % ("keystone" if self.keystone else "noauth2"), "",
                 "[placement_database]", "connection = sqlite:///" + self.db, ""]
        if self.keystone:
            lines += self.keystone.authtoken_section("placement")
        with open(os.path.join(self.root, "placement.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        self.env = dict(os.environ, OS_PLACEMENT_CONFIG_DIR=self.root)
        with open(self.log, "ab") as log:
            rc = subprocess.call([PLACEMENT_MANAGE, "--config-file",
                                  os.path.join(self.root, "placement.conf"), "db", "sync"],
                                 env=self.env, stdout=log, stderr=log)
        if rc != 0:
            raise PlacementError("placement-manage db sync failed: " + open(self.log).read())

    def start(self, timeout=60):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["/usr/bin/python3", PLACEMENT_API, "--host", self.address,
                 "--port", str(self.port)],
                env=self.env, stdout=log, stderr=log, cwd=self.root)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                status, _ = self.request("GET", "/", token=None)
                if status == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise PlacementError("placement-api did not start: " + open(self.log).read()[-4000:])

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def request(self, method, path, body=None, token="default"):
        """(status, parsed JSON or None)."""
        conn = http.client.HTTPConnection(self.address, self.port, timeout=30)
        try:
            headers = {"OpenStack-API-Version": MICROVERSION, "Accept": "application/json"}
            token = self.token if token == "default" else token
            if token:
                headers["X-Auth-Token"] = token
            data = None
            if body is not None:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode()
            try:
                return resp.status, (json.loads(text) if text.strip() else None)
            except ValueError:
                return resp.status, text  # keystonemiddleware's 401 is not JSON
        finally:
            conn.close()

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        status, reply = self.request(method, path, body)
        if status not in expect:
            raise PlacementError("%s %s: %d %s" % (method, path, status, reply))
        return reply

    # Conveniences for setting up what Nova would have made.

    def provider(self, name):
        """The provider named name, or None."""
        reply = self.call("GET", "/resource_providers?name=" + name)
        found = reply["resource_providers"]
        return found[0] if found else None

    def create_provider(self, name, parent=None):
        body = {"name": name}
        if parent is not None:
            body["parent_provider_uuid"] = parent["uuid"]
        return self.call("POST", "/resource_providers", body)

    def traits(self, provider):
        """(set of traits, generation)."""
        reply = self.call("GET", "/resource_providers/%s/traits" % provider["uuid"])
        return set(reply["traits"]), reply["resource_provider_generation"]

    def set_traits(self, provider, traits):
        """Read-merge-write as any other Placement client would."""
        for name in traits:
            if name.startswith("CUSTOM_"):
                self.call("PUT", "/traits/" + name)
        current, generation = self.traits(provider)
        return self.call("PUT", "/resource_providers/%s/traits" % provider["uuid"],
                         {"traits": sorted(current | set(traits)),
                          "resource_provider_generation": generation})


class CountingProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 in front of upstream (a PlacementServer,
    or anything with .address and .port) that forwards every request as it
    came and records (method, path, status, seconds Placement took).

        with CountingProxy(placement) as proxy:
            ... point a client at proxy.url ...
            proxy.take()   # the requests since the last take()

    serialize=True forwards one request at a time, so that the seconds are
    Placement's own for that request, not time spent queued behind other
    clients' requests in its single-threaded server. A request with the
    header "X-Counting-Proxy: ignore" (the harness's own polling) is
    forwarded but not recorded.
    """

    IGNORE = ("X-Counting-Proxy", "ignore")

    def __init__(self, upstream, serialize=False):
        self.upstream = upstream
        self.address = "127.0.0.1"
        self.port = free_port(self.address)
        self.serialize = serialize
        self._forwarding = threading.Lock()
        self._lock = threading.Lock()
        self._seen = []
        self._server = None
        self._thread = None

    @property
    def url(self):
        return "http://%s:%d" % (self.address, self.port)

    def _record(self, entry):
        with self._lock:
            self._seen.append(entry)

    def take(self):
        """The requests recorded since the last take(), oldest first, as
        (method, path, status, seconds); forgets them."""
        with self._lock:
            seen, self._seen = self._seen, []
        return seen

    def start(self):
        proxy = self
        hop_by_hop = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                      "te", "trailer", "upgrade", "content-length"}

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep the client's connection alive

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                counted = self.headers.get(CountingProxy.IGNORE[0]) != CountingProxy.IGNORE[1]
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in hop_by_hop}
                upstream = http.client.HTTPConnection(proxy.upstream.address,
                                                      proxy.upstream.port, timeout=120)
                if proxy.serialize:
                    proxy._forwarding.acquire()
                try:
                    t0 = time.monotonic()
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    resp = upstream.getresponse()
                    data = resp.read()
                    seconds = time.monotonic() - t0
                    status, reason, reply_headers = resp.status, resp.reason, resp.getheaders()
                except OSError:
                    # Placement down: the client sees its connection drop.
                    if counted:
                        proxy._record((self.command, self.path, 0, 0.0))
                    self.close_connection = True
                    return
                finally:
                    if proxy.serialize:
                        proxy._forwarding.release()
                    upstream.close()
                if counted:
                    proxy._record((self.command, self.path, status, seconds))
                self.send_response(status, reason)
                for k, v in reply_headers:
                    if k.lower() not in hop_by_hop:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _forward

        self._server = http.server.ThreadingHTTPServer((self.address, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
