"""End-to-end call-key layer: ms per X25519, per pkmsg unwrap, per msg unwrap with and without a
DH ratchet step, per wrap; what a <pair> costs the door, refused without the household's
authorisation and accepted with it; bytes of flash and heap one session takes. Under real MicroPython
(96 KiB heap, as on a board without PSRAM; firmware and benchmark precompiled with mpy-cross, as
a board runs them) and CPython.

Goals on the host MicroPython (issue 5): X25519 <= 3 ms, msg unwrap with a DH step <= 8 ms,
pkmsg unwrap <= 20 ms, wrap or unwrap without a DH step <= 0.5 ms.
"""

import contextlib
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from portier_host import build, mprun, paths  # noqa: E402

_IMPORTS = r"""
import gc, os, time
from portier.e2e.callkey import wrap, unwrap
from portier.e2e.stores import MemoryStore, FileStore
from portier.e2e import keys
from portier.e2e.x3dh import start_session
from portier.e2e.session import load_record
from portier.e2e.ratchet import State
from portier.crypto.x25519 import x25519, generate_private, public_key
"""

# Each pkmsg unwrap goes to a copy of the door's store (the dict is copied, not the bytes) that is
# dropped afterwards: eight sessions kept side by side ran the 96 KiB heap out of memory about
# once in 30 runs, and a board keeps its sessions on flash, not on the heap.
_BODY = r"""
try:
    ticks_us, ticks_diff = time.ticks_us, time.ticks_diff
except AttributeError:
    ticks_us = lambda: time.perf_counter_ns() // 1000
    ticks_diff = lambda a, b: a - b

DOOR = "door:1@home"

def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2], xs[0], xs[-1]

def timed(fn, *args):
    t0 = ticks_us()
    r = fn(*args)
    return ticks_diff(ticks_us(), t0) / 1000, r

def row(name, samples, note=""):
    med, lo, hi = median(samples)
    print("%s|%.3f|%.3f|%.3f|%s" % (name, med, lo, hi, note))

def door_store(store):
    keys.generate_identity(store)
    keys.generate_signed_prekey(store, 1, bytes(64))
    keys.generate_prekeys(store, 1, 8)
    return store

k = generate_private()
u = public_key(generate_private())
for _ in range(20):  # warm up: the first runs on a busy host are slower
    x25519(k, u)
row("x25519 (e2e stack loaded)", [timed(x25519, k, u)[0] for _ in range(31)])
row("x25519 base point (keygen)", [timed(public_key, k)[0] for _ in range(15)])

door = door_store(MemoryStore())
samples = []
for i in range(8):
    phone = MemoryStore()
    keys.generate_identity(phone)
    start_session(phone, DOOR, keys.bundle(door, 1, i + 1))
    enc_type, data = wrap(phone, DOOR, os.urandom(32))
    trial = MemoryStore()
    trial.files = dict(door.files)
    phone = None
    gc.collect()
    samples.append(timed(unwrap, trial, "phone:%d@home" % i, enc_type, data)[0])
    trial = enc_type = data = None
row("pkmsg unwrap (X3DH + 1 DH step)", samples, "5 X25519")


phone = MemoryStore()
keys.generate_identity(phone)
start_session(phone, DOOR, keys.bundle(door, 1, None))
PH = "anna:2@home"
unwrap(door, PH, *wrap(phone, DOOR, os.urandom(32)))
step_unwrap, step_wrap, plain_unwrap, plain_wrap = [], [], [], []
for i in range(10):
    gc.collect()
    t, reply = timed(wrap, door, PH, os.urandom(32))  # first wrap after a new ratchet key
    step_wrap.append(t)
    for _ in range(3):
        gc.collect()
        t, m = timed(wrap, door, PH, os.urandom(32))
        plain_wrap.append(t)
        unwrap(phone, DOOR, *m)
    unwrap(phone, DOOR, *reply)
    m = wrap(phone, DOOR, os.urandom(32))  # phone's new ratchet key
    gc.collect()
    step_unwrap.append(timed(unwrap, door, PH, *m)[0])
    for _ in range(3):
        m = wrap(phone, DOOR, os.urandom(32))
        gc.collect()
        plain_unwrap.append(timed(unwrap, door, PH, *m)[0])
row("msg unwrap with DH step", step_unwrap, "1 X25519 (receiving half)")
row("msg unwrap, no DH step", plain_unwrap)
row("wrap, no DH step", plain_wrap)
row("wrap with deferred DH step", step_wrap, "2 X25519 (keygen + DH)")

if hasattr(gc, "mem_alloc"):
    m = wrap(phone, DOOR, os.urandom(32))
    gc.collect()
    free = gc.mem_free()
    gc.disable()
    b0 = gc.mem_alloc()
    try:
        unwrap(door, PH, *m)
        churn = "%d" % (gc.mem_alloc() - b0)
    except MemoryError:
        churn = "> %d" % free
    gc.enable()
    churn_line = "size|heap allocated by one msg unwrap (bytes, garbage)|%s|" % churn
else:
    churn_line = ""

root = "/tmp/portier-bench-e2e-%d" % (ticks_us() & 0xFFFF)
fdoor = FileStore(root)
for name in door.files:
    fdoor._put(name, door.files[name])
fs = []
for _ in range(10):
    m = wrap(phone, DOOR, os.urandom(32))
    gc.collect()
    fs.append(timed(unwrap, fdoor, PH, *m)[0])
row("msg unwrap, no DH step, FileStore", fs, "read + atomic rename")
for name in os.listdir(root):
    os.remove(root + "/" + name)
os.rmdir(root)

record = door.session(PH)
states = load_record(door, PH)
print("size|session record on flash (bytes)|%d|%d states" % (len(record), len(states)))
gc.collect()
a0 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
held = State.from_bytes(states[0])
gc.collect()
a1 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
print("size|parsed session state on the heap (bytes)|%d|" % (a1 - a0))
if churn_line:
    print(churn_line)

# Pairing on the door (protocol 8.5): a <pair> without the household's authorisation is refused
# after one HMAC, before any X25519; an authorised one is the X3DH responder plus the check.
# Last, so its modules do not crowd the rows above on the 96 KiB heap.
from portier import pairauth, pairing
from portier.e2e import session as e2e_session

PAIR_KEY = bytes(range(32))
PAIRED = "/tmp/portier-bench-paired-%d.json" % (ticks_us() & 0xFFFF)
refused, accepted = [], []
for i in range(6):
    phone = MemoryStore()
    keys.generate_identity(phone)
    start_session(phone, DOOR, keys.bundle(door, 1, None))
    enc_type, data = e2e_session.encrypt(phone, DOOR, b"portier-pair-1")
    jid = "phone:%d@home" % i
    auth = pairauth.auth_tag(PAIR_KEY, DOOR, jid, phone.identity()[1], 1)
    trial = MemoryStore()
    trial.files = dict(door.files)
    phone = None
    paired = pairing.PairedDevices(PAIRED)
    gc.collect()
    t0 = ticks_us()
    try:
        pairauth.accept(trial, paired, DOOR, PAIR_KEY, jid, bytes(36), enc_type, data)
    except pairing.PairError:
        refused.append(ticks_diff(ticks_us(), t0) / 1000)
    gc.collect()
    accepted.append(timed(pairauth.accept, trial, paired, DOOR, PAIR_KEY, jid, auth, enc_type,
                          data)[0])
    os.remove(PAIRED)
    trial = paired = enc_type = data = None
row("pair refused: no household authorisation", refused, "1 HMAC-SHA256, no X25519")
row("pair accepted: authorisation + X3DH responder", accepted, "+ paired file written")
"""


