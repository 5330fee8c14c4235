"""`portier provision`: the real CLI writes a door's bundle with tight modes and no secret on
its output, registers the door with the switchboard database, pins the household's CA, and
never overwrites a bundle without --force. The PIN verifier is checked with `cryptography`'s
HMAC, an implementation independent of the one provisioning uses."""

import json
import os
import stat
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as c_hmac
from cryptography.hazmat.primitives.asymmetric import ec

from portier_host import boards, paths, provision
from portier_host.switchboard_db import Database

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402
from portier import secrets as fwsecrets  # noqa: E402
from portier.e2e.stores import FileStore  # noqa: E402

PORTIER = os.path.join(os.path.dirname(sys.executable), "portier")
WIFI_PASSWORD = "hunter2-but-longer"
PIN = "480213"
PASSPHRASE = "correct horse battery"  # the household's pairing authority
PASSPHRASE_ENV = "PORTIER_HOUSEHOLD_PASSPHRASE"


def _run(cwd, *args, password=WIFI_PASSWORD, pin=PIN):
    env = dict(os.environ)
    env.pop(provision.WIFI_PASSWORD_ENV, None)
    env.pop(provision.PIN_ENV, None)
    if password is not None:
        env[provision.WIFI_PASSWORD_ENV] = password
    if pin is not None:
        env[provision.PIN_ENV] = pin
    env.setdefault(PASSPHRASE_ENV, PASSPHRASE)
    return subprocess.run([PORTIER, "provision"] + list(args), cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


_ARGS = ("--board", "esp32-devkitc", "--wifi", "home-net", "--switchboard", "192.168.1.10:5222",
         "--household", "home")


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _verify(cert, issuer):
    issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                               ec.ECDSA(cert.signature_hash_algorithm))


def test_bundle_contents_modes_registration_and_silence(tmp_path):
    proc = _run(tmp_path, *_ARGS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    for secret in (WIFI_PASSWORD, PIN):
        assert secret not in out
    bundle = tmp_path / "devices" / "door:1@home"
    hh = tmp_path / "households" / "home"
    assert "made household folder households/home" in out
    assert "portier deploy --port PORT --device devices/door:1@home" in out

    # modes: the folder and everything secret private to the owner
    assert _mode(bundle) == 0o700
    for private in ("secrets.json", "key.der", "key.pem"):
        assert _mode(bundle / private) == 0o600, private
    assert _mode(bundle / "keys") == 0o700
    store_files = os.listdir(str(bundle / "keys"))
    assert "identity" in store_files and len(store_files) == 22  # identity, signed, 20 one-time
    for name in store_files:
        assert _mode(bundle / "keys" / name) == 0o600, name
    for name in os.listdir(str(bundle)):
        if _mode(bundle / name) & 0o077:
            assert name in ("portier.json", "board.json", "ca.der", "ca.pem", "cert.der",
                            "cert.pem", "jid"), name

    # the secrets, in the board's format; the PIN only as HMAC-SHA256(salt, PIN)
    doc = json.loads((bundle / "secrets.json").read_text())
    assert PIN not in json.dumps(doc)
    sec = fwsecrets.load(str(bundle / "secrets.json"))
    assert sec.wifi_password == WIFI_PASSWORD and len(sec.pin_salt) == 16
    mac = c_hmac.HMAC(sec.pin_salt, hashes.SHA256())
    mac.update(PIN.encode())
    mac.verify(sec.pin_hmac)  # raises InvalidSignature on a wrong verifier

    # the config the board reads, every path relative to the flash root
    cfg = fwconfig.load(str(bundle / "portier.json"))
    assert (cfg.jid, cfg.profile, cfg.household) == ("door:1@home", "door", "home")
    assert (cfg.host, cfg.port, cfg.server_name, cfg.insecure) == ("192.168.1.10", 5222, "192.168.1.10", False)
    assert (cfg.ca_path, cfg.cert_path, cfg.key_path) == ("ca.der", "cert.der", "key.der")
    assert (cfg.wifi_ssid, cfg.secrets_path, cfg.e2e_store) == ("home-net", "secrets.json", "keys")
    assert cfg.call_log and cfg.door_log
    assert cfg.audio == {"board": "esp32", "file": "board.json"}
    assert json.loads((bundle / "board.json").read_text()) == boards.load_board("esp32-devkitc").data

    # TLS: the pinned CA is the household's; the client certificate names the JID; the
    # switchboard's server certificate is valid for the address the door dials
    ca = x509.load_der_x509_certificate((bundle / "ca.der").read_bytes())
    assert ca == x509.load_pem_x509_certificate((hh / "ca.pem").read_bytes())
    cert = x509.load_der_x509_certificate((bundle / "cert.der").read_bytes())
    _verify(cert, ca)
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "door:1@home"
    server = x509.load_pem_x509_certificate((hh / "server.pem").read_bytes())
    _verify(server, ca)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "192.168.1.10" in [str(a) for a in sans.get_values_for_type(x509.IPAddress)]

    # registered: the database hands out the identity and signed prekey the store holds
    store = FileStore(str(bundle / "keys"))
    db = Database(str(hh / "switchboard.db"))
    try:
        dev = db.device("door:1@home")
        assert dev is not None
        assert bytes(dev.identity_key) == store.identity()[1]
        assert db.prekey_count("door:1@home") == 20
    finally:
        db.close()


def _identity(folder):
    return (folder / "cert.der").read_bytes(), sorted(
        (n, (folder / "keys" / n).read_bytes()) for n in os.listdir(folder / "keys"))


def _registered(tmp_path, household="home"):
    db = Database(str(tmp_path / "households" / household / "switchboard.db"))
    try:
        return db.devices(household)
    finally:
        db.close()


def test_existing_bundle_is_refused_without_force(tmp_path):
    args = _ARGS + ("--out", "door")
    assert _run(tmp_path, *args).returncode == 0
    before = (tmp_path / "door" / "secrets.json").read_bytes()
    again = _run(tmp_path, *args, pin="999999")
    assert again.returncode == 2 and "--force" in again.stderr and "--new" in again.stderr
    assert (tmp_path / "door" / "secrets.json").read_bytes() == before
    forced = _run(tmp_path, *(args + ("--force",)), pin="999999")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "door" / "secrets.json").read_bytes() != before
    assert json.loads((tmp_path / "door" / "portier.json").read_text())["jid"] == "door:1@home"
    assert "made household folder" not in forced.stdout  # the same household, reused


