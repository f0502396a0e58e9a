#!/usr/bin/env bash
# mdevsim against ordinary tools: every kernel semantic of tests/sim/README.md,
# checked the way an operator (or mdevctl) meets it — cat, echo/printf with
# shell redirections, ls, readlink, stat, touch, mkdir, rm, dd — so that a
# FUSE detail (caching, open flags, short writes) that only shows through
# real system calls cannot hide behind a library.
#
# Environment: MDEVSIM, MDEVSIMCTL (the binaries), FIXTURES (the fixtures
# folder). Run as root: it mounts FUSE file systems; lib.sh's trap takes
# every mount down on any exit.

export LC_ALL=C     # English strerror texts, byte-order ls

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

: "${MDEVSIM:?set MDEVSIM to the mdevsim binary}"
: "${MDEVSIMCTL:?set MDEVSIMCTL to the mdevsimctl binary}"
: "${FIXTURES:?set FIXTURES to the fixtures folder}"

# ---------------------------------------------------------------- helpers

# sim_stop LABEL: SIGTERM the running mdevsim, as an operator would, and
# check it unmounted itself (no check when LABEL is empty); fall back to
# fusermount3 so nothing is left.
sim_stop() {
    local label=$1 mounted
    if [ -n "$SIM_PID" ]; then
        kill -TERM "$SIM_PID" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$SIM_PID" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$SIM_PID" 2>/dev/null; then
            kill -KILL "$SIM_PID" 2>/dev/null
        fi
        wait "$SIM_PID" 2>/dev/null
        SIM_PID=""
    fi
    mounted=no
    grep -qs " $SIM_ROOT " /proc/mounts && mounted=yes
    [ -n "$label" ] && check "$label: mdevsim unmounts itself on SIGTERM" no "$mounted"
    if [ "$mounted" = yes ]; then
        fusermount3 -u "$SIM_ROOT" 2>/dev/null || fusermount3 -uz "$SIM_ROOT" 2>/dev/null
    fi
    rm -f "$SIM_SOCK"
}

# start FIXTURE LABEL: mount FIXTURE; a failure to start is a failed check.
start() {
    if sim_start "$1"; then
        check "$2: mdevsim mounts $(basename "$1")" ok ok
        S="$SIM_ROOT/sys"
        RR=$(readlink -f "$SIM_ROOT")
        return 0
    fi
    check "$2: mdevsim mounts $(basename "$1")" ok failed
    sim_stop ""
    return 1
}

# show PATH: the bytes of PATH as cat gives them, newlines written as \n
# (so a trailing newline is visible), or "ERROR: <strerror>".
show() {
    local c
    if c=$(cat -- "$1" 2>&1 && printf x); then
        c=${c%x}
        printf '%s' "${c//$'\n'/\\n}"
    else
        printf 'ERROR: %s' "${c##*: }"
    fi
}

# put PATH STRING: write exactly STRING to PATH with one write(2), in a
# fresh shell (a failed redirection must not touch this one); prints "ok"
# or the strerror text. bash's stdout is line buffered: its printf makes one
# write of a short string only when no newline comes before the last byte.
# Any other string goes through dd with bs = its length: one write(2) of the
# whole string (should the write be short, dd writes the rest in a second).
put() {
    local s=$2
    case ${s%$'\n'} in
        *$'\n'*) ;;
        *)  if [ ${#s} -lt 1024 ]; then
                errno_of bash -c 'printf "%s" "$2" > "$1"' put "$1" "$s"
                return
            fi ;;
    esac
    printf '%s' "$s" > "$SIM_WORK/put.data"
    errno_of dd if="$SIM_WORK/put.data" of="$1" bs=${#s} count=1 status=none
}

# putnl PATH STRING: STRING and a newline, as `echo STRING > PATH` does.
putnl() {
    errno_of bash -c 'echo "$2" > "$1"' putnl "$1" "$2"
}

# entries DIR: what ls lists in DIR, one line, space separated.
entries() {
    local out a
    if out=$(ls -- "$1" 2>&1); then
        mapfile -t a <<<"$out"
        printf '%s' "${a[*]}"
    else
        printf 'ERROR: %s' "${out##*: }"
    fi
}

# count DIR: how many entries ls lists in DIR.
count() {
    local out a
    out=$(ls -- "$1" 2>/dev/null) || { echo "ERROR"; return; }
    [ -z "$out" ] && { echo 0; return; }
    mapfile -t a <<<"$out"
    echo "${#a[@]}"
}

# exists PATH: "yes" when PATH (not following a final link) is there.
exists() {
    if [ -e "$1" ] || [ -L "$1" ]; then echo yes; else echo no; fi
}

# contains "WORDS" WORD: "yes" when WORD is one of WORDS.
contains() {
    case " $1 " in *" $2 "*) echo yes ;; *) echo no ;; esac
}

now_ms() {
    echo $(( $(date +%s%N) / 1000000 ))
}

# ctl_rc COMMAND...: the exit status of mdevsimctl for COMMAND.
ctl_rc() {
    sim_ctl "$@" >/dev/null 2>&1
    echo $?
}

# reply_kind COMMAND...: "ok" or "err" — the first word of the reply.
reply_kind() {
    local r
    r=$(sim_ctl "$@" 2>/dev/null)
    echo "${r%% *}"
}

# ----------------------------------------------------------------- t4.json
# Two T4 GPUs behind their own root ports, three NVIDIA types each, three
# devices; NVIDIA's newer-minor rule.

T4_P1=pci0000:3a/0000:3a:00.0/0000:3b:00.0
T4_P2=pci0000:d7/0000:d7:00.0/0000:d8:00.0
T4_U1=c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c01
T4_U2=c1a7f3d2-5b7e-4a51-9d0c-3e2f1a6b8c02
T4_U3=d27e0b44-9f1a-4c3e-8b6d-5a4c3b2a1f03
T4_V222=10de:1eb8:nvidia-222-535.104
T4_V223=10de:1eb8:nvidia-223-535.104

