#!/usr/bin/env bash
# Makes a test CA and certificates (tests/integration/tlsca.py, the openssl
# command), runs test_tls on them, and removes them again.
set -euo pipefail
binary=$1
source_dir=$2
work=$(mktemp -d /tmp/mdevmig-tls-unit.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$source_dir/tests/integration" "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from tlsca import CA
ca = CA(sys.argv[2] + "/ca")
other = CA(sys.argv[2] + "/other", name="other-ca")
ca.issue("gpu-a", dns=["gpu-a"], ips=["127.0.0.1"])
ca.issue("gpu-b", dns=["gpu-b"], ips=["127.0.0.1"])
ca.issue("old", dns=["gpu-b"], expired=True)
ca.issue("one", dns=["one"], ips=["127.0.0.1"])
ca.issue("two", dns=["two"], ips=["127.0.0.1"])
other.issue("gpu-b", dns=["gpu-b"], ips=["127.0.0.1"])
PY
"$binary" "$work"
