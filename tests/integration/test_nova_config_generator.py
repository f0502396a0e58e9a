"""The Nova filter's options as oslo.config's tools see them (issue 13):

  - importing the package mdevmig_nova registers the [mdevmig] options on
    oslo.config's global CONF, and mdevmig_nova.conf.list_opts() gives
    [(group, options)];
  - plugin/nova/setup.cfg, through Debian's python3-setuptools
    (`setup.py egg_info`), makes metadata with the oslo.config.opts entry
    point mdevmig_nova -> mdevmig_nova.conf:list_opts and the project's
    version (the one CMake's project() gave this build);
  - with that metadata and the package laid out as an install puts them
    (a site directory holding mdevmig_nova/ and
    mdevmig_nova-VERSION.egg-info/, on PYTHONPATH only: nothing is
    installed), Debian's `oslo-config-generator --namespace mdevmig_nova`
    prints an [mdevmig] section with every option conf.py defines, in
    order, each with its help;
  - deploy/nova/nova.conf.example names exactly those options in its
    [mdevmig] section, each under a comment that documents it, with the
    generator's default wherever the option has one, and parses.

The source tree is left as it was (setup.py writes only into the test's
folder, which is removed).

usage: test_nova_config_generator.py BUILD_DIR SOURCE_DIR
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks  # noqa: E402

PYTHON = "/usr/bin/python3"
GENERATOR = "/usr/bin/oslo-config-generator"
NAMESPACE = "mdevmig_nova"
ENTRY_POINT = "mdevmig_nova.conf:list_opts"
# An option line as oslo-config-generator and nova.conf.example write it:
# "#name = value" (commented out) or "name = value"; help is "# text".
OPTION_LINE = re.compile(r"^#?([a-z][a-z0-9_]*) = ?(.*)$")


def project_version(build):
    """The version CMake's project() gave this build."""
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        m = re.search(r"^CMAKE_PROJECT_VERSION:STATIC=([0-9.]+)$", f.read(), re.M)
    return m.group(1) if m else None


