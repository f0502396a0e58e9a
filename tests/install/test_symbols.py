"""libmdevmig.so.0 exports exactly its public API (issue 13): the defined
dynamic symbols (nm -D) are the functions include/mdevmig/mdevmig.h
declares with MDEVMIG_API, no more (no common/ or schema/ code leaks) and
no fewer; and the soname is libmdevmig.so.0.

usage: test_symbols.py LIBRARY HEADER   (with /usr/bin/python3)
"""

import re
import subprocess
import sys


def main():
    library, header = sys.argv[1], sys.argv[2]
    failed = 0
    out = subprocess.run(["nm", "-D", "--defined-only", library], check=True,
                         capture_output=True, text=True).stdout
    # Type A: the version node (MDEVMIG_0), not a symbol of the API.
    exported = {f[2].split("@")[0] for f in (ln.split() for ln in out.splitlines())
                if len(f) == 3 and f[1] != "A"}
    with open(header) as f:
        declared = set(re.findall(r"^MDEVMIG_API [^(]*?\b(mdevmig_\w+)\(", f.read(), re.M))
    for name, extra in (("exported but not declared", exported - declared),
                        ("declared but not exported", declared - exported)):
        ok = not extra
        failed += not ok
        print("%s - nothing %s%s" % ("ok" if ok else "not ok", name,
                                     "" if ok else ": " + ", ".join(sorted(extra))))
    ok = bool(exported) and all(n.startswith("mdevmig_") for n in exported)
    failed += not ok
    print("%s - %d symbols, all mdevmig_*" % ("ok" if ok else "not ok", len(exported)))
    dyn = subprocess.run(["readelf", "-d", library], check=True, capture_output=True,
                         text=True).stdout
    ok = "Library soname: [libmdevmig.so.0]" in dyn
    failed += not ok
    print("%s - soname libmdevmig.so.0" % ("ok" if ok else "not ok"))
    print("%d passed, %d failed" % (4 - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
