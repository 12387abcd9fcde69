#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<harness>/seed-*).

Deterministic, python3 stdlib only. Only seed-* files are written (stale ones
removed); inputs that libFuzzer found and merged, and regress-* inputs, are
left alone.

    python3 tests/fuzz/make-corpus.py [CORPUS_DIR]
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def frame(header, body=b"", hlen=None, blen=None):
    """One wire frame; header is a dict (compact JSON) or raw bytes."""
    if not isinstance(header, bytes):
        header = json.dumps(header, separators=(",", ":")).encode()
    hlen = len(header) if hlen is None else hlen
    blen = len(body) if blen is None else blen
    return b"VRMF" + struct.pack(">II", hlen, blen) + header + body


def nested(depth):
    inner = 0
    for _ in range(depth):
        inner = [inner]
    return {"type": "run", "id": 1, "x": inner}


def wire_seeds():
    run = {"type": "run", "id": 5, "argv": ["mod.py", "a", "b c"], "env": {"A": "1", "B": ""},
           "user": "nobody", "stdin": None, "mode": "run", "module": "mod.py",
           "output_limit": 1048576, "limits": {"cpu_s": 2, "nproc": 256, "nofile": 256,
                                                "fsize_bytes": 268435456}}
    exit_run = {"type": "exit", "id": 5, "status": "exited", "exit_code": 0, "signal": None,
                "cpu_ms": 12, "maxrss_kb": 9000, "stdout_bytes": 6, "stderr_bytes": 0,
                "stdout_truncated": False, "stderr_truncated": False}
    exit_import = dict(exit_run, status="exited", exit_code=1,
                       **{"import": {"outcome": "raised", "exception": "ValueError: x",
                                     "traceback": "Traceback (most recent call last):\n"}})
    s = {
        "hello-host": frame({"type": "hello", "id": 1, "proto": 1, "time_ns": 1700000000123456789}),
        "hello-agent": frame({"type": "hello", "id": 1, "proto": 1, "agent": "0.1.0",
                              "root": "/dev/vda"}),
        "file-chunk": frame({"type": "file", "id": 2, "name": "mod.py", "mode": 420,
                             "last": False}, b"print('hello')\n"),
        "file-last": frame({"type": "file", "id": 3, "name": "mod.py", "mode": 420,
                            "last": True}, b"import sys\x00\xff"),
        "file-empty": frame({"type": "file", "id": 4, "name": "empty", "mode": 0o644,
                             "last": True}),
        "run": frame(run),
        "run-import": frame(dict(run, mode="import", stdin="in.txt", user="root")),
        "ok": frame({"type": "ok", "id": 2}),
        "started": frame({"type": "started", "id": 5, "pid": 42}),
        "output-stdout": frame({"type": "output", "id": 5, "stream": "stdout"}, b"hello\n"),
        "output-stderr": frame({"type": "output", "id": 5, "stream": "stderr"},
                               b"\x00\x01\xfe\xff\xed\xa0\x80"),
        "exit": frame(exit_run),
        "exit-import": frame(exit_import),
        "exit-signaled": frame(dict(exit_run, status="signaled", exit_code=None, signal=9)),
        "error": frame({"type": "error", "id": 0, "message": "no root filesystem with python3"}),
        # a whole session from the agent, back to back
        "session-agent": b"".join([
            frame({"type": "hello", "id": 1, "proto": 1, "agent": "0.1.0", "root": "/dev/vda"}),
            frame({"type": "ok", "id": 2}),
            frame({"type": "started", "id": 3, "pid": 7}),
            frame({"type": "output", "id": 3, "stream": "stdout"}, b"x" * 40),
            frame(exit_run)]),
        "two-frames": frame({"type": "ok", "id": 2}) + frame({"type": "ok", "id": 3}),
        # boundary lengths
        "hlen-zero": b"VRMF" + struct.pack(">II", 0, 0) + frame({"type": "ok", "id": 1}),
        "hlen-max-prefix": b"VRMF" + struct.pack(">II", 65536, 0) + b"{",
        "hlen-max-plus1": b"VRMF" + struct.pack(">II", 65537, 0) + b"{}",
        "hlen-ffffffff": b"VRMF" + struct.pack(">II", 0xffffffff, 0) + b"{}",
        "blen-ffffffff": b"VRMF" + struct.pack(">II", 2, 0xffffffff) + b"{}",
        "blen-max-prefix": frame({"type": "output", "id": 1, "stream": "stdout"}, b"ab",
                                 blen=1048576),
        "blen-max-plus1": frame({"type": "output", "id": 1}, b"", blen=1048577),
        "body-zero": frame({"type": "x"}),
        "hlen-short": frame(b'{"type":"ok","id":2}', hlen=10),
        "hlen-long": frame(b'{"type":"ok"}', hlen=20) + b"VRMF",
        "prefix-only": b"VRMF\x00\x00\x00\x0c\x00\x00\x00",
        "magic-partial": b"VRM",
        "truncated": frame({"type": "ok", "id": 2})[:-3],
        # resync
        "garbage-then-valid": b"\x00login: \xffVR" + frame({"type": "hello", "id": 1, "proto": 1}),
        "magic-repeat": b"VRMFVRMFVRM" + frame({"type": "ok", "id": 9}),
        "bad-then-valid": frame(b"[1,2]") + frame({"type": "ok", "id": 3}),
        "half-frame-then-valid": frame({"type": "output", "id": 1}, b"abcdef")[:20]
        + frame({"type": "ok", "id": 4}),
        # header contents
        "depth-8": frame(nested(7)),
        "depth-9": frame(nested(8)),
        "depth-64": frame(b'{"type":"a","x":' + b"[" * 64 + b"]" * 64 + b"}"),
        "depth-obj": frame(b'{"type":"a","x":' + b'{"y":' * 12 + b"1" + b"}" * 12 + b"}"),
        "dup-keys": frame(b'{"type":"ok","id":1,"id":2}'),
        "dup-type": frame(b'{"type":"ok","type":"exit"}'),
        "utf8-invalid": frame(b'{"type":"output","id":1,"stream":"std\xffout"}'),
        "utf8-surrogate": frame(b'{"type":"ok","s":"\xed\xa0\x80"}'),
        "escaped-surrogate": frame(b'{"type":"ok","s":"\\ud83d\\ude00 \\udc00"}'),
        "nul-escape": frame(b'{"type":"file","name":"a\\u0000b"}'),
        "type-empty": frame(b'{"type":""}'),
        "type-number": frame(b'{"type":1}'),
        "type-missing": frame(b'{"id":1}'),
        "not-json": frame(b"not json at all"),
        "json-trailing": frame(b'{"type":"ok"} {}'),
        "numbers": frame(b'{"type":"exit","a":1e9,"b":-0.0,"c":1.7976931348623157e308,'
                         b'"d":9223372036854775807,"e":-9223372036854775808,"f":0.1}'),
        "big-int": frame(b'{"type":"ok","id":92233720368547758070}'),
        "escapes": frame(b'{"type":"t\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9","k\\u20ac":"\\u0001"}'),
        "whitespace": frame(b' \n\t{ "type" : "ok" , "id" : 2 } \r\n'),
    }
    return s


