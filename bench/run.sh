#!/bin/bash
# run.sh - vmrun's benchmarks (`make bench`): prints tables, ratios and targets.
#
# How it works. Everything runs in a fresh temporary directory with its own
# VMRUN_STATE_DIR and VMRUN_RUNTIME_DIR, so nothing is shared with other vmrun
# users and `pgrep -f $VMRUN_RUNTIME_DIR/` finds exactly this benchmark's QEMUs.
#  0. Warm-up (untimed): one vmrun run of a module that sleeps, so libvirt's
#     QEMU capabilities probe is paid here; while it runs, the QEMU command line
#     libvirt produced is read from /proc/PID/cmdline and turned into the floor's
#     (benchtool.py floor-argv: same machine, accel, -cpu, memory, disks, devices;
#     no libvirt plumbing, no agent). bench/floorinit.c is built static and packed
#     with hello.py as the floor's initramfs. One floor run, untimed, checks it.
#  1+2. N interleaved pairs (floor, vmrun, floor, vmrun, ...) of hello.py, each
#     timed on CLOCK_MONOTONIC around the whole command (overlay creation,
#     QEMU, cleanup for the floor; the vmrun process for vmrun). Both outputs
#     are checked. vmrun runs with --diff none: the floor diffs nothing, and
#     the disk diff has its own benchmark (make bench-diff).
#  3. The stage breakdown of (2) from each run's --report timings.
#  4. KILL_N runs of `vmrun --timeout 1` on a module that ignores SIGTERM and
#     SIGINT and spins: timings.kill_ms from each report, and right after vmrun
#     returns, pgrep for any QEMU of this benchmark left running.
#  5. QEMU's RSS for a 512 MiB guest running hello.py that then sleeps:
#     /proc/PID/status and smaps sampled every 50 ms by benchtool.py.
# Each comparison is measured side by side in the same run; numbers are
# medians with min-max. Load averages at start and end show how busy the host
# was. Exit status 0 when the benchmark ran (MISSed targets do not fail it),
# 1 when a run failed or gave wrong output.
# Environment: N (pairs, default 7, at least 5), KILL_N (default 20), IMAGE,
# VMRUN (default build/vmrun), KEEP_BENCH=1 keeps the temporary directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
N=${N:-7}
KILL_N=${KILL_N:-20}
MEM_MIB=512
vmrun=${VMRUN:-$top/build/vmrun}
image=${IMAGE:-$top/build/images/default.qcow2}
[[ -e $image || -n ${IMAGE:-} ]] || image=$top/build/images/base.qcow2
tool=$here/benchtool.py

die() { echo "bench: $*" >&2; exit 1; }
[[ $N =~ ^[0-9]+$ && $N -ge 5 ]] || die "N must be a number >= 5 (got '$N')"
[[ $KILL_N =~ ^[0-9]+$ && $KILL_N -ge 1 ]] || die "KILL_N must be a number >= 1"
[[ -x $vmrun ]] || die "$vmrun not found: run 'make all guest image' first"
[[ -f $image ]] || die "$image not found: run 'make image' first"
image=$(realpath "$image")

W=$(mktemp -d /tmp/vmrun-bench.XXXXXX)
# QEMU runs under a uid of its own when vmrun is root: it must be able to
# walk to the overlays and sockets below $W (docs/security.md)
chmod 711 "$W"
bg_pids=()
cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    # a QEMU of ours still running here would be a bug reported above; do not leak it
    for p in $(pgrep -f -- "$W/rt/" || true); do kill -9 "$p" 2>/dev/null || true; done
    if [[ ${KEEP_BENCH:-0} == 1 ]]; then echo "bench: kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
export VMRUN_STATE_DIR=$W/state VMRUN_RUNTIME_DIR=$W/rt
D=$W/data M=$W/mod F=$W/floor
mkdir -p "$VMRUN_STATE_DIR" "$VMRUN_RUNTIME_DIR" "$D" "$M" "$F"
chmod 0711 "$VMRUN_STATE_DIR" "$VMRUN_RUNTIME_DIR"
failed=0
fail() { echo "bench: FAILED: $*" >&2; failed=1; }
ms() { cat "$D/t"; }
progress() { printf '  %s\n' "$*" >&2; }

# ---- the modules -----------------------------------------------------------
cat >"$M/hello.py" <<'EOF'
print("hello from vmrun-bench")
EOF
expected="hello from vmrun-bench"
cat >"$M/sleep.py" <<'EOF'
import time
print("warm-up")
time.sleep(3)
EOF
cat >"$M/spin.py" <<'EOF'
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
EOF
cat >"$M/memhello.py" <<'EOF'
import time
print("hello from vmrun-bench")
with open("/proc/meminfo") as f:
    for line in f:
        k, v = line.split(":")
        if k in ("MemTotal", "MemFree", "MemAvailable", "Cached"):
            print(f"{k}={v.split()[0]}")
