"""Door unlock (docs/protocol.md section 10): what one <unlock> costs the door under real
MicroPython and CPython — the full decision on a real Signal session (decrypt + counter + PIN
HMAC), the early refusals, the PIN check alone — and the heap the unlock modules take once
imported (the door loads them only at the first <unlock>)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from portier_host import mprun, paths  # noqa: E402

_BODY = r"""
import gc, time
MEM = hasattr(gc, "mem_alloc")  # MicroPython only
gc.collect()
base = gc.mem_alloc() if MEM else 0
from portier import unlock as ul
from portier import doorlog, appunlock
gc.collect()
taken = (gc.mem_alloc() - base) if MEM else 0
print("mem|heap taken by importing unlock, doorlog, appunlock from source (B)|%%d" %% taken)
from portier.e2e import keys, session
from portier.e2e.stores import MemoryStore
from portier.e2e.x3dh import start_session
from portier.e2e.callkey import unwrap, wrap
from portier.crypto.hmac import hmac_sha256

DOOR, PHONE, CID = "door:1@home", "anna:2@home", "5D1C0A9B8E7F6A5B4C3D2E1F00112233"
door, phone = MemoryStore(), MemoryStore()
keys.generate_identity(door)
keys.generate_identity(phone)
keys.generate_signed_prekey(door, 1, bytes(64))
start_session(phone, DOOR, keys.bundle(door, 1, None))
k = bytes(32)
unwrap(door, PHONE, *wrap(phone, DOOR, k))
unwrap(phone, DOOR, *wrap(door, PHONE, k))
salt = bytes(16)
pin_ok = hmac_sha256(salt, b"2468")


class F:
    pass


class Unlock:  # the call engine's "unlock" event: its verdict on who may ask, and when
    kind = "unlock"

    def __init__(self, m, reason):
        self.peer, self.call_id, self.reason, self.stanza = m.frm, m.call_id, reason, m
        self.answered_for_ms = None if reason else 0


def stanza(enc_type, ct, frm=PHONE):
    s, e = F(), F()
    e.type, e.ciphertext = enc_type, ct
    s.frm, s.call_id, s.call_creator, s.enc = frm, CID, DOOR, e
    return s


u = ul.Unlocker(door, None, salt, pin_ok, 0)
N = %(n)d
counter = [0]


def batch(pin):
    out = []
    for _ in range(N):
        counter[0] += 1
        out.append(stanza(*session.encrypt(phone, DOOR, ul.encode_request(CID, counter[0], pin, 0))))
    return out


def timed(msgs, now, refused=None):
    runs = []
    for m in msgs:
        ev = Unlock(m, refused)
        t0 = time.ticks_us()
        d = u.decide(ev, now)
        u.commit(d, now)
        runs.append(time.ticks_diff(time.ticks_us(), t0))
    runs.sort()
    return runs[len(runs) // 2], runs[0], runs[-1], d.result


def row(name, r):
    print("t|%%s|%%d|%%d|%%d|%%s" %% ((name,) + r))


row("decide+commit: opened", timed(batch("2468"), 0))
row("decide: refused not_answerer",
    timed([stanza("msg", b"x" * 80, "ben:3@home")] * N, 0, "not_answerer"))
forged = stanza("msg", batch("2468")[0].enc.ciphertext[:-1] + b"\0")
row("decide: refused forged (bad MAC)", timed([forged] * N, 0))
u.state.fails = 2
timed(batch("0000")[:1], 0)
row("decide+commit: locked_out", timed(batch("2468"), 1000))
runs = []
for _ in range(5 * N):
    t0 = time.ticks_us()
    hmac_sha256(salt, b"2468")
    runs.append(time.ticks_diff(time.ticks_us(), t0))
runs.sort()
print("t|PIN check alone (HMAC-SHA256)|%%d|%%d|%%d|-" %% (runs[len(runs) // 2], runs[0], runs[-1]))
"""


def _cpython_rows(body):
    paths.use_firmware()
    import contextlib
    import io

    ns = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(body, "bench_unlock", "exec"), ns)
    return out.getvalue()


_IMPORT_MPY = r"""
import gc
gc.collect()
base = gc.mem_alloc()
from portier import unlock, doorlog, appunlock
gc.collect()
print(gc.mem_alloc() - base)
"""


def _mpy_import_bytes():
    """The same import from the firmware precompiled with mpy-cross, as a board runs it."""
    with mprun.compiled_firmware() as tree:
        return mprun.run_snippet(_IMPORT_MPY, "256k", tree=tree).strip()


def run(quick=False):
    body = _BODY % {"n": 3 if quick else 12}
    imported = int(_mpy_import_bytes())
    mp = mprun.run_snippet(body, heapsize="512k").splitlines()
    cp = _cpython_rows(body).splitlines()
    rows, opened = [], None
    for mp_line, cp_line in zip(mp, cp):
        f = mp_line.split("|")
        if f[0] == "mem":
            continue
        c = cp_line.split("|")
        rows.append([f[1], int(f[2]), "%s-%s" % (f[3], f[4]), int(c[2]), f[5]])
        if f[5] == "opened":
            opened = int(f[2])
    table = benchlib.table(
        "One <unlock> at the door (µs, median of %d)" % (3 if quick else 12),
        ["operation", "MicroPython µs", "MicroPython spread", "CPython µs", "result"], rows,
        ["heap taken by importing unlock, doorlog, appunlock from .mpy: %d B (loaded at the "
         "first unlock only)" % imported])
    figures = {
        "unlock_opened_us": benchlib.figure(
            opened, "µs", "door's decision on a right-PIN unlock (Signal decrypt, counter, PIN)",
            "host MicroPython"),
        "unlock_import_bytes": benchlib.figure(
            imported, "B", "heap of the unlock modules once imported (.mpy)", "host MicroPython"),
    }
    return benchlib.result("unlock", "Door unlock: the door's cost per request", __doc__,
                           [table], figures)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