def qcow2(version=3, backing=0, cluster_bits=16, size=1 << 30, crypt=0, incompat=0,
          length=None):
    h = b"QFI\xfb" + struct.pack(">IQIIQIIQQIIQ", version, backing, 0 if not backing else 9,
                                 cluster_bits, size, crypt, 16, 0x30000, 0x10000, 1, 0, 0)
    h += struct.pack(">QQQII", incompat, 0, 0, 4, 104)
    assert len(h) == 104
    if length is None:
        length = 72 if version == 2 else 104
    return (h + b"\x00" * 200)[:length]


def qcow2_seeds():
    return {
        "v2": qcow2(2),
        "v2-104": qcow2(2, length=104),
        "v2-backing": qcow2(2, backing=0x200),
        "v3": qcow2(3),
        "v3-long": qcow2(3, length=512),
        "v3-backing": qcow2(3, backing=0x10000),
        "v3-backing-high": qcow2(3, backing=1 << 63),
        "v3-data-file": qcow2(3, incompat=4),
        "v3-corrupt": qcow2(3, incompat=2),
        "v3-dirty": qcow2(3, incompat=1),
        "v3-compression": qcow2(3, incompat=8),
        "v3-extended-l2": qcow2(3, incompat=16),
        "v3-unknown-bit": qcow2(3, incompat=32),
        "v3-all-bits": qcow2(3, incompat=(1 << 64) - 1),
        "v3-short-103": qcow2(3, length=103),
        "v3-short-72": qcow2(3, length=72),
        "v2-short-71": qcow2(2, length=71),
        "v1": qcow2(1),
        "v4": qcow2(4),
        "version-ffffffff": qcow2(0xffffffff),
        "cluster-8": qcow2(3, cluster_bits=8),
        "cluster-9": qcow2(3, cluster_bits=9),
        "cluster-21": qcow2(3, cluster_bits=21),
        "cluster-22": qcow2(3, cluster_bits=22),
        "encrypted-aes": qcow2(3, crypt=1),
        "encrypted-luks": qcow2(3, crypt=2),
        "size-max": qcow2(3, size=(1 << 64) - 1),
        "magic-only": b"QFI\xfb",
        "bad-magic": b"QFI\xfa" + qcow2(3)[4:],
        "raw-zeros": b"\x00" * 104,
        "empty": b"",
    }


