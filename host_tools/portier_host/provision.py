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
import ipaddress
import json
import os
import shutil
import sys

from . import boards, cliargs, paths
from .bundle import (CONFIG_NAME, PHONE_CONFIG_NAME, PIN_DIGITS, SECRETS_NAME,  # noqa: F401
                     STORE_NAME, check_pin, check_wifi_password, device_config, secrets_document,
                     write_config, write_secrets)
# Every problem with a bundle's config or secrets is a ProvisionError to this tool's callers.
from .bundle import BundleError as ProvisionError

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402

VIRTUAL_BOARD = "vboard"
BOARD_NAME = "board.json"
WIFI_PASSWORD_ENV = "PORTIER_WIFI_PASSWORD"
PIN_ENV = "PORTIER_PIN"
# The virtual board's door has no microphone: it sends silence (frames still flow every 20 ms).
VBOARD_AUDIO = {"realtime": True, "rate": 16000}
_PUBLIC = ("ca.der", "ca.pem", "cert.der", "cert.pem", "jid", CONFIG_NAME, BOARD_NAME,
           "phone.json")


def parse_switchboard(text):
    """"HOST:PORT" -> (host, port); IPv6 as [addr]:port."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ProvisionError("--switchboard must be HOST:PORT, got %r" % text)
    return host, int(port)


def _no_terminal(what, var, prompt):
    """Asking needs a terminal (getpass would echo a piped secret with a warning)."""
    if prompt is getpass.getpass and not sys.stdin.isatty():
        raise ProvisionError("no terminal to ask for %s: set $%s" % (what, var))


def open_authority(household_dir, env=os.environ, prompt=getpass.getpass, create=True):
    """The household's pairing authority (portier_host.authority), made the first time unless
    not create: its passphrase from $PORTIER_HOUSEHOLD_PASSPHRASE or a prompt without echo."""
    from . import authority

    try:
        if not create and not authority.Authority.exists(household_dir):
            raise authority.AuthorityError("%s has no pairing authority: provision its door "
                                           "again (`portier provision ... --force`)"
                                           % household_dir)
        if authority.PASSPHRASE_ENV not in env:
            _no_terminal("the household passphrase", authority.PASSPHRASE_ENV, prompt)
        return authority.open_or_create(household_dir, env, prompt)[0]
    except authority.AuthorityError as e:
        raise ProvisionError(str(e)) from None


def device_identity(folder):
    """The 33-byte Signal identity key of the device bundle in folder (its keys/ store)."""
    from portier.e2e.stores import FileStore

    return FileStore(os.path.join(folder, STORE_NAME)).identity()[1]


def pair_auth(auth, doors, jid, identity_key):
    """A device config's "pair_auth": the household's authorisation for jid (with its
    identity key) at each door, hex; what a phone or a bridge needs to pair (protocol 8.5)."""
    return dict((door, auth.authorise(door, jid, identity_key).hex()) for door in doors)


def read_wifi_password(ssid, env=os.environ, prompt=getpass.getpass):
    if WIFI_PASSWORD_ENV in env:
        return check_wifi_password(env[WIFI_PASSWORD_ENV])
    _no_terminal("the WLAN password", WIFI_PASSWORD_ENV, prompt)
    return check_wifi_password(prompt("WLAN password for %s (empty: an open network): " % ssid))


def read_pin(env=os.environ, prompt=getpass.getpass):
    if PIN_ENV in env:
        pin = env[PIN_ENV]
        return check_pin(pin) if pin else ""
    _no_terminal("the unlock PIN", PIN_ENV, prompt)
    pin = prompt("Door unlock PIN, %d-%d digits (empty: unlock off): " % PIN_DIGITS)
    if not pin:
        return ""
    check_pin(pin)
    if prompt("The PIN again: ") != pin:
        raise ProvisionError("the two PINs differ")
    return pin


def door_config(jid, host, port, ssid, board_file):
    """The board's portier.json: every path relative to its flash root."""
    return device_config(jid, host, port, profile="door", door_log="doorlog.json",
                         wifi={"ssid": ssid}, secrets=SECRETS_NAME,
                         audio=dict(VBOARD_AUDIO) if board_file is None else {"board": "esp32",
                                                                              "file": BOARD_NAME})


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


