"""A throwaway PKI for TLS tests, made at test time in the test's folder
with the openssl command (Debian 12's OpenSSL 3.0): a CA, and certificates
it issues for the daemons (a server and a client certificate in one, as a
collector uses one certificate for both sides), for the Nova filter or the
CLI (client only), and expired ones. A second CA(...) is an independent
one, for "signed by another CA" cases.

    ca = CA(os.path.join(root, "ca"))
    a = ca.issue("gpu-a", ips=["127.0.0.3"])    # SAN DNS:gpu-a, IP:127.0.0.3
    nova = ca.issue("nova-scheduler", server=False)
    old = ca.issue("gpu-a", ips=["127.0.0.3"], expired=True)
    # a.cert, a.key (mode 0600), ca.bundle (the CA certificate)

Every certificate goes through `openssl ca`: it is the OpenSSL 3.0 command
that takes an explicit not-before and not-after (-startdate/-enddate),
which an expired certificate needs (`openssl x509 -req` has only -days
there). Keys are EC P-256: quick to make. The extensions are the ones a
strict verifier asks for (basicConstraints and keyUsage critical, key
identifiers), so GnuTLS, libcurl and Python's ssl all take them.

`/usr/bin/python3 tlsca.py --self-test` checks all of this with openssl
verify and Python's ssl, and prints ok.

Runs with Debian's /usr/bin/python3 and its standard library only.
"""

import datetime
import ipaddress
import os
import re
import subprocess
import threading

OPENSSL = "openssl"