t4_layout() {
    local c1 c2 u
    c1="$S/class/mdev_bus/0000:3b:00.0"
    c2="$S/class/mdev_bus/0000:d8:00.0"

    check "t4 layout: sys holds bus class devices kernel" \
        "bus class devices kernel" "$(entries "$S")"
    check "t4 layout: class/mdev_bus lists both parents" \
        "0000:3b:00.0 0000:d8:00.0" "$(entries "$S/class/mdev_bus")"
    check "t4 layout: class/mdev_bus/0000:3b:00.0 is a symbolic link" \
        "symbolic link" "$(stat -c %F "$c1")"
    check "t4 layout: class/mdev_bus/0000:3b:00.0 link text is ../../devices/<path>" \
        "../../devices/$T4_P1" "$(readlink "$c1")"
    check "t4 layout: class/mdev_bus/0000:3b:00.0 resolves to sys/devices/$T4_P1" \
        "$RR/sys/devices/$T4_P1" "$(readlink -f "$c1")"
    check "t4 layout: class/mdev_bus/0000:d8:00.0 resolves to sys/devices/$T4_P2" \
        "$RR/sys/devices/$T4_P2" "$(readlink -f "$c2")"
    check "t4 layout: the parent directory is a directory" \
        directory "$(stat -c %F "$S/devices/$T4_P1")"
    check "t4 layout: parent 0000:3b:00.0 holds its two devices and mdev_supported_types" \
        "$T4_U1 $T4_U2 mdev_supported_types" "$(entries "$c1/")"
    check "t4 layout: parent 0000:d8:00.0 holds its device and mdev_supported_types" \
        "$T4_U3 mdev_supported_types" "$(entries "$c2/")"
    check "t4 layout: mdev_supported_types lists the three types" \
        "nvidia-222 nvidia-223 nvidia-234" "$(entries "$c1/mdev_supported_types")"
    check "t4 layout: a type directory holds the README's attributes" \
        "available_instances create description device_api devices migration_version name" \
        "$(entries "$c1/mdev_supported_types/nvidia-222")"
    check "t4 layout: type devices/ lists the type's devices on that parent" \
        "$T4_U1 $T4_U2" "$(entries "$c1/mdev_supported_types/nvidia-222/devices")"
    check "t4 layout: type devices/ is empty for a type without devices" \
        "" "$(entries "$c1/mdev_supported_types/nvidia-223/devices")"
    check "t4 layout: nvidia-223 devices/ on 0000:d8:00.0 lists its device" \
        "$T4_U3" "$(entries "$c2/mdev_supported_types/nvidia-223/devices")"
    check "t4 layout: type devices/<uuid> link text is ../../../<uuid>" \
        "../../../$T4_U1" "$(readlink "$c1/mdev_supported_types/nvidia-222/devices/$T4_U1")"
    check "t4 layout: type devices/<uuid> resolves to the device directory" \
        "$RR/sys/devices/$T4_P1/$T4_U1" \
        "$(readlink -f "$c1/mdev_supported_types/nvidia-222/devices/$T4_U1")"

    check "t4 layout: bus/mdev/devices lists every device" \
        "$T4_U1 $T4_U2 $T4_U3" "$(entries "$S/bus/mdev/devices")"
    check "t4 layout: bus/mdev/devices/<uuid> link text is ../../../devices/<path>/<uuid>" \
        "../../../devices/$T4_P1/$T4_U1" "$(readlink "$S/bus/mdev/devices/$T4_U1")"
    for u in "$T4_U1" "$T4_U2"; do
        check "t4 layout: bus/mdev/devices/$u resolves to <parent 0000:3b:00.0>/$u" \
            "$RR/sys/devices/$T4_P1/$u" "$(readlink -f "$S/bus/mdev/devices/$u")"
    done
    check "t4 layout: bus/mdev/devices/$T4_U3 resolves to <parent 0000:d8:00.0>/$T4_U3" \
        "$RR/sys/devices/$T4_P2/$T4_U3" "$(readlink -f "$S/bus/mdev/devices/$T4_U3")"

    u="$S/bus/mdev/devices/$T4_U1"
    check "t4 layout: a device directory holds the README's entries" \
        "iommu_group mdev_type migration_version remove subsystem uevent" "$(entries "$u/")"
    check "t4 layout: mdev_type link text is ../mdev_supported_types/<type-id>" \
        "../mdev_supported_types/nvidia-222" "$(readlink "$u/mdev_type")"
    check "t4 layout: basename of readlink mdev_type gives the type id (nvidia-222)" \
        nvidia-222 "$(basename "$(readlink "$u/mdev_type")")"
    check "t4 layout: basename of readlink mdev_type gives the type id (nvidia-223)" \
        nvidia-223 "$(basename "$(readlink "$S/bus/mdev/devices/$T4_U3/mdev_type")")"
    check "t4 layout: mdev_type resolves to the type directory on its parent" \
        "$RR/sys/devices/$T4_P1/mdev_supported_types/nvidia-222" "$(readlink -f "$u/mdev_type")"
    check "t4 layout: the type name read through mdev_type" \
        'GRID T4-1B\n' "$(show "$u/mdev_type/name")"

    # No iommu_group in the fixture: lowest free from iommu_group_start 40,
    # in fixture order.
    check "t4 layout: iommu_group link text climbs to sys/kernel/iommu_groups/40" \
        "../../../../../kernel/iommu_groups/40" "$(readlink "$u/iommu_group")"
    check "t4 layout: first device's iommu_group resolves to sys/kernel/iommu_groups/40" \
        "$RR/sys/kernel/iommu_groups/40" "$(readlink -f "$u/iommu_group")"
    check "t4 layout: second device's iommu_group resolves to sys/kernel/iommu_groups/41" \
        "$RR/sys/kernel/iommu_groups/41" "$(readlink -f "$S/bus/mdev/devices/$T4_U2/iommu_group")"
    check "t4 layout: third device's iommu_group resolves to sys/kernel/iommu_groups/42" \
        "$RR/sys/kernel/iommu_groups/42" "$(readlink -f "$S/bus/mdev/devices/$T4_U3/iommu_group")"
    check "t4 layout: kernel/iommu_groups lists the three groups" \
        "40 41 42" "$(entries "$S/kernel/iommu_groups")"
    check "t4 layout: iommu_groups/40/devices lists its device" \
        "$T4_U1" "$(entries "$S/kernel/iommu_groups/40/devices")"
    check "t4 layout: iommu_groups/N/devices/<uuid> link text is ../../../../devices/<path>/<uuid>" \
        "../../../../devices/$T4_P1/$T4_U1" "$(readlink "$S/kernel/iommu_groups/40/devices/$T4_U1")"
    check "t4 layout: iommu_groups/42/devices/<uuid> resolves to the device directory" \
        "$RR/sys/devices/$T4_P2/$T4_U3" "$(readlink -f "$S/kernel/iommu_groups/42/devices/$T4_U3")"
    check "t4 layout: subsystem link text climbs to sys/bus/mdev" \
        "../../../../../bus/mdev" "$(readlink "$u/subsystem")"
    check "t4 layout: subsystem resolves to sys/bus/mdev" \
        "$RR/sys/bus/mdev" "$(readlink -f "$u/subsystem")"
    check "t4 layout: uevent names the type as MDEV_TYPE=nvidia-222" \
        yes "$(case $'\n'"$(cat "$u/uevent" 2>/dev/null)"$'\n' in *$'\nMDEV_TYPE=nvidia-222\n'*) echo yes ;; *) echo no ;; esac)"

    check "t4 layout: name is mode 0444" 444 "$(stat -c %a "$c1/mdev_supported_types/nvidia-222/name")"
    check "t4 layout: description is mode 0444" 444 "$(stat -c %a "$c1/mdev_supported_types/nvidia-222/description")"
    check "t4 layout: device_api is mode 0444" 444 "$(stat -c %a "$c1/mdev_supported_types/nvidia-222/device_api")"
    check "t4 layout: available_instances is mode 0444" 444 "$(stat -c %a "$c1/mdev_supported_types/nvidia-222/available_instances")"
    check "t4 layout: create is mode 0200" 200 "$(stat -c %a "$c1/mdev_supported_types/nvidia-222/create")"
    check "t4 layout: type migration_version is mode 0644" 644 "$(stat -c %a "$c1/mdev_supported_types/nvidia-222/migration_version")"
    check "t4 layout: remove is mode 0200" 200 "$(stat -c %a "$u/remove")"
    check "t4 layout: device migration_version is mode 0644" 644 "$(stat -c %a "$u/migration_version")"
    check "t4 layout: uevent is mode 0644" 644 "$(stat -c %a "$u/uevent")"
}

t4_attributes() {
    local t="$S/class/mdev_bus/0000:3b:00.0/mdev_supported_types"
    local t2="$S/class/mdev_bus/0000:d8:00.0/mdev_supported_types"
    check "t4 attributes: nvidia-222 name" 'GRID T4-1B\n' "$(show "$t/nvidia-222/name")"
    check "t4 attributes: nvidia-234 name" 'GRID T4-16Q\n' "$(show "$t/nvidia-234/name")"
    check "t4 attributes: nvidia-222 description" \
        'num_heads=4, frl_config=45, framebuffer=1024M, max_resolution=5120x2880, max_instance=16\n' \
        "$(show "$t/nvidia-222/description")"
    check "t4 attributes: nvidia-222 device_api" 'vfio-pci\n' "$(show "$t/nvidia-222/device_api")"
    check "t4 attributes: available_instances is max less existing (16-2) on 0000:3b:00.0" \
        '14\n' "$(show "$t/nvidia-222/available_instances")"
    check "t4 attributes: available_instances counts per parent (16) on 0000:d8:00.0" \
        '16\n' "$(show "$t2/nvidia-222/available_instances")"
    check "t4 attributes: nvidia-223 available_instances 8 on 0000:3b:00.0" \
        '8\n' "$(show "$t/nvidia-223/available_instances")"
    check "t4 attributes: nvidia-223 available_instances 7 on 0000:d8:00.0" \
        '7\n' "$(show "$t2/nvidia-223/available_instances")"
    check "t4 attributes: nvidia-234 available_instances 1" \
        '1\n' "$(show "$t/nvidia-234/available_instances")"
    check "t4 attributes: type migration_version is the version and a newline" \
        "$T4_V222"'\n' "$(show "$t/nvidia-222/migration_version")"
    check "t4 attributes: device migration_version inherits its type's" \
        "$T4_V222"'\n' "$(show "$S/bus/mdev/devices/$T4_U1/migration_version")"
    check "t4 attributes: nvidia-223 device reads nvidia-223's version" \
        "$T4_V223"'\n' "$(show "$S/bus/mdev/devices/$T4_U3/migration_version")"
}

