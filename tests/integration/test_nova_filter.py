"""MdevMigrationFilter inside Nova's own filter machinery (issue 6, "Done
when"; DESIGN.md §3 and §5), against a live mdevmig-sched with a collector
and an mdevsim mount per host.

Hosts (each publishing into the sched):
  gpu-a  deploy/cluster/gpu-a.json with deploy/cluster/gpu-a-libvirt.xml:
         the source; VM_222 holds an nvidia-222 mdev, VM_223 an nvidia-223
         one, both at 535.104 under the newer-minor rule
  gpu-b  535.54: refuses (older minor)     gpu-c  550.54: refuses (major)
  gpu-d  535.129: accepts                  gpu-e  535.104, no free instance
  gpu-f  Nova only (no collector): its nova-compute service is disabled,
         so the in-tree ComputeFilter removes it before MdevMigrationFilter

Nova (Debian's python3-nova, in this process): nova.config.parse_args
reads a nova.conf with [filter_scheduler] available_filters /
enabled_filters and [mdevmig]; HostManager (its database-touching methods
mocked) and HostFilterHandler load the filters from it; HostStates are
nova.tests' FakeHostState; RequestSpecs are built the way the conductor
and the compute API build them. mdevmig-sched sits behind a recording
proxy, so each check sees every request the filter made, and the sched's
own /metrics counts its filter decisions.

Covered: a live migration yields exactly the compatible host, from one
request for the whole list (without the source, nor what ComputeFilter
removed), with one log line naming why each host was kept out; a new boot
passes every host in Nova's order; a rebuild makes no request; host_passes
one host at a time agrees with filter_all; a driver upgrade drops the host
on the next request; the service stopped, hanging, refusing the token, or
its token file missing: no host (fail closed), and every host with
fail_open = true; deploy/nova/nova.conf.example loads the filter.

usage: test_nova_filter.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import datetime
import http.client
import http.server
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from unittest import mock

# No __pycache__ in the source tree (plugin/nova is imported from there).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

VM_222 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a01"  # gpu-a, nvidia-222
VM_223 = "4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a02"  # gpu-a, nvidia-223
NEW_BOOT = "00000000-0000-4000-8000-0000000b0075"
CELL = "8a5c3f61-3d2e-4b7a-9c10-5e4f3a2b1c0d"
COLLECTED = ["gpu-a", "gpu-b", "gpu-c", "gpu-d", "gpu-e"]
# Nova's order of the candidates (as placement and the host manager hand
# them over), scrambled on purpose; gpu-f has no collector.
NOVA_ORDER = ["gpu-c", "gpu-e", "gpu-a", "gpu-d", "gpu-f", "gpu-b"]
PARENTS = ("0000:3b:00.0", "0000:d8:00.0")
UPGRADE = "10de:1eb8:nvidia-222-550.10"
FILTER = "MdevMigrationFilter"
ENABLED = ["AvailabilityZoneFilter", "ComputeFilter", FILTER]


def node(host):
    """Nova's node name differs from the host name; the sched gets hosts."""
    return host + ".node"


