#!/bin/bash
# tests/vm/faults.sh - faults survived: the VM, the agent, QEMU, libvirt or the
# host disk fail mid-run, a root module attacks the channel, two runs share an
# image at once.
#
# How it works: like run.sh (helpers and runner in lib.sh), each test_* boots
# real VMs with vmrun and checks exit status, report and leftovers. A fault is
# infrastructure, never the module's verdict: each must end in exit 125, a
# report with status "error" and a message that says what happened, and leave
# no QEMU process, overlay, socket or run directory behind. The faults are made
# for real: the guest kernel panics (sysrq), the agent (PID 1) crashes on its
# own overwritten code, QEMU is SIGKILLed from the host, QEMU refuses a kernel,
# the overlay's host filesystem fills up, the agent is frozen by ptrace, and a
# root module writes to the agent's own virtio port (a duplicate of its fd got
# with pidfd_getfd). Needs root on the host (tmpfs mount). Arguments select
# tests by name, as for run.sh.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

now() { date +%s.%N; }
elapsed_lt() { [[ $(echo "$(now) - $1 < $2" | bc) == 1 ]]; }
# A fault: exit 125, status error, an infrastructure error whose message
# matches REGEX, and nothing left behind.
expect_fault() {
    local name=$1 regex=$2
    expect_eq "$rc" 125 "(exit status of vmrun)"
    expect_eq "$(j "$name" .status)" error
    expect_eq "$(j "$name" .exit_status)" 125
    expect_eq "$(j "$name" .error.kind)" infrastructure
    expect_match "$(j "$name" .error.message)" "$regex" "(report's error message)"
    expect_match "$(cat "$W/$name.err")" "$regex" "(message on stderr)"
    no_qemu_left
    no_run_dirs_left
}
# peak_rss PID FILE: until PID is gone, keep its peak resident set (VmHWM, kB)
# in FILE. Run in the background.
peak_rss() {
    local v
    while v=$(awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null) && [[ -n $v ]]; do
        echo "$v" >"$2"
        sleep 0.05
    done
}

# Python: a duplicate of the agent's virtio port fd, taken from PID 1 with
# pidfd_open + pidfd_getfd (the port can be opened only once), and a writer
# that keeps each write() whole (the port sends each write of <= 32 KiB as one
# buffer, so frames written whole never interleave with the agent's).
PORT_PY='import ctypes, os, select, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def die(msg):
    print(msg, ctypes.get_errno(), file=sys.stderr, flush=True)
    sys.exit(3)

def agent_port():
    for n in os.listdir("/proc/1/fd"):
        try:
            target = os.readlink("/proc/1/fd/" + n)
        except OSError:
            continue
        if "vport" in target:
            pidfd = libc.syscall(434, 1, 0)  # pidfd_open
            if pidfd < 0:
                die("pidfd_open failed")
            fd = libc.syscall(438, pidfd, int(n), 0)  # pidfd_getfd
            if fd < 0:
                die("pidfd_getfd failed")
            return fd
    die("no /dev/vport* among the agent fds")

def write_whole(fd, data):
    assert len(data) <= 32768
    while True:
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        if n != len(data):
            die("short write to the port")
        return
'

# ---- the guest dies -----------------------------------------------------------
test_guest_kernel_panic() {
    local m; m=$(mod panic.py <<'EOF'
import time
print("before the panic", flush=True)
time.sleep(1)  # let the agent forward the line
open("/proc/sysrq-trigger", "w").write("c")
time.sleep(30)
print("the kernel did not panic")
EOF
)
    local t0; t0=$(now)
    vr panic "$IMAGE" --user root --timeout 60 "$m"
    expect_fault panic 'kernel panicked'
    expect_eq "$(cat "$W/panic.out")" "before the panic" "(output before the panic)"
    expect_eq "$(j panic .stdout)" "before the panic" "(report's stdout)"
    elapsed_lt "$t0" 30 || fail "the run took more than 30 s"
}

