# Pairing on the door under the household's authority (docs/protocol.md 8.5): a <pair> opens
# only with the household's authorisation for that door, device JID and identity key (checked
# before any X25519, so a refusal costs one HMAC and changes nothing); revocations unpair and
# forget a device; the paired-devices file is bounded and rewritten atomically.
import json
import os

from coretest import assert_raises, remove_file, unhex
from portier import pairauth, pairing
from portier.config import ConfigError
from portier.e2e import E2eError, kdf, keys, session
from portier.e2e.stores import MemoryStore
from portier.e2e.x3dh import start_session
from portier.pairing import PairError
from portier.signaling.linkstanzas import PAIR_PLAINTEXT

DOOR = "door:1@home"
ANNA = "anna:2@home"
EVE = "eve:9@home"
KEY = bytes(range(32))  # the door's pairing key
_PATH = "_test_paired.json"


_used = []


def _phone_with_session(door):
    phone = MemoryStore()
    keys.generate_identity(phone)
    # the signature is checked by x3dh.initiate on the host; start_session skips it here
    # (one one-time prekey each: prekeys 7..10)
    _used.append(1)
    start_session(phone, DOOR, keys.bundle(door, 1, 6 + len(_used) % 4 + 1))
    return phone


def _door():
    door = MemoryStore()
    keys.generate_identity(door)
    keys.generate_signed_prekey(door, 1, bytes(64))
    keys.generate_prekeys(door, 7, 4)
    del _used[:]
    return door


def _auth(phone, jid=ANNA, serial=1):
    return pairauth.auth_tag(KEY, DOOR, jid, phone.identity()[1], serial)


def _accept(door, paired, jid, auth, phone):
    enc_type, data = session.encrypt(phone, DOOR, PAIR_PLAINTEXT)
    return pairauth.accept(door, paired, DOOR, KEY, jid, auth, enc_type, data)


def _cleanup():
    remove_file(_PATH)


def _no_file():
    try:
        os.stat(_PATH)
        raise AssertionError("paired file written")
    except OSError:
        pass


def test_tags_match_the_spec():
    assert pairauth.PAIR_PLAINTEXT == PAIR_PLAINTEXT
    # HMAC-SHA256 computed with CPython's hmac over the layout of protocol 8.5
    ik = b"\x05" + bytes(range(32))
    assert pairauth.auth_tag(KEY, DOOR, ANNA, ik, 1) == unhex(
        "00000001" "caa2cc63d0d4e3d754701cb0cab24c6fb88b5eaefc932fc21c563f9c8cbd10e9")
    assert pairauth.revoke_tag(KEY, DOOR, ANNA, 5) == unhex(
        "00000005" "e14bf7078d8a8a33c61afcdb0d16966019df24d32fc7965f60576796525815cb")


def test_authorised_phone_pairs_and_is_kept():
    _cleanup()
    try:
        door = _door()
        phone = _phone_with_session(door)
        paired = pairing.PairedDevices(_PATH)
        assert paired.devices == []
        assert _accept(door, paired, ANNA, _auth(phone), phone) is True
        assert paired.devices == [ANNA]
        with open(_PATH) as f:
            assert json.loads(f.read()) == {"paired": {ANNA: 1}, "revoked": {}}
        assert pairing.PairedDevices(_PATH).devices == [ANNA]  # as after a reboot
        assert door.remote_identity(ANNA) == phone.identity()[1]  # the pinned identity
        enc_type, data = session.encrypt(door, ANNA, b"hello phone")
        assert session.decrypt(phone, DOOR, enc_type, data) == b"hello phone"
        # pairing again over the live session (a msg): still paired once
        assert _accept(door, paired, ANNA, _auth(phone), phone) is False
        assert paired.devices == [ANNA]
    finally:
        _cleanup()


def test_unauthorised_pairs_cost_one_hmac_and_change_nothing():
    _cleanup()
    try:
        door = _door()
        anna = _phone_with_session(door)
        eve = _phone_with_session(door)
        paired = pairing.PairedDevices(_PATH)
        before = dict(door.files)
        calls = []
        real = kdf.x25519

        def counting(k, u):
            calls.append(1)
            return real(k, u)

        kdf.x25519 = counting
        try:
            refused = (None, bytes(36), b"\x00\x00\x00\x01" + bytes(32), os.urandom(36),
                       _auth(anna, ANNA),  # anna's authorisation replayed under eve's JID
                       _auth(anna, EVE),  # eve's JID with anna's identity key, not eve's
                       pairauth.auth_tag(bytes(32), DOOR, EVE, eve.identity()[1], 1))
            for auth in refused:
                assert_raises(PairError, _accept, door, paired, EVE, auth, eve)
            # a real authorisation for anna, sent with eve's session: not anna's identity
            assert_raises(PairError, _accept, door, paired, ANNA, _auth(anna), eve)
        finally:
            kdf.x25519 = real
        assert calls == []  # refused before any X25519
        assert door.files == before and paired.devices == []
        _no_file()
        # a door without a pairing key refuses every pairing
        enc_type, data = session.encrypt(anna, DOOR, PAIR_PLAINTEXT)
        assert_raises(PairError, pairauth.accept, door, paired, DOOR, None, ANNA, _auth(anna),
                      enc_type, data)
        # an authorised message with the wrong plaintext, or garbage: refused, nothing stored
        enc_type, data = session.encrypt(anna, DOOR, b"portier-pair-2")
        assert_raises(E2eError, pairauth.accept, door, paired, DOOR, KEY, ANNA, _auth(anna),
                      enc_type, data)
        assert_raises(ValueError, pairauth.accept, door, paired, DOOR, KEY, ANNA, _auth(anna),
                      "pkmsg", b"\x33" + bytes(40))
        assert door.files == before and paired.devices == []
    finally:
        _cleanup()


