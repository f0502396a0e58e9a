"""A rollout plan as a picture (docs/READINESS.md, Rollout): `mdevmig
rollout --format dot|svg` draws what `mdevmig rollout --json` answers:
the waves as clusters, the moves as edges.

Clusters (fixtures and layout as in test_rollout.py, which this imports):
  order   like roll-ref, hosts roll-a,roll-b,roll-c: three waves (b, c, a),
          six moves, one VM moving twice (roll-c -> roll-a -> roll-c), the
          not rolled-out roll-s a destination outside every wave;
  nosafe  like roll-nref, hosts roll-n1,roll-n2,roll-n3: three waves, one
          move, two waves with no move and a stranded VM each.

For both backends (--url, --registry): the DOT read back by Graphviz
(`dot -Tjson`) and the SVG parsed (<g class="node|edge|cluster">) show
what `mdevmig rollout --help` describes, and exactly what the JSON says:
  - one cluster per wave, its label naming the wave's number, holding the
    nodes of that wave's hosts and a note per VM stranded in it (in the
    SVG, which does not nest them: the nodes drawn inside its outline);
  - one node per host the answer names (the listed hosts and every
    destination; the reference may appear, the answer names it as like),
    and no node that is neither a host nor a stranded VM's note;
  - an edge per (wave, from, to) of the moves, labelled "wN: VM, VM";
    an edge from each stranded VM's host to its note, labelled with the
    errno name (or the verdict); no other edge;
  - the picture's label names the reference host.
Usage: --format bogus or dot with --json: exit 2; svg with no dot on
PATH: exit 4 naming the graphviz package (as matrix does). Each --format
exits as --json does (0, or 1 with a VM stranded).

usage: test_rollout_graph.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402
from test_rollout import (SANITIZER_MARKS, Bench, cli_run, model_for,  # noqa: E402
                          sanitizer_report)

SVG = "{http://www.w3.org/2000/svg}"


def label_lines(raw):
    """A DOT label as Graphviz draws it: \\n, \\l, \\r break the line, a
    backslash before anything else stands for that character."""
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


def node_of(name, lines, hosts):
    """What a node stands for: ("host", HOST) when its name, or the first
    word of a label line, is a host's; ("stranded", VM NAME) for a note
    whose label says stranded; None for anything else."""
    if name in hosts:
        return ("host", name)
    if any(line.strip() == "stranded" for line in lines) and lines:
        return ("stranded", lines[0].strip())
    for line in lines:
        words = line.replace(",", " ").split()
        if words and words[0] in hosts:
            return ("host", words[0])
    return None


def expected(answer):
    """What the answer implies: (hosts, waves, moves, stranded).
    hosts: the names the answer gives (listed and destinations);
    waves: sorted (wave, sorted hosts, sorted stranded VM names);
    moves: sorted (wave, from, to, sorted VM names), one per (wave, from, to);
    stranded: sorted (wave, host, VM name, errno name or verdict)."""
    hosts = set(answer["hosts"]) | {m["to"] for w in answer["waves"] for m in w["moves"]}
    waves = sorted((w["wave"], sorted(w["hosts"]), sorted(s["name"] for s in w["stranded"]))
                   for w in answer["waves"])
    pairs = {}
    for w in answer["waves"]:
        for m in w["moves"]:
            pairs.setdefault((w["wave"], m["from"], m["to"]), []).append(m["name"])
    moves = sorted((k[0], k[1], k[2], sorted(v)) for k, v in pairs.items())
    stranded = sorted((s["wave"], s["host"], s["name"], s["errno_name"] or s["verdict"])
                      for s in answer["stranded"])
    return hosts, waves, moves, stranded


class Drawn:
    """What a picture shows: nodes {node: node_of(...)}, clusters [(label
    lines, sorted node names)], edges [(tail node, head node, label)],
    the graph's own label."""

    def __init__(self):
        self.nodes, self.clusters, self.edges, self.label = {}, [], [], ""


def from_json_layout(text, hosts):
    g = json.loads(text)
    objects = g.get("objects", [])
    d = Drawn()
    names = {}
    subgraphs = [o for o in objects if "nodes" in o or "subgraphs" in o or "edges" in o]
    for o in objects:
        if o in subgraphs:
            continue
        names[o["_gvid"]] = o["name"]
        d.nodes[o["name"]] = node_of(o["name"], label_lines(o.get("label", "")), hosts)
    for s in subgraphs:
        if s["name"].startswith("cluster"):
            d.clusters.append((label_lines(s.get("label", "")), sorted(names[i] for i in s.get("nodes", []))))
    for e in g.get("edges", []):
        d.edges.append((names[e["tail"]], names[e["head"]], "\n".join(label_lines(e.get("label", "")))))
    d.label = "\n".join(label_lines(g.get("label", "")))
    return d


