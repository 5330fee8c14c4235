"""The device-bundle writer (portier_host.bundle): what it writes, the firmware's own parsers
read back; what they would refuse, it refuses without touching the file there."""

import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as c_hmac

from portier_host import bundle, paths

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402
from portier import secrets as fwsecrets  # noqa: E402
from portier import unlock as fwunlock  # noqa: E402

SALT = bytes(range(16))


def _hmac_sha256(key, msg):  # another implementation than the firmware's
    h = c_hmac.HMAC(key, hashes.SHA256())
    h.update(msg)
    return h.finalize()


def test_the_pin_verifier_is_hmac_sha256_of_the_digits_and_the_door_reads_it(tmp_path):
    path = bundle.write_secrets(str(tmp_path), bundle.secrets_document(
        "correct horse", "024680", pair_key=b"\x07" * 32, salt=SALT))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    sec = fwsecrets.load(path)
    assert sec.wifi_password == "correct horse" and sec.pin_salt == SALT
    assert sec.pin_hmac == _hmac_sha256(SALT, b"024680")
    # the door's own check (portier.unlock) takes that PIN and no other
    assert fwunlock.pin_verifier(sec.pin_salt, "024680") == sec.pin_hmac
    assert fwunlock.pin_verifier(sec.pin_salt, "024681") != sec.pin_hmac
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_the_writer_takes_exactly_the_pins_the_door_takes():
    for pin in ("123", "1234", "123456789012", "1234567890123", "12a4", " 1234", "١٢٣٤", "12.4"):
        try:
            fwunlock.check_pin(pin)
            door_takes = True
        except fwunlock.UnlockError:
            door_takes = False
        try:
            bundle.secrets_document(pin=pin)
            writer_takes = True
        except bundle.BundleError:
            writer_takes = False
        assert writer_takes == door_takes, pin


def test_write_secrets_replaces_only_what_it_is_given(tmp_path):
    folder = str(tmp_path)
    bundle.write_secrets(folder, bundle.secrets_document("first-password", "2468", b"\x01" * 32))
    before = json.loads((tmp_path / bundle.SECRETS_NAME).read_text())
    bundle.write_secrets(folder, bundle.secrets_document(pin="13579"), replace=("unlock_pin",))
    after = json.loads((tmp_path / bundle.SECRETS_NAME).read_text())
    assert after["wifi_password"] == "first-password" and after["pair_key"] == before["pair_key"]
    assert after["unlock_pin"] != before["unlock_pin"]
    # a key given in replace but absent from the document goes: unlock off
    bundle.write_secrets(folder, {}, replace=("unlock_pin",))
    assert "unlock_pin" not in json.loads((tmp_path / bundle.SECRETS_NAME).read_text())


def test_what_the_firmware_refuses_is_refused_and_the_old_file_stays(tmp_path):
    folder = str(tmp_path)
    bundle.write_secrets(folder, bundle.secrets_document("first-password"))
    old = (tmp_path / bundle.SECRETS_NAME).read_bytes()
    with pytest.raises(bundle.BundleError, match="secrets"):
        bundle.write_secrets(folder, {"pair_key": "00" * 5})  # the door reads 32 bytes
    with pytest.raises(bundle.BundleError, match="WPA2"):
        bundle.secrets_document("short")
    assert (tmp_path / bundle.SECRETS_NAME).read_bytes() == old
    cfg = bundle.device_config("door:1@home", "192.168.1.10", 5222, profile="door")
    with pytest.raises(bundle.BundleError, match="config"):
        bundle.write_config(folder, dict(cfg, ring_timeout_s=0))
    with pytest.raises(bundle.BundleError, match="config"):
        bundle.device_config("door:1@home", "h", 70000)
    assert not (tmp_path / bundle.CONFIG_NAME).exists()


def test_device_config_names_the_device_files_on_flash_or_in_a_folder(tmp_path):
    board = bundle.device_config("door:1@home", "192.168.1.10", 5222, profile="door")
    path = bundle.write_config(str(tmp_path), board)
    cfg = fwconfig.load(path)
    assert (cfg.jid, cfg.household, cfg.host, cfg.port, cfg.server_name) == (
        "door:1@home", "home", "192.168.1.10", 5222, "192.168.1.10")
    assert (cfg.ca_path, cfg.cert_path, cfg.key_path, cfg.e2e_store) == (
        "ca.der", "cert.der", "key.der", "keys")  # relative to the flash root
    folder = str(tmp_path / "anna")
    phone = bundle.device_config("anna:1@home", "127.0.0.1", 5223, base=folder,
                                 server_name="localhost", profile="phone", call="door:1@home")
    assert phone["tls"]["key"] == os.path.join(folder, "key.der")
    assert phone["e2e_store"] == os.path.join(folder, "keys")
    assert phone["switchboard"]["server_name"] == "localhost"
    plain = bundle.device_config("anna:1@home", "127.0.0.1", 5223, insecure=True)
    assert "tls" not in plain and fwconfig.check(plain).insecure


def test_keys_only_a_host_program_reads_are_written_after_the_check(tmp_path):
    cfg = bundle.device_config("bridge:1@home", "127.0.0.1", 5222, base=str(tmp_path),
                               profile="phone")
    path = bundle.write_config(str(tmp_path), cfg, "bridge.json", private=True,
                               extra={"sip": {"mode": "client"}})
    assert json.loads(open(path).read())["sip"] == {"mode": "client"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