CONFIG = """\
# Written by tlsca.py for one test CA.
[ca]
default_ca = test_ca

[test_ca]
database = {dir}/index.txt
new_certs_dir = {dir}/issued
certificate = {dir}/ca.crt
private_key = {dir}/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
rand_serial = yes
copy_extensions = none

[policy_any]
commonName = supplied

[req]
distinguished_name = req_dn
prompt = no

[req_dn]
CN = unused

[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

LEAF = """\
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = {eku}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
{san}"""


def _openssl(*args, umask=None):
    proc = subprocess.run([OPENSSL] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          umask=-1 if umask is None else umask)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed (%d): %s"
                           % (args[0], proc.returncode,
                              (proc.stderr or proc.stdout).decode(errors="replace").strip()))
    return proc.stdout.decode(errors="replace")


def _asn1_time(when):
    return when.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")


def _new_key(path):
    """An EC P-256 key, mode 0600 from its first byte on."""
    if os.path.exists(path):
        os.unlink(path)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", path, umask=0o077)
    os.chmod(path, 0o600)


class Cert:
    """One issued certificate: .cert and .key are PEM files (key mode 0600)."""

    def __init__(self, name, cert, key, dns, ips, server, client, not_before, not_after):
        self.name, self.cert, self.key = name, cert, key
        self.dns, self.ips = list(dns), list(ips)
        self.server, self.client = server, client
        self.not_before, self.not_after = not_before, not_after

    @property
    def expired(self):
        return self.not_after <= datetime.datetime.now(datetime.timezone.utc)

    def __repr__(self):
        return "<Cert %s dns=%s ips=%s %s>" % (self.name, self.dns, self.ips, self.cert)


class CA:
    """A test certificate authority in directory (made if missing)."""

    def __init__(self, directory, name="mdevmig-test-ca", days=3650):
        self.dir = os.path.abspath(directory)
        self.name = name
        self.lock = threading.Lock()
        os.makedirs(os.path.join(self.dir, "issued"), exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.config = os.path.join(self.dir, "openssl.cnf")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(dir=self.dir))
        open(os.path.join(self.dir, "index.txt"), "w").close()
        self.key = os.path.join(self.dir, "ca.key")
        self.cert = os.path.join(self.dir, "ca.crt")
        _new_key(self.key)
        csr = os.path.join(self.dir, "ca.csr")
        _openssl("req", "-new", "-config", self.config, "-key", self.key,
                 "-subj", "/CN=" + name, "-out", csr)
        # Valid from a day back, so that certificates dated in the past
        # (expired=True) still lie inside the CA's own validity.
        now = datetime.datetime.now(datetime.timezone.utc)
        _openssl("ca", "-batch", "-notext", "-config", self.config, "-selfsign",
                 "-keyfile", self.key, "-in", csr, "-out", self.cert,
                 "-startdate", _asn1_time(now - datetime.timedelta(days=30)),
                 "-enddate", _asn1_time(now + datetime.timedelta(days=days)),
                 "-extensions", "v3_ca", "-extfile", self.config)
        os.chmod(self.cert, 0o644)

    @property
    def bundle(self):
        """The CA certificate (PEM): what verifiers are given as CA file."""
        return self.cert

    def _stem(self, name):
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "cert"
        candidate, n = stem, 1
        while os.path.exists(os.path.join(self.dir, candidate + ".crt")):
            n += 1
            candidate = "%s-%d" % (stem, n)
        return candidate

    def issue(self, name, dns=None, ips=(), server=True, client=True, days=30,
              expired=False):
        """A key and a certificate with subject CN=name, signed by this CA.

        dns: the SAN DNS names (default [name]; [] for none), ips: the SAN
        IP addresses; server/client: the extendedKeyUsage (serverAuth,
        clientAuth); expired: valid from 3 days ago until 1 day ago, so
        every verifier refuses it as expired. Files: DIR/<name>.crt and
        DIR/<name>.key (a name issued again gets <name>-2, ...)."""
        if not server and not client:
            raise ValueError("a certificate for neither server nor client use")
        dns = [name] if dns is None else list(dns)
        ips = [str(ipaddress.ip_address(ip)) for ip in ips]
        eku = ", ".join(u for u, on in (("serverAuth", server), ("clientAuth", client)) if on)
        san = ", ".join(["DNS:" + d for d in dns] + ["IP:" + ip for ip in ips])
        now = datetime.datetime.now(datetime.timezone.utc)
        if expired:
            not_before = now - datetime.timedelta(days=3)
            not_after = now - datetime.timedelta(days=1)
        else:
            # An hour back: a clock a little behind still takes it.
            not_before = now - datetime.timedelta(hours=1)
            not_after = now + datetime.timedelta(days=days)
        with self.lock:
            stem = self._stem(name)
            key = os.path.join(self.dir, stem + ".key")
            cert = os.path.join(self.dir, stem + ".crt")
            csr = os.path.join(self.dir, stem + ".csr")
            ext = os.path.join(self.dir, stem + ".ext")
            with open(ext, "w") as f:
                f.write(LEAF.format(eku=eku, san=("subjectAltName = " + san + "\n") if san else ""))
            _new_key(key)
            _openssl("req", "-new", "-config", self.config, "-key", key,
                     "-subj", "/CN=" + name, "-out", csr)
            _openssl("ca", "-batch", "-notext", "-config", self.config,
                     "-in", csr, "-out", cert,
                     "-startdate", _asn1_time(not_before), "-enddate", _asn1_time(not_after),
                     "-extfile", ext, "-extensions", "leaf")
            os.chmod(cert, 0o644)
        return Cert(name, cert, key, dns, ips, server, client,
                    not_before.replace(microsecond=0), not_after.replace(microsecond=0))


def write_bundle(path, *cas):
    """One PEM file with the certificates of several CAs (a CA file that
    trusts them all, as during a CA rotation); returns path."""
    with open(path, "w") as out:
        for ca in cas:
            with open(ca.bundle) as f:
                out.write(f.read())
    return path


def self_test():
    import shutil
    import socket
    import ssl
    import stat
    import tempfile

    failures = []

    def check(what, ok):
        if not ok:
            failures.append(what)
            print("not ok - " + what)

    root = tempfile.mkdtemp(prefix="tlsca-selftest.")
    try:
        ca = CA(os.path.join(root, "ca"))
        other = CA(os.path.join(root, "other"), name="mdevmig-other-ca")
        host = ca.issue("gpu-a", ips=["127.0.0.3"])
        sched = ca.issue("sched", dns=["sched", "localhost"], ips=["127.0.0.1"])
        nova = ca.issue("nova-scheduler", server=False)
        old = ca.issue("gpu-a", ips=["127.0.0.3"], expired=True)
        foreign = other.issue("gpu-a", ips=["127.0.0.3"])

        for c in (host, sched, nova, old, foreign, ca):
            mode = stat.S_IMODE(os.stat(c.key).st_mode)
            check("%s key mode 0600 (%03o)" % (c.key, mode), mode == 0o600)
        check("a name issued again gets a file of its own", old.cert != host.cert)

        def verify(cafile, cert, purpose):
            proc = subprocess.run([OPENSSL, "verify", "-CAfile", cafile, "-purpose", purpose,
                                   cert], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            return proc.returncode, proc.stdout.decode(errors="replace")

        for c, purposes in ((host, ("sslserver", "sslclient")),
                            (sched, ("sslserver", "sslclient")), (nova, ("sslclient",))):
            for p in purposes:
                rc, out = verify(ca.bundle, c.cert, p)
                check("openssl verify %s as %s: %s" % (c.name, p, out.strip()), rc == 0)
        rc, out = verify(ca.bundle, nova.cert, "sslserver")
        check("a client-only certificate is no server certificate", rc != 0)
        rc, out = verify(ca.bundle, old.cert, "sslserver")
        check("the expired certificate fails openssl verify as expired: " + out.strip(),
              rc != 0 and "certificate has expired" in out)
        rc, out = verify(ca.bundle, foreign.cert, "sslserver")
        check("another CA's certificate fails openssl verify: " + out.strip(), rc != 0)
        rc, out = verify(other.bundle, foreign.cert, "sslserver")
        check("another CA's certificate verifies against that CA", rc == 0)
        both = write_bundle(os.path.join(root, "both.pem"), ca, other)
        check("a bundle of both CAs verifies both",
              verify(both, host.cert, "sslserver")[0] == 0 and
              verify(both, foreign.cert, "sslserver")[0] == 0)

        text = _openssl("x509", "-noout", "-text", "-in", host.cert)
        for needle in ("Subject: CN = gpu-a", "DNS:gpu-a, IP Address:127.0.0.3",
                       "TLS Web Server Authentication, TLS Web Client Authentication",
                       "CA:FALSE", "ASN1 OID: prime256v1", "X509v3 Authority Key Identifier"):
            check("x509 -text of gpu-a has %r" % needle, needle in text)
        text = _openssl("x509", "-noout", "-text", "-in", nova.cert)
        check("nova-scheduler: client use only",
              "TLS Web Client Authentication" in text and "Server Authentication" not in text)
        text = _openssl("x509", "-noout", "-text", "-in", ca.bundle)
        check("the CA certificate is a CA", "CA:TRUE" in text and "Certificate Sign" in text)
        check("expired: not_after in the past", old.expired and not host.expired)

        # Python's ssl: contexts load them, and a handshake over loopback
        # checks the names (DNS and IP) and the client certificate.
        ctx = ssl.create_default_context(cafile=ca.bundle)
        ctx.load_cert_chain(nova.cert, nova.key)
        check("ssl loads the CA as its only CA", len(ctx.get_ca_certs()) == 1)

        def handshake(server_cert, server_hostname, client_cert=None, cafile=ca.bundle):
            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(server_cert.cert, server_cert.key)
            sctx.load_verify_locations(ca.bundle)
            sctx.verify_mode = ssl.CERT_REQUIRED
            cctx = ssl.create_default_context(cafile=cafile)
            if client_cert:
                cctx.load_cert_chain(client_cert.cert, client_cert.key)
            lsock = socket.socket()
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(1)
            result = {}

            def serve():
                conn, _ = lsock.accept()
                try:
                    with sctx.wrap_socket(conn, server_side=True) as s:
                        result["peer"] = s.getpeercert()
                        s.sendall(b"x")
                except (OSError, ssl.SSLError) as e:
                    result["server_error"] = e
                finally:
                    conn.close()

            t = threading.Thread(target=serve)
            t.start()
            try:
                with socket.create_connection(lsock.getsockname(), timeout=5) as raw:
                    with cctx.wrap_socket(raw, server_hostname=server_hostname) as s:
                        s.recv(1)
                return "ok", result
            except ssl.SSLCertVerificationError as e:
                return e.verify_message, result
            except (OSError, ssl.SSLError) as e:
                return "error: %s" % e, result
            finally:
                t.join(10)
                lsock.close()

        got, res = handshake(sched, "127.0.0.1", host)
        check("handshake by IP, client certificate seen (%s)" % got,
              got == "ok" and res.get("peer", {}).get("subjectAltName") ==
              (("DNS", "gpu-a"), ("IP Address", "127.0.0.3")))
        got, _ = handshake(sched, "sched", nova)
        check("handshake by DNS name (%s)" % got, got == "ok")
        got, _ = handshake(sched, "gpu-b", nova)
        check("a name not in the certificate: %s" % got, "mismatch" in got)
        got, _ = handshake(old, "gpu-a", nova)
        check("the expired certificate: %s" % got, got == "certificate has expired")
        got, _ = handshake(foreign, "gpu-a", nova)
        check("another CA's certificate: %s" % got, "unable to get local issuer" in got)
        got, res = handshake(sched, "sched", None)
        check("no client certificate: the server refuses it (%s)" % res.get("server_error"),
              "server_error" in res)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    print("usage: %s --self-test" % sys.argv[0], file=sys.stderr)
    sys.exit(2)
