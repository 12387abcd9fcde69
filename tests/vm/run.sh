#!/bin/bash
# tests/vm/run.sh - end-to-end tests: real VMs booted by vmrun.
#
# How it works: each test_* function runs vmrun on the image built in this
# run (build/images/default.qcow2, or $VMRUN_TEST_IMAGE) and checks the exit
# status, the streamed output and the JSON report with jq. Each test runs in a
# subshell with `set -e`, its output captured and shown only on failure. The
# output is TAP and ends with "N passed, N failed". Arguments select tests
# whose name contains one of them. Boots cost seconds under TCG, so tests
# share work where it does not blur what they check. Helpers and the runner
# are in lib.sh.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---- tests ------------------------------------------------------------------
test_hello_world() {
    local m; m=$(mod hello.py <<'EOF'
print("hello world")
EOF
)
    vr hello "$IMAGE" "$m"
    expect_eq "$rc" 0
    expect_eq "$(cat "$W/hello.out")" "hello world"
    expect_eq "$(j hello .status)" exited
    expect_eq "$(j hello .exit_code)" 0
    expect_eq "$(j hello .stdout)" "hello world"
    expect_eq "$(j hello .accel)" "$(j hello .accel)"  # present
    [[ "$(j hello .accel)" == tcg || "$(j hello .accel)" == kvm ]] || fail "accel missing"
    [[ "$(j hello '.image.sha256 | length')" == 64 ]] || fail "no image digest"
    [[ "$(j hello '.timings.agent_ready_ms > 0 and .timings.run_ms > 0')" == true ]] || fail "timings"
    [[ "$(j hello '.usage.cpu_ms >= 0 and .usage.maxrss_kb > 0')" == true ]] || fail "usage"
    no_qemu_left
    no_run_dirs_left
}

test_exit_status_stderr_args_env_user() {
    local m; m=$(mod status.py <<'EOF'
import os, sys
print(repr(sys.argv[1:]))
print(os.environ.get("GREETING"), os.getuid(), os.getcwd())
print("to stderr", file=sys.stderr)
sys.exit(3)
EOF
)
    vr status "$IMAGE" --env GREETING=hi "$m" "a b" "ünï" "--flag"
    expect_eq "$rc" 3
    expect_eq "$(sed -n 1p "$W/status.out")" "['a b', 'ünï', '--flag']"
    expect_eq "$(sed -n 2p "$W/status.out")" "hi 65534 /tmp/vmrun"
    grep -q "to stderr" "$W/status.err" || fail "stderr not streamed"
    expect_eq "$(j status .status)" exited
    expect_eq "$(j status .exit_code)" 3
    expect_eq "$(j status .stderr)" "to stderr"
}

test_traceback_and_syntax_error() {
    local m; m=$(mod broken.py <<'EOF'
def f(:
    pass
EOF
)
    vr broken "$IMAGE" "$m"
    expect_eq "$rc" 1
    expect_eq "$(j broken .status)" exited
    grep -q SyntaxError "$W/broken.err" || fail "no SyntaxError on stderr"
}

test_stdin_file_and_closed_stdin() {
    local m; m=$(mod echo.py <<'EOF'
import sys
data = sys.stdin.read()
print(len(data), data.upper())
try:
    input()
except EOFError:
    print("EOF")
EOF
)
    printf 'abc\n' >"$W/in.txt"
    vr stdin "$IMAGE" --stdin "$W/in.txt" "$m"
    expect_eq "$rc" 0
    expect_eq "$(cat "$W/stdin.out")" "$(printf '4 ABC\n\nEOF')"
    local m2; m2=$(mod ask.py <<'EOF'
name = input("name? ")
print("never", name)
EOF
)
    vr ask "$IMAGE" --timeout 30 "$m2"
    expect_eq "$rc" 1
    grep -q EOFError "$W/ask.err" || fail "input() did not get EOF"
    [[ "$(j ask '.timings.run_ms < 20000')" == true ]] || fail "input() hung"
}

test_input_files() {
    local m; m=$(mod grade.py <<'EOF'
import importlib.util, json
spec = importlib.util.spec_from_file_location("sub", "submission.py")
sub = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sub)
print(sub.add(2, 3), open("data.json").read().strip())
EOF
)
    printf 'def add(a, b):\n    return a + b\n' >"$W/submission.py"
    printf '{"k": 1}\n' >"$W/data.json"
    vr grade "$IMAGE" --input "$W/submission.py" --input "$W/data.json" "$m"
    expect_eq "$rc" 0
    expect_eq "$(cat "$W/grade.out")" '5 {"k": 1}'
}