t4_modes() {
    local t="$S/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-222"
    local d="$S/bus/mdev/devices/$T4_U1"
    local a
    check "t4 modes: cat create gives Permission denied" \
        "Permission denied" "$(errno_of cat "$t/create")"
    check "t4 modes: cat remove gives Permission denied" \
        "Permission denied" "$(errno_of cat "$d/remove")"
    check "t4 modes: dd reading create gives Permission denied" \
        "Permission denied" "$(errno_of dd if="$t/create" of=/dev/null status=none)"
    for a in name description device_api available_instances; do
        check "t4 modes: echo into $a gives Permission denied" \
            "Permission denied" "$(putnl "$t/$a" 5)"
    done
    check "t4 modes: opening name read-write gives Permission denied" \
        "Permission denied" "$(errno_of bash -c ': <> "$1"' rw "$t/name")"
    check "t4 modes: opening migration_version read-write is allowed (0644)" \
        ok "$(errno_of bash -c ': <> "$1"' rw "$t/migration_version")"
    check "t4 modes: name still reads after the refused writes" \
        'GRID T4-1B\n' "$(show "$t/name")"
    check "t4 modes: a refused write into available_instances changed nothing" \
        '14\n' "$(show "$t/available_instances")"

    check "t4 modes: touch of a new file in a type directory gives Permission denied" \
        "Permission denied" "$(errno_of touch "$t/newfile")"
    check "t4 modes: touch of a new file in a device directory gives Permission denied" \
        "Permission denied" "$(errno_of touch "$d/newfile")"
    check "t4 modes: touch of a new file in sys/ gives Permission denied" \
        "Permission denied" "$(errno_of touch "$S/newfile")"
    check "t4 modes: a redirection creating a new file gives Permission denied" \
        "Permission denied" "$(putnl "$t/newfile" x)"
    check "t4 modes: the refused new file does not exist" no "$(exists "$t/newfile")"

    check "t4 modes: mkdir in a type directory gives Operation not permitted" \
        "Operation not permitted" "$(errno_of mkdir "$t/newdir")"
    check "t4 modes: mkdir in bus/mdev/devices gives Operation not permitted" \
        "Operation not permitted" "$(errno_of mkdir "$S/bus/mdev/devices/newdir")"
    check "t4 modes: mkdir in class/mdev_bus gives Operation not permitted" \
        "Operation not permitted" "$(errno_of mkdir "$S/class/mdev_bus/newdir")"
    check "t4 modes: the refused directory does not exist" no "$(exists "$t/newdir")"
    check "t4 modes: rm of an attribute gives Operation not permitted" \
        "Operation not permitted" "$(errno_of rm "$t/name" </dev/null)"
    check "t4 modes: rm -f of an attribute gives Operation not permitted" \
        "Operation not permitted" "$(errno_of rm -f "$d/migration_version" </dev/null)"
    check "t4 modes: rm of a class/mdev_bus link gives Operation not permitted" \
        "Operation not permitted" "$(errno_of rm "$S/class/mdev_bus/0000:3b:00.0" </dev/null)"
    check "t4 modes: rm of a bus/mdev/devices link gives Operation not permitted" \
        "Operation not permitted" "$(errno_of rm "$d" </dev/null)"
    check "t4 modes: rm of the mdev_type link gives Operation not permitted" \
        "Operation not permitted" "$(errno_of rm "$d/mdev_type" </dev/null)"
    check "t4 modes: the attribute survives rm" yes "$(exists "$t/name")"
    check "t4 modes: the device survives rm of its bus link" yes "$(exists "$d")"
    check "t4 modes: the class link survives rm" yes "$(exists "$S/class/mdev_bus/0000:3b:00.0")"
}

t4_newer_minor() {
    local t="$S/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-222/migration_version"
    local d="$S/bus/mdev/devices/$T4_U1/migration_version"
    local p=10de:1eb8:nvidia-222
    check "t4 newer-minor: the same version is accepted (printf, no newline)" ok "$(put "$t" "$T4_V222")"
    check "t4 newer-minor: the same version is accepted (echo, with newline)" ok "$(putnl "$t" "$T4_V222")"
    check "t4 newer-minor: an older minor (535.99) is accepted, minors compared as numbers" \
        ok "$(put "$t" "$p-535.99")"
    check "t4 newer-minor: minor 0 is accepted" ok "$(putnl "$t" "$p-535.0")"
    check "t4 newer-minor: a newer minor (535.105) is refused with Invalid argument" \
        "Invalid argument" "$(putnl "$t" "$p-535.105")"
    check "t4 newer-minor: a newer minor (535.1000) is refused with Invalid argument" \
        "Invalid argument" "$(put "$t" "$p-535.1000")"
    check "t4 newer-minor: a newer major (536.104) is refused with Invalid argument" \
        "Invalid argument" "$(putnl "$t" "$p-536.104")"
    check "t4 newer-minor: an older major (534.104) is refused with Invalid argument" \
        "Invalid argument" "$(putnl "$t" "$p-534.104")"
    check "t4 newer-minor: another type's prefix is refused with Invalid argument" \
        "Invalid argument" "$(putnl "$t" "$T4_V223")"
    check "t4 newer-minor: another device id in the prefix is refused with Invalid argument" \
        "Invalid argument" "$(putnl "$t" "10de:1eb9:nvidia-222-535.104")"
    check "t4 newer-minor: junk is refused with Invalid argument" \
        "Invalid argument" "$(putnl "$t" "junk")"
    check "t4 newer-minor: two trailing newlines are refused (only one is dropped)" \
        "Invalid argument" "$(put "$t" "$T4_V222"$'\n\n')"
    check "t4 newer-minor: a device inheriting the type accepts the same version" \
        ok "$(putnl "$d" "$T4_V222")"
    check "t4 newer-minor: a device inheriting the type accepts an older minor" \
        ok "$(putnl "$d" "$p-535.54")"
    check "t4 newer-minor: a device inheriting the type refuses a newer minor" \
        "Invalid argument" "$(putnl "$d" "$p-535.200")"
    check "t4 newer-minor: nvidia-223 accepts its own version" \
        ok "$(putnl "$S/bus/mdev/devices/$T4_U3/migration_version" "$T4_V223")"
    check "t4 newer-minor: nvidia-223 refuses nvidia-222's version" \
        "Invalid argument" "$(putnl "$S/bus/mdev/devices/$T4_U3/migration_version" "$T4_V222")"
    check "t4 newer-minor: accepted and refused writes leave the read value alone" \
        "$T4_V222"'\n' "$(show "$t")"
}

T4_N1=aaaaaaaa-0000-4000-8000-000000000001
T4_N2=aaaaaaaa-0000-4000-8000-000000000002
T4_UP=BBBBBBBB-CCCC-4DDD-8EEE-FFFFFFFFFFFF
T4_UPL=bbbbbbbb-cccc-4ddd-8eee-ffffffffffff
T4_X=aaaaaaaa-0000-4000-8000-0000000000a1
T4_Y=aaaaaaaa-0000-4000-8000-0000000000a2

t4_create() {
    local t="$S/class/mdev_bus/0000:3b:00.0/mdev_supported_types"
    local t2="$S/class/mdev_bus/0000:d8:00.0/mdev_supported_types"
    local bus="$S/bus/mdev/devices" before bad

    check "t4 create: a 36-byte UUID (printf %s, no newline) is accepted" \
        ok "$(put "$t/nvidia-223/create" "$T4_N1")"
    check "t4 create: the new device is in bus/mdev/devices at once" \
        yes "$(exists "$bus/$T4_N1")"
    check "t4 create: the new device resolves to <parent>/<uuid>" \
        "$RR/sys/devices/$T4_P1/$T4_N1" "$(readlink -f "$bus/$T4_N1")"
    check "t4 create: the new device's mdev_type is the type it was created from" \
        nvidia-223 "$(basename "$(readlink "$bus/$T4_N1/mdev_type")")"
    check "t4 create: the new device takes the lowest free iommu group (43)" \
        "$RR/sys/kernel/iommu_groups/43" "$(readlink -f "$bus/$T4_N1/iommu_group")"
    check "t4 create: the new device is in its iommu group's devices/" \
        "$RR/sys/devices/$T4_P1/$T4_N1" "$(readlink -f "$S/kernel/iommu_groups/43/devices/$T4_N1")"
    check "t4 create: the new device has the README's entries" \
        "iommu_group mdev_type migration_version remove subsystem uevent" "$(entries "$bus/$T4_N1")"
    check "t4 create: available_instances drops by one (8 -> 7)" \
        '7\n' "$(show "$t/nvidia-223/available_instances")"
    check "t4 create: a 37-byte UUID ending in a newline (echo) is accepted" \
        ok "$(putnl "$t/nvidia-223/create" "$T4_N2")"
    check "t4 create: the echoed device exists under its own name, no newline in it" \
        yes "$(exists "$bus/$T4_N2")"
    check "t4 create: an upper-case UUID is accepted" \
        ok "$(put "$t/nvidia-223/create" "$T4_UP")"
    check "t4 create: the upper-case UUID is shown lower case in bus/mdev/devices" \
        yes "$(contains "$(entries "$bus")" "$T4_UPL")"
    check "t4 create: no upper-case name is listed" \
        no "$(contains "$(entries "$bus")" "$T4_UP")"
    check "t4 create: the type's devices/ lists the three new devices in lower case" \
        "$T4_N1 $T4_N2 $T4_UPL" "$(entries "$t/nvidia-223/devices")"
    check "t4 create: the parent directory shows the new devices" \
        "$T4_N1 $T4_N2 $T4_UPL $T4_U1 $T4_U2 mdev_supported_types" \
        "$(entries "$S/devices/$T4_P1")"
    check "t4 create: available_instances follows (8 -> 5)" \
        '5\n' "$(show "$t/nvidia-223/available_instances")"
    check "t4 create: uevent of a new device names its type" \
        yes "$(case $'\n'"$(cat "$bus/$T4_N1/uevent" 2>/dev/null)"$'\n' in *$'\nMDEV_TYPE=nvidia-223\n'*) echo yes ;; *) echo no ;; esac)"

    before=$(entries "$bus")
    check "t4 create: a duplicate UUID gives File exists" \
        "File exists" "$(put "$t/nvidia-223/create" "$T4_N1")"
    check "t4 create: a duplicate UUID with a newline gives File exists" \
        "File exists" "$(putnl "$t/nvidia-223/create" "$T4_N1")"
    check "t4 create: a duplicate in the other case gives File exists" \
        "File exists" "$(put "$t/nvidia-223/create" "$T4_UPL")"
    check "t4 create: a duplicate of a fixture device on another type gives File exists" \
        "File exists" "$(put "$t/nvidia-223/create" "$T4_U1")"
    check "t4 create: a duplicate of a device on another parent gives File exists" \
        "File exists" "$(putnl "$t2/nvidia-222/create" "$T4_U1")"
    for bad in "not-a-uuid" \
               "aaaaaaaa-0000-4000-8000-00000000000" \
               "gaaaaaaa-0000-4000-8000-000000000003" \
               "aaaaaaaa0-000-4000-8000-000000000003" \
               "aaaaaaaa-0000-4000-8000-000000000003x" \
               " aaaaaaaa-0000-4000-8000-000000000003" \
               "aaaaaaaa-0000-4000-8000-000000000003"$'\n\n' \
               "aaaaaaaa-0000-4000-8000-000000000003"$'\n'"x" \
               "aaaaaaaa00000040000800000000000000003" \
               $'\n'; do
        check "t4 create: malformed '${bad//$'\n'/\\n}' gives Invalid argument" \
            "Invalid argument" "$(put "$t/nvidia-223/create" "$bad")"
    done
    check "t4 create: refused creates made no device" "$before" "$(entries "$bus")"
    check "t4 create: refused creates left available_instances alone" \
        '5\n' "$(show "$t/nvidia-223/available_instances")"

    check "t4 create: nvidia-234 (max 1) takes one device" \
        ok "$(put "$t/nvidia-234/create" "$T4_X")"
    check "t4 create: nvidia-234 available_instances is then 0" \
        '0\n' "$(show "$t/nvidia-234/available_instances")"
    check "t4 create: an exhausted type gives No space left on device" \
        "No space left on device" "$(put "$t/nvidia-234/create" "$T4_Y")"
    check "t4 create: the refused device does not exist" no "$(exists "$bus/$T4_Y")"
    check "t4 create: the same type on the other parent still has 1 instance" \
        '1\n' "$(show "$t2/nvidia-234/available_instances")"
}

