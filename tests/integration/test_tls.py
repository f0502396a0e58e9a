"""TLS and mutual TLS on every hop (issue 11; DESIGN.md §7 "Security
model"), against the quickstart's cluster shape: five hosts with mdevsim
and a collector each (deploy/cluster/gpu-*.json, gpu-a's VMs from libvirt's
test driver), one mdevmig-sched, the mdevmig CLI and Nova's filter.

The same questions are asked of the cluster twice, over plain HTTP and
over mutual TLS (every daemon serves HTTPS with a certificate of a test CA
made here with the openssl command, asks every client for one, and calls
the others with its own): select, filter and evacuate must give the same
verdicts and destinations, and every probe must still be a real write
(mdevsim's counters).

Then what must be refused, each with a clear error and no write into any
driver (the sum of every mdevsim write counter does not move):
  an ingest for host B with host A's client certificate; a collector URL
  whose certificate names another host; plain HTTP to a TLS port; a server
  certificate from another CA; a hostname mismatch; an expired server
  certificate (collector) and an expired client certificate; under mutual
  TLS, no client certificate and one from another CA; a key file readable
  by others (refused at start, by both daemons).

usage: test_tls.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import TOKEN, TLS, Checks, Cluster, Collector, free_port, ssl_context  # noqa: E402
from tlsca import CA  # noqa: E402

VM_222 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01"  # gpu-a, one nvidia-222 mdev
HOSTS = ["gpu-a", "gpu-b", "gpu-c", "gpu-d", "gpu-e"]
CANDIDATES = ["gpu-b", "gpu-c", "gpu-d", "gpu-e"]


def attrs_of(inv):
    paths = ["sys/class/mdev_bus/%s/mdev_supported_types/%s/migration_version"
             % (p["name"], t["id"])
             for p in inv["parents"] for t in p["types"] if t["migration"]["supported"]]
    paths += ["sys/bus/mdev/devices/%s/migration_version" % d["uuid"]
              for d in inv["devices"] if d["migration"]["supported"]]
    return paths


class Bench:
    def __init__(self, checks, cluster, sched, source, mode):
        self.checks, self.cluster, self.sched = checks, cluster, sched
        self.source, self.mode = source, mode
        self.attrs = {}

    def learn_attrs(self):
        for name in HOSTS:
            self.attrs[name] = attrs_of(self.cluster.collectors[name].inventory())

    def writes(self):
        """Every driver write so far, per host."""
        out = {}
        for name, paths in self.attrs.items():
            sim = self.cluster.sims[name]
            out[name] = sum(sim.counts(p)[1] for p in paths)
        return out

    def cli(self, args, tls_args=None):
        binary = os.path.join(self.cluster.build, "plugin/mdevmig")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
        extra = self.cluster.client_tls().args() if tls_args is None else tls_args
        argv = [binary] + args + ["--url", self.sched.url, "--token-file",
                                  self.sched.token_file, "--json"]
        if self.mode == "tls":
            argv += extra
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)


def wait_ready(sched, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if set(HOSTS) <= set(invs) and VM_222 in {
                    i["uuid"] for i in invs["gpu-a"]["instances"]}:
                return invs
        time.sleep(0.1)
    return None


def verdicts(result):
    return {h["host"]: h["verdict"] for h in result["hosts"]}


def plan_summary(plan):
    return sorted((vm["instance"], vm["verdict"], vm["destination"]) for vm in plan["vms"])


def ask(b, nova):
    """The cluster's answers: select, filter, evacuate over the HTTP API, the
    CLI and Nova's filter; each checked to have written into the drivers."""
    checks, mode = b.checks, b.mode
    out = {}
    before = b.writes()
    status, sel = b.sched.request("POST", "/v1/select", {"instance": VM_222, "count": 3})
    checks.eq(mode + ": select answers", 200, status)
    out["select"] = (sel.get("destinations"), verdicts(sel)) if status == 200 else None
    after = b.writes()
    checks.true(mode + ": select's destination gpu-d was written to in the call",
                after["gpu-d"] > before["gpu-d"])

    before = after
    status, flt = b.sched.request("POST", "/v1/filter",
                                  {"instance": VM_222, "hosts": CANDIDATES})
    checks.eq(mode + ": filter answers", 200, status)
    out["filter"] = (flt.get("destinations"), verdicts(flt)) if status == 200 else None
    after = b.writes()
    for host in ("gpu-b", "gpu-c", "gpu-d"):
        checks.true("%s: filter probed %s with a real write" % (mode, host),
                    after[host] > before[host])

    status, plan = b.sched.request("POST", "/v1/evacuate", {"host": "gpu-a"})
    checks.eq(mode + ": evacuate answers", 200, status)
    out["evacuate"] = plan_summary(plan) if status == 200 else None
    checks.true(mode + ": the evacuation plan sent probes", status == 200 and
                plan["probes_sent"] > 0)

    run = b.cli(["select", "--instance", VM_222, "--count", "3"])
    checks.eq(mode + ": the CLI's select exits 0", 0, run.returncode)
    try:
        cli_sel = json.loads(run.stdout)
        out["cli"] = (cli_sel.get("destinations"), verdicts(cli_sel))
    except ValueError:
        out["cli"] = run.stderr

    before = b.writes()
    passed = nova.passing(VM_222, "gpu-a")
    out["nova"] = passed
    after = b.writes()
    checks.true(mode + ": Nova's filter made the sched write into gpu-d's driver",
                after["gpu-d"] > before["gpu-d"])
    return out