def _tighten(folder):
    """Folder tree 0700, every file 0600 but the public ones (0644)."""
    for dirpath, _, names in os.walk(folder):
        os.chmod(dirpath, 0o700)
        for n in names:
            public = n in _PUBLIC and dirpath == folder
            os.chmod(os.path.join(dirpath, n), 0o644 if public else 0o600)


class Bundle:
    def __init__(self, folder, jid, household_dir, household_created, db, files, reused=False):
        self.reused = reused  # an existing device's bundle, rewritten (keys and JID kept)
        self.folder = folder
        self.jid = jid
        self.household_dir = household_dir
        self.household_created = household_created
        self.db = db
        self.files = files  # relative paths deploy copies


def load_board_arg(board):
    """--board -> the Board, or None for the virtual board; ProvisionError naming the choices."""
    if board == VIRTUAL_BOARD:
        return None
    try:
        return boards.load_board(board)
    except boards.BoardError as e:
        raise ProvisionError(str(e)) from None


def provision(board, wifi_ssid, switchboard, household, wifi_password, pin, name="door",
              out=None, household_dir=None, db=None, force=False, prekeys=None, new=False,
              new_household=False, authority=None):
    """Make a door's bundle, or rewrite an existing one's config and secrets (see plan());
    returns a Bundle. board: a name in boards/, a board file, or "vboard". wifi_password and
    pin: the secrets ("" for an open network / unlock off), or callables that ask for them
    (called once every other input has been checked). authority(household_dir) -> the
    household's pairing Authority, whose door key goes into secrets.json (None: no key, the
    door then pairs nobody)."""
    board_obj = load_board_arg(board)
    target = plan(switchboard, household, name, out, household_dir, db, force, new,
                  new_household)
    wifi_password, pin = _value(wifi_password), _value(pin)
    with target.open() as new_dev:
        host, port, jid, folder = new_dev.host, new_dev.port, new_dev.jid, new_dev.folder
        cfg = door_config(jid, host, port, wifi_ssid, board_obj)
        pair_key = None if authority is None else authority(new_dev.household_dir).door_key(jid)
        doc = secrets_document(wifi_password, pin, pair_key)
        if new_dev.reuse:
            _rewrite_door(folder, cfg, board_obj, doc)
            return Bundle(folder, jid, new_dev.household_dir, False, new_dev.db,
                          bundle_files(folder), reused=True)
        parent = os.path.dirname(os.path.abspath(folder))
        os.makedirs(parent, exist_ok=True)  # devices/ itself keeps the usual mode
        old_umask = os.umask(0o077)  # private from the first byte; public files opened up below
        made = not os.path.exists(folder)
        try:
            os.makedirs(folder, exist_ok=True)
            new_dev.add_device(prekeys)
            write_config(folder, cfg)
            if board_obj is not None:
                shutil.copyfile(board_obj.source, os.path.join(folder, BOARD_NAME))
            write_secrets(folder, doc)
        except BaseException:
            if made:  # no half bundle left behind to be refused as "exists" next time
                shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            os.umask(old_umask)
        _tighten(folder)
    return Bundle(folder, jid, new_dev.household_dir, new_dev.created, new_dev.db,
                  bundle_files(folder))


def _value(v):
    return v() if callable(v) else v


