# shellcheck shell=bash
# tests/vm/lib.sh - what the VM test tiers share (sourced by run.sh, faults.sh).
#
# How it works: sourcing it finds vmrun and the test image, makes a scratch
# directory $W (state and runtime directories of vmrun inside it, so a test
# sees only its own runs), and defines the helpers below. vm_run_tests runs
# every test_* function defined by the sourcing script (or those whose name
# contains one of its arguments), each in a subshell with `set -e`, its output
# captured and shown only on failure; the output is TAP ending with
# "N passed, N failed", and the status says whether all passed.
# VM_TEST_VERBOSE=1 shows the output of passing tests too, VM_TEST_TRACE=1
# runs them under `set -x`.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMRUN=${VMRUN:-$root/build/vmrun}
IMAGE=$(readlink -f "${VMRUN_TEST_IMAGE:-$root/build/images/default.qcow2}")
# shellcheck disable=SC2034 # used by the sourcing scripts
TESTIMG=${VMRUN_TEST_IMAGES:-$root/build/images/test}
W=$(mktemp -d /tmp/vmrun-vmtest.XXXXXX)
# QEMU runs under a uid of its own when vmrun is root: it must be able to
# walk to the overlays and sockets below $W (docs/security.md)
chmod 711 "$W"
export VMRUN_STATE_DIR=$W/state VMRUN_RUNTIME_DIR=$W/rt
# A test that mounted something under $W and died before its own trap ran
# must not make rm -rf descend into (or fail on) the mount.
vm_cleanup() {
    local m
    findmnt -rn -o TARGET 2>/dev/null | grep -F "$W/" | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$W"
}
trap vm_cleanup EXIT

# ---- helpers ----------------------------------------------------------------
fail() { echo "FAIL: $*"; exit 1; }
# vr NAME [vmrun args...]: run vmrun with a report in $W/NAME.json; stdout to
# $W/NAME.out, stderr to $W/NAME.err; sets $rc. The disk diff (a libguestfs
# appliance, ~15 s under TCG) is off unless the test asks for it with --diff.
vr() {
    local name=$1; shift
    rc=0
    "$VMRUN" --report "$W/$name.json" --diff none "$@" >"$W/$name.out" 2>"$W/$name.err" </dev/null || rc=$?
    echo "vmrun $* -> exit $rc"
    sed 's/^/  stderr: /' "$W/$name.err" | head -20
}
# vr_bg NAME [vmrun args...]: like vr, in the background; sets $bg_pid.
vr_bg() {
    local name=$1; shift
    "$VMRUN" --report "$W/$name.json" --diff none "$@" >"$W/$name.out" 2>"$W/$name.err" </dev/null &
    bg_pid=$!
    echo "vmrun $* (background, pid $bg_pid)"
}
# vr_wait NAME [PID]: wait for the vmrun started by vr_bg (default $bg_pid); sets $rc.
vr_wait() {
    rc=0
    wait "${2:-$bg_pid}" || rc=$?
    echo "vmrun ($1) -> exit $rc"
    sed 's/^/  stderr: /' "$W/$1.err" | head -20
}
# wait_output NAME TEXT [SECONDS]: wait until the background run NAME has
# printed TEXT on stdout; fails if vmrun ends first or time runs out.
wait_output() {
    local i
    for ((i = 0; i < ${3:-60} * 10; i++)); do
        grep -q -- "$2" "$W/$1.out" 2>/dev/null && return 0
        kill -0 "$bg_pid" 2>/dev/null || fail "vmrun ended before printing '$2': $(cat "$W/$1.err")"
        sleep 0.1
    done
    fail "'$2' never printed by $1"
}
# j NAME FILTER: jq on the report
j() { jq -r "$2" "$W/$1.json"; }
mod() { cat >"$W/$1"; echo "$W/$1"; }
expect_eq() { [[ "$1" == "$2" ]] || fail "expected '$2', got '$1' ${3:-}"; }
# expect_match TEXT REGEX [what]: TEXT matches the extended regular expression
expect_match() { grep -qiE -- "$2" <<<"$1" || fail "expected /$2/ in '$1' ${3:-}"; }
qemu_of() { pgrep -f "guest=$1" || true; }
# run_names: the run directories (= domain names) now in the runtime directory
run_names() { find "$VMRUN_RUNTIME_DIR" -mindepth 1 -maxdepth 1 -name 'vmrun-*' -printf '%f\n' 2>/dev/null || true; }
no_qemu_left() {
    local left
    left=$(pgrep -af 'qemu-system.*guest=vmrun-' | grep -F "$VMRUN_RUNTIME_DIR" || true)
    [[ -z $left ]] || fail "QEMU left running: $left"
}
# (uids/ holds one lock file per QEMU uid in use; empty when no run is)
no_run_dirs_left() {
    local n
    n=$({ find "$VMRUN_RUNTIME_DIR" "$VMRUN_STATE_DIR/overlays" -mindepth 1 -maxdepth 1 \
        ! -path "$VMRUN_RUNTIME_DIR/uids" 2>/dev/null || true; } | wc -l)
    n=$((n + $({ find "$VMRUN_RUNTIME_DIR/uids" -type f 2>/dev/null || true; } | wc -l)))
    expect_eq "$n" 0 "(run directories or overlays left behind: $(ls "$VMRUN_RUNTIME_DIR" "$VMRUN_STATE_DIR/overlays" 2>&1 | tr '\n' ' '))"
}