def test_revocation_unpairs_forgets_and_refuses_older_authorisations():
    _cleanup()
    try:
        door = _door()
        phone = _phone_with_session(door)
        paired = pairing.PairedDevices(_PATH)
        assert _accept(door, paired, ANNA, _auth(phone), phone)
        before = dict(door.files)
        for forged in (None, bytes(36), pairauth.revoke_tag(bytes(32), DOOR, ANNA, 1),
                       pairauth.revoke_tag(KEY, DOOR, EVE, 1)):
            assert_raises(PairError, pairauth.revoke, door, paired, DOOR, KEY, ANNA, forged)
        assert door.files == before and paired.devices == [ANNA]
        assert pairauth.revoke(door, paired, DOOR, KEY, ANNA, pairauth.revoke_tag(KEY, DOOR, ANNA, 1))
        assert paired.devices == [] and paired.revoked == {ANNA: 1}
        assert not session.has_session(door, ANNA) and door.remote_identity(ANNA) is None
        # the same revocation again changes nothing; the old authorisation is refused
        assert not pairauth.revoke(door, paired, DOOR, KEY, ANNA,
                                  pairauth.revoke_tag(KEY, DOOR, ANNA, 1))
        fresh = _phone_with_session(door)
        assert_raises(PairError, _accept, door, paired, ANNA, _auth(fresh), fresh)
        # the household authorises the device again under a newer serial
        assert _accept(door, paired, ANNA, _auth(fresh, serial=2), fresh) is True
        assert pairing.PairedDevices(_PATH).paired == {ANNA: 2}
        assert pairing.PairedDevices(_PATH).revoked == {ANNA: 1}
    finally:
        _cleanup()


def test_a_new_identity_needs_a_newer_serial():
    _cleanup()
    try:
        door = _door()
        old = _phone_with_session(door)
        paired = pairing.PairedDevices(_PATH)
        _accept(door, paired, ANNA, _auth(old, serial=3), old)
        new = _phone_with_session(door)  # the phone was reset: a new identity key
        before = dict(door.files)
        assert_raises(PairError, _accept, door, paired, ANNA, _auth(new, serial=3), new)
        assert_raises(PairError, _accept, door, paired, ANNA, _auth(new, serial=2), new)
        assert door.files == before
        assert _accept(door, paired, ANNA, _auth(new, serial=4), new) is False
        assert door.remote_identity(ANNA) == new.identity()[1] and paired.paired[ANNA] == 4
    finally:
        _cleanup()


def test_legacy_list_loads_as_serial_zero():
    _cleanup()
    try:
        with open(_PATH, "w") as f:
            f.write(json.dumps([ANNA, EVE]))
        paired = pairing.PairedDevices(_PATH)
        assert paired.devices == [ANNA, EVE] and paired.legacy() == [ANNA, EVE]
        paired.drop(paired.legacy())
        assert pairing.PairedDevices(_PATH).devices == []
    finally:
        _cleanup()


def test_paired_file_is_bounded_and_checked():
    _cleanup()
    try:
        for bad in ("{}", "[1]", '["anna"]', json.dumps(["a:%d@home" % i for i in range(17)]),
                    '{"paired": {"anna:2@home": -1}, "revoked": {}}', '"x"',
                    '{"paired": {}, "revoked": []}', "not json"):
            with open(_PATH, "w") as f:
                f.write(bad)
            assert_raises(ConfigError, pairing.PairedDevices, _PATH)
        with open(_PATH, "w") as f:
            f.write(" " * 5000)
        assert_raises(OSError, pairing.PairedDevices, _PATH)
        _cleanup()
        paired = pairing.PairedDevices(_PATH)
        for i in range(16):
            paired.add("p:%d@home" % i, 1)
        assert_raises(PairError, paired.add, "q:1@home", 1)
        assert len(pairing.PairedDevices(_PATH).devices) == 16
    finally:
        _cleanup()


def test_a_full_door_refuses_before_opening():
    _cleanup()
    try:
        door = _door()
        phone = _phone_with_session(door)
        paired = pairing.PairedDevices(_PATH)
        for i in range(16):
            paired.add("p:%d@home" % i, 1)
        before = dict(door.files)
        assert_raises(PairError, _accept, door, paired, ANNA, _auth(phone), phone)
        assert door.files == before
    finally:
        _cleanup()
