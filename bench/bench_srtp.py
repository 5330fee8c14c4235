"""SRTP cost per packet: protect_into and unprotect_into of 160 B (G.711) and 640 B (L16) payloads.

Runs under real MicroPython (viper leaves; the bytecode-only fallback with hashlib's C SHA-1;
the pure-Python twins throughout), under CPython (this module's CPython path), and libsrtp
through pylibsrtp in the same run as the reference point. Each figure is the median over 5
rounds of N distinct packets (protect over N plaintexts in place, then unprotect over the same
N buffers), so nothing is copied inside the timed loops; the fastest round's sum is printed too,
since other jobs on a shared host inflate medians. Goal (issue 4): protect + unprotect of
a 160 B payload <= 25 µs on host MicroPython with viper.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from portier_host import mprun, paths  # noqa: E402

GOAL_US = 25.0
SIZES = (160, 640)

_BODY = r"""
import gc
from portier.media.srtp import SrtpContext

KEY = bytes(range(16))
SALT = bytes(range(16, 30))


def clock_us():
    return time.ticks_us()


def elapsed_us(t0):
    return time.ticks_diff(time.ticks_us(), t0)


def packets(size, count):
    out = []
    for i in range(count):
        b = bytearray(12 + size + 10)
        b[0] = 0x80
        b[2] = (i >> 8) & 0xFF
        b[3] = i & 0xFF
        b[8] = 0x5E
        b[11] = 0x01
        for j in range(12, 12 + size, 7):
            b[j] = j & 0xFF
        out.append(b)
    return out


def one_round(impl, size, count):
    tx = SrtpContext(KEY, SALT, impl=impl)
    rx = SrtpContext(KEY, SALT, impl=impl)
    pkts = packets(size, count)
    n = 12 + size
    gc.collect()
    t0 = clock_us()
    for b in pkts:
        tx.protect_into(b, n)
    tp = elapsed_us(t0)
    t0 = clock_us()
    for b in pkts:
        rx.unprotect_into(b, n + 10)
    tu = elapsed_us(t0)
    return tp / count, tu / count


