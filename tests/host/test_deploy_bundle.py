"""`portier deploy --device`: a provisioned bundle goes to the board with the firmware, by
content hash like the firmware; the config and secrets follow the host, the Signal store is
the board's once seeded (sessions, consumed prekeys) unless the door is provisioned anew.
A two-module firmware keeps these runs short; the whole firmware runs in test_board_e2e."""

import hashlib
import os
import shutil

import pytest

from portier_host import cli, deploy, provision
from portier_host.vboard import VirtualBoard


def _provision(tmp_path, out="door", board="vboard", force=False, new=False):
    return provision.provision(board, "testnet", "127.0.0.1:5222", "home", "wlan-password-1",
                               "2468", out=str(tmp_path / out),
                               household_dir=str(tmp_path / "hh"), force=force, prekeys=3,
                               new=new)


@pytest.fixture
def tiny_firmware(tmp_path):
    root = tmp_path / "fw"
    (root / "portier").mkdir(parents=True)
    (root / "main.py").write_text("print('door')\n")
    (root / "portier" / "__init__.py").write_text("VERSION = 'test'\n")
    return str(root)


@pytest.fixture
def vboard(tmp_path):
    with VirtualBoard(str(tmp_path / "flash"), run_main=False) as vb:
        yield vb
    assert vb.error is None


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_bundle_copied_then_nothing_then_config_only_and_the_store_stays_the_boards(
        tmp_path, vboard, tiny_firmware):
    bundle = _provision(tmp_path)
    flash = vboard.flash_dir
    first = deploy.deploy(vboard.port, firmware_root=tiny_firmware, reset=False,
                          device_dir=bundle.folder)
    store = set(f for f in bundle.files if f.startswith("keys/"))
    assert store == {"keys/identity", "keys/spk-1", "keys/opk-1", "keys/opk-2", "keys/opk-3"}
    assert set(bundle.files) == store | {"portier.json", "secrets.json", "ca.der", "cert.der",
                                         "key.der"}  # a vboard bundle has no board file
    assert set(bundle.files) <= set(first.copied)
    assert {"main.py", "portier/__init__.mpy"} <= set(first.copied)
    for rel in bundle.files:
        assert _sha(os.path.join(flash, rel)) == _sha(os.path.join(bundle.folder, rel)), rel
    for host_only in ("cert.pem", "key.pem", "jid", "ca.pem"):
        assert not os.path.exists(os.path.join(flash, host_only))

    again = deploy.deploy(vboard.port, firmware_root=tiny_firmware, reset=False,
                          device_dir=bundle.folder)
    assert again.copied == [] and again.removed == []

    # The board runs: it takes a one-time prekey and writes a session. Its store is its own.
    first_opk = sorted(f for f in store if "opk" in f)[0]
    os.remove(os.path.join(flash, first_opk))
    with open(os.path.join(flash, "keys", "sess-phone"), "wb") as f:
        f.write(b"session state")
    # The host changes the config (another ring timeout).
    cfg_path = os.path.join(bundle.folder, "portier.json")
    with open(cfg_path) as f:
        text = f.read()
    with open(cfg_path, "w") as f:
        f.write(text.replace('"profile": "door"', '"profile": "door", "ring_timeout_s": 45'))
    third = deploy.deploy(vboard.port, firmware_root=tiny_firmware, reset=False,
                          device_dir=bundle.folder)
    assert third.copied == ["portier.json"] and third.removed == []
    assert not os.path.exists(os.path.join(flash, first_opk))
    assert os.path.exists(os.path.join(flash, "keys", "sess-phone"))

    # Re-provisioned (--force): the same door, its keys kept: config and secrets go, the
    # board's store stays.
    again = _provision(tmp_path, force=True)
    assert again.reused and again.jid == bundle.jid
    fifth = deploy.deploy(vboard.port, firmware_root=tiny_firmware, reset=False,
                          device_dir=again.folder)
    assert sorted(fifth.copied) == ["portier.json", "secrets.json"] and fifth.removed == []
    assert os.path.exists(os.path.join(flash, "keys", "sess-phone"))

    # Another door's bundle (a new identity) deployed to this board replaces the whole store.
    fresh = _provision(tmp_path, out="door2", new=True)
    assert fresh.jid == "door:2@home"
    fourth = deploy.deploy(vboard.port, firmware_root=tiny_firmware, reset=False,
                           device_dir=fresh.folder)
    assert "keys/identity" in fourth.copied and "keys/sess-phone" in fourth.removed
    assert sorted(os.listdir(os.path.join(flash, "keys"))) == sorted(
        os.listdir(os.path.join(fresh.folder, "keys")))
    assert _sha(os.path.join(flash, "keys", "identity")) == _sha(
        os.path.join(fresh.folder, "keys", "identity"))


def test_a_deploy_without_device_leaves_the_bundle_alone(tmp_path, vboard, tiny_firmware):
    bundle = _provision(tmp_path)
    deploy.deploy(vboard.port, firmware_root=tiny_firmware, reset=False, device_dir=bundle.folder)
    plain = deploy.deploy(vboard.port, firmware_root=tiny_firmware, reset=False)
    assert plain.copied == [] and plain.removed == []
    assert os.path.exists(os.path.join(vboard.flash_dir, "keys", "identity"))


def test_a_board_bundle_is_checked_against_the_board(tmp_path, vboard, tiny_firmware, capsys):
    bundle = _provision(tmp_path, out="real", board="esp32-devkitc")
    with pytest.raises(deploy.DeployError, match="runs a x64 MicroPython"):
        deploy.deploy(vboard.port, firmware_root=tiny_firmware, device_dir=bundle.folder)
    assert os.listdir(vboard.flash_dir) == []
    assert cli.main(["deploy", "--port", vboard.port, "--board", "esp32s3-psram",
                     "--device", bundle.folder]) == 1
    assert "provisioned for esp32-devkitc, not esp32s3-psram" in capsys.readouterr().err


def test_missing_or_broken_bundle_is_named(tmp_path, vboard, capsys):
    assert cli.main(["deploy", "--port", vboard.port, "--device", str(tmp_path / "nope")]) == 1
    assert "no device bundle" in capsys.readouterr().err
    bundle = _provision(tmp_path)
    with open(os.path.join(bundle.folder, "portier.json"), "a") as f:
        f.write("}")
    assert cli.main(["deploy", "--port", vboard.port, "--device", bundle.folder]) == 1
    assert "not JSON" in capsys.readouterr().err


def test_flash_dry_run_lists_the_bundle_copies(tmp_path, capsys):
    bundle = _provision(tmp_path, out="real", board="esp32-devkitc")
    assert cli.main(["flash", "--port", "/dev/ttyUSB0", "--board", "esp32-devkitc", "--firmware",
                     "fw.bin", "--dry-run", "--device", bundle.folder]) == 0
    out = capsys.readouterr().out
    for rel in ("portier.json", "secrets.json", "key.der", "board.json", "keys/identity"):
        assert "fs cp %s :%s" % (os.path.join(bundle.folder, rel), rel) in out, rel
    assert "0x1000" in out
    shutil.rmtree(bundle.folder)
    assert cli.main(["flash", "--port", "/dev/ttyUSB0", "--board", "esp32-devkitc", "--firmware",
                     "fw.bin", "--device", bundle.folder]) == 1
    assert "no device bundle" in capsys.readouterr().err
