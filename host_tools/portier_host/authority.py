"""The household's pairing authority (docs/security.md 3, docs/protocol.md 8.5): the secret that
decides which devices may pair with the household's doors, kept by the provisioning tool and
never given to the switchboard.

    auth = Authority.create(folder, passphrase)     # households/<h>/pairing.key, encrypted
    auth = Authority.load(folder, passphrase)
    auth.door_key(door_jid)                          # 32 bytes for the door's secrets.json
    auth.authorise(door_jid, device_jid, identity33) # 36 bytes for the device's pair_auth
    auth.revoke(door_jid, device_jid)                # 36 bytes the door takes in <revoke>

The file holds the 32-byte household pairing secret sealed with AES-256-GCM under a key
scrypt derives from a passphrase (n=2^15, r=8, p=1, 16-byte salt): the household folder also
holds the switchboard's CA and sits on the switchboard's host, and a folder copied with it
must not give the authority away. Each door gets its own key, HMAC-SHA256(secret, label |
door JID): a door's flash opens only that door. The authorisations themselves are
portier.pairing's tags (the same code the door checks them with). Serials (one per device and
door, counting up) and what was issued are in authorisations.json beside it (public).
"""

import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from . import paths

paths.use_firmware()
from portier import pairauth  # noqa: E402
from portier.crypto.hmac import hmac_sha256  # noqa: E402

KEY_FILE = "pairing.key"
ISSUED_FILE = "authorisations.json"
PASSPHRASE_ENV = "PORTIER_HOUSEHOLD_PASSPHRASE"
MIN_PASSPHRASE = 8
_SECRET_LEN = 32
_DOOR_LABEL = b"portier-door-pair-key-1\x00"
_SCRYPT = {"n": 1 << 15, "r": 8, "p": 1}


class AuthorityError(Exception):
    pass


def _kek(passphrase, salt, n, r, p):
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _write(path, data, mode):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


class Authority:
    def __init__(self, secret, folder=None):
        if len(secret) != _SECRET_LEN:
            raise AuthorityError("a pairing secret is %d bytes" % _SECRET_LEN)
        self._secret = bytes(secret)
        self.folder = folder  # None: in memory (tests, the simulator)
        self._issued = {"next": {}, "revoked": {}}
        if folder is not None:
            try:
                with open(os.path.join(folder, ISSUED_FILE)) as f:
                    self._issued = json.load(f)
            except FileNotFoundError:
                pass

    def __repr__(self):  # never the secret
        return "<Authority %s>" % (self.folder or "in memory")

    @classmethod
    def new(cls):
        return cls(os.urandom(_SECRET_LEN))

    @classmethod
    def create(cls, folder, passphrase):
        if os.path.exists(os.path.join(folder, KEY_FILE)):
            raise AuthorityError("%s already holds a pairing authority" % folder)
        if len(passphrase) < MIN_PASSPHRASE:
            raise AuthorityError("the household passphrase needs at least %d characters"
                                 % MIN_PASSPHRASE)
        auth = cls(os.urandom(_SECRET_LEN), folder)
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = AESGCM(_kek(passphrase, salt, **_SCRYPT)).encrypt(nonce, auth._secret, b"portier")
        doc = dict(_SCRYPT, v=1, salt=salt.hex(), nonce=nonce.hex(), sealed=sealed.hex())
        os.makedirs(folder, exist_ok=True)
        _write(os.path.join(folder, KEY_FILE), json.dumps(doc).encode(), 0o600)
        return auth

    @classmethod
    def load(cls, folder, passphrase):
        path = os.path.join(folder, KEY_FILE)
        try:
            with open(path) as f:
                doc = json.load(f)
            salt, nonce, sealed = (bytes.fromhex(doc[k]) for k in ("salt", "nonce", "sealed"))
            kek = _kek(passphrase, salt, int(doc["n"]), int(doc["r"]), int(doc["p"]))
        except FileNotFoundError:
            raise AuthorityError("no pairing authority in %s (households made before it: "
                                 "`portier devices init`)" % folder) from None
        except (ValueError, KeyError, TypeError) as e:
            raise AuthorityError("%s is damaged: %s" % (path, e)) from None
        try:
            return cls(AESGCM(kek).decrypt(nonce, sealed, b"portier"), folder)
        except InvalidTag:
            raise AuthorityError("wrong household passphrase") from None

    @staticmethod
    def exists(folder):
        return os.path.exists(os.path.join(folder, KEY_FILE))

    def door_key(self, door):
        return hmac_sha256(self._secret, _DOOR_LABEL + door.encode())

    def _save(self):
        if self.folder is not None:
            _write(os.path.join(self.folder, ISSUED_FILE),
                   json.dumps(self._issued, indent=1, sort_keys=True).encode(), 0o644)

    def authorise(self, door, device, identity_key):
        """The authorisation for `device` (its 33-byte identity key) to pair with `door`, under
        the next serial for that pair (above any revoked one)."""
        key = "%s %s" % (door, device)
        serial = max(self._issued["next"].get(key, 1), self._issued["revoked"].get(key, 0) + 1)
        self._issued["next"][key] = serial + 1
        self._save()
        return pairauth.auth_tag(self.door_key(door), door, device, identity_key, serial)

    def revoke(self, door, device):
        """The revocation of every authorisation of `device` at `door` issued so far."""
        key = "%s %s" % (door, device)
        serial = max(self._issued["next"].get(key, 1) - 1, self._issued["revoked"].get(key, 0), 1)
        self._issued["revoked"][key] = serial
        self._save()
        return pairauth.revoke_tag(self.door_key(door), door, device, serial)

    def doors_of(self, device):
        """The doors `device` was ever authorised for."""
        return sorted(k.split(" ")[0] for k in self._issued["next"] if k.split(" ")[1] == device)


def read_passphrase(env=os.environ, confirm=False, prompt=None):
    """$PORTIER_HOUSEHOLD_PASSPHRASE, else a prompt without echo (twice when confirm)."""
    import getpass

    if PASSPHRASE_ENV in env:
        return env[PASSPHRASE_ENV]
    prompt = prompt or getpass.getpass
    text = prompt("Household passphrase (the pairing authority): ")
    if confirm and prompt("The passphrase again: ") != text:
        raise AuthorityError("the two passphrases differ")
    return text


def open_or_create(folder, env=os.environ, prompt=None):
    """(authority, created): the household's, made the first time (asks twice then)."""
    if Authority.exists(folder):
        return Authority.load(folder, read_passphrase(env, prompt=prompt)), False
    return Authority.create(folder, read_passphrase(env, confirm=True, prompt=prompt)), True