class Recorder:
    """An HTTP proxy in front of mdevmig-sched that keeps every request."""

    def __init__(self, address, port):
        self.upstream = (address, port)
        self.requests = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                recorder.requests.append((self.command, self.path, body))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("authorization", "content-type")}
                try:
                    conn = http.client.HTTPConnection(*recorder.upstream, timeout=30)
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    status, data = resp.status, resp.read()
                    conn.close()
                except OSError as e:
                    status, data = 502, json.dumps({"error": "upstream: %s" % e}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def filters(self):
        """The /v1/filter requests so far, as (instance, hosts)."""
        out = []
        for method, path, body in self.requests:
            if path == "/v1/filter":
                doc = json.loads(body)
                out.append((method, doc.get("instance"), doc.get("hosts")))
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Records(logging.Handler):
    """Log records of the mdevmig_nova package, as Nova's logging makes them."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def lines(self, min_level=logging.INFO):
        return [(r.levelname, r.getMessage(), getattr(r, "instance_uuid", None))
                for r in self.records if r.levelno >= min_level]


class Nova:
    """Nova's scheduler side, configured from a nova.conf."""

    def __init__(self, root, proxy_url, token_file):
        from oslo_log import log as oslo_logging

        import nova.config
        import nova.conf
        from nova import objects
        from nova.scheduler import filters, host_manager
        from nova.scheduler import utils as scheduler_utils
        from nova.tests.unit.scheduler import fakes

        objects.register_all()
        self.objects, self.filters, self.fakes = objects, filters, fakes
        self.scheduler_utils = scheduler_utils
        self.conf = nova.conf.CONF
        self.log_file = os.path.join(root, "nova-scheduler.log")
        path = os.path.join(root, "nova.conf")
        with open(path, "w") as f:
            f.write("[DEFAULT]\ndebug = true\nlog_file = %s\n"
                    "[filter_scheduler]\n"
                    "available_filters = nova.scheduler.filters.all_filters\n"
                    "available_filters = mdevmig_nova.filter.MdevMigrationFilter\n"
                    "enabled_filters = %s\n"
                    "[mdevmig]\nurl = %s\ntoken_file = %s\ntimeout = 5\n"
                    % (self.log_file, ",".join(ENABLED), proxy_url, token_file))
        # As nova-scheduler starts (nova/cmd/scheduler.py), less RPC and DB.
        nova.config.parse_args(["nova-scheduler", "--config-file", path],
                               configure_db=False, init_rpc=False)
        oslo_logging.setup(self.conf, "nova")
        self.records = Records()
        logging.getLogger("mdevmig_nova").addHandler(self.records)

        with mock.patch.object(host_manager.HostManager, "refresh_cells_caches"), \
                mock.patch.object(host_manager.HostManager, "_init_aggregates"), \
                mock.patch.object(host_manager.HostManager, "_init_instance_info"):
            self.host_manager = host_manager.HostManager()
        self.handler = filters.HostFilterHandler()

    # -- host states and request specs, the way Nova makes them ------------
    def host_state(self, host, nodename=None, disabled=False):
        now = datetime.datetime.utcnow()
        service = {"host": host, "binary": "nova-compute", "disabled": disabled,
                   "disabled_reason": "test: maintenance" if disabled else None,
                   "created_at": now, "updated_at": now, "last_seen_up": now}
        return self.fakes.FakeHostState(host, nodename or node(host),
                                        {"service": service, "free_ram_mb": 8192,
                                         "free_disk_mb": 102400, "vcpus_total": 16})

    def hosts(self, order=NOVA_ORDER):
        return [self.host_state(h, disabled=(h == "gpu-f")) for h in order]

    def spec(self, instance, **fields):
        values = dict(instance_uuid=instance, num_instances=1, project_id="demo",
                      user_id="demo", availability_zone="nova", scheduler_hints={},
                      ignore_hosts=None, force_hosts=None, force_nodes=None,
                      requested_destination=None)
        values.update(fields)
        return self.objects.RequestSpec(**values)

    def live_migration_spec(self, instance, source):
        """What LiveMigrationTask._find_destination sends to the scheduler."""
        spec = self.spec(instance, force_hosts=[source], force_nodes=[node(source)])
        spec.reset_forced_destinations()
        cell = self.objects.CellMapping(uuid=CELL, name="cell1")
        spec.requested_destination = self.objects.Destination(cell=cell)
        spec.ignore_hosts = [source]
        return spec

    def rebuild_spec(self, instance, host):
        """What compute.API.rebuild sends when the image changes."""
        spec = self.spec(instance)
        spec.scheduler_hints["_nova_check_type"] = ["rebuild"]
        spec.force_hosts = [host]
        spec.force_nodes = [node(host)]
        return spec

    def enabled(self):
        return [f.__class__.__name__ for f in self.host_manager.enabled_filters]

    def mdevmig_filter(self):
        return self.host_manager.filter_obj_map[FILTER]


class Bench:
    def __init__(self, checks, cluster, sched, proxy, nova):
        self.checks, self.cluster, self.sched = checks, cluster, sched
        self.proxy, self.nova = proxy, nova
        self.metrics = True  # False while the sched is stopped (SIGSTOP)

    def decisions(self):
        status, text = self.sched.request("GET", "/metrics")
        m = re.search(r'mdevmig_sched_decisions_total\{kind="filter"\} (\d+)', text or "")
        return int(m.group(1)) if status == 200 and m else None

    def run(self, name, call):
        """call() with the proxy's and the log's records reset: (names of the
        hosts that pass as (host, node), filter requests, log lines, metrics
        delta, seconds)."""
        self.proxy.requests.clear()
        self.nova.records.records.clear()
        before = (self.decisions() if self.metrics and self.sched.proc.poll() is None
                  else None)
        start = time.time()
        try:
            result = call()
        except Exception as e:  # a filter must never raise into Nova
            self.checks.eq("%s: no exception" % name, None, repr(e))
            result = []
        elapsed = time.time() - start
        after = self.decisions() if before is not None else None
        delta = after - before if before is not None and after is not None else None
        names = [(h.host, h.nodename) for h in list(result)]
        return names, self.proxy.filters(), self.nova.records.lines(), delta, elapsed

    def filtered(self, name, spec, hosts=None):
        """HostManager.get_filtered_hosts, as the scheduler manager calls it."""
        hosts = self.nova.hosts() if hosts is None else hosts
        return self.run(name, lambda: self.nova.host_manager.get_filtered_hosts(hosts, spec))

    def handled(self, name, spec, hosts):
        """HostFilterHandler.get_filtered_objects over the enabled filters."""
        return self.run(name, lambda: self.nova.handler.get_filtered_objects(
            self.nova.host_manager.enabled_filters, hosts, spec))


def pairs(hosts):
    return [(h, node(h)) for h in hosts]


def check_loading(b):
    checks, nova = b.checks, b.nova
    conf = nova.conf
    checks.eq("nova.conf: available_filters as given",
              ["nova.scheduler.filters.all_filters", "mdevmig_nova.filter.MdevMigrationFilter"],
              list(conf.filter_scheduler.available_filters))
    checks.eq("HostManager enabled the filters of enabled_filters, in order", ENABLED,
              nova.enabled())
    flt = nova.mdevmig_filter()
    from mdevmig_nova import filter as module
    checks.true("the enabled filter is mdevmig_nova.filter.MdevMigrationFilter",
                type(flt) is module.MdevMigrationFilter)
    checks.true("it is a BaseHostFilter", isinstance(flt, nova.filters.BaseHostFilter))
    checks.eq("RUN_ON_REBUILD is False", False, flt.RUN_ON_REBUILD)
    checks.true("it overrides filter_all",
                type(flt).filter_all is not nova.filters.BaseHostFilter.filter_all)
    checks.true("its docstring says what it keeps out",
                "Keeps out" in (type(flt).__doc__ or ""))
    checks.true("all_filters alone does not hold it (out of tree)",
                FILTER not in [c.__name__ for c in nova.filters.all_filters()])
    checks.eq("[mdevmig] read from nova.conf", ([b.proxy.url], 5.0, False),
              (conf.mdevmig.url, conf.mdevmig.timeout, conf.mdevmig.fail_open))

    # The shipped snippet: parsed on its own, it makes Nova load the filter.
    from oslo_config import cfg
    from nova.conf import scheduler as scheduler_conf
    from mdevmig_nova import conf as mdevmig_conf
    example = os.path.join(b.cluster.source, "deploy/nova/nova.conf.example")
    own = cfg.ConfigOpts()
    scheduler_conf.register_opts(own)
    mdevmig_conf.register_opts(own)
    own(["--config-file", example], project="nova", default_config_files=[])
    classes = nova.filters.HostFilterHandler().get_matching_classes(
        own.filter_scheduler.available_filters)
    names = {c.__name__ for c in classes}
    checks.true("nova.conf.example: every enabled filter is available (%s)"
                % ",".join(own.filter_scheduler.enabled_filters),
                set(own.filter_scheduler.enabled_filters) <= names)
    checks.eq("nova.conf.example: MdevMigrationFilter enabled, last", FILTER,
              own.filter_scheduler.enabled_filters[-1])
    checks.eq("nova.conf.example: [mdevmig] defaults",
              (["http://127.0.0.1:7400"], "/etc/mdevmig/token", 10.0, False),
              (own.mdevmig.url, own.mdevmig.token_file, own.mdevmig.timeout,
               own.mdevmig.fail_open))


def check_live_migration(b):
    checks = b.checks
    spec = b.nova.live_migration_spec(VM_222, "gpu-a")
    checks.true("live migration spec: a cell, no host, the source ignored",
                spec.requested_destination.cell.uuid == CELL and
                "host" not in spec.requested_destination and spec.ignore_hosts == ["gpu-a"] and
                not b.nova.scheduler_utils.request_is_rebuild(spec))
    got, requests, lines, delta, _ = b.filtered("live migration", spec)
    checks.eq("live migration: exactly the compatible host", pairs(["gpu-d"]), got)
    # Without the source (ignore_hosts) and gpu-f (ComputeFilter), Nova's order.
    checks.eq("live migration: one request for the whole list",
              [("POST", VM_222, ["gpu-c", "gpu-e", "gpu-d", "gpu-b"])], requests)
    checks.eq("live migration: one filter decision in the sched", 1, delta)
    mine = [line for line in lines if line[2] == VM_222]
    checks.eq("live migration: one log line for the request", 1, len(mine))
    if mine:
        level, message, _ = mine[0]
        checks.eq("live migration: logged at INFO", "INFO", level)
        checks.true("live migration: the line counts 1 of 4 hosts (%r)" % message,
                    "1 of 4 host(s)" in message and "mdevs on gpu-a" in message)
        for host, why in (("gpu-b", "incompatible"), ("gpu-c", "incompatible"),
                          ("gpu-e", "no-capacity")):
            checks.true("live migration: the line says %s was kept out: %s" % (host, why),
                        re.search(r"%s: %s\b" % (host, why), message))
        checks.true("live migration: gpu-d is not among those kept out",
                    "gpu-d:" not in message)
    with open(b.nova.log_file) as f:
        text = f.read()
    checks.true("live migration: Nova's log file has the line, Nova-style",
                re.search(r" INFO mdevmig_nova\.filter \[.*\] \[instance: %s\] mdevs on gpu-a"
                          % VM_222, text))

    got, requests, _, delta, _ = b.filtered("live migration VM_223",
                                            b.nova.live_migration_spec(VM_223, "gpu-a"))
    checks.eq("live migration VM_223 (nvidia-223): gpu-d", pairs(["gpu-d"]), got)
    checks.eq("live migration VM_223: one request", 1, len(requests))


def check_new_boot(b):
    checks = b.checks
    got, requests, lines, delta, _ = b.filtered("new boot", b.nova.spec(NEW_BOOT))
    everyone = [h for h in NOVA_ORDER if h != "gpu-f"]
    checks.eq("new boot: every host ComputeFilter left passes, in Nova's order",
              pairs(everyone), got)
    checks.eq("new boot: one request, with those hosts", [("POST", NEW_BOOT, everyone)],
              requests)
    checks.eq("new boot: one filter decision", 1, delta)
    checks.eq("new boot: nothing logged at INFO or above", [], lines)

    # Two nodes of one host: asked once, both pass.
    hosts = [b.nova.host_state("gpu-d", "gpu-d-n1"), b.nova.host_state("gpu-b"),
             b.nova.host_state("gpu-d", "gpu-d-n2")]
    got, requests, _, _, _ = b.handled("two nodes", b.nova.spec(VM_222), hosts)
    checks.eq("two nodes of gpu-d: the host asked once", [("POST", VM_222, ["gpu-d", "gpu-b"])],
              requests)
    checks.eq("two nodes of gpu-d: both pass", [("gpu-d", "gpu-d-n1"), ("gpu-d", "gpu-d-n2")],
              got)


def check_rebuild(b):
    checks = b.checks
    spec = b.nova.rebuild_spec(VM_222, "gpu-a")
    checks.true("rebuild spec: nova.scheduler.utils.request_is_rebuild says so",
                b.nova.scheduler_utils.request_is_rebuild(spec))
    got, requests, _, delta, _ = b.filtered("rebuild", spec)
    checks.eq("rebuild: the instance's own host passes", pairs(["gpu-a"]), got)
    checks.eq("rebuild: no request", ([], 0), (requests, delta))
    # The whole list through the handler: skipped by every enabled filter
    # (ComputeFilter too), none asked. Not skipped, the source would fail.
    hosts = b.nova.hosts()
    got, requests, _, _, _ = b.handled("rebuild, all hosts", spec, hosts)
    checks.eq("rebuild, all hosts: all pass, no request", (pairs(NOVA_ORDER), []),
              (got, requests))
    got, requests, _, _, _ = b.handled("same hosts, no rebuild", b.nova.spec(VM_222),
                                       hosts)
    checks.eq("same hosts, not a rebuild: the source is kept out, gpu-d passes",
              pairs(["gpu-d"]), got)
    checks.eq("same hosts, not a rebuild: one request",
              [("POST", VM_222, ["gpu-c", "gpu-e", "gpu-a", "gpu-d", "gpu-b"])], requests)


def check_one_at_a_time(b):
    checks = b.checks
    flt = b.nova.mdevmig_filter()
    spec = b.nova.live_migration_spec(VM_222, "gpu-a")
    for host, expect in (("gpu-d", True), ("gpu-b", False), ("gpu-e", False)):
        got, requests, _, _, _ = b.run("host_passes " + host,
                                       lambda: [b.nova.host_state(host)]
                                       if flt.host_passes(b.nova.host_state(host), spec) else [])
        checks.eq("host_passes(%s) is %s" % (host, expect), expect, bool(got))
        checks.eq("host_passes(%s): one request for that host" % host,
                  [("POST", VM_222, [host])], requests)
    # Nova's generic BaseFilter.filter_all goes host by host through
    # _filter_one -> host_passes: the same answer, one request per host.
    hosts = [b.nova.host_state(h) for h in ("gpu-c", "gpu-e", "gpu-d", "gpu-b")]
    got, requests, _, _, _ = b.run("host by host", lambda: list(
        b.nova.filters.BaseHostFilter.filter_all(flt, hosts, spec)))
    checks.eq("host by host: the same hosts as filter_all", pairs(["gpu-d"]), got)
    checks.eq("host by host: one request per host", 4, len(requests))
    got, requests, _, _, _ = b.run("host by host, rebuild", lambda: [
        h for h in hosts if flt._filter_one(h, b.nova.rebuild_spec(VM_222, "gpu-a"))])
    checks.eq("host by host, rebuild: all pass, no request", (4, []), (len(got), requests))


def check_upgrade(b):
    checks = b.checks
    sim = b.cluster.sims["gpu-d"]
    for parent in PARENTS:
        checks.eq("gpu-d: nvidia-222 on %s upgraded to 550.10" % parent, "ok",
                  sim.ctl("version", "sys/class/mdev_bus/%s/mdev_supported_types/nvidia-222"
                          % parent, UPGRADE))
    got, requests, lines, _, _ = b.filtered("after the upgrade",
                                            b.nova.live_migration_spec(VM_222, "gpu-a"))
    checks.eq("after the upgrade: gpu-d dropped on the next request, nothing left", [], got)
    checks.eq("after the upgrade: one request", 1, len(requests))
    checks.true("after the upgrade: the log says gpu-d refused (%r)" % lines,
                any(re.search(r"gpu-d: incompatible", m) for _, m, _ in lines))
    got, _, _, _, _ = b.filtered("after the upgrade, VM_223",
                                 b.nova.live_migration_spec(VM_223, "gpu-a"))
    checks.eq("after the upgrade: VM_223 (nvidia-223, not upgraded) still gets gpu-d",
              pairs(["gpu-d"]), got)


def check_unanswered(b, name, setup, undo, expect_error):
    """No host passes (fail closed), then every host (fail_open = true)."""
    checks, conf = b.checks, b.nova.conf
    setup()
    try:
        spec = b.nova.live_migration_spec(VM_222, "gpu-a")
        got, _, lines, _, elapsed = b.filtered(name, spec)
        checks.eq("%s: no host passes (fail closed)" % name, [], got)
        errors = [m for level, m, _ in lines if level == "ERROR"]
        checks.true("%s: the error log says why (%r)" % (name, errors),
                    len(errors) == 1 and re.search(expect_error, errors[0]) and
                    "fail_open is false" in errors[0])
        checks.true("%s: answered within the timeout (%.1f s)" % (name, elapsed), elapsed < 8)
        conf.set_override("fail_open", True, group="mdevmig")
        try:
            got, _, lines, _, _ = b.filtered(name + ", fail_open", spec)
        finally:
            conf.clear_override("fail_open", group="mdevmig")
        checks.eq("%s, fail_open: every host passes" % name,
                  pairs(["gpu-c", "gpu-e", "gpu-d", "gpu-b"]), got)
        warnings = [m for level, m, _ in lines if level == "WARNING"]
        checks.true("%s, fail_open: a warning says so (%r)" % (name, warnings),
                    len(warnings) == 1 and re.search(expect_error, warnings[0]) and
                    "unchecked" in warnings[0])
        got, _, _, _, _ = b.filtered(name + ", new boot", b.nova.spec(NEW_BOOT))
        checks.eq("%s, new boot: fail closed holds for boots too" % name, [], got)
    finally:
        undo()


def check_service_down(b):
    conf, sched = b.nova.conf, b.sched
    root = b.cluster.root
    wrong = os.path.join(root, "wrong-token")
    with open(wrong, "w") as f:
        f.write("not-the-token\n")
    check_unanswered(b, "wrong token",
                     lambda: conf.set_override("token_file", wrong, group="mdevmig"),
                     lambda: conf.clear_override("token_file", group="mdevmig"),
                     r"HTTP 401 from mdevmig-sched: wrong bearer token")
    missing = os.path.join(root, "no-such-token")
    check_unanswered(b, "token file missing",
                     lambda: conf.set_override("token_file", missing, group="mdevmig"),
                     lambda: conf.clear_override("token_file", group="mdevmig"),
                     r"cannot read \[mdevmig\] token_file .*no-such-token")

    def hang():
        conf.set_override("url", sched.url, group="mdevmig")
        conf.set_override("timeout", 1.0, group="mdevmig")
        b.metrics = False
        sched.proc.send_signal(signal.SIGSTOP)

    def resume():
        sched.proc.send_signal(signal.SIGCONT)
        b.metrics = True
        conf.clear_override("timeout", group="mdevmig")
        conf.clear_override("url", group="mdevmig")

    check_unanswered(b, "sched hanging", hang, resume, r"timed out")
    got, _, _, _, _ = b.filtered("sched resumed", b.nova.live_migration_spec(VM_223, "gpu-a"))
    b.checks.eq("sched resumed: answers again", pairs(["gpu-d"]), got)

    sched.stop()
    b.checks.true("the sched is stopped", sched.proc.poll() is not None)
    check_unanswered(b, "sched stopped, through the proxy", lambda: None, lambda: None,
                     r"HTTP 502")
    check_unanswered(b, "sched stopped",
                     lambda: conf.set_override("url", sched.url, group="mdevmig"),
                     lambda: conf.clear_override("url", group="mdevmig"),
                     r"Connection refused")


def wait_cluster(sched, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if set(COLLECTED) <= set(invs):
                vms = {i["uuid"] for i in invs["gpu-a"]["instances"]}
                if {VM_222, VM_223} <= vms:
                    return True
        time.sleep(0.1)
    return False


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    sys.path.insert(0, os.path.join(source, "plugin/nova"))
    checks = Checks()
    with Cluster(build, prefix="mdevmig-nova") as cluster:
        cluster.source = source
        sched = cluster.add_sched()
        for name in COLLECTED:
            fixture = os.path.join(source, "deploy/cluster/%s.json" % name)
            uri = ("test://" + os.path.join(source, "deploy/cluster/gpu-a-libvirt.xml")
                   if name == "gpu-a" else "none")
            cluster.add_host(name, fixture, libvirt_uri=uri, extra=["--registry", sched.url])
        ready = wait_cluster(sched)
        checks.true("the sched's registry lists every host and gpu-a's VMs", ready)
        if not ready:
            print(open(sched.log).read()[-4000:])
            return checks.finish()
        proxy = Recorder(sched.address, sched.port)
        try:
            nova = Nova(cluster.root, proxy.url, sched.token_file)
            b = Bench(checks, cluster, sched, proxy, nova)
            check_loading(b)
            check_live_migration(b)
            check_new_boot(b)
            check_rebuild(b)
            check_one_at_a_time(b)
            check_upgrade(b)
            check_service_down(b)
        finally:
            proxy.close()
            # oslo.log's handlers hold the log file the cluster removes.
            root = logging.getLogger()
            for handler in list(root.handlers):
                root.removeHandler(handler)
                handler.close()
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