def _mp_lines(tree, code, heapsize):
    """Runs code as a module precompiled with mpy-cross, importing the firmware from the
    compiled tree: nothing is compiled on the 96 KiB heap (compiling this benchmark there took
    the few KB the heap had left, and whether it fitted depended on the checkout's path)."""
    src = os.path.join(tree, "_bench_e2e_run.py")
    with open(src, "w") as f:
        f.write(code)
    error = build.compile_module(src, src[:-3] + ".mpy")
    os.remove(src)
    if error:
        raise SystemExit("bench_e2e: %s" % error)
    return mprun.run_snippet("import _bench_e2e_run\n", heapsize, timeout=600,
                             tree=tree).splitlines()


def _cpython_lines():
    paths.use_firmware()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_IMPORTS + _BODY, "bench_e2e", "exec"), {"__name__": "bench_e2e"})
    return out.getvalue().splitlines()


# X25519 alone in a fresh interpreter: only the ladder's own module on the 96 KiB heap. Inside
# the loaded e2e stack (about 40 KB of compiled modules on the heap) the same ladder pays more
# garbage collection, which the rows of _BODY show.
_ALONE = r"""
import time
from portier.crypto.x25519 import x25519, generate_private, public_key
k = generate_private()
u = public_key(generate_private())
for _ in range(20):
    x25519(k, u)
xs = []
for _ in range(31):
    t0 = time.ticks_us()
    x25519(k, u)
    xs.append(time.ticks_diff(time.ticks_us(), t0) / 1000)
xs.sort()
print("x25519 alone (fresh interpreter)|%.3f|%.3f|%.3f|" % (xs[15], xs[0], xs[-1]))
"""


