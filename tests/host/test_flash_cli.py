"""`portier flash`: the exact esptool commands per chip, and --download on and off line."""

import http.server
import os
import shlex
import threading

import pytest

from portier_host import boards, cli, flash


def _dry_run(capsys, board, port):
    assert cli.main(["flash", "--port", port, "--board", board, "--firmware", "fw.bin", "--dry-run"]) == 0
    return split_commands(capsys.readouterr().out)


def split_commands(text):
    """The printed shell commands as argv lists (a quoted exec script may span lines)."""
    commands = []
    for token in shlex.split(text, comments=True):
        if os.path.basename(token) in ("esptool", "mpremote"):
            commands.append([token])
        else:
            commands[-1].append(token)
    return commands


def _esptool(argv):
    assert os.path.basename(argv[0]) == "esptool"  # v5 name, not esptool.py
    return argv[1:]


def test_dry_run_esp32_erases_then_writes_at_0x1000(capsys):
    lines = _dry_run(capsys, "esp32-devkitc", "/dev/ttyUSB0")
    assert _esptool(lines[0]) == ["--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800", "erase-flash"]
    assert _esptool(lines[1]) == ["--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800",
                                  "write-flash", "0x1000", "fw.bin"]


def test_dry_run_esp32s3_writes_at_0x0(capsys):
    lines = _dry_run(capsys, "esp32s3-psram", "/dev/ttyACM0")
    assert _esptool(lines[0])[:2] == ["--chip", "esp32s3"]
    assert _esptool(lines[0])[-1] == "erase-flash"
    assert _esptool(lines[1])[-3:] == ["write-flash", "0x0", "fw.bin"]


def test_dry_run_prints_the_deploy_mpremote_commands(capsys):
    lines = _dry_run(capsys, "esp32-devkitc", "/dev/ttyUSB0")
    mp = [l for l in lines if os.path.basename(l[0]) == "mpremote"]
    assert mp[0][1:4] == ["connect", "/dev/ttyUSB0", "exec"]  # survey, with the soft reset
    assert all(l[1:4] == ["connect", "/dev/ttyUSB0", "resume"] for l in mp[1:])
    assert mp[-1][4:] == ["reset"]
    copied = [a[1:] for l in mp for a in l if a.startswith(":")]
    assert "main.py" in copied and "portier/crypto/hkdf.mpy" in copied
    # every source it names exists: the commands can be run by hand
    for l in mp:
        for i, a in enumerate(l):
            if a == "cp":
                assert os.path.exists(l[i + 1])


def test_esptool_accepts_the_printed_command_names():
    # esptool v5 itself must know the hyphenated commands we print.
    import subprocess

    exe = flash.esptool_exe()
    for name in ("erase-flash", "write-flash"):
        proc = subprocess.run([exe, name, "--help"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    out = subprocess.run([exe, "write-flash", "--help"], capture_output=True, text=True).stdout
    assert "ADDRESS" in out.upper()


def test_missing_firmware_says_what_to_get(capsys):
    assert cli.main(["flash", "--port", "/dev/null", "--board", "esp32s3-psram"]) == 2
    err = capsys.readouterr().err
    assert "ESP32_GENERIC_S3-SPIRAM_OCT-YYYYMMDD" in err and "micropython.org/download/ESP32_GENERIC_S3/" in err


def test_image_check_refuses_non_esp_images(tmp_path):
    board = boards.load_board("esp32-devkitc")
    bad = tmp_path / "fw.bin"
    bad.write_bytes(b"<html>404</html>")
    with pytest.raises(flash.FlashError, match="0xE9"):
        flash.check_image(board, str(bad))
    with pytest.raises(flash.FlashError, match="not found"):
        flash.check_image(board, str(tmp_path / "missing.bin"))
    good = tmp_path / "ok.bin"
    good.write_bytes(b"\xe9" + bytes(1000))
    flash.check_image(board, str(good))


_PAGE = """<html><body>
<a href="/resources/firmware/ESP32_GENERIC_S3-20240602-v1.23.0.bin">plain</a>
<a href="/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20240602-v1.23.0.bin">1.23</a>
<a href="/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20250415-v1.25.0.bin">1.25</a>
<a href="/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20250809-v1.26.0-preview.bin">preview</a>
<a href="/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20241129-v1.24.1.bin">1.24.1</a>
</body></html>"""


class _Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/download/ESP32_GENERIC_S3/":
            body = _PAGE.encode()
        elif self.path == "/resources/firmware/ESP32_GENERIC_S3-SPIRAM_OCT-20250415-v1.25.0.bin":
            body = b"\xe9" + b"image" * 100
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_pick_release_takes_the_newest_stable_build_of_the_variant():
    board = boards.load_board("esp32s3-psram")
    assert flash.pick_release(board, _PAGE).endswith("ESP32_GENERIC_S3-SPIRAM_OCT-20250415-v1.25.0.bin")
    assert flash.pick_release(boards.load_board("esp32-devkitc"), _PAGE) is None


def test_download_from_a_loopback_mirror(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = "http://127.0.0.1:%d/download/" % server.server_address[1]
        path = flash.download(boards.load_board("esp32s3-psram"), str(tmp_path), base=base)
    finally:
        server.shutdown()
        server.server_close()
    assert os.path.basename(path) == "ESP32_GENERIC_S3-SPIRAM_OCT-20250415-v1.25.0.bin"
    with open(path, "rb") as f:
        assert f.read() == b"\xe9" + b"image" * 100


def test_download_offline_says_which_file_to_get(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: a refused connection, like a machine without internet
    with pytest.raises(flash.FlashError) as info:
        flash.download(boards.load_board("esp32-devkitc"), str(tmp_path),
                       base="http://127.0.0.1:%d/download/" % port)
    msg = str(info.value)
    assert "no internet" in msg and "ESP32_GENERIC-YYYYMMDD-v1.xx.x.bin" in msg
    assert "https://micropython.org/download/ESP32_GENERIC/" in msg
    assert os.listdir(tmp_path) == []


def test_flash_to_an_absent_port_stops_before_esptool(tmp_path, capsys):
    image = tmp_path / "ESP32_GENERIC-20250415-v1.25.0.bin"
    image.write_bytes(b"\xe9" + bytes(4096))
    port = str(tmp_path / "ttyUSB7")
    assert cli.main(["flash", "--port", port, "--board", "esp32-devkitc", "--firmware", str(image)]) == 1
    captured = capsys.readouterr()
    assert "does not exist" in captured.err and "esptool" not in captured.out
