#!/bin/bash
# build-test-images.sh [--base BASE.qcow2] DIR - disk layouts for vmrun's tests.
#
# How it works: from the default base image (BASE, default
# build/images/default.qcow2, the Makefile's name for it; built with
# build-image.sh if missing) it derives
#   DIR/plain.raw        the same ext4 filesystem as a raw whole-disk image
#   DIR/gpt.raw          GPT disk: p1 = 1 MiB BIOS-boot filler, p2 = that ext4
#   DIR/mbr.raw          MBR (dos) disk: p1 = 1 MiB type 0xef filler, p2 = ext4
#   DIR/backing.qcow2    a qcow2 whose header names a backing file (plain.raw,
#                        relative), for the "refuse images with a backing file" test
# The partitioned disks are laid out with sfdisk and the filesystem is copied
# in at partition 2's byte offset with dd (sparse, conv=notrunc): no loop
# devices, no mounts, no root needed. All raw files are sparse.
# Cache: DIR/.stamp holds a hash of this script and BASE's stamp (or its
# size and mtime); when it matches, nothing is done.
set -euo pipefail

usage() { echo "usage: $0 [--base BASE.qcow2] DIR" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base=$here/../build/images/default.qcow2
dir=""
while [[ $# -gt 0 ]]; do
    case $1 in
    --base) [[ $# -ge 2 ]] || usage; base=$2; shift 2 ;;
    -*) usage ;;
    *) [[ -z $dir ]] || usage; dir=$1; shift ;;
    esac
done
[[ -n $dir ]] || usage

if [[ ! -f $base ]]; then
    "$here/build-image.sh" "$base"
fi
mkdir -p "$dir"

if [[ -f $base.stamp ]]; then
    base_id=$(<"$base.stamp")
else
    base_id=$(stat -c '%s %Y' "$base")
fi
stamp=$( { sha256sum <"${BASH_SOURCE[0]}"; echo "$base_id"; } | sha256sum | cut -d' ' -f1)
if [[ -f $dir/.stamp && $(<"$dir/.stamp") == "$stamp" ]]; then
    echo "test images: up to date ($dir)"
    exit 0
fi

tmp=$(mktemp -d "$dir/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# (a) plain raw ext4.
qemu-img convert -O raw "$base" "$tmp/plain.raw"
fs_bytes=$(stat -c %s "$tmp/plain.raw")
(( fs_bytes % 1048576 == 0 )) || { echo "$0: $base: size not a whole MiB" >&2; exit 1; }
fs_sectors=$((fs_bytes / 512))

# (b) partitioned disks: 2 MiB head (label + p1), the filesystem, 1 MiB tail
# (room for GPT's backup header).
p2_start=4096
partitioned() { # FILE LABEL LABEL-ID P1 P2 (fixed ids: same bytes every run)
    local f=$1
    truncate -s $((fs_bytes + 3 * 1048576)) "$f"
    sfdisk --quiet --no-reread --no-tell-kernel "$f" <<EOF
label: $2
label-id: $3
unit: sectors
start=2048, size=2048, $4
start=$p2_start, size=$fs_sectors, $5
EOF
    dd if="$tmp/plain.raw" of="$f" bs=1M seek=$((p2_start / 2048)) \
        conv=notrunc,sparse status=none
}
partitioned "$tmp/gpt.raw" gpt 6D6D7275-6E00-4000-8000-0000000000A0 \
    "type=21686148-6449-6E6F-744E-656564454649, uuid=6D6D7275-6E00-4000-8000-0000000000A1" \
    "type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6D6D7275-6E00-4000-8000-0000000000A2"
partitioned "$tmp/mbr.raw" dos 0x766d7275 "type=ef" "type=83"

# (c) a qcow2 that names a backing file.
qemu-img create -q -f qcow2 -b plain.raw -F raw "$tmp/backing.qcow2"

for f in plain.raw gpt.raw mbr.raw backing.qcow2; do
    mv "$tmp/$f" "$dir/$f"
done
echo "$stamp" >"$dir/.stamp"
echo "test images: $dir/{plain.raw,gpt.raw,mbr.raw,backing.qcow2}"