def test_re_provisioning_keeps_the_jid_and_keys_and_new_adds_a_door(tmp_path):
    """Re-running provision used to mint door:2, door:3... silently; now the door keeps its JID
    and keys (its phones stay paired) and gets the new Wi-Fi and PIN; --new adds a door."""
    assert _run(tmp_path, *_ARGS).returncode == 0
    door = tmp_path / "devices" / "door:1@home"
    keys = _identity(door)
    refused = _run(tmp_path, *_ARGS)
    assert refused.returncode == 2 and "door:1@home exists" in refused.stderr
    assert _registered(tmp_path) == ["door:1@home"]
    other = list(_ARGS)
    other[other.index("home-net")] = "new-net"
    again = _run(tmp_path, *(other + ["--force", "--json"]), password="another-password", pin="1357")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert (result["jid"], result["reused"], result["unlock_pin"]) == ("door:1@home", True, True)
    assert _registered(tmp_path) == ["door:1@home"] and _identity(door) == keys
    cfg = fwconfig.load(str(door / "portier.json"))
    assert cfg.jid == "door:1@home" and cfg.wifi_ssid == "new-net"
    sec = fwsecrets.load(str(door / "secrets.json"))
    assert sec.wifi_password == "another-password"
    salt = bytes.fromhex(json.loads((door / "secrets.json").read_text())["unlock_pin"]["salt"])
    h = c_hmac.HMAC(salt, hashes.SHA256())
    h.update(b"1357")
    assert sec.pin_hmac == h.finalize()
    assert _mode(door / "secrets.json") == 0o600
    added = _run(tmp_path, *(_ARGS + ("--new",)))
    assert added.returncode == 0, added.stderr
    assert _registered(tmp_path) == ["door:1@home", "door:2@home"]
    assert (tmp_path / "devices" / "door:2@home" / "portier.json").exists()
    several = _run(tmp_path, *(_ARGS + ("--force",)))
    assert several.returncode == 2 and "door:1@home, door:2@home" in several.stderr


