"""SIGHUP on mdevmig-collector and mdevmig-sched (DESIGN.md §7
"Operations"): it re-reads the --config file, the token file and the TLS
certificates, applies log_level, the token and the tls_* / ca_file keys,
logs every other changed key as needing a restart (keeping the running
value), refuses a broken configuration as a whole (naming the key or file)
and never exits.

Every daemon here is started with --config FILE, and the settings a test
changes (token_file, log_level, listen, scan_interval, tls_cert_file,
tls_key_file) come from that file only: the harness leaves out its flags
for them, as a flag wins over the file.

A cluster over plain HTTP: mdevmig-sched and three hosts (mdevsim +
collector each, publishing into the sched's ingest): gpu-a (535.104),
gpu-b (535.54: refuses 535.104 with EINVAL), gpu-d (535.129: accepts it).
  load         4 request threads (write-probes to gpu-a and gpu-d, select
               and filter to the sched, which probes all three) run while
               100 SIGHUPs (a few ms apart, each one waited for in the
               log) go to the sched and to every collector: no request
               fails or gets another answer, every daemon is alive and
               has logged exactly 100 reloads and no refusal. Then 20
               SIGHUPs back to back (they merge while one is pending):
               alive, 1 to 20 reloads, the load still unharmed.
  log level    info -> debug -> info in the file: a request MHD logs at
               debug level (an HTTP/9.9 request line: 505) shows a debug
               line only while the level is debug.
  token        the token file rewritten (0600) on gpu-a only: gpu-a takes
               the new token and refuses the old one, and its publishes
               now carry the new one (the sched, still on the old, stops
               refreshing gpu-a's last_seen); then on the sched: it takes
               the new and refuses the old, gpu-a's publishes are
               accepted again and a driver change on gpu-a reaches the
               sched as a new generation; its own probes carry the new
               token (gpu-a answers, gpu-d on the old token does not);
               then gpu-b and gpu-d too: the whole cluster answers as
               before.
  refused      on the sched and on gpu-a, each with log_level = debug and
               a third token in the same attempt: (a) an unknown key,
               (b) threads = many, (c) the token file missing, then
               world-readable, (d) tls_cert_file naming a missing file
               (on a daemon serving HTTP: switching to HTTPS needs a
               restart). Each: the refusal line names the key or file,
               the daemon is alive, the running token works and the
               attempted one does not, no debug line appears, no reload
               line, and the sched's select still gets live answers from
               the collectors (its outgoing token unchanged). A good
               file afterwards reloads again.
  restart-only listen (both), scan_interval (collector) and stale_after
               (sched) changed, log_level = debug in the same file: each
               changed key is logged as needing a restart, the reload
               still happens (debug takes effect), the old port answers
               and the new one does not, the collector still rescans
               every 0.2 s; the file put back reloads without a
               restart warning.
A cluster over TLS (the harness's CA): the sched and gpu-a take their
certificate from the file, gpu-d from flags.
  (d) for real on both: tls_cert_file naming a missing file is refused
               naming the file; the old certificate is still served, the
               old token still works, the third token does not, the
               sched still probes both collectors.
  rotation     20 certificate changes of each under load (HTTPS probes to
               gpu-a, selects through the sched): no request fails; then
               a new certificate in the file: the reload line says "new
               TLS certificate", the new one is served, the sched's
               probes and gpu-a's publishes go on.
At the end every daemon stops on SIGTERM with status 0 and no
ASan/UBSan/LSan report in its log.

usage: test_reload.py BUILD_DIR SOURCE_DIR
"""

import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import TOKEN, Checks, Cluster, Collector, Sched, free_port  # noqa: E402

RELOADED = "SIGHUP: configuration reloaded"
REFUSED = "SIGHUP: new configuration refused, keeping the running one: "
RESTART = "it needs a restart"
DONE = r"SIGHUP: (configuration reloaded|new configuration refused)"
TOKEN2 = "reload-token-2-fedcba9876543210"
TOKEN3 = "reload-token-3-never-accepted-0042"

V222 = "10de:1eb8:nvidia-222-535.104"
V222_OLD = "10de:1eb8:nvidia-222-535.54"
V222_NEW = "10de:1eb8:nvidia-222-535.129"
T234 = "sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-234"
HOSTS = [("gpu-a", "deploy/cluster/gpu-a.json"), ("gpu-b", "deploy/cluster/gpu-b.json"),
         ("gpu-d", "deploy/cluster/gpu-d.json")]
NAMES = [h for h, _ in HOSTS]
MDEVS_222 = [{"type": "nvidia-222", "version": V222}]
# What select/filter of nvidia-222 at 535.104 must answer (newer-minor).
EXPECT = {"gpu-a": ("compatible", None), "gpu-b": ("incompatible", 22),
          "gpu-d": ("compatible", None)}

