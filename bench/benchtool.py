#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""benchtool.py: the measuring and printing half of bench/run.sh.

How it works: run.sh drives the runs; this file does what bash does badly.
  time OUT CMD...            run CMD, write its wall time (ms, CLOCK_MONOTONIC
                             via time.monotonic_ns) to OUT, exit with CMD's status
  capture RTDIR OUT          wait for the QEMU whose command line mentions RTDIR
                             (vmrun's runtime dir: agent socket, libvirt root) and
                             save its /proc/PID/cmdline (NUL-separated) to OUT
  floor-argv CMDLINE BASE OUT
                             turn the captured vmrun QEMU command line into the
                             floor's (rules in floor_argv below); OUT gets the
                             argv NUL-separated with @OVERLAY@ @LOG@ @INITRD@
  rss RTDIR MEM_MIB OUT      sample that QEMU's /proc status and smaps every
                             50 ms until it exits; OUT (JSON) keeps the sample
                             with the highest VmRSS
  report SECTION DIR         print one section's table from the data in DIR
Statistics: n, median, min-max (statistics.median; even n averages the middle two).
"""
import json
import os
import shlex
import statistics
import subprocess
import sys
import time


def qemu_pids(rtdir):
    """PIDs of the guest QEMUs (-kernel: not libvirt's capability probes) naming rtdir."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if (
            argv
            and os.path.basename(argv[0]).startswith(b"qemu-system")
            and b"-kernel" in argv
            and any(rtdir.encode() in a for a in argv)
        ):
            found.append(int(d))
    return found


def cmd_time(out, argv):
    t0 = time.monotonic_ns()
    rc = subprocess.call(argv)
    ms = (time.monotonic_ns() - t0) / 1e6
    with open(out, "w") as f:
        f.write(f"{ms:.1f}\n")
    return rc


def cmd_capture(rtdir, out, limit_s=120.0):
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        for pid in qemu_pids(rtdir):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            with open(out, "wb") as f:
                f.write(data)
            return 0
        time.sleep(0.02)
    print(f"benchtool: no QEMU naming {rtdir} appeared in {limit_s:.0f} s", file=sys.stderr)
    return 1


def floor_argv(argv, base, rundirs):
    """The floor differs from vmrun's QEMU only where libvirt or the agent is involved.

    Dropped (libvirt's plumbing): -S (libvirt starts QEMU paused and sends
    'cont' over QMP), the QMP monitor (-chardev ...charmonitor, -mon), the
    master-key secret object, -uuid, -add-fd (the console file is passed by
    fd; the floor names the file instead), -no-shutdown (libvirt wants to see
    the shutdown; the floor wants QEMU to exit: -no-reboot is added, and the
    guest ends with a reboot, since the domain has no ACPI).
    Replaced: the agent port's socket chardev by a null chardev (same
    virtserialport device, nobody listening), the overlay file name, the
    initramfs (floorinit instead of the agent), the domain name.
    Added to the kernel command line unless there: reboot=t (a reboot is a
    triple fault at once, not a walk through reboot methods microvm lacks).
    Everything else (machine, accel, -cpu, memory backend, -smp, -rtc, -no-acpi,
    blockdev caching, devices, -sandbox, ...) is kept as libvirt wrote it.
    """
    out = []
    i = 0
    base = os.path.realpath(base)
    while i < len(argv):
        a = argv[i]
        v = argv[i + 1] if i + 1 < len(argv) else None
        if a in ("-S", "-no-shutdown"):
            i += 1
            continue
        if a in ("-uuid", "-mon", "-add-fd"):
            i += 2
            continue
        if a == "-object" and '"secret"' in v:
            i += 2
            continue
        if a == "-chardev" and "id=charmonitor" in v:
            i += 2
            continue
        if a == "-chardev" and "id=charserial0" in v:
            out += [a, "file,id=charserial0,path=@LOG@"]
            i += 2
            continue
        if a == "-chardev" and "id=charchannel0" in v:
            out += [a, "null,id=charchannel0"]
            i += 2
            continue
        if a == "-name":
            out += [a, "guest=vmrun-floor,debug-threads=on"]
            i += 2
            continue
        if a == "-initrd":
            out += [a, "@INITRD@"]
            i += 2
            continue
        if a == "-append":
            out += [a, v if "reboot=t" in v.split() else v + " reboot=t"]
            i += 2
            continue
        if a == "-blockdev" and v.startswith("{"):
            node = json.loads(v)
            fn = node.get("filename")
            if node.get("driver") == "file" and fn and os.path.realpath(fn) != base:
                node["filename"] = "@OVERLAY@"
                v = json.dumps(node, separators=(",", ":"))
            out += [a, v]
            i += 2
            continue
        out.append(a)
        i += 1
    out.insert(1 + out.index("-no-acpi") if "-no-acpi" in out else len(out), "-no-reboot")
    for a in out:
        for d in rundirs:
            if d and d in a:
                raise SystemExit(f"benchtool: unhandled vmrun-specific QEMU argument: {a}")
    return out


def cmd_floor_argv(cmdline, base, out):
    with open(cmdline, "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    rundirs = [os.environ.get("VMRUN_RUNTIME_DIR", ""), os.environ.get("VMRUN_STATE_DIR", "")]
    fl = floor_argv(argv, base, rundirs)
    with open(out, "wb") as f:
        f.write(b"\0".join(a.encode() for a in fl) + b"\0")
    return 0


def smaps_summary(pid, mem_kb):
    """(guest RAM Rss, TCG code buffer Rss, its size) in kB, from /proc/PID/smaps.

    The guest RAM is the anonymous mapping of exactly MEM_MIB (QEMU's
    memory-backend-ram); the TCG translated-code buffer is the anonymous
    writable and executable one (0 when there is none: KVM, or split-wx)."""
    guest = None
    tb_rss = tb_size = 0
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split()[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                cur = {"anon": len(parts) < 6, "perms": parts[1], "size": 0}
            elif first == "Size:":
                cur["size"] = int(line.split()[1])
            elif first == "Rss:" and cur["anon"]:
                rss = int(line.split()[1])
                if cur["size"] == mem_kb and guest is None:
                    guest = rss
                elif "w" in cur["perms"] and "x" in cur["perms"]:
                    tb_rss += rss
                    tb_size += cur["size"]
    return guest, (tb_rss, tb_size)


def cmd_rss(rtdir, mem_mib, out, limit_s=180.0):
    mem_kb = int(mem_mib) * 1024
    end = time.monotonic() + limit_s
    pid = None
    while pid is None and time.monotonic() < end:
        pids = qemu_pids(rtdir)
        pid = pids[0] if pids else None
        if pid is None:
            time.sleep(0.02)
    if pid is None:
        print("benchtool: no QEMU to sample", file=sys.stderr)
        return 1
    best = None
    samples = 0
    while True:
        try:
            st = {}
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                        st[k] = int(v.split()[0])
            guest, (tb_rss, tb_size) = smaps_summary(pid, mem_kb)
        except (OSError, ValueError, IndexError, TypeError):
            break  # QEMU is gone
        if not st or guest is None:  # still starting: guest RAM not mapped yet
            time.sleep(0.02)
            continue
        samples += 1
        st.update(guest_ram_rss=guest, tcg_buf_rss=tb_rss, tcg_buf_size=tb_size)
        if best is None or st["VmRSS"] >= best["VmRSS"]:
            best = st
        time.sleep(0.05)
    if best is None:
        print("benchtool: QEMU went away before a sample was taken", file=sys.stderr)
        return 1
    best["samples"] = samples
    best["pid"] = pid
    with open(out, "w") as f:
        json.dump(best, f)
    return 0


# ---- report -------------------------------------------------------------

def nums(path):
    try:
        with open(path) as f:
            return [float(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def st(xs):
    return (statistics.median(xs), min(xs), max(xs)) if xs else (float("nan"),) * 3


def fmt_ms(x):
    return f"{x:8.0f}" if x == x else "       -"


def row(name, xs, unit_fmt=fmt_ms):
    m, lo, hi = st(xs)
    return f"  {name:<34} {len(xs):>3}  {unit_fmt(m)}  {unit_fmt(lo)} - {unit_fmt(hi).strip():<8}"


def header(unit="ms"):
    return f"  {'':<34} {'n':>3}  {'median':>8}  {'min':>8} - {'max':<8}  ({unit})"


def verdict(ok):
    return "PASS" if ok else "MISS"


def reports(d, prefix):
    out = []
    for name in sorted(os.listdir(d)):
        if name.startswith(prefix) and name.endswith(".json"):
            with open(os.path.join(d, name)) as f:
                out.append(json.load(f))
    return out


def floor_guest_times(d):
    """Per floor run: (init started, python done) on the guest clock, seconds."""
    out = []
    for name in sorted(os.listdir(d)):
        if not (name.startswith("floor-") and name.endswith(".log")):
            continue
        t = {}
        with open(os.path.join(d, name), errors="replace") as f:
            for line in f:
                if line.startswith("floor: ["):
                    ts = float(line[8 : line.index("]")])
                    if "init started" in line:
                        t["init"] = ts
                    elif "running python3" in line:
                        t["py0"] = ts
                    elif "python3 exit" in line:
                        t["py1"] = ts
        if len(t) == 3:
            out.append(t)
    return out


def report_e2e(d):
    fl, vm = nums(f"{d}/floor.ms"), nums(f"{d}/vmrun.ms")
    pairs = [v / f for f, v in zip(fl, vm)]
    ratio = statistics.median(vm) / statistics.median(fl)
    print(header())
    print(row("1. floor: qemu + python3 hello.py", fl))
    print(row("2. vmrun IMAGE hello.py", vm))
    print(row("   vmrun - floor", [v - f for f, v in zip(fl, vm)]))
    g = floor_guest_times(d)
    if g:
        print(row("   floor guest: kernel to /init", [t["init"] * 1000 for t in g]))
        print(row("   floor guest: python3 hello.py", [(t["py1"] - t["py0"]) * 1000 for t in g]))
    m, lo, hi = st(pairs)
    print(f"  ratio vmrun/floor: {ratio:.2f}x (medians); per interleaved pair median "
          f"{m:.2f}x, min-max {lo:.2f}x - {hi:.2f}x")
    print(f"  target: vmrun end to end <= 1.10x the floor (median) .......... "
          f"{ratio:.2f}x  {verdict(ratio <= 1.10)}")


def report_stages(d):
    rs = reports(d, "hello-")
    t = [r["timings"] for r in rs]
    wall = nums(f"{d}/vmrun.ms")
    g = lambda k: [x[k] for x in t if x.get(k) is not None]
    boot = g("boot_ms")
    ready = [x["agent_ready_ms"] - x["boot_ms"] for x in t]
    print(header())
    print(row("prepare (image, overlay, digest)", g("prepare_ms")))
    print(row("libvirt connect + define/start", boot))
    print(row("kernel boot to agent ready", ready))
    print(row("module transfer", g("transfer_ms")))
    print(row("python run (request to exit)", g("run_ms")))
    print(row("teardown", g("teardown_ms")))
    print(row("total_ms (report)", g("total_ms")))
    print(row("outside total_ms (exec, exit)", [w - x["total_ms"] for w, x in zip(wall, t)]))
    m = statistics.median(ready)
    print("  (kernel boot to agent ready = agent_ready_ms - boot_ms: both count from before")
    print("   the libvirt connection; agent_ready_ms itself, median "
          f"{statistics.median(g('agent_ready_ms')):.0f} ms, includes libvirt)")
    print(f"  target: kernel boot to agent ready <= 1200 ms (median) ......... "
          f"{m:.0f} ms  {verdict(m <= 1200)}")


def report_kill(d):
    rs = reports(d, "kill-")
    k = [r["timings"]["kill_ms"] for r in rs if r["timings"].get("kill_ms") is not None]
    statuses = sorted({r["status"] for r in rs})
    surv = nums(f"{d}/kill.survivors")
    print(header())
    print(row("kill_ms (deadline to QEMU gone)", k, lambda x: f"{x:8.1f}" if x == x else "-"))
    print(row("vmrun wall time (--timeout 1)", nums(f"{d}/kill.ms")))
    print(f"  statuses: {', '.join(statuses)}; reports without kill_ms: {len(rs) - len(k)}; "
          f"runs with a QEMU left after vmrun returned (pgrep): {int(sum(1 for s in surv if s))}"
          f" of {len(surv)}")
    worst = max(k) if k else float("inf")
    ok = bool(k) and len(k) == len(rs) and not any(surv) and worst <= 250
    print(f"  target: kill latency <= 250 ms, worst of {len(rs)}, no QEMU left ...... "
          f"{worst:.1f} ms  {verdict(ok)}")


def report_rss(d):
    with open(f"{d}/rss.json") as f:
        s = json.load(f)
    guest = {}
    with open(f"{d}/rss.out") as f:
        for line in f:
            k, _, v = line.partition("=")
            if v.strip().isdigit():
                guest[k.strip()] = int(v)
    mib = lambda kb: kb / 1024
    over = s["VmRSS"] - s["guest_ram_rss"]
    print(f"  QEMU of a {s['mem_mib']} MiB guest running hello.py + sleep "
          f"({s['samples']} samples, 50 ms apart; the sample with the highest VmRSS):")
    print(f"    VmRSS {mib(s['VmRSS']):7.1f} MiB   VmHWM {mib(s['VmHWM']):7.1f} MiB   "
          f"(anon {mib(s['RssAnon']):.1f}, file {mib(s['RssFile']):.1f}, "
          f"shmem {mib(s['RssShmem']):.1f})")
    print(f"    guest RAM touched, host view: Rss of the {s['mem_mib']} MiB guest-RAM mapping "
          f"in /proc/PID/smaps = {mib(s['guest_ram_rss']):.1f} MiB")
    if guest:
        print(f"    guest view (/proc/meminfo in the guest): MemTotal {mib(guest['MemTotal']):.1f},"
              f" MemTotal-MemFree {mib(guest['MemTotal'] - guest['MemFree']):.1f},"
              f" MemTotal-MemAvailable {mib(guest['MemTotal'] - guest['MemAvailable']):.1f} MiB")
    print(f"    overhead {mib(over):.1f} MiB, of which: TCG translated-code buffer "
          f"{mib(s['tcg_buf_rss']):.1f} MiB (of {mib(s['tcg_buf_size']):.0f} MiB mapped), "
          f"file-backed {mib(s['RssFile']):.1f} MiB")
    print(f"    (file-backed pages, QEMU's binary and libraries, are shared by all VMs; "
          f"without them: {mib(over - s['RssFile']):.1f} MiB)")
    print("  method: overhead = VmRSS - Rss(guest RAM mapping); the guest's own figures")
    print("  undercount touched RAM (freed boot memory and reserved pages were still touched)")
    print(f"  target: QEMU RSS beyond guest RAM touched <= 64 MiB ............. "
          f"{mib(over):.1f} MiB  {verdict(mib(over) <= 64)}")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "time":
        return cmd_time(args[0], args[1:])
    if cmd == "capture":
        return cmd_capture(*args)
    if cmd == "floor-argv":
        return cmd_floor_argv(*args)
    if cmd == "quote":  # print a NUL-separated argv file as one shell line
        with open(args[0], "rb") as f:
            print(shlex.join(a.decode() for a in f.read().split(b"\0") if a))
        return 0
    if cmd == "rss":
        rc = cmd_rss(*args)
        if rc == 0:
            with open(args[2]) as f:
                s = json.load(f)
            s["mem_mib"] = int(args[1])
            with open(args[2], "w") as f:
                json.dump(s, f)
        return rc
    if cmd == "report":
        {"e2e": report_e2e, "stages": report_stages, "kill": report_kill, "rss": report_rss}[
            args[0]
        ](args[1])
        return 0
    print(f"benchtool: unknown command {cmd}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
