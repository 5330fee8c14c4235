"""The virtual board speaks the REPL well enough for the real mpremote, and reboots like a board."""

import os
import subprocess
import time

import pytest

from portier_host import deploy
from portier_host.vboard import VirtualBoard


def mpremote(port, *args, timeout=30):
    proc = subprocess.run([deploy.mpremote_exe(), "connect", port] + list(args),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def vboard(tmp_path):
    with VirtualBoard(str(tmp_path / "flash")) as vb:
        yield vb
    assert vb.error is None


def test_resume_mode_exec_and_eval(vboard):
    assert mpremote(vboard.port, "resume", "exec", "print(6 * 7)") == "42\n"
    name = mpremote(vboard.port, "resume", "exec", "import sys; print(sys.implementation.name)")
    assert name == "micropython\n"
    assert vboard.boots == 1  # resume never resets


def test_default_mode_soft_resets_into_a_fresh_interpreter(vboard):
    mpremote(vboard.port, "resume", "exec", "leftover = 5")
    assert mpremote(vboard.port, "resume", "eval", "leftover") == "5\n"
    # Without `resume`, mpremote soft-resets through the raw REPL first: the variable is gone.
    out = mpremote(vboard.port, "exec", "print('leftover' in globals())")
    assert out == "False\n"
    assert vboard.soft_resets == 1 and vboard.boots == 2
    assert mpremote(vboard.port, "soft-reset", "+", "eval", "3 * 3") == "9\n"
    assert vboard.soft_resets == 2


def test_flash_is_the_folder_and_statvfs_is_board_sized(vboard):
    folder = vboard.flash_dir
    with open(os.path.join(folder, "hello.txt"), "w") as f:
        f.write("from the host\n")
    assert mpremote(vboard.port, "resume", "fs", "cat", ":hello.txt") == "from the host\n"
    mpremote(vboard.port, "resume", "fs", "mkdir", ":lib", "+", "fs", "cp",
             os.path.join(folder, "hello.txt"), ":lib/copy.txt")
    assert os.path.exists(os.path.join(folder, "lib", "copy.txt"))
    out = mpremote(vboard.port, "resume", "exec", "import os; s = os.statvfs('/'); print(s[0] * s[2], s[0] * s[3])")
    total, free = map(int, out.split())
    assert total == 2 * 1024 * 1024 and 0 < total - free < 64 * 1024
    # /lib on the board's sys.path is <folder>/lib
    with open(os.path.join(folder, "lib", "greet.py"), "w") as f:
        f.write("WORD = 'hi'\n")
    assert mpremote(vboard.port, "resume", "exec", "import greet; print(greet.WORD)") == "hi\n"


def test_machine_reset_is_a_hard_reset_that_runs_main(tmp_path):
    folder = tmp_path / "flash"
    folder.mkdir()
    (folder / "main.py").write_text("import os\nf = open('boots.txt', 'a')\nf.write('x')\nf.close()\n")
    with VirtualBoard(str(folder)) as vb:
        assert vb.wait_boots(1)
        assert _wait_for(lambda: (folder / "boots.txt").exists())
        mpremote(vb.port, "resume", "reset")
        assert vb.wait_boots(2)
        assert _wait_for(lambda: (folder / "boots.txt").read_text() == "xx")
        assert vb.hard_resets == 1
        # a soft reset from the raw REPL does not run main.py (pyexec's rule)
        mpremote(vb.port, "soft-reset")
        assert vb.soft_resets == 1
        time.sleep(0.3)
        assert (folder / "boots.txt").read_text() == "xx"
        # the reset button: the process dies wherever it is, the board boots from scratch
        vb.hard_reset()
        assert vb.wait_boots(4)
        assert _wait_for(lambda: (folder / "boots.txt").read_text() == "xxx")
        assert vb.hard_resets == 2
        assert mpremote(vb.port, "resume", "eval", "2 + 2") == "4\n"
        assert vb.error is None


def test_ctrl_c_interrupts_a_running_main(tmp_path):
    folder = tmp_path / "flash"
    folder.mkdir()
    (folder / "main.py").write_text("import time\nwhile True:\n    time.sleep_ms(10)\n")
    with VirtualBoard(str(folder)) as vb:
        time.sleep(0.3)  # main.py is looping now, as the app would
        assert mpremote(vb.port, "resume", "eval", "40 + 2", timeout=15) == "42\n"
        assert vb.error is None


def _wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def test_output_nobody_reads_does_not_stall_the_board(tmp_path):
    folder = tmp_path / "flash"
    folder.mkdir()
    # 200 KB of console output with no client attached, far more than a pty buffers
    (folder / "main.py").write_text(
        "for i in range(2000):\n    print('x' * 99)\nopen('done.txt', 'w').close()\n")
    with VirtualBoard(str(folder)) as vb:
        assert _wait_for(lambda: (folder / "done.txt").exists(), timeout=30)
        assert mpremote(vb.port, "resume", "eval", "7 * 6") == "42\n"  # stale output flushed
        assert vb.error is None


def test_portier_vboard_command(tmp_path):
    import signal
    import sys

    folder = tmp_path / "flash"
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "portier"), "vboard",
                             "--dir", str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("vboard: /dev/pts/"), line
        port = line.split()[1]
        mpremote(port, "resume", "fs", "touch", ":made-by-mpremote")
        assert (folder / "made-by-mpremote").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def _read_until(fd, marker, timeout=10):
    import select
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, "timed out waiting for %r, got %r" % (marker, seen[-200:])
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            seen += os.read(fd, 4096)
    return seen


def test_soft_resets_in_quick_succession_are_not_a_broken_board(tmp_path):
    # A fast client (mpremote running several commands) soft-resets the board again and again
    # within half a second each: asked-for reboots must never count as "exiting at boot".
    with VirtualBoard(str(tmp_path / "flash"), run_main=False) as vb:
        fd = os.open(vb.port, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"\r\x03\x03\x01")
            _read_until(fd, b"raw REPL; CTRL-B to exit\r\n>")
            for _ in range(8):
                os.write(fd, b"\x04")
                _read_until(fd, b"soft reboot\r\n")
                _read_until(fd, b"raw REPL; CTRL-B to exit\r\n>")
        finally:
            os.close(fd)
        assert vb.soft_resets >= 8
    assert vb.error is None


def test_an_interpreter_that_exits_unasked_at_boot_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTIER_MICROPYTHON", "/bin/true")
    vb = VirtualBoard(str(tmp_path / "flash"), run_main=False)
    vb.start()
    try:
        deadline = time.monotonic() + 20
        while vb.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        vb.stop()
    assert "keeps exiting at boot" in str(vb.error)
