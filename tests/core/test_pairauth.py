# Pairing checks on the door, authorised and not (portier.pairauth; helpers here, as in test_pairauth_revoke.py).
import json
import os

from coretest import assert_raises, remove_file
from portier.e2e import E2eError, kdf, keys, session
from portier.e2e.stores import MemoryStore
from portier.e2e.x3dh import start_session
from portier.signaling.linkstanzas import PAIR_PLAINTEXT
from portier import pairauth, pairing
from portier.pairing import PairError

DOOR = "door:1@home"
ANNA = "anna:2@home"
EVE = "eve:9@home"
KEY = bytes(range(32))  # the door's pairing key
_PATH = "_test_pairauth.json"
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

        refused = (None, bytes(36), b"\x00\x00\x00\x01" + bytes(32), os.urandom(36),
                   _auth(anna, ANNA),  # anna's authorisation replayed under eve's JID
                   _auth(anna, EVE),  # eve's JID with anna's identity key, not eve's
                   pairauth.auth_tag(bytes(32), DOOR, EVE, eve.identity()[1], 1))
        enc_type, data = session.encrypt(eve, DOOR, PAIR_PLAINTEXT)  # eve's own work, before
        kdf.x25519 = counting
        try:
            for auth in refused:
                assert_raises(PairError, pairauth.accept, door, paired, DOOR, KEY, EVE, auth,
                              enc_type, data)
            # a real authorisation for anna, sent with eve's session: not anna's identity
            assert_raises(PairError, pairauth.accept, door, paired, DOOR, KEY, ANNA, _auth(anna),
                          enc_type, data)
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