t4_remove() {
    local t="$S/class/mdev_bus/0000:3b:00.0/mdev_supported_types"
    local bus="$S/bus/mdev/devices" g bad

    check "t4 remove: echo 0 > remove is accepted" ok "$(putnl "$bus/$T4_N1/remove" 0)"
    check "t4 remove: echo 0 leaves the device there" yes "$(exists "$bus/$T4_N1")"
    check "t4 remove: printf 0 leaves the device there" ok "$(put "$bus/$T4_N1/remove" 0)"
    check "t4 remove: echo 0 leaves available_instances alone" \
        '5\n' "$(show "$t/nvidia-223/available_instances")"
    # Each junk value on its own: should one remove the device, put it back
    # so the next value is tried on a live device.
    # remove_store() parses with kstrtoul(): any non-zero number removes
    # (see below); only what is not a number is refused.
    for bad in x yes -1 0x "1 " " 1" $'\n' "1"$'\n\n'; do
        check "t4 remove: junk '${bad//$'\n'/\\n}' gives Invalid argument" \
            "Invalid argument" "$(put "$bus/$T4_N1/remove" "$bad")"
        check "t4 remove: the device survives junk '${bad//$'\n'/\\n}'" \
            yes "$(exists "$bus/$T4_N1")"
        [ -e "$bus/$T4_N1" ] || put "$t/nvidia-223/create" "$T4_N1" >/dev/null
    done
    check "t4 remove: junk writes left available_instances alone" \
        '5\n' "$(show "$t/nvidia-223/available_instances")"
    check "t4 remove: 2 is non-zero to kstrtoul, so it removes like 1" \
        ok "$(put "$bus/$T4_N1/remove" 2)"
    check "t4 remove: the device removed by 2 is gone" no "$(exists "$bus/$T4_N1")"
    put "$t/nvidia-223/create" "$T4_N1" >/dev/null

    g=$(basename "$(readlink "$bus/$T4_N1/iommu_group")")
    check "t4 remove: echo 1 > remove is accepted" ok "$(putnl "$bus/$T4_N1/remove" 1)"
    check "t4 remove: the removed device is gone from bus/mdev/devices at once" \
        no "$(contains "$(entries "$bus")" "$T4_N1")"
    check "t4 remove: the removed device's bus link is gone" no "$(exists "$bus/$T4_N1")"
    check "t4 remove: stat of the removed device gives No such file or directory" \
        "No such file or directory" "$(errno_of stat "$S/devices/$T4_P1/$T4_N1")"
    check "t4 remove: the removed device is gone from the type's devices/" \
        "$T4_N2 $T4_UPL" "$(entries "$t/nvidia-223/devices")"
    check "t4 remove: the removed device is gone from the parent directory" \
        no "$(contains "$(entries "$S/devices/$T4_P1")" "$T4_N1")"
    check "t4 remove: the removed device is gone from its iommu group" \
        no "$(exists "$S/kernel/iommu_groups/$g/devices/$T4_N1")"
    check "t4 remove: available_instances goes back up (5 -> 6)" \
        '6\n' "$(show "$t/nvidia-223/available_instances")"
    check "t4 remove: printf 1 (no newline) removes through the bus alias" \
        ok "$(put "$bus/$T4_N2/remove" 1)"
    check "t4 remove: that device is gone at once" no "$(exists "$bus/$T4_N2")"
    check "t4 remove: ls shows the removals at once" \
        "$T4_UPL" "$(entries "$t/nvidia-223/devices")"
    check "t4 remove: available_instances follows (6 -> 7)" \
        '7\n' "$(show "$t/nvidia-223/available_instances")"
    check "t4 remove: a removed UUID can be created again" \
        ok "$(put "$t/nvidia-223/create" "$T4_N1")"
    check "t4 remove: the recreated device is back" yes "$(exists "$bus/$T4_N1")"
    check "t4 remove: remove the recreated device again" ok "$(putnl "$bus/$T4_N1/remove" 1)"

    check "t4 remove: removing nvidia-234's device frees its one instance" \
        ok "$(putnl "$bus/$T4_X/remove" 1)"
    check "t4 remove: nvidia-234 available_instances back to 1" \
        '1\n' "$(show "$t/nvidia-234/available_instances")"
    check "t4 remove: nvidia-234 now takes the device it refused" \
        ok "$(put "$t/nvidia-234/create" "$T4_Y")"
    check "t4 remove: remove it again" ok "$(putnl "$bus/$T4_Y/remove" 1)"
}

# An open file of a removed device answers ENODEV, read and write alike.
t4_open_after_remove() {
    local t="$S/class/mdev_bus/0000:3b:00.0/mdev_supported_types"
    local u=aaaaaaaa-0000-4000-8000-0000000000e1 d
    d="$S/bus/mdev/devices/$u"
    check "t4 open files: create a device to remove under open files" \
        ok "$(put "$t/nvidia-222/create" "$u")"
    exec 3<"$d/migration_version" 4>"$d/migration_version" 5>"$d/remove"
    check "t4 open files: remove it" ok "$(putnl "$d/remove" 1)"
    check "t4 open files: dd reading an open migration_version of a removed device gives No such device" \
        "No such device" "$(errno_of bash -c 'dd bs=4096 count=1 status=none <&3')"
    check "t4 open files: cat of an open migration_version of a removed device gives No such device" \
        "No such device" "$(errno_of bash -c 'cat <&3')"
    check "t4 open files: writing an open migration_version of a removed device gives No such device" \
        "No such device" "$(errno_of bash -c 'printf "%s" "$1" >&4' w "$T4_V222")"
    check "t4 open files: writing 1 to an open remove of a removed device gives No such device" \
        "No such device" "$(errno_of bash -c 'printf 1 >&5')"
    exec 3<&- 4>&- 5>&-
    check "t4 open files: the device stays gone" no "$(exists "$d")"
}

