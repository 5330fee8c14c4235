"""`portier secrets`: a door's PIN and Wi-Fi change in its bundle without new keys (the
board-side check, deploy and an unlock with the new PIN: test_board_e2e). Secrets come only
from the prompt or the environment and are never printed; a bad bundle or nothing to change
is a one-line usage error, checked before anything is asked."""

import hashlib
import hmac
import json
import os
import subprocess
import sys

from portier_host import paths, provision

paths.use_firmware()
from portier import secrets as fwsecrets  # noqa: E402

PORTIER = os.path.join(os.path.dirname(sys.executable), "portier")


def _run(cwd, *args, password=None, pin=None):
    env = dict(os.environ)
    env.pop(provision.WIFI_PASSWORD_ENV, None)
    env.pop(provision.PIN_ENV, None)
    if password is not None:
        env[provision.WIFI_PASSWORD_ENV] = password
    if pin is not None:
        env[provision.PIN_ENV] = pin
    return subprocess.run([PORTIER] + list(args), cwd=str(cwd), env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def _door(tmp_path):
    return provision.provision("vboard", "home-net", "127.0.0.1:5222", "home",
                               "first-password", "1234", out=str(tmp_path / "door"),
                               household_dir=str(tmp_path / "hh"), prekeys=2)


def _files(folder):
    return dict((n, open(os.path.join(folder, n), "rb").read())
                for n in ("cert.der", "key.der", "jid", "keys/identity", "keys/spk-1"))


def test_pin_then_wifi_change_keeps_keys_and_the_other_secret(tmp_path):
    bundle = _door(tmp_path)
    keys = _files(bundle.folder)
    before = fwsecrets.load(os.path.join(bundle.folder, "secrets.json"))
    proc = _run(tmp_path, "secrets", "--device", "door", "--pin", pin="97531")
    assert proc.returncode == 0, proc.stderr
    assert "97531" not in proc.stdout + proc.stderr and "portier deploy" in proc.stdout
    after = fwsecrets.load(os.path.join(bundle.folder, "secrets.json"))
    assert after.wifi_password == "first-password" and after.pin_hmac != before.pin_hmac
    salt = bytes.fromhex(json.loads((tmp_path / "door" / "secrets.json").read_text())
                         ["unlock_pin"]["salt"])
    assert after.pin_hmac == hmac.new(salt, b"97531", hashlib.sha256).digest()  # not the writer's

    proc = _run(tmp_path, "secrets", "--device", "door", "--wifi", "new-net", "--json",
                password="second-password")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["changed"] == ["wifi"]
    again = fwsecrets.load(os.path.join(bundle.folder, "secrets.json"))
    assert again.wifi_password == "second-password" and again.pin_hmac == after.pin_hmac
    cfg = json.loads((tmp_path / "door" / "portier.json").read_text())
    assert cfg["wifi"]["ssid"] == "new-net" and cfg["jid"] == bundle.jid
    assert _files(bundle.folder) == keys
    assert oct(os.stat(tmp_path / "door" / "secrets.json").st_mode & 0o777) == "0o600"

    off = _run(tmp_path, "secrets", "--device", "door", "--pin", pin="")
    assert off.returncode == 0
    assert fwsecrets.load(os.path.join(bundle.folder, "secrets.json")).pin_hmac is None


def test_bad_requests_are_refused_before_any_prompt(tmp_path):
    _door(tmp_path)
    phone = provision.provision_phone("127.0.0.1:5222", "home", None, "anna",
                                      out=str(tmp_path / "anna"), household_dir=str(tmp_path / "hh"))
    before = (tmp_path / "door" / "secrets.json").read_bytes()
    for args, word in ((["--device", "door"], "nothing to change"),
                       (["--device", "nowhere", "--pin"], "no device bundle in nowhere"),
                       (["--device", phone.folder, "--pin"], "no device bundle"),
                       (["--device", "door", "--pin"], "no terminal to ask for the unlock PIN: set $PORTIER_PIN"),
                       (["--device", "door", "--pin"], "4 to 12 digits"),
                       (["--device", "door", "--wifi", "x" * 40], "1 to 32")):
        pin = "12ab" if word == "4 to 12 digits" else None
        proc = _run(tmp_path, "secrets", *args, pin=pin, password="long-enough-1")
        assert proc.returncode == 2 and word in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert (tmp_path / "door" / "secrets.json").read_bytes() == before
