#!/bin/bash
# tests/stress/hostile.sh [RUNS] - hostile modules back to back; nothing may leak.
#
# How it works: after one normal run (which also fills vmrun's caches), the
# host is measured: processes and fds that belong to these runs (any process
# whose command line names this test's scratch directory, any fd anywhere that
# points into it, deleted-but-open files included), files and bytes under
# vmrun's state and runtime directories, plus host-wide counts of QEMU
# processes, of all processes and of open files for context (other work on the
# host moves those, so they are shown, not judged). Then RUNS (default 50)
# hostile runs cycle through a fork bomb, a memory bomb, a disk fill, an
# output flood and a signal-ignoring spin, each checked against the exit
# status and report status its kind must give; then a normal run whose output
# must be exact; then the host is measured again. A table of runs, failures
# and leaks follows; every figure must be zero. Output ends with
# "N passed, N failed" (one check per run plus the leak checks).
# shellcheck source-path=SCRIPTDIR/../vm
source "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"

RUNS=${1:-50}
kinds=(forkbomb membomb diskfill flood spin)

# ---- the hostile modules ------------------------------------------------------
mod forkbomb.py >/dev/null <<'EOF'
import os, time
print("forking", flush=True)
while True:
    try:
        if os.fork() == 0:
            try:
                open("/proc/self/oom_score_adj", "w").write("1000")
            except OSError:
                pass
    except OSError:
        time.sleep(0.01)
EOF
mod membomb.py >/dev/null <<'EOF'
chunks = []
while True:
    chunks.append(bytearray(1 << 20))
EOF
mod diskfill.py >/dev/null <<'EOF'
import errno, os
chunk = os.urandom(1 << 20)
n = 0
try:
    while True:
        with open("fill-%d" % (n >> 7), "ab") as f:  # 128 MiB per file (RLIMIT_FSIZE)
            for _ in range(128):
                f.write(chunk)
                n += 1
except OSError as e:
    if e.errno != errno.ENOSPC:
        raise
print("disk full after", n, "MiB")
EOF
mod flood.py >/dev/null <<'EOF'
import sys
line = "y" * 1023 + "\n"
block = line * 1024
for _ in range(64):
    sys.stdout.write(block)
sys.stderr.write("e" * 100000)
EOF
mod spin.py >/dev/null <<'EOF'
import signal
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGXCPU):
    signal.signal(s, signal.SIG_IGN)
print("spinning", flush=True)
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
EOF
mod normal.py >/dev/null <<'EOF'
import sys
print("hello", 6 * 7, sys.argv[1:])
EOF

# kind_args KIND: vmrun options; kind_expect KIND: "exit status/report status"
kind_args() {
    case $1 in
    forkbomb) echo "--timeout 5 --max-procs 64" ;;
    membomb) echo "--memory 128 --timeout 60" ;;
    diskfill) echo "--timeout 120" ;;
    flood) echo "--output-limit 64K --timeout 60" ;;
    spin) echo "--timeout 3" ;;
    normal) echo "--timeout 60" ;;
    esac
}
kind_expect() {
    case $1 in
    forkbomb | spin) echo 124/timeout ;;
    membomb) echo 137/oom ;;
    diskfill | flood | normal) echo 0/exited ;;
    esac
}
# kind_check KIND NAME: what else the report must say
kind_check() {
    case $1 in
    diskfill) grep -q "disk full after" "$W/$2.out" ;;
    flood) [[ $(j "$2" '.stdout_truncated and (.stdout | length) == 65536') == true ]] ;;
    spin) grep -q spinning "$W/$2.out" ;;
    forkbomb) grep -q forking "$W/$2.out" ;;
    normal) [[ $(cat "$W/$2.out") == "hello 42 ['x', 'y z']" ]] ;;
    *) true ;;
    esac
}

