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
        # reply_classify (run request id 3) and reply_parse_hello (id 1)
        "run-output-stdout": j({"type": "output", "id": 3, "stream": "stdout"}),
        "run-output-stderr": j({"type": "output", "id": 3, "stream": "stderr"}),
        "run-output-bogus-stream": j({"type": "output", "id": 3, "stream": "stdin"}),
        "run-alive": j({"type": "alive", "id": 3}),
        "run-alive-other-id": j({"type": "alive", "id": 4}),
        "run-started": j({"type": "started", "id": 3, "pid": 42}),
        "run-error": j({"type": "error", "id": 3, "message": "no python3"}),
        "run-unknown-type": j({"type": "hello", "id": 3}),
        "hello-agent": j({"type": "hello", "id": 1, "proto": 2, "agent": "vmrun-agent 1.0",
                          "root": "/dev/vda"}),
        "hello-old-proto": j({"type": "hello", "id": 1, "proto": 1, "agent": "a", "root": "r"}),
        "hello-no-strings": j({"type": "hello", "id": 1, "proto": 2}),
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


SEP = b"\n==\n"  # FUZZ_SEP in tests/fuzz/fuzz.h


def parts(*ps):
    return SEP.join(p.encode() if isinstance(p, str) else p for p in ps)


def channel_seeds():
    def setup(noise=0, big=False, byte=b"x"):
        return struct.pack(">H", noise) + (b"\x01" if big else b"\x00") + byte

    hello = frame({"type": "hello", "id": 1, "proto": 2, "agent": "0.2.0", "root": "/dev/vda"})
    session = b"".join([
        hello,
        frame({"type": "ok", "id": 2}),
        frame({"type": "started", "id": 3, "pid": 7}),
        frame({"type": "output", "id": 3, "stream": "stdout"}, b"hi\n" * 30),
        frame({"type": "exit", "id": 3, "status": "exited", "exit_code": 0})])
    return {
        "session": setup() + session,
        "hello-only": setup() + hello,
        "noise-console": setup(200, byte=b"\r") + b"[    0.000000] Linux version\n" + session,
        "noise-at-cap": setup(0, big=True) + hello,
        "noise-past-cap": setup(1, big=True) + hello,
        "noise-just-under": setup(65535 - 3) + b"VRM" + hello,
        "noise-magic-bytes": setup(3000, byte=b"V") + hello,
        "not-hello-first": setup() + frame({"type": "ok", "id": 2}) + hello,
        "error-first": setup(10) + frame({"type": "error", "id": 0, "message": "no python3"}),
        "junk-after-hello": setup() + hello + b"junk" + frame({"type": "ok", "id": 2}),
        "bad-frame-after-hello": setup() + hello + frame(b"[1]"),
        "half-frame-before-hello": setup() + frame({"type": "output", "id": 1}, b"abc")[:15]
        + hello,
        "claims-max-then-eof": setup() + hello + b"VRMF" + struct.pack(">II", 65536, 1048576),
        "eof-mid-frame": setup() + session[:-5],
        "big-body": setup() + hello + frame({"type": "output", "id": 3, "stream": "stderr"},
                                            bytes(range(256)) * 12),
        "no-setup": b"VR",
    }


def diffpath_seeds():
    return {
        "plain": b"/usr/bin/python3",
        "root": b"/",
        "empty": b"",
        "newline": b"/tmp/a\nb",
        "control": b"/tmp/\x1b[31mred",
        "del": b"/x\x7f",
        "latin1": "/tmp/caf\u00e9".encode("latin-1"),
        "utf8": "/tmp/caf\u00e9/\u4e2d/\U0001f600".encode(),
        "surrogate": b"/tmp/\xed\xa0\x80",
        "overlong": b"/tmp/\xc0\xaf",
        "backslash": b"/a\\x41",
        "dotdot": b"/a/../b",
        "dot": b"/a/./b",
        "double-slash": b"//a",
        "trailing-slash": b"/a/",
        "relative": b"a/b",
        "long": b"/" + b"a/" * 2047 + b"b",
        "too-long": b"/" + b"x" * 4096,
        "nul-inside": b"/a\x00b",
        "pattern-star": b"/tmp/*\x00/tmp/x/y",
        "pattern-dir": b"/tmp\x00/tmp/sub/file",
        "pattern-class": b"/[a-c]?\x00/bz",
        "pattern-escape": b"/a\\*\x00/a*",
        "pattern-unterminated": b"/[a\x00/[a",
        "pattern-noslash": b"*\x00/anything",
        "json-plain": b'{"path":"/etc/passwd"}',
        "json-base64": b'{"path":"/tmp/\xef\xbf\xbd","path_base64":"L3RtcC//"}',
        "json-base64-padded": b'{"path":"x","path_base64":"L2E="}',
        "json-base64-newline": b'{"path":"x","path_base64":"L2E=\\n"}',
        "json-base64-space": b'{"path":"x","path_base64":"  L2E="}',
        "json-base64-bad": b'{"path":"x","path_base64":"L2E"}',
        "json-base64-inner-pad": b'{"path":"x","path_base64":"L2==L2E="}',
        "json-base64-dash": b'{"path":"x","path_base64":"L2E=-"}',
        "json-base64-number": b'{"path":"x","path_base64":5}',
        "json-path-number": b'{"path":5}',
    }