def points(text):
    return [tuple(float(v) for v in p.split(",")) for p in text.split()]


def from_svg(text, hosts):
    """Graphviz's SVG does not nest nodes in their cluster: a node is in a
    cluster when its shape lies inside the cluster's outline."""
    root = ET.fromstring(text)
    d = Drawn()
    groups = list(root.iter(SVG + "g"))
    boxes, centres = [], {}

    def title(g):
        t = g.find(SVG + "title")
        return t.text if t is not None else ""

    def texts(g):
        return [(t.text or "").replace("\u00a0", " ") for t in g.iter(SVG + "text")]

    for g in groups:
        kind = g.get("class")
        if kind == "node":
            name = title(g)
            d.nodes[name] = node_of(name, texts(g), hosts)
            xs, ys = [], []
            for shape in g.iter(SVG + "ellipse"):
                xs.append(float(shape.get("cx")))
                ys.append(float(shape.get("cy")))
            for shape in g.iter(SVG + "polygon"):
                pts = points(shape.get("points"))
                xs.append(sum(p[0] for p in pts) / len(pts))
                ys.append(sum(p[1] for p in pts) / len(pts))
            if xs:
                centres[name] = (xs[0], ys[0])
        elif kind == "cluster":
            # The outline: a polygon, or a path when its corners are rounded.
            poly, path = g.find(SVG + "polygon"), g.find(SVG + "path")
            if poly is not None:
                pts = points(poly.get("points"))
            elif path is not None:
                nums = [float(v) for v in re.findall(r"-?[0-9.]+", path.get("d"))]
                pts = list(zip(nums[0::2], nums[1::2]))
            else:
                pts = []
            if pts:
                boxes.append((texts(g), (min(p[0] for p in pts), min(p[1] for p in pts),
                                         max(p[0] for p in pts), max(p[1] for p in pts))))
    for g in groups:
        if g.get("class") == "edge":
            t = title(g)
            tail, head = re.split(r"->", t, maxsplit=1)
            d.edges.append((tail, head, "\n".join(texts(g))))
        elif g.get("class") == "graph":
            d.label = "\n".join((t.text or "") for t in g.findall(SVG + "text"))
    for lines, (x0, y0, x1, y1) in boxes:
        inside = sorted(n for n, (x, y) in centres.items() if x0 <= x <= x1 and y0 <= y <= y1)
        d.clusters.append((lines, inside))
    return d


def compare(c, name, answer, d):
    hosts, waves, moves, stranded = expected(answer)
    names = {vm["name"] for w in answer["waves"] for vm in w["moves"] + w["stranded"]}
    c.eq(name + ": every node is a host or a stranded VM's note", [],
         sorted(n for n, k in d.nodes.items() if k is None or (k[0] == "stranded" and k[1] not in names)))
    drawn_hosts = {k[1] for k in d.nodes.values() if k and k[0] == "host"}
    c.true(name + ": the hosts drawn are the answer's (%r)" % sorted(drawn_hosts),
           hosts <= drawn_hosts <= hosts | {answer["like"]})
    c.eq(name + ": one node per host", len(drawn_hosts),
         sum(1 for k in d.nodes.values() if k and k[0] == "host"))
    c.true(name + ": the picture's label names the reference host (%r)" % d.label, answer["like"] in d.label)
    # Clusters: one per wave, with its hosts and its stranded VMs' notes.
    got = []
    for lines, members in d.clusters:
        kinds = [d.nodes.get(m) for m in members]
        number = re.findall(r"\d+", " ".join(lines))
        got.append((int(number[0]) if number else None,
                    sorted(k[1] for k in kinds if k and k[0] == "host"),
                    sorted(k[1] for k in kinds if k and k[0] == "stranded")))
    c.eq(name + ": a cluster per wave, labelled with its number, holding its hosts and stranded VMs",
         waves, sorted(got, key=str))
    # Edges: one per (wave, from, to), labelled with the wave and the VMs.
    drawn_moves, drawn_stranded, other = [], [], []
    for tail, head, label in d.edges:
        t, h = d.nodes.get(tail), d.nodes.get(head)
        if t and h and t[0] == "host" and h[0] == "host":
            number = re.findall(r"\d+", label.split(":")[0]) if ":" in label else []
            vms = sorted(x for x in re.split(r"[\s,:]+", label) if x in names)
            drawn_moves.append((int(number[0]) if number else None, t[1], h[1], vms))
        elif t and h and t[0] == "host" and h[0] == "stranded":
            wave = [w for w, _, vm, _ in stranded if vm == h[1]]
            drawn_stranded.append((wave[0] if wave else None, t[1], h[1], label))
        else:
            other.append((tail, head, label))
    c.eq(name + ": an edge per (wave, from, to) of the moves, labelled wN: VMs", moves, sorted(drawn_moves, key=str))
    c.eq(name + ": an edge from each stranded VM's host to its note, labelled with the errno",
         stranded, sorted(drawn_stranded, key=str))
    c.eq(name + ": no other edge", [], other)