test_agent_crashes() {
    # PID 1 cannot be SIGKILLed from inside; overwrite its code with int3
    # (0xCC) through /proc/1/mem: the next instruction it runs traps, the
    # kernel kills init and panics ("Attempted to kill init").
    local m; m=$(mod crash.py <<'EOF'
import os, time
print("before the crash", flush=True)
time.sleep(1)
ranges = []
for line in open("/proc/1/maps"):
    f = line.split()
    if f[1] == "r-xp" and len(f) >= 6 and not f[5].startswith("["):
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        ranges.append((lo, hi))
if not ranges:
    raise SystemExit("no executable mapping of the agent found")
fd = os.open("/proc/1/mem", os.O_RDWR)
for lo, hi in ranges:
    os.pwrite(fd, b"\xcc" * (hi - lo), lo)
print("overwritten", flush=True)  # wakes the agent up
time.sleep(30)
print("the agent survived")
EOF
)
    local t0; t0=$(now)
    vr crash "$IMAGE" --user root --timeout 60 "$m"
    expect_fault crash 'agent \(PID 1\) died|Attempted to kill init'
    expect_eq "$(head -1 "$W/crash.out")" "before the crash"
    grep -q survived "$W/crash.out" && fail "the agent survived"
    elapsed_lt "$t0" 30 || fail "the run took more than 30 s"
}

test_qemu_killed_from_outside() {
    local m; m=$(mod qkill.py <<'EOF'
import time
print("ready", flush=True)
time.sleep(120)
EOF
)
    vr_bg qkill "$IMAGE" --timeout 120 "$m"
    wait_output qkill ready
    local name pid t0
    name=$(run_names)
    [[ -n $name && $(wc -l <<<"$name") == 1 ]] || fail "expected one run directory, found '$name'"
    pid=$(pgrep -f "qemu-system.*guest=$name") || fail "no QEMU process for $name"
    t0=$(now)
    kill -9 "$pid"
    vr_wait qkill
    elapsed_lt "$t0" 10 || fail "vmrun took more than 10 s to notice QEMU was gone"
    expect_fault qkill 'QEMU was killed'
    expect_eq "$(j qkill .stdout)" ready
}

test_libvirt_start_error() {
    # QEMU refuses the kernel and exits at once: libvirt's start fails.
    head -c 65536 /dev/zero | tr '\0' 'k' >"$W/notakernel"
    local m; m=$(mod never.py <<'EOF'
print("never")
EOF
)
    local t0; t0=$(now)
    vr badkernel "$IMAGE" --kernel "$W/notakernel" "$m"
    expect_fault badkernel 'could not start the VM'
    # QEMU is gone within milliseconds; so must vmrun be, with its answer
    elapsed_lt "$t0" 15 || fail "vmrun took $(echo "$(now) - $t0" | bc) s to report a VM that never started"
    expect_match "$(j badkernel .error.message)" 'kernel' "(QEMU's reason kept)"
    expect_eq "$(cat "$W/badkernel.out")" ""
}

test_host_overlay_disk_full() {
    local full=$W/full
    mkdir -p "$full"
    mount -t tmpfs -o size=64m vmrun-faults "$full" || fail "cannot mount a tmpfs on $full (needs root)"
    on_exit "umount -l '$full'"
    # the caches too: QEMU's capabilities and the image digest are not re-made
    [[ -d $VMRUN_STATE_DIR/cache ]] && cp -a "$VMRUN_STATE_DIR/cache" "$full/"
    export VMRUN_STATE_DIR=$full
    local m; m=$(mod fill.py <<'EOF'
import os
print("writing", flush=True)
chunk = os.urandom(1 << 20)
fd = os.open("/tmp/vmrun/big", os.O_WRONLY | os.O_CREAT, 0o600)
for i in range(200):
    os.write(fd, chunk)
os.fsync(fd)
print("written 200 MiB")
EOF
)
    local t0; t0=$(now)
    vr diskfull "$IMAGE" --user root --timeout 40 "$m"
    df -h "$full" | sed 's/^/  /'
    expect_eq "$(head -1 "$W/diskfull.out")" writing
    expect_fault diskfull 'overlay.*full|full.*overlay'
    elapsed_lt "$t0" 35 || fail "not detected before the module's timeout"
}

