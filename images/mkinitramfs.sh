#!/bin/bash
# mkinitramfs.sh AGENT_BINARY OUT.cpio - pack vmrun's initramfs.
#
# How it works: the archive is an uncompressed newc cpio holding
#   /dev (0755)  /dev/console (char 5:1, 0600)  /init = AGENT_BINARY (0755)
#   /newroot /proc /sys (0755)  /tmp (1777)
# all owned by 0:0, in sorted order, every mtime 0, so the same agent always
# gives the same bytes. It needs no root: it uses the kernel tree's
# usr/gen_init_cpio (built from source with cc if only the .c is there),
# which writes device nodes from a spec file. The tree is
# $VMRUN_KERNEL_TREE, default build/kernel/src (made by build-kernel.sh).
# Without a kernel tree it falls back to GNU cpio --reproducible, which can
# only add /dev/console when run as root (the kernel's built-in default
# initramfs provides /dev/console anyway).
# OUT is replaced only when its bytes change, so make-style mtimes stay useful.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 AGENT_BINARY OUT.cpio" >&2; exit 2; }
agent=$1
out=$2
[[ -f $agent && -x $agent ]] || { echo "$0: $agent: not an executable file" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tree=${VMRUN_KERNEL_TREE:-$here/../build/kernel/src}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A private copy, so its mtime can be pinned without touching the caller's file.
cp "$agent" "$tmp/init"
chmod 0755 "$tmp/init"
touch -d @0 "$tmp/init"

gen=""
if [[ -x $tree/usr/gen_init_cpio ]]; then
    gen=$tree/usr/gen_init_cpio
elif [[ -f $tree/usr/gen_init_cpio.c ]]; then
    cc -O2 -o "$tmp/gen_init_cpio" "$tree/usr/gen_init_cpio.c"
    gen=$tmp/gen_init_cpio
fi

if [[ -n $gen ]]; then
    cat >"$tmp/spec" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
file /init $tmp/init 0755 0 0
dir /newroot 0755 0 0
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /tmp 1777 0 0
EOF
    "$gen" -t 0 "$tmp/spec" >"$tmp/out.cpio"
else
    root=$tmp/root
    mkdir -p "$root"/{dev,newroot,proc,sys,tmp}
    chmod 0755 "$root" "$root"/{dev,newroot,proc,sys}
    chmod 1777 "$root/tmp"
    mv "$tmp/init" "$root/init"
    if [[ $(id -u) == 0 ]]; then
        mknod -m 0600 "$root/dev/console" c 5 1
    fi
    find "$root" -exec touch -h -d @0 {} +
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible) >"$tmp/out.cpio"
fi

if ! cmp -s "$tmp/out.cpio" "$out" 2>/dev/null; then
    cp "$tmp/out.cpio" "$out.tmp"
    mv "$out.tmp" "$out"
fi
echo "initramfs: $out ($(stat -c %s "$out") bytes)"