def _rewrite_door(folder, cfg, board_obj, doc):
    """An existing door's bundle gets a new config, board file and secrets; its keys,
    certificate and JID stay (its phones stay paired). Secrets other tools keep in
    secrets.json (keys this tool does not write) are kept."""
    write_config(folder, cfg)
    board_path = os.path.join(folder, BOARD_NAME)
    if board_obj is not None:
        shutil.copyfile(board_obj.source, board_path)
    elif os.path.exists(board_path):
        os.remove(board_path)
    write_secrets(folder, doc, replace=("wifi_password", "unlock_pin") + (
        ("pair_key",) if "pair_key" in doc else ()))
    _tighten(folder)


def provision_phone(switchboard, household, door, name, out=None, household_dir=None, db=None,
                    force=False, new=False, new_household=False, authority=None):
    """A softphone of the household for `portier phone --config DIR/phone.json`: the same
    identity, certificate and store as a door gets, a config with absolute paths (a host
    program runs from anywhere) that pairs with and calls `door`. No secrets: a phone opens no
    door by PIN of its own, it sends the one its user types. An existing phone of that name
    gets a new phone.json with --force (plan()). authority(household_dir) -> the household's
    pairing Authority: its authorisation for this phone at `door` goes into the config."""
    door = door or "door:1@%s" % household
    try:
        fwconfig.check_jid(door, "--door")
    except fwconfig.ConfigError as e:
        raise ProvisionError(str(e)) from None
    target = plan(switchboard, household, name, out, household_dir, db, force, new,
                  new_household, rewrites=PHONE_CONFIG_NAME)
    with target.open() as new_dev:
        host, port, jid, folder = new_dev.host, new_dev.port, new_dev.jid, new_dev.folder
        auth = None if authority is None else authority(new_dev.household_dir)  # asks first
        if not new_dev.reuse:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            new_dev.add_device(None)
        extra = {} if auth is None else {
            "pair_auth": pair_auth(auth, [door], jid, device_identity(folder))}
        cfg = device_config(jid, host, port, base=os.path.abspath(folder), profile="phone",
                            pair_with=[door], call=door, control="stdin", **extra)
        pin_door_identity(folder, new_dev.db, door)
        write_config(folder, cfg, PHONE_CONFIG_NAME)
        _tighten(folder)
    return Bundle(folder, jid, new_dev.household_dir, new_dev.created, new_dev.db,
                  [PHONE_CONFIG_NAME], reused=new_dev.reuse)


def pin_door_identity(folder, db, door):
    """The store in folder pins `door`'s Signal identity as registered in the household's
    database at provisioning time, so a switchboard that later hands this device another
    identity for the door (a door it made up, to hear the PIN typed at it) is refused instead
    of trusted on first use. A door not registered yet (provisioned after this device) is left
    to trust on first use; re-provisioning with --force re-pins a re-keyed door.
    True when a pin was written."""
    from portier.e2e.stores import FileStore
    from .switchboard_db import Database

    d = Database(db)
    try:
        record = d.device(door)
    finally:
        d.close()
    if record is None:
        return False
    identity = bytes(record.identity_key)
    store = FileStore(os.path.join(folder, STORE_NAME))
    if store.remote_identity(door) != identity:
        store.forget_peer(door)  # a session with the old identity must not live on
        store.trust(door, identity)
    return True


def _bundle_jid(folder):
    """The JID of the bundle in folder, or None when folder holds none."""
    try:
        with open(os.path.join(folder, "jid")) as f:
            return f.read().strip() or None
    except OSError:
        return None


def _households_near(household_dir, db):
    """The households that exist next to household_dir or in db (a mistyped name's real one)."""
    found = set()
    parent = os.path.dirname(os.path.abspath(household_dir))
    try:
        for n in os.listdir(parent):
            if os.path.exists(os.path.join(parent, n, "household")):
                found.add(n)
    except OSError:
        pass
    if os.path.exists(db):
        from .switchboard_db import Database, DbError

        try:
            d = Database(db)
            try:
                found.update(d.households())
            finally:
                d.close()
        except DbError:
            pass
    return sorted(found)


