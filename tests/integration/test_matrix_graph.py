"""The compatibility matrix as a picture (issue 14): `mdevmig matrix
--format dot|svg` draws exactly what `mdevmig matrix --json` answers.

Hosts (mdevsim + collector each, publishing into the sched's ingest):
  gpu-b 535.54, gpu-a 535.104, gpu-d 535.129   deploy/cluster, as in
      test_matrix.py: three groups per T4 type, old -> new migrates,
      new -> old refused with EINVAL;
  gpu-readerr (fixtures)   a fourth T4 group whose version reads ENODEV:
      a dashed node, the cells out of it left out;
  gpu-ctrl, gpu-quote (fixtures)   mtty-1 at two versions an exact driver
      tells apart, holding a tab, ESC, DEL, quotes and backslashes (one
      last): labels show them escaped as the table does.

For both backends (--url, --registry), one type and every type: the DOT
read back by Graphviz (`dot -Tjson`) and the SVG parsed (<g class="node">,
<g class="edge">, <g class="cluster">) hold the nodes (TYPE/ID; type,
version, host count), the edges (FROM -> TO; solid, dashed with the errno,
dotted with the verdict) and the clusters (one per type when several) the
JSON implies, no more. Usage: --format bogus, twice, or with --json: exit
2; svg with no dot on PATH: exit 4 naming the graphviz package. The
README's matrix paragraph names the formats.

usage: test_matrix_graph.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import errno
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402

DEPLOY_HOSTS = ("gpu-a", "gpu-b", "gpu-d")
FIXTURE_HOSTS = ("gpu-readerr", "gpu-ctrl", "gpu-quote")
SVG = "{http://www.w3.org/2000/svg}"
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error")
# How Graphviz's SVG draws an edge's or a node's style.
DASHES = {None: "solid", "5,2": "dashed", "1,5": "dotted"}


def shown(text):
    """A version as the CLI shows it (common/escape.c)."""
    out = []
    for ch in text:
        if ch in "\\\t\n\r":
            out.append({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def expected(answer):
    """(nodes, edges, clusters) the JSON answer implies.
    nodes: name -> (label lines, style); edges: sorted (tail, head, style,
    label); clusters: label -> sorted node names (empty for one type)."""
    nodes, edges, clusters = {}, [], {}
    types = answer["types"]
    for entry in types:
        t = entry["type"]
        names = []
        for g in entry["groups"]:
            name = "%s/%d" % (t, g["group"])
            if g["version"] is not None:
                lines = [t, shown(g["version"]), plural(g["host_count"], "host")]
            else:
                why = ("no readable version (%s)" % errno_name(g["errno"]) if g["supported"]
                       else "no migration_version attribute")
                lines = [t, why, plural(g["host_count"], "host"), "not migratable"]
            nodes[name] = (lines, "solid" if g["version"] is not None else "dashed")
            names.append(name)
        for c in entry["cells"]:
            v = c["verdict"]
            if v == "not-migratable":
                continue
            if v == "compatible":
                style, label = "solid", None
            elif v in ("incompatible", "unsupported"):
                style, label = "dashed", c["errno_name"] or v
            else:
                style, label = "dotted", v
            edges.append(("%s/%d" % (t, c["from"]), "%s/%d" % (t, c["to"]), style, label))
        if len(types) > 1:
            label = "%s: %s on %s" % (t, plural(len(entry["groups"]), "version group"),
                                      plural(entry["host_count"], "host"))
            clusters[label] = sorted(names)
    return nodes, sorted(edges, key=str), clusters


def errno_name(number):
    return errno.errorcode.get(number, "errno %s" % number)


def label_lines(raw):
    """A DOT label attribute as Graphviz draws it: \\n, \\l, \\r break the
    line, a backslash before anything else stands for that character."""
    lines, cur, i = [], "", 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in "nlr":
                lines.append(cur)
                cur = ""
            else:
                cur += nxt
            i += 2
            continue
        cur += ch
        i += 1
    if cur:
        lines.append(cur)
    return lines


def style_of(attrs):
    words = [w.strip() for w in (attrs.get("style") or "").split(",")]
    for s in ("dashed", "dotted"):
        if s in words:
            return s
    return "solid"


def from_json_layout(text):
    """(nodes, edges, clusters) of `dot -Tjson` output."""
    g = json.loads(text)
    objects = g.get("objects", [])
    names, nodes, clusters = {}, {}, {}
    subgraphs = [o for o in objects if "nodes" in o or "subgraphs" in o or "edges" in o]
    for o in objects:
        if o in subgraphs:
            continue
        names[o["_gvid"]] = o["name"]
        nodes[o["name"]] = (label_lines(o.get("label", "")), style_of(o))
    for s in subgraphs:
        if s["name"].startswith("cluster"):
            clusters["\n".join(label_lines(s.get("label", "")))] = sorted(
                names[i] for i in s.get("nodes", []))
    edges = []
    for e in g.get("edges", []):
        label = "\n".join(label_lines(e.get("label", ""))) or None
        edges.append((names[e["tail"]], names[e["head"]], style_of(e), label))
    return nodes, sorted(edges, key=str), clusters


def from_svg(text):
    """(nodes, edges, clusters) of Graphviz's SVG."""
    root = ET.fromstring(text)
    nodes, edges, clusters = {}, [], {}
    groups = list(root.iter(SVG + "g"))

    def parts(g):
        title = g.find(SVG + "title").text
        lines = [t.text or "" for t in g.iter(SVG + "text")]
        dash = None
        for shape in list(g.iter(SVG + "path")) + list(g.iter(SVG + "polygon")):
            if shape.get("stroke-dasharray"):
                dash = shape.get("stroke-dasharray")
                break
        return title, [line.replace("\u00a0", " ") for line in lines], DASHES.get(dash, dash)

    for g in groups:
        kind = g.get("class")
        if kind == "node":
            title, lines, style = parts(g)
            nodes[title] = (lines, style)
        elif kind == "edge":
            title, lines, style = parts(g)
            tail, head = title.split("->")
            edges.append((tail, head, style, "\n".join(lines) if lines else None))
    for g in groups:
        if g.get("class") == "cluster":
            _, lines, _ = parts(g)
            clusters["\n".join(lines)] = []
    # The SVG does not nest nodes in their cluster: membership is by type.
    for label in clusters:
        t = label.split(":")[0]
        clusters[label] = sorted(n for n in nodes if n.rsplit("/", 1)[0] == t)
    return nodes, sorted(edges, key=str), clusters


