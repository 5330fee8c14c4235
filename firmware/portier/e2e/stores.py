# Key and session stores: one class with the logic (names, sizes, trust) over bytes kept by name
# in a dict (MemoryStore) or one file each (FileStore). A file is written to a temporary name
# and renamed over the old one, so a reset mid-write leaves the previous version (STYLE.md
# section 8); the store refuses to grow past a fixed number of sessions and prekeys, so a
# board's flash use stays bounded. (One class, not three: on a 96 KiB heap every method counts.)
import binascii
import os
import struct

from micropython import const

from . import E2eError

MAX_SESSIONS = const(32)
MAX_PREKEYS = const(100)
MAX_FILE_BYTES = const(8192)
_MAX_ADDRESS = const(64)
_IDENTITY = ">32s33sI"
_SIGNED = ">32s33s64s"
_PREKEY = ">32s33s"


def _address_tag(address):
    if not isinstance(address, str):
        raise E2eError("address must be a str")
    raw = address.encode()
    if not raw or len(raw) > _MAX_ADDRESS:
        raise E2eError("address length %d" % len(raw))
    for b in raw:
        if b < 0x21 or b == 0x7F:
            raise E2eError("address has a control or space character")
    return binascii.hexlify(raw).decode()


def _unpack(fmt, data, what):
    if data is None:
        return None
    if len(data) != struct.calcsize(fmt):
        raise E2eError("corrupt %s record" % what)
    return struct.unpack(fmt, data)


class Store:
    """Identity, signed prekeys, one-time prekeys, sessions and remote identities.

    trust_on_first_use: a peer identity never seen before is accepted and remembered; with False
    only identities added by trust() are accepted. A changed identity is always refused.
    """

    def __init__(self, root=None, trust_on_first_use=True):
        self.root = root
        self.files = {} if root is None else None
        self.trust_on_first_use = trust_on_first_use

    # -- own keys --

    def identity(self):
        """-> (private 32, public 33, registration id)."""
        got = _unpack(_IDENTITY, self._get("identity"), "identity")
        if got is None:
            raise E2eError("no identity key in the store")
        return got

    def set_identity(self, private, public, registration_id):
        self._put("identity", struct.pack(_IDENTITY, private, public, registration_id))

    def signed_prekey(self, key_id):
        """-> (private 32, public 33, signature 64); E2eError if unknown."""
        got = _unpack(_SIGNED, self._get("spk-%d" % key_id), "signed prekey")
        if got is None:
            raise E2eError("unknown signed prekey %d" % key_id)
        return got

    def put_signed_prekey(self, key_id, private, public, signature):
        self._put("spk-%d" % key_id, struct.pack(_SIGNED, private, public, signature))

    def prekey(self, key_id):
        """-> (private 32, public 33); E2eError if unknown or already used."""
        got = _unpack(_PREKEY, self._get("opk-%d" % key_id), "prekey")
        if got is None:
            raise E2eError("unknown or used one-time prekey %d" % key_id)
        return got

    def put_prekey(self, key_id, private, public):
        name = "opk-%d" % key_id
        if self._get(name) is None and len(self.prekey_ids()) >= MAX_PREKEYS:
            raise E2eError("prekey store full")
        self._put(name, struct.pack(_PREKEY, private, public))

    def remove_prekey(self, key_id):
        self._drop("opk-%d" % key_id)

    def prekey_ids(self):
        return sorted(int(n[4:]) for n in self._names() if n.startswith("opk-"))

    # -- peers --

    def session(self, address):
        return self._get("ses-" + _address_tag(address))

    def check_session_room(self, address, record):
        """Raises if put_session(address, record) would be refused; writes nothing."""
        name = "ses-" + _address_tag(address)
        if len(record) > MAX_FILE_BYTES:
            raise E2eError("session record too large")
        if self._get(name) is None:
            count = 0
            for n in self._names():
                if n.startswith("ses-"):
                    count += 1
            if count >= MAX_SESSIONS:
                raise E2eError("session store full")
        return name

    def put_session(self, address, record):
        self._put(self.check_session_room(address, record), record)

    def remove_session(self, address):
        self._drop("ses-" + _address_tag(address))

    def forget_peer(self, address):
        """Its session and pinned identity go (a revoked or re-keyed device)."""
        tag = _address_tag(address)
        self._drop("ses-" + tag)
        self._drop("idk-" + tag)

    def remote_identity(self, address):
        return self._get("idk-" + _address_tag(address))

    def trust(self, address, identity_key):
        if len(identity_key) != 33:
            raise E2eError("identity key must be 33 bytes")
        self._put("idk-" + _address_tag(address), bytes(identity_key))

    def check_identity(self, address, identity_key):
        """Raises unless identity_key may speak for address. Returns True if it is new."""
        known = self.remote_identity(address)
        if known is None:
            if not self.trust_on_first_use:
                raise E2eError("unknown identity for %s" % address)
            return True
        if known != identity_key:
            raise E2eError("identity key of %s changed" % address)
        return False

    # -- storage: bytes by name, in a dict (root None) or one file each under root --

    def _get(self, name):
        if self.root is None:
            return self.files.get(name)
        path = self.root + "/" + name
        try:
            size = os.stat(path)[6]
        except OSError:
            return None
        if size > MAX_FILE_BYTES:
            raise E2eError("%s is too large" % name)
        with open(path, "rb") as f:
            return f.read(size)

    def _put(self, name, data):
        if self.root is None:
            self.files[name] = bytes(data)
            return
        from portier import fsutil

        fsutil.save_atomic(self.root + "/" + name, data)  # on the medium, then renamed

    def _drop(self, name):
        if self.root is None:
            self.files.pop(name, None)
            return
        try:
            os.remove(self.root + "/" + name)
        except OSError:
            pass

    def _names(self):
        if self.root is None:
            return list(self.files)
        return [n for n in os.listdir(self.root) if not n.endswith(".tmp")]


def MemoryStore(trust_on_first_use=True):  # noqa: N802 - reads as a class at call sites
    """A store kept in a dict (its .files): tests, the host's phones."""
    return Store(None, trust_on_first_use)


def FileStore(root, trust_on_first_use=True):  # noqa: N802
    """A store with one file per item under root, replaced atomically by write-then-rename; a
    leftover .tmp (a write cut short, the old file intact) is deleted on opening."""
    root = root.rstrip("/")
    try:
        os.mkdir(root)
    except OSError:
        pass  # exists
    for name in os.listdir(root):
        if name.endswith(".tmp"):
            os.remove(root + "/" + name)
    return Store(root, trust_on_first_use)
