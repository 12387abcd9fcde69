#!/bin/bash
# floor.sh ARGV_FILE BASE INITRD OVERLAY LOG - one run of the benchmark's floor VM.
#
# How it works: what vmrun does around QEMU, minus libvirt and the agent. It
# creates a fresh qcow2 overlay on BASE (the same qemu-img call as
# orchestrator/overlay.c), starts QEMU with the argv in ARGV_FILE
# (NUL-separated, written by `benchtool.py floor-argv`) after substituting
# @OVERLAY@, @LOG@ and @INITRD@, waits for it to exit (floorinit reboots the
# guest once python3 is done; -no-reboot turns that into QEMU exiting), and
# removes the overlay. The serial console, with the module's output, is in LOG.
# Exit status: QEMU's (124 if it ran past FLOOR_TIMEOUT seconds, default 120).
set -euo pipefail

[[ $# -eq 5 ]] || { echo "usage: $0 ARGV_FILE BASE INITRD OVERLAY LOG" >&2; exit 2; }
argv_file=$1 base=$2 initrd=$3 overlay=$4 log=$5

mapfile -d '' -t argv <"$argv_file"
for i in "${!argv[@]}"; do
    a=${argv[$i]}
    a=${a//@OVERLAY@/$overlay}
    a=${a//@LOG@/$log}
    a=${a//@INITRD@/$initrd}
    argv[i]=$a
done

rm -f "$overlay" "$log"
qemu-img create -q -f qcow2 -o "backing_file=$base,backing_fmt=qcow2" "$overlay"
rc=0
timeout "${FLOOR_TIMEOUT:-120}" "${argv[@]}" </dev/null >/dev/null 2>>"$log.stderr" || rc=$?
rm -f "$overlay"
exit "$rc"
