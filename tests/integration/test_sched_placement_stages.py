"""Which Placement queries a select makes with candidate_source = placement
(issue 16), counted by a proxy in front of a real placement-api
(python3-placement on 127.0.0.1, started and stopped here), and that they
give the registry's destinations (DESIGN.md §3).

Fourteen collectors (mdevsim + mdevmig-collector each, every T4 type on
two parents, NVIDIA's newer-minor rule) publish to three scheds at once
and their traits to Placement (on a child provider per parent, as Nova
lays out a pGPU host):

  same-1..8   535.104       newer-1..3  535.129
  older-1..2  535.54        other-1     550.54

The scheds: REG (candidate_source = registry), PL (placement, through the
proxy) and PLX (placement, through the proxy, --full-scan-max 1: a type
too large for Placement's type query). Every select goes to all three, so
their probe caches learn the same; count 1, whose first probe wave is 8
hosts, so a select asks Placement no further once 8 candidates could be
probed at the best ranks:

  (a) enough same-version hosts (222 at 535.104: same-1..8): only
      required=in:<the source's version trait>;
  (b) enough known-compatible versions (222 at 535.54, once a select has
      probed 535.104 and 535.129 hosts; 223 at 535.54 once the matrix
      has): that query, then required=in:<the accepting versions' traits>;
  (c) only type matches (234 or 222 at 535.54, nothing known yet): the
      version query, then the type query, required=in:<the type trait>,
      bounded by the registry's count of the type's parents; PLX, where
      that count is past the bound, reads the rest from the registry's
      bounded look and asks nothing more;
  and with every version trait of step (b) but one known to Placement
  (a trait deleted from it while the registry still has the version),
  the refused query is asked again without it.

Every answer equals REG's: the same destinations, in order, and the same
verdict for every host probed. After the first few selects (the root
providers' names learnt) no select asks for a root's name and none makes
more than three queries.

usage: test_sched_placement_stages.py BUILD_DIR SOURCE_DIR
"""

import hashlib
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Cluster  # noqa: E402
from placement_server import CountingProxy, PlacementServer  # noqa: E402
from test_sched_placement import exit_report, placement_carries, poll  # noqa: E402

FIXTURES = {"535.104": "deploy/cluster/gpu-a.json", "535.129": "deploy/cluster/gpu-d.json",
            "535.54": "deploy/cluster/gpu-b.json", "550.54": "deploy/cluster/gpu-c.json"}
HOSTS = ([("same-%d" % i, "535.104") for i in range(1, 9)]
         + [("newer-%d" % i, "535.129") for i in range(1, 4)]
         + [("older-%d" % i, "535.54") for i in range(1, 3)]
         + [("other-1", "550.54")])
RELEASE = dict(HOSTS)
HIDDEN, HIDDEN_RELEASE = "hidden-1", "535.140"
PARENTS = ("0000:3b:00.0", "0000:d8:00.0")
WAVE = 8  # a count-1 select's first probe wave


def version(type_id, release):
    return "10de:1eb8:%s-%s" % (type_id, release)


def version_trait(type_id, release):
    d = hashlib.sha256((type_id + "\n" + version(type_id, release)).encode()).hexdigest()
    return "CUSTOM_MDEVMIG_" + d[:32].upper()


def type_trait(type_id):
    return "CUSTOM_MDEV_TYPE_" + re.sub("[^A-Z0-9]", "_", type_id.upper())


def accepts(target, written):
    """NVIDIA's newer-minor rule, as mdevsim applies it."""
    tmaj, tmin = (int(x) for x in target.split("."))
    wmaj, wmin = (int(x) for x in written.split("."))
    return tmaj == wmaj and wmin <= tmin


def spec(type_id, release, count=1):
    return {"mdevs": [{"type": type_id, "version": version(type_id, release)}], "count": count}


def requests(seen):
    """The proxy's records as [(status, sorted traits)] for trait queries,
    ("root", status) for a look-up of a root provider's name (a GET by
    uuid or the listing of every provider), the path for anything else."""
    out = []
    for method, path, status, _ in seen:
        url = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(url.query)
        if method == "GET" and url.path == "/resource_providers" and list(query) == ["required"] \
                and query["required"][0].startswith("in:"):
            out.append((status, sorted(query["required"][0][3:].split(","))))
        elif method == "GET" and (path == "/resource_providers"
                                  or re.fullmatch(r"/resource_providers/[0-9a-f-]{36}", path)):
            out.append(("root", status))
        else:
            out.append((method, path, status))
    return out