def diffimg_seeds():
    extent = '{ "start": %d, "length": 65536, "depth": %d, "present": true, "zero": false, ' \
             '"data": true, "offset": 327680}'
    info = {"virtual-size": 1073741824, "filename": "overlay.qcow2", "cluster-size": 65536,
            "format": "qcow2", "actual-size": 200704, "full-backing-filename": "/img/base.qcow2",
            "backing-filename": "/img/base.qcow2", "backing-filename-format": "qcow2",
            "dirty-flag": False, "format-specific": {"type": "qcow2", "data": {
                "compat": "1.1", "compression-type": "zlib", "lazy-refcounts": False,
                "refcount-bits": 16, "corrupt": False, "extended-l2": False}}}
    return {
        "map-written": ("[" + ",\n".join(extent % (i * 65536, d) for i, d in
                                         enumerate([1, 0, 1])) + "]\n").encode(),
        "map-unwritten": ("[" + extent % (0, 1) + "]\n").encode(),
        "map-empty": b"[]",
        "map-depth-10": ("[" + extent % (0, 10) + "]").encode(),
        "map-depth-00": b'[{"depth": 00}]',
        "map-depth-tab": b'[{"depth":\t0}]',
        "map-depth-space-colon": b'[{"depth" : 0}]',
        "map-depth-real": b'[{"depth": 0.0}]',
        "map-depth-neg": b'[{"depth": -0}]',
        "map-key-in-string": b'[{"x": "\\"depth\\": 0"}]',
        "map-cut": b'[{"depth": ',
        "map-cut-0": b'[{"depth": 0',
        "info": json.dumps(info, indent=4).encode(),
        "info-raw": json.dumps(dict(info, format="raw")).encode(),
        "info-no-backing": json.dumps({"format": "qcow2", "virtual-size": 1}).encode(),
        "info-backing-number": json.dumps(dict(info, **{"full-backing-filename": 1})).encode(),
        "info-array": b'["qcow2"]',
        "info-cut": json.dumps(info).encode()[:100],
        "info-dup": b'{"format":"raw","format":"qcow2"}',
        "info-utf8": b'{"format":"qcow2","full-backing-filename":"/img/\xff"}',
    }


