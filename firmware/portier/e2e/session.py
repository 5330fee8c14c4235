# Session records (the current state first, then up to two older ones, as libsignal keeps
# previous states for simultaneous set-ups) and the encrypt/decrypt entry points. Decryption
# works on parsed copies and commits only after the caller's accept() has checked the
# plaintext, so any failure leaves the store byte-identical.
import struct

from micropython import const

from . import E2eError
from .messages import parse_prekey_message, parse_signal_message
from .ratchet import MAX_STATE_BYTES, State

MAX_STATES = const(3)
_RECORD_MAGIC = const(0x52)  # "R"
_RECORD_FORMAT = const(1)


def pack_record(states):
    states = states[:MAX_STATES]
    size = 3
    for st in states:
        size += 2 + len(st)
    out = bytearray(size)
    out[0] = _RECORD_MAGIC
    out[1] = _RECORD_FORMAT
    out[2] = len(states)
    pos = 3
    for st in states:
        struct.pack_into(">H", out, pos, len(st))
        out[pos + 2 : pos + 2 + len(st)] = st
        pos += 2 + len(st)
    return out


def load_record(store, address):
    """-> list of serialized states, current first ([] when there is no session)."""
    data = store.session(address)
    if data is None:
        return []
    if len(data) < 3 or data[0] != _RECORD_MAGIC or data[1] != _RECORD_FORMAT:
        raise E2eError("corrupt session record for %s" % address)
    n = data[2]
    if n > MAX_STATES:
        raise E2eError("corrupt session record for %s" % address)
    states = []
    pos = 3
    for _ in range(n):
        if pos + 2 > len(data):
            raise E2eError("truncated session record")
        size = struct.unpack_from(">H", data, pos)[0]
        pos += 2
        if size > MAX_STATE_BYTES or pos + size > len(data):
            raise E2eError("truncated session record")
        states.append(bytes(memoryview(data)[pos : pos + size]))
        pos += size
    if pos != len(data):
        raise E2eError("trailing bytes in session record")
    return states


def has_session(store, address):
    return bool(load_record(store, address))


def encrypt(store, address, plaintext):
    """-> ("pkmsg" | "msg", bytes) in the current session with address."""
    record = load_record(store, address)
    if not record:
        raise E2eError("no session with %s" % address)
    state = State.from_bytes(record[0])
    enc_type, data = state.encrypt(plaintext)
    record[0] = state.to_bytes()
    store.put_session(address, pack_record(record))
    return enc_type, data


def _accepting(plaintext, accept):
    return plaintext if accept is None else accept(plaintext)


def decrypt(store, address, enc_type, data, accept=None):
    """Decrypt a pkmsg or msg from address; accept(plaintext) -> result may raise E2eError to
    refuse the content, in which case nothing is stored either. Returns accept's result (or the
    plaintext)."""
    data = bytes(data)
    if enc_type == "msg":
        return _decrypt_msg(store, address, data, accept)
    if enc_type == "pkmsg":
        return _decrypt_pkmsg(store, address, data, accept)
    raise E2eError("unknown enc type %r" % (enc_type,))


def _decrypt_msg(store, address, data, accept):
    msg = parse_signal_message(data)
    record = load_record(store, address)
    if not record:
        raise E2eError("no session with %s" % address)
    first_error = None
    for i in range(len(record)):
        state = State.from_bytes(record[i])
        try:
            result = _accepting(state.decrypt(msg), accept)
        except E2eError as e:
            if first_error is None:
                first_error = e
            continue
        record.pop(i)
        store.put_session(address, pack_record([state.to_bytes()] + record))
        return result
    raise first_error


def _decrypt_pkmsg(store, address, data, accept):
    pk = parse_prekey_message(data)
    record = load_record(store, address)
    for i in range(len(record)):
        state = State.from_bytes(record[i])
        if state.base_key == pk.base_key and state.remote_identity == pk.identity_key:
            # the session this pkmsg set up exists: just decrypt in it (a replay is a duplicate)
            result = _accepting(state.decrypt(pk.message), accept)
            record.pop(i)
            store.put_session(address, pack_record([state.to_bytes()] + record))
            return result
    from .x3dh import responder_state  # only a new session's pkmsg: a msg never loads X3DH

    store.check_identity(address, pk.identity_key)
    identity_private, identity_public, registration = store.identity()
    signed_private, signed_public, _ = store.signed_prekey(pk.signed_prekey_id)
    one_time_private = None
    if pk.prekey_id is not None:
        one_time_private = store.prekey(pk.prekey_id)[0]
    state = responder_state(
        identity_private, identity_public, signed_private, one_time_private, pk.identity_key,
        pk.base_key, signed_private, signed_public,
    )
    state.local_registration = registration
    state.remote_registration = pk.registration_id
    result = _accepting(state.decrypt(pk.message), accept)
    packed = pack_record([state.to_bytes()] + record)
    store.check_session_room(address, packed)
    # Commit: the one-time prekey goes first, so a reset after this point can never let the
    # same pkmsg set up a second session.
    if pk.prekey_id is not None:
        store.remove_prekey(pk.prekey_id)
    store.trust(address, pk.identity_key)
    store.put_session(address, packed)
    return result
