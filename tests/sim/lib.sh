# Shell harness for tests that run against mdevsim: start one simulated
# host, wait until its tree answers, and take everything down again on any
# exit (the trap unmounts with fusermount3 -u and kills by PID).
#
# Use:  . tests/sim/lib.sh; sim_start FIXTURE; ... "$SIM_ROOT/sys/..." ...
# Needs MDEVSIM and MDEVSIMCTL in the environment (ctest passes them).

set -u

SIM_WORK=$(mktemp -d /tmp/mdevsim-test.XXXXXX)
SIM_ROOT="$SIM_WORK/root"
SIM_SOCK="$SIM_WORK/control.sock"
SIM_PID=""
SIM_FAILS=0
SIM_PASSES=0

sim_cleanup() {
    if [ -n "$SIM_PID" ] && kill -0 "$SIM_PID" 2>/dev/null; then
        kill -TERM "$SIM_PID" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$SIM_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SIM_PID" 2>/dev/null
    fi
    if mountpoint -q "$SIM_ROOT" 2>/dev/null || grep -qs " $SIM_ROOT " /proc/mounts; then
        fusermount3 -u "$SIM_ROOT" 2>/dev/null || fusermount3 -uz "$SIM_ROOT" 2>/dev/null
    fi
    rm -rf "$SIM_WORK"
}
trap sim_cleanup EXIT
trap 'exit 130' INT TERM

# sim_start FIXTURE: mount FIXTURE at $SIM_ROOT with a control socket.
sim_start() {
    mkdir -p "$SIM_ROOT"
    "$MDEVSIM" --fixture "$1" --mount "$SIM_ROOT" --control "$SIM_SOCK" \
        >"$SIM_WORK/mdevsim.log" 2>&1 &
    SIM_PID=$!
    for _ in $(seq 1 100); do
        if [ -d "$SIM_ROOT/sys/class" ] && [ -S "$SIM_SOCK" ]; then
            return 0
        fi
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            echo "mdevsim exited early:" >&2
            cat "$SIM_WORK/mdevsim.log" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "mdevsim did not come up within 5 s" >&2
    cat "$SIM_WORK/mdevsim.log" >&2
    return 1
}

# sim_ctl COMMAND...: one control command; prints the reply.
sim_ctl() {
    "$MDEVSIMCTL" "$SIM_SOCK" "$@"
}

# check NAME EXPECTED ACTUAL: one assertion, reported TAP-like.
check() {
    if [ "$2" = "$3" ]; then
        SIM_PASSES=$((SIM_PASSES + 1))
        echo "ok - $1"
    else
        SIM_FAILS=$((SIM_FAILS + 1))
        echo "not ok - $1"
        echo "    expected: $2"
        echo "    actual:   $3"
    fi
}

# errno_of CMD...: run CMD, print "ok" or the strerror text it failed with.
# The shell reports failed redirections as "...: <strerror>"; keep the tail.
errno_of() {
    local out
    if out=$( ("$@") 2>&1 >/dev/null); then
        echo ok
    else
        echo "${out##*: }"
    fi
}

sim_finish() {
    echo "$SIM_PASSES passed, $SIM_FAILS failed"
    [ "$SIM_FAILS" -eq 0 ]
}
