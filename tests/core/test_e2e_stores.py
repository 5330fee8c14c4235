# Store bounds and validation: sizes a board can rely on, refused without writing anything.
import os

from coretest import assert_raises
from portier.e2e import E2eError
from portier.e2e.stores import MAX_FILE_BYTES, MAX_PREKEYS, MAX_SESSIONS, FileStore, MemoryStore


def _root():
    return "/tmp/portier-e2e-store-%d" % (os.urandom(2)[0] * 256 + os.urandom(1)[0])


def _remove(root):
    for name in os.listdir(root):
        os.remove(root + "/" + name)
    os.rmdir(root)


def test_prekeys_are_bounded():
    root = _root()
    s = FileStore(root)  # on flash, as on a board: a hundred keys in RAM would not be
    try:
        for i in range(MAX_PREKEYS):
            s.put_prekey(i, bytes(32), b"\x05" + bytes(32))
        assert_raises(E2eError, s.put_prekey, MAX_PREKEYS, bytes(32), b"\x05" + bytes(32))
        assert len(os.listdir(root)) == MAX_PREKEYS
        s.put_prekey(3, b"\x01" * 32, b"\x05" + bytes(32))  # replacing one is fine
        s.remove_prekey(3)
        assert_raises(E2eError, s.prekey, 3)
        assert len(s.prekey_ids()) == MAX_PREKEYS - 1
    finally:
        _remove(root)


def test_sessions_are_bounded():
    s = MemoryStore()
    for i in range(MAX_SESSIONS):
        s.put_session("dev:%d@home" % i, b"R")
    assert_raises(E2eError, s.put_session, "dev:99@home", b"R")
    assert_raises(E2eError, s.check_session_room, "dev:99@home", b"R")
    s.put_session("dev:0@home", b"R2")  # an existing one may be rewritten
    assert s.session("dev:0@home") == b"R2"
    assert_raises(E2eError, s.put_session, "dev:1@home", bytes(MAX_FILE_BYTES + 1))


def test_addresses_are_validated():
    s = MemoryStore()
    for bad in ("", "a b", "x" * 65, "tab\there", "nl\n", b"bytes"):
        assert_raises(E2eError, s.session, bad)
    assert s.session("door:1@home") is None
    assert_raises(E2eError, s.identity)  # no identity yet
    assert_raises(E2eError, s.signed_prekey, 1)


def test_identity_trust():
    s = MemoryStore(trust_on_first_use=False)
    key = b"\x05" + bytes(range(32))
    assert_raises(E2eError, s.check_identity, "a:1@h", key)
    s.trust("a:1@h", key)
    assert s.check_identity("a:1@h", key) is False
    assert_raises(E2eError, s.check_identity, "a:1@h", b"\x05" + bytes(32))
    assert MemoryStore().check_identity("a:1@h", key) is True  # first use
    assert_raises(E2eError, s.trust, "a:1@h", bytes(32))


def test_file_store_is_atomic_and_bounded():
    root = _root()
    s = FileStore(root)
    try:
        s.put_session("a:1@h", b"first")
        assert s.session("a:1@h") == b"first"
        s.put_session("a:1@h", b"second")
        assert s.session("a:1@h") == b"second"
        assert not [n for n in os.listdir(root) if n.endswith(".tmp")]
        with open(root + "/ses-oversized", "wb") as f:
            f.write(bytes(MAX_FILE_BYTES + 1))
        assert_raises(E2eError, s._get, "ses-oversized")
    finally:
        _remove(root)
