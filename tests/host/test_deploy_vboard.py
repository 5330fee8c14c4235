"""`portier deploy` against a virtual board through the real mpremote."""

import hashlib
import os
import shutil
import subprocess

import pytest
import serial

from portier_host import boards, build, cli, deploy, paths, sim
from portier_host.vboard import VirtualBoard

# RFC 5869 test case 1 (HKDF-SHA256)
_IKM = "0b" * 22
_SALT = "000102030405060708090a0b0c"
_INFO = "f0f1f2f3f4f5f6f7f8f9"
_OKM = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"


def mpremote(port, *args):
    proc = subprocess.run([deploy.mpremote_exe(), "connect", port, "resume"] + list(args),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def firmware(tmp_path):
    root = tmp_path / "firmware"
    shutil.copytree(paths.FIRMWARE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def vboard(tmp_path):
    with VirtualBoard(str(tmp_path / "flash")) as vb:
        yield vb
    assert vb.error is None


def _expected_remote_paths(root):
    out = set()
    for src in build.firmware_sources(str(root)):
        rel = os.path.relpath(src, root)
        if "/" not in rel:
            if rel in ("main.py", "boot.py"):
                out.add(rel)
        else:
            out.add(rel[:-3] + ".mpy")
    return out


def _flash_files(folder):
    out = {}
    for dirpath, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_deploy_copies_everything_then_nothing_then_exactly_the_changed_file(vboard, firmware, capsys):
    first = deploy.deploy(vboard.port, firmware_root=str(firmware))
    expected = _expected_remote_paths(firmware)
    assert set(first.copied) == expected
    assert first.copied[-1] == "main.py"  # the entry point only after every module it imports
    assert set(_flash_files(vboard.flash_dir)) == expected
    assert "deploy: [" in capsys.readouterr().out  # progress
    assert vboard.wait_boots(2) and vboard.hard_resets == 1  # reset after the copy

    # The .mpy files import and run under the board's MicroPython (RFC 5869 vector).
    out = mpremote(vboard.port, "exec",
                   "import binascii as b, portier.crypto.hkdf as h\n"
                   "print(h.__file__)\n"
                   "print(b.hexlify(h.hkdf(b.unhexlify(%r), 42, b.unhexlify(%r), b.unhexlify(%r))).decode())"
                   % (_IKM, _SALT, _INFO))
    assert out.split() == ["portier/crypto/hkdf.mpy", _OKM]

    # Board-side hashes (mpremote's own sha256sum) equal the host's for every file.
    for remote, digest in _flash_files(vboard.flash_dir).items():
        assert mpremote(vboard.port, "fs", "sha256sum", ":" + remote).split()[-1] == digest

    again = deploy.deploy(vboard.port, firmware_root=str(firmware))
    assert again.copied == [] and again.removed == []
    assert "nothing changed, 0 files copied" in capsys.readouterr().out
    cp_runs = [c for c in again.commands if "cp" in c]
    assert cp_runs == []

    init = firmware / "portier" / "__init__.py"
    init.write_text(init.read_text().replace('VERSION = "0.1.0"', 'VERSION = "0.1.1"'))
    third = deploy.deploy(vboard.port, firmware_root=str(firmware))
    assert third.copied == ["portier/__init__.mpy"]
    assert mpremote(vboard.port, "exec", "import portier; print(portier.VERSION)") == "0.1.1\n"


def test_cli_deploy_twice_copies_nothing_the_second_time(vboard, capsys):
    assert cli.main(["deploy", "--port", vboard.port]) == 0
    first = capsys.readouterr().out
    assert "file(s) copied" in first
    assert cli.main(["deploy", "--port", vboard.port]) == 0
    assert "nothing changed, 0 files copied" in capsys.readouterr().out


def test_the_simulators_door_runs_what_deploy_puts_on_a_board(vboard, firmware, tmp_path):
    # deploy from a copy of firmware/ elsewhere (the bytes must not depend on where portier
    # runs) onto the virtual board (x64, the host MicroPython's architecture) ...
    deploy.deploy(vboard.port, firmware_root=str(firmware), reset=False)
    on_board = _flash_files(vboard.flash_dir)
    # ... and let the simulator run a MicroPython door from its own build of the repository
    result = sim.run("rejected", 1, ring_timeout_s=2, workdir=str(tmp_path / "sim"), talk_s=0.5)
    assert result["problems"] == [], result["problems"]
    door_ran = _flash_files(str(tmp_path / "sim" / "door-firmware"))
    hardware = set()  # what the host cannot run: modules that say they need the board
    for rel in on_board:
        src = firmware / (rel[:-4] + ".py" if rel.endswith(".mpy") else rel)
        if "# portier: board-only" in src.read_text():
            hardware.add(rel)
    assert hardware and set(hardware) < set(on_board)
    assert door_ran == dict((k, v) for k, v in on_board.items() if k not in hardware)


def test_stale_files_are_removed_and_other_files_kept(vboard, firmware):
    deploy.deploy(vboard.port, firmware_root=str(firmware), reset=False)
    flash = vboard.flash_dir
    # a module renamed away, and a .py left from a source deploy that would shadow the .mpy
    with open(os.path.join(flash, "portier", "old_module.mpy"), "wb") as f:
        f.write(b"M\x06\x00\x1f")
    with open(os.path.join(flash, "portier", "crypto", "hkdf.py"), "w") as f:
        f.write("raise ImportError('stale source')\n")
    with open(os.path.join(flash, "config.json"), "w") as f:
        f.write("{}")  # provisioning's file: never Portier-managed code
    result = deploy.deploy(vboard.port, firmware_root=str(firmware), reset=False)
    assert result.copied == []
    assert result.removed == ["portier/crypto/hkdf.py", "portier/old_module.mpy"]
    assert not os.path.exists(os.path.join(flash, "portier", "old_module.mpy"))
    assert os.path.exists(os.path.join(flash, "config.json"))


def test_native_modules_are_compiled_for_the_boards_arch(vboard, firmware):
    (firmware / "portier" / "_twice_viper.py").write_text(
        "import micropython\n\n\n@micropython.viper\ndef twice(x: int) -> int:\n    return x * 2\n")
    deploy.deploy(vboard.port, firmware_root=str(firmware), reset=False)
    assert mpremote(vboard.port, "exec", "from portier._twice_viper import twice; print(twice(21))") == "42\n"
    with open(os.path.join(vboard.flash_dir, "portier", "_twice_viper.mpy"), "rb") as f:
        head = f.read(4)
    assert head[2] >> 2 == 2  # the features byte names x64, the virtual board's native arch


def test_board_file_must_match_the_board(vboard, firmware):
    with pytest.raises(deploy.DeployError, match="runs a x64 MicroPython"):
        deploy.deploy(vboard.port, boards.load_board("esp32-devkitc"), firmware_root=str(firmware))
    assert _flash_files(vboard.flash_dir) == {}


def test_board_micropython_older_than_the_mpy_files_is_refused(vboard, firmware, monkeypatch):
    # This board's MicroPython takes .mpy 6.3; pretend the compiler emitted 6.4.
    monkeypatch.setattr(deploy, "mpy_header_version", lambda path: (6, 4))
    with pytest.raises(deploy.MpyVersionError) as info:
        deploy.deploy(vboard.port, firmware_root=str(firmware))
    assert "MicroPython 1.23 or newer" in str(info.value) and "6.3" in str(info.value)
    assert _flash_files(vboard.flash_dir) == {}  # refused before copying anything


def test_version_check_rules():
    new, old = deploy.BoardState(6 | 3 << 8 | 10 << 10, 4096, 1, 1, {}, set()), \
        deploy.BoardState(6 | 2 << 8 | 10 << 10, 4096, 1, 1, {}, set())
    assert new.arch == "xtensawin" and (new.mpy_version, new.mpy_sub) == (6, 3)
    deploy.check_version(new, (6, 3))
    with pytest.raises(deploy.MpyVersionError, match="writes .mpy 6.2"):
        deploy.check_version(old, (6, 3))
    with pytest.raises(deploy.MpyVersionError):
        deploy.check_version(deploy.BoardState(5 | 10 << 10, 4096, 1, 1, {}, set()), (6, 3))


def test_flash_full_is_refused_before_copying(tmp_path, firmware):
    with VirtualBoard(str(tmp_path / "flash"), flash_bytes=8 * 4096) as vb:
        with pytest.raises(deploy.FlashFullError) as info:
            deploy.deploy(vb.port, firmware_root=str(firmware))
        assert "too full" in str(info.value)
        assert _flash_files(vb.flash_dir) == {}


def test_enospc_from_mpremote_is_explained():
    err = deploy._explain_failure("/dev/ttyUSB0", "cp x :x\nmpremote: cp: x: OSError: [Errno 28] ENOSPC")
    assert isinstance(err, deploy.FlashFullError) and "flash is full" in str(err)


def test_absent_port_is_named(tmp_path, capsys):
    port = str(tmp_path / "ttyUSB9")
    with pytest.raises(deploy.PortError, match="does not exist"):
        deploy.deploy(port)
    assert cli.main(["deploy", "--port", port]) == 1
    assert "plugged in" in capsys.readouterr().err


def test_busy_port_is_named(vboard, capsys):
    holder = serial.Serial(vboard.port, 115200, exclusive=True)
    try:
        with pytest.raises(deploy.PortError, match="busy"):
            deploy.deploy(vboard.port)
        assert cli.main(["deploy", "--port", vboard.port]) == 1
        assert "portier monitor" in capsys.readouterr().err
    finally:
        holder.close()
    assert deploy.port_problem(vboard.port) is None


def test_frozen_deploy_keeps_only_the_entry_points(vboard, firmware):
    # A board whose image has portier frozen in: the filesystem's portier/ would shadow it.
    deploy.deploy(vboard.port, firmware_root=str(firmware), reset=False)
    before = _flash_files(vboard.flash_dir)
    result = deploy.deploy(vboard.port, firmware_root=str(firmware), reset=False, frozen=True)
    assert result.copied == []
    assert sorted(result.removed) == sorted(p for p in before if p.startswith("portier/"))
    assert sorted(_flash_files(vboard.flash_dir)) == ["boot.py", "main.py"]
    again = deploy.deploy(vboard.port, firmware_root=str(firmware), reset=False, frozen=True)
    assert again.copied == [] and again.removed == []