def cli(binary, args, env_path=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDEVMIG_")}
    if env_path is not None:
        env["PATH"] = env_path
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=180, env=env)


def no_sanitizer(c, name, r):
    c.eq("%s: no sanitizer report" % name, [], [m for m in SANITIZER_MARKS if m in r.stderr])


def compare(c, name, want, got):
    for what, w, g in zip(("nodes", "edges", "clusters"), want, got):
        c.eq("%s: the %s the JSON implies" % (name, what), w, g)


def check_pictures(c, binary, dot, mode, backend, scope):
    name = "%s %s" % (mode, " ".join(scope) or "every type")
    r = cli(binary, ["matrix", "--json"] + scope + backend)
    c.eq("%s: --json exits 0" % name, 0, r.returncode)
    try:
        answer = json.loads(r.stdout)
    except ValueError:
        print("    --json stdout: %r stderr: %r" % (r.stdout[:400], r.stderr[:400]))
        return None
    want = expected(answer)

    r = cli(binary, ["matrix", "--format", "dot"] + scope + backend)
    c.eq("%s: --format dot exits 0" % name, 0, r.returncode)
    if r.returncode != 0:
        print("    stderr: %r" % r.stderr[:600])
    no_sanitizer(c, name + " dot", r)
    c.true("%s: DOT text (a digraph)" % name, r.stdout.lstrip().startswith("//")
           and "digraph" in r.stdout)
    layout = subprocess.run([dot, "-Tjson"], input=r.stdout, capture_output=True, text=True,
                            timeout=120)
    c.eq("%s: Graphviz reads the DOT without a word" % name, (0, ""),
         (layout.returncode, layout.stderr))
    if layout.returncode == 0:
        compare(c, name + " dot", want, from_json_layout(layout.stdout))

    r = cli(binary, ["matrix", "--format", "svg"] + scope + backend)
    c.eq("%s: --format svg exits 0" % name, 0, r.returncode)
    if r.returncode != 0:
        print("    stderr: %r" % r.stderr[:600])
    no_sanitizer(c, name + " svg", r)
    try:
        got = from_svg(r.stdout)
    except (ET.ParseError, AttributeError, ValueError) as e:
        c.true("%s: the SVG parses (%s)" % (name, e), False)
        return answer
    compare(c, name + " svg", want, got)
    return answer