def trait_queries(seen):
    return [r for r in requests(seen) if r[0] != "root"]


def root_lookups(seen):
    return sum(1 for r in requests(seen) if r[0] == "root")


def probed(body):
    """{host: (verdict, errno)} of the hosts a select probed."""
    return {h["host"]: (h["verdict"], h.get("errno")) for h in body.get("hosts", []) if h["probes"]}


class Run:
    def __init__(self, cluster, placement, proxy, checks):
        self.cluster, self.placement, self.proxy, self.checks = cluster, placement, proxy, checks
        self.token_file = os.path.join(cluster.root, "placement-token")
        with open(os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  "w") as f:
            f.write("admin\n")
        flags = ["--placement-url", proxy.url, "--placement-token-file", self.token_file]
        self.reg = cluster.add_sched()
        self.pl = cluster.add_sched(extra=["--candidate-source", "placement"] + flags)
        self.plx = cluster.add_sched(extra=["--candidate-source", "placement",
                                            "--full-scan-max", "1"] + flags)
        self.scheds = {"REG": self.reg, "PL": self.pl, "PLX": self.plx}

    def add_host(self, name, release, placement=True):
        extra = []
        for sched in self.scheds.values():
            extra += ["--registry", sched.url]
        if placement:
            extra += ["--placement-url", self.placement.url, "--placement-token-file",
                      self.token_file, "--create-providers", "true"]
        return self.cluster.add_host(name, os.path.join(self.source, FIXTURES[release]),
                                     extra=extra)

    def registries_hold(self, hosts, type_id="nvidia-222"):
        """Whether every sched's registry holds each (host, release) of
        hosts for type_id on both parents."""
        for sched in self.scheds.values():
            for host, release in hosts:
                status, body = sched.request("GET", "/v1/hosts/%s/inventory" % host)
                if status != 200:
                    return False
                have = {(p["name"], t["migration"].get("version"))
                        for p in body["inventory"]["parents"] for t in p["types"]
                        if t["id"] == type_id}
                if have != {(p, version(type_id, release)) for p in PARENTS}:
                    return False
        return True

    def select_all(self, label, body):
        """body to REG, then PL and PLX with their Placement requests: (REG's
        reply, {name: (status, reply, proxy records)})."""
        c = self.checks
        status, reg = self.reg.request("POST", "/v1/select", body)
        c.eq("%s: REG: status, source" % label, (200, "registry"),
             (status, reg.get("candidate_source") if isinstance(reg, dict) else None))
        out = {}
        self.proxy.take()
        for name in ("PL", "PLX"):
            status, reply = self.scheds[name].request("POST", "/v1/select", body)
            out[name] = (status, reply, self.proxy.take())
            c.eq("%s: %s: status, source" % (label, name), (200, "placement"),
                 (status, reply.get("candidate_source") if isinstance(reply, dict) else None))
        return reg, out

    def same_answer(self, label, reg, out, hosts=True):
        for name, (_, reply, _) in out.items():
            self.checks.eq("%s: %s: the registry's destinations" % (label, name),
                           reg.get("destinations"), reply.get("destinations"))
            if hosts:
                self.checks.eq("%s: %s: the registry's verdict for every host probed"
                               % (label, name), probed(reg), probed(reply))

    def case(self, label, body, expect, warm=True):
        """A select on all three; expect: {name: [(status, traits), ...]},
        the trait queries PL and PLX must make, in order."""
        reg, out = self.select_all(label, body)
        self.same_answer(label, reg, out)
        for name, (_, _, seen) in out.items():
            self.checks.eq("%s: %s: Placement queries" % (label, name), expect[name],
                           trait_queries(seen))
            if warm:
                self.checks.eq("%s: %s: no root provider looked up, at most 3 requests"
                               % (label, name), (0, True),
                               (root_lookups(seen), len(seen) <= 3))
        return reg


