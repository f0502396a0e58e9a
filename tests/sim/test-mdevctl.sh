#!/usr/bin/env bash
# Unmodified mdevctl against mdevsim: the distribution's mdevctl (1.2.0 on
# Debian 12, which has no alternate-root option) must read and drive a tree
# mdevsim serves exactly as it does a kernel's. Every mdevctl call runs in
# a fresh private mount namespace (unshare -m --propagation private) where
# "$SIM_ROOT/sys" is bound over /sys and an empty configuration folder over
# /etc/mdevctl.d; the namespace and its mounts vanish with the call, so the
# host's /sys and /etc/mdevctl.d are never touched.
#
# For t4.json and i915.json it checks that
#   - `mdevctl types` (all parents, and -p PARENT) prints every parent and
#     type with its name, available instances, device_api and description,
#     exactly as computed from the fixture; `types --dumpjson` is JSON with
#     the same content;
#   - `mdevctl list` (all, -p, -u) and `list --dumpjson` show the fixture's
#     devices with their parent and type;
#   - `mdevctl start -u UUID -p PARENT -t TYPE` on every type creates a
#     device that appears in "$SIM_ROOT/sys/bus/mdev/devices" (seen from
#     outside the namespace), in the type's devices/ folder and in
#     `mdevctl list`, and available_instances drops by one; mdevctl's one
#     write(2) is one store call on `create`; `start` without -u prints the
#     UUID it made; an exhausted type is refused by mdevctl itself; a store
#     refused by the "kernel" (a control-channel fault) fails the start;
#     a UUID already in use is refused;
#   - `mdevctl stop -u UUID` removes started and fixture-born devices (and
#     fails, leaving the device, when the remove store is refused), and
#     available_instances rises again.
#
# Environment: MDEVSIM, MDEVSIMCTL (the binaries), FIXTURES (the fixtures
# folder); MDEVCTL may name another mdevctl (default /usr/bin/mdevctl).
# Run as root: it mounts FUSE file systems and makes mount namespaces.
# Exits 77 when mdevctl, unshare or root is missing.

export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

: "${MDEVSIM:?set MDEVSIM to the mdevsim binary}"
: "${MDEVSIMCTL:?set MDEVSIMCTL to the mdevsimctl binary}"
: "${FIXTURES:?set FIXTURES to the fixtures folder}"

MDEVCTL=${MDEVCTL:-/usr/bin/mdevctl}
PY=/usr/bin/python3

skip() {
    echo "1..0 # SKIP $*"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts, mount namespaces)"
[ -x "$MDEVCTL" ] || skip "no mdevctl at $MDEVCTL"
command -v unshare >/dev/null || skip "no unshare (util-linux)"
[ -x "$PY" ] || skip "no $PY"
[ -d /etc/mdevctl.d ] || skip "no /etc/mdevctl.d to bind a private folder over"

echo "# $("$MDEVCTL" --version 2>&1)"

# An empty mdevctl configuration: no defined devices, and the two script
# folders mdevctl's self-check requires.
SIM_CONF="$SIM_WORK/etc-mdevctl.d"
mkdir -p "$SIM_CONF/scripts.d/callouts" "$SIM_CONF/scripts.d/notifiers"
STATE="$SIM_WORK/state"     # the devices that should exist: "uuid parent type"
EXPECT="$SIM_WORK/expect.py"

# ---------------------------------------------------------------- helpers

# mdevctl_ns ARGS...: mdevctl ARGS in a private mount namespace that sees
# the simulated tree as /sys and the private folder as /etc/mdevctl.d.
mdevctl_ns() {
    timeout 30 unshare -m --propagation private -- /bin/sh -c '
        mount --bind "$1/sys" /sys || exit 125
        mount --bind "$2" /etc/mdevctl.d || exit 125
        shift 2
        exec "$@"' mdevctl-ns "$SIM_ROOT" "$SIM_CONF" "$MDEVCTL" "$@"
}

# run ARGS...: mdevctl_ns ARGS; sets OUT (stdout), ERR (stderr), RC.
run() {
    OUT=$(mdevctl_ns "$@" 2>"$SIM_WORK/stderr")
    RC=$?
    ERR=$(cat "$SIM_WORK/stderr")
}

# check_text NAME EXPECTED ACTUAL: check, with a diff when they differ.
check_text() {
    if [ "$2" = "$3" ]; then
        check "$1" same same
    else
        check "$1" "the text below (- expected, + actual)" "different"
        diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3 | sed 's/^/    # /'
    fi
}