def check_drawn(c, answer):
    """What the picture must show on this cluster, whatever else the JSON
    says: the rule of test_matrix.py, the unreadable group, the escapes."""
    nodes, edges, clusters = expected(answer)
    c.eq("every type: a cluster per type", 4, len(clusters))
    t222 = [t for t in answer["types"] if t["type"] == "nvidia-222"]
    ids = {}
    for g in t222[0]["groups"] if t222 else []:
        ids[(g["version"] or "none").rsplit("-", 1)[-1]] = "nvidia-222/%d" % g["group"]
    old, new, unread = ids.get("535.54"), ids.get("535.104"), ids.get("none")
    c.true("every type: nvidia-222 535.104 -> 535.54 dashed, labelled EINVAL",
           (new, old, "dashed", "EINVAL") in edges)
    c.true("every type: nvidia-222 535.54 -> 535.104 solid", (old, new, "solid", None) in edges)
    c.true("every type: the unreadable group is a dashed node, nothing drawn out of it",
           unread is not None and nodes.get(unread, ([], ""))[1] == "dashed"
           and not [e for e in edges if e[0] == unread])
    quoted = [n for n, (lines, _) in nodes.items() if lines[1].startswith('mtty "1.0"')]
    c.eq("every type: quotes and backslashes shown as the table shows them",
         [['mtty-1', 'mtty "1.0" \\\\N\\\\n -> \\\\', '1 host']], [nodes[n][0] for n in quoted])
    c.true("every type: the control bytes shown escaped",
           ["mtty-1", "mtty\\t\\x1b[31m-1.0\\x7f", "1 host"] in [v[0] for v in nodes.values()])


def check_usage(c, binary, registry):
    for args, why in ((["--format", "bogus"], "expected dot or svg"),
                      (["--format", "dot", "--format", "svg"], "given twice"),
                      (["--format", "dot", "--json"], "--json"),
                      (["--json", "--format", "svg"], "--json")):
        r = cli(binary, ["matrix"] + args + registry)
        c.eq("usage: matrix %s: exit 2, says why" % " ".join(args), (2, True, ""),
             (r.returncode, why in r.stderr, r.stdout))
    r = cli(binary, ["--json", "matrix", "--format", "dot"] + registry)
    c.eq("usage: a leading --json too", 2, r.returncode)
    r = cli(binary, ["matrix", "--format", "svg"] + registry, env_path="/nonexistent")
    c.eq("no dot on PATH: exit 4 naming the graphviz package, nothing on stdout", (4, True, ""),
         (r.returncode, "graphviz" in r.stderr and "dot" in r.stderr, r.stdout))
    r = cli(binary, ["matrix", "--help"])
    c.true("matrix --help documents --format", r.returncode == 0 and "--format dot" in r.stdout
           and "dashed" in r.stdout and "dotted" in r.stdout)


def check_readme(c, source):
    with open(os.path.join(source, "README.md")) as f:
        text = f.read()
    start = text.find("- **matrix**")
    end = text.find("\n\n", start)
    para = text[start:end]
    c.true("README's matrix paragraph names --format dot and svg",
           start >= 0 and "--format dot" in para and "--format svg" in para)


def wait_ready(sched, hosts, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = sched.request("GET", "/v1/inventory")
        if status == 200 and set(hosts) <= {h["host"] for h in body["hosts"]}:
            return True
        time.sleep(0.1)
    return False


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    binary = os.path.join(build, "plugin/mdevmig")
    checks = Checks()
    check_readme(checks, source)
    dot = shutil.which("dot")
    checks.true("Graphviz's dot is installed (deploy/install-deps: graphviz)", dot is not None)
    if dot is None:
        return checks.finish()
    with Cluster(build, prefix="mdevmig-graph") as cluster:
        sched = cluster.add_sched()
        for host in DEPLOY_HOSTS:
            cluster.add_host(host, os.path.join(source, "deploy/cluster/%s.json" % host),
                             registry=None, extra=["--registry", sched.url])
        for host in FIXTURE_HOSTS:
            cluster.add_host(host, os.path.join(source, "tests/integration/fixtures/%s.json" % host),
                             registry=None, extra=["--registry", sched.url])
        ready = wait_ready(sched, DEPLOY_HOSTS + FIXTURE_HOSTS)
        checks.true("the sched's registry holds every host", ready)
        if not ready:
            return checks.finish()
        token = ["--token-file", sched.token_file]
        registry = ["--registry", sched.registry] + token
        for mode, backend in (("sched", ["--url", sched.url] + token), ("registry", registry)):
            check_pictures(checks, binary, dot, mode, backend, ["--type", "nvidia-222"])
            answer = check_pictures(checks, binary, dot, mode, backend, [])
            if answer is not None:
                check_drawn(checks, answer)
        check_usage(checks, binary, registry)
        checks.true("the sched is still running", sched.proc.poll() is None)
        sched.stop()
        checks.eq("the sched stops cleanly on SIGTERM", 0, sched.proc.returncode)
        with open(sched.log, errors="replace") as f:
            log = f.read()
        checks.eq("no sanitizer report in the sched's log", [],
                  [m for m in SANITIZER_MARKS if m in log])
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
