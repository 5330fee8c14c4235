"""`portier secrets`: change a provisioned door's unlock PIN or its Wi-Fi (network name and
password) in its bundle, without new keys: the door keeps its JID, its Signal identity and its
paired phones. `portier deploy --device` then copies just portier.json and secrets.json to the
board (the store on the board stays), and the door uses them from its next start.

The PIN and the password are asked without echo, or come from PORTIER_PIN /
PORTIER_WIFI_PASSWORD, as in `portier provision`; never from the command line, never printed.
Everything else secrets.json holds is kept as it was.
"""

import json
import os
import sys

from . import bundle, provision
from .provision import ProvisionError

EXAMPLE = """examples:
  portier secrets --device devices/door:1@home --pin
  portier secrets --device devices/door:1@home --wifi new-network
  portier deploy --port /dev/ttyUSB0 --device devices/door:1@home   (then: onto the board)"""


def _door_config(folder):
    """The bundle's portier.json as a dict, checked to be a door's with a secrets file."""
    provision.load_bundle_config(folder)  # a bundle at all, every path inside it
    path = os.path.join(folder, bundle.CONFIG_NAME)
    with open(path) as f:
        cfg = json.load(f)
    if cfg.get("profile", "door") != "door" or not cfg.get("secrets"):
        raise ProvisionError("%s is not a door's bundle with a secrets file" % folder)
    if cfg["secrets"] != bundle.SECRETS_NAME:
        raise ProvisionError("%s: secrets file %r, not %r" % (path, cfg["secrets"],
                                                              bundle.SECRETS_NAME))
    return cfg


def change(folder, wifi_ssid=None, wifi_password=None, pin=None):
    """New Wi-Fi (wifi_ssid with wifi_password, "" for an open network) and/or a new PIN (""
    turns unlock off) in the bundle at folder; None leaves that part as it is. wifi_password
    and pin may be callables that ask, called once the bundle has been checked. Returns what
    changed, e.g. ["wifi", "pin"]."""
    cfg = _door_config(folder)
    doc, replace, changed = {}, [], []
    if wifi_ssid is not None:
        if not wifi_ssid or len(wifi_ssid) > 32:
            raise ProvisionError("a Wi-Fi network name has 1 to 32 characters")
        password = wifi_password() if callable(wifi_password) else wifi_password
        doc.update(bundle.secrets_document(wifi_password=password or ""))
        replace.append("wifi_password")
        cfg = dict(cfg, wifi=dict(cfg.get("wifi") or {}, ssid=wifi_ssid))
        bundle.check_config(cfg)
        changed.append("wifi")
    if pin is not None:
        value = pin() if callable(pin) else pin
        doc.update(bundle.secrets_document(pin=value))
        replace.append("unlock_pin")
        changed.append("pin")
    if not changed:
        raise ProvisionError("nothing to change: give --pin and/or --wifi SSID")
    bundle.write_secrets(folder, doc, replace)  # secrets first: a config naming a network
    if "wifi" in changed:  # whose password is not there yet would be the worse half
        bundle.write_config(folder, cfg)
    return changed


def main(args):
    if not (args.pin or args.wifi):
        print("secrets: nothing to change: give --pin and/or --wifi SSID", file=sys.stderr)
        return 2
    try:
        changed = change(args.device, wifi_ssid=args.wifi,
                         wifi_password=(lambda: provision.read_wifi_password(args.wifi)),
                         pin=provision.read_pin if args.pin else None)
    except (ProvisionError, EOFError) as e:
        print("secrets: %s" % (str(e) or "no input"), file=sys.stderr)
        return 2
    step = "portier deploy --port PORT --device %s" % args.device
    if args.json:
        print(json.dumps({"device": args.device, "changed": changed, "next": [step]}))
        return 0
    what = {"wifi": "the Wi-Fi network %s and its password" % args.wifi, "pin": "the unlock PIN"}
    print("secrets: %s: changed %s (keys, JID and pairings kept)"
          % (args.device, " and ".join(what[c] for c in changed)))
    print("next: onto the board (copies portier.json and secrets.json; the door restarts):")
    print("  " + step)
    return 0


def add_arguments(p):
    p.add_argument("--device", required=True, metavar="DIR",
                   help="the door's bundle folder (`portier provision` made it)")
    p.add_argument("--pin", action="store_true", help="a new unlock PIN (asked twice without "
                   "echo, or $%s; empty: unlock off)" % provision.PIN_ENV)
    p.add_argument("--wifi", metavar="SSID", help="a new Wi-Fi network (its password asked "
                   "without echo, or $%s; empty: an open network)" % provision.WIFI_PASSWORD_ENV)
    p.add_argument("--json", action="store_true", help="the result as JSON on stdout")