test_streaming() {
    local m; m=$(mod stream.py <<'EOF'
import time
print("first", flush=True)
time.sleep(6)
print("second")
EOF
)
    local start first_at end
    start=$(date +%s.%N)
    "$VMRUN" --diff none "$IMAGE" "$m" >"$W/stream.out" 2>"$W/stream.err" &
    local pid=$!
    first_at=""
    while kill -0 "$pid" 2>/dev/null; do
        if [[ -z $first_at ]] && grep -q first "$W/stream.out"; then
            first_at=$(date +%s.%N)
        fi
        sleep 0.05
    done
    wait "$pid" || fail "vmrun failed: $(cat "$W/stream.err")"
    end=$(date +%s.%N)
    [[ -n $first_at ]] || fail "first line never seen before exit"
    echo "first seen $(echo "$first_at - $start" | bc) s after start, vmrun ended $(echo "$end - $first_at" | bc) s later"
    # The module sleeps 6 s after the first line: it must have been on our
    # stdout well before the end, not delivered at exit.
    [[ $(echo "$end - $first_at > 4" | bc) == 1 ]] || fail "output was not streamed"
    expect_eq "$(cat "$W/stream.out")" "$(printf 'first\nsecond')"
}

test_timeout_hostile_module() {
    local m; m=$(mod hostile.py <<'EOF'
import os, signal, sys
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(s, signal.SIG_IGN)
print("spinning", flush=True)
os.fork()
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
EOF
)
    local t0 t1
    t0=$(date +%s.%N)
    vr hostile "$IMAGE" --timeout 4 "$m"
    t1=$(date +%s.%N)
    expect_eq "$rc" 124
    expect_eq "$(j hostile .status)" timeout
    grep -q spinning "$W/hostile.out" || fail "module never ran"
    echo "kill_ms=$(j hostile .timings.kill_ms) run_ms=$(j hostile .timings.run_ms) wall=$(echo "$t1 - $t0" | bc)"
    [[ "$(j hostile '.timings.kill_ms < 1000')" == true ]] || fail "QEMU not gone within 1 s of the deadline"
    [[ "$(j hostile '.timings.run_ms >= 4000 and .timings.run_ms < 5000')" == true ]] || fail "deadline not at 4 s"
    no_qemu_left
    no_run_dirs_left
}

test_no_network() {
    local m; m=$(mod net.py <<'EOF'
import os, socket
print(sorted(os.listdir("/sys/class/net")))
for addr in (("192.0.2.1", 80), ("10.0.2.2", 53)):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(addr)
        print("CONNECTED", addr)
    except OSError as e:
        print("refused", e.errno)
EOF
)
    vr net "$IMAGE" "$m"
    expect_eq "$rc" 0
    expect_eq "$(sed -n 1p "$W/net.out")" "['lo']"
    grep -q CONNECTED "$W/net.out" && fail "a connection succeeded"
    expect_eq "$(grep -c refused "$W/net.out")" 2
}

test_output_flood_capped() {
    local m; m=$(mod flood.py <<'EOF'
import sys
for i in range(80000):
    sys.stdout.write("x" * 63 + "\n")
sys.stderr.write("e" * 1000)
EOF
)
    vr flood "$IMAGE" --output-limit 64K "$m"
    expect_eq "$rc" 0
    expect_eq "$(stat -c %s "$W/flood.out")" 65536
    expect_eq "$(j flood .stdout_truncated)" true
    expect_eq "$(j flood '.stdout | length')" 65536
    expect_eq "$(j flood .stderr_truncated)" false
    expect_eq "$(j flood '.stderr | length')" 1000
}

test_invalid_utf8_and_nul() {
    local m; m=$(mod bytes.py <<'EOF'
import sys
sys.stdout.buffer.write(b"ok\xff\xfe\x00end")
EOF
)
    vr bytes "$IMAGE" "$m"
    expect_eq "$rc" 0
    expect_eq "$(od -An -tx1 "$W/bytes.out" | tr -d ' \n')" "6f6bfffe00656e64"
    expect_eq "$(j bytes .stdout_base64 | base64 -d | od -An -tx1 | tr -d ' \n')" "6f6bfffe00656e64"
    jq -e . "$W/bytes.json" >/dev/null || fail "report is not valid JSON"
}

