#!/bin/bash
# tests/diff/run.sh - the disk diff (`vmrun diff`) on image pairs with known
# differences.
#
# How it works: a tiny ext4 base (mkfs.ext4 -d, a few files, an empty
# usr/bin/python3 so root detection works, /etc/fstab and os-release so
# virt-diff's inspection accepts it) and several overlays are built once;
# ONE guestfish launch makes the known modifications in all overlays at once.
# Each `vmrun diff` that needs the appliance costs one launch (~15-20 s under
# TCG), so the checks share reports. Output is TAP, ending "N passed, N failed".
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMRUN=${VMRUN:-$root/build/vmrun}
# `vmrun diff` as a command prefix ("build/vmrun diff", or a scratch binary)
VDIFF=${VMRUN_DIFF:-"$VMRUN diff"}
W=$(mktemp -d /tmp/vmrun-difftest.XXXXXX)
# QEMU runs under a uid of its own when vmrun is root: it must be able to
# walk to the overlays and sockets below $W (docs/security.md)
chmod 711 "$W"
[[ -n ${VMRUN_DIFF_KEEP:-} ]] || trap 'rm -rf "$W"' EXIT
export LIBGUESTFS_BACKEND=direct
# guestfish (test set-up only) needs TCG forced where KVM cannot run a stock
# kernel; vmrun decides for itself with accel_choose().
if ! grep -qwE 'vmx|svm' /proc/cpuinfo || [[ -e /sys/module/kvm_pvm ]]; then
    export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
fi

