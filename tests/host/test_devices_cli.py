"""The household's pairing authority through the real CLI (docs/protocol.md 8.5,
docs/security.md): `portier provision` seals it under the household passphrase in the household
folder, gives the door its key and each phone its authorisation (checked here with the door's
own code); a wrong passphrase gets nothing; the switchboard database never holds it.
`portier devices list/remove` shows the household and takes a lost phone off: its row goes,
a revocation for the door waits in the database, which only the household could have made."""

import json
import os
import subprocess
import sys

from portier_host import authority, paths
from portier_host.switchboard_db import Database

paths.use_firmware()
from portier import pairauth  # noqa: E402
from portier.e2e.stores import FileStore  # noqa: E402

PORTIER = os.path.join(os.path.dirname(sys.executable), "portier")
PASSPHRASE = "correct horse battery"


def _run(cwd, *args, passphrase=PASSPHRASE):
    env = dict(os.environ, PORTIER_WIFI_PASSWORD="", PORTIER_PIN="")
    env.pop(authority.PASSPHRASE_ENV, None)
    if passphrase is not None:
        env[authority.PASSPHRASE_ENV] = passphrase
    return subprocess.run([PORTIER] + list(args), cwd=str(cwd), env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


_SB = ("--switchboard", "127.0.0.1:5222", "--household", "home")


def test_provision_authorises_and_devices_remove_revokes(tmp_path):
    door = _run(tmp_path, "provision", "--board", "vboard", "--wifi", "net", *_SB)
    assert door.returncode == 0, door.stderr
    anna = _run(tmp_path, "provision", "--phone", "--name", "anna", *_SB)
    assert anna.returncode == 0, anna.stderr
    hh = tmp_path / "households" / "home"
    sealed = (hh / authority.KEY_FILE).read_bytes()
    assert oct((hh / authority.KEY_FILE).stat().st_mode & 0o777) == "0o600"
    secret = authority.Authority.load(str(hh), PASSPHRASE)._secret
    assert secret not in sealed and secret.hex().encode() not in sealed
    # the door's key, and anna's authorisation checked as the door checks it
    door_dir = tmp_path / "devices" / "door:1@home"
    key = bytes.fromhex(json.loads((door_dir / "secrets.json").read_text())["pair_key"])
    phone_dir = tmp_path / "devices" / "anna:1@home"
    cfg = json.loads((phone_dir / "phone.json").read_text())
    blob = bytes.fromhex(cfg["pair_auth"]["door:1@home"])
    ik = FileStore(str(phone_dir / "keys")).identity()[1]
    assert pairauth._check(blob, lambda n: pairauth.auth_tag(key, "door:1@home", "anna:1@home",
                                                           ik, n)) == 1
    # nothing of it in the switchboard's database
    db_bytes = (hh / "switchboard.db").read_bytes()
    assert key not in db_bytes and secret not in db_bytes
    # a wrong passphrase, or none without a terminal: refused, no device made
    for bad in ("wrong passphrase!", None):
        p = _run(tmp_path, "provision", "--phone", "--name", "ben", *_SB, passphrase=bad)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert "passphrase" in p.stderr
    assert not (tmp_path / "devices" / "ben:1@home").exists()

    listed = _run(tmp_path, "devices", "list", "--household", "home", "--json", passphrase=None)
    rows = dict((r["jid"], r) for r in json.loads(listed.stdout))
    assert rows["anna:1@home"]["authorised_at"] == ["door:1@home"]
    p = _run(tmp_path, "devices", "remove", "anna:1@home", "--household", "home",
             passphrase="wrong passphrase!")
    assert p.returncode == 2 and "passphrase" in p.stderr
    p = _run(tmp_path, "devices", "remove", "anna:1@home", "--household", "home")
    assert p.returncode == 0, p.stderr
    db = Database(str(hh / "switchboard.db"))
    try:
        assert db.device("anna:1@home") is None
        [(d, dev, rblob)] = db.revocations()
        assert (d, dev) == ("door:1@home", "anna:1@home")
        assert pairauth._check(rblob, lambda n: pairauth.revoke_tag(key, d, dev, n)) == 1
    finally:
        db.close()
    listed = json.loads(_run(tmp_path, "devices", "list", "--household", "home", "--json").stdout)
    assert [r for r in listed if r["jid"] == "anna:1@home"][0]["removed"]
    p = _run(tmp_path, "devices", "remove", "nobody:1@home", "--household", "home")
    assert p.returncode == 2 and "no device" in p.stderr
    # the household authorises anna again (re-provisioned): a serial above the revoked one
    auth = authority.Authority.load(str(hh), PASSPHRASE)
    again = auth.authorise("door:1@home", "anna:1@home", ik)
    assert int.from_bytes(again[:4], "big") == 2