test_signal_death() {
    local m; m=$(mod sig.py <<'EOF'
import os
os.kill(os.getpid(), 9)
EOF
)
    vr sig "$IMAGE" "$m"
    expect_eq "$rc" 137
    expect_eq "$(j sig .status)" signaled
    expect_eq "$(j sig .signal)" 9
}

test_import_mode() {
    local ok raises slow
    ok=$(mod good_mod.py <<'EOF'
X = 41 + 1
EOF
)
    raises=$(mod bad_mod.py <<'EOF'
raise ValueError("nope")
EOF
)
    slow=$(mod slow_mod.py <<'EOF'
while True:
    pass
EOF
)
    vr imp_ok "$IMAGE" --import "$ok"
    expect_eq "$rc" 0
    expect_eq "$(j imp_ok .import.outcome)" completed
    vr imp_bad "$IMAGE" --import "$raises"
    expect_eq "$(j imp_bad .import.outcome)" raised
    expect_eq "$(j imp_bad .import.exception)" ValueError
    j imp_bad .import.traceback | grep -q "nope" || fail "no traceback"
    vr imp_slow "$IMAGE" --import --timeout 3 "$slow"
    expect_eq "$rc" 124
    expect_eq "$(j imp_slow .import.outcome)" timeout
}

test_bad_inputs_are_usage_errors() {
    local m; m=$(mod fine.py <<'EOF'
print(1)
EOF
)
    : >"$W/empty.py"
    mkdir -p "$W/adir.py"
    printf 'not an image at all' >"$W/notimage.img"
    vr e1 "$W/missing.qcow2" "$m";    expect_eq "$rc" 125; grep -q "cannot open image" "$W/e1.err" || fail e1
    vr e2 "$W/notimage.img" "$m";     expect_eq "$rc" 125; grep -q -- "--format raw" "$W/e2.err" || fail e2
    vr e3 "$IMAGE" "$W/nothere.py";   expect_eq "$rc" 125; grep -q "cannot read module" "$W/e3.err" || fail e3
    vr e4 "$IMAGE" "$W/empty.py";     expect_eq "$rc" 125; grep -q "is empty" "$W/e4.err" || fail e4
    vr e5 "$IMAGE" "$W/adir.py";      expect_eq "$rc" 125; grep -q "is a directory" "$W/e5.err" || fail e5
    vr e6 "$IMAGE" --timeout 0 "$m";  expect_eq "$rc" 125; grep -q -- "--timeout" "$W/e6.err" || fail e6
    vr e7 "$IMAGE" --input "$m" "$m"; expect_eq "$rc" 125; grep -q "already uses" "$W/e7.err" || fail e7
    rc=0
    env PATH=/nonexistent "$VMRUN" "$IMAGE" "$m" 2>"$W/e8.err" || rc=$?
    expect_eq "$rc" 125; grep -q "QEMU is not installed" "$W/e8.err" || fail e8
    expect_eq "$(j e1 .status)" error
    expect_eq "$(j e1 .error.kind)" usage
    no_run_dirs_left
}

test_backing_file_image_refused() {
    qemu-img create -q -f qcow2 -b "$IMAGE" -F qcow2 "$W/chained.qcow2"
    local m; m=$(mod fine2.py <<'EOF'
print(1)
EOF
)
    vr chained "$W/chained.qcow2" "$m"
    expect_eq "$rc" 125
    grep -q "backing file" "$W/chained.err" || fail "no backing-file message"
    expect_eq "$(j chained .status)" error
}

test_raw_and_partitioned_images() {
    [[ -f $TESTIMG/plain.raw && -f $TESTIMG/mbr.raw && -f $TESTIMG/gpt.raw ]] ||
        fail "test images missing in $TESTIMG (make test-images)"
    local m; m=$(mod where.py <<'EOF'
print("ok")
EOF
)
    vr rawimg "$TESTIMG/plain.raw" "$m"
    expect_eq "$rc" 125 "(raw without --format raw must be refused)"
    vr rawimg "$TESTIMG/plain.raw" --format raw "$m"
    expect_eq "$rc" 0
    expect_eq "$(j rawimg .image.root_device)" /dev/vda
    vr mbr "$TESTIMG/mbr.raw" --format raw "$m"
    expect_eq "$rc" 0
    expect_eq "$(j mbr .image.root_device)" /dev/vda2
    vr gpt "$TESTIMG/gpt.raw" --format raw --root /dev/vda2 "$m"
    expect_eq "$rc" 0
    expect_eq "$(j gpt .image.root_device)" /dev/vda2
    vr gpt1 "$TESTIMG/gpt.raw" --format raw --root /dev/vda1 "$m"
    expect_eq "$rc" 125 "(vda1 holds no python)"
}