def test_out_holding_another_devices_bundle_is_refused(tmp_path):
    """`--out devices/door:1@lab --force` used to write door:4 into door:1's folder."""
    assert _run(tmp_path, *_ARGS).returncode == 0
    door = tmp_path / "devices" / "door:1@home"
    keys = _identity(door)
    for extra in (("--name", "gate"), ("--new",)):
        proc = _run(tmp_path, *(_ARGS + ("--out", str(door), "--force") + extra))
        assert proc.returncode == 2 and "holds the bundle of door:1@home" in proc.stderr, extra
    assert _identity(door) == keys and _registered(tmp_path) == ["door:1@home"]


def test_a_door_whose_bundle_is_gone_is_not_silently_replaced(tmp_path):
    assert _run(tmp_path, *_ARGS).returncode == 0
    import shutil

    shutil.rmtree(tmp_path / "devices" / "door:1@home")
    proc = _run(tmp_path, *(_ARGS + ("--force",)))
    assert proc.returncode == 2 and "keys are gone" in proc.stderr and "--new" in proc.stderr


def test_inputs_are_checked_before_anything_is_asked(tmp_path):
    """No PORTIER_PIN/PASSWORD and no terminal: a prompt would fail with "no terminal". A bad
    board, a mistyped household or a taken bundle are named first, and nothing is written."""
    assert _run(tmp_path, *_ARGS).returncode == 0
    bad_board = list(_ARGS)
    bad_board[1] = "esp32-nope"
    typo = list(_ARGS)
    typo[typo.index("home")] = "hmoe"
    for args, word in ((bad_board, "esp32-nope"), (typo, "no household 'hmoe'"),
                       (_ARGS, "door:1@home exists"),
                       (list(_ARGS) + ["--switchboard", "nohost"], "HOST:PORT")):
        proc = _run(tmp_path, *args, password=None, pin=None)
        assert proc.returncode == 2 and word in proc.stderr, proc.stderr
        assert "no terminal" not in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(os.listdir(tmp_path / "households")) == ["home"]
    asked = _run(tmp_path, *(list(_ARGS) + ["--new"]), password=None, pin=None)
    assert asked.returncode == 2 and "no terminal to ask for the WLAN password" in asked.stderr
    made = _run(tmp_path, *(typo + ["--new-household"]))
    assert made.returncode == 0 and "made household folder" in made.stdout
    phone = _run(tmp_path, "--phone", "--name", "anna", "--switchboard", "192.168.1.10:5222",
                 "--household", "hoem", password=None, pin=None)
    assert phone.returncode == 2 and "no household 'hoem'" in phone.stderr


def test_household_certificate_must_name_the_switchboard_address(tmp_path):
    assert _run(tmp_path, *_ARGS).returncode == 0
    other = list(_ARGS)
    other[other.index("192.168.1.10:5222")] = "10.9.8.7:5222"
    proc = _run(tmp_path, *other)
    assert proc.returncode == 2
    assert "10.9.8.7" in proc.stderr and "192.168.1.10" in proc.stderr


@pytest.mark.parametrize("password,pin,word", [
    ("short", PIN, "8 to 63"),  # WPA2 passphrases are 8..63 characters
    (WIFI_PASSWORD, "12a4", "digits"),
    (WIFI_PASSWORD, "123", "digits"),
])
def test_bad_secrets_are_refused_without_echo(tmp_path, password, pin, word):
    proc = _run(tmp_path, *_ARGS, password=password, pin=pin)
    assert proc.returncode == 2 and word in proc.stderr
    assert password not in proc.stderr and pin not in proc.stderr
    assert not (tmp_path / "devices").exists()


def test_open_network_and_no_pin(tmp_path):
    proc = _run(tmp_path, *(_ARGS + ("--out", "d")), password="", pin="")
    assert proc.returncode == 0, proc.stderr
    assert "refuse every unlock" in proc.stdout
    sec = fwsecrets.load(str(tmp_path / "d" / "secrets.json"))
    assert sec.wifi_password is None and sec.pin_hmac is None


def test_unknown_board_is_named(tmp_path):
    args = list(_ARGS)
    args[1] = "esp8266-nope"
    proc = _run(tmp_path, *args)
    assert proc.returncode == 2 and "esp8266-nope" in proc.stderr and "esp32-devkitc" in proc.stderr