def accepting(reg, type_id, source):
    """Version traits of the hosts REG found compatible, other than the
    source's: what the probe cache knows to accept it."""
    rels = {RELEASE.get(h, HIDDEN_RELEASE) for h, (v, _) in probed(reg).items()
            if v == "compatible"}
    return sorted(version_trait(type_id, r) for r in rels if r != source)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with Cluster(build, prefix="mdevmig-plstages") as cluster:
        placement = PlacementServer(os.path.join(cluster.root, "placement"))
        proxy = CountingProxy(placement)
        try:
            placement.start()
            proxy.start()
            run = Run(cluster, placement, proxy, checks)
            run.source = source
            scenario(run)
        finally:
            proxy.stop()
            placement.stop()
    return checks.finish()


def scenario(run):
    c = run.checks
    for name, release in HOSTS:
        run.add_host(name, release)
    c.true("every sched's registry holds every host",
           poll(lambda: run.registries_hold(HOSTS), timeout=90))
    c.true("Placement carries every host's traits",
           poll(lambda: placement_carries(run.placement, HOSTS), timeout=90))
    v = {r: version_trait("nvidia-222", r) for r in FIXTURES}

    # Warm-up: a select over the whole cluster (count 20: more than it
    # holds) lets PL learn every root provider's name, on a type no later
    # case asks from 535.54.
    reg, out = run.select_all("warm-up 223 at 535.104", spec("nvidia-223", "535.104", 20))
    run.same_answer("warm-up 223 at 535.104", reg, out)
    seen = out["PL"][2]
    c.eq("warm-up: PL: the version query, the type query (count 20 is never enough)",
         [(200, [version_trait("nvidia-223", "535.104")]), (200, [type_trait("nvidia-223")])],
         trait_queries(seen))
    c.eq("warm-up: PL: a GET per root provider, one each (14 hosts)", 14, root_lookups(seen))

    # (c) nothing known of 535.54 yet: its two hosts are not a wave.
    c222 = run.case("(c) 222 at 535.54, only type matches", spec("nvidia-222", "535.54"), {
        "PL": [(200, [v["535.54"]]), (200, [type_trait("nvidia-222")])],
        "PLX": [(200, [v["535.54"]])]}, warm=False)
    c.eq("(c): REG probed a wave of 8", WAVE, len(probed(c222)))
    known = accepting(c222, "nvidia-222", "535.54")
    c.eq("(c): the wave found 535.104 and 535.129 accept 535.54",
         sorted([v["535.104"], v["535.129"]]), known)

    # (b) the same select now: 2 + 11 hosts at versions known to accept.
    run.case("(b) 222 at 535.54, known-compatible versions", spec("nvidia-222", "535.54"), {
        "PL": [(200, [v["535.54"]]), (200, known)],
        "PLX": [(200, [v["535.54"]]), (200, known)]}, warm=False)

    # (a) eight hosts run the source's version.
    run.case("(a) 222 at 535.104, same-version hosts", spec("nvidia-222", "535.104"), {
        "PL": [(200, [v["535.104"]])], "PLX": [(200, [v["535.104"]])]}, warm=False)

    # (b) from the matrix: every version group of 223 probed from 535.54.
    for name, sched in run.scheds.items():
        status, body = sched.request("POST", "/v1/matrix", {"type": "nvidia-223"})
        c.eq("matrix 223 on %s" % name, 200, status)
    run.proxy.take()
    m223 = sorted(version_trait("nvidia-223", r) for r in FIXTURES
                  if r != "535.54" and accepts(r, "535.54"))
    run.case("(b) 223 at 535.54, known from the matrix", spec("nvidia-223", "535.54"), {
        "PL": [(200, [version_trait("nvidia-223", "535.54")]), (200, m223)],
        "PLX": [(200, [version_trait("nvidia-223", "535.54")]), (200, m223)]}, warm=False)

    # After warm-up: every case again (234 for a fresh (c)), no root
    # look-ups, at most three queries each.
    v234 = {r: version_trait("nvidia-234", r) for r in FIXTURES}
    c234 = run.case("warm (c) 234 at 535.54", spec("nvidia-234", "535.54"), {
        "PL": [(200, [v234["535.54"]]), (200, [type_trait("nvidia-234")])],
        "PLX": [(200, [v234["535.54"]])]})
    known234 = accepting(c234, "nvidia-234", "535.54")
    c.eq("warm (c) 234: the wave found 535.104 and 535.129 accept 535.54",
         sorted([v234["535.104"], v234["535.129"]]), known234)
    run.case("warm (b) 234 at 535.54", spec("nvidia-234", "535.54"), {
        "PL": [(200, [v234["535.54"]]), (200, known234)],
        "PLX": [(200, [v234["535.54"]]), (200, known234)]})
    run.case("warm (b) 222 at 535.54", spec("nvidia-222", "535.54"), {
        "PL": [(200, [v["535.54"]]), (200, known)], "PLX": [(200, [v["535.54"]]), (200, known)]})
    run.case("warm (a) 222 at 535.104", spec("nvidia-222", "535.104"), {
        "PL": [(200, [v["535.104"]])], "PLX": [(200, [v["535.104"]])]})
    run.case("warm (b) 223 at 535.54, from the matrix", spec("nvidia-223", "535.54"), {
        "PL": [(200, [version_trait("nvidia-223", "535.54")]), (200, m223)],
        "PLX": [(200, [version_trait("nvidia-223", "535.54")]), (200, m223)]})

    unknown_trait(run, v, known)

    for name, sched in run.scheds.items():
        sched.stop()
        c.eq("%s: clean exit, no sanitizer report" % name, (0, False), exit_report(sched))