# contains NAME NEEDLE HAYSTACK: check that HAYSTACK contains NEEDLE.
contains() {
    case $3 in
        *"$2"*) check "$1" "contains '$2'" "contains '$2'" ;;
        *) check "$1" "contains '$2'" "$3" ;;
    esac
}

# expect ARGS...: the helper below; a failure of its own (often inside a
# command substitution) is recorded and fails the run at the end.
expect() {
    "$PY" "$EXPECT" "$@" || { echo "expect.py $*: failed" >>"$SIM_WORK/expect-failures"; return 1; }
}

# What mdevctl must print, computed from the fixture and $STATE.
cat >"$EXPECT" <<'EOF'
import json, os, sys

def fixture(path):
    with open(path) as f:
        fx = json.load(f)
    out = []
    for p in fx["parents"]:
        path_ = p.get("path") or "pci0000:00/" + p["name"]
        out.append((p["name"], path_, p["types"]))
    return fx, out

def state(path):
    with open(path) as f:
        return [l.split() for l in f if l.strip()]

def avail(st, parent, t):
    return t["max_instances"] - sum(1 for _, p, ty in st if p == parent and ty == t["id"])

def clean(s):       # mdevctl: trim(), then description's newlines -> ", "
    return s.strip().replace("\n", ", ")

def types_map(parents, st):
    m = {}
    for name, _, types in parents:
        m[name] = {}
        for t in types:
            e = {"available_instances": avail(st, name, t),
                 "device_api": clean(t["device_api"])}
            if clean(t.get("name", "")):
                e["name"] = clean(t["name"])
            if clean(t.get("description", "")):
                e["description"] = clean(t["description"])
            m[name][t["id"]] = e
    return m

def list_map(parents, st):
    base = {name: os.path.basename(path) for name, path, _ in parents}
    m = {}
    for u, p, t in st:
        m.setdefault(base[p], {})[u] = {"mdev_type": t, "start": "manual", "attrs": []}
    return m

def canon(data, inner):
    # mdevctl's JSON: [ {PARENT: [ {KEY: VALUE}, ... ]}, ... ]
    m = {}
    for obj in data:
        for parent, lst in obj.items():
            d = m.setdefault(parent, {})
            for e in lst:
                for k, v in e.items():
                    d[k] = inner(v)
    return m

def drop_empty(v):
    return {k: x for k, x in v.items() if not (k in ("name", "description") and x == "")}

def dump(m):
    print(json.dumps(m, sort_keys=True, indent=1))

cmd = sys.argv[1]
if cmd == "canon-types":
    dump(canon(json.load(sys.stdin), drop_empty))
    sys.exit(0)
if cmd == "canon-list":
    dump(canon(json.load(sys.stdin), lambda v: v))
    sys.exit(0)
if cmd == "field":      # field KEY: one key of a JSON object on stdin
    print(json.load(sys.stdin).get(sys.argv[2], "(missing)"))
    sys.exit(0)

fx, parents = fixture(sys.argv[2])
if cmd == "init":       # the fixture's devices, as state lines
    for d in fx.get("devices", []):
        print(d["uuid"].lower(), d["parent"], d["type"])
    sys.exit(0)
if cmd == "parents":            # NAME PATH
    for name, path, _ in parents:
        print(name, path)
    sys.exit(0)
st = state(sys.argv[3])
if cmd == "types-text":         # [PARENT]
    only = sys.argv[4] if len(sys.argv) > 4 else None
    tm = types_map(parents, st)
    lines = []
    for name in sorted(tm):
        if only is not None and name != only:
            continue
        lines.append(name)
        for tid in sorted(tm[name]):
            e = tm[name][tid]
            lines.append("  " + tid)
            lines.append("    Available instances: %d" % e["available_instances"])
            lines.append("    Device API: " + e["device_api"])
            if "name" in e:
                lines.append("    Name: " + e["name"])
            if "description" in e:
                lines.append("    Description: " + e["description"])
    print("\n".join(lines))
elif cmd == "types-json":
    dump(types_map(parents, st))
elif cmd == "list-text":        # [PARENT-BASENAME], sorted
    only = sys.argv[4] if len(sys.argv) > 4 else None
    lm = list_map(parents, st)
    lines = sorted("%s %s %s manual" % (u, p, v["mdev_type"])
                   for p in lm for u, v in lm[p].items() if only in (None, p))
    print("\n".join(lines))
elif cmd == "list-json":
    dump(list_map(parents, st))