def _registered(db, household, name):
    """JIDs of account `name` of household in db (none when db does not exist yet)."""
    if not os.path.exists(db):
        return []
    from .switchboard_db import Database, DbError, split_jid

    try:
        d = Database(db)
    except DbError as e:
        raise ProvisionError("%s: %s" % (db, e)) from None
    try:
        return [j for j in d.devices(household) if split_jid(j)[0] == name]
    finally:
        d.close()


class Target:
    """Where a bundle goes, decided before anything is asked for or written (plan())."""

    def __init__(self, host, port, household_dir, db, jid, number, folder, reuse, make_household):
        self.host, self.port = host, port
        self.household_dir = household_dir
        self.db = db
        self.jid = jid
        self.number = number
        self.folder = folder
        self.reuse = reuse  # an existing device: its keys and JID stay
        self.make_household = make_household
        self.created = False
        self.household = None
        self.database = None

    def open(self):
        return _Opened(self)

    def add_device(self, prekeys):
        from . import provisioning

        kwargs = {} if prekeys is None else {"prekeys": prekeys}
        name = self.jid.split(":", 1)[0]
        provisioning.add_device(self.household, name, db=self.database, folder=self.folder,
                                number=self.number, **kwargs)


def plan(switchboard, household, name, out=None, household_dir=None, db=None, force=False,
         new=False, new_household=False, rewrites="config and secrets"):
    """Check every input and decide the device's JID and folder, writing nothing:

    - the household must exist, unless no other household is there (the first one) or
      new_household: a mistyped name is refused, not made a new CA;
    - the JID of a device that exists is kept: `--out DIR` holding a bundle names it (it must
      be a `name` device of this household), else the one `name` device registered; its
      bundle is rewritten only with force (keys and JID stay), and refused when its keys are
      gone. new: a further device (name:N+1) in a folder of its own."""
    host, port = parse_switchboard(switchboard)
    try:
        fwconfig.check_jid("%s:1@%s" % (name, household), "--name/--household")
    except fwconfig.ConfigError as e:
        raise ProvisionError(str(e)) from None
    household_dir = household_dir or os.path.join("households", household)
    db = db or os.path.join(household_dir, "switchboard.db")
    make_household = not os.path.exists(os.path.join(household_dir, "household"))
    if make_household:
        others = [h for h in _households_near(household_dir, db) if h != household]
        if others and not new_household:
            raise ProvisionError(
                "no household %r in %s (there: %s); check --household, or give "
                "--new-household to make a new one (a new CA: its devices and the others' "
                "cannot talk)" % (household, household_dir, ", ".join(others)))
    else:
        open_household(household, household_dir, host)  # the name and certificate checks
    existing = [] if make_household else _registered(db, household, name)
    out_jid = _bundle_jid(out) if out else None
    if out_jid is not None:
        if new:
            raise ProvisionError("%s holds the bundle of %s; --new needs a folder of its own"
                                 % (out, out_jid))
        if out_jid not in existing:
            raise ProvisionError("%s holds the bundle of %s, not a %r device of household %r "
                                 "(registered: %s)" % (out, out_jid, name, household,
                                                       ", ".join(existing) or "none"))
        jid = out_jid
    elif existing and not new:
        if len(existing) > 1:
            raise ProvisionError("household %r has several %r devices (%s): give --out with "
                                 "the bundle of the one to rewrite, or --new for another"
                                 % (household, name, ", ".join(existing)))
        jid = existing[0]
    else:
        number = 1
        if existing:
            from .switchboard_db import split_jid

            number = max(split_jid(j)[1] for j in existing) + 1
        jid = "%s:%d@%s" % (name, number, household)
        folder = out or os.path.join("devices", jid)
        if _bundle_jid(folder) is not None:
            raise ProvisionError("%s holds the bundle of %s, which household %r does not know: "
                                 "give another --out" % (folder, _bundle_jid(folder), household))
        _clear(folder, force)
        return Target(host, port, household_dir, db, jid, number, folder, False, make_household)
    folder = out or os.path.join("devices", jid)
    if _bundle_jid(folder) != jid:
        raise ProvisionError(
            "%s is registered in %s but its bundle %s is missing: its keys are gone. Remove it "
            "(`portier devices`) or give --new for another %s" % (jid, db, folder, name))
    if not force:
        raise ProvisionError(
            "%s exists (%s): --force rewrites its %s and keeps its keys and JID (paired "
            "devices stay paired); --new adds another %s" % (jid, folder, rewrites, name))
    return Target(host, port, household_dir, db, jid, None, folder, True, False)


