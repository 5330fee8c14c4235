# Pairing on the door (docs/protocol.md 8.5): a phone's first message opens as responder only
# when its plaintext is PAIR_PLAINTEXT; then the phone is kept in the paired-devices file
# (atomic rewrite); anything else leaves the store and the file untouched.
import json
import os

from coretest import assert_raises, remove_file
from portier import pairing
from portier.config import ConfigError
from portier.e2e import E2eError, keys, session
from portier.e2e.stores import MemoryStore
from portier.e2e.x3dh import start_session
from portier.signaling.linkstanzas import PAIR_PLAINTEXT

DOOR = "door:1@home"
ANNA = "anna:2@home"
_PATH = "_test_paired.json"


def _phone_with_session(door):
    phone = MemoryStore()
    keys.generate_identity(phone)
    # the signature is checked by x3dh.initiate on the host; start_session skips it here
    start_session(phone, DOOR, keys.bundle(door, 1, 7))
    return phone


def _door():
    door = MemoryStore()
    keys.generate_identity(door)
    keys.generate_signed_prekey(door, 1, bytes(64))
    keys.generate_prekeys(door, 7, 1)
    return door


def _cleanup():
    remove_file(_PATH)


def test_pair_message_opens_and_phone_is_kept():
    _cleanup()
    try:
        door = _door()
        phone = _phone_with_session(door)
        paired = pairing.PairedDevices(_PATH)
        assert paired.devices == []
        enc_type, data = session.encrypt(phone, DOOR, PAIR_PLAINTEXT)
        assert enc_type == "pkmsg"
        assert pairing.accept(door, paired, ANNA, enc_type, data) is True
        assert paired.devices == [ANNA]
        with open(_PATH) as f:
            assert json.loads(f.read()) == [ANNA]
        assert pairing.PairedDevices(_PATH).devices == [ANNA]  # as after a reboot
        assert session.has_session(door, ANNA)
        # the door can now wrap for the phone, and the phone opens it
        enc_type, data = session.encrypt(door, ANNA, b"hello phone")
        assert enc_type == "msg"
        assert session.decrypt(phone, DOOR, enc_type, data) == b"hello phone"
        # pairing again over the live session: still paired once
        enc_type, data = session.encrypt(phone, DOOR, PAIR_PLAINTEXT)
        assert pairing.accept(door, paired, ANNA, enc_type, data) is False
        assert paired.devices == [ANNA]
    finally:
        _cleanup()


def test_wrong_plaintext_or_garbage_changes_nothing():
    _cleanup()
    try:
        door = _door()
        phone = _phone_with_session(door)
        paired = pairing.PairedDevices(_PATH)
        before = dict(door.files)
        enc_type, data = session.encrypt(phone, DOOR, b"portier-pair-2")
        assert_raises(E2eError, pairing.accept, door, paired, ANNA, enc_type, data)
        assert_raises(E2eError, pairing.accept, door, paired, ANNA, "pkmsg", b"\x33" + bytes(40))
        assert door.files == before and paired.devices == []
        try:
            os.stat(_PATH)
            raise AssertionError("paired file written")
        except OSError:
            pass
    finally:
        _cleanup()


def test_paired_file_is_bounded_and_checked():
    _cleanup()
    try:
        for bad in ("{}", "[1]", '["anna"]', json.dumps(["a:%d@home" % i for i in range(17)]),
                    "not json"):
            with open(_PATH, "w") as f:
                f.write(bad)
            assert_raises(ConfigError, pairing.PairedDevices, _PATH)
        with open(_PATH, "w") as f:
            f.write(" " * 3000)
        assert_raises(OSError, pairing.PairedDevices, _PATH)
        _cleanup()
        paired = pairing.PairedDevices(_PATH)
        for i in range(16):
            paired.add("p:%d@home" % i)
        assert_raises(ConfigError, paired.add, "q:1@home")
        assert len(pairing.PairedDevices(_PATH).devices) == 16
    finally:
        _cleanup()