t4_control_version() {
    local tp="sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-222"
    local t="$SIM_ROOT/$tp/migration_version"
    local d1="$S/bus/mdev/devices/$T4_U1/migration_version"
    local d2="$S/bus/mdev/devices/$T4_U2/migration_version"
    local other="$S/class/mdev_bus/0000:d8:00.0/mdev_supported_types/nvidia-222/migration_version"
    local p=10de:1eb8:nvidia-222 nu=aaaaaaaa-0000-4000-8000-0000000000b1

    check "t4 control: ping answers ok" ok "$(sim_ctl ping)"
    check "t4 control: a device created before the upgrade" \
        ok "$(put "$SIM_ROOT/$tp/create" "$nu")"
    check "t4 control: version on a type directory answers ok" \
        ok "$(sim_ctl version "$tp" "$p-550.54")"
    check "t4 control: the type's migration_version shows the new version at once" \
        "$p-550.54"'\n' "$(show "$t")"
    check "t4 control: a fixture device inheriting the type follows the upgrade" \
        "$p-550.54"'\n' "$(show "$d1")"
    check "t4 control: another inheriting device follows too" \
        "$p-550.54"'\n' "$(show "$d2")"
    check "t4 control: a device created before the upgrade follows it" \
        "$p-550.54"'\n' "$(show "$S/bus/mdev/devices/$nu/migration_version")"
    check "t4 control: the same type on the other parent keeps its version" \
        "$T4_V222"'\n' "$(show "$other")"
    check "t4 control: the upgraded type refuses the old major (535.104)" \
        "Invalid argument" "$(putnl "$t" "$T4_V222")"
    check "t4 control: the upgraded type accepts its new version" ok "$(putnl "$t" "$p-550.54")"
    check "t4 control: the upgraded type accepts an older minor of the new major" \
        ok "$(put "$t" "$p-550.40")"
    check "t4 control: the upgraded type refuses a newer minor of the new major" \
        "Invalid argument" "$(put "$t" "$p-550.90")"
    check "t4 control: an inheriting device accepts the new version" ok "$(putnl "$d1" "$p-550.54")"
    check "t4 control: an inheriting device refuses the old version" \
        "Invalid argument" "$(putnl "$d1" "$T4_V222")"
    check "t4 control: the other parent still accepts the old version" ok "$(putnl "$other" "$T4_V222")"
    check "t4 control: a device created after the upgrade inherits the new version" \
        ok "$(put "$SIM_ROOT/$tp/create" aaaaaaaa-0000-4000-8000-0000000000b2)"
    check "t4 control: ... and reads it" \
        "$p-550.54"'\n' "$(show "$S/bus/mdev/devices/aaaaaaaa-0000-4000-8000-0000000000b2/migration_version")"

    check "t4 control: version on a device (through its bus link) answers ok" \
        ok "$(sim_ctl version "sys/bus/mdev/devices/$T4_U2" "$p-550.60")"
    check "t4 control: that device shows its own version" "$p-550.60"'\n' "$(show "$d2")"
    check "t4 control: its type keeps the type version" "$p-550.54"'\n' "$(show "$t")"
    check "t4 control: a sibling device keeps the type version" "$p-550.54"'\n' "$(show "$d1")"
    check "t4 control: the device with its own version accepts it" ok "$(putnl "$d2" "$p-550.60")"
    check "t4 control: the sibling refuses that newer minor" \
        "Invalid argument" "$(putnl "$d1" "$p-550.60")"
    check "t4 control: version through the mdev_type link names the type" \
        ok "$(sim_ctl version "sys/bus/mdev/devices/$T4_U3/mdev_type" "10de:1eb8:nvidia-223-550.54")"
    check "t4 control: ... and the device on it follows" \
        '10de:1eb8:nvidia-223-550.54\n' "$(show "$S/bus/mdev/devices/$T4_U3/migration_version")"
}

t4_control_fault() {
    local ap="sys/bus/mdev/devices/$T4_U1/migration_version"
    local a="$SIM_ROOT/$ap"
    local alias="$S/devices/$T4_P1/$T4_U1/migration_version"
    local v ai="sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-222/available_instances"
    local cr="sys/class/mdev_bus/0000:d8:00.0/mdev_supported_types/nvidia-222/create"
    v=$(cat "$a")

    check "t4 fault: read EIO 1 answers ok" ok "$(sim_ctl fault "$ap" read EIO 1)"
    check "t4 fault: the next cat fails with Input/output error" \
        "Input/output error" "$(errno_of cat "$a")"
    check "t4 fault: the cat after it works again" "$v"'\n' "$(show "$a")"
    check "t4 fault: and the one after that" "$v"'\n' "$(show "$a")"

    check "t4 fault: write EIO 1 answers ok" ok "$(sim_ctl fault "$ap" write EIO 1)"
    check "t4 fault: the next echo of an acceptable version fails with Input/output error" \
        "Input/output error" "$(putnl "$a" "$v")"
    check "t4 fault: the echo after it is accepted again" ok "$(putnl "$a" "$v")"
    check "t4 fault: a write fault left reads alone" "$v"'\n' "$(show "$a")"

    check "t4 fault: read ENODEV 2 answers ok" ok "$(sim_ctl fault "$ap" read ENODEV 2)"
    check "t4 fault: first of two faulted reads gives No such device" \
        "No such device" "$(errno_of cat "$a")"
    check "t4 fault: second of two faulted reads gives No such device" \
        "No such device" "$(errno_of cat "$a")"
    check "t4 fault: the third read works" "$v"'\n' "$(show "$a")"

    check "t4 fault: a fault set through one alias answers ok" \
        ok "$(sim_ctl fault "sys/devices/$T4_P1/$T4_U1/migration_version" read EIO 1)"
    check "t4 fault: ... hits the same attribute read through the bus alias" \
        "Input/output error" "$(errno_of cat "$a")"
    check "t4 fault: ... once" "$v"'\n' "$(show "$alias")"

    check "t4 fault: write EBUSY without a count answers ok" ok "$(sim_ctl fault "$ap" write EBUSY)"
    check "t4 fault: an uncounted write fault fails the first write" \
        "Device or resource busy" "$(putnl "$a" "$v")"
    check "t4 fault: ... the second" "Device or resource busy" "$(putnl "$a" "$v")"
    check "t4 fault: ... the third" "Device or resource busy" "$(put "$a" "$v")"
    check "t4 fault: reads still work under a write fault" "$v"'\n' "$(show "$a")"
    check "t4 fault: clear PATH answers ok" ok "$(sim_ctl clear "$ap")"
    check "t4 fault: after clear the write is accepted" ok "$(putnl "$a" "$v")"

    check "t4 fault: a read fault on available_instances answers ok" \
        ok "$(sim_ctl fault "$ai" read EIO 1)"
    check "t4 fault: cat available_instances fails with Input/output error" \
        "Input/output error" "$(errno_of cat "$SIM_ROOT/$ai")"
    check "t4 fault: cat available_instances works again" yes \
        "$(case "$(show "$SIM_ROOT/$ai")" in [0-9]*'\n') echo yes ;; *) echo no ;; esac)"
    check "t4 fault: a write fault on create answers ok" ok "$(sim_ctl fault "$cr" write ENOSPC 1)"
    check "t4 fault: a faulted create fails with No space left on device though room is left" \
        "No space left on device" "$(put "$SIM_ROOT/$cr" aaaaaaaa-0000-4000-8000-0000000000c1)"
    check "t4 fault: the faulted create made no device" \
        no "$(exists "$S/bus/mdev/devices/aaaaaaaa-0000-4000-8000-0000000000c1")"
    check "t4 fault: the next create works" ok "$(put "$SIM_ROOT/$cr" aaaaaaaa-0000-4000-8000-0000000000c1)"
}

t4_control_delay() {
    local ap="sys/bus/mdev/devices/$T4_U1/migration_version"
    local a="$SIM_ROOT/$ap" v t0 t1 out el
    v=$(cat "$a")

    check "t4 delay: delay read 700 1 answers ok" ok "$(sim_ctl delay "$ap" read 700 1)"
    t0=$(now_ms); out=$(show "$a"); t1=$(now_ms); el=$((t1 - t0))
    check "t4 delay: the delayed cat still reads the version" "$v"'\n' "$out"
    check "t4 delay: the delayed cat takes at least 700 ms" \
        yes "$([ "$el" -ge 700 ] && echo yes || echo "no ($el ms)")"
    t0=$(now_ms); out=$(show "$a"); t1=$(now_ms); el=$((t1 - t0))
    check "t4 delay: with COUNT 1 the next cat is not delayed (< 700 ms)" \
        yes "$([ "$el" -lt 700 ] && echo yes || echo "no ($el ms)")"

    check "t4 delay: delay write 700 1 answers ok" ok "$(sim_ctl delay "$ap" write 700 1)"
    t0=$(now_ms); out=$(putnl "$a" "$v"); t1=$(now_ms); el=$((t1 - t0))
    check "t4 delay: the delayed write is still accepted" ok "$out"
    check "t4 delay: the delayed write takes at least 700 ms" \
        yes "$([ "$el" -ge 700 ] && echo yes || echo "no ($el ms)")"
    t0=$(now_ms); out=$(putnl "$a" "$v"); t1=$(now_ms); el=$((t1 - t0))
    check "t4 delay: the next write is not delayed (< 700 ms)" \
        yes "$([ "$el" -lt 700 ] && echo yes || echo "no ($el ms)")"
}