def report_seeds():
    return {
        "ascii": b"hello, world\n",
        "empty": b"",
        "one": b"A",
        "two": b"AB",
        "nul-bytes": b"a\x00b\x00\x00c",
        "nul-only": b"\x00",
        "utf8-mixed": "caf\u00e9 \u20ac \u4e2d\u6587 \U0001f600\n".encode(),
        "bom": b"\xef\xbb\xbfx",
        "lone-continuation": b"a\x80b",
        "lone-continuation-bf": b"\xbf",
        "continuations": b"\x80\x81\xbf\xbf",
        "overlong-2": b"\xc0\x80",
        "overlong-2-c1": b"\xc1\xbf",
        "overlong-3": b"\xe0\x80\x80",
        "overlong-3-edge": b"\xe0\x9f\xbf",
        "overlong-4": b"\xf0\x80\x80\x80",
        "overlong-4-edge": b"\xf0\x8f\xbf\xbf",
        "surrogate-high": b"\xed\xa0\x80",
        "surrogate-low": b"\xed\xbf\xbf",
        "surrogate-pair": b"\xed\xa0\xbd\xed\xb8\x80",
        "before-surrogates": b"\xed\x9f\xbf",
        "four-byte": b"\xf0\x9f\x98\x80",
        "four-byte-min": b"\xf0\x90\x80\x80",
        "max-codepoint": b"\xf4\x8f\xbf\xbf",
        "above-max": b"\xf4\x90\x80\x80",
        "f5-ff": bytes(range(0xf5, 0x100)),
        "truncated-2": b"ok\xc3",
        "truncated-3": b"ok\xe2\x82",
        "truncated-4": b"ok\xf0\x9f\x98",
        "bad-continuation": b"\xc3\x28 \xe2\x28\xa1 \xf0\x28\x8c\xbc",
        "all-bytes": bytes(range(256)),
        "latin1": "na\u00efve".encode("latin-1"),
        "utf16le": "hi".encode("utf-16"),
        "json-specials": b'"\\\n\r\t\x01\x1f\x7f</script>',
    }


def reply_seeds():
    base = {"type": "exit", "id": 5, "status": "exited", "exit_code": 0, "signal": None,
            "cpu_ms": 12, "maxrss_kb": 9000, "stdout_bytes": 6, "stderr_bytes": 0,
            "stdout_truncated": False, "stderr_truncated": False}

    def j(d):
        return json.dumps(d, separators=(",", ":")).encode()

    imp = {"outcome": "raised", "exception": "ValueError: x", "traceback": "Traceback\n"}
    return {
        "exited": j(base),
        "exited-255": j(dict(base, exit_code=255)),
        "exited-256": j(dict(base, exit_code=256)),
        "exited-negative": j(dict(base, exit_code=-1)),
        "exited-null": j(dict(base, exit_code=None)),
        "exited-string": j(dict(base, exit_code="0")),
        "exited-real": j(dict(base, exit_code=1.0)),
        "signaled": j(dict(base, status="signaled", exit_code=None, signal=9)),
        "signaled-0": j(dict(base, status="signaled", signal=0)),
        "signaled-65": j(dict(base, status="signaled", signal=65)),
        "oom": j(dict(base, status="oom", exit_code=None, signal=None)),
        "timeout-claimed": j(dict(base, status="timeout")),
        "error-claimed": j(dict(base, status="error")),
        "status-missing": j({k: v for k, v in base.items() if k != "status"}),
        "usage-missing": j({k: v for k, v in base.items() if k not in ("cpu_ms", "maxrss_kb")}),
        "usage-negative": j(dict(base, cpu_ms=-5, maxrss_kb=-1)),
        "usage-huge": j(dict(base, cpu_ms=9223372036854775807, maxrss_kb=9223372036854775807)),
        "truncated-flags": j(dict(base, stdout_truncated=True, stderr_truncated=1)),
        "import-completed": j(dict(base, **{"import": {"outcome": "completed"}})),
        "import-raised": j(dict(base, exit_code=1, **{"import": imp})),
        "import-exited": j(dict(base, **{"import": {"outcome": "exited", "extra": [1, 2]}})),
        "import-bad-outcome": j(dict(base, **{"import": {"outcome": "crashed"}})),
        "import-not-object": j(dict(base, **{"import": ["completed"]})),
        "import-long-exception": j(dict(base, **{"import": dict(imp, exception="E" * 257)})),
        "import-exception-number": j(dict(base, **{"import": dict(imp, exception=7)})),
        "dup-status": b'{"type":"exit","status":"oom","status":"exited","exit_code":0}',
        "not-object": b'["exit"]',
        "nested": b'{"type":"exit","status":"exited","exit_code":0,"import":'
        + b'{"outcome":"completed","x":' + b"[" * 20 + b"]" * 20 + b"}}",
    }


