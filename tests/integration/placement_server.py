"""A real OpenStack Placement (Debian's python3-placement) for integration
tests, on 127.0.0.1 with an SQLite database in the test's folder
(DESIGN.md §5): `placement-manage db sync`, then Debian's
/usr/bin/placement-api, a wsgiref test server (single-threaded, HTTP/1.0)
run with --host/--port. Stopped and started again on the same port and
database, it comes back with everything it held.

With noauth2 (the default here) the token is "admin". Given a Keystone
(keystone_server.py), it checks tokens through keystonemiddleware.

Runs with Debian's /usr/bin/python3 and its standard library only.
"""

import http.client
import json
import os
import socket
import subprocess
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
