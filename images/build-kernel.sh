#!/bin/bash
# build-kernel.sh OUTDIR - build vmrun's guest kernel into OUTDIR/vmlinux.
#
# How it works:
#   1. Unpacks Debian's /usr/src/linux-source-6.1.tar.xz into OUTDIR/src once;
#      OUTDIR/src/.vmrun-source names the package version it came from, and a
#      new package version wipes and re-unpacks the tree.
#   2. `make tinyconfig`, then scripts/kconfig/merge_config.sh -m merges
#      images/kernel/vmrun.config on top, then `make olddefconfig`.
#   3. Verifies the result: every `CONFIG_X=y` of the fragment must be `=y`
#      and every `# CONFIG_X is not set` must be off in the final .config
#      (tinyconfig silently drops options whose dependencies are missing).
#   4. `make -j$(nproc) vmlinux` (incremental: kbuild only rebuilds what the
#      config change touches) and copies it to OUTDIR/vmlinux, which QEMU
#      boots directly through its PVH ELF note (no bzImage, no decompression).
# Cache: OUTDIR/vmlinux.stamp holds sha256(fragment) and the linux-source
# version; when it matches and OUTDIR/vmlinux exists, nothing is done.
# Shared cache: a finished vmlinux is also kept in $VMRUN_CACHE_DIR/kernel/
# (default /var/cache/vmrun as root, else ~/.cache/vmrun) under that stamp's
# hash, so a fresh clone on the same machine (CI) copies it instead of spending
# minutes compiling the same kernel again. Nothing else is shared.
# Set VMRUN_KERNEL_FORCE=1 to rebuild anyway. V=1 shows full build commands.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[[ $# -eq 1 ]] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$here/kernel/vmrun.config
tarball=/usr/src/linux-source-6.1.tar.xz
pkg=linux-source-6.1

mkdir -p "$1"
out=$(cd "$1" && pwd)
src=$out/src
# Two builds in one OUTDIR (two `make` at once) would unpack and compile over
# each other: the second waits for the first, then finds the kernel up to date.
exec 9>"$out/.lock"
flock 9

[[ -r $tarball ]] || { echo "$0: $tarball missing (apt-get install $pkg)" >&2; exit 1; }
version=$(dpkg-query -W -f='${Version}' "$pkg")
stamp="fragment=$(sha256sum <"$fragment" | cut -d' ' -f1) $pkg=$version"

if [[ ${VMRUN_KERNEL_FORCE:-0} != 1 && -f $out/vmlinux && -f $out/vmlinux.stamp &&
      $(<"$out/vmlinux.stamp") == "$stamp" ]]; then
    echo "kernel: up to date ($out/vmlinux)"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then cache_root=${VMRUN_CACHE_DIR:-/var/cache/vmrun}
else cache_root=${VMRUN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmrun}; fi
cached=$cache_root/kernel/$(sha256sum <<<"$stamp" | cut -d' ' -f1)
if [[ ${VMRUN_KERNEL_FORCE:-0} != 1 && -f $cached/vmlinux && -f $cached/config ]]; then
    cp "$cached/vmlinux" "$out/vmlinux.tmp"
    mv "$out/vmlinux.tmp" "$out/vmlinux"
    cp "$cached/config" "$out/config"
    echo "$stamp" >"$out/vmlinux.stamp"
    echo "kernel: $out/vmlinux from the build cache ($cached)"
    exit 0
fi

# 1. Source tree, unpacked once per package version.
if [[ ! -f $src/.vmrun-source || $(<"$src/.vmrun-source") != "$pkg=$version" ]]; then
    echo "kernel: unpacking $tarball ($version)"
    rm -rf "$src"
    mkdir -p "$src"
    tar -xf "$tarball" -C "$src" --strip-components=1
    echo "$pkg=$version" >"$src/.vmrun-source"
fi

# 2. Configuration. KCONFIG_NOSILENTUPDATE is not set on purpose: olddefconfig
# must fill in the defaults of options made visible by the fragment.
cd "$src"
make_q=(make -s)
[[ ${V:-0} == 1 ]] && make_q=(make V=1)
"${make_q[@]}" tinyconfig >/dev/null
./scripts/kconfig/merge_config.sh -m -O . .config "$fragment" >/dev/null
# Choosing NO_HZ_IDLE, SLUB, IO_DELAY_NONE over tinyconfig's picks makes
# kconfig warn "changes choice state"; that is the point, so drop those lines.
"${make_q[@]}" olddefconfig 2> >(grep -v 'changes choice state' >&2)

# 3. Every option the fragment asks for must have survived.
bad=0
while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=y$ ]]; then
        opt=${BASH_REMATCH[1]}
        if ! grep -qx "$opt=y" .config; then
            echo "kernel: $opt=y requested, .config has: $(grep -E "^$opt=|^# $opt is not set" .config || echo '(absent)')" >&2
            bad=1
        fi
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        opt=${BASH_REMATCH[1]}
        if grep -q "^$opt=" .config; then
            echo "kernel: $opt off requested, .config has: $(grep "^$opt=" .config)" >&2
            bad=1
        fi
    fi
done <"$fragment"
if [[ $bad != 0 ]]; then
    echo "kernel: $fragment: options above did not apply (missing dependencies?)" >&2
    exit 1
fi

# 4. Build.
echo "kernel: building vmlinux with $(nproc) jobs"
start=$SECONDS
"${make_q[@]}" -j"$(nproc)" vmlinux
cp vmlinux "$out/vmlinux.tmp"
mv "$out/vmlinux.tmp" "$out/vmlinux"
cp .config "$out/config"
echo "$stamp" >"$out/vmlinux.stamp"
echo "kernel: $out/vmlinux ($(stat -c %s "$out/vmlinux") bytes, built in $((SECONDS - start)) s)"
# Keep it for other checkouts (best effort: a cache that cannot be written
# only costs the next clone a build).
if mkdir -p "$cached.tmp.$$" 2>/dev/null &&
    cp vmlinux .config "$cached.tmp.$$/" && mv "$cached.tmp.$$/.config" "$cached.tmp.$$/config" &&
    { [[ -d $cached ]] || mv "$cached.tmp.$$" "$cached"; }; then
    echo "kernel: cached in $cached"
fi
rm -rf "$cached.tmp.$$"
