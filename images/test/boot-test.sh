#!/bin/bash
# boot-test.sh [--machine M] [--root DEV] [--append ARGS] [--format F] DISK
#   - boot vmrun's kernel with a throw-away init and check the guest works.
#
# How it works: compiles testinit.c (static), packs it with ../mkinitramfs.sh,
# and boots build/kernel/vmlinux (VMRUN_KERNEL overrides) under TCG with DISK
# as a virtio-blk disk (opened read-only, snapshot=on), a virtio-serial port
# named org.vmrun.agent.0 on a Unix socket, and a virtio-rng. testinit mounts
# the root, runs python3 twice and powers off; this script reads the socket,
# then checks the serial log for python's "42" and the port's hello, and prints
# the time to init from the kernel's printk timestamps.
# Machines (M): microvm (ACPI, default), microvm-noacpi (acpi=off: devices
# from the virtio_mmio.device= arguments QEMU appends), q35, pc (virtio-*-pci).
# Exit status 0 when every check passed. Output: the guest's serial log on
# stdout when VERBOSE=1, else only the testinit lines and the summary.
# shellcheck disable=SC2054,SC2317  # QEMU options contain commas; cleanup runs from trap
set -euo pipefail

usage() {
    echo "usage: $0 [--machine microvm|microvm-noacpi|q35|pc] [--root DEV]" \
        "[--append ARGS] [--format raw|qcow2] DISK" >&2
    exit 2
}
machine=microvm root=/dev/vda append="" format="" disk="" rtc=${RTC:-on}
while [[ $# -gt 0 ]]; do
    case $1 in
    --machine) machine=$2; shift 2 ;;
    --root) root=$2; shift 2 ;;
    --append) append=$2; shift 2 ;;
    --format) format=$2; shift 2 ;;
    -*) usage ;;
    *) [[ -z $disk ]] || usage; disk=$1; shift ;;
    esac
done
[[ -n $disk ]] || usage
[[ -n $format ]] || format=$(qemu-img info --output=json "$disk" | sed -n 's/.*"format": "\([a-z0-9]*\)".*/\1/p' | head -1)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$here/../..
kernel=${VMRUN_KERNEL:-$top/build/kernel/vmlinux}
work=$top/build/test
mkdir -p "$work"

if [[ ! $work/testinit -nt $here/testinit.c ]]; then
    gcc -static -Os -Wall -Wextra -Werror -D_GNU_SOURCE -o "$work/testinit" "$here/testinit.c"
fi
"$here/../mkinitramfs.sh" "$work/testinit" "$work/testinit.cpio" >/dev/null

tmp=$(mktemp -d)
reader=""
cleanup() {
    [[ -n $reader ]] && kill "$reader" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# Kernel arguments that matter: console on the ISA/PC serial port; panic=-1
# and reboot=t turn a dead init or an impossible power-off into a triple
# fault, which -no-reboot turns into QEMU exiting.
# Under TCG the guest TSC runs at the host's TSC rate, and calibrating it
# against the PIT fails in about half the boots (then the kernel hangs);
# tsc_early_khz skips the calibration. Under KVM, kvmclock supplies it.
tsc_khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
cmdline="console=ttyS0 panic=-1 reboot=t tsc_early_khz=$tsc_khz vmrun_test.root=$root $append"
common=(-nodefaults -no-user-config -nographic -no-reboot -m 512 -smp 1
        -accel tcg,thread=multi -cpu max
        -serial stdio -kernel "$kernel" -initrd "$work/testinit.cpio"
        -drive "if=none,id=root,file=$disk,format=$format,readonly=on,snapshot=on"
        -chardev "socket,id=agent,path=$tmp/agent.sock,server=on,wait=on")
case $machine in
microvm | microvm-noacpi)
    acpi=on
    if [[ $machine == microvm-noacpi ]]; then
        acpi=off
        cmdline="$cmdline acpi=off"
    fi
    qemu=(qemu-system-x86_64 -M "microvm,x-option-roms=off,isa-serial=on,rtc=$rtc,acpi=$acpi"
          "${common[@]}"
          -device virtio-blk-device,drive=root
          -device virtio-serial-device -device virtserialport,chardev=agent,name=org.vmrun.agent.0
          -device virtio-rng-device)
    ;;