test_agent_silent() {
    # The agent is frozen (a ptrace stop), the guest is alive: the host must
    # notice the missing heartbeats, not wait for --timeout.
    local m; m=$(mod freeze.py <<'EOF'
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
print("freezing the agent", flush=True)
time.sleep(1)
if libc.ptrace(0x4206, 1, None, None) != 0:  # PTRACE_SEIZE
    sys.exit("PTRACE_SEIZE failed: errno %d" % ctypes.get_errno())
if libc.ptrace(0x4207, 1, None, None) != 0:  # PTRACE_INTERRUPT
    sys.exit("PTRACE_INTERRUPT failed: errno %d" % ctypes.get_errno())
time.sleep(3600)
EOF
)
    vr_bg silent "$IMAGE" --user root --timeout 60 --agent-timeout 5 "$m"
    wait_output silent "freezing the agent"
    local t0 took; t0=$(now)
    vr_wait silent
    took=$(echo "$(now) - $t0" | bc)
    echo "ended $took s after the module's line arrived (it froze the agent 1 s later)"
    expect_fault silent 'silent'
    expect_eq "$(cat "$W/silent.out")" "freezing the agent"
    # heartbeats come every second, so the last one was at most 1 s before
    # the freeze: silence can be declared no sooner than ~5 s after the line
    [[ $(echo "$took >= 4.5" | bc) == 1 ]] || fail "failed before --agent-timeout passed"
    [[ $(echo "$took < 20" | bc) == 1 ]] || fail "--agent-timeout 5 not enforced (--timeout is 60)"
}

# ---- hostile channel traffic ------------------------------------------------------
# inject NAME MODE [vmrun args]: a root module writes MODE traffic into the
# agent's port, then sleeps; vmrun's peak RSS is kept in $W/NAME.rss.
inject() {
    local name=$1 mode=$2; shift 2
    local m; m=$({ echo "$PORT_PY"; cat <<'EOF'; } | mod "$name.py"
mode, run_id = sys.argv[1], int(sys.argv[2])
fd = agent_port()
out_hdr = b'{"type":"output","id":%d,"stream":"stdout"}' % run_id
if mode == "garbage":
    write_whole(fd, bytes(range(256)) * 16)
elif mode == "huge-header":
    write_whole(fd, b"VRMF" + struct.pack(">II", 0xFFFFFFFF, 0) + out_hdr)
elif mode == "huge-body":
    write_whole(fd, b"VRMF" + struct.pack(">II", len(out_hdr), 0xFFFFFFFF) + out_hdr + b"x" * 4096)
elif mode == "flood":
    frame = b"VRMF" + struct.pack(">II", len(out_hdr), 1) + out_hdr + b"."
    per = 32768 // len(frame)
    sent = 0
    while sent < 1000000:
        k = min(per, 1000000 - sent)
        write_whole(fd, frame * k)
        sent += k
    print("flood sent", sent, file=sys.stderr, flush=True)
    sys.exit(0)
print("injected", mode, file=sys.stderr, flush=True)
time.sleep(120)
EOF
)
    local t0; t0=$(now)
    # run id 3: hello is 1 and the module's only file chunk 2 (docs/protocol.md)
    vr_bg "$name" "$IMAGE" --user root --timeout 90 "$@" "$m" "$mode" 3
    peak_rss "$bg_pid" "$W/$name.rss" &
    local watcher=$!
    vr_wait "$name"
    wait "$watcher" || true
    wall=$(echo "$(now) - $t0" | bc)
    echo "$name: wall ${wall} s, vmrun peak RSS $(cat "$W/$name.rss" 2>/dev/null) kB"
}
# A protocol violation: an infrastructure error, at once, RSS bounded.
expect_violation() {
    expect_fault "$1" 'broke the protocol'
    [[ $(echo "$wall < 30" | bc) == 1 ]] || fail "took $wall s: the violation was not acted on at once"
    [[ $(cat "$W/$1.rss") -lt 65536 ]] || fail "vmrun's RSS reached $(cat "$W/$1.rss") kB"
}

test_hostile_channel_garbage() {
    inject garbage garbage
    expect_violation garbage
}

test_hostile_channel_4gib_lengths() {
    inject hugehdr huge-header
    expect_violation hugehdr
    inject hugebody huge-body
    expect_violation hugebody
}

