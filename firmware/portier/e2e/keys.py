# Key generation for provisioning: identity, signed prekey, one-time prekeys, and the prekey
# bundle a peer needs to start a session (x3dh.initiate). The signed prekey's XEdDSA signature
# needs SHA-512, so generate_signed_prekey runs on the host (provisioning) unless a signature
# made elsewhere is passed in.
import os

from micropython import const

from portier.crypto.x25519 import generate_private, public_key

from . import E2eError
from .messages import KEY_LEN, decode_key, encode_key
from .protobuf import BYTES, VARINT, parse, put_bytes, put_uint

_MAX_ID = const(0xFFFFFF)  # libsignal's Medium.MAX_VALUE for prekey ids
_U32 = 0xFFFFFFFF


def generate_identity(store, registration_id=None):
    """Create and store this device's identity key pair; -> the 33-byte public key."""
    if registration_id is None:
        registration_id = (int.from_bytes(os.urandom(2), "big") & 0x3FFF) or 1
    private = generate_private()
    public = encode_key(public_key(private))
    store.set_identity(private, public, registration_id)
    return public


def generate_signed_prekey(store, key_id, signature=None):
    """Create and store signed prekey key_id; -> (public 33, signature 64)."""
    _check_id(key_id)
    identity_private = store.identity()[0]
    private = generate_private()
    public = encode_key(public_key(private))
    if signature is None:
        from .xeddsa import sign

        signature = sign(identity_private, public, os.urandom(64))
    if len(signature) != 64:
        raise E2eError("signature must be 64 bytes")
    store.put_signed_prekey(key_id, private, public, signature)
    return public, signature


def generate_prekeys(store, first_id, count):
    """Create and store count one-time prekeys from first_id on; -> [(id, public 33)]."""
    out = []
    for key_id in range(first_id, first_id + count):
        _check_id(key_id)
        private = generate_private()
        public = encode_key(public_key(private))
        store.put_prekey(key_id, private, public)
        out.append((key_id, public))
    return out


def _check_id(key_id):
    if not 0 <= key_id <= _MAX_ID:
        raise E2eError("key id %d out of range" % key_id)


class Bundle:
    """What a peer needs to start a session with this device (libsignal PreKeyBundle)."""

    def __init__(self, registration_id, identity_key, signed_prekey_id, signed_prekey, signature,
                 prekey_id=None, prekey=None):
        self.registration_id = registration_id
        self.identity_key = identity_key
        self.signed_prekey_id = signed_prekey_id
        self.signed_prekey = signed_prekey
        self.signature = signature
        self.prekey_id = prekey_id
        self.prekey = prekey

    def encode(self):
        """Portier's bundle wire form (protobuf): 1 registrationId, 2 identityKey,
        3 signedPreKeyId, 4 signedPreKey, 5 signature, 6 preKeyId, 7 preKey."""
        out = bytearray()
        put_uint(out, 1, self.registration_id)
        put_bytes(out, 2, self.identity_key)
        put_uint(out, 3, self.signed_prekey_id)
        put_bytes(out, 4, self.signed_prekey)
        put_bytes(out, 5, self.signature)
        if self.prekey is not None:
            put_uint(out, 6, self.prekey_id)
            put_bytes(out, 7, self.prekey)
        return bytes(out)

    @staticmethod
    def decode(data):
        if len(data) > 256:
            raise E2eError("bundle too long")
        f = parse(data, {
            1: (VARINT, _U32), 2: (BYTES, KEY_LEN), 3: (VARINT, _MAX_ID), 4: (BYTES, KEY_LEN),
            5: (BYTES, 64), 6: (VARINT, _MAX_ID), 7: (BYTES, KEY_LEN),
        })
        for need in (2, 3, 4, 5):
            if need not in f:
                raise E2eError("bundle lacks field %d" % need)
        if len(f[5]) != 64 or (6 in f) != (7 in f):
            raise E2eError("malformed bundle")
        for key in (f[2], f[4], f.get(7)):
            if key is not None:
                decode_key(key)
        return Bundle(f.get(1, 0), f[2], f[3], f[4], f[5], f.get(6), f.get(7))


def bundle(store, signed_prekey_id, prekey_id=None):
    """This device's bundle with the given signed prekey and (optionally) one-time prekey."""
    _, identity_public, registration = store.identity()
    _, signed_public, signature = store.signed_prekey(signed_prekey_id)
    prekey = None
    if prekey_id is not None:
        prekey = store.prekey(prekey_id)[1]
    return Bundle(registration, identity_public, signed_prekey_id, signed_public, signature,
                  prekey_id, prekey)
