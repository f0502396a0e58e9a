#!/usr/bin/env bash
# The shipped systemd units load without a word from systemd: each is
# copied into a temp dir with its binary pointed at the build tree and
# /etc/mdevmig/ at a temp etc/ holding minimal config, token and TLS files,
# then checked with `systemd-analyze verify`. That runs no service manager
# and needs no booted systemd (this container's PID 1 is not systemd), but
# it does check that ExecStart's binary exists and is executable, hence
# the rewrite. --man=no: verify would otherwise run `man` on every
# Documentation= page, and a test machine has no mdevmig man pages
# installed. Unknown keys and bad values are only warnings (exit 0), so
# any output line naming the unit fails the test too.
#
# Needs BUILD_DIR (the build tree) in the environment.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${BUILD_DIR:?BUILD_DIR must name the build tree}"

fails=0
passes=0
check() {
    if [ "$2" = "$3" ]; then
        passes=$((passes + 1)); echo "ok - $1"
    else
        fails=$((fails + 1)); echo "not ok - $1 (expected '$2', got '$3')"
    fi
}

if ! command -v systemd-analyze >/dev/null; then
    echo "not ok - systemd-analyze missing (Debian's systemd package; ./deploy/install-deps)"
    exit 1
fi

work=$(mktemp -d /tmp/mdevmig-units.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/etc/tls" "$work/units"
printf '[collector]\nlisten = 127.0.0.1:9440\n' >"$work/etc/collector.conf"
printf '[sched]\n' >"$work/etc/sched.conf"
for f in token tls/collector.crt tls/collector.key tls/sched.crt tls/sched.key tls/ca.crt \
    tls/sched-client.crt tls/sched-client.key; do
    : >"$work/etc/$f"
done
chmod 0600 "$work/etc/token" "$work/etc/tls/"*.key

declare -A binary=(
    [mdevmig-collector]=$BUILD_DIR/collector/mdevmig-collector
    [mdevmig-sched]=$BUILD_DIR/plugin/mdevmig-sched
)

for name in mdevmig-collector mdevmig-sched; do
    unit=$name.service
    src=$top/deploy/systemd/$unit
    bin=${binary[$name]}
    check "$name is built" yes "$([ -x "$bin" ] && echo yes || echo no)"
    # Every /usr/bin/NAME and /etc/mdevmig/ in the unit, commented lines
    # included, so the commented TLS lines still name files that exist.
    sed -e "s#/usr/bin/$name\\b#$bin#g" -e "s#/etc/mdevmig/#$work/etc/#g" "$src" \
        >"$work/units/$unit"
    check "$unit: ExecStart runs the build tree's $name" 1 \
        "$(grep -c "^ExecStart=$bin " "$work/units/$unit")"
    check "$unit: no /etc/mdevmig/ left" 0 "$(grep -c '/etc/mdevmig/' "$work/units/$unit")"

    out=$(systemd-analyze verify --man=no "$work/units/$unit" 2>&1)
    rc=$?
    check "$unit: systemd-analyze verify exits 0" 0 "$rc"
    said=$(printf '%s\n' "$out" | grep -F "$unit" || true)
    check "$unit: systemd-analyze says nothing about it" "" "$said"
    [ -n "$out" ] && printf '%s\n' "$out" | sed "s/^/# verify $unit: /"

    for key in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=30s' \
        'ExecReload=/bin/kill -HUP $MAINPID'; do
        check "$unit: $key" 1 "$(grep -cxF "$key" "$src")"
    done
    # A default install has no certificates: no TLS flag may be active.
    check "$unit: TLS flags only in comments" 0 \
        "$(grep -v '^#' "$src" | grep -cE -- '--(tls-|ca-file)')"
done

# The commented TLS lines, uncommented, make a unit systemd accepts too:
# what an operator's drop-in would hold.
for name in mdevmig-collector mdevmig-sched; do
    unit=$name.service
    dropin=$work/tls/$unit
    mkdir -p "$work/tls"
    # The first ExecStart= is the packaged one; the commented block holds
    # the reset and the replacement, as a drop-in would.
    awk '/^#(LoadCredential|ExecStart)=/ { sub(/^#/, ""); tls = 1; print; next }
         tls && /^#    / { sub(/^#/, ""); print; next }
         { tls = 0; print }' "$work/units/$unit" |
        awk '/^ExecStart=$/ { reset = 1; next }
             /^ExecStart=/ && !reset { skip = 1 }
             skip { if (!/\\$/) skip = 0; next }
             { print }' >"$dropin"
    check "$unit with TLS: one ExecStart" 1 "$(grep -c '^ExecStart=' "$dropin")"
    check "$unit with TLS: the key flag is active" 1 \
        "$(grep -c -- '--tls-key-file ' "$dropin")"
    out=$(systemd-analyze verify --man=no "$dropin" 2>&1)
    rc=$?
    check "$unit with TLS: systemd-analyze verify exits 0" 0 "$rc"
    said=$(printf '%s\n' "$out" | grep -F "$unit" || true)
    check "$unit with TLS: systemd-analyze says nothing about it" "" "$said"
done

echo "# $passes passed, $fails failed"
[ "$fails" -eq 0 ]
