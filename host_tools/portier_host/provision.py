"""`portier provision`: make one door's bundle, the folder `portier deploy --device` copies.

    portier provision --board esp32-devkitc --wifi home-net --switchboard 192.168.1.10:5222 \\
        --household home [--name door] [--out DIR] [--household-dir DIR] [--db FILE] [--force]

It wraps portier_host.provisioning (the simulator runs the same functions): the household's
switchboard CA and server certificate (made, and said so, when the household folder does not
exist yet), the door's TLS client certificate, its Signal identity, signed prekey and one-time
prekeys, registered in the switchboard's database. The bundle holds exactly what the board's
flash gets, under the names the board opens them by:

    portier.json   the config (portier.config), every path in it relative to the flash root
    board.json     the board file (boards/B.json); absent for the virtual board ("vboard")
    secrets.json   portier.secrets: WLAN password, unlock PIN verifier          (mode 0600)
    ca.der         the switchboard's CA: the only certificate the board trusts (pinning)
    cert.der, key.der  the board's TLS client certificate and key              (key 0600)
    keys/          the Signal store: identity, signed prekey, one-time prekeys  (0600)

plus host-side copies (cert.pem, key.pem, ca.pem, jid) that deploy does not copy. The folder is
0700 and every file in it 0600 but the public certificates. The WLAN password and the PIN come
from a prompt without echo, or from PORTIER_WIFI_PASSWORD / PORTIER_PIN (scripts, tests); never
from the command line, never printed. The PIN is not stored: secrets.json holds a random 16-byte
salt and HMAC-SHA256(key=salt, msg=the PIN's ASCII digits).
"""

import argparse
import getpass
import hashlib
import hmac
import ipaddress
import json
import os
import shutil
import sys

from . import boards, paths

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402
from portier import secrets as fwsecrets  # noqa: E402

VIRTUAL_BOARD = "vboard"
CONFIG_NAME = "portier.json"
BOARD_NAME = "board.json"
SECRETS_NAME = "secrets.json"
STORE_NAME = "keys"
PIN_SALT_LEN = 16
PIN_DIGITS = (4, 12)
WIFI_PASSWORD_ENV = "PORTIER_WIFI_PASSWORD"
PIN_ENV = "PORTIER_PIN"
# The virtual board's door has no microphone: it sends silence (frames still flow every 20 ms).
VBOARD_AUDIO = {"realtime": True, "rate": 16000}
_PUBLIC = ("ca.der", "ca.pem", "cert.der", "cert.pem", "jid", CONFIG_NAME, BOARD_NAME,
           "phone.json")


class ProvisionError(Exception):
    pass