time.sleep(4)
EOF
chmod 0644 "$M"/*.py

t_start=$(date +%s)
echo "vmrun benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host: $(nproc) CPUs, $(uname -r); $(qemu-system-x86_64 --version | head -1)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "image: $image"
echo "vmrun: $vmrun"
echo "N=$N interleaved pairs, KILL_N=$KILL_N"

# ---- 0. warm-up, the floor's command line and initramfs ----------------------
progress "warm-up: vmrun (capabilities probe) + capture of its QEMU command line"
"$tool" capture "$VMRUN_RUNTIME_DIR/" "$W/vmrun-qemu.cmdline" &
cap=$!
bg_pids+=("$cap")
"$vmrun" -q --diff none --report "$D/warmup.json" "$image" "$M/sleep.py" >"$W/warmup.out" ||
    die "warm-up vmrun run failed (exit $?)"
wait "$cap" || die "could not capture vmrun's QEMU command line"
accel=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["accel"] + " (" + r["accel_reason"] + ")")' "$D/warmup.json")
kernel=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel"])' "$D/warmup.json")
initrd=$(tr '\0' '\n' <"$W/vmrun-qemu.cmdline" | sed -n '/^-initrd$/{n;p;q}')
echo "accel: $accel"
echo "kernel: $kernel"
echo "vmrun's initramfs: $initrd"

"$tool" floor-argv "$W/vmrun-qemu.cmdline" "$image" "$W/floor.argv"
mkdir -p "$top/build/bench"
if [[ ! $top/build/bench/floorinit -nt $here/floorinit.c ]]; then
    gcc -static -Os -Wall -Wextra -Werror -D_GNU_SOURCE -o "$top/build/bench/floorinit" \
        "$here/floorinit.c"
fi
"$top/images/mkinitramfs.sh" "$top/build/bench/floorinit" "$W/floor.cpio" >/dev/null
# a second newc archive appended: the kernel unpacks both (hello.py lands at /)
(cd "$M" && echo hello.py | cpio --quiet -o -H newc -R 0:0) >>"$W/floor.cpio"

floor_run() { # I: one floor run, timed into $D/t; checks its output
    local i=$1 log=$D/floor-$1.log
    "$tool" time "$D/t" "$here/floor.sh" "$W/floor.argv" "$image" "$W/floor.cpio" \
        "$F/overlay.qcow2" "$log" || { fail "floor run $i: QEMU exit $?"; return 1; }
    if ! grep -aq "^$expected" "$log" || ! grep -aq 'python3 exit 0' "$log"; then
        fail "floor run $i: no '$expected' / python3 exit 0 in $log"
        return 1
    fi
}
vmrun_run() { # I: one vmrun run of hello.py, timed into $D/t; checks its output
    local i=$1
    "$tool" time "$D/t" "$vmrun" -q --diff none --report "$D/hello-$i.json" "$image" "$M/hello.py" \
        >"$D/vmrun-$i.out" || { fail "vmrun run $i: exit $?"; return 1; }
    [[ $(cat "$D/vmrun-$i.out") == "$expected" ]] ||
        { fail "vmrun run $i: output '$(head -c 200 "$D/vmrun-$i.out")'"; return 1; }
}

progress "warm-up: one floor run (untimed)"
floor_run 0 || die "the floor VM does not work; see $D/floor-0.log (KEEP_BENCH=1 keeps it)"
rm -f "$D/floor-0.log"

# ---- 1 + 2. interleaved end to end -----------------------------------------
for i in $(seq 1 "$N"); do
    i2=$(printf '%02d' "$i")
    f="-" v="-"
    if floor_run "$i2"; then f=$(ms); echo "$f" >>"$D/floor.ms"; fi
    if vmrun_run "$i2"; then v=$(ms); echo "$v" >>"$D/vmrun.ms"; fi
    progress "[$i/$N] floor $f ms, vmrun $v ms"
done

echo
echo "== 1+2. hello.py end to end: floor vs vmrun, interleaved, wall clock =="
"$tool" report e2e "$D"
echo
echo "== 3. where vmrun's time goes (report timings of the runs in 2) =="
"$tool" report stages "$D"

# ---- 4. kill latency --------------------------------------------------------
for i in $(seq 1 "$KILL_N"); do
    i2=$(printf '%02d' "$i")
    rc=0
    "$tool" time "$D/t" "$vmrun" -q --diff none --timeout 1 --report "$D/kill-$i2.json" "$image" \
        "$M/spin.py" >/dev/null 2>"$D/kill-$i2.err" || rc=$?
    left=$(pgrep -f -- "$VMRUN_RUNTIME_DIR/" || true)
    if [[ -n $left ]]; then echo 1; else echo 0; fi >>"$D/kill.survivors"
    if [[ -n $left ]]; then
        fail "kill run $i: QEMU still running after vmrun returned: $left"
        for p in $left; do kill -9 "$p" 2>/dev/null || true; done
    fi
    [[ $rc -eq 124 ]] || fail "kill run $i: vmrun exit $rc, expected 124 (timeout)"
    ms >>"$D/kill.ms"
    progress "[kill $i/$KILL_N] vmrun $(ms) ms, kill_ms $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["timings"]["kill_ms"])' "$D/kill-$i2.json" 2>/dev/null || echo '?')"
done
echo
echo "== 4. kill latency: vmrun --timeout 1, module ignoring SIGTERM/SIGINT, spinning =="
"$tool" report kill "$D"

# ---- 5. host memory per VM -------------------------------------------------
"$tool" rss "$VMRUN_RUNTIME_DIR/" "$MEM_MIB" "$D/rss.json" &
sampler=$!
bg_pids+=("$sampler")
"$vmrun" -q --diff none --memory "$MEM_MIB" "$image" "$M/memhello.py" >"$D/rss.out" ||
    fail "RSS run: vmrun exit $?"
wait "$sampler" || die "RSS sampling failed"
head -1 "$D/rss.out" | grep -qx "$expected" || fail "RSS run: wrong output"
echo
echo "== 5. host memory per VM =="
"$tool" report rss "$D"

echo
echo "== floor QEMU command line (from vmrun's, captured in the warm-up; @OVERLAY@ is a fresh"
echo "   qcow2 overlay on the image, @LOG@ the serial console file, @INITRD@ floorinit + hello.py) =="
"$tool" quote "$W/floor.argv"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench wall time: $(($(date +%s) - t_start)) s"
if [[ $failed -ne 0 ]]; then
    echo "bench: some runs failed (see the FAILED lines above)"
    exit 1
fi
