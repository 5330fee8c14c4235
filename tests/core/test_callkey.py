# Call-key wrap/unwrap over real sessions: the door as responder (pkmsg), then msg both ways,
# out-of-order delivery, repeated pkmsg before the answer, file-backed stores.
import os

from coretest import ON_MICROPYTHON, assert_raises
from portier.e2e import E2eError, callkey
from portier.e2e.callkey import unwrap, wrap
from portier.e2e.stores import FileStore
from e2epair import DOOR, PHONE, make_pair


def test_first_wrap_is_pkmsg_and_door_unwraps():
    door, phone = make_pair()
    key = callkey.new_call_key()
    enc_type, data = wrap(phone, DOOR, key)
    assert enc_type == "pkmsg"
    assert unwrap(door, PHONE, enc_type, data) == key
    assert door.prekey_ids() == []  # the one-time prekey is consumed


def test_conversation_both_directions():
    door, phone = make_pair()
    k = os.urandom(32)
    assert unwrap(door, PHONE, *wrap(phone, DOOR, k)) == k
    rounds = 3 if ON_MICROPYTHON else 10
    for i in range(rounds):
        # each turn of direction is a DH ratchet step on both sides
        for sender, sender_id, receiver, receiver_id in (
            (door, DOOR, phone, PHONE),
            (phone, PHONE, door, DOOR),
        ):
            k = os.urandom(32)
            enc_type, data = wrap(sender, receiver_id, k)
            assert enc_type == "msg"
            assert unwrap(receiver, sender_id, enc_type, data) == k
            k2 = os.urandom(32)
            assert unwrap(receiver, sender_id, *wrap(sender, receiver_id, k2)) == k2


def test_pkmsg_repeats_until_answered():
    door, phone = make_pair()
    first = [os.urandom(32) for _ in range(3)]
    sent = [wrap(phone, DOOR, k) for k in first]
    assert [t for t, _ in sent] == ["pkmsg"] * 3
    # delivered out of order: the later ones find the session the first one set up
    for i in (1, 0, 2):
        assert unwrap(door, PHONE, *sent[i]) == first[i]
    k = os.urandom(32)
    assert unwrap(phone, DOOR, *wrap(door, PHONE, k)) == k
    assert wrap(phone, DOOR, k)[0] == "msg"  # answered: no more pkmsg


def test_out_of_order_both_directions():
    door, phone = make_pair(one_time=False)
    k = os.urandom(32)
    assert unwrap(door, PHONE, *wrap(phone, DOOR, k)) == k
    for sender, sender_id, receiver, receiver_id in (
        (door, DOOR, phone, PHONE),
        (phone, PHONE, door, DOOR),
        (door, DOOR, phone, PHONE),
    ):
        batch = [os.urandom(32) for _ in range(5)]
        msgs = [wrap(sender, receiver_id, b) for b in batch]
        for i in (3, 0, 4, 2, 1):
            assert unwrap(receiver, sender_id, *msgs[i]) == batch[i]
        # each message opens once only
        e = assert_raises(E2eError, unwrap, receiver, sender_id, *msgs[2])
        assert "duplicate" in str(e)


def test_messages_across_a_ratchet_step_out_of_order():
    door, phone = make_pair()
    k0 = os.urandom(32)
    assert unwrap(door, PHONE, *wrap(phone, DOOR, k0)) == k0
    late = wrap(door, PHONE, b"L" * 32)  # held back
    on_time = wrap(door, PHONE, b"T" * 32)
    assert unwrap(phone, DOOR, *on_time) == b"T" * 32
    reply = wrap(phone, DOOR, b"R" * 32)  # phone's new ratchet key
    assert unwrap(door, PHONE, *reply) == b"R" * 32
    newer = wrap(door, PHONE, b"N" * 32)  # door's next chain
    assert unwrap(phone, DOOR, *newer) == b"N" * 32
    assert unwrap(phone, DOOR, *late) == b"L" * 32  # a skipped key of the older chain


def test_wrap_without_session_or_bad_key():
    door, phone = make_pair()
    assert_raises(E2eError, wrap, phone, "bob:1@home", os.urandom(32))
    assert_raises(E2eError, wrap, phone, DOOR, os.urandom(31))
    assert_raises(E2eError, wrap, phone, DOOR, os.urandom(33))
    assert isinstance(E2eError("x"), ValueError)
    assert callkey.E2eError is E2eError


def test_padding_is_one_to_sixteen_bytes():
    seen = set()
    for _ in range(200):
        pad = (os.urandom(1)[0] & 0x0F) + 1
        seen.add(pad)
        pt = callkey.encode_plaintext(b"k" * 32, pad)
        assert len(pt) == 36 + pad and pt[:4] == b"\x52\x22\x0a\x20"
        assert callkey.decode_plaintext(pt) == b"k" * 32
    assert min(seen) >= 1 and max(seen) <= 16


def _rmtree(path):
    for name in os.listdir(path):
        os.remove(path + "/" + name)
    os.rmdir(path)


def test_file_stores_round_trip():
    root = "/tmp/portier-e2e-%s" % os.urandom(4).hex() if not ON_MICROPYTHON else (
        "/tmp/portier-e2e-mp-%d" % os.urandom(1)[0])
    try:
        door, phone = make_pair(FileStore(root + "-door"), FileStore(root + "-phone"))
        k = os.urandom(32)
        data = wrap(phone, DOOR, k)
        # a torn write leaves only a .tmp beside the intact file; reopening drops it
        with open(root + "-door/ses-junk.tmp", "wb") as f:
            f.write(b"half")
        door = FileStore(root + "-door")
        assert "ses-junk.tmp" not in os.listdir(root + "-door")
        assert unwrap(door, PHONE, *data) == k
        assert unwrap(FileStore(root + "-phone"), DOOR, *wrap(door, PHONE, k)) == k
        assert door.prekey_ids() == []
    finally:
        for suffix in ("-door", "-phone"):
            try:
                _rmtree(root + suffix)
            except OSError:
                pass