def check_pictures(c, binary, dot, name, args):
    r = cli_run(binary, args + ["--json"])
    try:
        answer = json.loads(r.stdout)
    except ValueError:
        c.true("%s: --json answers (%r)" % (name, r.stderr[:400]), False)
        return None
    hosts = expected(answer)[0] | {answer["like"]}
    exit_code = r.returncode

    r = cli_run(binary, args + ["--format", "dot"])
    c.eq("%s: --format dot exits as --json does" % name, exit_code, r.returncode)
    c.eq("%s dot: no sanitizer report" % name, [], [m for m in SANITIZER_MARKS if m in r.stderr])
    c.true("%s: DOT text (a digraph)" % name, "digraph" in r.stdout)
    layout = subprocess.run([dot, "-Tjson"], input=r.stdout, capture_output=True, text=True, timeout=120)
    c.eq("%s: Graphviz reads the DOT without a word" % name, (0, ""), (layout.returncode, layout.stderr))
    if layout.returncode == 0:
        compare(c, name + " dot", answer, from_json_layout(layout.stdout, hosts))
    else:
        print("    DOT: %r" % r.stdout[:1500])

    r = cli_run(binary, args + ["--format", "svg"])
    c.eq("%s: --format svg exits as --json does" % name, exit_code, r.returncode)
    c.eq("%s svg: no sanitizer report" % name, [], [m for m in SANITIZER_MARKS if m in r.stderr])
    try:
        drawn = from_svg(r.stdout, hosts)
    except (ET.ParseError, AttributeError, ValueError) as e:
        c.true("%s: the SVG parses (%s)" % (name, e), False)
        return answer
    compare(c, name + " svg", answer, drawn)
    return answer


def check_usage(c, binary, args):
    for extra, why in ((["--format", "bogus"], "dot or svg"), (["--format", "dot", "--json"], "--json")):
        r = cli_run(binary, args + extra)
        c.eq("usage: rollout %s: exit 2, says why, nothing on stdout" % " ".join(extra), (2, True, ""),
             (r.returncode, why in r.stderr, r.stdout))
    r = cli_run(binary, args + ["--format", "svg"], env={"PATH": "/nonexistent"})
    c.eq("no dot on PATH: exit 4 naming the graphviz package, nothing on stdout", (4, True, ""),
         (r.returncode, "graphviz" in r.stderr, r.stdout))


def run(c, build, source, binary, dot, scenario, usage=False):
    model = model_for(source, scenario)
    with Cluster(build, prefix="mdevmig-rollg") as cluster:
        b = Bench.start(c, cluster, source, model)
        ok = b.wait_registry(90)
        c.true("%s: the sched's registry holds every host and VM" % scenario, ok)
        if not ok:
            return
        token = ["--token-file", b.sched.token_file]
        base = ["rollout", "--like", model.like, "--hosts", ",".join(model.listed)]
        for mode, backend in (("sched", ["--url", b.sched.url]), ("registry", ["--registry", b.sched.registry])):
            answer = check_pictures(c, binary, dot, "%s %s" % (scenario, mode), base + backend + token)
            if answer is not None:
                print("    (%s %s: waves %r, %d moves)" % (scenario, mode, [w["hosts"] for w in answer["waves"]],
                                                          answer["moves"]))
        if usage:
            check_usage(c, binary, base + ["--url", b.sched.url] + token)
        c.true("%s: the sched is still running" % scenario, b.sched.proc.poll() is None)
        b.sched.stop()
        c.eq("%s: the sched stops cleanly on SIGTERM" % scenario, 0, b.sched.proc.returncode)
        c.eq("%s: no sanitizer report in the sched's log" % scenario, [], sanitizer_report(b.sched.log))


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    binary = os.path.join(build, "plugin/mdevmig")
    checks = Checks()
    dot = shutil.which("dot")
    checks.true("Graphviz's dot is installed (deploy/install-deps: graphviz)", dot is not None)
    if dot is None:
        return checks.finish()
    for scenario, usage in (("order", True), ("nosafe", False)):
        start = time.time()
        run(checks, build, source, binary, dot, scenario, usage)
        print("# %s: %.1f s" % (scenario, time.time() - start))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
