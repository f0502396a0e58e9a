"""Every metric deploy/grafana/mdevmig.json and deploy/prometheus/
mdevmig-rules.yml read is one the daemons export (DESIGN.md §7).

The dashboard's PromQL (every panel target and the template variables'
label_values queries; each must parse under promtool, Grafana's variables
given values) and the rules' `expr` are read for the metric names they
select; each must be a family in a live /metrics of mdevmig-sched or
mdevmig-collector (a histogram's _bucket, _sum and _count are its
family's), and each literal label matcher (outcome="rejected",
op=~"select|filter") must match a live sample. `up` is Prometheus's own
(whether a scrape worked) and exempt; job and instance are the labels
Prometheus adds.

Cluster: mdevmig-sched and two collectors publishing into it, gpu-a
(deploy/cluster/gpu-a.json, libvirt two-vms.xml: vm-a and vm-b) and
gpu-new (fixtures/gpu-new.json); both /metrics are scraped after a select
of vm-a.

usage: test_dashboards_metrics.py BUILD_DIR SOURCE_DIR
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402
from test_metrics import PROMTOOL, Exposition, sanitizer_report  # noqa: E402

DASHBOARD = "deploy/grafana/mdevmig.json"
RULES = "deploy/prometheus/mdevmig-rules.yml"
VMMAP = "tests/unit/data/vmmap"
HOSTS = [
    ("gpu-a", "deploy/cluster/gpu-a.json", "two-vms.xml"),
    ("gpu-new", "tests/integration/fixtures/gpu-new.json", None),
]
VM_A = "5a0f6c2e-1b3d-4e5f-8a9b-0c1d2e3f4a01"

# Names no mdevmig daemon exports, and why they may be read anyway.
EXEMPT = {"up": "Prometheus's own: 1 when the target's last scrape worked"}
# Labels Prometheus attaches at scrape time: never in /metrics.
TARGET_LABELS = ("job", "instance")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
RANGE = re.compile(r"\[[^\]]*\]")
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
BRACES = re.compile(r"\{[^}]*\}")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENT = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "atan2"}
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*[a-zA-Z_]\w*\s*\)\s*$", re.S)
QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)


def promql_names(expr):
    """The metric names expr selects, and its selectors' matchers as
    [(name, [(label, op, value)])]."""
    expr = RANGE.sub(" ", expr)
    selectors = [(m.group(1), MATCHER.findall(m.group(2))) for m in SELECTOR.finditer(expr)
                 if m.group(1) and m.group(1) not in KEYWORDS]
    rest = BRACES.sub(" ", expr)
    rest = STRING.sub(" ", rest)
    rest = GROUPING.sub(" ", rest)
    rest = VARIABLE.sub(" ", rest)
    names = set()
    for m in IDENT.finditer(rest):
        if m.group(2) is None and m.group(1) not in KEYWORDS:
            names.add(m.group(1))
    return names, selectors


def dashboard_exprs(dashboard):
    """(where, PromQL) for every panel target (rows' panels included) and
    every query variable."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            title = node.get("title")
            if isinstance(node.get("expr"), str) and node["expr"].strip():
                found.append(("%s / %s" % (where, node.get("refId", "?")), node["expr"]))
            for key, value in node.items():
                if key != "templating":
                    walk(value, "panel %r" % title if title and "type" in node else where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(dashboard.get("panels", []), "panels")
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        m = LABEL_VALUES.match(query or "") or QUERY_RESULT.match(query or "")
        if m:
            found.append(("variable $%s" % var.get("name"), m.group(1)))
    return found


def rules_exprs(doc):
    """(where, PromQL) for every rule, and the names recording rules define."""
    found, recorded = [], set()
    for group in doc.get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            if "record" in rule:
                recorded.add(rule["record"])
            found.append(("rule %s" % name, str(rule.get("expr", ""))))
    return found, recorded


def family_of(name, types):
    """The exported family name reads, or None."""
    if name in types:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
            return base
    return None


def matcher_ok(samples, name, label, op, value):
    """Whether some live sample of name satisfies label op value."""
    values = [l.get(label, "") for n, l, _ in samples if n == name]
    if op == "=":
        return value in values
    return any(re.fullmatch(value, v) for v in values)


def promql_valid(exprs):
    """promtool's parse of the dashboard's expressions (Grafana's variables
    given values), as the recording rules dashboard:exprN of one file: its
    complaints, naming each bad rule (N is the index in exprs), or ""."""
    with tempfile.TemporaryDirectory(prefix="mdevmig-dash-") as tmp:
        path = os.path.join(tmp, "dashboard.yml")
        with open(path, "w") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, (_, expr) in enumerate(exprs):
                expr = VARIABLE.sub(".*", expr.replace("$__rate_interval", "5m"))
                f.write("      - record: dashboard:expr%d\n        expr: %s\n"
                        % (i, json.dumps(expr)))
        proc = subprocess.run([PROMTOOL, "check", "rules", path], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
    if proc.returncode == 0:
        return ""
    return (proc.stdout + proc.stderr).strip() + "\n  exprs: %r" % list(enumerate(exprs))


def wait_cluster(sched, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200:
            invs = {h["host"]: h["inventory"] for h in body["hosts"]}
            if {h[0] for h in HOSTS} <= set(invs) and \
                    VM_A in {i["uuid"] for i in invs["gpu-a"]["instances"]}:
                return True
        time.sleep(0.1)
    return False


def scrape(checks, name, daemon):
    status, text = daemon.request("GET", "/metrics")
    checks.eq("%s: GET /metrics is 200" % name, 200, status)
    return Exposition(text if status == 200 and isinstance(text, str) else "")


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()

    with open(os.path.join(source, DASHBOARD)) as f:
        dashboard = json.load(f)
    with open(os.path.join(source, RULES)) as f:
        rules, recorded = rules_exprs(yaml.safe_load(f))
    used = {}        # name -> [where]
    selectors = []   # (where, name, [(label, op, value)])
    for origin, exprs in (("dashboard", dashboard_exprs(dashboard)), ("rules", rules)):
        checks.true("%s: PromQL expressions found (%d)" % (origin, len(exprs)), exprs)
        names_here = set()
        for where, expr in exprs:
            names, sels = promql_names(expr)
            checks.true("%s: %s selects a metric" % (origin, where), names)
            names_here |= names
            for name in names:
                used.setdefault(name, []).append("%s %s" % (origin, where))
            selectors += [("%s %s" % (origin, where), n, m) for n, m in sels]
        print("# %s reads: %s" % (origin, ", ".join(sorted(names_here))))
    checks.eq("dashboard: every expression parses (promtool check rules)", "",
              promql_valid(dashboard_exprs(dashboard)))
    # The parser itself: names known to be there are found.
    for name, origin in (("mdevmig_sched_decision_duration_seconds_bucket", "dashboard"),
                         ("mdevmig_build_info", "dashboard"), ("up", "rules"),
                         ("mdevmig_sched_hosts_stale", "rules")):
        checks.true("the parser finds %s in the %s" % (name, origin),
                    any(w.startswith(origin) for w in used.get(name, [])))

    with Cluster(build, prefix="mdevmig-it") as cluster:
        sched = cluster.add_sched()
        for name, fixture, xml in HOSTS:
            uri = "test://" + os.path.join(source, VMMAP, xml) if xml else "none"
            cluster.add_host(name, os.path.join(source, fixture), libvirt_uri=uri, registry=None,
                             extra=["--registry", sched.url])
        ready = wait_cluster(sched)
        checks.true("the sched's registry lists every host and vm-a", ready)
        if not ready:
            print(open(sched.log).read()[-4000:])
            return checks.finish()
        status, _ = sched.request("POST", "/v1/select", {"instance": VM_A, "count": 5})
        checks.eq("select of vm-a answered", 200, status)

        types, samples = {}, []
        for name, daemon in [("sched", sched)] + sorted(cluster.collectors.items()):
            exp = scrape(checks, name, daemon)
            checks.true(name + ": /metrics has families", exp.types)
            types.update(exp.types)
            samples += exp.samples

        missing = {}
        for name, where in sorted(used.items()):
            if name in EXEMPT or name in recorded:
                continue
            if family_of(name, types) is None:
                missing[name] = where
        checks.eq("every metric the dashboard and the rules read is exported (missing -> where)",
                  {}, missing)
        exempted = sorted(n for n in used if n in EXEMPT)
        print("# exempt: %s" % ", ".join("%s (%s)" % (n, EXEMPT[n]) for n in exempted))

        unmatched = []
        for where, name, matchers in selectors:
            if name in EXEMPT or name in recorded or family_of(name, types) is None:
                continue
            for label, op, value in matchers:
                if label in TARGET_LABELS or op not in ("=", "=~") or "$" in value:
                    continue
                if not matcher_ok(samples, name, label, op, value):
                    unmatched.append('%s: %s{%s%s"%s"}' % (where, name, label, op, value))
        checks.eq("every literal label matcher matches a live sample", [], sorted(set(unmatched)))

        for name, daemon in [("sched", sched)] + sorted(cluster.collectors.items()):
            daemon.stop()
            checks.eq(name + ": stops cleanly on SIGTERM", 0, daemon.proc.returncode)
            checks.eq(name + ": no sanitizer report in its log", [], sanitizer_report(daemon.log))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