HUPS = 100
BURST = 20  # SIGHUPs back to back after the 100
TLS_ROTATIONS = 20  # certificate changes of each TLS daemon under load
LOAD_MAX_REQUESTS = 20000  # per load thread
LOAD_MAX_SECONDS = 150

# A request line MHD answers 505 and logs through the daemons' logger at
# debug level ("http: Error processing request ...").
DEBUG_REQUEST = b"GET /v1/health HTTP/9.9\r\nHost: x\r\n\r\n"
DEBUG_LINE = r" debug: "


def sanitizer_report(log_path):
    with open(log_path, errors="replace") as f:
        log = f.read()
    return [mark for mark in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                              "runtime error") if mark in log]


def write_token(path, token, mode=0o600):
    """The token file replaced at once (a new file renamed over it)."""
    tmp = path + ".new"
    if os.path.exists(tmp):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def served_cert(address, port, tls):
    """The DER of the certificate a TLS daemon serves (verified)."""
    context = tls.context()
    with socket.create_connection((address, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=address) as s:
            return s.getpeercert(binary_form=True)


def cert_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def connects(address, port):
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


class Daemon:
    """A collector or sched started with --config FILE: its file, its log
    and its running token, as the test knows them."""

    def __init__(self, name, proc_obj, section, conf_path, settings):
        self.name, self.d, self.section = name, proc_obj, section
        self.conf = conf_path
        self.settings = dict(settings)  # the good file's keys, in order
        self.token = TOKEN              # the token the daemon runs with
        self.log = proc_obj.log

    @property
    def pid(self):
        return self.d.proc.pid

    @property
    def token_file(self):
        return self.d.token_file

    def alive(self):
        return self.d.proc is not None and self.d.proc.poll() is None

    def write_conf(self, changes=None, lines=()):
        """The good settings with changes (a value None drops a key) and
        extra raw lines at the end."""
        settings = dict(self.settings)
        for key, value in (changes or {}).items():
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
        text = "[%s]\n" % self.section
        text += "".join("%s = %s\n" % kv for kv in settings.items())
        text += "".join(line + "\n" for line in lines)
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.conf)

    # -- the log -------------------------------------------------------
    def mark(self):
        return os.path.getsize(self.log)

    def since(self, mark):
        with open(self.log, "rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def wait_log(self, mark, pattern, timeout=15):
        """The log since mark once it holds pattern (a regex), else None."""
        deadline = time.time() + timeout
        while True:
            text = self.since(mark)
            if re.search(pattern, text, re.M):
                return text
            if time.time() > deadline or not self.alive():
                return None
            time.sleep(0.005)

    def hup(self, timeout=15):
        """One SIGHUP; the log from just before it up to its reload or
        refusal line (None when neither came)."""
        mark = self.mark()
        os.kill(self.pid, signal.SIGHUP)
        return self.wait_log(mark, DONE, timeout)

    # -- requests ------------------------------------------------------
    def status(self, token, path="/v1/inventory"):
        """The HTTP status of an authenticated GET, or the exception's
        name when there was no answer."""
        try:
            return self.d.request("GET", path, token=token)[0]
        except (OSError, ssl.SSLError) as e:
            return type(e).__name__

    def debug_request(self):
        """The 505 MHD logs at debug level; then an authenticated request,
        so the connection's log line is out before the caller looks."""
        s = socket.create_connection((self.d.address, self.d.port), timeout=10)
        try:
            if self.d.tls is not None and self.d.tls.serves:
                s = self.d.tls.context().wrap_socket(s, server_hostname=self.d.address)
            s.sendall(DEBUG_REQUEST)
            head = s.recv(64)
        finally:
            s.close()
        self.status(self.token)
        return head


class Bench:
    """The daemons of one cluster, and what select of nvidia-222 at
    535.104 must answer there (expect: {host: (verdict, errno)})."""

    def __init__(self, checks, cluster, expect):
        self.checks, self.cluster = checks, cluster
        self.expect = expect
        self.names = sorted(expect)
        self.sched = None
        self.collectors = {}   # name -> Daemon
        self.phases_done = []

    # -- starting ------------------------------------------------------
    def start_sched(self, tls=None, tls_in_file=False, port=None):
        cluster = self.cluster
        name = "sched%d" % len(cluster.scheds)
        root = os.path.join(cluster.root, name)
        os.makedirs(root, exist_ok=True)
        conf = os.path.join(root, "sched.conf")
        omit = ["--token-file", "--listen"]
        if tls_in_file:
            omit += ["--tls-cert-file", "--tls-key-file"]
        s = Sched(cluster.build, root, os.path.join(root, "registry.db"),
                  extra=["--config", conf], tls=tls, omit=omit)
        cluster.scheds.append(s)  # stopped by the cluster from here on
        settings = {"listen": "%s:%d" % (s.address, s.port), "token_file": s.token_file,
                    "log_level": "info"}
        if tls_in_file:
            settings.update(tls_cert_file=tls.cert_file, tls_key_file=tls.key_file)
        d = Daemon(name, s, "sched", conf, settings)
        d.write_conf()
        s.start()
        self.sched = d
        return d

    def start_collector(self, name, fixture, tls=None, tls_in_file=False):
        cluster = self.cluster
        sim = cluster.add_sim(name, fixture)
        address = "127.0.0.%d" % cluster.next_address
        cluster.next_address += 1
        if tls is True:
            tls = cluster.daemon_tls(name, address)
        root = os.path.join(cluster.root, name)
        conf = os.path.join(root, "collector.conf")
        omit = ["--token-file", "--listen", "--scan-interval"]
        if tls_in_file:
            omit += ["--tls-cert-file", "--tls-key-file"]
        c = Collector(cluster.collector_binary, name, sim, root, address, registry=None,
                      extra=["--registry", self.sched.d.url, "--config", conf], tls=tls,
                      omit=omit)
        cluster.collectors[name] = c  # stopped by the cluster from here on
        settings = {"listen": "%s:%d" % (address, c.port), "token_file": c.token_file,
                    "scan_interval": "0.2", "log_level": "info"}
        if tls_in_file:
            settings.update(tls_cert_file=tls.cert_file, tls_key_file=tls.key_file)
        d = Daemon(name, c, "collector", conf, settings)
        d.write_conf()
        c.start()
        self.collectors[name] = d
        return d

    def daemons(self):
        return [self.sched] + [self.collectors[n] for n in sorted(self.collectors)]

    # -- the sched's view ----------------------------------------------
    def registry(self):
        """{host: the sched's entry (last_seen, age_s, inventory)} or None."""
        try:
            status, body = self.sched.d.request("GET", "/v1/inventory", token=self.sched.token)
        except OSError:
            return None
        if status != 200 or not isinstance(body, dict):
            return None
        return {h["host"]: h for h in body.get("hosts", [])}

    def wait_registry(self, names, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            seen = self.registry()
            if seen is not None and set(names) <= set(seen):
                return True
            time.sleep(0.1)
        return False

    def wait_seen_after(self, name, last_seen, timeout=45):
        """Until the sched's last_seen of name is past last_seen."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            seen = self.registry() or {}
            if name in seen and seen[name]["last_seen"] > last_seen:
                return seen[name]
            time.sleep(0.1)
        return None

    def select_problem(self, path="/v1/select"):
        """None when select (or filter) of nvidia-222 at 535.104 answers as
        the rules say; else what is wrong."""
        expect = self.expect
        body = ({"mdevs": MDEVS_222, "count": 5} if path == "/v1/select"
                else {"mdevs": MDEVS_222, "hosts": self.names})
        status, reply = self.sched.d.request("POST", path, body, token=self.sched.token)
        if status != 200 or not isinstance(reply, dict):
            return "HTTP %s: %.200r" % (status, reply)
        accepting = [h for h in self.names if expect[h][0] == "compatible"]
        dest = reply.get("destinations")
        if path == "/v1/select":
            dest = sorted(dest or [])
        if dest != accepting:
            return "destinations %r, not %r (hosts %r)" % (dest, accepting, reply.get("hosts"))
        got = {h["host"]: (h["verdict"], h["errno"]) for h in reply.get("hosts", [])}
        for host, want in expect.items():
            if got.get(host) != want:
                return "%s: %r, not %r" % (host, got.get(host), want)
        return None

    def verdicts(self):
        status, reply = self.sched.d.request("POST", "/v1/select",
                                             {"mdevs": MDEVS_222, "count": 5},
                                             token=self.sched.token)
        if status != 200:
            return {"HTTP": status}
        return {h["host"]: (h["verdict"], h["errno"]) for h in reply.get("hosts", [])}


# ---------------------------------------------------------------------------
# 100 SIGHUPs under load


class Load(threading.Thread):
    """Requests in a loop, bounded in count and time, each checked by fn
    (None: fine, else what is wrong)."""

    def __init__(self, name, fn, window):
        super().__init__(name=name, daemon=True)
        self.fn, self.window = fn, window
        self.stop = threading.Event()
        self.requests = self.failures = self.during = 0
        self.errors = []

    def run(self):
        deadline = time.time() + LOAD_MAX_SECONDS
        i = 0
        while not self.stop.is_set() and i < LOAD_MAX_REQUESTS and time.time() < deadline:
            during = self.window["started"].is_set() and not self.window["done"].is_set()
            try:
                why = self.fn(i)
            except Exception as e:  # any failure to get an answer counts
                why = "%s: %s" % (type(e).__name__, e)
            self.requests += 1
            if during:
                self.during += 1
            if why is not None:
                self.failures += 1
                if len(self.errors) < 5:
                    self.errors.append("#%d: %s" % (i, why))
            i += 1


def probe_fn(daemon):
    cases = [(V222, True, "compatible", None), (V222_OLD, True, "compatible", None)]
    # gpu-a (535.104) refuses a newer minor; gpu-d (535.129) takes all three.
    if daemon.name == "gpu-a":
        cases.append((V222_NEW, False, "incompatible", 22))
    else:
        cases.append((V222_NEW, True, "compatible", None))

    def fn(i):
        version, compatible, verdict, err = cases[i % len(cases)]
        status, reply = daemon.d.request("POST", "/v1/probe",
                                         {"type": "nvidia-222", "version": version},
                                         token=daemon.token)
        if status != 200 or not isinstance(reply, dict):
            return "probe %s: HTTP %s %.200r" % (version, status, reply)
        got = (reply.get("compatible"), reply.get("verdict"),
               reply.get("errno") if err is not None else None)
        if got != (compatible, verdict, err):
            return "probe %s: %r" % (version, reply)
        return None
    return fn


def hup_many(daemon, count, result):
    """count SIGHUPs, each waited for (its reload line) and then a few ms
    apart: a signal sent while another is pending would merge with it."""
    missed = 0
    for i in range(count):
        if daemon.hup(timeout=10) is None:
            missed += 1
            if missed >= 3 or not daemon.alive():
                break
        time.sleep(0.003 + 0.002 * (i % 3))
    result[daemon.name] = missed


def phase_load(b):
    checks = b.checks
    window = {"started": threading.Event(), "done": threading.Event()}
    a, d = b.collectors["gpu-a"], b.collectors["gpu-d"]
    loads = [Load("probe gpu-a", probe_fn(a), window), Load("probe gpu-d", probe_fn(d), window),
             Load("select", lambda i: b.select_problem(), window),
             Load("filter", lambda i: b.select_problem(path="/v1/filter"), window)]
    marks = {x.name: x.mark() for x in b.daemons()}
    result = {}
    hups = [threading.Thread(target=hup_many, args=(x, HUPS, result), daemon=True)
            for x in b.daemons()]
    start = time.time()
    for load in loads:
        load.start()
    time.sleep(0.5)  # every load thread under way
    window["started"].set()
    for t in hups:
        t.start()
    for t in hups:
        t.join(LOAD_MAX_SECONDS)
    hup_seconds = time.time() - start - 0.5
    texts = {x.name: x.since(marks[x.name]) for x in b.daemons()}
    # Then a burst with no pause at all: signals that arrive while one is
    # pending merge (at least one reload, at most one each).
    burst_marks = {x.name: x.mark() for x in b.daemons()}
    for _ in range(BURST):
        for x in b.daemons():
            os.kill(x.pid, signal.SIGHUP)
    for x in b.daemons():
        x.wait_log(burst_marks[x.name], RELOADED, 10)
    time.sleep(1)
    window["done"].set()
    time.sleep(0.3)
    for load in loads:
        load.stop.set()
    for load in loads:
        load.join(60)
    print("# %d SIGHUPs to each of %d daemons in %.1f s, then a burst of %d; requests: %s"
          % (HUPS, len(hups), hup_seconds, BURST,
             ", ".join("%s %d (%d during the SIGHUPs)" % (l.name, l.requests, l.during)
                       for l in loads)))
    for load in loads:
        checks.true("load: %s threads stopped" % load.name, not load.is_alive())
        checks.true("load: %s: requests went on during the SIGHUPs (%d)"
                    % (load.name, load.during), load.during >= 5)
        checks.eq("load: %s: failed requests (of %d)" % (load.name, load.requests), 0,
                  load.failures)
        for e in load.errors:
            print("    %s: %s" % (load.name, e))
    for x in b.daemons():
        text = texts[x.name]
        checks.eq("load: %s: no SIGHUP went unanswered" % x.name, 0, result.get(x.name, "never ran"))
        checks.true("load: %s is alive after %d SIGHUPs" % (x.name, HUPS), x.alive())
        checks.eq("load: %s logged %d reloads" % (x.name, HUPS), HUPS, text.count(RELOADED))
        checks.eq("load: %s refused none" % x.name, 0, text.count(REFUSED))
        checks.eq("load: %s: no restart warning" % x.name, 0, text.count(RESTART))
        burst = x.since(burst_marks[x.name])
        checks.true("load: %s reloaded 1 to %d times on a burst of %d SIGHUPs (%d)"
                    % (x.name, BURST, BURST, burst.count(RELOADED)),
                    1 <= burst.count(RELOADED) <= BURST)
        checks.eq("load: %s refused none of the burst" % x.name, 0, burst.count(REFUSED))
        checks.true("load: %s is alive after the burst" % x.name, x.alive())
        checks.eq("load: %s: no sanitizer report" % x.name, [], sanitizer_report(x.log))


# ---------------------------------------------------------------------------
# log level


def phase_log_level(b):
    checks = b.checks
    for x in (b.sched, b.collectors["gpu-a"]):
        mark = x.mark()
        head = x.debug_request()
        checks.true("log level: %s answers the HTTP/9.9 request with 505 (%r)" % (x.name, head),
                    head.startswith(b"HTTP/1.1 505"))
        time.sleep(0.3)
        checks.eq("log level: %s at info logs no debug line" % x.name, [],
                  re.findall(".*" + DEBUG_LINE + ".*", x.since(mark)))

        x.write_conf({"log_level": "debug"})
        text = x.hup()
        checks.true("log level: %s reloads with log level debug" % x.name,
                    text is not None and RELOADED + " (log level debug" in text)
        mark = x.mark()
        x.debug_request()
        checks.true("log level: %s at debug logs the 505 at debug level" % x.name,
                    x.wait_log(mark, DEBUG_LINE + "http: Error processing request", 5))

        x.write_conf()
        text = x.hup()
        checks.true("log level: %s reloads with log level info" % x.name,
                    text is not None and RELOADED + " (log level info" in text)
        mark = x.mark()
        x.debug_request()
        time.sleep(0.3)
        checks.eq("log level: %s back at info logs no debug line" % x.name, [],
                  re.findall(".*" + DEBUG_LINE + ".*", x.since(mark)))


# ---------------------------------------------------------------------------
# token rotation


def rotate(x, token):
    write_token(x.token_file, token)
    text = x.hup()
    ok = text is not None and RELOADED in text
    if ok:
        x.token = token
    return ok


def phase_token(b):
    checks = b.checks
    a, s = b.collectors["gpu-a"], b.sched
    checks.eq("token: the cluster answers before the rotation", None, b.select_problem())

    # gpu-a first: the sched still runs with the old token.
    mark_a = a.mark()
    checks.true("token: gpu-a reloads the new token", rotate(a, TOKEN2))
    checks.eq("token: gpu-a refuses the old token", 401, a.status(TOKEN))
    checks.eq("token: gpu-a takes the new token", 200, a.status(TOKEN2))
    # Its publishes carry the new token now, which the sched refuses: its
    # last_seen there stops moving, while gpu-b's goes on.
    deadline, seen = time.time() + 15, None
    while time.time() < deadline:
        seen = b.registry()
        if seen and seen["gpu-a"]["age_s"] >= 3 and seen["gpu-b"]["age_s"] <= 2:
            break
        time.sleep(0.2)
    checks.true("token: the sched stops hearing from gpu-a (age %s s)"
                % (seen and seen["gpu-a"]["age_s"]), seen and seen["gpu-a"]["age_s"] >= 3)
    checks.true("token: ... while gpu-b's publishes still arrive (age %s s)"
                % (seen and seen["gpu-b"]["age_s"]), seen and seen["gpu-b"]["age_s"] <= 2)
    checks.true("token: gpu-a logs the sched's 401 for its publish",
                a.wait_log(mark_a, r"publish .*HTTP 401", 5))
    stale_a = seen["gpu-a"]["last_seen"] if seen else 0

    # Now the sched.
    checks.true("token: the sched reloads the new token", rotate(s, TOKEN2))
    checks.eq("token: the sched refuses the old token", 401, s.status(TOKEN))
    checks.eq("token: the sched takes the new token", 200, s.status(TOKEN2))
    rotated_at = b.registry() or {}
    fresh = b.wait_seen_after("gpu-a", stale_a)
    checks.true("token: gpu-a's publishes are accepted again", fresh)

    # A change on gpu-a reaches the sched as a new generation.
    status, inv = a.d.request("GET", "/v1/inventory", token=TOKEN2)
    before = inv["generation"] if status == 200 else None
    checks.eq("token: sim: nvidia-234 on gpu-a upgraded", "ok",
              a.d.sim.ctl("version", T234, "10de:1eb8:nvidia-234-535.105"))
    generation, deadline = None, time.time() + 15
    while before is not None and time.time() < deadline:
        status, inv = a.d.request("GET", "/v1/inventory", token=TOKEN2)
        if status == 200 and inv["generation"] > before:
            generation = inv["generation"]
            break
        time.sleep(0.05)
    checks.true("token: gpu-a has a new generation", generation)
    arrived, deadline = None, time.time() + 30
    while generation is not None and time.time() < deadline:
        seen = b.registry() or {}
        if "gpu-a" in seen and seen["gpu-a"]["inventory"]["generation"] == generation:
            arrived = seen["gpu-a"]["inventory"]
            break
        time.sleep(0.1)
    checks.true("token: the new generation reaches the sched", arrived)
    versions = sorted(t["migration"].get("version") for p in (arrived or {}).get("parents", [])
                      for t in p["types"] if t["id"] == "nvidia-234")
    checks.eq("token: ... with the new version", ["10de:1eb8:nvidia-234-535.104",
                                                   "10de:1eb8:nvidia-234-535.105"], versions)

    # The sched's own probes carry the new token: gpu-a answers, gpu-d
    # (still on the old one) cannot confirm.
    v = b.verdicts()
    checks.eq("token: the sched's probe to gpu-a (new token) is answered",
              ("compatible", None), v.get("gpu-a"))
    checks.true("token: gpu-d, on the old token, refuses the sched's probe (%r)" % (v.get("gpu-d"),),
                v.get("gpu-d") is not None and v.get("gpu-d")[0] != "compatible")

    for name in ("gpu-b", "gpu-d"):
        x = b.collectors[name]
        checks.true("token: %s reloads the new token" % name, rotate(x, TOKEN2))
        checks.eq("token: %s refuses the old token" % name, 401, x.status(TOKEN))
        checks.eq("token: %s takes the new token" % name, 200, x.status(TOKEN2))
    for name in ("gpu-b", "gpu-d"):
        last = rotated_at.get(name, {}).get("last_seen", 0)
        checks.true("token: %s's publishes are accepted again" % name,
                    b.wait_seen_after(name, last))
    checks.eq("token: the whole cluster answers on the new token", None, b.select_problem())
    checks.eq("token: ... filter too", None, b.select_problem(path="/v1/filter"))


# ---------------------------------------------------------------------------
# broken configurations


def refused_case(b, x, what, changes=None, lines=(), token=TOKEN3, token_mode=0o600,
                 remove_token=False, names=()):
    """One broken attempt on x (with log_level = debug and token in it too):
    refused, naming names; everything as it was. Then the good files are
    put back and reloaded, so that each case starts from a clean slate."""
    checks = b.checks
    changes = dict({"log_level": "debug"}, **(changes or {}))
    x.write_conf(changes, lines)
    saved = x.token_file + ".saved"
    if remove_token:
        os.replace(x.token_file, saved)
    else:
        write_token(x.token_file, token, token_mode)
    try:
        text = x.hup()
        line = ""
        for l in (text or "").splitlines():
            if REFUSED in l:
                line = l
        checks.true("refused %s: %s logs the refusal (%r)" % (what, x.name, line[-200:]), line)
        for name in names:
            checks.true("refused %s: %s's refusal names %s" % (what, x.name, name), name in line)
        checks.true("refused %s: %s did not reload" % (what, x.name),
                    text is not None and RELOADED not in text)
        checks.true("refused %s: %s is alive" % (what, x.name), x.alive())
        checks.eq("refused %s: %s still takes the running token" % (what, x.name), 200,
                  x.status(x.token))
        if not remove_token:
            checks.eq("refused %s: %s does not take the attempted token" % (what, x.name), 401,
                      x.status(token))
        mark = x.mark()
        x.debug_request()
        time.sleep(0.3)
        checks.eq("refused %s: %s stays at log level info" % (what, x.name), [],
                  re.findall(".*" + DEBUG_LINE + ".*", x.since(mark)))
        checks.eq("refused %s: the sched still gets live answers (its own token unchanged)"
                  % what, None, b.select_problem())
    finally:
        if remove_token:
            os.replace(saved, x.token_file)
        write_token(x.token_file, x.token)
        x.write_conf()
    text = x.hup()
    checks.true("refused %s: %s then reloads the good files" % (what, x.name),
                text is not None and RELOADED in text and REFUSED not in text)


def phase_refused(b):
    checks = b.checks
    for x in (b.sched, b.collectors["gpu-a"]):
        missing = os.path.join(os.path.dirname(x.conf), "no-such-cert.pem")
        missing_key = os.path.join(os.path.dirname(x.conf), "no-such-key.pem")
        refused_case(b, x, "(a) unknown key", lines=["no_such_key = 1"],
                     names=("no_such_key", x.conf))
        refused_case(b, x, "(b) threads = many", changes={"threads": "many"},
                     names=("threads", "many"))
        refused_case(b, x, "(c) token file missing", remove_token=True,
                     names=(x.token_file, "No such file"))
        refused_case(b, x, "(c) token file world-readable", token_mode=0o644,
                     names=(x.token_file, "others read"))
        if os.geteuid() != 0:  # root reads a mode-000 file all the same
            refused_case(b, x, "(c) token file unreadable", token_mode=0o000,
                         names=(x.token_file,))
        refused_case(b, x, "(d) tls_cert_file on an HTTP daemon",
                     changes={"tls_cert_file": missing, "tls_key_file": missing_key},
                     names=("tls_cert_file",))
        checks.eq("refused: %s still on the running token" % x.name, 200, x.status(x.token))
    checks.eq("refused: the cluster answers as before", None, b.select_problem())
    seen = b.registry() or {}
    checks.true("refused: gpu-a still publishes (age %r s)" % seen.get("gpu-a", {}).get("age_s"),
                seen.get("gpu-a", {}).get("age_s", 99) <= 3)


# ---------------------------------------------------------------------------
# restart-only keys


def phase_restart_only(b):
    checks = b.checks
    a, s = b.collectors["gpu-a"], b.sched
    # (key, what the warning says is kept: a regex)
    kept_text = r"the running value"
    for x, changes, warnings in (
            (a, {"scan_interval": "3600"},
             [("listen", kept_text),
              ("advertise_url", kept_text),  # its default follows listen
              ("scan_interval", r"0\.2( s)?")]),
            (s, {"stale_after": "99"},
             [("listen", kept_text), ("stale_after", r"180( s)?")])):
        new_port = free_port(x.d.address)
        x.write_conf(dict(changes, listen="%s:%d" % (x.d.address, new_port), log_level="debug"))
        text = x.hup()
        checks.true("restart-only: %s reloads" % x.name, text is not None and RELOADED in text)
        for key, kept in warnings:
            pattern = r"SIGHUP: %s changed; it needs a restart \(keeping %s\)" % (key, kept)
            checks.true("restart-only: %s logs /%s/" % (x.name, pattern),
                        text is not None and re.search(pattern, text))
        checks.eq("restart-only: %s: nothing else needs a restart" % x.name, len(warnings),
                  (text or "").count(RESTART))
        checks.true("restart-only: %s: log_level in the same file takes effect" % x.name,
                    text is not None and RELOADED + " (log level debug" in text)
        checks.eq("restart-only: %s still answers on its old port" % x.name, 200,
                  x.status(x.token))
        checks.eq("restart-only: %s does not listen on the new port" % x.name, False,
                  connects(x.d.address, new_port))
        if x is a:
            # The rescan the SIGHUP asks for is over by now; a change after
            # it shows the 0.2 s interval still runs.
            time.sleep(1)
            status, inv = a.d.request("GET", "/v1/inventory", token=a.token)
            before = inv["generation"] if status == 200 else None
            a.d.sim.ctl("version", T234, "10de:1eb8:nvidia-234-535.106")
            deadline, after = time.time() + 3, None
            while before is not None and time.time() < deadline:
                status, inv = a.d.request("GET", "/v1/inventory", token=a.token)
                if status == 200 and inv["generation"] > before:
                    after = inv["generation"]
                    break
                time.sleep(0.05)
            checks.true("restart-only: gpu-a still rescans every 0.2 s (a change seen within 3 s)",
                        after)
        x.write_conf()
        text = x.hup()
        checks.true("restart-only: %s reloads the file put back, with no restart warning" % x.name,
                    text is not None and RELOADED + " (log level info" in text
                    and RESTART not in text)


# ---------------------------------------------------------------------------
# TLS


def phase_tls(build, source, checks):
    with Cluster(build, prefix="mdevmig-it-reload-tls", tls_ca=True) as cluster:
        b = Bench(checks, cluster, {"gpu-a": ("compatible", None),
                                    "gpu-d": ("compatible", None)})
        s = b.start_sched(tls=cluster.daemon_tls("sched0", "127.0.0.1",
                                                  dns=["sched0", "localhost"]),
                          tls_in_file=True)
        a = b.start_collector("gpu-a", os.path.join(source, "deploy/cluster/gpu-a.json"),
                              tls=True, tls_in_file=True)
        cluster.add_host("gpu-d", os.path.join(source, "deploy/cluster/gpu-d.json"),
                         registry=None, extra=["--registry", s.d.url])
        ready = b.wait_registry(["gpu-a", "gpu-d"])
        checks.true("tls: the sched's registry lists gpu-a and gpu-d", ready)
        if not ready:
            print(open(s.log).read()[-3000:])
            return
        checks.eq("tls: select over HTTPS", None, b.select_problem())
        for x in (s, a):
            original = x.settings["tls_cert_file"]
            checks.eq("tls: %s serves its certificate" % x.name, cert_der(original),
                      served_cert(x.d.address, x.d.port, x.d.tls))
            missing = os.path.join(os.path.dirname(x.conf), "no-such-cert.pem")
            refused_case(b, x, "(d) tls_cert_file missing (%s, HTTPS)" % x.name,
                         changes={"tls_cert_file": missing}, names=(missing,))
            checks.eq("tls: %s still serves the old certificate" % x.name, cert_der(original),
                      served_cert(x.d.address, x.d.port, x.d.tls))

        # Certificates rotated under load: HTTPS probes to gpu-a and selects
        # (the sched probing gpu-a and gpu-d over HTTPS) never fail.
        spare = {s.name: [cluster.issue("sched0", dns=["sched0", "localhost"], ips=["127.0.0.1"])
                          for _ in range(2)],
                 a.name: [cluster.issue("gpu-a", ips=[a.d.address]) for _ in range(2)]}
        window = {"started": threading.Event(), "done": threading.Event()}
        loads = [Load("https probe gpu-a", probe_fn(a), window),
                 Load("https select", lambda i: b.select_problem(), window)]
        for load in loads:
            load.start()
        time.sleep(0.3)
        window["started"].set()
        missed = 0
        for i in range(TLS_ROTATIONS):
            for x in (s, a):
                cert = spare[x.name][i % 2]
                x.settings.update(tls_cert_file=cert.cert, tls_key_file=cert.key)
                x.write_conf()
                text = x.hup()
                if text is None or "new TLS certificate" not in text:
                    missed += 1
        window["done"].set()
        for load in loads:
            load.stop.set()
        for load in loads:
            load.join(60)
        print("# %d certificate rotations each under load: %s"
              % (TLS_ROTATIONS, ", ".join("%s %d (%d during)" % (l.name, l.requests, l.during)
                                          for l in loads)))
        checks.eq("tls rotation under load: every reload took a new certificate", 0, missed)
        for load in loads:
            checks.true("tls rotation under load: %s went on during the rotations (%d)"
                        % (load.name, load.during), load.during >= 5)
            checks.eq("tls rotation under load: %s: failed requests (of %d)"
                      % (load.name, load.requests), 0, load.failures)
            for e in load.errors:
                print("    %s: %s" % (load.name, e))

        # Rotation: a new certificate for each, from the same CA.
        new_a = cluster.issue("gpu-a", ips=[a.d.address])
        new_s = cluster.issue("sched0", dns=["sched0", "localhost"], ips=["127.0.0.1"])
        for x, cert in ((s, new_s), (a, new_a)):
            x.settings.update(tls_cert_file=cert.cert, tls_key_file=cert.key)
            x.write_conf()
            last = (b.registry() or {}).get("gpu-a", {}).get("last_seen", 0)
            text = x.hup()
            checks.true("tls rotation: %s reloads with a new TLS certificate" % x.name,
                        text is not None and "new TLS certificate" in text)
            checks.eq("tls rotation: %s serves the new certificate" % x.name, cert_der(cert.cert),
                      served_cert(x.d.address, x.d.port, x.d.tls))
            checks.eq("tls rotation: %s takes the token over HTTPS" % x.name, 200,
                      x.status(x.token))
            checks.eq("tls rotation: select after %s's new certificate" % x.name, None,
                      b.select_problem())
            checks.true("tls rotation: gpu-a publishes after %s's new certificate" % x.name,
                        b.wait_seen_after("gpu-a", last))
        finish_cluster(checks, cluster, "tls: ")


def finish_cluster(checks, cluster, prefix=""):
    """Stop every daemon: status 0 and no sanitizer report."""
    daemons = list(cluster.scheds) + [cluster.collectors[n] for n in sorted(cluster.collectors)]
    for d in daemons:
        name = getattr(d, "name", "sched")
        checks.true("%s%s is alive at the end" % (prefix, name), d.proc.poll() is None)
        d.stop()
        checks.eq("%s%s stops cleanly on SIGTERM" % (prefix, name), 0, d.proc.returncode)
        checks.eq("%s%s: no sanitizer report in its log" % (prefix, name), [],
                  sanitizer_report(d.log))


def run_phase(checks, done, name, fn, *args):
    start = time.time()
    try:
        fn(*args)
        done.append(name)
    except Exception:
        traceback.print_exc()
        checks.true("phase %s ran without an exception" % name, False)
    print("# phase %s: %.1f s" % (name, time.time() - start))


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    done = []
    phases = ["load", "log level", "token", "refused", "restart-only", "http stop", "tls"]

    def http_cluster():
        with Cluster(build, prefix="mdevmig-it-reload") as cluster:
            b = Bench(checks, cluster, EXPECT)
            b.start_sched()
            for name, fixture in HOSTS:
                b.start_collector(name, os.path.join(source, fixture))
            ready = b.wait_registry(NAMES)
            checks.true("the sched's registry lists every host", ready)
            if not ready:
                print(open(b.sched.log).read()[-3000:])
                return
            checks.eq("select before any SIGHUP", None, b.select_problem())
            checks.eq("filter before any SIGHUP", None, b.select_problem(path="/v1/filter"))
            run_phase(checks, done, "load", phase_load, b)
            run_phase(checks, done, "log level", phase_log_level, b)
            run_phase(checks, done, "token", phase_token, b)
            run_phase(checks, done, "refused", phase_refused, b)
            run_phase(checks, done, "restart-only", phase_restart_only, b)
            run_phase(checks, done, "http stop", finish_cluster, checks, cluster)

    run_phase(checks, done, "http cluster", http_cluster)
    run_phase(checks, done, "tls", phase_tls, build, source, checks)
    # A phase skipped (a cluster that did not come up) fails here.
    checks.eq("every phase ran to its end", phases, [p for p in done if p in phases])
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