def median_pair(impl, size, count, rounds=5):
    ps, us, sums = [], [], []
    for _ in range(rounds):
        p, u = one_round(impl, size, count)
        ps.append(p)
        us.append(u)
        sums.append(p + u)
    ps.sort()
    us.sort()
    return ps[rounds // 2], us[rounds // 2], min(sums)


def context_bytes():
    gc.collect()
    before = gc.mem_free()
    ctx = SrtpContext(KEY, SALT)
    gc.collect()
    return before - gc.mem_free()


for impl, count in IMPLS:
    for size in (160, 640):
        p, u, best = median_pair(impl, size, count)
        print("%s|%d|%.2f|%.2f|%.2f" % (impl, size, p, u, best))
if MEASURE_MEMORY:
    print("memory|%d" % context_bytes())
"""

_MP_IMPLS = (("viper", 2000), ("hashlib", 1000), ("python", 60))
_MP_NAMES = {
    "viper": "MicroPython, viper leaves",
    "hashlib": "MicroPython, bytecode + C SHA-1",
    "python": "MicroPython, pure-Python twins",
}


def _micropython_rows(impls=_MP_IMPLS):
    code = "import time\nIMPLS = %r\nMEASURE_MEMORY = True\n" % (impls,) + _BODY
    rows, memory = {}, None
    for line in mprun.run_snippet(code, heapsize="8m", timeout=600).splitlines():
        parts = line.split("|")
        if parts[0] == "memory":
            memory = int(parts[1])
        elif len(parts) == 5:
            rows[(_MP_NAMES[parts[0]], int(parts[1]))] = tuple(float(x) for x in parts[2:])
    return rows, memory


def _cpython_rows(count=5000):
    paths.use_firmware()
    ns = {
        "time": time, "IMPLS": (("auto", count),), "MEASURE_MEMORY": False,
        "__name__": "bench_srtp_cpython",
    }
    body = _BODY.replace("return time.ticks_us()", "return time.perf_counter()")
    body = body.replace("return time.ticks_diff(time.ticks_us(), t0)",
                        "return (time.perf_counter() - t0) * 1e6")
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(body, "bench_srtp_cpython", "exec"), ns)
    rows = {}
    for line in out.getvalue().splitlines():
        impl, size, p, u, best = line.split("|")
        rows[("CPython, portier (hashlib HMAC)", int(size))] = (float(p), float(u), float(best))
    return rows


def _libsrtp_rows(count=5000, rounds=5):
    import pylibsrtp

    key = bytes(range(16)) + bytes(range(16, 30))
    rows = {}
    for size in SIZES:
        ps, us, sums = [], [], []
        for _ in range(rounds):
            tx = pylibsrtp.Session(pylibsrtp.Policy(
                key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
            rx = pylibsrtp.Session(pylibsrtp.Policy(
                key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND))
            plain = [bytes((0x80, 0)) + i.to_bytes(2, "big") + bytes(4) + b"\x5e\x00\x00\x01"
                     + bytes(size) for i in range(count)]
            t0 = time.perf_counter()
            prot = [tx.protect(p) for p in plain]
            t1 = time.perf_counter()
            for p in prot:
                rx.unprotect(p)
            t2 = time.perf_counter()
            ps.append((t1 - t0) / count * 1e6)
            us.append((t2 - t1) / count * 1e6)
            sums.append(ps[-1] + us[-1])
        ps.sort()
        us.sort()
        rows[("CPython, libsrtp via pylibsrtp", size)] = (ps[rounds // 2], us[rounds // 2],
                                                          min(sums))
    return rows


def run(quick=False):
    impls = tuple((i, max(2, n // 50)) for i, n in _MP_IMPLS) if quick else _MP_IMPLS
    mp_rows, memory = _micropython_rows(impls)
    rows = dict(mp_rows)
    rows.update(_cpython_rows(100 if quick else 5000))
    rows.update(_libsrtp_rows(100 if quick else 5000))
    ref = {size: sum(rows[("CPython, libsrtp via pylibsrtp", size)][:2]) for size in SIZES}
    viper = {size: sum(rows[(_MP_NAMES["viper"], size)][:2]) for size in SIZES}
    order = [_MP_NAMES[i] for i, _ in _MP_IMPLS] + [
        "CPython, portier (hashlib HMAC)", "CPython, libsrtp via pylibsrtp"]
    out_rows, series = [], {}
    for size in SIZES:
        for name in order:
            p, u, best = rows[(name, size)]
            out_rows.append([name, size, p, u, p + u, best, (p + u) / ref[size],
                             (p + u) / viper[size]])
            series.setdefault(name, {})[str(size)] = p + u
    got = viper[160]
    best = rows[(_MP_NAMES["viper"], 160)][2]
    figures = {
        "srtp_us_viper_160": benchlib.figure(
            got, "µs", "SRTP protect + unprotect, 160 B payload (sum of the medians; fastest "
            "round %.2f µs)" % best, "host MicroPython, viper", goal="<= %.0f µs" % GOAL_US,
            met=got <= GOAL_US),
        "srtp_x_libsrtp_160": benchlib.figure(
            got / ref[160], "x", "SRTP 160 B: MicroPython viper / libsrtp (C, pylibsrtp)",
            "same run"),
        "srtp_x_cpython_160": benchlib.figure(
            got / sum(rows[("CPython, portier (hashlib HMAC)", 160)][:2]), "x",
            "SRTP 160 B: MicroPython viper / the plain CPython implementation (portier on "
            "CPython, hashlib HMAC)", "same run"),
    }
    notes = ["medians of 5 rounds of N distinct packets; 'best' = the fastest round's protect "
             "+ unprotect (less host noise)"]
    if memory is not None:
        notes.append("MicroPython heap per SrtpContext (both directions, RTP + RTCP): %d bytes"
                     % memory)
    table = benchlib.table(
        "SRTP per packet (µs), AES_CM_128_HMAC_SHA1_80",
        ["runtime, implementation", "payload B", "protect", "unprotect", "sum", "best",
         "x libsrtp", "x MP viper"], out_rows, notes)
    return benchlib.result("srtp", "SRTP per packet vs libsrtp and plain CPython", __doc__,
                           [table], figures, {"srtp_us": series})


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