def fnv(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return h


def fake_name(prefix, kind):
    """The first prefix+N whose stat in fuzz_diff's fake appliance has this type
    (fuzz_diff_stat: FNV-1a of the path, modulo 16)."""
    want = {"file": range(0, 8), "dir": range(8, 12), "symlink": range(12, 14)}[kind]
    n = 0
    while fnv(("%s%d" % (prefix, n)).encode()) % 16 not in want:
        n += 1
    return "%s%d" % (prefix, n)


def diff_seeds():
    def opts(mode=0, times=False, extract=False, kvm=False, root=False, allow=False, raw=False,
             max_entries=255, limit=255):
        f = mode | times << 2 | extract << 3 | kvm << 4 | root << 5 | allow << 6 | raw << 7
        return bytes([f, max_entries, limit])

    def names(*ns):
        return b"\x00".join(n.encode() if isinstance(n, str) else n for n in ns) + b"\x00"

    def seed(o=None, root=b"", allow=b"", info=b"", qmap=b"", partitions=b"", la=b"", lb=b"",
             call=b"", stat=b"", walk=b"", hash=b"", text=b"e"):
        return parts(o or opts(), root, allow, info, qmap, partitions, la, lb, call, stat, walk,
                     hash, text)

    out = fake_name("/tmp/out", "dir")
    files = [fake_name(out + "/f%d-" % i, "file") for i in range(10)]
    link = fake_name("/etc/l", "symlink")
    base = ["/etc", "/etc/passwd", "/etc/hosts", link, "/usr", "/usr/bin", "/usr/bin/python3",
            "/usr/lib", "/usr/lib/libc.so", "/tmp", "/var", "/var/log", "/var/log/syslog"]
    added = [out] + files + [out + "/new\nline", out + "/back\\slash", "/tmp/x.txt"]
    la = names(*base)
    lb = names(*[b for b in base if b != "/etc/hosts"], *added)
    hostile = names("/tmp/\xff\xfe", "/tmp/\x1b[2J", "/a/../../etc", "//double", "/tmp/",
                    "relative", "", "/" + "d/" * 300 + "f")
    # one stat byte per record: base tree first, then the overlay's
    n_a = len(base) + 1
    changed = bytes([0] * n_a + [1, 2, 4, 8, 16, 32, 64, 8 | 16, 32 | 8])
    # setup calls before the overlay is mounted (kvm off, no --root):
    # info, map, create, 6 settings, 2 drives, launch, 2 mountpoints, mount /a, lstatns python3
    before_b = 16
    sums = ("0" * 64 + "  ./" + out[5:] + "/f0\n" + "g" * 64 + "  ./x\n"
            + "\\" + "1" * 64 + "  ./a\\\n" + "\\" * 70 + "\n").encode()
    return {
        "full": seed(la=la, lb=lb),
        "meta": seed(opts(mode=1), la=la, lb=lb, stat=changed),
        "none": seed(opts(mode=3), la=la, lb=lb),
        "times": seed(opts(times=True), la=la, lb=lb, stat=changed),
        "changed": seed(la=la, lb=lb, stat=changed),
        "hostile-stat": seed(la=la, lb=lb, stat=bytes([0] * n_a + [128, 129, 130, 131, 255])),
        "extract": seed(opts(extract=True, limit=40), la=la, lb=lb + hostile),
        "extract-deep": seed(opts(extract=True), la=la, lb=names("/" + "a/" * 2000 + "f")),
        "allow": seed(opts(allow=True, max_entries=3), allow=names("/tmp", "/var/*"), la=la,
                      lb=lb),
        "allow-max0": seed(opts(allow=True, max_entries=0), allow=names("/nowhere"), la=la,
                           lb=lb),
        "root": seed(opts(root=True), root=b"/dev/vda2", la=la, lb=lb),
        "root-bad": seed(opts(root=True), root=b"/dev/vda999999999999999999", la=la, lb=lb),
        "partitions": seed(partitions=names("/dev/sda1", "/dev/sda2"), la=la, lb=lb,
                           call=bytes([0] * 14 + [1])),
        "partnum-hostile": seed(partitions=names("/dev/sda", "/dev/sdb7"), la=la, lb=lb,
                                call=bytes([0] * 14 + [1, 0, 0, 0, 4])),
        "unreadable": seed(opts(allow=True), allow=names("/tmp"), la=la, lb=lb,
                           call=bytes([0] * before_b + [1]), text=b"mount: wrong fs type \xff"),
        "unchanged": seed(qmap=b"[]", la=la, lb=lb),
        "info-other-base": seed(info=b'{"format":"qcow2","full-backing-filename":"/etc/hostname",'
                                b'"backing-filename-format":"qcow2"}', la=la, lb=lb),
        "info-no-pin": seed(info=b'{"format":"qcow2","full-backing-filename":"@BASE@"}', la=la,
                            lb=lb),
        "info-raw-base": seed(opts(raw=True), la=la, lb=lb),
        "qemu-img-fails": seed(la=la, lb=lb, call=b"\x02", text=b"qemu-img: Could not open"),
        "map-capped": seed(qmap=b"[]", la=la, lb=lb, call=b"\x00\x03"),
        "hostile-names": seed(la=la, lb=la + hostile),
        "stat-count": seed(la=la, lb=lb, walk=b"\x00\x02"),
        "stat-count-more": seed(la=la, lb=lb, walk=b"\x00\x03"),
        "links-short": seed(la=la, lb=lb, walk=bytes([0] * 8 + [2, 2, 2, 2])),
        "links-hostile": seed(la=la, lb=lb + names(fake_name("/tmp/l", "symlink")),
                              walk=bytes([0] * 8 + [4, 4, 5, 5]),
                              text=names("\xff\xfe", "x" * 5000, "/etc/../../root")),
        "checksum-hostile": seed(la=la, lb=lb, stat=changed, hash=bytes([2] * 20),
                                 text=names("zz", "\xff" * 70, "A" * 64, "0" * 64 + "\n")),
        "checksum-differs": seed(la=la, lb=lb, stat=bytes([0] * n_a + [8] * 10),
                                 hash=bytes([3] * 20)),
        "checksums-out-hostile": seed(la=la, lb=lb, hash=bytes([0, 2]), text=sums),
        "checksums-out-only": seed(la=la, lb=lb, hash=bytes([0, 3]), text=sums),
        "empty-lists": seed(),
        "unterminated-list": seed(la=b"/a", lb=b"/a\x00/b"),
        "list-dup-root": seed(la=names("/", "/", "/x"), lb=names("/", "/x", "/x", "/x/")),
    }


def report_build_seeds():
    def flags(status=0, import_mode=False, fail=False, usage=True, image_path=True,
              usage_error=False, diff_error=False, raw=False, kvm=False, code=0):
        f1 = raw | import_mode << 1 | fail << 2 | kvm << 3 | usage << 4 | image_path << 5 \
            | usage_error << 6 | diff_error << 7
        return bytes([status, f1, code, 1, 0])

    changes = {"status": "compared", "method": "walk", "mode": "full", "root_device": "/dev/vda",
               "error": None, "max_entries": 10000,
               "added": [{"path": "/tmp/\ufffd", "path_base64": "L3RtcC//", "type": "file",
                          "size": 3, "mode": 420, "uid": 0, "gid": 0, "sha256": None}],
               "deleted": [], "modified": [{"path": "/etc/hosts", "type": "file", "size": 1,
                                            "mode": 420, "uid": 0, "gid": 0,
                                            "old": {"type": "file"},
                                            "changed": ["content", "size"]}],
               "metadata": [], "counts": {"added": 1, "deleted": 0, "modified": 1,
                                          "metadata": 0},
               "total": 2, "truncated": False, "violations": [{"path": "/etc/hosts",
                                                               "change": "modified"}],
               "violations_total": 1, "extract": None, "elapsed_ms": 12}
    cj = json.dumps(changes).encode()
    many = dict(changes, added=[{"path": "/f%d" % i, "type": "file"} for i in range(25)])
    hostile = dict(changes, added=[{"path": "/a", "type": "\u001b[2Jfile\n"},
                                   {"path_base64": "L2EKYg==", "type": None},
                                   {"path": 7, "type": "dir"}],
                   modified=[{"path": "/m", "type": "file", "changed": ["x\ny", 3, None]}])
    return {
        "exited": parts(flags(), "mod.py", "/img/base.qcow2", "0.2.0", "/dev/vda",
                        "/usr/share/vmrun/vmlinux", "", "", "", "hello\n", "", "", cj),
        "error-infra": parts(flags(status=4), "m.py", "img", "", "", "", "", "the guest agent "
                             "reported an error: \xff\xfe", "", "", ""),
        "error-usage": parts(flags(status=4, usage_error=True), "m.py", "img", "", "", "", "",
                             "cannot read '/tmp/\xff'", "", "", ""),
        "signaled": parts(flags(status=1, code=8), "m", "i", "v", "r"),
        "timeout": parts(flags(status=2, import_mode=True), "m", "i", "", "", "", "", "", "",
                         "partial", "", '{"outcome":"timeout"}'),
        "oom": parts(flags(status=3), "m", "i"),
        "import": parts(flags(import_mode=True, code=1), "m.py", "i", "", "", "", "", "", "", "",
                        "Traceback\n", '{"outcome":"raised","exception":"ValueError",'
                        '"traceback":"x"}'),
        "agent-cut-utf8": parts(flags(), "m", "i", "v" * 63 + "\u00e9", "/dev/" + "\u20ac" * 20),
        "module-not-utf8": parts(flags(), b"/tmp/mod\xff.py", b"/img/\xc3(", "", "",
                                 b"/k\xfe", b"/o\xed\xa0\x80"),
        "diff-error": parts(flags(diff_error=True), "m", "i", "", "", "", "", "",
                            b"overlay '/tmp/\xff' is not a readable qcow2 image"),
        "violations": parts(flags(fail=True), "m", "i", "", "", "", "", "", "", "", "", "", cj),
        "violations-unlisted": parts(flags(fail=True), "m", "i", "", "", "", "", "", "", "", "",
                                     "", json.dumps(dict(changes, violations=[],
                                                         max_entries=0)).encode()),
        "changes-many": parts(flags(), "m", "i", "", "", "", "", "", "", "", "", "",
                              json.dumps(many).encode()),
        "changes-hostile": parts(flags(), "m", "i", "", "", "", "", "", "", "", "", "",
                                 json.dumps(hostile).encode()),
        "changes-unreadable": parts(flags(), "m", "i", "", "", "", "", "", "", "", "", "",
                                    b'{"status":"unreadable","error":"bad\\u0007fs\\n"}'),
        "changes-unreadable-null": parts(flags(), "m", "i", "", "", "", "", "", "", "", "", "",
                                         b'{"status":"unreadable","error":null}'),
        "changes-skipped": parts(flags(), "m", "i", "", "", "", "", "", "", "", "", "",
                                 b'{"status":"skipped"}'),
        "stdout-binary": parts(flags(), "m", "i", "", "", "", "", "", "", bytes(range(256)),
                               b"\x00\x00"),
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
    write(base, "fuzz_channel", channel_seeds())
    write(base, "fuzz_diffpath", diffpath_seeds())
    write(base, "fuzz_diffimg", diffimg_seeds())
    write(base, "fuzz_diff", diff_seeds())
    write(base, "fuzz_report_build", report_build_seeds())


if __name__ == "__main__":
    main()