# ---- measurements ---------------------------------------------------------------
# pids whose command line names $W (vmrun, its watchdog, QEMU), not this shell
our_pids() {
    local p cmd
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$$" || $p == "$BASHPID" ]] && continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
        [[ $cmd == *"$W"* ]] && echo "$p"
    done
    return 0
}
# fds of any process that point into $W; prints "count bytes-of-deleted-files"
our_fds() {
    local fd t n=0 bytes=0
    for fd in /proc/[0-9]*/fd/*; do
        t=$(readlink "$fd" 2>/dev/null) || continue
        [[ $t == *"$W"* ]] || continue
        n=$((n + 1))
        [[ $t == *"(deleted)" ]] && bytes=$((bytes + $(stat -L -c %s "$fd" 2>/dev/null || echo 0)))
    done
    echo "$n $bytes"
}
declare -A M
measure() { # measure PREFIX
    local fds
    fds=$(our_fds)
    M[$1.procs]=$(our_pids | wc -l)
    M[$1.fds]=${fds% *}
    M[$1.deleted]=${fds#* }
    M[$1.shellfds]=$(find /proc/$$/fd -mindepth 1 -maxdepth 1 | wc -l)
    M[$1.files]=$(find "$VMRUN_STATE_DIR" "$VMRUN_RUNTIME_DIR" -mindepth 1 2>/dev/null | wc -l)
    M[$1.bytes]=$(du -sb "$VMRUN_STATE_DIR" "$VMRUN_RUNTIME_DIR" 2>/dev/null | awk '{s += $1} END {print s + 0}')
    M[$1.host_qemu]=$(pgrep -c qemu-system || true)
    M[$1.host_procs]=$(find /proc -mindepth 1 -maxdepth 1 -name '[0-9]*' | wc -l)
    M[$1.host_files]=$(cut -f1 /proc/sys/fs/file-nr)
}

# ---- the runs -----------------------------------------------------------------------
declare -A K_RUNS K_FAIL K_CODES
failures=0 checks_failed=0 checks_passed=0
one_run() { # one_run N KIND
    local n=$1 kind=$2 name="r$1-$2" want got t0 extra=()
    [[ $kind == normal ]] && extra=(x "y z")
    t0=$(date +%s.%N)
    # shellcheck disable=SC2046
    vr "$name" "$IMAGE" $(kind_args "$kind") "$W/$kind.py" "${extra[@]}" >/dev/null
    want=$(kind_expect "$kind")
    got="$rc/$(j "$name" .status 2>/dev/null || echo no-report)"
    K_RUNS[$kind]=$((${K_RUNS[$kind]:-0} + 1))
    K_CODES[$kind]="${K_CODES[$kind]:-} $rc"
    if [[ $got == "$want" ]] && kind_check "$kind" "$name"; then
        printf 'ok %d - %s: %s (%.1f s)\n' "$n" "$kind" "$got" "$(echo "$(date +%s.%N) - $t0" | bc)"
        checks_passed=$((checks_passed + 1))
    else
        printf 'not ok %d - %s: got %s, want %s\n' "$n" "$kind" "$got" "$want"
        sed 's/^/#   stderr: /' "$W/$name.err" | head -5
        j "$name" '.error.message // empty' 2>/dev/null | sed 's/^/#   error: /'
        K_FAIL[$kind]=$((${K_FAIL[$kind]:-0} + 1))
        failures=$((failures + 1))
        checks_failed=$((checks_failed + 1))
    fi
}

[[ -x $VMRUN ]] || { echo "vmrun not built: $VMRUN" >&2; exit 1; }
[[ -f $IMAGE ]] || { echo "test image missing: $IMAGE (make image)" >&2; exit 1; }
echo "1..$((RUNS + 2 + 5))"
one_run 1 normal
sleep 1
measure before
for ((i = 1; i <= RUNS; i++)); do
    one_run $((i + 1)) "${kinds[$(((i - 1) % ${#kinds[@]}))]}"
done
one_run $((RUNS + 2)) normal
sleep 2 # a watchdog finishing its sweep
measure after

leak() { echo $((${M[after.$1]} - ${M[before.$1]})); }
leaked_procs=$(leak procs)
leaked_fds=$(($(leak fds) + $(leak shellfds)))
leaked_bytes=$(($(leak bytes) + ${M[after.deleted]}))
leaked_files=$(leak files)
n=$((RUNS + 2))
for what in "leaked processes:$leaked_procs" "leaked fds:$leaked_fds" "leaked bytes:$leaked_bytes" \
    "leaked files:$leaked_files" "run failures:$failures"; do
    n=$((n + 1))
    if [[ ${what#*:} == 0 ]]; then
        echo "ok $n - ${what%%:*}: 0"
        checks_passed=$((checks_passed + 1))
    else
        echo "not ok $n - ${what%%:*}: ${what#*:}"
        checks_failed=$((checks_failed + 1))
    fi
done
[[ $leaked_procs == 0 ]] || { echo "# processes still there:"; our_pids | xargs -r ps -o pid,ppid,args -p | sed 's/^/#   /'; }
[[ $leaked_files == 0 ]] || find "$VMRUN_STATE_DIR" "$VMRUN_RUNTIME_DIR" -mindepth 1 | sed 's/^/#   file: /'

echo
printf '%-14s %8s\n' runs "$((RUNS + 2))" failures "$failures" "leaked procs" "$leaked_procs" \
    "leaked fds" "$leaked_fds" "leaked bytes" "$leaked_bytes" "leaked files" "$leaked_files"
echo
printf '%-9s %5s %9s %-18s %s\n' kind runs failures expected "exit statuses seen"
for kind in "${kinds[@]}" normal; do
    printf '%-9s %5s %9s %-18s %s\n' "$kind" "${K_RUNS[$kind]:-0}" "${K_FAIL[$kind]:-0}" \
        "$(kind_expect "$kind")" "$(tr ' ' '\n' <<<"${K_CODES[$kind]:-}" | sed '/^$/d' | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')"
done
echo
printf '%-34s %10s %10s\n' measure before after
for k in procs fds deleted shellfds files bytes host_qemu host_procs host_files; do
    case $k in
    procs) label="processes naming the test dir" ;;
    fds) label="fds into the test dir (all procs)" ;;
    deleted) label="bytes of deleted-but-open files" ;;
    shellfds) label="fds of this shell" ;;
    files) label="files in state+runtime dirs" ;;
    bytes) label="bytes in state+runtime dirs" ;;
    host_qemu) label="host: qemu-system processes" ;;
    host_procs) label="host: processes" ;;
    host_files) label="host: open files (file-nr)" ;;
    esac
    printf '%-34s %10s %10s\n' "$label" "${M[before.$k]}" "${M[after.$k]}"
done
echo "$checks_passed passed, $checks_failed failed"
[[ $checks_failed -eq 0 ]]