t4_control_counts() {
    local ap="sys/bus/mdev/devices/$T4_U1/migration_version"
    local alias="sys/devices/$T4_P1/$T4_U1/migration_version"
    local tp="sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-222/migration_version"
    local a="$SIM_ROOT/$ap" v
    v=$(cat "$a")

    check "t4 counts: reset-counts PATH answers ok" ok "$(sim_ctl reset-counts "$ap")"
    check "t4 counts: after reset-counts: reads=0 writes=0" \
        "ok reads=0 writes=0" "$(sim_ctl counts "$ap")"
    cat "$a" >/dev/null
    check "t4 counts: one cat is one read" "ok reads=1 writes=0" "$(sim_ctl counts "$ap")"
    cat "$a" >/dev/null; cat "$a" >/dev/null
    check "t4 counts: two more cats are two more reads" "ok reads=3 writes=0" "$(sim_ctl counts "$ap")"
    dd if="$a" of=/dev/null bs=4096 count=1 status=none
    check "t4 counts: one dd read is one read" "ok reads=4 writes=0" "$(sim_ctl counts "$ap")"
    putnl "$a" "$v" >/dev/null
    check "t4 counts: one echo is one write" "ok reads=4 writes=1" "$(sim_ctl counts "$ap")"
    putnl "$a" junk >/dev/null
    check "t4 counts: a refused echo is counted as a write too" \
        "ok reads=4 writes=2" "$(sim_ctl counts "$ap")"
    check "t4 counts: counts through another alias of the attribute are the same" \
        "ok reads=4 writes=2" "$(sim_ctl counts "$alias")"
    cat "$SIM_ROOT/$alias" >/dev/null
    check "t4 counts: a cat through the alias counts on the same attribute" \
        "ok reads=5 writes=2" "$(sim_ctl counts "$ap")"

    check "t4 counts: reset-counts without PATH answers ok" ok "$(sim_ctl reset-counts)"
    check "t4 counts: reset-counts without PATH zeroes the device attribute" \
        "ok reads=0 writes=0" "$(sim_ctl counts "$ap")"
    check "t4 counts: reset-counts without PATH zeroes the type attribute" \
        "ok reads=0 writes=0" "$(sim_ctl counts "$tp")"
    cat "$SIM_ROOT/$tp" >/dev/null
    check "t4 counts: the type attribute counts its own cat" \
        "ok reads=1 writes=0" "$(sim_ctl counts "$tp")"
    check "t4 counts: the device attribute does not see the type's cat" \
        "ok reads=0 writes=0" "$(sim_ctl counts "$ap")"
    putnl "$SIM_ROOT/$tp" "$(cat "$SIM_ROOT/$tp")" >/dev/null
    check "t4 counts: the type attribute counts its own write" \
        "ok reads=2 writes=1" "$(sim_ctl counts "$tp")"
}

t4_control_clear() {
    local ap="sys/bus/mdev/devices/$T4_U1/migration_version"
    local tp="sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-222/migration_version"
    local a="$SIM_ROOT/$ap" t="$SIM_ROOT/$tp" v tv t0 t1 el
    v=$(cat "$a"); tv=$(cat "$t")

    sim_ctl fault "$ap" read EIO >/dev/null
    sim_ctl fault "$tp" write EIO >/dev/null
    sim_ctl delay "$ap" write 3000 >/dev/null
    check "t4 clear: the uncounted read fault is in force" "Input/output error" "$(errno_of cat "$a")"
    check "t4 clear: the uncounted write fault is in force" "Input/output error" "$(putnl "$t" "$tv")"
    check "t4 clear: clear all answers ok" ok "$(sim_ctl clear all)"
    check "t4 clear: after clear all the device attribute reads" "$v"'\n' "$(show "$a")"
    check "t4 clear: after clear all the type attribute accepts" ok "$(putnl "$t" "$tv")"
    t0=$(now_ms); putnl "$a" "$v" >/dev/null; t1=$(now_ms); el=$((t1 - t0))
    check "t4 clear: after clear all the write delay is gone (< 3000 ms)" \
        yes "$([ "$el" -lt 3000 ] && echo yes || echo "no ($el ms)")"
}

t4_control_errors() {
    local ap="sys/bus/mdev/devices/$T4_U1/migration_version" r
    r=$(sim_ctl frobnicate 2>/dev/null)
    check "t4 control errors: an unknown command answers err <message>" \
        yes "$(case "$r" in 'err '?*) echo yes ;; *) echo "no ($r)" ;; esac)"
    check "t4 control errors: mdevsimctl exits 1 on err" 1 "$(ctl_rc frobnicate)"
    check "t4 control errors: mdevsimctl exits 0 on ok" 0 "$(ctl_rc ping)"
    check "t4 control errors: fault on a path that does not exist answers err" \
        err "$(reply_kind fault sys/bus/mdev/devices/no-such-device/migration_version read EIO 1)"
    check "t4 control errors: version on a path that does not exist answers err" \
        err "$(reply_kind version sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-999 x-1.0)"
    check "t4 control errors: counts on a path that does not exist answers err" \
        err "$(reply_kind counts sys/no/such/attribute)"
    check "t4 control errors: delay on a path that does not exist answers err" \
        err "$(reply_kind delay sys/no/such/attribute read 10 1)"
    check "t4 control errors: clear on a path that does not exist answers err" \
        err "$(reply_kind clear sys/no/such/attribute)"
    check "t4 control errors: version on a directory that is no type or device answers err" \
        err "$(reply_kind version sys/class x-1.0)"
    check "t4 control errors: an unknown errno name answers err" \
        err "$(reply_kind fault "$ap" read ENOTANERRNO 1)"
    check "t4 control errors: a direction other than read|write answers err" \
        err "$(reply_kind fault "$ap" sideways EIO 1)"
    check "t4 control errors: a delay that is not a number answers err" \
        err "$(reply_kind delay "$ap" read soon 1)"
    check "t4 control errors: fault without arguments answers err" err "$(reply_kind fault)"
    check "t4 control errors: the channel still answers after errors" ok "$(sim_ctl ping)"
    check "t4 control errors: the refused fault commands installed nothing" \
        yes "$(case "$(show "$SIM_ROOT/$ap")" in ERROR*) echo no ;; *) echo yes ;; esac)"
    check "t4 control errors: mdevsimctl exits 2 when it cannot reach the socket" \
        2 "$("$MDEVSIMCTL" "$SIM_WORK/no-such.sock" ping >/dev/null 2>&1; echo $?)"
}