# on_exit CMD: run CMD when the test ends, however it ends (use it instead of
# trap, which the runner's own EXIT trap would replace).
on_exit() { vm_on_exit+=("$1"); }
# The runner's EXIT trap for each test: a test that failed while a vmrun it
# started in the background still ran must not leave that run behind (it
# would write into $W after the next test started, or after $W was removed):
# SIGTERM (vmrun destroys its VM and cleans up), SIGKILL after 10 s (its
# watchdog cleans up). Then the test's on_exit commands.
vm_test_exit() {
    local c i left
    mapfile -t left < <(jobs -p)
    if ((${#left[@]})); then
        kill -TERM "${left[@]}" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "${left[@]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${left[@]}" 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    for c in "${vm_on_exit[@]}"; do eval "$c" || true; done
}

# ---- runner -----------------------------------------------------------------
vm_run_tests() {
    [[ -x $VMRUN ]] || { echo "vmrun not built: $VMRUN" >&2; exit 1; }
    [[ -f $IMAGE ]] || { echo "test image missing: $IMAGE (make image)" >&2; exit 1; }
    local all selected=() t pat st t0 pass=0 failed=0 n=0
    mapfile -t all < <(declare -F | awk '{print $3}' | grep '^test_')
    for t in "${all[@]}"; do
        if [[ $# -eq 0 ]]; then selected+=("$t"); continue; fi
        for pat in "$@"; do [[ $t == *"$pat"* ]] && { selected+=("$t"); break; }; done
    done
    echo "1..${#selected[@]}"
    for t in "${selected[@]}"; do
        n=$((n + 1))
        t0=$(date +%s.%N)
        # Not inside `if`: there bash would ignore set -e in the test body.
        (
            set -e
            vm_on_exit=()
            trap vm_test_exit EXIT
            if [[ -n ${VM_TEST_TRACE:-} ]]; then set -x; fi
            "$t"
        ) >"$W/test.log" 2>&1
        st=$?
        if [[ $st -eq 0 ]]; then
            pass=$((pass + 1))
            printf 'ok %d - %s (%.1f s)\n' "$n" "$t" "$(echo "$(date +%s.%N) - $t0" | bc)"
            if [[ -n ${VM_TEST_VERBOSE:-} ]]; then sed 's/^/# /' "$W/test.log"; fi
        else
            failed=$((failed + 1))
            printf 'not ok %d - %s\n' "$n" "$t"
            sed 's/^/# /' "$W/test.log"
        fi
    done
    echo "$pass passed, $failed failed"
    [[ $failed -eq 0 ]]
}