test_keep_overlay() {
    local m; m=$(mod writer.py <<'EOF'
open("/tmp/vmrun/out.txt", "w").write("x")
EOF
)
    vr keep "$IMAGE" --keep-overlay "$W/kept.qcow2" "$m"
    expect_eq "$rc" 0
    [[ -f $W/kept.qcow2 ]] || fail "overlay not kept"
    qemu-img info --output=json "$W/kept.qcow2" | jq -e --arg b "$(readlink -f "$IMAGE")" \
        '.["backing-filename"] == $b and .["backing-filename-format"] == "qcow2"' >/dev/null ||
        fail "kept overlay does not point at the base"
    expect_eq "$(j keep .overlay)" "$W/kept.qcow2"
    vr keep2 "$IMAGE" --keep-overlay "$W/kept.qcow2" "$m"
    expect_eq "$rc" 125 "(an existing overlay must not be overwritten)"
}

test_out_of_memory() {
    local m; m=$(mod hog.py <<'EOF'
chunks = []
while True:
    chunks.append(b"x" * (1 << 20))
EOF
)
    vr oom "$IMAGE" --memory 128 --timeout 60 "$m"
    expect_eq "$(j oom .status)" oom
    expect_eq "$rc" 137
}

test_installed_vmrun_finds_its_guest() {
    make -s -C "$root" install PREFIX="$W/prefix" >/dev/null
    [[ -f $W/prefix/share/vmrun/vmlinux && -f $W/prefix/share/man/man1/vmrun.1 ]] || fail "install incomplete"
    local m; m=$(mod inst.py <<'EOF'
print("installed")
EOF
)
    rc=0
    (cd / && env -u VMRUN_GUEST_DIR "$W/prefix/bin/vmrun" --report "$W/inst.json" "$IMAGE" "$m") \
        >"$W/inst.out" 2>"$W/inst.err" || rc=$?
    cat "$W/inst.err"
    expect_eq "$rc" 0
    expect_eq "$(cat "$W/inst.out")" installed
    expect_eq "$(j inst .kernel)" "$W/prefix/share/vmrun/vmlinux"
}

test_disk_diff_violations_and_extract() {
    local m; m=$(mod writes.py <<'EOF'
import os
open("/tmp/vmrun/result.txt", "w").write("42\n")
try:
    open("/etc/evil.conf", "w").write("owned\n")
except PermissionError:
    print("denied")
EOF
)
    mkdir -p "$W/extract"
    vr diffrun "$IMAGE" --user root --diff full --allow-write '/tmp/*' --fail-on-violation \
        --extract "$W/extract" "$m"
    expect_eq "$rc" 123 "(a write outside --allow-write must fail the run)"
    expect_eq "$(j diffrun .status)" exited
    expect_eq "$(j diffrun .exit_code)" 0
    j diffrun '[.changes.added[].path] | index("/etc/evil.conf")' | grep -qv null || fail "/etc/evil.conf not reported added"
    j diffrun '[.changes.violations[].path] | index("/etc/evil.conf")' | grep -qv null || fail "/etc/evil.conf not a violation"
    j diffrun '[.changes.violations[].path] | index("/tmp/vmrun/result.txt")' | grep -q null || fail "an allowed write was listed as a violation"
    expect_eq "$(cat "$W/extract/tmp/vmrun/result.txt")" 42
    expect_eq "$(j diffrun '.changes.added[] | select(.path == "/tmp/vmrun/result.txt") | .sha256')" \
        "$(printf '42\n' | sha256sum | cut -d' ' -f1)"
    grep -q "outside --allow-write" "$W/diffrun.err" || fail "no summary on stderr"
}

