#!/bin/bash
# build-image.sh [--include PKG]... [--size SIZE] [--force] OUT.qcow2
#   - build vmrun's default base disk image from Debian packages only.
#
# How it works:
#   1. mmdebstrap --variant=minbase bookworm into a scratch directory, with
#      python3-minimal and libpython3.11-stdlib plus every --include PKG.
#      Packages come from the host's own apt sources: the Debian bookworm
#      entries of /etc/apt/sources.list{,.d/*} (VMRUN_APT_SOURCES=FILE
#      overrides), and the host's Acquire proxy/validity settings.
#      Documentation, man pages and translations are not unpacked. /usr is
#      merged by mmdebstrap's merged-usr hook, which keeps the usrmerge
#      package and the full perl it pulls in (~35 MB) out of the image.
#   2. A customize hook, inside the tree: byte-compiles all of /usr/lib/python3*
#      with `compileall --invalidation-mode unchecked-hash` (the .pyc files are
#      trusted without looking at source mtimes, so Python never rewrites them,
#      even on a read-only root), checks that importing a spread of modules
#      now writes nothing under /usr, sets /tmp to 1777, and deletes apt lists
#      and caches, dpkg/apt logs and other run-to-run noise.
#   3. mkfs.ext4 -d TREE into a sparse raw file (default 2G virtual, --size),
#      with a fixed UUID and hash seed, then qemu-img convert -O qcow2 to OUT.
# Cache: OUT.stamp holds a hash of this script, the package list, the size
# and the apt sources; when it matches and OUT exists, nothing is done (the
# archive itself is not consulted: use --force after a point release).
# Needs root (mmdebstrap's root mode, file ownership in the tree).
set -euo pipefail

usage() {
    echo "usage: $0 [--include PKG]... [--size SIZE] [--force] OUT.qcow2" >&2
    exit 2
}

packages=(python3-minimal libpython3.11-stdlib)
size=2G
force=${VMRUN_IMAGE_FORCE:-0}
out=""
while [[ $# -gt 0 ]]; do
    case $1 in
    --include) [[ $# -ge 2 ]] || usage; packages+=("$2"); shift 2 ;;
    --include=*) packages+=("${1#--include=}"); shift ;;
    --size) [[ $# -ge 2 ]] || usage; size=$2; shift 2 ;;
    --size=*) size=${1#--size=}; shift ;;
    --force) force=1; shift ;;
    -*) usage ;;
    *) [[ -z $out ]] || usage; out=$1; shift ;;
    esac
