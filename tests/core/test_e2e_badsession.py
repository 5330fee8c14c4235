# Bad input to unwrap, session level: replays, identities, counters, ciphertext and padding.
# Every case raises E2eError and leaves the receiver's store byte-identical.
import os

import cryptolib
from portier.e2e import session
from portier.e2e.callkey import encode_plaintext, unwrap, wrap
from portier.e2e.messages import build_signal_message
from portier.e2e.kdf import chain_step, message_keys
from portier.e2e.ratchet import MAX_JUMP, MAX_SKIP_PER_CHAIN, State
from portier.e2e.stores import MemoryStore
from e2epair import DOOR, PHONE, answered_pair, make_pair, refused


def crafted_msg(phone, ciphertext, index_shift=0):
    """A msg from phone with a valid MAC around any ciphertext (scratch copy of its state);
    ciphertext may be a function of (cipher key, iv)."""
    s = State.from_bytes(session.load_record(phone, DOOR)[0])
    if s.flags & 1:
        s._step_sending_chain()
    cipher_key, mac_key, iv = message_keys(chain_step(s.send_chain_key)[0])
    if not isinstance(ciphertext, bytes):
        ciphertext = ciphertext(cipher_key, iv)
    return build_signal_message(
        mac_key, s.local_identity, s.remote_identity, s.send_public,
        s.send_index + index_shift, s.previous_counter, ciphertext,
    )


def test_pkmsg_replayed_after_prekey_used():
    door, phone = make_pair()
    enc_type, pk = wrap(phone, DOOR, os.urandom(32))
    unwrap(door, PHONE, enc_type, pk)
    refused(door, PHONE, "pkmsg", pk, "duplicate")  # the session it set up remembers it
    door.remove_session(PHONE)
    refused(door, PHONE, "pkmsg", pk, "prekey")  # and without it: the prekey is gone


def test_unknown_or_changed_identity():
    door = MemoryStore(trust_on_first_use=False)
    door, phone = make_pair(door)
    enc_type, pk = wrap(phone, DOOR, os.urandom(32))
    refused(door, PHONE, "pkmsg", pk, "unknown identity")
    door.trust(PHONE, b"\x05" + bytes(range(32)))
    refused(door, PHONE, "pkmsg", pk, "changed")
    door.trust(PHONE, phone.identity()[1])
    assert len(unwrap(door, PHONE, enc_type, pk)) == 32
    unwrap(phone, DOOR, *wrap(door, PHONE, os.urandom(32)))
    enc_type, msg = wrap(phone, DOOR, os.urandom(32))
    assert enc_type == "msg"
    refused(door, "eve:1@home", "msg", msg, "no session")
    refused(door, "eve:1@home", "pkmsg", pk)


def test_counter_too_far_ahead():
    door, phone = answered_pair()
    data = crafted_msg(phone, bytes(16), MAX_JUMP + 1)
    refused(door, PHONE, "msg", data, "too far ahead")


def test_skipped_keys_are_bounded():
    door, phone = answered_pair()
    msgs = [wrap(phone, DOOR, os.urandom(32)) for _ in range(MAX_SKIP_PER_CHAIN + 3)]
    assert len(unwrap(door, PHONE, *msgs[-1])) == 32
    refused(door, PHONE, "msg", msgs[0][1], "expired")  # evicted: oldest beyond the bound
    assert len(unwrap(door, PHONE, *msgs[3])) == 32  # within the bound


def test_ciphertext_not_block_multiple():
    door, phone = answered_pair()
    for n in (0, 15, 17):
        data = crafted_msg(phone, bytes(n))
        refused(door, PHONE, "msg", data, "multiple of 16")


def test_bad_pkcs7_padding():
    door, phone = answered_pair()
    for last in (b"\x00", b"\x11", b"\x02"):
        block = bytearray(b"A" * 15 + last)
        if last == b"\x02":
            block[14] = 0x03  # claims 2 bytes of padding, the second is wrong
        data = crafted_msg(phone, lambda k, iv: cryptolib.aes(k, 2, iv).encrypt(bytes(block)))
        refused(door, PHONE, "msg", data, "padding")
    good = b"\x52\x22\x0a\x20" + b"k" * 32 + b"\x04" * 4 + b"\x08" * 8  # sanity: same path
    data = crafted_msg(phone, lambda k, iv: cryptolib.aes(k, 2, iv).encrypt(good))
    assert unwrap(door, PHONE, "msg", data) == b"k" * 32


def test_bad_call_key_plaintext():
    door, phone = answered_pair()
    good = encode_plaintext(b"k" * 32, 4)
    bad_plaintexts = (
        good[:-4] + b"\x00",  # pad byte 0
        good[:-4] + b"\x11" * 17,  # pad of 17
        good[:-4] + b"\x04\x04\x03\x04",  # inconsistent pad bytes
        encode_plaintext(b"k" * 31, 2),  # 31-byte call key
        b"\x52\x00\x01",  # a Message without a call key
        b"\x0a\x02ab\x01",  # no call field at all
        b"\x52\x22\x0a\x20" + b"k" * 20 + b"\x01",  # truncated protobuf
    )
    for pt in bad_plaintexts:
        enc_type, data = session.encrypt(phone, DOOR, pt)
        refused(door, PHONE, enc_type, data)