# Ctrl-C and kill -9: start a module that never ends, wait for it to run.
start_sleeper() {
    local m; m=$(mod sleeper.py <<'EOF'
import time
print("ready", flush=True)
time.sleep(600)
EOF
)
    "$VMRUN" "$IMAGE" --timeout 300 "$m" >"$W/$1.out" 2>"$W/$1.err" &
    sleeper_pid=$!
    for _ in $(seq 1 600); do
        grep -q ready "$W/$1.out" 2>/dev/null && return 0
        kill -0 "$sleeper_pid" 2>/dev/null || fail "vmrun ended early: $(cat "$W/$1.err")"
        sleep 0.1
    done
    fail "module never became ready"
}

test_ctrl_c_destroys_vm() {
    start_sleeper ctrlc
    kill -INT "$sleeper_pid"
    local rc=0
    wait "$sleeper_pid" || rc=$?
    expect_eq "$rc" 130
    grep -q interrupted "$W/ctrlc.err" || fail "no interruption message"
    no_qemu_left
    no_run_dirs_left
}

test_kill_9_leaves_no_qemu() {
    start_sleeper kill9
    local name
    name=$(basename "$(find "$VMRUN_RUNTIME_DIR" -mindepth 1 -maxdepth 1 -name 'vmrun-*' | head -1)")
    [[ -n $(qemu_of "$name") ]] || fail "no QEMU found for $name"
    kill -9 "$sleeper_pid"
    wait "$sleeper_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        [[ -z $(qemu_of "$name") ]] && break
        sleep 0.1
    done
    [[ -z $(qemu_of "$name") ]] || fail "QEMU of $name survived kill -9 of vmrun"
    for _ in $(seq 1 50); do
        [[ -d $VMRUN_RUNTIME_DIR/$name ]] || break
        sleep 0.1
    done
    no_run_dirs_left
}

test_kill_9_of_vmrun_and_watchdog_swept_by_next_run() {
    start_sleeper sweep
    local name watchdog
    name=$(basename "$(find "$VMRUN_RUNTIME_DIR" -mindepth 1 -maxdepth 1 -name 'vmrun-*' | head -1)")
    # the watchdog is vmrun's child that is itself a vmrun (QEMU is a child too)
    watchdog=$(pgrep -P "$sleeper_pid" -x vmrun || true)
    [[ -n $watchdog ]] || fail "no watchdog process found"
    kill -9 "$sleeper_pid" $watchdog
    wait "$sleeper_pid" 2>/dev/null || true
    sleep 1
    [[ -n $(qemu_of "$name") ]] || fail "QEMU already gone: nothing left for the sweep to test"
    local m; m=$(mod after.py <<'EOF'
print("after")
EOF
)
    vr after "$IMAGE" "$m"
    expect_eq "$rc" 0
    [[ -z $(qemu_of "$name") ]] || fail "the next vmrun did not reap the QEMU of $name"
    [[ ! -d $VMRUN_RUNTIME_DIR/$name ]] || fail "run directory $name left behind"
    no_run_dirs_left
}

# vmrun doctor on the host that runs these tests: what the other tests need must
# pass; which accelerator works is only reported (KVM or TCG), never required.
# One guest boot, no libguestfs appliance. Then a host without QEMU: exit 1 and
# the fix names the package.
test_doctor() {
    rc=0
    "$VMRUN" doctor --json --no-appliance >"$W/doctor.json" 2>"$W/doctor.err" || rc=$?
    cat "$W/doctor.err"
    jq -c '.checks[] | {name, status, detail}' "$W/doctor.json" || fail "not JSON"
    expect_eq "$rc" 0
    expect_eq "$(j doctor .ok)" true
    local c
    for c in qemu qemu-img kernel initramfs libvirt; do
        expect_eq "$(j doctor ".checks[] | select(.name == \"$c\") | .status")" ok "(check $c)"
    done
    [[ "$(j doctor .accel)" == kvm || "$(j doctor .accel)" == tcg ]] || fail "accel not reported"
    [[ "$(j doctor '.boot_ms > 0')" == true ]] || fail "no boot time"
    [[ "$(j doctor '.checks[] | select(.name == "accel") | .status')" =~ ^(ok|warn)$ ]] ||
        fail "accel check failed"
    if [[ "$(j doctor .accel)" == tcg ]]; then
        j doctor '.checks[] | select(.name == "accel") | .detail' | grep -q "measured here" ||
            fail "the TCG boot time is not reported"
    fi
    expect_eq "$(j doctor '.checks[] | select(.name == "libguestfs") | .status')" skip
    no_run_dirs_left

    rc=0
    env PATH=/nonexistent "$VMRUN" doctor --json --no-appliance >"$W/noqemu.json" || rc=$?
    expect_eq "$rc" 1 "(no QEMU: vmrun cannot run)"
    expect_eq "$(j noqemu .ok)" false
    expect_eq "$(j noqemu '.checks[] | select(.name == "qemu") | .status')" fail
    j noqemu '.checks[] | select(.name == "qemu") | .fix' | grep -q "apt-get install qemu-system-x86" ||
        fail "the fix does not name qemu-system-x86"
    rc=0
    env PATH=/nonexistent "$VMRUN" doctor --no-appliance >"$W/noqemu.txt" || rc=$?
    expect_eq "$rc" 1
    grep -q "fix: apt-get install qemu-system-x86" "$W/noqemu.txt" || fail "no fix in the table"
    grep -q "vmrun cannot run here" "$W/noqemu.txt" || fail "no verdict in the table"
    rc=0
    "$VMRUN" doctor --bogus >/dev/null 2>&1 || rc=$?
    expect_eq "$rc" 2
}

