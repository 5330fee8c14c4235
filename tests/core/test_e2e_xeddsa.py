# XEdDSA (host only: MicroPython's hashlib has no SHA-512). Verification against the published
# libsignal-protocol-c vector (tests/test_curve25519.c, test_curve25519_signature); signing
# checked by that verifier and by the bundle path that uses it.
import os

from coretest import assert_raises, skip_on_micropython, unhex
from portier.e2e import E2eError, xeddsa

ALICE_IDENTITY_PUB = "05ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64"
ALICE_EPHEMERAL_PUB = "05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a"
ALICE_SIGNATURE = (
    "5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfb"
    "ede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88"
)


@skip_on_micropython("XEdDSA needs SHA-512 (host only)")
def test_libsignal_signature_vector():
    pub = unhex(ALICE_IDENTITY_PUB)
    msg = unhex(ALICE_EPHEMERAL_PUB)
    sig = unhex(ALICE_SIGNATURE)
    assert xeddsa.verify(pub, msg, sig)
    for i in range(64):  # as the C test: every single-bit change is refused
        bad = bytearray(sig)
        bad[i] ^= 0x01
        assert not xeddsa.verify(pub, msg, bytes(bad)), i
    assert not xeddsa.verify(pub, msg + b"\x00", sig)


@skip_on_micropython("XEdDSA needs SHA-512 (host only)")
def test_sign_then_verify():
    from portier.crypto.x25519 import generate_private, public_key

    for _ in range(5):
        private = generate_private()
        public = public_key(private)
        msg = os.urandom(33)
        sig = xeddsa.sign(private, msg, os.urandom(64))
        assert xeddsa.verify(public, msg, sig)
        assert xeddsa.verify(b"\x05" + public, msg, sig)
        assert not xeddsa.verify(public, msg[:-1], sig)
        other = public_key(generate_private())
        assert not xeddsa.verify(other, msg, sig)


@skip_on_micropython("XEdDSA needs SHA-512 (host only)")
def test_initiate_checks_the_bundle_signature():
    from portier.e2e import keys
    from portier.e2e.stores import MemoryStore
    from portier.e2e.x3dh import initiate

    door = MemoryStore()
    phone = MemoryStore()
    keys.generate_identity(door)
    keys.generate_identity(phone)
    keys.generate_signed_prekey(door, 1)  # signed for real
    keys.generate_prekeys(door, 1, 2)
    bundle = keys.Bundle.decode(keys.bundle(door, 1, 1).encode())
    forged = keys.Bundle.decode(bundle.encode())
    forged.signed_prekey = keys.bundle(door, 1, 2).prekey  # a key the identity never signed
    before = dict(phone.files)
    assert_raises(E2eError, initiate, phone, "door:1@home", forged)
    assert phone.files == before
    initiate(phone, "door:1@home", bundle)
    assert phone.session("door:1@home") is not None


def test_without_sha512_signing_refuses_cleanly():
    import hashlib

    if hasattr(hashlib, "sha512"):
        return  # host: covered above
    assert_raises(E2eError, xeddsa.sign, bytes(32), b"m", bytes(64))
    pub = unhex(ALICE_IDENTITY_PUB)
    assert_raises(E2eError, xeddsa.verify, pub, unhex(ALICE_EPHEMERAL_PUB), unhex(ALICE_SIGNATURE))