class _Opened:
    """`with target.open() as t:` the household (made now when planned so) and the switchboard
    database, open for the block; database and config errors in it become ProvisionError."""

    def __init__(self, target):
        self.t = target

    def __enter__(self):
        from . import provisioning
        from .switchboard_db import Database

        t = self.t
        if t.make_household:
            t.household, t.created = open_household(_household_name(t), t.household_dir, t.host)
        else:
            t.household = provisioning.load_household(t.household_dir)
        t.database = Database(t.db)
        try:
            provisioning.register_household(t.database, t.household)
        except BaseException as e:
            self.__exit__(type(e), e, None)
            raise
        return t

    def __exit__(self, kind, e, tb):
        from .switchboard_db import DbError

        self.t.database.close()
        if isinstance(e, (DbError, fwconfig.ConfigError)):
            raise ProvisionError(str(e)) from None
        return False


def _household_name(t):
    return t.jid.rsplit("@", 1)[1]


def _clear(folder, force):
    if os.path.exists(folder) and os.listdir(folder):
        if not force:
            raise ProvisionError("%s exists and is not empty: give another --out, or --force "
                                 "to empty it" % folder)
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
    what = "rewrote" if bundle.reused else "wrote"
    lines = ["provision: %s %s in %s" % (bundle.jid, "kept (its keys and JID)" if bundle.reused
                                         else "registered", bundle.db)]
    if bundle.household_created:
        lines.append("provision: made household folder %s (switchboard CA, server certificate, "
                     "relay secret)" % bundle.household_dir)
    lines.append("provision: %s %s/ (mode 0700):" % (what, bundle.folder))
    for rel in bundle.files:
        mode = os.stat(os.path.join(bundle.folder, rel)).st_mode & 0o777
        if not rel.startswith(STORE_NAME + "/"):
            lines.append("  %-14s %04o" % (rel, mode))
    n_store = sum(1 for rel in bundle.files if rel.startswith(STORE_NAME + "/"))
    lines.append("  %-14s %d files: Signal identity, signed prekey, one-time prekeys (0600)"
                 % (STORE_NAME + "/", n_store))
    return lines


def _json_result(bundle, next_steps, **extra):
    d = {"jid": bundle.jid, "folder": bundle.folder, "reused": bundle.reused,
         "household_dir": bundle.household_dir, "household_created": bundle.household_created,
         "db": bundle.db, "files": bundle.files, "next": next_steps}
    d.update(extra)
    return json.dumps(d, indent=1)


def _main_phone(args):
    bundle = provision_phone(args.switchboard, args.household, args.door, args.name or "phone",
                             out=args.out, household_dir=args.household_dir, db=args.db,
                             force=args.force, new=args.new, new_household=args.new_household,
                             authority=open_authority)
    next_steps = ["portier phone --config %s" % os.path.join(bundle.folder, PHONE_CONFIG_NAME)]
    if args.json:
        print(_json_result(bundle, next_steps))
        return 0
    print("provision: %s %s in %s" % (bundle.jid, "kept (its keys and JID)" if bundle.reused
                                      else "registered", bundle.db))
    if bundle.household_created:
        print("provision: made household folder %s (switchboard CA, server certificate, relay "
              "secret)" % bundle.household_dir)
    if bundle.reused:
        print("provision: rewrote %s" % os.path.join(bundle.folder, PHONE_CONFIG_NAME))
    else:
        print("provision: wrote %s/ (mode 0700): phone.json, ca.der, cert.der, key.der (0600), "
              "keys/ (0600)" % bundle.folder)
    print("next (with the switchboard running):")
    for step in next_steps:
        print("  " + step)
    return 0