# QEMU is confined, and the report says so only because the kernel does: the
# checks below read /proc and the cgroup files of the live QEMU themselves.
test_qemu_confined() {
    local m pid name uid gid st cg lim
    m=$(mod confined.py <<'EOF'
import time
print("up", flush=True)
time.sleep(4)
EOF
)
    vr_bg confined "$IMAGE" --memory 256 "$m"
    wait_output confined up
    name=$(run_names | head -1)
    pid=$(qemu_of "$name")
    [[ -n $pid ]] || fail "no QEMU for $name"
    st=$(cat /proc/"$pid"/status)
    uid=$(awk '/^Uid:/ {print $3}' <<<"$st")
    echo "QEMU pid $pid, euid $uid"
    if [[ $(id -u) == 0 ]]; then
        [[ $uid != 0 ]] || fail "QEMU runs as root"
        ((uid >= 0x2f000000)) || fail "QEMU uid $uid is not from vmrun's range"
        gid=$(awk '/^Gid:/ {print $3}' <<<"$st")
        expect_eq "$(awk '/^Groups:/ {for (i = 2; i <= NF; i++) if ($i != g) n++; print n + 0}' g="$gid" <<<"$st")" 0 "(supplementary groups)"
        expect_eq "$(awk '/^CapEff:/ {print $2}' <<<"$st")" 0000000000000000 "(capabilities)"
        [[ $(readlink /proc/"$pid"/ns/mnt) != $(readlink /proc/self/ns/mnt) ]] ||
            fail "QEMU shares the host's mount namespace"
        # the cgroup libvirt made for this VM holds the memory limit: 256 MiB
        # of guest RAM plus vmrun's QEMU allowance
        cg=$(awk -F: '$2 == "memory" {print $3}' /proc/"$pid"/cgroup)
        if [[ -n $cg && -r /sys/fs/cgroup/memory$cg/memory.limit_in_bytes ]]; then
            lim=$(cat /sys/fs/cgroup/memory"$cg"/memory.limit_in_bytes)
        else
            cg=$(awk -F: '$1 == "0" {print $3}' /proc/"$pid"/cgroup)
            lim=$(cat /sys/fs/cgroup"$cg"/memory.max 2>/dev/null || cat /sys/fs/cgroup/unified"$cg"/memory.max)
        fi
        echo "memory cgroup $cg limit $lim"
        [[ $lim =~ ^[0-9]+$ ]] || fail "no memory limit on QEMU's cgroup ($lim)"
        ((lim <= (256 + 512) << 20)) || fail "memory limit $lim above guest RAM + allowance"
        # the CPU limit is on the VM's cgroup, which holds every QEMU thread
        # (vCPUs and emulator in sub-groups): one CPU for a 1-vCPU guest
        cg=$(awk -F: '$2 == "cpu" || $2 == "cpu,cpuacct" {print $3}' /proc/"$pid"/cgroup)
        if [[ -n $cg && -r /sys/fs/cgroup/cpu${cg%/emulator}/cpu.cfs_quota_us ]]; then
            cpu="$(cat /sys/fs/cgroup/cpu"${cg%/emulator}"/cpu.cfs_quota_us)/$(cat /sys/fs/cgroup/cpu"${cg%/emulator}"/cpu.cfs_period_us)"
        else
            cg=$(awk -F: '$1 == "0" {print $3}' /proc/"$pid"/cgroup)
            cpu=$(tr ' ' '/' <"/sys/fs/cgroup${cg%/emulator}/cpu.max")
        fi
        echo "cpu cgroup ${cg%/emulator} quota/period $cpu"
        expect_eq "$cpu" 100000/100000 "(CPU quota of the VM's cgroup)"
    fi
    expect_eq "$(awk '/^Seccomp:/ {print $2}' <<<"$st")" 2 "(seccomp filter)"
    expect_eq "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$st")" 1
    tr '\0' ' ' </proc/"$pid"/cmdline |
        grep -q -- '-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny' || fail "QEMU's -sandbox is not fully on: $(tr '\0' ' ' </proc/"$pid"/cmdline)"
    tr '\0' ' ' </proc/"$pid"/cmdline | grep -q -- '-nodefaults' || fail "QEMU without -nodefaults"
    if tr '\0' '\n' </proc/"$pid"/cmdline | grep -E 'netdev|virtio-net|usb-|-vga|-soundhw|balloon'; then
        fail "QEMU has a device it should not"
    fi
    vr_wait confined
    expect_eq "$rc" 0
    # the report agrees with what was seen
    expect_eq "$(j confined .confinement.qemu.uid)" "$uid"
    expect_eq "$(j confined .confinement.qemu.seccomp)" true
    expect_eq "$(j confined .confinement.qemu.no_new_privs)" true
    if [[ $(id -u) == 0 ]]; then
        expect_eq "$(j confined .confinement.qemu.capabilities_none)" true
        expect_eq "$(j confined .confinement.cpu_quota_us)" 100000
        expect_eq "$(j confined .confinement.memory_limit_bytes)" "$lim"
    fi
    [[ $(j confined '.confinement.disk_limit_bytes > 0') == true ]] || fail "no disk limit"
    no_qemu_left
    no_run_dirs_left
    # the uid went back: no lock file, no process
    [[ -z $(find "$VMRUN_RUNTIME_DIR/uids" -name '*.lock' 2>/dev/null) ]] || fail "uid lock left"
    [[ -z $(pgrep -u "$uid" 2>/dev/null) ]] || fail "a process still runs as $uid"
}