def test_prompts_ask_twice_for_the_pin():
    answers = iter(["2580", "2580"])
    assert provision.read_pin(env={}, prompt=lambda msg: next(answers)) == "2580"
    answers = iter(["2580", "2581"])
    with pytest.raises(provision.ProvisionError, match="differ"):
        provision.read_pin(env={}, prompt=lambda msg: next(answers))
    asked = []
    assert provision.read_wifi_password("net", env={}, prompt=lambda m: asked.append(m) or "") == ""
    assert "net" in asked[0]


def test_the_cli_takes_no_secret_as_an_argument():
    from portier_host import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["provision"]
    options = [o for a in sub._actions for o in a.option_strings]
    assert not [o for o in options if "pass" in o or "pin" in o or "secret" in o]


_PHONE_ARGS = ("--phone", "--name", "anna", "--switchboard", "192.168.1.10:5222",
               "--household", "home")


def _door_then_phone(tmp_path, *extra):
    """The door provisioned, then the softphone anna (with `extra` options): -> anna's run."""
    assert _run(tmp_path, *_ARGS).returncode == 0
    return _run(tmp_path, *(_PHONE_ARGS + extra), password=None, pin=None)


def test_a_softphone_for_the_same_household(tmp_path):
    proc = _door_then_phone(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bundle = tmp_path / "devices" / "anna:1@home"
    assert "portier phone --config devices/anna:1@home/phone.json" in proc.stdout
    cfg = fwconfig.load(str(bundle / "phone.json"))
    assert (cfg.jid, cfg.profile, cfg.pair_with, cfg.call) == (
        "anna:1@home", "phone", ("door:1@home",), "door:1@home")
    for path in (cfg.ca_path, cfg.cert_path, cfg.key_path, cfg.e2e_store):
        assert os.path.isabs(path) and os.path.exists(path)
    assert _mode(bundle) == 0o700 and _mode(bundle / "key.der") == 0o600
    assert not (bundle / "secrets.json").exists()
    # the household's CA, and registered next to the door
    assert (bundle / "ca.der").read_bytes() == (tmp_path / "devices" / "door:1@home" / "ca.der").read_bytes()
    db = Database(str(tmp_path / "households" / "home" / "switchboard.db"))
    try:
        assert db.device("anna:1@home") is not None and db.device("door:1@home") is not None
    finally:
        db.close()
    lacking = _run(tmp_path, "--switchboard", "192.168.1.10:5222", "--household", "home")
    assert lacking.returncode == 2 and "--board and --wifi" in lacking.stderr


def test_a_softphone_provisioned_again_keeps_its_jid_and_keys(tmp_path):
    assert _door_then_phone(tmp_path).returncode == 0
    bundle = tmp_path / "devices" / "anna:1@home"
    keys = _identity(bundle)
    again = _run(tmp_path, *_PHONE_ARGS, password=None, pin=None)
    assert again.returncode == 2 and "anna:1@home exists" in again.stderr
    assert "phone.json" in again.stderr
    forced = _run(tmp_path, *(_PHONE_ARGS + ("--force", "--door", "door:2@home", "--json")),
                  password=None, pin=None)
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["reused"] is True
    cfg = fwconfig.load(str(bundle / "phone.json"))
    assert (cfg.jid, cfg.call) == ("anna:1@home", "door:2@home")
    assert _identity(bundle) == keys and _registered(tmp_path) == ["anna:1@home", "door:1@home"]


def test_a_softphone_pins_the_doors_identity_against_a_door_the_switchboard_makes_up(tmp_path):
    from portier.e2e import E2eError, keys, x3dh
    from portier.e2e.stores import MemoryStore

    proc = _door_then_phone(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    door_folder = tmp_path / "devices" / "door:1@home"
    phone_store = FileStore(str(tmp_path / "devices" / "anna:1@home" / "keys"))
    assert phone_store.remote_identity("door:1@home") == provision.device_identity(str(door_folder))
    # A compromised switchboard answers the phone's bundle request for the door with keys of
    # its own: the phone refuses to start a session (and so never sends <pair> or a PIN).
    fake = MemoryStore()
    keys.generate_identity(fake)
    keys.generate_signed_prekey(fake, 1, bytes(64))
    try:
        x3dh.start_session(phone_store, "door:1@home", keys.bundle(fake, 1))
        raise AssertionError("a made-up door identity was trusted")
    except E2eError as e:
        assert "changed" in str(e)
    # The real door's bundle still opens a session.
    door_store = FileStore(str(door_folder / "keys"))
    x3dh.start_session(phone_store, "door:1@home", keys.bundle(door_store, 1))
