#!/bin/bash
# bench/diff.sh - `vmrun diff` against `virt-diff --checksum=sha256` on the
# same base and overlay, side by side in one run, for (a) a quiet run and
# (b) a run that added 20,000 files. Prints a table: case, ours (s),
# virt-diff (s), ratio. BASE defaults to the default image.
#
# The overlays are made without booting a VM: (a) is an overlay nobody wrote
# (what a module that writes nothing leaves, before the agent's own mount
# writes are counted; pass QUIET_OVERLAY=FILE to use one kept from a real run
# with --keep-overlay), (b) gets 20,000 small files in /tmp/many via guestfish.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VDIFF=${VMRUN_DIFF:-"$root/build/vmrun diff"}
BASE=$(readlink -f "${BASE:-$root/build/images/default.qcow2}")
W=$(mktemp -d /tmp/vmrun-diffbench.XXXXXX)
trap 'rm -rf "$W"' EXIT
export LIBGUESTFS_BACKEND=direct
if ! grep -qwE 'vmx|svm' /proc/cpuinfo || [[ -e /sys/module/kvm_pvm ]]; then
    export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
fi

if [[ -n ${QUIET_OVERLAY:-} ]]; then
    cp "$QUIET_OVERLAY" "$W/quiet.qcow2"
else
    qemu-img create -q -f qcow2 -b "$BASE" -F qcow2 "$W/quiet.qcow2"
fi
qemu-img create -q -f qcow2 -b "$BASE" -F qcow2 "$W/many.qcow2"
mkdir "$W/many" && (cd "$W/many" && seq 1 20000 | sed 's/^/f/' | xargs touch &&
    seq 1 200 | while read -r i; do echo "content $i" >"f$i"; done)
tar -C "$W/many" -cf "$W/many.tar" .
root_dev=$(guestfish --ro -a "$BASE" run : list-filesystems | awk -F: '/ext4/{print $1; exit}')
guestfish -a "$W/many.qcow2" run : mount "$root_dev" / : mkdir-p /tmp/many : tar-in "$W/many.tar" /tmp/many

secs() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N); echo "scale=2; ($t1 - $t0) / 1000000000" | bc; }
printf '%-22s %10s %14s %8s\n' case "ours (s)" "virt-diff (s)" ratio
for c in quiet many; do
    ours=$(secs $VDIFF -q --diff-max-entries 100000 --report "$W/$c.json" "$BASE" "$W/$c.qcow2")
    theirs=$(secs virt-diff --checksum=sha256 --format=qcow2 -a "$BASE" -A "$W/$c.qcow2")
    label=$([[ $c == quiet ]] && echo "(a) quiet run" || echo "(b) +20,000 files")
    printf '%-22s %10s %14s %8s\n' "$label" "$ours" "$theirs" "$(echo "scale=3; $ours / $theirs" | bc)"
done
echo "(ours: status $(jq -r .status "$W/quiet.json") / $(jq -r .status "$W/many.json"), $(jq -r .counts.added "$W/many.json") added)"
