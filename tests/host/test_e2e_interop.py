"""End-to-end layer across runtimes and against an independent X25519.

- X25519 on random inputs agrees with `cryptography` (OpenSSL) on CPython and under real
  MicroPython;
- a session set up by our initiator on CPython (bundle signed and verified with XEdDSA)
  decrypts on our responder under MicroPython from a FileStore, and the answer comes back;
- a session set up by a MicroPython initiator (bundle verified on the host) decrypts on CPython.
"""

import binascii
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from portier_host import mprun, paths

paths.use_firmware()

from portier.crypto.x25519 import public_key, x25519  # noqa: E402
from portier.e2e import keys  # noqa: E402
from portier.e2e.callkey import unwrap, wrap  # noqa: E402
from portier.e2e.stores import FileStore, MemoryStore  # noqa: E402
from portier.e2e.x3dh import initiate  # noqa: E402

DOOR = "door:1@home"
PHONE = "anna:2@home"


def _openssl(k, u):
    return X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))


def test_x25519_matches_openssl_on_cpython():
    for _ in range(100):
        k = os.urandom(32)
        u = public_key(os.urandom(32))
        assert x25519(k, u) == _openssl(k, u)


def test_x25519_matches_openssl_under_micropython():
    cases = [(os.urandom(32), public_key(os.urandom(32))) for _ in range(40)]
    # Also non-canonical and edge u values (OpenSSL masks the top bit and reduces mod p too).
    cases.append((os.urandom(32), (2**255 - 19 + 5).to_bytes(32, "little")))
    cases.append((os.urandom(32), b"\xff" * 32))
    code = "import binascii\nfrom portier.crypto.x25519 import x25519\n"
    code += "for k, u in %r:\n" % [(k.hex(), u.hex()) for k, u in cases]
    code += "    print(binascii.hexlify(x25519(binascii.unhexlify(k), binascii.unhexlify(u))).decode())\n"
    out = mprun.run_snippet(code).split()
    assert out == [_openssl(k, u).hex() for k, u in cases]


def _provision_door(root):
    door = FileStore(root)
    keys.generate_identity(door)
    keys.generate_signed_prekey(door, 1)  # XEdDSA-signed on the host, as provisioning will
    keys.generate_prekeys(door, 1, 3)
    return door


_MP_DOOR = r"""
import binascii, sys
from portier.e2e.stores import FileStore
from portier.e2e.callkey import unwrap, wrap
door = FileStore(%(root)r)
for enc_type, data in %(inbox)r:
    key = unwrap(door, %(phone)r, enc_type, binascii.unhexlify(data))
    print("key", binascii.hexlify(key).decode())
enc_type, data = wrap(door, %(phone)r, binascii.unhexlify(%(reply)r))
print("reply", enc_type, binascii.hexlify(data).decode())
print("prekeys", door.prekey_ids())
"""


def test_cpython_initiator_to_micropython_responder(tmp_path):
    root = str(tmp_path / "door")
    door = _provision_door(root)
    phone = MemoryStore()
    keys.generate_identity(phone)
    initiate(phone, DOOR, keys.Bundle.decode(keys.bundle(door, 1, 2).encode()))
    call_keys = [os.urandom(32) for _ in range(3)]
    inbox = [wrap(phone, DOOR, k) for k in call_keys]
    assert [t for t, _ in inbox] == ["pkmsg"] * 3
    inbox = [inbox[1], inbox[0], inbox[2]]  # out of order
    reply_key = os.urandom(32)
    out = mprun.run_snippet(
        _MP_DOOR % {
            "root": root, "phone": PHONE, "reply": reply_key.hex(),
            "inbox": [(t, d.hex()) for t, d in inbox],
        }
    ).splitlines()
    assert out[:3] == ["key " + k.hex() for k in (call_keys[1], call_keys[0], call_keys[2])]
    _, enc_type, data = out[3].split()
    assert enc_type == "msg"
    assert unwrap(phone, DOOR, enc_type, binascii.unhexlify(data)) == reply_key
    assert out[4] == "prekeys [1, 3]"  # prekey 2 consumed on the board
    # and the session continues on CPython from the file the board left
    k = os.urandom(32)
    assert wrap(phone, DOOR, k)[0] == "msg"
    assert unwrap(FileStore(root), PHONE, *wrap(phone, DOOR, k)) == k


_MP_PHONE = r"""
import binascii
from portier.e2e import keys
from portier.e2e.stores import MemoryStore
from portier.e2e.callkey import wrap
from portier.e2e.x3dh import start_session
phone = MemoryStore()
keys.generate_identity(phone)
start_session(phone, %(door)r, keys.Bundle.decode(binascii.unhexlify(%(bundle)r)))
for k in %(keys)r:
    enc_type, data = wrap(phone, %(door)r, binascii.unhexlify(k))
    print(enc_type, binascii.hexlify(data).decode())
"""


def test_micropython_initiator_to_cpython_responder(tmp_path):
    door = _provision_door(str(tmp_path / "door"))
    bundle = keys.bundle(door, 1, 3)
    from portier.e2e import xeddsa

    assert xeddsa.verify(bundle.identity_key, bundle.signed_prekey, bundle.signature)
    call_keys = [os.urandom(32) for _ in range(2)]
    out = mprun.run_snippet(
        _MP_PHONE % {"door": DOOR, "bundle": bundle.encode().hex(),
                     "keys": [k.hex() for k in call_keys]}
    ).splitlines()
    for line, k in zip(out, call_keys):
        enc_type, data = line.split()
        assert enc_type == "pkmsg"
        assert unwrap(door, PHONE, enc_type, binascii.unhexlify(data)) == k
    assert door.prekey_ids() == [1, 2]


@pytest.mark.parametrize("flip", [0, 5, 40, -1])
def test_file_store_untouched_by_a_refused_message(tmp_path, flip):
    root = str(tmp_path / "door")
    door = _provision_door(root)
    phone = MemoryStore()
    keys.generate_identity(phone)
    initiate(phone, DOOR, keys.bundle(door, 1, 1))
    enc_type, data = wrap(phone, DOOR, os.urandom(32))
    snapshot = {n: open(os.path.join(root, n), "rb").read() for n in os.listdir(root)}
    bad = bytearray(data)
    bad[flip] ^= 0x10
    with pytest.raises(ValueError):
        unwrap(door, PHONE, enc_type, bytes(bad))
    assert {n: open(os.path.join(root, n), "rb").read() for n in os.listdir(root)} == snapshot
