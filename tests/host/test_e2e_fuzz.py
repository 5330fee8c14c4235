"""Random mutations of valid pkmsg/msg ciphertexts: unwrap either returns the right call key or
raises E2eError, never anything else, and a refusal leaves the store byte-identical."""

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portier_host import paths

paths.use_firmware()

from portier.e2e import E2eError, keys  # noqa: E402
from portier.e2e.callkey import unwrap, wrap  # noqa: E402
from portier.e2e.stores import MemoryStore  # noqa: E402
from portier.e2e.x3dh import start_session  # noqa: E402

DOOR = "door:1@home"
PHONE = "anna:2@home"


def _setup():
    door = MemoryStore()
    phone = MemoryStore()
    keys.generate_identity(door)
    keys.generate_identity(phone)
    keys.generate_signed_prekey(door, 1, bytes(64))
    keys.generate_prekeys(door, 1, 1)
    start_session(phone, DOOR, keys.bundle(door, 1, 1))
    key = os.urandom(32)
    pk = wrap(phone, DOOR, key)
    answered = MemoryStore()
    answered.files = dict(door.files)
    assert unwrap(answered, PHONE, *pk) == key
    unwrap(phone, DOOR, *wrap(answered, PHONE, os.urandom(32)))
    msg = wrap(phone, DOOR, key)
    assert msg[0] == "msg"
    return door, answered, key, pk, msg


_DOOR, _ANSWERED, _KEY, _PK, _MSG = _setup()

_edits = st.lists(
    st.tuples(st.sampled_from(["flip", "cut", "insert"]), st.integers(0, 400), st.integers(0, 255)),
    min_size=1,
    max_size=4,
)


def _mutate(data, edits):
    out = bytearray(data)
    for kind, pos, value in edits:
        pos %= len(out) + 1
        if kind == "flip" and pos < len(out):
            out[pos] ^= value or 1
        elif kind == "cut":
            del out[pos:]
        else:
            out[pos:pos] = bytes((value,))
        if not out:
            break
    return bytes(out)


def _check(store_files, enc_type, data):
    store = MemoryStore()
    store.files = dict(store_files)
    try:
        got = unwrap(store, PHONE, enc_type, data)
    except E2eError:
        assert store.files == store_files
        return
    assert got == _KEY  # an edit that changes nothing protobuf reads (e.g. a repeated field)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_edits)
def test_mutated_pkmsg(edits):
    _check(_DOOR.files, "pkmsg", _mutate(_PK[1], edits))


@settings(max_examples=300, deadline=None)
@given(_edits)
def test_mutated_msg(edits):
    _check(_ANSWERED.files, "msg", _mutate(_MSG[1], edits))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["msg", "pkmsg"]))
def test_random_bytes(data, enc_type):
    _check(_ANSWERED.files, enc_type, data)