class Nova:
    """MdevMigrationFilter in Debian's Nova (the nova_filter test's set-up).
    Nova parses its configuration once per process: one Nova serves both
    clusters, pointed at each sched by overrides."""

    def __init__(self, root, source):
        sys.path.insert(0, os.path.join(source, "plugin/nova"))
        import test_nova_filter as tnf
        token_file = os.path.join(root, "nova-token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(TOKEN + "\n")
        self.nova = tnf.Nova(root, "http://127.0.0.1:9", token_file)

    def use(self, sched, tls=None):
        self.sched = sched
        self.set_tls(tls, url=sched.url)

    def set_tls(self, tls, url=None):
        conf = self.nova.conf
        for option, value in (("ca_file", tls and tls.ca_file),
                              ("client_cert_file", tls and tls.client_cert_file),
                              ("client_key_file", tls and tls.client_key_file),
                              ("url", url or self.sched.url)):
            if value:
                conf.set_override(option, value, group="mdevmig")
            else:
                conf.clear_override(option, group="mdevmig")

    def passing(self, instance, source):
        spec = self.nova.live_migration_spec(instance, source)
        hosts = [self.nova.host_state(h) for h in CANDIDATES]
        got = self.nova.handler.get_filtered_objects(
            self.nova.host_manager.enabled_filters, hosts, spec)
        return sorted(h.host for h in got or [])

    def errors(self):
        return self.nova.records.lines()

    def close(self):
        import logging
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()


def start(cluster, source, sched_tls=None):
    sched = cluster.add_sched(tls=sched_tls)
    for name in HOSTS:
        fixture = os.path.join(source, "deploy/cluster/%s.json" % name)
        uri = ("test://" + os.path.join(source, "deploy/cluster/gpu-a-libvirt.xml")
               if name == "gpu-a" else "none")
        cluster.add_host(name, fixture, libvirt_uri=uri, extra=["--registry", sched.url])
    return sched


def run_plain(checks, build, source, nova):
    with Cluster(build, prefix="mdevmig-tls-plain") as cluster:
        sched = start(cluster, source)
        ready = wait_ready(sched)
        checks.true("plain: the registry lists every host", ready)
        if not ready:
            print(open(sched.log).read()[-3000:])
            return None
        b = Bench(checks, cluster, sched, source, "plain")
        b.learn_attrs()
        nova.use(sched)
        return ask(b, nova)


def refused(checks, b, name, call, pattern):
    """call() must fail with a message matching pattern, and no driver may
    have been written to meanwhile."""
    before = b.writes()
    try:
        message = call()
    except Exception as e:  # noqa: BLE001 - the refusal itself is the point
        message = "%s: %s" % (type(e).__name__, e)
    after = b.writes()
    checks.true("%s: refused (%s)" % (name, (message or "")[:160].replace("\n", " ")),
                message is not None and re.search(pattern, message))
    checks.eq(name + ": no driver written to", before, after)


def check_refusals(checks, b, nova, other_ca):
    cluster, sched = b.cluster, b.sched
    ca = cluster.tls_ca

    # An ingest for gpu-b presented with gpu-a's client certificate.
    a_tls = cluster.collectors["gpu-a"].tls
    a_ident = ssl_context(ca.bundle, a_tls.client_cert_file, a_tls.client_key_file)
    inv_b = cluster.collectors["gpu-b"].inventory()
    forged = dict(inv_b, generation=inv_b["generation"] + 1000,
                  collector_url=cluster.collectors["gpu-d"].url)

    def ingest_as_a():
        status, body = sched.request("POST", "/v1/hosts/gpu-b/inventory", forged,
                                     context=a_ident)
        return "%d %s" % (status, body)
    refused(checks, b, "an ingest for gpu-b with gpu-a's certificate", ingest_as_a,
            r"^403 .*does not name host gpu-b")
    status, body = sched.request("GET", "/v1/hosts/gpu-b/inventory")
    checks.eq("the refused ingest left gpu-b's registry entry alone",
              inv_b["collector_url"], body["inventory"]["collector_url"])

    # gpu-c (whose driver refuses the VM) registers, with its own
    # certificate, gpu-d's collector URL (whose driver accepts): the sched
    # must not take gpu-d's answer for gpu-c's, nor write into gpu-d.
    c_tls = cluster.collectors["gpu-c"].tls
    c_ident = ssl_context(ca.bundle, c_tls.client_cert_file, c_tls.client_key_file)
    inv_c = cluster.collectors["gpu-c"].inventory()
    moved = dict(inv_c, generation=inv_c["generation"] + 1000,
                 collector_url=cluster.collectors["gpu-d"].url)
    status, body = sched.request("POST", "/v1/hosts/gpu-c/inventory", moved, context=c_ident)
    checks.eq("gpu-c may publish its own inventory (pointing at gpu-d's URL)", 200, status)

    def filter_c():
        status, flt = sched.request("POST", "/v1/filter",
                                    {"instance": VM_222, "hosts": ["gpu-c"]})
        host = flt["hosts"][0]
        return "%s %s %s" % (flt["destinations"], host["verdict"], host.get("error"))
    refused(checks, b, "a collector URL whose certificate names another host", filter_c,
            r"^\[\] unreachable .*gpu-c")

    # The CLI, wrongly configured in each way an operator might.
    def cli(tls_args, url=None):
        run = b.cli(["inventory"], tls_args=tls_args) if url is None else subprocess.run(
            [os.path.join(cluster.build, "plugin/mdevmig"), "select", "--instance", VM_222,
             "--url", url, "--token-file", sched.token_file, "--json"] + tls_args,
            capture_output=True, text=True, timeout=60)
        return None if run.returncode == 0 else run.stderr

    op = cluster.operator
    good = ["--ca-file", ca.bundle, "--tls-client-cert-file", op.cert,
            "--tls-client-key-file", op.key]
    refused(checks, b, "plain HTTP to the sched's TLS port",
            lambda: cli(good, url=sched.url.replace("https://", "http://")),
            r"(?i)empty reply|https://")
    refused(checks, b, "the sched's certificate checked against another CA",
            lambda: cli(["--ca-file", other_ca.bundle, "--tls-client-cert-file", op.cert,
                         "--tls-client-key-file", op.key]),
            r"(?i)certificate.*(verify|issuer)")
    refused(checks, b, "a hostname the sched's certificate does not name",
            lambda: cli(good, url="https://localhost:%d" % sched.port),
            r"(?i)(subject name|does not match|no alternative)")
    refused(checks, b, "no client certificate under mutual TLS",
            lambda: cli(["--ca-file", ca.bundle]), r"403.*no client certificate")
    foreign = other_ca.issue("operator", server=False)
    refused(checks, b, "a client certificate from another CA",
            lambda: cli(["--ca-file", ca.bundle, "--tls-client-cert-file", foreign.cert,
                         "--tls-client-key-file", foreign.key]),
            r"403.*(issuer is unknown|NOT trusted)")
    old = ca.issue("old-operator", server=False, expired=True)
    refused(checks, b, "an expired client certificate",
            lambda: cli(["--ca-file", ca.bundle, "--tls-client-cert-file", old.cert,
                         "--tls-client-key-file", old.key]),
            r"403.*expired")

    # A collector directly, without a client certificate.
    d = cluster.collectors["gpu-d"]
    refused(checks, b, "a probe to a collector without a client certificate",
            lambda: "%d %s" % d.request("POST", "/v1/probe",
                                        {"type": "nvidia-222",
                                         "version": "10de:1eb8:nvidia-222-535.104"},
                                        context=ssl_context(ca.bundle)),
            r"^403 .*no client certificate")

    # Nova's filter against another CA: no host passes, the reason logged.
    nova.set_tls(TLS.client(other_ca, op))

    def nova_other_ca():
        passed = nova.passing(VM_222, "gpu-a")
        lines = nova.errors()
        return None if passed else (str(lines[-1]) if lines else "no host, no log line")
    refused(checks, b, "Nova's filter with the sched's certificate from another CA",
            nova_other_ca, r"(?i)certificate")
    nova.set_tls(cluster.client_tls())


def check_expired_collector(checks, b):
    """gpu-x serves an expired certificate: it still publishes (its client
    certificate is valid), but is never probed, so never compatible."""
    cluster, sched, ca = b.cluster, b.sched, b.cluster.tls_ca
    address = "127.0.0.%d" % cluster.next_address
    cluster.next_address += 1
    expired = ca.issue("gpu-x", ips=[address], expired=True)
    valid = ca.issue("gpu-x", ips=[address])
    tls = TLS(cert_file=expired.cert, key_file=expired.key, client_ca_file=ca.bundle,
              ca_file=ca.bundle, client_cert_file=valid.cert, client_key_file=valid.key,
              harness_cert_file=cluster.operator.cert, harness_key_file=cluster.operator.key)
    fixture = os.path.join(b.source, "deploy/cluster/gpu-d.json")
    sim = cluster.add_sim("gpu-x", fixture)
    col = Collector(cluster.collector_binary, "gpu-x", sim, os.path.join(cluster.root, "gpu-x"),
                    address, tls=tls,
                    extra=["--registry", sched.url, "--advertise-url",
                           "https://%s:%d" % (address, 0)])
    # The advertise URL needs the port free_port picked.
    col.args[col.args.index("--advertise-url") + 1] = "https://%s:%d" % (address, col.port)
    cluster.collectors["gpu-x"] = col
    with open(col.log, "ab") as log:
        col.proc = subprocess.Popen(col.args, stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/hosts/gpu-x/inventory")
        if status == 200:
            break
        time.sleep(0.1)
    checks.eq("gpu-x (expired server certificate) publishes with its valid client certificate",
              200, status)
    if status != 200:
        return
    b.attrs["gpu-x"] = attrs_of(body["inventory"])

    def filter_x():
        status, flt = sched.request("POST", "/v1/filter",
                                    {"instance": VM_222, "hosts": ["gpu-x"]})
        host = flt["hosts"][0]
        return "%s %s %s" % (flt["destinations"], host["verdict"], host.get("error"))
    refused(checks, b, "a collector serving an expired certificate", filter_x,
            r"^\[\] unreachable .*(?i:expired)")


def check_world_readable_keys(checks, cluster):
    """A key file others may read is refused at start by both daemons."""
    ca = cluster.tls_ca
    cert = ca.issue("careless", ips=["127.0.0.1"])
    os.chmod(cert.key, 0o644)
    token = os.path.join(cluster.root, "token-careless")
    with open(os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(TOKEN + "\n")
    tls = ["--tls-cert-file", cert.cert, "--tls-key-file", cert.key]
    listen = "127.0.0.1:%d" % free_port("127.0.0.1")
    for name, argv in (
            ("mdevmig-sched", [os.path.join(cluster.build, "plugin/mdevmig-sched"),
                               "--listen", listen, "--token-file", token,
                               "--registry", os.path.join(cluster.root, "careless.db")]),
            ("mdevmig-collector", [cluster.collector_binary, "--host", "careless",
                                   "--sysfs-root", cluster.root, "--libvirt-uri", "none",
                                   "--listen", listen, "--token-file", token,
                                   "--audit-db", "none"])):
        run = subprocess.run(argv + tls, capture_output=True, text=True, timeout=30)
        checks.true("%s refuses a key file others can read (exit %d: %s)"
                    % (name, run.returncode, run.stderr.strip()[-160:]),
                    run.returncode != 0 and re.search(r"tls_key_file .*mode 644", run.stderr))


def run_tls(checks, build, source, nova):
    with Cluster(build, prefix="mdevmig-tls", tls_ca=True, mutual_tls=True) as cluster:
        ca = cluster.tls_ca
        # The sched's certificate names sched0 and 127.0.0.1, not
        # "localhost": https://localhost:PORT is a hostname mismatch.
        cert = ca.issue("sched0", dns=["sched0"], ips=["127.0.0.1"])
        sched_tls = TLS.from_cert(cert, ca, mutual=True, harness=cluster.operator)
        sched = start(cluster, source, sched_tls=sched_tls)
        ready = wait_ready(sched)
        checks.true("tls: the registry lists every host", ready)
        if not ready:
            print(open(sched.log).read()[-3000:])
            return None
        for name in HOSTS:
            checks.eq("tls: %s publishes an https:// URL" % name,
                      cluster.collectors[name].url, ready[name]["collector_url"])
        b = Bench(checks, cluster, sched, source, "tls")
        b.learn_attrs()
        nova.use(sched, tls=cluster.client_tls())
        answers = ask(b, nova)
        other_ca = CA(os.path.join(cluster.root, "other-ca"), name="other-ca")
        check_refusals(checks, b, nova, other_ca)
        check_expired_collector(checks, b)
        check_world_readable_keys(checks, cluster)
        log = open(sched.log).read()
        checks.true("the sched's log names the refused ingest",
                    "ingest for host gpu-b from" in log)
        checks.true("no sanitizer report in the sched's log",
                    "Sanitizer" not in log and "runtime error" not in log)
        return answers


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    root = tempfile.mkdtemp(prefix="mdevmig-tls-nova.")
    nova = None
    try:
        nova = Nova(root, source)
        plain = run_plain(checks, build, source, nova)
        tls = run_tls(checks, build, source, nova)
    finally:
        if nova is not None:
            nova.close()
        shutil.rmtree(root, ignore_errors=True)
    if plain is not None and tls is not None:
        for key in ("select", "filter", "evacuate", "cli", "nova"):
            checks.eq("TLS gives plain HTTP's %s answer" % key, plain[key], tls[key])
        checks.eq("select's destination is gpu-d", ["gpu-d"], plain["select"][0])
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