done
[[ -n $out ]] || usage
for p in "${packages[@]}"; do
    [[ $p =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || { echo "$0: bad package name '$p'" >&2; exit 2; }
done
[[ $size =~ ^[0-9]+[KMGT]?$ ]] || { echo "$0: bad size '$size'" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "$0: must run as root (mmdebstrap root mode)" >&2; exit 1; }

script=$(readlink -f "${BASH_SOURCE[0]}")
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

# The host's Debian bookworm sources, whichever format they are in.
host_sources() {
    local f
    if [[ -n ${VMRUN_APT_SOURCES:-} ]]; then
        cat "$VMRUN_APT_SOURCES"
        return
    fi
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        grep -E '^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+bookworm(-[a-z]+)?[[:space:]]' "$f" || true
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        # deb822: keep the enabled stanzas whose Suites are all bookworm*.
        awk 'function flush() {
                 if (st != "" && ok && suites && !off) printf "%s\n", st
                 st = ""; ok = 1; suites = 0; off = 0
             }
             BEGIN { flush() }
             /^[ \t]*$/ { flush(); next }
             /^#/ { next }
             /^Suites:/ { suites = 1
                          for (i = 2; i <= NF; i++) if ($i !~ /^bookworm(-[a-z]+)?$/) ok = 0 }
             /^Enabled:[ \t]*no/ { off = 1 }
             /^Types:/ { deb = 0
                         for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1
                         if (!deb) off = 1
                         $0 = "Types: deb" }
             { st = st $0 "\n" }
             END { flush() }' "$f"
    done
}
sources=$(host_sources | grep -v '^[[:space:]]*#' || true)

# Pass on the host's apt network settings (proxies, snapshot validity).
aptopts=()
while IFS= read -r line; do
    [[ -n $line ]] && aptopts+=(--aptopt="$line")
done < <(apt-config dump | grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date) ' || true)

mapfile -t sorted < <(printf '%s\n' "${packages[@]}" | LC_ALL=C sort -u)
stamp=$( {
    sha256sum <"$script"
    echo "packages=${sorted[*]} size=$size"
    echo "$sources"
    printf '%s\n' "${aptopts[@]}"
    dpkg-query -W -f='${Package}=${Version}\n' mmdebstrap e2fsprogs
} | sha256sum | cut -d' ' -f1)

if [[ $force != 1 && -f $out && -f $out.stamp && $(<"$out.stamp") == "$stamp" ]]; then
    echo "image: up to date ($out)"
    exit 0
fi

work=$(mktemp -d "$(dirname "$out")/.build-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS

mirror_args=()
if [[ -n $sources ]]; then
    printf '%s\n' "$sources" >"$work/sources"
    # mmdebstrap pastes an existing file's contents into the chroot's sources.
    if grep -q '^Types:' "$work/sources"; then
        mv "$work/sources" "$work/host.sources"
        mirror_args=("$work/host.sources")
    else
        mirror_args=("$work/sources")
    fi
fi

# Runs inside mmdebstrap's customize phase: $1 is the tree.
cat >"$work/customize.sh" <<'HOOK'
#!/bin/bash
set -euo pipefail
root=$1
chroot "$root" /bin/sh -c '
    set -e
    for d in /usr/lib/python3*; do
        python3 -m compileall -q -j0 --invalidation-mode unchecked-hash "$d"
    done
    touch /tmp/.vmrun-mark
    sleep 1
    python3 -c "
import argparse, asyncio, base64, collections, csv, ctypes, dataclasses, datetime, \
    decimal, email, enum, fractions, functools, hashlib, heapq, http.client, itertools, \
    json, logging, math, multiprocessing, os, pathlib, pickle, random, re, socket, \
    sqlite3, ssl, statistics, string, struct, subprocess, tempfile, textwrap, threading, \
    typing, unittest, urllib.request, uuid, xml.etree.ElementTree, zipfile, zlib
"
    new=$(find /usr /etc -newer /tmp/.vmrun-mark -print | head -20)
    rm -f /tmp/.vmrun-mark
    if [ -n "$new" ]; then
        echo "image: python wrote files after byte-compiling:" >&2
        echo "$new" >&2
        exit 1
    fi
'
chmod 1777 "$root/tmp"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/var/lib/dpkg/*-old "$root"/var/cache/ldconfig/aux-cache \
    "$root"/var/log/* "$root"/tmp/* "$root"/tmp/.[!.]* "$root"/root/.cache
find "$root"/var/log -mindepth 1 -delete 2>/dev/null || true
: >"$root/etc/machine-id"
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
HOOK
chmod +x "$work/customize.sh"

include=$(IFS=,; echo "${packages[*]}")
echo "image: mmdebstrap minbase bookworm + $include"
mmdebstrap --quiet --mode=root --variant=minbase --format=directory \
    --include="$include" \
    "${aptopts[@]}" \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --customize-hook="$work/customize.sh \"\$1\"" \
    bookworm "$work/tree" "${mirror_args[@]}"

# Fixed UUID and hash seed: the same tree gives the same filesystem layout.
uuid=6d6d7275-6e00-4000-8000-000000000001
truncate -s "$size" "$work/root.raw"
mkfs.ext4 -q -F -L vmrun-root -U "$uuid" -E "hash_seed=$uuid" -m 0 \
    -d "$work/tree" "$work/root.raw"
qemu-img convert -f raw -O qcow2 "$work/root.raw" "$work/out.qcow2"
mv "$work/out.qcow2" "$out"
echo "$stamp" >"$out.stamp"
du_tree=$(du -sh "$work/tree" | cut -f1)
echo "image: $out: tree $du_tree, qcow2 $(du -h "$out" | cut -f1) on disk," \
    "$size virtual, built in $((SECONDS - start)) s"
