# The call key inside <enc type="pkmsg|msg">: the caller wraps one random 32-byte key per callee
# device in that device's Signal session. Plaintext = protobuf Message{call(10): Call{callKey(1):
# 32 bytes}} followed by n bytes of value n, n random in 1..16 (WhatsApp's padding).
import os

from micropython import const

from . import E2eError
from . import session
from .protobuf import BYTES, parse, put_bytes

CALL_KEY_LEN = const(32)
_MAX_PAD = const(16)
_MESSAGE_SPEC = {10: (BYTES, 64)}
_CALL_SPEC = {1: (BYTES, CALL_KEY_LEN)}

__all__ = ("E2eError", "wrap", "unwrap", "new_call_key")


def new_call_key():
    return os.urandom(CALL_KEY_LEN)


def encode_plaintext(call_key, pad):
    call = bytearray()
    put_bytes(call, 1, call_key)
    out = bytearray()
    put_bytes(out, 10, call)
    out.extend(bytes((pad,)) * pad)
    return bytes(out)


def decode_plaintext(plaintext):
    n = len(plaintext)
    pad = plaintext[-1] if n else 0
    if not 1 <= pad <= _MAX_PAD or pad > n:
        raise E2eError("bad call-key padding")
    for i in range(n - pad, n):
        if plaintext[i] != pad:
            raise E2eError("bad call-key padding")
    message = parse(memoryview(plaintext)[: n - pad], _MESSAGE_SPEC)
    if 10 not in message:
        raise E2eError("message carries no call")
    call = parse(message[10], _CALL_SPEC)
    key = call.get(1)
    if key is None or len(key) != CALL_KEY_LEN:
        raise E2eError("call key missing or not 32 bytes")
    return key


def wrap(store, recipient, call_key):
    """-> (enc_type, ciphertext) for recipient (a device-qualified id such as "door:1@home")."""
    if len(call_key) != CALL_KEY_LEN:
        raise E2eError("call key must be 32 bytes")
    pad = (os.urandom(1)[0] & 0x0F) + 1
    return session.encrypt(store, recipient, encode_plaintext(bytes(call_key), pad))


def unwrap(store, sender, enc_type, ciphertext):
    """-> the 32-byte call key; E2eError (store untouched) on anything wrong."""
    return session.decrypt(store, sender, enc_type, ciphertext, decode_plaintext)
