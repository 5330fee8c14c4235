"""HMAC-SHA1 and HKDF cost per call under real MicroPython and CPython (foundation figures)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "host_tools"))

from portier_host import mprun, paths  # noqa: E402

_BODY = r"""
import time, hashlib
from portier.crypto.hmac import Hmac
from portier.crypto.hkdf import hkdf

def median_us(fn, n):
    runs = []
    for _ in range(5):
        t0 = time.ticks_us()
        for _ in range(n):
            fn()
        runs.append(time.ticks_diff(time.ticks_us(), t0) / n)
    runs.sort()
    return runs[2], runs[0], runs[4]

mac = Hmac(b"k" * 20, hashlib.sha1)
pkt = bytes(172)
for name, fn, n in (
    ("hmac-sha1 172 B (pads reused)", lambda: mac.digest(pkt, b"\0\0\0\0"), 2000),
    ("hmac-sha1 172 B (new key)", lambda: Hmac(b"k" * 20, hashlib.sha1).digest(pkt), 1000),
    ("hkdf-sha256 46 B", lambda: hkdf(b"c" * 32, 46, b"", b"door:1@h"), 500),
):
    med, lo, hi = median_us(fn, n)
    print("%s|%.2f|%.2f|%.2f" % (name, med, lo, hi))
"""


def _cpython_rows():
    paths.use_firmware()
    ns = {}
    import io
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_BODY, "bench_hmac", "exec"), ns)
    return out.getvalue()


def main():
    mp = mprun.run_snippet(_BODY)
    cp = _cpython_rows()
    print("%-32s %14s %14s" % ("operation", "MicroPython µs", "CPython µs"))
    for mp_line, cp_line in zip(mp.splitlines(), cp.splitlines()):
        name, mp_med, mp_lo, mp_hi = mp_line.split("|")
        _, cp_med, _, _ = cp_line.split("|")
        print("%-32s %14s %14s   (MicroPython spread %s-%s)" % (name, mp_med, cp_med, mp_lo, mp_hi))


if __name__ == "__main__":
    main()
