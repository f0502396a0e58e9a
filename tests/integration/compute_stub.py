"""A stub OpenStack cloud for running real `openstack` commands in tests:
Keystone v3 password auth whose catalog points compute at the same
server, and the few compute API calls `openstack server migrate` makes
(GET a server, POST its action). Every request is recorded, with its
body and microversion, for the test to judge.

Not a cloud: it answers any user and password with one token, and any
server UUID it is asked about exists and is ACTIVE. What it checks is
what the client must get right: the token on every compute request, and
JSON bodies.

Runs in the test's own process (a thread), on 127.0.0.1 only, with
Debian's /usr/bin/python3 and its standard library only:

    with ComputeStub() as cloud:
        subprocess.run(["openstack", ...], env=cloud.env(home))
        cloud.requests  # [Request(method, path, headers, body), ...]
"""

import collections
import http.server
import json
import os
import threading
import uuid

TOKEN = "stub-token-" + uuid.uuid4().hex
PROJECT_ID = "5f0e1c2d3b4a49588776a5b4c3d2e1f0"
USER_ID = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
# Nova's 2.1 API with microversions up to the newest this stub would need
# to claim (Zed's 2.93): the client picks the version, the stub only
# echoes it.
COMPUTE_MIN, COMPUTE_MAX = "2.1", "2.93"

Request = collections.namedtuple("Request", "method path headers body")


def _json(body):
    return json.dumps(body).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "compute-stub"

    def log_message(self, fmt, *args):
        pass  # recorded in self.server.requests instead

    # -- plumbing -----------------------------------------------------------
    def _reply(self, status, body=None, headers=None):
        data = _json(body) if body is not None else b""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.server.stub.record(Request(self.command, self.path, dict(self.headers), body))
        return body

    @property
    def base(self):
        return self.server.stub.url

    # -- Keystone v3 --------------------------------------------------------
    def _identity_version(self):
        return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": self.base + "/v3/"}],
                "media-types": [{"base": "application/json",
                                 "type": "application/vnd.openstack.identity-v3+json"}]}

    def _token_body(self):
        domain = {"id": "default", "name": "Default"}
        compute = self.base + "/v2.1"
        return {"token": {
            "methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-01-01T00:00:00.000000Z", "audit_ids": ["stubaudit"],
            "user": {"id": USER_ID, "name": "admin", "domain": domain, "password_expires_at": None},
            "project": {"id": PROJECT_ID, "name": "admin", "domain": domain},
            "roles": [{"id": "r-admin", "name": "admin"}], "is_domain": False,
            "catalog": [
                {"id": "s-identity", "type": "identity", "name": "keystone", "endpoints": [
                    {"id": "e-identity-" + i, "interface": i, "region": "RegionOne",
                     "region_id": "RegionOne", "url": self.base + "/v3"}
                    for i in ("public", "internal", "admin")]},
                {"id": "s-compute", "type": "compute", "name": "nova", "endpoints": [
                    {"id": "e-compute-" + i, "interface": i, "region": "RegionOne",
                     "region_id": "RegionOne", "url": compute}
                    for i in ("public", "internal", "admin")]}]}}

    # -- compute ------------------------------------------------------------
    def _compute_version(self):
        return {"id": "v2.1", "status": "CURRENT", "version": COMPUTE_MAX,
                "min_version": COMPUTE_MIN, "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": self.base + "/v2.1/"}],
                "media-types": [{"base": "application/json",
                                 "type": "application/vnd.openstack.compute+json;version=2.1"}]}

    def _microversion_headers(self):
        """Echo the microversion asked for, as Nova does."""
        asked = self.headers.get("OpenStack-API-Version", "")
        version = asked.split()[-1] if asked.startswith("compute ") else \
            self.headers.get("X-OpenStack-Nova-API-Version", COMPUTE_MIN)
        return {"OpenStack-API-Version": "compute " + version,
                "X-OpenStack-Nova-API-Version": version,
                "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version"}

    def _server(self, server_id):
        return {"server": {
            "id": server_id, "name": "vm-" + server_id[:8], "status": "ACTIVE",
            "tenant_id": PROJECT_ID, "user_id": USER_ID, "OS-EXT-STS:vm_state": "active",
            "addresses": {}, "flavor": {"id": "1", "links": []}, "image": "",
            "links": [{"rel": "self", "href": "%s/v2.1/servers/%s" % (self.base, server_id)}],
            "metadata": {}, "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
            "hostId": "", "accessIPv4": "", "accessIPv6": "", "progress": 0}}

    def _authorized(self):
        if self.headers.get("X-Auth-Token") == TOKEN:
            return True
        self._reply(401, {"error": {"code": 401, "title": "Unauthorized",
                                    "message": "The request you have made requires authentication."}})
        return False

    # -- dispatch -----------------------------------------------------------
    def do_GET(self):
        self._record()
        path = self.path.split("?")[0].rstrip("/")
        if path == "/v3":
            self._reply(200, {"version": self._identity_version()})
        elif path == "":
            self._reply(300, {"versions": {"values": [self._identity_version()]}})
        elif path == "/v2.1":
            self._reply(200, {"version": self._compute_version()})
        elif path.startswith("/v2.1/servers/") and path.count("/") == 3:
            if self._authorized():
                self._reply(200, self._server(path.rsplit("/", 1)[1]), self._microversion_headers())
        else:
            self._reply(404, {"itemNotFound": {"code": 404, "message": "no " + path}})

    def do_POST(self):
        body = self._record()
        path = self.path.split("?")[0].rstrip("/")
        if path == "/v3/auth/tokens":
            ok = (isinstance(body, dict) and
                  body.get("auth", {}).get("identity", {}).get("methods") == ["password"])
            if ok:
                self._reply(201, self._token_body(), {"X-Subject-Token": TOKEN})
            else:
                self._reply(400, {"error": {"code": 400, "message": "password auth only"}})
        elif path.startswith("/v2.1/servers/") and path.endswith("/action"):
            if self._authorized():
                # Nova answers a live migration with 202 and no body.
                self._reply(202, None, self._microversion_headers())
        else:
            self._reply(404, {"itemNotFound": {"code": 404, "message": "no " + path}})


class ComputeStub:
    def __init__(self, address="127.0.0.1"):
        self.requests = []
        self._lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer((address, 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.stub = self
        self.thread = None

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return "http://%s:%d" % (host, port)

    def record(self, request):
        with self._lock:
            self.requests.append(request)

    def taken(self):
        """The requests so far, and a fresh list for the next ones."""
        with self._lock:
            out, self.requests = self.requests, []
        return out

    def env(self, home):
        """An environment for the openstack client: password auth against
        this stub and nothing from the caller's OS_* variables or clouds.yaml
        (HOME is the test's folder)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update({"HOME": home, "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8",
                    "OS_AUTH_URL": self.url + "/v3", "OS_IDENTITY_API_VERSION": "3",
                    "OS_AUTH_TYPE": "password", "OS_USERNAME": "admin",
                    "OS_PASSWORD": "stub-password", "OS_PROJECT_NAME": "admin",
                    "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
                    "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "public"})
        return env

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="compute-stub",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread.join(10)
            self.thread = None
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