def _rows(lines):
    out = {}
    for line in lines:
        parts = line.split("|")
        out[parts[1] if parts[0] == "size" else parts[0]] = parts
    return out


def run(quick=False):
    with mprun.compiled_firmware() as tree:
        small = _mp_lines(tree, _ALONE, "96k") + _mp_lines(tree, _IMPORTS + _BODY, "96k")
        big = {}
        if not quick:
            big = _rows(_mp_lines(tree, _ALONE, "512k")
                        + _mp_lines(tree, _IMPORTS + _BODY, "512k"))
    cp = _rows(_cpython_lines())
    rows, sizes, figures = [], [], {}
    for line in small:
        parts = line.split("|")
        if parts[0] == "size":
            sizes.append([parts[1], parts[2], parts[3]])
            continue
        name = parts[0]
        roomy = big.get(name, ["", "-", "-", "-"])
        cpy = cp.get(name, cp.get("x25519 (e2e stack loaded)", ["", "", ""]))
        rows.append([name, "%s / %s" % (parts[2], parts[1]), "%s / %s" % (roomy[2], roomy[1]),
                     cpy[2], parts[4]])
        key = {"x25519 alone (fresh interpreter)": "x25519_ms",
               "pkmsg unwrap (X3DH + 1 DH step)": "pkmsg_unwrap_ms",
               "msg unwrap with DH step": "msg_unwrap_dh_ms",
               "msg unwrap, no DH step": "msg_unwrap_ms",
               "pair refused: no household authorisation": "pair_refused_ms",
               "pair accepted: authorisation + X3DH responder": "pair_accepted_ms"}.get(name)
        if key:
            figures[key] = benchlib.figure(
                float(parts[1]), "ms", name + " (median; min %s, max %s)" % (parts[2], parts[3]),
                "host MicroPython, 96 KiB heap")
    tables = [
        benchlib.table("ms per operation: min / median (MicroPython with a 96 KiB heap as on an "
                       "ESP32 without PSRAM, and with 512 KiB); CPython min",
                       ["operation", "MP 96 KiB", "MP 512 KiB", "CPython", "note"], rows,
                       ["quick run: no 512 KiB run"] if quick else []),
        benchlib.table("Sizes (bytes)", ["what", "bytes", "note"], sizes),
    ]
    return benchlib.result("e2e", "End-to-end call key: X25519, unwrap, wrap", __doc__, tables,
                           figures)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