def argv(*args):
    return b"\x00".join(a.encode() if isinstance(a, str) else a for a in args)


def cli_seeds():
    return {
        "minimal": argv("img.qcow2", "mod.py"),
        "typical": argv("--timeout", "5", "--memory", "256", "--cpus", "2", "--env", "A=1",
                        "--env", "_B2=x=y", "--input", "data.txt", "--stdin", "in.txt",
                        "--report", "r.json", "img.qcow2", "mod.py", "arg1", "--flag"),
        "all-options": argv("--format", "raw", "--allow-backing", "--root", "/dev/vda2",
                            "--accel", "tcg", "--connect", "qemu:///session", "--kernel", "k",
                            "--initrd", "i", "--keep-overlay", "o.qcow2", "--boot-timeout",
                            "30.5", "--user", "root", "--import", "--output-limit", "64K",
                            "--cpu-limit", "3", "--max-procs", "0", "--max-files", "64",
                            "--max-file-size", "1G", "--json", "-q", "-v", "img", "m.py"),
        "options-after-image": argv("img", "--json", "--accel", "kvm", "mod.py", "--json"),
        "dashdash": argv("--", "img", "mod.py", "-x"),
        "dashdash-after-image": argv("img", "--", "--mod.py"),
        "long-equals": argv("--timeout=2.5", "--memory=64", "--format=qcow2", "img", "m"),
        "abbrev": argv("--time", "1", "--mem", "100", "img", "m"),
        "ambiguous": argv("--i", "x", "img", "m"),
        "help": argv("-h"),
        "version": argv("--version", "img"),
        "cluster": argv("-qv", "img", "m"),
        "empty-args": argv("", "", ""),
        "missing-module": argv("img"),
        "missing-value": argv("--timeout"),
        "unknown-long": argv("--frobnicate", "img", "m"),
        "unknown-short": argv("-x", "img", "m"),
        "no-arg-with-value": argv("--json=1", "img", "m"),
        "memory-low": argv("--memory", "63", "img", "m"),
        "memory-high": argv("--memory", "65537", "img", "m"),
        "memory-text": argv("--memory", "lots", "img", "m"),
        "cpus-zero": argv("--cpus", "0", "img", "m"),
        "timeout-negative": argv("--timeout", "-1", "img", "m"),
        "timeout-exp": argv("--timeout", "1e3", "img", "m"),
        "timeout-dots": argv("--timeout", "1.2.3", "img", "m"),
        "timeout-week-plus": argv("--timeout", "604800.5", "img", "m"),
        "timeout-long-digits": argv("--timeout", "0." + "0" * 400 + "1", "img", "m"),
        "output-limit-2g": argv("--output-limit", "2G", "img", "m"),
        "output-limit-overflow": argv("--output-limit", "18446744073709551615K", "img", "m"),
        "file-size-overflow": argv("--max-file-size", "99999999999999999999", "img", "m"),
        "size-suffix-only": argv("--max-file-size", "K", "img", "m"),
        "env-no-name": argv("--env", "=x", "img", "m"),
        "env-digit": argv("--env", "1A=b", "img", "m"),
        "env-no-eq": argv("--env", "A", "img", "m"),
        "root-dotdot": argv("--root", "/dev/vda/../sda", "img", "m"),
        "root-other": argv("--root", "/dev/sda1", "img", "m"),
        "format-bad": argv("--format", "vmdk", "img", "m"),
        "accel-bad": argv("--accel", "xen", "img", "m"),
        "user-bad": argv("--user", "admin", "img", "m"),
        "many-inputs": argv(*(["--input", "f"] * 20), "img", "m"),
        "bytes": argv("--env", b"A=\xff\xfe", b"\xc3\x28", "m"),
    }


def write(base, name, seeds):
    d = os.path.join(base, name)
    os.makedirs(d, exist_ok=True)
    wanted = {"seed-" + k for k in seeds}
    for f in sorted(os.listdir(d)):
        if f.startswith("seed-") and f not in wanted:
            os.unlink(os.path.join(d, f))
    for k, data in sorted(seeds.items()):
        with open(os.path.join(d, "seed-" + k), "wb") as fh:
            fh.write(data)


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    write(base, "fuzz_wire", wire_seeds())
    write(base, "fuzz_qcow2", qcow2_seeds())
    write(base, "fuzz_report", report_seeds())
    write(base, "fuzz_cli", cli_seeds())
    write(base, "fuzz_reply", reply_seeds())


if __name__ == "__main__":
    main()
