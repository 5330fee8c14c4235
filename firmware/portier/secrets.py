# The board's secrets: one small JSON file beside the config, written by `portier provision`
# (mode 0600 on the host) and copied to flash by `portier deploy`. Kept apart from the config
# so the config can be shown, logged and diffed; nothing in the firmware logs a field of this.
#
# {"wifi_password": "...",                      (absent: an open network)
#  "unlock_pin": {"salt": "<32 hex>", "hmac": "<64 hex>"},  (absent: unlock is off)
#  "pair_key": "<64 hex>"}  (the door's pairing key, portier.pairing; absent: no new pairings)
#
# The PIN is never stored: only HMAC-SHA256(key=salt, msg=PIN as ASCII digits), so a config
# backup does not reveal it. (Someone holding the flash holds the door anyway: the relay pin
# is one GPIO away.) Checking a PIN against the verifier is portier.unlock's job.
import json
from binascii import unhexlify

from micropython import const

from portier import fsutil
from portier.jsondepth import too_deep

_MAX_FILE = const(1024)
_MAX_PASSWORD = const(63)  # WPA2-PSK passphrase: 8..63 characters
_SALT_LEN = const(16)
_HMAC_LEN = const(32)
_PAIR_KEY_LEN = const(32)


class SecretsError(ValueError):
    pass


class Secrets:
    def __init__(self, wifi_password=None, pin_salt=None, pin_hmac=None, pair_key=None):
        self.wifi_password = wifi_password
        self.pair_key = pair_key  # 32 bytes or None (portier.pairing: authorisations' key)
        self.pin_salt = pin_salt  # bytes or None (no PIN: unlock refused)
        self.pin_hmac = pin_hmac

    def __repr__(self):  # never the values: a repr ends up in logs and tracebacks
        return "<Secrets wifi=%s pin=%s pair_key=%s>" % (
            self.wifi_password is not None, self.pin_hmac is not None, self.pair_key is not None)


def _hex(d, key, n, where="unlock_pin."):
    v = d.get(key)
    if not isinstance(v, str) or len(v) != 2 * n:
        raise SecretsError("%s%s must be %d hex digits" % (where, key, 2 * n))
    try:
        return unhexlify(v)
    except ValueError:
        raise SecretsError("%s%s is not hex" % (where, key))


def check(d):
    """A parsed JSON object -> Secrets; SecretsError naming the field on anything wrong."""
    if not isinstance(d, dict):
        raise SecretsError("secrets must be an object")
    for k in d:
        if k not in ("wifi_password", "unlock_pin", "pair_key"):
            raise SecretsError("unknown key %s in secrets" % k)
    password = d.get("wifi_password")
    if password is not None:
        if not isinstance(password, str) or not 8 <= len(password) <= _MAX_PASSWORD:
            raise SecretsError("wifi_password must be 8..%d characters" % _MAX_PASSWORD)
    pin = d.get("unlock_pin")
    salt = mac = None
    if pin is not None:
        if not isinstance(pin, dict) or sorted(pin.keys()) != ["hmac", "salt"]:
            raise SecretsError("unlock_pin must hold exactly salt and hmac")
        salt = _hex(pin, "salt", _SALT_LEN)
        mac = _hex(pin, "hmac", _HMAC_LEN)
    pair_key = None
    if d.get("pair_key") is not None:
        pair_key = _hex(d, "pair_key", _PAIR_KEY_LEN, "")
    return Secrets(password, salt, mac, pair_key)


def loads(data):
    if len(data) > _MAX_FILE:
        raise SecretsError("secrets of %d bytes, over %d" % (len(data), _MAX_FILE))
    if too_deep(data):
        raise SecretsError("secrets file nested too deep")
    try:
        d = json.loads(data)
    except ValueError:  # not the message: it may quote the file's text
        raise SecretsError("secrets file is not JSON")
    return check(d)


def load(path):
    """The secrets file the config names (None: no secrets, so an open WLAN and unlock off).
    A named file that is missing is an error: a forgotten copy must not turn unlock off
    silently."""
    if path is None:
        return Secrets()
    try:
        data = fsutil.load(path, _MAX_FILE)
    except OSError as e:
        raise SecretsError("secrets %s: %s" % (path, e))
    if data is None:
        raise SecretsError("no secrets file %s" % path)
    return loads(data)