def unknown_trait(run, v, known):
    """A version the probe cache knows to accept, whose trait Placement no
    longer has: step (b)'s query is refused (400, no such trait) and asked
    again without it."""
    c = run.checks
    collector = run.add_host(HIDDEN, "535.129")
    sim = run.cluster.sims[HIDDEN]
    for parent in PARENTS:
        c.eq("%s: 222 on %s set to %s" % (HIDDEN, parent, HIDDEN_RELEASE), "ok",
             sim.ctl("version", "sys/class/mdev_bus/%s/mdev_supported_types/nvidia-222"
                     % parent, version("nvidia-222", HIDDEN_RELEASE)))
    hidden_trait = version_trait("nvidia-222", HIDDEN_RELEASE)

    def published():
        p = run.placement.provider(HIDDEN)
        if p is None:
            return False
        tree = run.placement.call("GET", "/resource_providers?in_tree=" + p["uuid"])
        return any(hidden_trait in run.placement.traits(child)[0]
                   for child in tree["resource_providers"])

    c.true("%s: every registry and Placement have 535.140" % HIDDEN,
           poll(lambda: run.registries_hold([(HIDDEN, HIDDEN_RELEASE)]) and published(),
                timeout=60))
    reg, out = run.select_all("222 at 535.54, count 20, with " + HIDDEN,
                              spec("nvidia-222", "535.54", 20))
    run.same_answer("222 at 535.54, count 20, with " + HIDDEN, reg, out)
    c.eq("%s accepts 535.54 (probed by every sched)" % HIDDEN,
         [("compatible", None)] * 3,
         [probed(r).get(HIDDEN) for r in (reg, out["PL"][1], out["PLX"][1])])
    # Placement loses the trait (an operator's clean-up); the collector,
    # its inventory unchanged, does not publish it again.
    collector.stop()
    tree = run.placement.call("GET", "/resource_providers?in_tree="
                              + run.placement.provider(HIDDEN)["uuid"])
    for child in tree["resource_providers"]:
        traits, generation = run.placement.traits(child)
        if hidden_trait in traits:
            run.placement.call("PUT", "/resource_providers/%s/traits" % child["uuid"],
                               {"traits": sorted(traits - {hidden_trait}),
                                "resource_provider_generation": generation})
    run.placement.call("DELETE", "/traits/" + hidden_trait)
    c.eq("Placement no longer knows %s's version trait" % HIDDEN, 404,
         run.placement.request("GET", "/traits/" + hidden_trait)[0])
    with_hidden = sorted(known + [hidden_trait])
    reg, out = run.select_all("unknown trait: 222 at 535.54", spec("nvidia-222", "535.54"))
    run.same_answer("unknown trait: 222 at 535.54", reg, out, hosts=False)
    for name in ("PL", "PLX"):
        c.eq("unknown trait: %s: the version query, the refused one, the rest again" % name,
             [(200, [v["535.54"]]), (400, with_hidden), (200, known)],
             trait_queries(out[name][2]))
        c.true("unknown trait: %s: %s not a candidate (Placement does not list it)"
               % (name, HIDDEN), HIDDEN not in probed(out[name][1]))
    c.true("unknown trait: REG probed %s (the registry lists it)" % HIDDEN,
           HIDDEN in probed(reg))


if __name__ == "__main__":
    sys.exit(main())
