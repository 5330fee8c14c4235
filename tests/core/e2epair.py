# Support for the e2e core tests (not a test module): a door and a phone with a Signal session,
# and the check that a refused unwrap leaves the store byte-identical.
import os

from coretest import assert_raises
from portier.e2e import E2eError, keys
from portier.e2e.callkey import unwrap, wrap
from portier.e2e.stores import MemoryStore
from portier.e2e.x3dh import start_session

DOOR = "door:1@home"
PHONE = "anna:2@home"


def make_pair(door=None, phone=None, one_time=True):
    """A phone with a fresh session to the door (not yet answered). The bundle's signature is
    not checked here (start_session): XEdDSA is host-only and has its own tests."""
    door = door or MemoryStore()
    phone = phone or MemoryStore()
    keys.generate_identity(door)
    keys.generate_identity(phone)
    keys.generate_signed_prekey(door, 1, bytes(64))
    prekey_id = None
    if one_time:
        keys.generate_prekeys(door, 7, 1)
        prekey_id = 7
    start_session(phone, DOOR, keys.bundle(door, 1, prekey_id))
    return door, phone


def answered_pair():
    door, phone = make_pair()
    k = os.urandom(32)
    assert unwrap(door, PHONE, *wrap(phone, DOOR, k)) == k
    assert unwrap(phone, DOOR, *wrap(door, PHONE, k)) == k
    return door, phone


def refused(store, address, enc_type, data, words=None):
    before = dict(store.files)
    e = assert_raises(E2eError, unwrap, store, address, enc_type, data)
    assert store.files == before, "store changed by a refused %s" % enc_type
    if words is not None:
        assert words in str(e), str(e)
    return e