def main(args):
    if getattr(args, "bridge", False):
        from .bridge import provision as bridge_provision

        return bridge_provision.main(args)
    try:
        if args.phone:
            return _main_phone(args)
        if not args.board or not args.wifi:
            print("provision: a door needs --board and --wifi (a softphone: --phone)",
                  file=sys.stderr)
            return 2
        asked = {}

        def password():
            return read_wifi_password(args.wifi)

        def pin():
            asked["pin"] = read_pin()
            return asked["pin"]

        bundle = provision(args.board, args.wifi, args.switchboard, args.household, password,
                           pin, name=args.name or "door", out=args.out,
                           household_dir=args.household_dir, db=args.db, force=args.force,
                           prekeys=args.prekeys, new=args.new, new_household=args.new_household,
                           authority=open_authority)
    except (ProvisionError, EOFError) as e:
        print("provision: %s" % (str(e) or "no input"), file=sys.stderr)
        return 2
    next_steps = ["portier switchboard --provisioning %s --db %s --host 0.0.0.0 --port %d"
                  % (bundle.household_dir, bundle.db, parse_switchboard(args.switchboard)[1]),
                  "portier deploy --port PORT --device %s" % bundle.folder]
    if args.json:
        print(_json_result(bundle, next_steps, unlock_pin=bool(asked.get("pin"))))
        return 0
    for line in _describe(bundle):
        print(line)
    if not asked.get("pin"):
        print("provision: no unlock PIN: the door will refuse every unlock")
    print("next:")
    for step in next_steps:
        print("  " + step)
    return 0


EXAMPLE = """examples:
  portier provision --board esp32-devkitc --wifi home-net --switchboard 192.168.1.10:5222 --household home
  portier provision --phone --name anna --switchboard 192.168.1.10:5222 --household home
  portier provision --board esp32-devkitc --wifi new-net --switchboard 192.168.1.10:5222 --household home --force
    (door:1@home again: new config and secrets, the same keys and JID)"""


def add_arguments(p):
    p.add_argument("--board", help="a name in boards/, a board file, or %r (the virtual "
                   "board); checked before anything is asked" % VIRTUAL_BOARD)
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
                   "calls (default: door:1@HOUSEHOLD)")
    p.add_argument("--switchboard", required=True, metavar="HOST:PORT",
                   help="where the device reaches the switchboard (its certificate names HOST)")
    p.add_argument("--household", required=True, metavar="NAME",
                   help="the household (its folder must exist unless it is the first one or "
                   "--new-household)")
    p.add_argument("--name", default=None, help="the device's account name (default: door, or "
                   "phone with --phone)")
    p.add_argument("--out", metavar="DIR", help="the bundle folder (default: devices/JID); one "
                   "holding a bundle names the device to rewrite")
    cliargs.household_files(p)
    p.add_argument("--prekeys", type=int, metavar="N", help="one-time prekeys to make "
                   "(default: 20)")
    p.add_argument("--force", action="store_true", help="rewrite an existing device's config "
                   "(and a door's secrets), keeping its keys and JID; or empty a non-empty "
                   "--out folder for a new device")
    p.add_argument("--new", action="store_true", help="another device of this name "
                   "(NAME:N+1) instead of rewriting the existing one")
    p.add_argument("--new-household", action="store_true", help="make a household although "
                   "others exist (a new CA: a mistyped --household is refused without it)")
    p.add_argument("--json", action="store_true", help="the result as JSON on stdout")
