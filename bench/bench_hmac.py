"""HMAC-SHA1 and HKDF cost per call under real MicroPython and CPython (foundation figures)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
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
    ("hmac-sha1 172 B (pads reused)", lambda: mac.digest(pkt, b"\0\0\0\0"), 2000 // SCALE),
    ("hmac-sha1 172 B (new key)", lambda: Hmac(b"k" * 20, hashlib.sha1).digest(pkt), 1000 // SCALE),
    ("hkdf-sha256 46 B", lambda: hkdf(b"c" * 32, 46, b"", b"door:1@h"), 500 // SCALE),
):
    med, lo, hi = median_us(fn, n)
    print("%s|%.2f|%.2f|%.2f" % (name, med, lo, hi))
"""


def _cpython_rows(scale):
    paths.use_firmware()
    ns = {"SCALE": scale}
    import io
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_BODY, "bench_hmac", "exec"), ns)
    return out.getvalue()


def run(quick=False):
    scale = 20 if quick else 1
    mp = mprun.run_snippet("SCALE = %d\n" % scale + _BODY)
    cp = _cpython_rows(scale)
    rows = []
    for mp_line, cp_line in zip(mp.splitlines(), cp.splitlines()):
        name, mp_med, mp_lo, mp_hi = mp_line.split("|")
        _, cp_med, _, _ = cp_line.split("|")
        rows.append([name, "%s (%s-%s, n=5)" % (mp_med, mp_lo, mp_hi), float(cp_med),
                     float(mp_med) / float(cp_med)])
    table = benchlib.table("µs per call: median of 5 rounds (spread)",
                           ["operation", "MicroPython µs", "CPython µs", "MP / CPython"], rows)
    return benchlib.result("hmac", "HMAC-SHA1 and HKDF per call (foundation figures)", __doc__,
                           [table])


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