def parse_switchboard(text):
    """"HOST:PORT" -> (host, port); IPv6 as [addr]:port."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ProvisionError("--switchboard must be HOST:PORT, got %r" % text)
    return host, int(port)


def pin_verifier(pin, salt):
    """HMAC-SHA256(key=salt, msg=PIN digits): what portier.unlock checks a PIN against."""
    return hmac.new(salt, pin.encode("ascii"), hashlib.sha256).digest()


def check_pin(pin):
    lo, hi = PIN_DIGITS
    if not (pin.isascii() and pin.isdigit() and lo <= len(pin) <= hi):
        raise ProvisionError("the unlock PIN must be %d to %d digits" % (lo, hi))
    return pin


def check_wifi_password(password):
    if password and not 8 <= len(password) <= 63:
        raise ProvisionError("a WPA2 password has 8 to 63 characters (empty: an open network)")
    return password


def secrets_document(wifi_password, pin, salt=None):
    """The secrets.json object (portier.secrets format). Empty password: an open network;
    empty PIN: unlock off."""
    doc = {}
    if wifi_password:
        doc["wifi_password"] = check_wifi_password(wifi_password)
    if pin:
        salt = os.urandom(PIN_SALT_LEN) if salt is None else salt
        doc["unlock_pin"] = {"salt": salt.hex(), "hmac": pin_verifier(check_pin(pin), salt).hex()}
    fwsecrets.check(doc)  # the board's own parser must take it
    return doc


def read_wifi_password(ssid, env=os.environ, prompt=getpass.getpass):
    if WIFI_PASSWORD_ENV in env:
        return check_wifi_password(env[WIFI_PASSWORD_ENV])
    return check_wifi_password(prompt("WLAN password for %s (empty: an open network): " % ssid))


def read_pin(env=os.environ, prompt=getpass.getpass):
    if PIN_ENV in env:
        pin = env[PIN_ENV]
        return check_pin(pin) if pin else ""
    pin = prompt("Door unlock PIN, %d-%d digits (empty: unlock off): " % PIN_DIGITS)
    if not pin:
        return ""
    check_pin(pin)
    if prompt("The PIN again: ") != pin:
        raise ProvisionError("the two PINs differ")
    return pin


def door_config(jid, household, host, port, ssid, board_file):
    """The board's portier.json, checked by the firmware's own config parser."""
    cfg = {
        "jid": jid, "profile": "door", "household": household,
        "switchboard": {"host": host, "port": port, "insecure": False, "server_name": host},
        "tls": {"ca": "ca.der", "cert": "cert.der", "key": "key.der"},
        "e2e_store": STORE_NAME, "call_log": "calls.json", "door_log": "doorlog.json",
        "wifi": {"ssid": ssid}, "secrets": SECRETS_NAME,
        "audio": dict(VBOARD_AUDIO) if board_file is None else {"board": "esp32",
                                                                 "file": BOARD_NAME},
    }
    try:
        fwconfig.check(json.loads(json.dumps(cfg)))
    except fwconfig.ConfigError as e:
        raise ProvisionError("config: %s" % e) from None
    return cfg


def _server_names(household):
    from cryptography import x509

    try:
        sans = household.server.cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return set(sans.get_values_for_type(x509.DNSName)) | set(
        str(a) for a in sans.get_values_for_type(x509.IPAddress))


def _host_key(host):
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def open_household(name, folder, host):
    """(household, created): the household saved in folder, or a new one for `host`."""
    from . import provisioning

    if os.path.exists(os.path.join(folder, "household")):
        hh = provisioning.load_household(folder)
        if hh.name != name:
            raise ProvisionError("%s holds household %r, not %r" % (folder, hh.name, name))
        names = _server_names(hh)
        if _host_key(host) not in names:
            raise ProvisionError("the switchboard certificate in %s is for %s, not %s: give the "
                                 "address the switchboard has in that certificate"
                                 % (folder, ", ".join(sorted(names)), host))
        return hh, False
    hosts = [host] + [h for h in ("localhost", "127.0.0.1", "::1") if h != host]
    return provisioning.create_household(name, folder=folder, hosts=hosts), True


def _write_private_json(path, doc):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def _tighten(folder):
    """Folder tree 0700, every file 0600 but the public ones (0644)."""
    for dirpath, _, names in os.walk(folder):
        os.chmod(dirpath, 0o700)
        for n in names:
            public = n in _PUBLIC and dirpath == folder
            os.chmod(os.path.join(dirpath, n), 0o644 if public else 0o600)


class Bundle:
    def __init__(self, folder, jid, household_dir, household_created, db, files):
        self.folder = folder
        self.jid = jid
        self.household_dir = household_dir
        self.household_created = household_created
        self.db = db
        self.files = files  # relative paths deploy copies


def provision(board, wifi_ssid, switchboard, household, wifi_password, pin, name="door",
              out=None, household_dir=None, db=None, force=False, prekeys=None):
    """Make a door's bundle; returns a Bundle. board: a name in boards/, a board file, or
    "vboard". wifi_password and pin: the secrets ("" for an open network / unlock off)."""
    from . import provisioning

    board_obj = None
    if board != VIRTUAL_BOARD:
        try:
            board_obj = boards.load_board(board)
        except boards.BoardError as e:
            raise ProvisionError(str(e)) from None
    doc = secrets_document(wifi_password, pin)
    with _NewDevice(switchboard, household, name, out, household_dir, db, force) as new:
        host, port, hh, database = new.host, new.port, new.household, new.database
        jid, number, folder = new.jid, new.number, new.folder
        parent = os.path.dirname(os.path.abspath(folder))
        os.makedirs(parent, exist_ok=True)  # devices/ itself keeps the usual mode
        cfg = door_config(jid, household, host, port, wifi_ssid, board_obj)
        old_umask = os.umask(0o077)  # private from the first byte; public files opened up below
        made = not os.path.exists(folder)
        try:
            os.makedirs(folder, exist_ok=True)
            kwargs = {} if prekeys is None else {"prekeys": prekeys}
            provisioning.add_device(hh, name, db=database, folder=folder, number=number, **kwargs)
            with open(os.path.join(folder, CONFIG_NAME), "w") as f:
                json.dump(cfg, f, indent=1)
                f.write("\n")
            if board_obj is not None:
                shutil.copyfile(board_obj.source, os.path.join(folder, BOARD_NAME))
            _write_private_json(os.path.join(folder, SECRETS_NAME), doc)
        except BaseException:
            if made:  # no half bundle left behind to be refused as "exists" next time
                shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            os.umask(old_umask)
        _tighten(folder)
    return Bundle(folder, jid, new.household_dir, new.created, new.db, bundle_files(folder))


PHONE_CONFIG_NAME = "phone.json"


def provision_phone(switchboard, household, door, name, out=None, household_dir=None, db=None,
                    force=False):
    """A softphone of the household for `portier phone --config DIR/phone.json`: the same
    identity, certificate and store as a door gets, a config with absolute paths (a host
    program runs from anywhere) that pairs with and calls `door`. No secrets: a phone opens no
    door by PIN of its own, it sends the one its user types."""
    from . import provisioning

    door = door or "door:1@%s" % household
    try:
        fwconfig.check_jid(door, "--door")
    except fwconfig.ConfigError as e:
        raise ProvisionError(str(e)) from None
    with _NewDevice(switchboard, household, name, out, household_dir, db, force) as new:
        host, port, hh, database = new.host, new.port, new.household, new.database
        jid, number, folder = new.jid, new.number, new.folder
        os.makedirs(folder, mode=0o700, exist_ok=True)
        provisioning.add_device(hh, name, db=database, folder=folder, number=number)
        base = os.path.abspath(folder)
        cfg = {"jid": jid, "profile": "phone", "household": household,
               "switchboard": {"host": host, "port": port, "insecure": False,
                               "server_name": host},
               "tls": dict((k, os.path.join(base, k + ".der")) for k in ("ca", "cert", "key")),
               "e2e_store": os.path.join(base, STORE_NAME),
               "call_log": os.path.join(base, "calls.json"),
               "pair_with": [door], "call": door, "control": "stdin"}
        fwconfig.check(json.loads(json.dumps(cfg)))
        with open(os.path.join(folder, PHONE_CONFIG_NAME), "w") as f:
            json.dump(cfg, f, indent=1)
            f.write("\n")
        _tighten(folder)
    return Bundle(folder, jid, new.household_dir, new.created, new.db, [PHONE_CONFIG_NAME])


class _NewDevice:
    """The account step both bundles share, as a `with` block: the household (made the first
    time), its registration in the switchboard database, the device's JID name:N@household,
    and its bundle folder (refused if it exists, unless force). Database and config errors in
    the block become ProvisionError; the database is closed at its end."""

    def __init__(self, switchboard, household, name, out, household_dir, db, force):
        self.host, self.port = parse_switchboard(switchboard)
        self.household_dir = household_dir or os.path.join("households", household)
        self.db = db or os.path.join(self.household_dir, "switchboard.db")
        self._args = (household, name, out, force)
        self.database = None

    def __enter__(self):
        from . import provisioning
        from .switchboard_db import Database

        household, name, out, force = self._args
        self.household, self.created = open_household(household, self.household_dir, self.host)
        self.database = Database(self.db)
        try:
            provisioning.register_household(self.database, self.household)
            self.number = self.database.next_device_number(household, name)
            self.jid = fwconfig.check_jid("%s:%d@%s" % (name, self.number, household))
            self.folder = out or os.path.join("devices", self.jid)
            _clear(self.folder, force)
        except BaseException as e:
            self.__exit__(type(e), e, None)
            raise
        return self

    def __exit__(self, kind, e, tb):
        from .switchboard_db import DbError

        self.database.close()
        if isinstance(e, (DbError, fwconfig.ConfigError)):
            raise ProvisionError(str(e)) from None
        return False


def _clear(folder, force):
    if os.path.exists(folder) and os.listdir(folder):
        if not force:
            raise ProvisionError("%s exists: a device bundle is never overwritten without "
                                 "--force (its keys would be lost)" % folder)
        shutil.rmtree(folder)


def bundle_files(folder):
    """The files of a bundle that go to the board: portier.json and every file it names."""
    cfg = load_bundle_config(folder)
    files = [CONFIG_NAME]
    for key in ("ca", "cert", "key"):
        files.append(cfg.tls[key])
    if cfg.secrets:
        files.append(cfg.secrets)
    if cfg.audio.get("file"):
        files.append(cfg.audio["file"])
    store = os.path.join(folder, cfg.e2e_store)
    for n in sorted(os.listdir(store)):
        if not n.endswith(".tmp"):
            files.append(cfg.e2e_store + "/" + n)
    return files


class BundleConfig:
    def __init__(self, d):
        self.tls = d.get("tls") or {}
        self.secrets = d.get("secrets")
        self.audio = d.get("audio") or {}
        self.e2e_store = d["e2e_store"]


def load_bundle_config(folder):
    path = os.path.join(folder, CONFIG_NAME)
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ProvisionError("no device bundle in %s (%s): make one with `portier provision`"
                             % (folder, e.strerror)) from None
    try:
        fwconfig.loads(text)
    except fwconfig.ConfigError as e:
        raise ProvisionError("%s: %s" % (path, e)) from None
    d = json.loads(text)
    for rel in [d["e2e_store"]] + [v for v in (d.get("tls") or {}).values()] + [d.get("secrets")]:
        if rel and (rel.startswith("/") or ".." in rel.split("/")):
            raise ProvisionError("%s: %s is not a path inside the bundle" % (path, rel))
    return BundleConfig(d)


def _describe(bundle):
    lines = ["provision: %s registered in %s" % (bundle.jid, bundle.db)]
    if bundle.household_created:
        lines.append("provision: made household folder %s (switchboard CA, server certificate, "
                     "relay secret)" % bundle.household_dir)
    lines.append("provision: wrote %s/ (mode 0700):" % bundle.folder)
    for rel in bundle.files:
        mode = os.stat(os.path.join(bundle.folder, rel)).st_mode & 0o777
        if not rel.startswith(STORE_NAME + "/"):
            lines.append("  %-14s %04o" % (rel, mode))
    n_store = sum(1 for rel in bundle.files if rel.startswith(STORE_NAME + "/"))
    lines.append("  %-14s %d files: Signal identity, signed prekey, one-time prekeys (0600)"
                 % (STORE_NAME + "/", n_store))
    return lines


def _main_phone(args):
    try:
        bundle = provision_phone(args.switchboard, args.household, args.door, args.name or "phone",
                                 out=args.out, household_dir=args.household_dir, db=args.db,
                                 force=args.force)
    except ProvisionError as e:
        print("provision: %s" % e, file=sys.stderr)
        return 2
    print("provision: %s registered in %s" % (bundle.jid, bundle.db))
    if bundle.household_created:
        print("provision: made household folder %s (switchboard CA, server certificate, relay "
              "secret)" % bundle.household_dir)
    print("provision: wrote %s/ (mode 0700): phone.json, ca.der, cert.der, key.der (0600), "
          "keys/ (0600)" % bundle.folder)
    print("next (with the switchboard running):")
    print("  portier phone --config %s" % os.path.join(bundle.folder, PHONE_CONFIG_NAME))
    return 0


def main(args):
    if getattr(args, "bridge", False):
        from .bridge import provision as bridge_provision

        return bridge_provision.main(args)
    if args.phone:
        return _main_phone(args)
    if not args.board or not args.wifi:
        print("provision: a door needs --board and --wifi (a softphone: --phone)", file=sys.stderr)
        return 2
    try:
        password = read_wifi_password(args.wifi)
        pin = read_pin()
        bundle = provision(args.board, args.wifi, args.switchboard, args.household, password,
                           pin, name=args.name or "door", out=args.out, household_dir=args.household_dir,
                           db=args.db, force=args.force, prekeys=args.prekeys)
    except (ProvisionError, EOFError) as e:
        print("provision: %s" % (e or "no input"), file=sys.stderr)
        return 2
    for line in _describe(bundle):
        print(line)
    if not pin:
        print("provision: no unlock PIN: the door will refuse every unlock")
    print("next:")
    print("  portier switchboard --provisioning %s --db %s --host 0.0.0.0 --port %d"
          % (bundle.household_dir, bundle.db, parse_switchboard(args.switchboard)[1]))
    print("  portier deploy --port PORT --device %s" % bundle.folder)
    return 0


def add_arguments(p):
    p.add_argument("--board", help="a name in boards/, a board file, or %r (the virtual "
                   "board)" % VIRTUAL_BOARD)
    p.add_argument("--wifi", metavar="SSID", help="the WLAN the door joins (password: "
                   "prompted, or $%s; the unlock PIN: prompted, or $%s)"
                   % (WIFI_PASSWORD_ENV, PIN_ENV))
    p.add_argument("--phone", action="store_true", help="a household softphone instead of a "
                   "door (for `portier phone --config`)")
    p.add_argument("--bridge", action="store_true", help="a SIP bridge (`portier bridge`, "
                   "docs/sip.md); with --sip-registrar URI, --sip-user NAME, --sip-target URI "
                   "(repeat); the SIP password from $PORTIER_SIP_PASSWORD")
    p.add_argument("--sip-registrar", metavar="URI", help=argparse.SUPPRESS)
    p.add_argument("--sip-user", metavar="NAME", help=argparse.SUPPRESS)
    p.add_argument("--sip-target", metavar="URI", action="append", help=argparse.SUPPRESS)
    p.add_argument("--door", metavar="JID", help="with --phone: the door it pairs with and "
                   "calls (default door:1@<household>)")
    p.add_argument("--switchboard", required=True, metavar="HOST:PORT",
                   help="where the door reaches the switchboard (its certificate names HOST)")
    p.add_argument("--household", required=True)
    p.add_argument("--name", default=None, help="the device's account name (default door, "
                   "or phone with --phone)")
    p.add_argument("--out", help="the bundle folder (default devices/<jid>)")
    p.add_argument("--household-dir", help="the switchboard's household folder (default "
                   "households/<household>; made when missing)")
    p.add_argument("--db", help="the switchboard database (default <household-dir>/switchboard.db)")
    p.add_argument("--prekeys", type=int, help="one-time prekeys to make (default 20)")
    p.add_argument("--force", action="store_true", help="replace an existing bundle folder")
