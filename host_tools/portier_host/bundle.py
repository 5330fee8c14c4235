"""A device's bundle as the firmware reads it: its config (portier.config) and its secrets
(portier.secrets: the WLAN password, the unlock PIN's verifier, the pairing key).

The one writer of both for every device the host tools make: `portier provision` (a door's
bundle on flash, a phone's and a bridge's config), `portier secrets`, the simulator's household
and the tests. Each document is checked by the firmware's own parser before it is written, and
written by rename: a failure leaves the old file. The PIN verifier is the firmware's own
(portier.unlock.pin_verifier), so what is written is what the door checks a PIN against.

    cfg = device_config(jid, host, port, base=folder, profile="phone", call=door)
    write_config(folder, cfg, PHONE_CONFIG_NAME)
    write_secrets(folder, secrets_document(wifi_password, pin, pair_key))
"""

import json
import os

from . import paths
from .provisioning import write_atomic

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402
from portier import secrets as fwsecrets  # noqa: E402
from portier import unlock as fwunlock  # noqa: E402

CONFIG_NAME = "portier.json"  # a board's: the name main.py opens
PHONE_CONFIG_NAME = "phone.json"
SECRETS_NAME = "secrets.json"
STORE_NAME = "keys"
CALL_LOG_NAME = "calls.json"
PIN_SALT_LEN = 16
PIN_DIGITS = (fwunlock.PIN_MIN, fwunlock.PIN_MAX)


class BundleError(Exception):
    """A config or secret the firmware would refuse, or a bundle file that cannot be read."""


def check_pin(pin):
    lo, hi = PIN_DIGITS
    if not (pin.isascii() and pin.isdigit() and lo <= len(pin) <= hi):
        raise BundleError("the unlock PIN must be %d to %d digits" % (lo, hi))
    return pin


def pin_verifier(salt, pin):
    """What secrets.json keeps instead of the PIN: the door's own verifier (portier.unlock)."""
    return fwunlock.pin_verifier(salt, check_pin(pin))


def check_wifi_password(password):
    if password and not 8 <= len(password) <= 63:
        raise BundleError("a WPA2 password has 8 to 63 characters (empty: an open network)")
    return password


def secrets_document(wifi_password="", pin="", pair_key=None, salt=None):
    """The secrets.json object (portier.secrets format). Empty password: an open network;
    empty PIN: unlock off; pair_key (bytes): the door's key from the household's pairing
    authority (protocol 8.5). salt: the PIN's, random unless given."""
    doc = {}
    if wifi_password:
        doc["wifi_password"] = check_wifi_password(wifi_password)
    if pin:
        salt = os.urandom(PIN_SALT_LEN) if salt is None else salt
        doc["unlock_pin"] = {"salt": salt.hex(), "hmac": pin_verifier(salt, pin).hex()}
    if pair_key is not None:
        doc["pair_key"] = pair_key.hex()
    _check_secrets(doc)
    return doc


def _check_secrets(doc):
    try:
        fwsecrets.check(doc)  # the board's own parser must take it
    except ValueError as e:
        raise BundleError("secrets: %s" % e) from None


def read_secrets(folder, name=SECRETS_NAME):
    """The secrets document in folder, {} when there is none."""
    path = os.path.join(folder, name)
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise BundleError("%s: %s" % (path, getattr(e, "strerror", None) or e)) from None
    if not isinstance(doc, dict):
        raise BundleError("%s is not a JSON object" % path)
    return doc


def write_secrets(folder, doc, replace=None, name=SECRETS_NAME):
    """The secrets file in folder (mode 0600): the keys in `replace` (default: doc's own) from
    doc, absent there removed, every other key as it was (a key another tool keeps there
    survives); returns its path."""
    replace = tuple(doc) if replace is None else replace
    merged = dict((k, v) for k, v in read_secrets(folder, name).items() if k not in replace)
    merged.update((k, doc[k]) for k in replace if k in doc)
    _check_secrets(merged)
    path = os.path.join(folder, name)
    write_json(path, merged, private=True)
    return path


def device_config(jid, host, port, base="", server_name=None, insecure=False, **extra):
    """A device's config, checked by the firmware's own parser. The device's files, as
    provisioning.add_device leaves them (ca/cert/key .der, the Signal store, the call log), are
    named under base: "" for a board's bundle, whose paths are relative to its flash root, or
    the folder of a device the host runs. insecure: plain TCP, no TLS files (tests). extra:
    every other config key (profile, audio, wifi, secrets, pair_auth, ...)."""

    def at(name):
        return os.path.join(base, name) if base else name

    cfg = {"jid": jid, "household": jid.rpartition("@")[2],
           "switchboard": {"host": host, "port": port, "insecure": insecure,
                           "server_name": server_name or host},
           "e2e_store": at(STORE_NAME), "call_log": at(CALL_LOG_NAME)}
    if not insecure:
        cfg["tls"] = dict((k, at(k + ".der")) for k in ("ca", "cert", "key"))
    cfg.update(extra)
    check_config(cfg)
    return cfg


def check_config(cfg):
    """BundleError unless the firmware's config parser takes cfg (a JSON round trip first, as
    the device reads it from a file)."""
    try:
        fwconfig.check(json.loads(json.dumps(cfg)))
    except fwconfig.ConfigError as e:
        raise BundleError("config: %s" % e) from None


def write_config(folder, cfg, name=CONFIG_NAME, private=False, extra=None):
    """cfg, checked, at folder/name by rename; returns the path. extra: keys only a host
    program reads (a bridge's "sip" block), added after the check. private: mode 0600."""
    check_config(cfg)
    path = os.path.join(folder, name)
    write_json(path, dict(cfg, **(extra or {})), private)
    return path


def write_json(path, doc, private=False):
    """doc as indented JSON at path, by rename: a failure leaves the old file."""
    write_atomic(path, (json.dumps(doc, indent=1) + "\n").encode(), private)
