"""The Nova filter holds its client key to the rule mdevmig's daemons apply
to every secret (DESIGN.md §7, common/keyfile.c): nothing for others, no
group write, group read allowed (root:nova 0640). The cases are the ones
the daemons' token files are tested with (cases/secret_modes/, one per
file), here as the mode of [mdevmig] client_key_file:

  - accepted: the filter's TLS context loads the certificate and key;
  - refused: an error naming the option, the file, the mode and the chmod
    that fixes it, and a request (filter.ask) fails on it before any
    connection is made;
  - client_cert_file holding the key too (no client_key_file) is held to
    the same rule; ca_file, no secret, may be world-readable.

In-process with Debian's python3-nova and the package from the source
tree; the certificates come from a test CA (tlsca.py) in a temporary
folder, removed at the end.

usage: test_nova_key_modes.py BUILD_DIR SOURCE_DIR
"""

import os
import shutil
import socket
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks  # noqa: E402
from test_token_file_modes import load_cases  # noqa: E402
from tlsca import CA  # noqa: E402


def copy_with_mode(src, dst, mode):
    shutil.copyfile(src, dst)
    # chmod, not the umask: the mode is what is tested.
    os.chmod(dst, mode)
    return dst


def closed_port():
    """A loopback port nothing listens on: a request that got as far as
    connecting would fail with a refused connection, not a mode error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    source = os.path.abspath(sys.argv[2])
    sys.path.insert(0, os.path.join(source, "plugin/nova"))
    from mdevmig_nova import filter as nova_filter
    from oslo_config import cfg
    conf = nova_filter.CONF
    checks = Checks()
    cases = load_cases(source)
    root = tempfile.mkdtemp(prefix="mdevmig-nova-key-modes.")
    try:
        ca = CA(os.path.join(root, "ca"))
        cert = ca.issue("nova-scheduler", server=False)
        token = os.path.join(root, "token")
        with open(os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write("nova-key-modes-token\n")
        ca_file = copy_with_mode(ca.cert, os.path.join(root, "ca.pem"), 0o666)
        overrides = {"url": ["https://127.0.0.1:%d" % closed_port()], "token_file": token,
                     "ca_file": ca_file, "client_cert_file": cert.cert, "timeout": 2.0}
        for key, value in overrides.items():
            conf.set_override(key, value, group="mdevmig")

        def attempt(option_values):
            """(_tls_context's SSLContext or error, ask's error)."""
            for key, value in option_values.items():
                conf.set_override(key, value, group="mdevmig")
            try:
                context = nova_filter._tls_context()
            except nova_filter.ServiceError as e:
                context = str(e)
            try:
                nova_filter.ask("6a1f2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b", ["gpu-d"])
                asked = "answered"
            except nova_filter.ServiceError as e:
                asked = str(e)
            return context, asked

        for case in cases:
            key = copy_with_mode(cert.key, os.path.join(root, case["name"] + ".key"), case["mode"])
            context, asked = attempt({"client_key_file": key})
            what = "client_key_file %s (%s)" % (case["name"], case["about"])
            if case["expect"] == "accepted":
                checks.true("%s: mode %04o accepted, with ca_file 0666 (no secret) (%s)"
                            % (what, case["mode"], context),
                            isinstance(context, ssl.SSLContext))
                checks.true("%s: a request gets as far as connecting (%s)" % (what, asked),
                            "refused" in asked.lower() and "mode" not in asked)
                continue
            want = "[mdevmig] client_key_file %s: %s" % (key, case["message"])
            checks.eq("%s: mode %04o refused with %r" % (what, case["mode"], want), True,
                      isinstance(context, str) and context.startswith(want) or context)
            checks.true("%s: a request fails on it, before connecting (%s)" % (what, asked),
                        want in asked and "refused" not in asked.lower())

        # The key inside the certificate file: that file is the secret.
        combined = os.path.join(root, "combined.pem")
        with open(combined, "w") as out:
            for part in (cert.cert, cert.key):
                with open(part) as f:
                    out.write(f.read())
        conf.clear_override("client_key_file", group="mdevmig")
        for mode, accepted in ((0o640, True), (0o660, False), (0o644, False)):
            os.chmod(combined, mode)
            context, _ = attempt({"client_cert_file": combined})
            if accepted:
                checks.true("client_cert_file holding the key: mode %04o accepted (%s)"
                            % (mode, context), isinstance(context, ssl.SSLContext))
            else:
                checks.true("client_cert_file holding the key: mode %04o refused (%s)"
                            % (mode, context), isinstance(context, str) and
                            context.startswith("[mdevmig] client_cert_file %s: mode %03o lets"
                                               % (combined, mode)))
    finally:
        for key in ("url", "token_file", "ca_file", "client_cert_file", "client_key_file",
                    "timeout"):
            try:
                conf.clear_override(key, group="mdevmig")
            except cfg.NoSuchOptError:
                pass
        shutil.rmtree(root, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