n_pass=0 n_fail=0 n=0
ok() { n=$((n + 1)); n_pass=$((n_pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); n_fail=$((n_fail + 1)); echo "not ok $n - $1"; [[ -n ${2:-} ]] && echo "$2" | sed 's/^/#   /'; }
# check NAME COMMAND...: one TAP line from a command's status
check() { local name=$1; shift; local out; if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi; }
# jq -e on a report
jqe() { jq -e "$2" "$W/$1.json" >/dev/null; }

# ---- images -----------------------------------------------------------------
build_images() {
    local t=$W/tree
    mkdir -p "$t"/{usr/bin,bin,etc,tmp,data,lost+found}
    : >"$t/usr/bin/python3"
    echo "ID=debian" >"$t/etc/os-release"
    : >"$t/etc/fstab"
    echo "127.0.0.1 localhost" >"$t/etc/hosts"
    echo one >"$t/data/del.txt"
    echo aaaa >"$t/data/same.txt"
    echo mode >"$t/data/mode.txt"
    echo target-a >"$t/data/a.txt"
    echo target-b >"$t/data/b.txt"
    ln -s a.txt "$t/data/link"
    touch -d @1600000000 "$t/data/same.txt"
    truncate -s 64M "$W/base.raw"
    mkfs.ext4 -q -N 30000 -d "$t" "$W/base.raw" || return 1
    qemu-img convert -O qcow2 "$W/base.raw" "$W/base.qcow2" || return 1
    rm -f "$W/base.raw"
    for o in main small quiet bad other full; do
        qemu-img create -q -f qcow2 -b "$W/base.qcow2" -F qcow2 "$W/$o.qcow2" || return 1
    done
    # 20,000 small files, shipped into the guest as one tar
    mkdir -p "$W/many" && (cd "$W/many" && seq 1 20000 | sed 's/^/f/' | xargs touch &&
        for i in 1 2 3 4 5 6 7 8 9 10; do echo "content $i" >"f$i"; done)
    tar -C "$W/many" -cf "$W/many.tar" . || return 1
    local mods='
write /data/added.txt "new file\n"
rm /data/del.txt
write /data/same.txt "bbbb\n"
utimens /data/same.txt 1600000000 0 1600000000 0
chmod 0600 /data/mode.txt
rm /data/link
ln-s b.txt /data/link
write "/data/bad\xffname" "x"
write "/data/nl\nname" "y"
mkdir /data/emptydir
mkdir /tmp/out
write /tmp/out/result.txt "allowed\n"'
    guestfish <<FISH
add $W/base.qcow2 readonly:true format:qcow2
add $W/main.qcow2 format:qcow2
add $W/small.qcow2 format:qcow2
add $W/bad.qcow2 format:qcow2
add $W/full.qcow2 format:qcow2
run
mount /dev/sdb /
$mods
mkdir /many
tar-in $W/many.tar /many
umount-all
mount /dev/sdc /
$mods
umount-all
zero /dev/sdd
mount /dev/sde /
-fill 65 100000000 /data/fill
umount-all
FISH
    # an overlay of another base
    qemu-img create -q -f qcow2 "$W/other-base.qcow2" 64M &&
        qemu-img create -q -f qcow2 -b "$W/other-base.qcow2" -F qcow2 "$W/other.qcow2" || return 1
    # a corrupt overlay: a valid header, garbage after it
    cp "$W/small.qcow2" "$W/corrupt.qcow2" &&
        dd if=/dev/urandom of="$W/corrupt.qcow2" bs=512 seek=1 count=512 conv=notrunc status=none
}

t0=$(date +%s)
if ! build_images >"$W/build.log" 2>&1; then
    not_ok "build the test images" "$(tail -20 "$W/build.log")"
    echo "$n_pass passed, $n_fail failed"
    exit 1
fi
ok "build the test images ($(($(date +%s) - t0)) s)"

# ---- main pair: full mode, extract, allow-write -----------------------------
rc=0
$VDIFF --json --diff-max-entries 30000 --report "$W/main.json" --extract "$W/x" --extract-limit 1M \
    --allow-write /tmp --allow-write '/many' --fail-on-violation \
    "$W/base.qcow2" "$W/main.qcow2" >"$W/main.out" 2>"$W/main.err" || rc=$?
check "full diff runs, exit 123 for violations with --fail-on-violation (got $rc)" test "$rc" = 123
[[ -s $W/main.json ]] || echo '{}' >"$W/main.json"
check "status compared, method walk" jqe main '.status == "compared" and .method == "walk"'
check "added file with sha256 of its content" jqe main \
    '.added[] | select(.path == "/data/added.txt" and .type == "file" and .size == 9 and .sha256 == "'"$(printf 'new file\n' | sha256sum | cut -c1-64)"'")'
check "deleted file" jqe main '.deleted | map(select(.path == "/data/del.txt" and .type == "file")) | length == 1'
check "same size, same mtime rewrite is modified (content, old and new sha256)" jqe main \
    '.modified[] | select(.path == "/data/same.txt" and (.changed | index("content")) and .sha256 == "'"$(echo bbbb | sha256sum | cut -c1-64)"'" and .old.sha256 == "'"$(echo aaaa | sha256sum | cut -c1-64)"'")'
check "chmod is metadata (mode), not modified" jqe main \
    '(.metadata[] | select(.path == "/data/mode.txt" and .changed == ["mode"] and .mode == 384 and .old.mode == 420)) and ([.modified[].path] | index("/data/mode.txt") | not)'
check "symlink retarget is metadata (target)" jqe main \
    '.metadata[] | select(.path == "/data/link" and .type == "symlink" and .target == "b.txt" and .old.target == "a.txt" and (.changed | index("target")))'
check "invalid UTF-8 name: display path and exact path_base64" jqe main \
    '.added[] | select(.path_base64 == "'"$(printf '/data/bad\xffname' | base64 -w0)"'" and .path == "/data/bad\ufffdname")'
check "newline in a name: path_base64" jqe main \
    '.added[] | select(.path_base64 == "'"$(printf '/data/nl\nname' | base64 -w0)"'")'
check "empty directory added" jqe main '.added[] | select(.path == "/data/emptydir" and .type == "dir")'
check "20,000 files added, counted and hashed" jqe main \
    '([.added[] | select(.path | startswith("/many/"))] | length == 20000) and ([.added[] | select(.path | startswith("/many/")) | .sha256] | all(. != null)) and (.added[] | select(.path == "/many/f7") | .sha256 == "'"$(echo 'content 7' | sha256sum | cut -c1-64)"'")'
check "counts and total agree with the lists" jqe main \
    '(.counts.added + .counts.deleted + .counts.modified + .counts.metadata) == .total and .truncated == false and (.added | length) == .counts.added'
check "violations: /data changes listed, /tmp and /many allowed" jqe main \
    '([.violations[].path] | index("/data/added.txt")) and ([.violations[] | select(.path | startswith("/many") or startswith("/tmp/"))] | length == 0) and .violations_total == (.violations | length)'
check "extract: added files under DIR with their paths" cmp "$W/x/data/added.txt" <(printf 'new file\n')
check "extract: modified file has its new content" cmp "$W/x/data/same.txt" <(echo bbbb)
check "extract: no path outside DIR, no symlink created, within the limit" bash -c \
    "[[ -z \$(find '$W/x' -type l) ]] && [[ ! -e '$W/data' ]] && jq -e '.extract.files > 0 and .extract.bytes <= 1048576' '$W/main.json' >/dev/null"
check "readable summary on stderr" grep -q 'disk diff: .* added' "$W/main.err"

# ---- meta mode, cap ---------------------------------------------------------
rc=0
$VDIFF -q --diff meta --diff-max-entries 5 --report "$W/meta.json" \
    "$W/base.qcow2" "$W/small.qcow2" >/dev/null 2>"$W/meta.err" || rc=$?
[[ -s $W/meta.json ]] || echo '{}' >"$W/meta.json"
check "meta mode runs (exit 0 without --fail-on-violation; got $rc)" test "$rc" = 0
check "meta: no hashes" jqe meta \
    '.mode == "meta" and ([.added[], .modified[] | select(.type == "file") | .sha256] | all(. == null))'
check "cap: 5 listed, truncated, total exact" jqe meta \
    '.truncated == true and ([.added, .deleted, .modified, .metadata | length] | add) == 5 and .total > 5 and .violations == null'

# ---- quiet run: the allocation-map fast path --------------------------------
t1=$(date +%s%N)
$VDIFF -q --report "$W/quiet.json" "$W/base.qcow2" "$W/quiet.qcow2" >/dev/null 2>&1
t2=$(date +%s%N)
[[ -s $W/quiet.json ]] || echo '{}' >"$W/quiet.json"
check "untouched overlay: unchanged without launching the appliance ($(((t2 - t1) / 1000000)) ms)" \
    jqe quiet '.status == "unchanged" and .method == "allocation-map" and .total == 0'
check "--diff=none skips" bash -c "$VDIFF -q --diff none --json '$W/base.qcow2' '$W/small.qcow2' | jq -e '.status == \"skipped\"'"

# ---- bad input ---------------------------------------------------------------
# A guest that filled its disk: the diff still compares, and lists the filler.
rc=0; $VDIFF -q --json --diff meta "$W/base.qcow2" "$W/full.qcow2" >"$W/full.json" 2>"$W/full.err" || rc=$?
check "a guest that filled the disk: compared, the filler listed (got $rc)" bash -c \
    "[[ $rc == 0 ]] && jq -e '.status == \"compared\" and ([.added[] | select(.path == \"/data/fill\" and .size > 40000000)] | length) == 1' '$W/full.json' >/dev/null"
rc=0; $VDIFF -q "$W/base.qcow2" "$W/other.qcow2" >/dev/null 2>"$W/other.err" || rc=$?
check "overlay of another base is refused (125)" bash -c "[[ $rc == 125 ]] && grep -q 'not by the base' '$W/other.err'"
rc=0; $VDIFF -q "$W/base.qcow2" "$W/corrupt.qcow2" >/dev/null 2>"$W/corrupt.err" || rc=$?
check "corrupt overlay: clear error (125)" bash -c "[[ $rc == 125 ]] && grep -q 'error:' '$W/corrupt.err'"
rc=0; $VDIFF -q "$W/many.tar" "$W/small.qcow2" >/dev/null 2>"$W/base.err" || rc=$?
check "a base that is not the overlay's backing file is refused (125)" test "$rc" = 125
rc=0; $VDIFF -q --allow-write /tmp --fail-on-violation --report "$W/bad.json" \
    "$W/base.qcow2" "$W/bad.qcow2" >/dev/null 2>&1 || rc=$?
check "unmountable guest filesystem: said in the report, a violation (got $rc)" bash -c \
    "[[ $rc == 123 ]] && jq -e '.status == \"unreadable\" and (.error | test(\"cannot be mounted\"))' '$W/bad.json' >/dev/null"

# ---- virt-diff agrees ---------------------------------------------------------
# Every path virt-diff reports must be in ours with the same class: its "+"
# is added, "-" deleted, "=" (content) or "-" and "+" of one path (stats)
# changed, which is our modified or metadata.
if command -v virt-diff >/dev/null; then
    $VDIFF -q --json "$W/base.qcow2" "$W/small.qcow2" >"$W/small.json" 2>/dev/null
    virt-diff --checksum=sha256 --csv --format=qcow2 -a "$W/base.qcow2" -A "$W/small.qcow2" \
        >"$W/virt-diff.csv" 2>"$W/virt-diff.err"
    out=$(python3 - "$W/virt-diff.csv" "$W/small.json" <<'PY'
import base64, csv, io, json, sys
raw = open(sys.argv[1], 'rb').read().decode('utf-8', 'surrogateescape')
theirs = {}
for row in csv.reader(io.StringIO(raw, newline='')):
    if not row or row[0] not in '+-=':
        continue
    # op, type, perms, size, [sha256 for regular files], path, [link]
    path = row[5 if row[1] == '-' else 4].encode('utf-8', 'surrogateescape')
    prev = theirs.get(path)
    theirs[path] = 'changed' if prev or row[0] == '=' else {'+': 'added', '-': 'deleted'}[row[0]]
rep = json.load(open(sys.argv[2]))
ours = {}
for cls, lst in (('added', 'added'), ('deleted', 'deleted'), ('changed', 'modified'), ('changed', 'metadata')):
    for e in rep[lst]:
        p = base64.b64decode(e['path_base64']) if 'path_base64' in e else e['path'].encode()
        ours[p] = cls
bad = [(p, c, ours.get(p)) for p, c in theirs.items() if ours.get(p) != c]
print(len(theirs), 'paths from virt-diff; mismatches:', bad)
sys.exit(1 if bad or not theirs else 0)
PY
)
    st=$?
    check "virt-diff --checksum=sha256: every path it reports is ours, same class ($out)" test $st = 0
else
    n=$((n + 1)); echo "ok $n # SKIP virt-diff not installed"
fi

echo "$n_pass passed, $n_fail failed"
[[ $n_fail == 0 ]]
