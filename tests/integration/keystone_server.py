"""A real Keystone (Debian's python3-keystone, not the `keystone` package,
which starts services) for integration tests, per DESIGN.md §5: SQLite,
fernet token/receipt and credential key repositories in the test's
folder, password_hash_rounds = 4, db_sync, *_setup, bootstrap, the
database in WAL mode, then keystone-wsgi-public (wsgiref) on 127.0.0.1.

keystone-manage needs --config-file: without it, it ignores
OS_KEYSTONE_CONFIG_DIR for the key setup commands and writes keys under
/etc/keystone.

Runs with Debian's /usr/bin/python3 and its standard library only.
"""

import http.client
import json
import os
import sqlite3
import subprocess
import time

from placement_server import free_port

ADMIN_PASSWORD = "admin-secret-pw"


class KeystoneError(RuntimeError):
    pass


class KeystoneServer:
    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.address = "127.0.0.1"
        self.port = free_port(self.address)
        self.db = os.path.join(root, "keystone.db")
        self.log = os.path.join(root, "keystone.log")
        self.conf = os.path.join(root, "keystone.conf")
        self.env = dict(os.environ, OS_KEYSTONE_CONFIG_DIR=root)
        self.proc = None
        self.users = {}
        repos = {}
        for name in ("fernet-keys", "fernet-receipts", "credential-keys"):
            repos[name] = os.path.join(root, name)
            os.makedirs(repos[name], mode=0o700, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "[DEFAULT]", "debug = False",
                "[database]", "connection = sqlite:///" + self.db,
                "[token]", "provider = fernet", "expiration = 3600",
                "[fernet_tokens]", "key_repository = " + repos["fernet-keys"],
                "[fernet_receipts]", "key_repository = " + repos["fernet-receipts"],
                "[credential]", "key_repository = " + repos["credential-keys"],
                "[identity]", "password_hash_rounds = 4", ""]))
        self._manage("db_sync")
        for cmd in ("fernet_setup", "receipt_setup", "credential_setup"):
            self._manage(cmd, "--keystone-user", "root", "--keystone-group", "root")
        self._manage("bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                     "--bootstrap-admin-url", self.url + "/v3",
                     "--bootstrap-public-url", self.url + "/v3",
                     # keystonemiddleware looks the identity service up by
                     # its internal endpoint.
                     "--bootstrap-internal-url", self.url + "/v3",
                     "--bootstrap-region-id", "RegionOne")
        # Without WAL, the token writes fail with "database is locked".
        db = sqlite3.connect(self.db)
        db.execute("PRAGMA journal_mode=WAL")
        db.close()

    @property
    def url(self):
        return "http://%s:%d" % (self.address, self.port)

    def _manage(self, *args):
        with open(self.log, "ab") as log:
            rc = subprocess.call(["/usr/bin/keystone-manage", "--config-file", self.conf]
                                 + list(args), env=self.env, stdout=log, stderr=log,
                                 cwd=self.root)
        if rc != 0:
            raise KeystoneError("keystone-manage %s failed: %s"
                                % (args[0], open(self.log).read()[-3000:]))

    def start(self, timeout=60):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["/usr/bin/python3", "/usr/bin/keystone-wsgi-public", "--host", self.address,
                 "--port", str(self.port)], env=self.env, stdout=log, stderr=log, cwd=self.root)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                status, _, _ = self.request("GET", "/v3")
                if status == 200:
                    self.admin_token = self.token("admin", ADMIN_PASSWORD, "admin")
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise KeystoneError("keystone did not start: " + open(self.log).read()[-3000:])

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def request(self, method, path, body=None, token=None):
        """(status, parsed JSON or None, headers)."""
        conn = http.client.HTTPConnection(self.address, self.port, timeout=30)
        try:
            headers = {"Accept": "application/json"}
            if token:
                headers["X-Auth-Token"] = token
            data = None
            if body is not None:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode()
            return resp.status, (json.loads(text) if text.strip() else None), resp.headers
        finally:
            conn.close()

    def call(self, method, path, body=None):
        status, reply, _ = self.request(method, path, body, self.admin_token)
        if status >= 300:
            raise KeystoneError("%s %s: %d %s" % (method, path, status, reply))
        return reply

    def token(self, user, password, project):
        status, reply, headers = self.request("POST", "/v3/auth/tokens", {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}})
        if status != 201:
            raise KeystoneError("token for %s: %d %s" % (user, status, reply))
        return headers["X-Subject-Token"]

    def _id(self, kind, name):
        reply = self.call("GET", "/v3/%s?name=%s" % (kind, name))
        return reply[kind][0]["id"]

    def ensure_project(self, name):
        status, reply, _ = self.request("GET", "/v3/projects?name=" + name,
                                        token=self.admin_token)
        if reply["projects"]:
            return reply["projects"][0]["id"]
        return self.call("POST", "/v3/projects",
                         {"project": {"name": name, "domain_id": "default"}})["project"]["id"]

    def add_admin_user(self, name, password, project="service"):
        """A user with the admin role on project (Placement's default policy
        asks for admin)."""
        project_id = self.ensure_project(project)
        user = self.call("POST", "/v3/users", {"user": {
            "name": name, "password": password, "domain_id": "default",
            "enabled": True}})["user"]
        role_id = self._id("roles", "admin")
        self.call("PUT", "/v3/projects/%s/users/%s/roles/%s" % (project_id, user["id"], role_id))
        self.users[name] = user["id"]
        return user["id"]

    def set_enabled(self, name, enabled):
        """Disabling a user revokes every token it holds."""
        self.call("PATCH", "/v3/users/" + self.users[name], {"user": {"enabled": enabled}})

    def authtoken_section(self, user, password="placement-service-pw"):
        """placement.conf's [keystone_authtoken] for service user (made here)."""
        if user not in self.users:
            self.add_admin_user(user, password)
        return ["[keystone_authtoken]",
                "www_authenticate_uri = %s/v3" % self.url,
                "auth_url = %s/v3" % self.url,
                "auth_type = password",
                "project_domain_name = Default",
                "user_domain_name = Default",
                "project_name = service",
                "username = " + user,
                "password = " + password,
                # Revocation must show at once in the test, not after 300 s.
                "token_cache_time = -1",
                ""]
