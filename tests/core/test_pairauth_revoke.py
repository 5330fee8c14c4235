# Revocation, a re-keyed device, a full door (portier.pairauth; helpers as in test_pairauth.py).
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
_PATH = "_test_pairauth_revoke.json"
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
