"""A probe never writes outside sysfs_root (issue 12). Real sysfs has no
symlink an attacker could plant, but sysfs_root may name another tree: a
copy of an mdevsim tree, made here, with two traps planted in it:

  - one type's migration_version is a symlink to a file outside the tree:
    the probe answers 503 (the write did not reach a driver), and the file
    is untouched;
  - one parent's class/mdev_bus link leads outside the tree: the probe of
    its type answers 503 naming sysfs_root, and the file there is untouched;
  - a type left as it was still gets its verdict.

usage: test_collector_symlinks.py BUILD_DIR SOURCE_DIR   (with /usr/bin/python3)
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Checks, Collector, Sim  # noqa: E402

PARENT = "0000:3b:00.0"
OTHER_PARENT = "0000:d8:00.0"
TYPES = "mdev_supported_types"


def copy_tree(build, source, root):
    """The sysfs tree mdevsim serves for gpu-d, copied as plain files."""
    sim_root = os.path.join(root, "sim")
    os.makedirs(sim_root)
    sim = Sim(os.path.join(build, "tests/sim/mdevsim"),
              os.path.join(source, "deploy/cluster/gpu-d.json"), sim_root)
    sim.start()
    try:
        # Write-only attributes (create, remove) cannot be read: cp says so
        # and copies the rest, which is all a scan reads.
        subprocess.run(["cp", "-a", sim.sysfs, os.path.join(root, "copy")],
                       stderr=subprocess.DEVNULL)
    finally:
        sim.stop()
    return os.path.join(root, "copy")


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    root = tempfile.mkdtemp(prefix="mdevmig-symlinks.")
    collector = None
    try:
        tree = copy_tree(build, source, root)
        types = os.path.join(tree, "class/mdev_bus", PARENT, TYPES)
        checks.true("the copy holds the parent's types", os.path.isdir(types))

        victim = os.path.join(root, "victim")
        with open(victim, "w") as f:
            f.write("untouched\n")
        attr = os.path.join(types, "nvidia-223", "migration_version")
        os.unlink(attr)
        os.symlink(victim, attr)

        outside = os.path.join(root, "outside")
        parent_link = os.path.join(tree, "class/mdev_bus", OTHER_PARENT)
        shutil.copytree(os.path.realpath(parent_link), outside, symlinks=True)
        other_attr = os.path.join(outside, TYPES, "nvidia-222", "migration_version")
        with open(other_attr, "w") as f:
            f.write("untouched\n")
        os.unlink(parent_link)
        os.symlink(outside, parent_link)

        class Tree:
            sysfs = tree
        collector = Collector(os.path.join(build, "collector/mdevmig-collector"), "gpu-d", Tree,
                              root, "127.0.0.2")
        collector.start()
        version = "10de:1eb8:nvidia-22%s-535.104"

        status, body = collector.probe("nvidia-223", version % "3", parent=PARENT)
        checks.eq("a symlinked migration_version: 503", 503, status)
        checks.true("it says the attribute is a symbolic link (%r)" % body,
                    "symbolic link" in str(body))
        checks.eq("the file it points at is untouched", "untouched\n", open(victim).read())

        status, body = collector.probe("nvidia-222", version % "2", parent=OTHER_PARENT)
        checks.eq("a parent linked outside sysfs_root: 503", 503, status)
        checks.true("it names sysfs_root (%r)" % body, "outside sysfs_root" in str(body))
        checks.eq("the file outside is untouched", "untouched\n", open(other_attr).read())

        status, body = collector.probe("nvidia-222", version % "2", parent=PARENT)
        checks.eq("an untouched type still answers", 200, status)
        checks.true("with a verdict (%r)" % body,
                    isinstance(body, dict) and body.get("verdict") in ("compatible",
                                                                       "incompatible"))
    finally:
        if collector is not None:
            collector.stop()
            log = open(collector.log).read()
            checks.true("no sanitizer report", "Sanitizer" not in log and "runtime error" not in log)
        shutil.rmtree(root, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