def tree_state(folder):
    """(path, size, mtime) of every file under folder but caches."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            st = os.stat(os.path.join(dirpath, name))
            out.append((os.path.relpath(os.path.join(dirpath, name), folder), st.st_size,
                        st.st_mtime_ns))
    return sorted(out)


def sections(text):
    """{section: [lines]} of an INI text, in order."""
    out, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^\[([^\]]+)\]\s*$", line)
        if m:
            current = m.group(1)
            out.setdefault(current, [])
        elif current is not None:
            out[current].append(line)
    return out


def options_in(lines):
    """[(name, value, index)] of the option lines among lines."""
    found = []
    for i, line in enumerate(lines):
        m = OPTION_LINE.match(line)
        if m:
            found.append((m.group(1), m.group(2).strip(), i))
    return found


def documented(lines, index):
    """Is the option at lines[index] under a comment saying something?
    Other option lines directly above it share that comment."""
    i = index - 1
    while i >= 0 and OPTION_LINE.match(lines[i]):
        i -= 1
    prose = 0
    while i >= 0 and lines[i].startswith("#") and not OPTION_LINE.match(lines[i]):
        if lines[i].strip("# \t"):
            prose += 1
        i -= 1
    return prose > 0


def make_site(checks, source, root, version):
    """The package and its metadata as an install lays them out; None when
    setup.py fails."""
    nova_dir = os.path.join(source, "plugin/nova")
    before = tree_state(nova_dir)
    egg_base = os.path.join(root, "egg-base")
    os.makedirs(egg_base)
    run = subprocess.run([PYTHON, "setup.py", "-q", "egg_info", "--egg-base", egg_base],
                         cwd=nova_dir, capture_output=True, text=True, timeout=120)
    checks.eq("setup.py egg_info (python3-setuptools) succeeds%s"
              % (": " + run.stderr[-600:] if run.returncode else ""), 0, run.returncode)
    checks.eq("setup.py egg_info writes nothing into the source tree", before,
              tree_state(nova_dir))
    egg_info = os.path.join(egg_base, "mdevmig_nova.egg-info")
    if run.returncode != 0 or not os.path.isdir(egg_info):
        return None
    with open(os.path.join(egg_info, "entry_points.txt")) as f:
        entry_points = f.read()
    checks.true("entry_points.txt: [oslo.config.opts] %s = %s" % (NAMESPACE, ENTRY_POINT),
                re.search(r"^\[oslo\.config\.opts\]\n(?:.*\n)*?%s = %s$"
                          % (re.escape(NAMESPACE), re.escape(ENTRY_POINT)), entry_points, re.M))
    with open(os.path.join(egg_info, "PKG-INFO")) as f:
        pkg_info = f.read()
    checks.true("PKG-INFO: Version %s, the project's (CMake's project())" % version,
                version and re.search(r"^Version: %s$" % re.escape(version), pkg_info, re.M))
    with open(os.path.join(egg_info, "top_level.txt")) as f:
        checks.eq("top_level.txt: the one package mdevmig_nova", ["mdevmig_nova"],
                  f.read().split())
    site = os.path.join(root, "site")
    shutil.copytree(os.path.join(nova_dir, "mdevmig_nova"), os.path.join(site, "mdevmig_nova"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(egg_info, os.path.join(site, "mdevmig_nova-%s.egg-info" % version))
    return site


def python_env(site):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = site
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


PROBE = r"""
import importlib.metadata as md, json, sys
import mdevmig_nova
from oslo_config import cfg
registered = list(cfg.CONF.mdevmig)   # by importing the package alone
from mdevmig_nova import conf
listing = conf.list_opts()
eps = [e for e in md.entry_points(group="oslo.config.opts") if e.name == "mdevmig_nova"]
print(json.dumps({
    "package": mdevmig_nova.__file__,
    "registered": registered,
    "shape": [[type(g).__name__, g.name, [type(o).__name__ for o in opts]] for g, opts in listing]
             if isinstance(listing, list) else repr(type(listing)),
    "options": [o.name for g, opts in listing for o in opts] if isinstance(listing, list) else [],
    "defaults": {o.name: o.default for g, opts in listing for o in opts}
                if isinstance(listing, list) else {},
    "entry_points": sorted({e.value for e in eps}),
}))
"""


def check_package(checks, site):
    run = subprocess.run([PYTHON, "-c", PROBE], env=python_env(site), capture_output=True,
                         text=True, timeout=120)
    checks.eq("the package imports from the site directory%s"
              % (": " + run.stderr[-600:] if run.returncode else ""), 0, run.returncode)
    if run.returncode != 0:
        return None
    import json
    got = json.loads(run.stdout)
    checks.true("mdevmig_nova comes from the test's site directory (%s)" % got["package"],
                got["package"].startswith(site + os.sep))
    checks.true("list_opts(): [(OptGroup 'mdevmig', [Opt, ...])] (%r)" % (got["shape"],),
                isinstance(got["shape"], list) and len(got["shape"]) == 1 and
                got["shape"][0][:2] == ["OptGroup", "mdevmig"] and got["shape"][0][2])
    checks.eq("importing the package registers every [mdevmig] option on cfg.CONF",
              sorted(got["options"]), sorted(got["registered"]))
    checks.eq("the oslo.config.opts entry point %s, seen by importlib.metadata" % NAMESPACE,
              [ENTRY_POINT], got["entry_points"])
    return got


def check_generator(checks, site, root, opts):
    run = subprocess.run([GENERATOR, "--namespace", NAMESPACE], env=python_env(site),
                         cwd=root, capture_output=True, text=True, timeout=120)
    checks.eq("oslo-config-generator --namespace %s exits 0%s"
              % (NAMESPACE, ": " + run.stderr[-800:] if run.returncode else ""),
              0, run.returncode)
    checks.true("oslo-config-generator: no traceback or warning on stderr (%r)"
                % run.stderr[-300:], "Traceback" not in run.stderr and
                "WARNING" not in run.stderr)
    generated = sections(run.stdout)
    lines = generated.get("mdevmig")
    checks.true("the sample has an [mdevmig] section", lines is not None)
    if lines is None:
        return {}
    found = options_in(lines)
    checks.eq("[mdevmig] lists every option conf.py defines, in its order",
              opts["options"], [name for name, _, _ in found])
    checks.eq("[mdevmig]: every option has its help above it", [],
              [name for name, _, i in found if not documented(lines, i)])
    checks.true("[mdevmig]: the group's help is there",
                any("Where MdevMigrationFilter finds mdevmig-sched" in line for line in lines))
    checks.eq("the sample has nothing in [DEFAULT] nor other sections",
              ({"DEFAULT", "mdevmig"}, []),
              (set(generated), [line for line in generated.get("DEFAULT", []) if line.strip()]))
    return {name: value for name, value, _ in found}


def check_example(checks, source, opts, generated):
    example = os.path.join(source, "deploy/nova/nova.conf.example")
    with open(example) as f:
        lines = sections(f.read()).get("mdevmig", [])
    found = options_in(lines)
    names = [name for name, _, _ in found]
    checks.eq("nova.conf.example [mdevmig]: exactly the options conf.py defines",
              sorted(opts["options"]), sorted(names))
    checks.eq("nova.conf.example [mdevmig]: each option once", [],
              sorted({n for n in names if names.count(n) > 1}))
    checks.eq("nova.conf.example [mdevmig]: each option documented by the comment above it",
              [], [name for name, _, i in found if not documented(lines, i)])
    with_default = {n: v for n, v in generated.items() if opts["defaults"].get(n) is not None}
    checks.eq("nova.conf.example [mdevmig]: the generator's default wherever there is one",
              with_default, {n: v for n, v, _ in found if n in with_default})
    from oslo_config import cfg
    sys.path.insert(0, os.path.join(source, "plugin/nova"))
    from mdevmig_nova import conf as mdevmig_conf
    own = cfg.ConfigOpts()
    mdevmig_conf.register_opts(own)
    try:
        own(["--config-file", example], project="nova", default_config_files=[])
        parsed = {o.name: getattr(own.mdevmig, o.name) for o in mdevmig_conf.mdevmig_opts}
    except cfg.Error as e:
        parsed = "does not parse: %s" % e
    checks.eq("nova.conf.example parses; every [mdevmig] value its default (all commented out)",
              {o.name: o.default for o in mdevmig_conf.mdevmig_opts}, parsed)


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    for tool in (PYTHON, GENERATOR):
        checks.true("%s is there (deploy/install-deps: python3-oslo.config)" % tool,
                    os.access(tool, os.X_OK))
    version = project_version(build)
    root = tempfile.mkdtemp(prefix="mdevmig-nova-config.")
    try:
        site = make_site(checks, source, root, version)
        opts = site and check_package(checks, site)
        if opts:
            generated = check_generator(checks, site, root, opts)
            check_example(checks, source, opts, generated)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
