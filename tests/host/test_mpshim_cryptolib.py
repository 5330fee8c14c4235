"""The cryptolib shim against the real MicroPython cryptolib: same bytes, same errors."""

import os
import subprocess
import sys

from portier_host import mprun, paths

# Runs unchanged on MicroPython and on CPython with the shim; prints one line per operation.
_PROBE = r"""
import binascii
import cryptolib

def show(label, fn):
    try:
        r = fn()
        if isinstance(r, (bytes, bytearray)):
            r = binascii.hexlify(r).decode()
        print(label, "ok", r if isinstance(r, str) else type(r).__name__)
    except Exception as e:
        print(label, "exc", type(e).__name__, e.args[0] if e.args else "")

def blob(seed, n):
    out = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = x >> 16 & 0xFF
    return bytes(out)

for klen in (16, 32):
    for n in (0, 16, 48, 160, 640):
        key, iv, data = blob(klen, klen), blob(n + 7, 16), blob(n + 1, n)
        show("ecb-enc-%d-%d" % (klen, n), lambda: cryptolib.aes(key, 1).encrypt(data))
        show("ecb-dec-%d-%d" % (klen, n), lambda: cryptolib.aes(key, 1).decrypt(data))
        show("cbc-enc-%d-%d" % (klen, n), lambda: cryptolib.aes(key, 2, iv).encrypt(data))
        show("cbc-dec-%d-%d" % (klen, n), lambda: cryptolib.aes(key, 2, iv).decrypt(data))

# CBC chains across calls; ECB with an out buffer, in place
key, iv = blob(1, 16), blob(2, 16)
c = cryptolib.aes(key, 2, iv)
show("cbc-chain-1", lambda: c.encrypt(blob(3, 32)))
show("cbc-chain-2", lambda: c.encrypt(blob(4, 16)))
d = cryptolib.aes(key, 2, iv)
show("cbc-chain-dec", lambda: d.decrypt(blob(5, 48)))
buf = bytearray(blob(6, 32))
e = cryptolib.aes(key, 1)
show("ecb-inplace-ret", lambda: e.encrypt(buf, buf))
show("ecb-inplace-buf", lambda: buf)
out = bytearray(40)
show("ecb-out-larger", lambda: e.encrypt(blob(7, 16), out))
show("ecb-memoryview", lambda: e.encrypt(memoryview(blob(8, 48))[16:32]))

# errors, in MicroPython's order and words
show("ctr-refused", lambda: cryptolib.aes(key, 6, iv))
show("mode-3", lambda: cryptolib.aes(key, 3))
show("mode-0", lambda: cryptolib.aes(key, 0))
show("mode-before-key", lambda: cryptolib.aes(b"k" * 15, 6))
show("key-24", lambda: cryptolib.aes(b"k" * 24, 1))
show("key-before-iv", lambda: cryptolib.aes(b"k" * 15, 2, b"i" * 3))
show("cbc-no-iv", lambda: cryptolib.aes(key, 2))
show("iv-15", lambda: cryptolib.aes(key, 2, b"i" * 15))
show("ecb-bad-iv", lambda: cryptolib.aes(key, 1, b"i" * 5))
show("key-int", lambda: cryptolib.aes(123, 1))
show("mode-str", lambda: cryptolib.aes(key, "1"))
f = cryptolib.aes(key, 1)
show("blksize", lambda: f.encrypt(b"x" * 15))
show("out-small", lambda: f.encrypt(b"x" * 32, bytearray(16)))
show("out-readonly", lambda: f.encrypt(b"x" * 16, b"y" * 16))
show("in-not-buffer", lambda: f.encrypt(123))
show("first-direction", lambda: f.encrypt(b"x" * 16))
show("other-direction", lambda: f.decrypt(b"x" * 16))
g = cryptolib.aes(key, 1)
show("failed-op-keeps-direction-free", lambda: g.decrypt(b"x" * 15))
show("then-encrypt", lambda: g.encrypt(b"x" * 16))
"""


def _run_shim():
    env = dict(os.environ, PYTHONPATH=paths.MPSHIM)
    proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_shim_matches_real_micropython_byte_for_byte():
    real = mprun.run_snippet(_PROBE).splitlines()
    shim = _run_shim().splitlines()
    assert len(real) == len(shim) > 60
    for r, s in zip(real, shim):
        assert r == s


def test_probe_covers_ciphertexts_and_refuses_ctr():
    lines = dict(line.split(" ", 1) for line in _run_shim().splitlines())
    assert lines["ctr-refused"] == "exc ValueError mode"
    assert lines["other-direction"] == "exc ValueError can't encrypt & decrypt"
    assert len(lines["ecb-enc-32-640"].split()[1]) == 1280


def test_ecb_known_answer_fips197():
    # FIPS-197 Appendix C.1 (AES-128): an independent check that the shim is AES at all.
    sys.path.insert(0, paths.MPSHIM)
    try:
        import cryptolib
    finally:
        sys.path.remove(paths.MPSHIM)
    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    plain = bytes.fromhex("00112233445566778899aabbccddeeff")
    assert cryptolib.aes(key, 1).encrypt(plain).hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"