# Page limits: one write stores at most 4096 bytes (a longer one is short),
# a read gives at most 4095.
t4_limits() {
    local t="$S/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-223"
    local u=aaaaaaaa-0000-4000-8000-0000000000d1 dp a a4096 a5000 v4095 c
    dp="sys/bus/mdev/devices/$u"
    a="$SIM_ROOT/$dp/migration_version"
    printf -v a4096 '%4096s' ''; a4096=${a4096// /a}
    printf -v a5000 '%5000s' ''; a5000=${a5000// /a}
    printf -v v4095 '%4095s' ''; v4095=${v4095// /v}

    check "t4 limits: a device for the page tests" ok "$(put "$t/create" "$u")"
    check "t4 limits: migration PATH JSON with a 4096-byte accept_list entry answers ok" \
        ok "$(sim_ctl migration "$dp" "{\"version\": \"short\", \"accept\": \"list\", \"accept_list\": [\"$a4096\"]}")"
    sim_ctl reset-counts "$dp/migration_version" >/dev/null
    check "t4 limits: one 4096-byte write is stored whole and accepted" ok "$(put "$a" "$a4096")"
    check "t4 limits: ... in one store call" "ok reads=0 writes=1" "$(sim_ctl counts "$dp/migration_version")"
    sim_ctl reset-counts "$dp/migration_version" >/dev/null
    check "t4 limits: a 5000-byte write is cut to 4096 (accepted, short), the rest refused" \
        "Invalid argument" "$(put "$a" "$a5000")"
    check "t4 limits: ... as two store calls: the 4096 bytes, then dd's retry of the rest" \
        "ok reads=0 writes=2" "$(sim_ctl counts "$dp/migration_version")"
    check "t4 limits: version with a 4095-byte string answers ok" \
        ok "$(sim_ctl version "$dp" "$v4095")"
    c=$(cat "$a" 2>/dev/null; printf x); c=${c%x}
    check "t4 limits: cat of a 4096-byte attribute (4095 + newline) gives 4095 bytes" 4095 "${#c}"
    check "t4 limits: ... which are the first 4095" yes "$([ "$c" = "$v4095" ] && echo yes || echo no)"
    check "t4 limits: remove the page-test device" ok "$(putnl "$SIM_ROOT/$dp/remove" 1)"
}

t4_main() {
    start "$FIXTURES/t4.json" t4 || return
    t4_layout
    t4_attributes
    t4_modes
    t4_newer_minor
    t4_create
    t4_remove
    t4_open_after_remove
    t4_control_version
    t4_control_fault
    t4_control_delay
    t4_control_counts
    t4_control_clear
    t4_control_errors
    t4_limits
    sim_stop t4
}

# --------------------------------------------------------------- i915.json
# Intel GVT-g: exact match (sysfs_streq), an explicit iommu group.

I915_U=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
I915_V4=8086-591d-i915-GVTg_V5_4-00000001
I915_V8=8086-591d-i915-GVTg_V5_8-00000001

i915_main() {
    local t d c
    start "$FIXTURES/i915.json" i915 || return
    t="$S/class/mdev_bus/0000:00:02.0/mdev_supported_types/i915-GVTg_V5_4"
    d="$S/bus/mdev/devices/$I915_U"

    check "i915 layout: class link resolves to sys/devices/pci0000:00/0000:00:02.0" \
        "$RR/sys/devices/pci0000:00/0000:00:02.0" "$(readlink -f "$S/class/mdev_bus/0000:00:02.0")"
    check "i915 layout: the fixture's iommu_group 12 is the device's group" \
        "$RR/sys/kernel/iommu_groups/12" "$(readlink -f "$d/iommu_group")"
    check "i915 layout: iommu_group link text" \
        "../../../../kernel/iommu_groups/12" "$(readlink "$d/iommu_group")"
    check "i915 layout: mdev_type gives i915-GVTg_V5_4" \
        i915-GVTg_V5_4 "$(basename "$(readlink "$d/mdev_type")")"
    check "i915 attributes: a multi-line description, one newline at the end" \
        'low_gm_size: 128MB\nhigh_gm_size: 512MB\nfence: 4\nresolution: 1920x1200\nweight: 4\n' \
        "$(show "$t/description")"
    check "i915 attributes: name" 'GVTg_V5_4\n' "$(show "$t/name")"
    check "i915 attributes: available_instances 4-1" '3\n' "$(show "$t/available_instances")"

    check "i915 exact: the type reads its version" "$I915_V4"'\n' "$(show "$t/migration_version")"
    check "i915 exact: the device reads its type's version" "$I915_V4"'\n' "$(show "$d/migration_version")"
    check "i915 exact: the same string is accepted without a newline" ok "$(put "$t/migration_version" "$I915_V4")"
    check "i915 exact: the same string is accepted with a newline" ok "$(putnl "$t/migration_version" "$I915_V4")"
    check "i915 exact: the device accepts the same string" ok "$(putnl "$d/migration_version" "$I915_V4")"
    check "i915 exact: another type's version gives Invalid argument" \
        "Invalid argument" "$(putnl "$t/migration_version" "$I915_V8")"
    check "i915 exact: a newer software version gives Invalid argument" \
        "Invalid argument" "$(putnl "$d/migration_version" "8086-591d-i915-GVTg_V5_4-00000002")"
    check "i915 exact: an older software version gives Invalid argument (exact, not ordered)" \
        "Invalid argument" "$(putnl "$d/migration_version" "8086-591d-i915-GVTg_V5_4-00000000")"
    check "i915 exact: a trailing space gives Invalid argument" \
        "Invalid argument" "$(put "$t/migration_version" "$I915_V4 ")"
    check "i915 exact: two trailing newlines give Invalid argument" \
        "Invalid argument" "$(put "$t/migration_version" "$I915_V4"$'\n\n')"
    check "i915 exact: a prefix of the version gives Invalid argument" \
        "Invalid argument" "$(putnl "$t/migration_version" "8086-591d-i915-GVTg_V5_4")"
    check "i915 exact: another case gives Invalid argument" \
        "Invalid argument" "$(putnl "$t/migration_version" "8086-591D-i915-GVTG_V5_4-00000001")"
    check "i915 exact: the V5_8 type accepts its own version" \
        ok "$(putnl "$S/class/mdev_bus/0000:00:02.0/mdev_supported_types/i915-GVTg_V5_8/migration_version" "$I915_V8")"

    c=aaaaaaaa-0000-4000-8000-000000000915
    check "i915 create: a device created at run time" ok "$(putnl "$t/create" "$c")"
    check "i915 create: it takes the lowest free group from iommu_group_start 1" \
        "$RR/sys/kernel/iommu_groups/1" "$(readlink -f "$S/bus/mdev/devices/$c/iommu_group")"
    check "i915 create: it reads its type's version" \
        "$I915_V4"'\n' "$(show "$S/bus/mdev/devices/$c/migration_version")"
    check "i915 create: it accepts exactly that" ok "$(put "$S/bus/mdev/devices/$c/migration_version" "$I915_V4")"
    check "i915 create: it refuses others" \
        "Invalid argument" "$(put "$S/bus/mdev/devices/$c/migration_version" "$I915_V8")"

    check "i915 upgrade: version through the device's mdev_type link answers ok" \
        ok "$(sim_ctl version "sys/bus/mdev/devices/$I915_U/mdev_type" "8086-591d-i915-GVTg_V5_4-00000002")"
    check "i915 upgrade: the type reads the new version" \
        '8086-591d-i915-GVTg_V5_4-00000002\n' "$(show "$t/migration_version")"
    check "i915 upgrade: the fixture device follows" \
        '8086-591d-i915-GVTg_V5_4-00000002\n' "$(show "$d/migration_version")"
    check "i915 upgrade: the run-time device follows" \
        '8086-591d-i915-GVTg_V5_4-00000002\n' "$(show "$S/bus/mdev/devices/$c/migration_version")"
    check "i915 upgrade: the type now refuses the old version" \
        "Invalid argument" "$(putnl "$t/migration_version" "$I915_V4")"
    check "i915 upgrade: the device now refuses the old version" \
        "Invalid argument" "$(putnl "$d/migration_version" "$I915_V4")"
    check "i915 upgrade: the device accepts the new version" \
        ok "$(putnl "$d/migration_version" "8086-591d-i915-GVTg_V5_4-00000002")"
    check "i915 upgrade: the other type is untouched" \
        "$I915_V8"'\n' "$(show "$S/class/mdev_bus/0000:00:02.0/mdev_supported_types/i915-GVTg_V5_8/migration_version")"
    sim_stop i915
}

# --------------------------------------------------------------- mtty.json
# An explicit accept list, a custom refusal errno, a device-level override.

MTTY_D=0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9

mtty_main() {
    local t1 t2 d c1 c2
    start "$FIXTURES/mtty.json" mtty || return
    t1="$S/class/mdev_bus/mtty/mdev_supported_types/mtty-1"
    t2="$S/class/mdev_bus/mtty/mdev_supported_types/mtty-2"
    d="$S/bus/mdev/devices/$MTTY_D"

    check "mtty layout: class link resolves into sys/devices/virtual/mtty/mtty" \
        "$RR/sys/devices/virtual/mtty/mtty" "$(readlink -f "$S/class/mdev_bus/mtty")"
    check "mtty layout: bus link resolves to the device under the virtual parent" \
        "$RR/sys/devices/virtual/mtty/mtty/$MTTY_D" "$(readlink -f "$d")"
    check "mtty layout: default iommu_group_start is 100" \
        "$RR/sys/kernel/iommu_groups/100" "$(readlink -f "$d/iommu_group")"
    check "mtty layout: an empty description reads empty" "" "$(cat "$t1/description")"

    check "mtty list: mtty-1 reads its version" 'mtty-1-v2\n' "$(show "$t1/migration_version")"
    check "mtty list: mtty-1 accepts list member mtty-1-v1" ok "$(put "$t1/migration_version" mtty-1-v1)"
    check "mtty list: mtty-1 accepts list member mtty-1-v2 (with newline)" ok "$(putnl "$t1/migration_version" mtty-1-v2)"
    check "mtty list: mtty-1 refuses mtty-1-v3 with the default Invalid argument" \
        "Invalid argument" "$(putnl "$t1/migration_version" mtty-1-v3)"
    check "mtty list: mtty-1 refuses another type's version with Invalid argument" \
        "Invalid argument" "$(putnl "$t1/migration_version" mtty-2-v2)"
    check "mtty list: mtty-2 reads its version" 'mtty-2-v2\n' "$(show "$t2/migration_version")"
    check "mtty list: mtty-2 accepts its only member" ok "$(putnl "$t2/migration_version" mtty-2-v2)"
    check "mtty list: mtty-2 refuses mtty-2-v1 with its refuse_errno (EOPNOTSUPP)" \
        "Operation not supported" "$(putnl "$t2/migration_version" mtty-2-v1)"
    check "mtty list: mtty-2 refuses an empty line with Operation not supported" \
        "Operation not supported" "$(put "$t2/migration_version" $'\n')"

    check "mtty override: the device reads its own version, not its type's" \
        'mtty-2-dev-v2\n' "$(show "$d/migration_version")"
    check "mtty override: the device accepts its own version (exact, no newline)" \
        ok "$(put "$d/migration_version" mtty-2-dev-v2)"
    check "mtty override: the device accepts its own version (exact, newline)" \
        ok "$(putnl "$d/migration_version" mtty-2-dev-v2)"
    check "mtty override: the device refuses its type's version with its own default EINVAL" \
        "Invalid argument" "$(putnl "$d/migration_version" mtty-2-v2)"
    check "mtty override: the type is unaffected by its device's override" \
        'mtty-2-v2\n' "$(show "$t2/migration_version")"

    c2=aaaaaaaa-0000-4000-8000-0000000000f2
    c1=aaaaaaaa-0000-4000-8000-0000000000f1
    check "mtty inherit: create a mtty-2 device at run time" ok "$(put "$t2/create" "$c2")"
    check "mtty inherit: it reads its type's version" \
        'mtty-2-v2\n' "$(show "$S/bus/mdev/devices/$c2/migration_version")"
    check "mtty inherit: it accepts its type's list" \
        ok "$(putnl "$S/bus/mdev/devices/$c2/migration_version" mtty-2-v2)"
    check "mtty inherit: it refuses with its type's Operation not supported" \
        "Operation not supported" "$(putnl "$S/bus/mdev/devices/$c2/migration_version" mtty-2-v1)"
    check "mtty inherit: create a mtty-1 device at run time" ok "$(putnl "$t1/create" "$c1")"
    check "mtty inherit: it accepts the mtty-1 list" \
        ok "$(putnl "$S/bus/mdev/devices/$c1/migration_version" mtty-1-v1)"

    check "mtty migration: \"inherit\" puts the overriding device back on its type" \
        ok "$(sim_ctl migration "sys/bus/mdev/devices/$MTTY_D" '"inherit"')"
    check "mtty migration: it then reads the type's version" 'mtty-2-v2\n' "$(show "$d/migration_version")"
    check "mtty migration: and refuses with the type's Operation not supported" \
        "Operation not supported" "$(putnl "$d/migration_version" mtty-2-dev-v2)"
    check "mtty migration: null on a device answers ok" \
        ok "$(sim_ctl migration "sys/bus/mdev/devices/$MTTY_D" null)"
    check "mtty migration: the device's migration_version is gone from ls" \
        "iommu_group mdev_type remove subsystem uevent" "$(entries "$d")"
    check "mtty migration: cat of it gives No such file or directory" \
        "No such file or directory" "$(errno_of cat "$d/migration_version")"
    check "mtty migration: a JSON behaviour on a device answers ok" \
        ok "$(sim_ctl migration "sys/bus/mdev/devices/$MTTY_D" '{"version": "mtty-2-v9", "accept": "exact", "refuse_errno": "EBUSY"}')"
    check "mtty migration: the device reads the new behaviour's version" \
        'mtty-2-v9\n' "$(show "$d/migration_version")"
    check "mtty migration: the new behaviour refuses with its refuse_errno" \
        "Device or resource busy" "$(putnl "$d/migration_version" mtty-2-v2)"
    check "mtty migration: null on a type answers ok" \
        ok "$(sim_ctl migration "sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1" null)"
    check "mtty migration: the type's migration_version is gone from ls" \
        "available_instances create description device_api devices name" "$(entries "$t1")"
    check "mtty migration: an inheriting device loses it too" \
        no "$(exists "$S/bus/mdev/devices/$c1/migration_version")"
    check "mtty migration: a read_errno behaviour on the type answers ok" \
        ok "$(sim_ctl migration "sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1" '{"read_errno": "EIO"}')"
    check "mtty migration: the attribute is back on the type" yes "$(exists "$t1/migration_version")"
    check "mtty migration: and on the inheriting device, failing with the read errno" \
        "Input/output error" "$(errno_of cat "$S/bus/mdev/devices/$c1/migration_version")"
    sim_stop mtty
}

# ----------------------------------------------------------- readfail.json
# i915 on an unsupported generation: the attribute exists, read and write
# fail with ENODEV; create fails with the type's create_errno.

RF_U=9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d

readfail_main() {
    local t d c
    start "$FIXTURES/readfail.json" readfail || return
    t="$S/class/mdev_bus/0000:00:02.0/mdev_supported_types/i915-GVTg_V4_2"
    d="$S/bus/mdev/devices/$RF_U"

    check "readfail read_errno: the type attribute is listed" yes "$(contains "$(entries "$t")" migration_version)"
    check "readfail read_errno: the device attribute is listed" yes "$(contains "$(entries "$d")" migration_version)"
    check "readfail read_errno: cat of the type attribute gives No such device" \
        "No such device" "$(errno_of cat "$t/migration_version")"
    check "readfail read_errno: cat of the device attribute gives No such device" \
        "No such device" "$(errno_of cat "$d/migration_version")"
    check "readfail read_errno: echo into the type attribute gives No such device" \
        "No such device" "$(putnl "$t/migration_version" anything)"
    check "readfail read_errno: printf into the device attribute gives No such device" \
        "No such device" "$(put "$d/migration_version" anything)"
    check "readfail layout: iommu group from iommu_group_start 1" \
        "$RR/sys/kernel/iommu_groups/1" "$(readlink -f "$d/iommu_group")"

    c=aaaaaaaa-0000-4000-8000-0000000000ad
    check "readfail create: available_instances 2-1" '1\n' "$(show "$t/available_instances")"
    check "readfail create: the last instance is created" ok "$(put "$t/create" "$c")"
    check "readfail create: available_instances 0" '0\n' "$(show "$t/available_instances")"
    check "readfail create: no instance left gives the type's create_errno (Device or resource busy)" \
        "Device or resource busy" "$(put "$t/create" aaaaaaaa-0000-4000-8000-0000000000ae)"
    check "readfail create: a run-time device inherits the read errno" \
        "No such device" "$(errno_of cat "$S/bus/mdev/devices/$c/migration_version")"
    check "readfail create: ... and the write errno" \
        "No such device" "$(putnl "$S/bus/mdev/devices/$c/migration_version" x)"
    sim_stop readfail
}

# -------------------------------------------------------------- nomig.json
# A vendor without the attribute at all (mdpy).

NOMIG_U=5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9

nomig_main() {
    local ty d c
    start "$FIXTURES/nomig.json" nomig || return
    d="$S/bus/mdev/devices/$NOMIG_U"
    for ty in mdpy-vga mdpy-xga mdpy-hd; do
        check "nomig: type $ty lists no migration_version" \
            "available_instances create description device_api devices name" \
            "$(entries "$S/class/mdev_bus/mdpy/mdev_supported_types/$ty")"
    done
    check "nomig: the device lists no migration_version" \
        "iommu_group mdev_type remove subsystem uevent" "$(entries "$d")"
    check "nomig: cat of the absent attribute gives No such file or directory" \
        "No such file or directory" "$(errno_of cat "$d/migration_version")"
    check "nomig: stat of the absent type attribute gives No such file or directory" \
        "No such file or directory" \
        "$(errno_of stat "$S/class/mdev_bus/mdpy/mdev_supported_types/mdpy-hd/migration_version")"
    check "nomig: echo into the absent attribute would create a file: Permission denied" \
        "Permission denied" "$(putnl "$d/migration_version" x)"
    check "nomig: ... and it is still absent" no "$(exists "$d/migration_version")"
    c=aaaaaaaa-0000-4000-8000-0000000000cc
    check "nomig: a device created at run time" \
        ok "$(put "$S/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/create" "$c")"
    check "nomig: the run-time device has no migration_version either" \
        "iommu_group mdev_type remove subsystem uevent" "$(entries "$S/bus/mdev/devices/$c")"
    check "nomig: the run-time device resolves under the virtual parent" \
        "$RR/sys/devices/virtual/mdpy/mdpy/$c" "$(readlink -f "$S/bus/mdev/devices/$c")"
    sim_stop nomig
}

# ------------------------------------------------------ gen-large-fixture
# The benchmark fixture mounts and has the advertised shape.

large_count_types() {
    local p n=0 k
    for p in "$S/class/mdev_bus"/*; do
        k=$(count "$p/mdev_supported_types")
        [ "$k" = ERROR ] && { echo ERROR; return; }
        n=$((n + k))
    done
    echo "$n"
}

large_main() {
    local gen="$HERE/gen-large-fixture" f="$SIM_WORK/large.json" f2="$SIM_WORK/small.json"
    check "large: gen-large-fixture is executable" yes "$([ -x "$gen" ] && echo yes || echo no)"
    check "large: gen-large-fixture runs" ok "$(errno_of bash -c '"$1" > "$2"' gen "$gen" "$f")"
    check "large: gen-large-fixture output is deterministic" \
        yes "$([ "$("$gen")" = "$(cat "$f")" ] && echo yes || echo no)"
    if start "$f" large; then
        check "large: 16 parents in class/mdev_bus" 16 "$(count "$S/class/mdev_bus")"
        check "large: 512 type directories" 512 "$(large_count_types)"
        check "large: 64 devices in bus/mdev/devices" 64 "$(count "$S/bus/mdev/devices")"
        sim_stop large
    fi
    "$gen" --parents 2 --types 3 --devices 5 > "$f2"
    if start "$f2" large-small; then
        check "large: --parents 2 gives 2 parents" 2 "$(count "$S/class/mdev_bus")"
        check "large: --types 3 gives 6 type directories" 6 "$(large_count_types)"
        check "large: --devices 5 gives 5 devices" 5 "$(count "$S/bus/mdev/devices")"
        sim_stop large-small
    fi
}

t4_main
i915_main
mtty_main
readfail_main
nomig_main
large_main
sim_finish