q35 | pc)
    qemu=(qemu-system-x86_64 -M "$machine" "${common[@]}"
          -device virtio-blk-pci,drive=root
          -device virtio-serial-pci -device virtserialport,chardev=agent,name=org.vmrun.agent.0
          -device virtio-rng-pci)
    ;;
*) usage ;;
esac

# The host end of the agent port: QEMU waits (wait=on) for this to connect.
python3 - "$tmp/agent.sock" >"$tmp/port.out" 2>&1 <<'EOF' &
import socket, sys, time
for _ in range(500):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.01)
while True:
    b = s.recv(4096)
    if not b:
        break
    sys.stdout.write(b.decode(errors="replace")); sys.stdout.flush()
EOF
reader=$!

# Each serial line is prefixed with the host's seconds since QEMU started.
start=$EPOCHREALTIME
set +e
timeout "${BOOT_TIMEOUT:-60}" "${qemu[@]}" -append "$cmdline" </dev/null 2>&1 |
    while IFS= read -r line; do
        printf '%s %s\n' "$EPOCHREALTIME" "$line"
    done >"$tmp/host.raw"
rc=${PIPESTATUS[0]}
set -e
end=$EPOCHREALTIME
awk -v t0="$start" '{ t = $1; sub(/^[^ ]* /, ""); printf "%.3f %s\n", t - t0, $0 }' \
    "$tmp/host.raw" >"$tmp/host.log"
cut -d' ' -f2- "$tmp/host.log" >"$tmp/serial.log"
wait "$reader" 2>/dev/null || true
reader=""

[[ ${VERBOSE:-0} == 1 ]] && cat "$tmp/host.log" || grep -a 'testinit:' "$tmp/serial.log" || true

fail=0
check() { # DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then echo "ok     $what"; else echo "FAILED $what"; fail=1; fi
}
check "qemu exited by itself (rc=$rc)" test "$rc" -eq 0
check "python3 printed 42" grep -aqx '42.\?' "$tmp/serial.log"
check "python3 exited 0 twice" test "$(grep -ac 'python3.*exit 0' "$tmp/serial.log")" -eq 2
check "lo works" grep -aq '^lo ok True' "$tmp/serial.log"
check "host read the agent port" grep -q 'hello from testinit' "$tmp/port.out"
init_t=$(grep -a 'Run /init as init process' "$tmp/serial.log" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p' || true)
py_t=$(grep -a 'testinit:.*python3 exit' "$tmp/serial.log" | sed -n 's/.*\[ *\([0-9.]*\)\].*/\1/p' || true)
run_t=$(grep -a 'testinit:.*running python3' "$tmp/serial.log" | sed -n 's/.*\[ *\([0-9.]*\)\].*/\1/p' || true)
py2_t=$(grep -a 'testinit:.*python3 (warm)' "$tmp/serial.log" | sed -n 's/.*\[ *\([0-9.]*\)\].*/\1/p' || true)
host_init=$(grep -a -m1 'testinit: .*started' "$tmp/host.log" | cut -d' ' -f1 || true)
echo "summary: machine=$machine root=$root init_at=${init_t:-?}s (guest clock)" \
    "init_wall=${host_init:-?}s (host, from QEMU start)" \
    "python_cold=$(echo "${py_t:-0} - ${run_t:-0}" | bc)s" \
    "python_warm=$(echo "${py2_t:-0} - ${py_t:-0}" | bc)s" \
    "qemu_wall=$(echo "$end - $start" | bc | sed 's/^\./0./')s"
exit $fail
