# libsignal v3 wire messages: SignalMessage (`msg`) and PreKeySignalMessage (`pkmsg`).
# The version byte is (message version << 4) | sender's current version. Readers check the high
# nibble only, as libsignal's do (Rust SignalMessage::try_from, Java SignalMessage): libsignal
# 0.24-0.74 writes 0x34 in v3 sessions, and its readers open it. Portier writes 0x33.
#   msg   = 0x33 || protobuf{1 ratchetKey, 2 counter, 3 previousCounter, 4 ciphertext} || mac8
#   pkmsg = 0x33 || protobuf{1 preKeyId, 2 baseKey, 3 identityKey, 4 message, 5 registrationId,
#                            6 signedPreKeyId}
# mac8 = HMAC-SHA256(macKey, senderIdentity33 || receiverIdentity33 || 0x33 || protobuf)[:8].
import hashlib

from micropython import const

from portier.crypto.hmac import Hmac, compare_digest

from . import E2eError
from .protobuf import BYTES, VARINT, parse, put_bytes, put_uint

VERSION = const(3)
VERSION_BYTE = const(0x33)  # (message version << 4) | current version
# What the builders write: VERSION_BYTE; a test sets 0x34 to speak as libsignal 0.24-0.74 does.
send_version_byte = VERSION_BYTE
KEY_LEN = const(33)
DJB_TYPE = const(0x05)
MAC_LEN = const(8)
MAX_CIPHERTEXT = const(1024)  # Portier only carries call keys (a 48-byte ciphertext)
MAX_SIGNAL_MESSAGE = const(1 + 2 + KEY_LEN + 12 + 3 + MAX_CIPHERTEXT + MAC_LEN)
MAX_PREKEY_MESSAGE = const(1 + 24 + 2 * (2 + KEY_LEN) + 3 + MAX_SIGNAL_MESSAGE)
_U32 = 0xFFFFFFFF

_SIGNAL_SPEC = {
    1: (BYTES, KEY_LEN),
    2: (VARINT, _U32),
    3: (VARINT, _U32),
    4: (BYTES, MAX_CIPHERTEXT),
}
_PREKEY_SPEC = {
    1: (VARINT, _U32),
    2: (BYTES, KEY_LEN),
    3: (BYTES, KEY_LEN),
    4: (BYTES, MAX_SIGNAL_MESSAGE),
    5: (VARINT, _U32),
    6: (VARINT, _U32),
}


def encode_key(raw):
    return bytes((DJB_TYPE,)) + raw


def decode_key(key):
    """33-byte serialized public key -> the raw 32-byte X25519 u-coordinate."""
    if len(key) != KEY_LEN or key[0] != DJB_TYPE:
        raise E2eError("bad public key")
    return bytes(key[1:])


def _check_version(data, limit):
    if len(data) < 1 + MAC_LEN or len(data) > limit:
        raise E2eError("message length %d" % len(data))
    version = data[0] >> 4
    if version < VERSION:
        raise E2eError("legacy message version %d" % version)
    if version > VERSION:  # v4 (Kyber/PQXDH) is not spoken; the low nibble is not checked
        raise E2eError("unknown message version byte 0x%02x" % data[0])


class SignalMessage:
    def __init__(self, ratchet_key, counter, previous_counter, ciphertext, body, mac):
        self.ratchet_key = ratchet_key  # 33 bytes
        self.counter = counter
        self.previous_counter = previous_counter
        self.ciphertext = ciphertext
        self.body = body  # version byte || protobuf: what the MAC covers after the identities
        self.mac = mac

    def mac_ok(self, mac_key, sender_identity, receiver_identity):
        want = Hmac(mac_key, hashlib.sha256).digest(sender_identity, receiver_identity, self.body)
        return compare_digest(want[:MAC_LEN], self.mac)


def parse_signal_message(data):
    _check_version(data, MAX_SIGNAL_MESSAGE)
    body = bytes(data[:-MAC_LEN])
    fields = parse(memoryview(data)[1:-MAC_LEN], _SIGNAL_SPEC)
    if 1 not in fields or 2 not in fields or 4 not in fields:
        raise E2eError("SignalMessage lacks a required field")
    key = fields[1]
    decode_key(key)
    return SignalMessage(key, fields[2], fields.get(3, 0), fields[4], body, bytes(data[-MAC_LEN:]))


def build_signal_message(mac_key, sender_identity, receiver_identity, ratchet_key, counter,
                         previous_counter, ciphertext):
    out = bytearray((send_version_byte,))
    put_bytes(out, 1, ratchet_key)
    put_uint(out, 2, counter)
    put_uint(out, 3, previous_counter)
    put_bytes(out, 4, ciphertext)
    mac = Hmac(mac_key, hashlib.sha256).digest(sender_identity, receiver_identity, out)
    out.extend(mac[:MAC_LEN])
    return bytes(out)


class PreKeyMessage:
    def __init__(self, registration_id, prekey_id, signed_prekey_id, base_key, identity_key,
                 message):
        self.registration_id = registration_id
        self.prekey_id = prekey_id  # None without a one-time prekey
        self.signed_prekey_id = signed_prekey_id
        self.base_key = base_key
        self.identity_key = identity_key
        self.message = message  # a parsed SignalMessage


def parse_prekey_message(data):
    _check_version(data, MAX_PREKEY_MESSAGE)
    fields = parse(memoryview(data)[1:], _PREKEY_SPEC)
    for need in (2, 3, 4, 6):
        if need not in fields:
            raise E2eError("PreKeySignalMessage lacks field %d" % need)
    decode_key(fields[2])
    decode_key(fields[3])
    inner = parse_signal_message(fields[4])
    return PreKeyMessage(fields.get(5, 0), fields.get(1), fields[6], fields[2], fields[3], inner)


def build_prekey_message(registration_id, prekey_id, signed_prekey_id, base_key, identity_key,
                         message):
    out = bytearray((send_version_byte,))
    if prekey_id is not None:
        put_uint(out, 1, prekey_id)
    put_bytes(out, 2, base_key)
    put_bytes(out, 3, identity_key)
    put_bytes(out, 4, message)
    put_uint(out, 5, registration_id)
    put_uint(out, 6, signed_prekey_id)
    return bytes(out)