elif cmd == "slots":            # NAME PATH TYPE AVAILABLE, fixture order
    for name, path, types in parents:
        for t in types:
            print(name, path, t["id"], avail(st, name, t))
else:
    sys.exit("expect.py: unknown command " + cmd)
EOF

# host_avail PARENT TYPE: available_instances as read from outside.
host_avail() {
    local v
    v=$(cat "$SIM_ROOT/sys/class/mdev_bus/$1/mdev_supported_types/$2/available_instances" 2>&1) || v="ERROR: $v"
    echo "$v"
}

# host_devices: the UUIDs in sys/bus/mdev/devices, seen from outside.
host_devices() {
    ls -1 "$SIM_ROOT/sys/bus/mdev/devices" 2>&1 | sort
}

# views LABEL FIXTURE: everything mdevctl shows must match $STATE.
views() {
    local label=$1 fx=$2 name path j

    run types
    check "$label: types exits 0" "0" "$RC${ERR:+ $ERR}"
    check_text "$label: types lists every parent and type" \
        "$(expect types-text "$fx" "$STATE")" "$OUT"

    run types --dumpjson
    check "$label: types --dumpjson exits 0" "0" "$RC${ERR:+ $ERR}"
    j=$OUT
    check "$label: types --dumpjson is JSON" ok \
        "$(printf '%s' "$j" | "$PY" -m json.tool >/dev/null 2>&1 && echo ok || echo "not JSON: $j")"
    check_text "$label: types --dumpjson content" \
        "$(expect types-json "$fx" "$STATE")" \
        "$(printf '%s' "$j" | expect canon-types 2>&1)"

    run list
    check "$label: list exits 0" "0" "$RC${ERR:+ $ERR}"
    check_text "$label: list shows every device with parent and type" \
        "$(expect list-text "$fx" "$STATE")" "$(printf '%s\n' "$OUT" | sed '/^$/d' | sort)"

    run list --dumpjson
    check "$label: list --dumpjson exits 0" "0" "$RC${ERR:+ $ERR}"
    j=$OUT
    check "$label: list --dumpjson is JSON" ok \
        "$(printf '%s' "$j" | "$PY" -m json.tool >/dev/null 2>&1 && echo ok || echo "not JSON: $j")"
    check_text "$label: list --dumpjson content" \
        "$(expect list-json "$fx" "$STATE")" \
        "$(printf '%s' "$j" | expect canon-list 2>&1)"

    check_text "$label: sys/bus/mdev/devices seen from outside" \
        "$(cut -d' ' -f1 "$STATE" | sort)" "$(host_devices)"

    check "$label: fixture has parents" yes \
        "$([ -n "$(expect parents "$fx")" ] && echo yes || echo no)"
    while read -r name path; do
        run types -p "$name"
        check_text "$label: types -p $name" \
            "$(expect types-text "$fx" "$STATE" "$name")" "$OUT"
        run list -p "$name"
        check_text "$label: list -p $name" \
            "$(expect list-text "$fx" "$STATE" "${path##*/}")" \
            "$(printf '%s\n' "$OUT" | sed '/^$/d' | sort)"
    done < <(expect parents "$fx")
}

# start_ok LABEL UUID PARENT PATH TYPE: mdevctl start, then check the tree
# from outside; the device joins $STATE.
start_ok() {
    local label=$1 u=$2 p=$3 path=$4 t=$5 before after create
    create="sys/class/mdev_bus/$p/mdev_supported_types/$t/create"
    before=$(host_avail "$p" "$t")
    sim_ctl reset-counts "$create" >/dev/null
    run start -u "$u" -p "$p" -t "$t"
    check "$label: start -u $u -p $p -t $t" "0" "$RC${ERR:+ $ERR}"
    check "$label: $u in sys/bus/mdev/devices (outside)" \
        "../../../devices/$path/$u" "$(readlink "$SIM_ROOT/sys/bus/mdev/devices/$u" 2>&1)"
    check "$label: $u in $t/devices" yes \
        "$([ -L "$SIM_ROOT/sys/devices/$path/mdev_supported_types/$t/devices/$u" ] && echo yes || echo no)"
    check "$label: $u mdev_type is $t" "$t" \
        "$(basename "$(readlink -f "$SIM_ROOT/sys/bus/mdev/devices/$u/mdev_type")")"
    after=$(host_avail "$p" "$t")
    check "$label: available_instances of $p/$t drops by one" \
        "$((before - 1))" "$after"
    check "$label: mdevctl's create is one store call" "ok reads=0 writes=1" \
        "$(sim_ctl counts "$create" 2>&1)"
    echo "$u $p $t" >>"$STATE"
}

# stop_ok LABEL UUID PARENT TYPE: mdevctl stop; the device leaves $STATE.
stop_ok() {
    local label=$1 u=$2 p=$3 t=$4 before
    before=$(host_avail "$p" "$t")
    run stop -u "$u"
    check "$label: stop -u $u" "0" "$RC${ERR:+ $ERR}"
    check "$label: $u gone from sys/bus/mdev/devices (outside)" gone \
        "$([ -e "$SIM_ROOT/sys/bus/mdev/devices/$u" ] || [ -L "$SIM_ROOT/sys/bus/mdev/devices/$u" ] && echo present || echo gone)"
    check "$label: $u gone from $t/devices" gone \
        "$([ -L "$SIM_ROOT/sys/class/mdev_bus/$p/mdev_supported_types/$t/devices/$u" ] && echo present || echo gone)"
    check "$label: available_instances of $p/$t rises by one" \
        "$((before + 1))" "$(host_avail "$p" "$t")"
    grep -v "^$u " "$STATE" >"$STATE.new"
    mv "$STATE.new" "$STATE"
}

# sim_stop LABEL: take this fixture's mdevsim down before the next one.
sim_stop() {
    if [ -n "$SIM_PID" ]; then
        kill -TERM "$SIM_PID" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$SIM_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -0 "$SIM_PID" 2>/dev/null && kill -KILL "$SIM_PID" 2>/dev/null
        wait "$SIM_PID" 2>/dev/null
        SIM_PID=""
    fi
    if grep -qs " $SIM_ROOT " /proc/mounts; then
        fusermount3 -u "$SIM_ROOT" 2>/dev/null || fusermount3 -uz "$SIM_ROOT" 2>/dev/null
    fi
    check "$1: tree unmounted" no "$(grep -qs " $SIM_ROOT " /proc/mounts && echo yes || echo no)"
    rm -f "$SIM_SOCK"
}

# ---------------------------------------------------------------- the run

host_conf_before=$(find /etc/mdevctl.d -printf '%p %y %m %s %T@\n' | sort)
host_sys_before=$(stat -f -c %T /sys)

FIXN=0
exercise() {
    local fx=$FIXTURES/$1 label=${1%.json} n=0 u p path t a started=() fu fp ft
    FIXN=$((FIXN + 1))
    if ! sim_start "$fx"; then
        check "$label: mdevsim mounts $1" ok failed
        SIM_PID=""
        return
    fi
    check "$label: mdevsim mounts $1" ok ok
    expect init "$fx" >"$STATE"
    newuuid() { n=$((n + 1)); u=$(printf '5a1e%04x-0000-4000-8000-%012x' "$FIXN" "$n"); }

    views "$label fixture" "$fx"

    # Every fixture device, one at a time.
    while read -r fu fp ft; do
        run list -u "$fu"
        check "$label: list -u $fu" "$fu ${fp} $ft manual" "$(printf '%s\n' "$OUT" | sed '/^$/d')"
        run list -u "$fu" --dumpjson
        check "$label: list -u $fu --dumpjson mdev_type" "$ft" \
            "$(printf '%s' "$OUT" | expect field mdev_type 2>&1)"
    done <"$STATE"

    # One new device on every type that has room.
    while read -r p path t a; do
        [ "$a" -gt 0 ] || continue
        newuuid
        start_ok "$label" "$u" "$p" "$path" "$t"
        started+=("$u $p $t")
    done < <(expect slots "$fx" "$STATE")
    views "$label after start" "$fx"

    # start without -u: mdevctl makes the UUID and prints it.
    read -r p path t a < <(expect slots "$fx" "$STATE" | awk '$4 > 0' | head -1)
    run start -p "$p" -t "$t"
    check "$label: start -p $p -t $t (no uuid)" "0" "$RC${ERR:+ $ERR}"
    if [[ $OUT =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; then
        check "$label: start prints the UUID it made" uuid uuid
        check "$label: $OUT in sys/bus/mdev/devices (outside)" \
            "../../../devices/$path/$OUT" "$(readlink "$SIM_ROOT/sys/bus/mdev/devices/$OUT" 2>&1)"
        echo "$OUT $p $t" >>"$STATE"
        started+=("$OUT $p $t")
    else
        check "$label: start prints the UUID it made" uuid "$OUT"
    fi

    # Fill the tightest type, then one more: mdevctl refuses it itself
    # (it reads available_instances 0) and never writes create.
    read -r p path t a < <(expect slots "$fx" "$STATE" | sort -k4,4n -s | head -1)
    while [ "$a" -gt 0 ]; do
        newuuid
        start_ok "$label fill" "$u" "$p" "$path" "$t"
        started+=("$u $p $t")
        a=$((a - 1))
    done
    check "$label: $p/$t available_instances 0" 0 "$(host_avail "$p" "$t")"
    newuuid
    sim_ctl reset-counts "sys/class/mdev_bus/$p/mdev_supported_types/$t/create" >/dev/null
    run start -u "$u" -p "$p" -t "$t"
    check "$label: start on exhausted $p/$t fails" fail "$([ "$RC" -ne 0 ] && echo fail || echo "rc 0")"
    contains "$label: exhausted start says why" "No available instances of $t on $p" "$ERR"
    check "$label: exhausted start never writes create" "ok reads=0 writes=0" \
        "$(sim_ctl counts "sys/class/mdev_bus/$p/mdev_supported_types/$t/create" 2>&1)"
    check "$label: exhausted start makes no device" absent \
        "$([ -e "$SIM_ROOT/sys/bus/mdev/devices/$u" ] && echo present || echo absent)"

    # The "kernel" refuses the store: mdevctl reports it, nothing appears.
    read -r p path t a < <(expect slots "$fx" "$STATE" | awk '$4 > 0' | head -1)
    newuuid
    check "$label: fault on $p/$t create" ok \
        "$(sim_ctl fault "sys/class/mdev_bus/$p/mdev_supported_types/$t/create" write EBUSY 1 | cut -d' ' -f1)"
    run start -u "$u" -p "$p" -t "$t"
    sim_ctl clear all >/dev/null
    check "$label: start refused by create fails" fail "$([ "$RC" -ne 0 ] && echo fail || echo "rc 0")"
    contains "$label: refused start says why" "Failed to create mdev $u" "$ERR"
    check "$label: refused start makes no device" absent \
        "$([ -e "$SIM_ROOT/sys/bus/mdev/devices/$u" ] && echo present || echo absent)"
    check "$label: refused start leaves available_instances" "$a" "$(host_avail "$p" "$t")"

    # A UUID in use: mdevctl finds it in sysfs (parent, mdev_type link).
    read -r fu fp ft <"$STATE"
    run start -u "$fu" -p "$fp" -t "$ft"
    check "$label: start of an active UUID fails" fail "$([ "$RC" -ne 0 ] && echo fail || echo "rc 0")"
    contains "$label: active UUID: already exists" "Device already exists" "$ERR"
    t=$(expect slots "$fx" "$STATE" | awk -v p="$fp" -v t="$ft" '$1 == p && $3 != t {print $3; exit}')
    if [ -n "$t" ]; then
        run start -u "$fu" -p "$fp" -t "$t"
        contains "$label: active UUID, other type" "Device exists with different type" "$ERR"
    fi

    views "$label after refusals" "$fx"

    # The "kernel" refuses remove: stop fails, the device stays.
    read -r u p t <<<"${started[0]}"
    check "$label: fault on $u remove" ok \
        "$(sim_ctl fault "sys/bus/mdev/devices/$u/remove" write EBUSY 1 | cut -d' ' -f1)"
    run stop -u "$u"
    sim_ctl clear all >/dev/null
    check "$label: stop refused by remove fails" fail "$([ "$RC" -ne 0 ] && echo fail || echo "rc 0")"
    contains "$label: refused stop says why" "Error removing device" "$ERR"
    check "$label: refused stop leaves the device" present \
        "$([ -e "$SIM_ROOT/sys/bus/mdev/devices/$u" ] && echo present || echo absent)"

    # Stop everything started here, and the first fixture device.
    for e in "${started[@]}"; do
        read -r u p t <<<"$e"
        stop_ok "$label" "$u" "$p" "$t"
    done
    stop_ok "$label fixture device" "$fu" "$fp" "$ft"
    views "$label after stop" "$fx"

    sim_stop "$label"
}

exercise t4.json
exercise i915.json

check "host /sys is still sysfs" "$host_sys_before" "$(stat -f -c %T /sys)"
check_text "host /etc/mdevctl.d untouched" "$host_conf_before" \
    "$(find /etc/mdevctl.d -printf '%p %y %m %s %T@\n' | sort)"
check_text "the expectation helper never failed" "" "$(cat "$SIM_WORK/expect-failures" 2>/dev/null)"
check "no mount of this test left" 0 "$(grep -c " $SIM_WORK" /proc/mounts)"

sim_finish