# A base image QEMU's uid cannot read is refused before boot, with the fix.
test_unreadable_base_refused() {
    [[ $(id -u) == 0 ]] || { echo "# not root: QEMU is the user's own"; return 0; }
    local m
    m=$(mod noread.py <<'EOF'
print("never")
EOF
)
    mkdir -p "$W/private"
    chmod 700 "$W/private"
    cp "$IMAGE" "$W/private/base.qcow2"
    vr noread "$W/private/base.qcow2" "$m"
    expect_eq "$rc" 125
    expect_eq "$(j noread .status)" error
    expect_eq "$(j noread .error.kind)" usage
    expect_match "$(j noread .error.message)" "cannot read the base image .*chmod o\+r"
    rm -rf "$W/private"
    no_qemu_left
    no_run_dirs_left
}

# A guest that writes more than --disk-limit is stopped: status disk_limit,
# exit 153, and the overlay on the host never passed the limit.
test_disk_limit() {
    local m size
    m=$(mod fill.py <<'EOF'
import os
print("filling", flush=True)
with open("/var/tmp/fill", "wb") as f:
    block = os.urandom(1 << 20)
    for i in range(400):
        f.write(block)
        if i % 16 == 0:
            f.flush(); os.fsync(f.fileno())
print("not stopped")
EOF
)
    vr disklimit "$IMAGE" --user root --disk-limit 48M --timeout 120 --keep-overlay "$W/limited.qcow2" "$m"
    expect_eq "$rc" 153
    expect_eq "$(j disklimit .status)" disk_limit
    expect_eq "$(j disklimit .confinement.disk_limit_bytes)" $((48 << 20))
    grep -q filling "$W/disklimit.out" || fail "the module never ran"
    ! grep -q "not stopped" "$W/disklimit.out" || fail "the module wrote 400 MiB through a 48M limit"
    size=$(stat -c %s "$W/limited.qcow2")
    echo "overlay $size bytes"
    ((size <= 48 << 20)) || fail "the overlay grew to $size bytes"
    rm -f "$W/limited.qcow2"
    no_qemu_left
    no_run_dirs_left
}

vm_run_tests "$@"
