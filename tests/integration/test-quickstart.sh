#!/usr/bin/env bash
# The quickstart runs to the end and leaves nothing behind, and an
# interrupted quickstart (SIGINT while the cluster is up) cleans up too:
# no FUSE mount, no mdevsim process, no work folder.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
passes=0
check() {
    if [ "$2" = "$3" ]; then
        passes=$((passes + 1)); echo "ok - $1"
    else
        fails=$((fails + 1)); echo "not ok - $1 (expected '$2', got '$3')"
    fi
}
leftovers() {  # mounts, processes (mdevsim, collectors, sched) and the folder of run $1
    local n
    n=$(grep -c " $1/" /proc/mounts)
    n=$((n + $(pgrep -f -- "$1/" | wc -l)))
    [ -d "$1" ] && n=$((n + 1))
    echo "$n"
}

log=$(mktemp)
MDEVMIG_BUILD=$BUILD_DIR "$top/deploy/quickstart" >"$log" 2>&1
check "quickstart exits 0" 0 "$?"
work=$(grep -o '/tmp/mdevmig-quickstart\.[A-Za-z0-9]*' "$log" | head -n 1)
check "quickstart names its work folder" yes "$([ -n "$work" ] && echo yes || echo no)"
tab=$(printf '\t')
check "quickstart lists gpu-a's inventory with its VMs" 2 \
    "$(grep -c "^device${tab}gpu-a${tab}.*instance-00000a0" "$log")"
check "quickstart groups hosts by version" 4 "$(grep -c "^group${tab}nvidia-222${tab}" "$log")"
check "quickstart selects gpu-d, confirmed compatible" 2 \
    "$(grep -c "^host${tab}gpu-d${tab}compatible" "$log")"
check "quickstart shows gpu-b refusing with the vendor errno" 1 \
    "$(grep -c "^host${tab}gpu-b${tab}incompatible${tab}EINVAL" "$log")"
check "quickstart shows gpu-e without capacity" 2 "$(grep -c "^host${tab}gpu-e${tab}no-capacity" "$log")"
check "after gpu-b's driver upgrade it is a destination" 1 \
    "$(grep -c "^destination${tab}gpu-b$" "$log")"
check "quickstart plans gpu-a's evacuation: both VMs placed, versions live" 1 \
    "$(grep -c "^plan${tab}gpu-a${tab}spread${tab}2${tab}2${tab}0${tab}live${tab}" "$log")"
check "the evacuation plan puts each VM on gpu-d, the one driver that takes 535.104" 2 \
    "$(grep -c "^vm${tab}[12]${tab}4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a0[12]${tab}instance-00000a0[12]${tab}placed${tab}gpu-d${tab}" "$log")"
check "the evacuation plan shows gpu-b's refusal it probed" 1 \
    "$(grep -c "^probe${tab}1${tab}gpu-b${tab}nvidia-222${tab}type${tab}.*${tab}incompatible${tab}EINVAL${tab}" "$log")"
check "the evacuation plan as openstack server migrate lines" 2 \
    "$(grep -cx "openstack --os-compute-api-version 2.30 server migrate --live-migration --host gpu-d 4f7a0c1e-2b3d-4e5f-9a8b-7c6d5e4f3a0[12]" "$log")"
check "quickstart leaves nothing behind" 0 "$(leftovers "$work")"

# A background job of a script starts with SIGINT ignored; put the default
# back, as an operator's terminal has it, before the quickstart starts.
with_default_signals() {
    exec /usr/bin/python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

for sig in INT TERM; do
    MDEVMIG_BUILD=$BUILD_DIR MDEVMIG_QUICKSTART_PAUSE=60 \
        with_default_signals "$top/deploy/quickstart" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do
        grep -q 'quickstart: paused' "$log" && break
        sleep 0.1
    done
    work=$(grep -o '/tmp/mdevmig-quickstart\.[A-Za-z0-9]*' "$log" | head -n 1)
    check "SIG$sig: the cluster was mounted" 5 "$(grep -c " $work/" /proc/mounts)"
    kill -"$sig" "$pid"
    wait "$pid"
    check "SIG$sig: quickstart exits 130" 130 "$?"
    check "SIG$sig: quickstart leaves nothing behind" 0 "$(leftovers "$work")"
done
rm -f "$log"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