test_hostile_channel_frame_flood() {
    # A million valid `output` frames of one byte each: within the protocol,
    # so the host must take them, cap what it keeps, and stay small and quick.
    inject flood flood --output-limit 64K
    expect_eq "$rc" 0
    expect_eq "$(j flood .status)" exited
    grep -q "flood sent 1000000" "$W/flood.err" || fail "the module did not send its frames"
    expect_eq "$(j flood .stdout_bytes)" 1000000
    expect_eq "$(j flood .stdout_truncated)" true
    expect_eq "$(j flood '.stdout | length')" 65536
    expect_eq "$(stat -c %s "$W/flood.out")" 65536
    [[ $(cat "$W/flood.rss") -lt 65536 ]] || fail "vmrun's RSS reached $(cat "$W/flood.rss") kB"
    [[ $(echo "$wall < 30" | bc) == 1 ]] || fail "a million tiny frames took $wall s"
    no_qemu_left
    no_run_dirs_left
}

# ---- two runs at once ---------------------------------------------------------------
test_two_runs_at_once_are_isolated() {
    local m; m=$(mod twin.py <<'EOF'
import os, sys, time
me, other = sys.argv[1], sys.argv[2]
open("/marker-" + me, "w").write(me)
open("/shared-marker", "w").write(me)
os.sync()
print(me, "ready", flush=True)
seen, end = False, time.time() + 12
while time.time() < end and not seen:
    seen = os.path.exists("/marker-" + other)
    time.sleep(0.2)
print(me, "saw", other + ":", seen, "shared:", open("/shared-marker").read())
EOF
)
    local pa pb
    vr_bg twinA "$IMAGE" --user root --timeout 60 "$m" A B; pa=$bg_pid
    vr_bg twinB "$IMAGE" --user root --timeout 60 "$m" B A; pb=$bg_pid
    bg_pid=$pa; wait_output twinA "A ready" 90
    bg_pid=$pb; wait_output twinB "B ready" 90
    # both modules run now (each looks for 12 s): two of everything
    { kill -0 "$pa" && kill -0 "$pb"; } || fail "a run ended before the other started"
    grep -q saw "$W/twinA.out" "$W/twinB.out" && fail "a module finished before the other was ready"
    local names socks overlays qemus
    names=$(run_names | sort)
    socks=$(find "$VMRUN_RUNTIME_DIR" -name agent.sock | sort)
    overlays=$(find "$VMRUN_STATE_DIR/overlays" -name '*.qcow2' | sort)
    qemus=$(pgrep -af 'qemu-system.*guest=vmrun-' | grep -F "$VMRUN_RUNTIME_DIR" || true)
    printf 'runs: %s\nsockets: %s\noverlays: %s\n' "$names" "$socks" "$overlays" | tr '\n' ' '; echo
    expect_eq "$(sort -u <<<"$names" | wc -l)" 2 "(distinct run directories)"
    expect_eq "$(sort -u <<<"$socks" | wc -l)" 2 "(distinct agent sockets)"
    expect_eq "$(sort -u <<<"$overlays" | wc -l)" 2 "(distinct overlays)"
    expect_eq "$(wc -l <<<"$qemus")" 2 "(QEMU processes)"
    local o
    for o in $overlays; do
        expect_eq "$(grep -cF "$o" <<<"$qemus")" 1 "(QEMU processes using $o)"
    done
    vr_wait twinA "$pa"; local rca=$rc
    vr_wait twinB "$pb"; local rcb=$rc
    expect_eq "$rca" 0
    expect_eq "$rcb" 0
    expect_eq "$(cat "$W/twinA.out")" "$(printf 'A ready\nA saw B: False shared: A')"
    expect_eq "$(cat "$W/twinB.out")" "$(printf 'B ready\nB saw A: False shared: B')"
    expect_eq "$(j twinA .status)/$(j twinB .status)" exited/exited
    expect_eq "$(j twinA .stdout)" "$(cat "$W/twinA.out")"
    expect_eq "$(j twinB .stdout)" "$(cat "$W/twinB.out")"
    ! cmp -s "$W/twinA.json" "$W/twinB.json" || fail "the two reports are the same"
    no_qemu_left
    no_run_dirs_left
}

vm_run_tests "$@"
