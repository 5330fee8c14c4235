"""A virtual board: the real MicroPython unix port on a pseudo-terminal, with a folder as flash.

The real `mpremote connect <pty> ...` talks to it as to an ESP32 on a USB cable:

    with VirtualBoard("/tmp/flash") as vb:
        subprocess.run(["mpremote", "connect", vb.port, "resume", "fs", "ls"])

How it stays a board across resets. The client (mpremote, `portier monitor`) opens one pty
that lives as long as the VirtualBoard; each boot of the board is a fresh `micropython` process
on a second pty, and a relay thread copies bytes between the two. The unix port ends its process
where a board reboots, so the relay turns an exit into a reboot:

- exit status 75 is `machine.reset()` (the board's `machine` is extended with a reset that
  exits so): a hard reset, which runs boot.py and main.py again;
- any other exit (Ctrl-D in the REPL, Ctrl-D on an empty raw REPL, sys.exit) is a soft reset:
  the relay prints "MPY: soft reboot" like the ESP32 port, starts a new process, runs boot.py,
  runs main.py only when the friendly REPL was in use (as pyexec does), and re-enters the raw
  REPL when the client was in it, so mpremote's default auto soft-reset works as well as
  `resume`.

The board's filesystem is the folder itself: each process starts with it as its working
directory, so `/main.py` on the board is `<dir>/main.py`, and sys.path is the ESP32 port's
`['', '.frozen', '/lib']` with `/lib` mapped to `<dir>/lib`. `os.statvfs` reports a flash of
`flash_bytes` (the ESP32_GENERIC 4 MiB build leaves about 2 MiB to the filesystem) less what the
folder holds, so tools see a board-sized flash and a full one can be simulated.

The board's doorbell button, door-strike relay and status LED are files in `io_dir` (a folder
next to the flash, named to the board in $PORTIER_VBOARD_IO; portier.hal.vboardio is the
board side): `press_button()` holds the button down as a finger would, `relay()` and `led()`
read what the board drives. The door app on a virtual board uses them (portier.app.pick_hal).
A file named `reset` put there is the reset button: the relay removes it and hard-resets the
board. The module functions do the same for another process (`portier sim --door-pins`).
Its microphone and speaker are `mic.wav` (set_mic()) and `speaker.wav` there.

A running main.py is interrupted by Ctrl-C as on a board: the child's pty keeps ISIG on with
only VINTR (Ctrl-C) defined, and MicroPython switches its terminal to raw mode whenever it reads
the REPL, so Ctrl-C is a signal while code runs and a plain character at the prompt.
"""

import errno
import fcntl
import os
import pty
import select
import shutil
import signal
import subprocess
import tempfile
import termios
import threading
import time
import tty
import wave

from . import paths

RESET_EXIT_STATUS = 75  # what the board's machine.reset() exits with
DEFAULT_FLASH_BYTES = 2 * 1024 * 1024
_CTRL_A, _CTRL_B = 0x01, 0x02
_RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
_FRIENDLY_PROMPT = b">>> "
_BOOT_TIMEOUT_S = 10.0
_STALL_S = 0.5  # how long the relay waits for a reader before dropping bytes
_MAX_QUICK_EXITS = 5  # a process that dies this often right after start means a broken set-up


def _extending(module, also=""):
    """The head of a .py that extends the built-in `module`: MicroPython lets a .py extend an
    extensible built-in module, and clearing sys.path while importing reaches the built-in."""
    return ("import sys\n_p = sys.path\nsys.path = ()\ntry:\n    from %s import *\n%s"
            "finally:\n    sys.path = _p\n    del _p\n" % (module, also))


# The board's `machine`: the built-in one, extended.
_MACHINE_PY = _extending("machine") + """

def reset():
    # The virtual board's relay restarts the process as a hard reset (boot.py, main.py).
    sys.exit(%d)


def reset_cause():
    return 1  # PWRON_RESET: every boot of a virtual board starts from nothing
""" % RESET_EXIT_STATUS

# The board's `os`: the built-in one with a flash-sized statvfs.
_OS_PY = _extending("os", "    import os as _os_builtin\n") + """
_FLASH_BYTES = %d
_BLOCK = 4096


def _used(path):
    total = 0
    for entry in _os_builtin.ilistdir(path):
        child = entry[0] if path in ("", ".") else path + "/" + entry[0]
        if entry[1] & 0x4000:
            total += _BLOCK + _used(child)
        else:
            total += (_os_builtin.stat(child)[6] + _BLOCK - 1) // _BLOCK * _BLOCK
    return total


def statvfs(path):
    # Like littlefs on a board: f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, ...
    blocks = _FLASH_BYTES // _BLOCK
    free = max(0, blocks - _used("") // _BLOCK)
    return (_BLOCK, _BLOCK, blocks, free, free, 0, 0, 0, 0, 255)
"""

# Run by `micropython -i` at every boot, from the support folder (not part of the flash).
_BOOT_PY = """\
import os
import sys

sys.path[:] = ['', '.frozen', 'lib', %r]


def _run(name):
    try:
        os.stat(name)
    except OSError:
        return
    try:
        exec(open(name).read(), {'__name__': '__main__'})
    except KeyboardInterrupt:
        print('KeyboardInterrupt')
    except SystemExit:
        raise
    except BaseException as e:
        sys.print_exception(e)


_run('boot.py')
if os.getenv('PORTIER_VBOARD_MAIN') == '1':
    _run('main.py')
del _run
"""


class VirtualBoardError(RuntimeError):
    pass


def set_button(pins_dir, pressed):
    path = os.path.join(pins_dir, "button")
    with open(path + ".tmp", "w") as f:
        f.write("1" if pressed else "0")
    os.replace(path + ".tmp", path)


def press_button(pins_dir, hold_s=0.15):
    """Press the doorbell and let go after hold_s (the board debounces for 30 ms and polls
    every 20 ms, so hold it longer than 50 ms)."""
    set_button(pins_dir, True)
    time.sleep(hold_s)
    set_button(pins_dir, False)


def set_mic(pins_dir, wav_path):
    """What the virtual door's microphone hears from its next call on: the WAV at wav_path (any
    PCM rate and channels; converted to the board's 16 kHz mono), or silence for None."""
    from . import audiofiles
    from .provision import VBOARD_AUDIO

    rate = VBOARD_AUDIO["rate"]
    target = os.path.join(pins_dir, "mic.wav")
    if wav_path is None:
        try:
            os.remove(target)
        except FileNotFoundError:
            pass
        return
    pcm = audiofiles.load_pcm16(wav_path, rate)
    tmp = target + ".tmp"
    with open(tmp, "wb") as f, wave.open(f, "wb") as w:  # a bad folder fails before wave
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    os.replace(tmp, target)  # the board never opens half a file


def request_reset(pins_dir):
    """Press the reset button of the virtual board whose pins folder this is."""
    with open(os.path.join(pins_dir, "reset"), "w"):
        pass


class VirtualBoard:
    """A MicroPython board on a pty. Use as a context manager; `.port` is the pty's path."""

    def __init__(self, flash_dir, heapsize=None, flash_bytes=DEFAULT_FLASH_BYTES, run_main=True):
        self.flash_dir = os.path.abspath(flash_dir)
        self.heapsize = heapsize
        self.flash_bytes = flash_bytes
        self.run_main = run_main
        self.boots = 0  # processes started: 1 after start(), +1 per reset
        self.hard_resets = 0
        self.soft_resets = 0
        self.port = None
        self.io_dir = None
        self._support = None
        self._client_master = self._client_slave = None
        self._child = None
        self._child_master = None
        self._raw_mode = False
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()
        self._wake_r = self._wake_w = None
        self._quick_exits = 0
        self._asked = False  # the client wrote to this child: its exit may be a requested reboot
        self._stalled = set()  # fds whose reader stopped reading
        self._pending_hard = False  # hard_reset() killed the process: its exit is a hard reset
        self._started_at = 0.0
        self.error = None

    # -- life cycle

    def start(self):
        os.makedirs(self.flash_dir, exist_ok=True)
        self._support = tempfile.mkdtemp(prefix="portier-vboard-")
        self.io_dir = os.path.join(self._support, "pins")  # not "io": the support folder is on sys.path
        os.mkdir(self.io_dir)
        self._write_support()
        self._client_master, self._client_slave = pty.openpty()
        tty.setraw(self._client_slave)
        os.set_blocking(self._client_master, False)
        self.port = os.ttyname(self._client_slave)
        self._wake_r, self._wake_w = os.pipe()
        self._spawn(run_main=self.run_main)
        self._thread = threading.Thread(target=self._relay, name="vboard-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._wake_w is not None:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        self._kill_child()
        for fd in (self._client_master, self._client_slave, self._wake_r, self._wake_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._client_master = self._client_slave = self._wake_r = self._wake_w = None
        if self._support:
            shutil.rmtree(self._support, ignore_errors=True)
            self._support = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def pid(self):
        child = self._child
        return None if child is None else child.pid

    def hard_reset(self):
        """Press the board's reset button: the running process ends, a fresh one boots."""
        with self._lock:
            child = self._child
        if child is not None and child.poll() is None:
            self._pending_hard = True
            child.send_signal(signal.SIGKILL)  # the relay sees the exit and reboots

    # -- the board's button, relay and LED (portier.hal.vboardio on the board)

    def set_button(self, pressed):
        set_button(self.io_dir, pressed)

    def press_button(self, hold_s=0.15):
        press_button(self.io_dir, hold_s)

    def _read_io(self, name):
        try:
            with open(os.path.join(self.io_dir, name)) as f:
                return f.read().split()
        except FileNotFoundError:
            return None

    def relay(self):
        """(level, pulses) the board drives the strike relay with; None before it booted a
        door."""
        got = self._read_io("relay")
        return None if not got else (int(got[0]), int(got[1]))

    def led(self):
        """The LED state (portier.hal.controls LED_*) the door shows, or None before it set one."""
        got = self._read_io("led")
        return None if not got else int(got[0])

    def wait_boots(self, n, timeout=10.0):
        """Wait until the board has booted n times in all (1 = the first boot); True if so."""
        deadline = time.monotonic() + timeout
        while self.boots < n:
            if time.monotonic() > deadline or self.error is not None:
                return False
            time.sleep(0.02)
        return True

    # -- child process

    def _write_support(self):
        for name, text in (("machine.py", _MACHINE_PY), ("os.py", _OS_PY % self.flash_bytes),
                           ("_vboard_boot.py", _BOOT_PY % self._support)):
            with open(os.path.join(self._support, name), "w") as f:
                f.write(text)

    def _child_termios(self, fd):
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[3] |= termios.ISIG  # lflag: Ctrl-C interrupts running code
        cc = attrs[6]
        for name in ("VQUIT", "VSUSP"):
            cc[getattr(termios, name)] = b"\x00"
        cc[termios.VINTR] = b"\x03"
        termios.tcsetattr(fd, termios.TCSANOW, attrs)

    def _spawn(self, run_main):
        master, slave = pty.openpty()
        self._child_termios(slave)
        cmd = [paths.micropython_exe()]
        if self.heapsize:
            cmd += ["-X", "heapsize=" + str(self.heapsize)]
        cmd += ["-i", os.path.join(self._support, "_vboard_boot.py")]
        env = dict(os.environ)
        env["PORTIER_VBOARD_MAIN"] = "1" if run_main else "0"
        env["PORTIER_VBOARD_IO"] = self.io_dir
        env.pop("MICROPYPATH", None)
        env.pop("PORTIER_CONFIG", None)  # the board reads its own portier.json

        def as_terminal_owner():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        child = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=self.flash_dir,
                                 env=env, preexec_fn=as_terminal_owner, close_fds=True)
        os.close(slave)
        os.set_blocking(master, False)
        with self._lock:
            self._child, self._child_master = child, master
        self._started_at = time.monotonic()
        self._asked = False
        self.boots += 1

    def _kill_child(self):
        with self._lock:
            child, master = self._child, self._child_master
            self._child = self._child_master = None
        if child is not None and child.poll() is None:
            child.kill()
        if child is not None:
            child.wait(5)
        if master is not None:
            self._stalled.discard(master)
            os.close(master)

    # -- relay

    def _relay(self):
        try:
            self._relay_loop()
        except Exception as e:  # noqa: BLE001 - kept for the owner to see
            self.error = e

    def _relay_loop(self):
        while not self._stop.is_set():
            fds = [self._client_master, self._wake_r]
            child_fd = self._child_master
            if child_fd is not None:
                fds.append(child_fd)
            ready, _, _ = select.select(fds, [], [], 0.1)
            if self._stop.is_set():
                return
            self._reset_requested()
            if self._client_master in ready:
                data = self._read(self._client_master)
                if data:
                    self._track_mode(data)
                    if self._child_master is not None:
                        self._asked = True
                        self._write_all(self._child_master, data)
            if child_fd is not None and child_fd in ready:
                data = self._read(child_fd)
                if data:
                    self._write_all(self._client_master, data)
                elif data is None:
                    self._reboot()
                    continue
            child = self._child
            if child is not None and child.poll() is not None:
                self._drain_child()
                self._reboot()

    def _reset_requested(self):
        try:
            os.remove(os.path.join(self.io_dir, "reset"))
        except FileNotFoundError:
            return
        self.hard_reset()

    def _drain_child(self):
        fd = self._child_master
        while fd is not None:
            ready, _, _ = select.select([fd], [], [], 0)
            if not ready:
                return
            data = self._read(fd)
            if not data:
                return
            self._write_all(self._client_master, data)

    def _track_mode(self, data):
        for b in data:
            if b == _CTRL_A:
                self._raw_mode = True
            elif b == _CTRL_B:
                self._raw_mode = False

    @staticmethod
    def _read(fd):
        """Bytes, b"" for nothing now, or None when the other side has gone (EIO on a pty)."""
        try:
            return os.read(fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno == errno.EIO:
                return None
            raise

    def _write_all(self, fd, data):
        """Write what the other side takes; drop the rest, as a UART does when nobody reads it
        (a blocked relay would stall the board's output and its input). The first stall waits
        _STALL_S for a reader; while it lasts, later writes drop at once."""
        view = memoryview(data)
        deadline = time.monotonic() + (0 if fd in self._stalled else _STALL_S)
        while view:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._stalled.add(fd)
                    return
                select.select([], [fd], [], left)
                continue
            except OSError as e:
                if e.errno == errno.EIO:
                    return  # nobody on the other side
                raise
            view = view[n:]
        self._stalled.discard(fd)

    def _reboot(self):
        child = self._child
        status = None
        if child is not None:
            try:
                status = child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                status = child.wait(5)
        lived = time.monotonic() - self._started_at
        self._kill_child()
        if self._stop.is_set():
            return
        # Only an exit nobody asked for counts: a client that soft-resets the board (Ctrl-D in
        # raw REPL) several times within half a second each is a fast client, not a broken set-up.
        quick = lived < 0.5 and not self._asked
        self._quick_exits = self._quick_exits + 1 if quick else 0
        if self._quick_exits >= _MAX_QUICK_EXITS:
            self.error = VirtualBoardError("micropython keeps exiting at boot (status %s)" % status)
            self._stop.set()
            return
        hard = status == RESET_EXIT_STATUS or self._pending_hard
        self._pending_hard = False
        if hard:
            self.hard_resets += 1
            self._raw_mode = False  # a hard reset leaves the board in the friendly REPL
            self._spawn(run_main=self.run_main)
            return
        self.soft_resets += 1
        raw = self._raw_mode
        self._write_all(self._client_master, b"MPY: soft reboot\r\n")
        self._spawn(run_main=self.run_main and not raw)
        if raw:
            self._reenter_raw_repl()

    def _reenter_raw_repl(self):
        """After a soft reset in the raw REPL the board is back in it, as pyexec does."""
        fd = self._child_master
        seen = self._read_child_until(fd, _FRIENDLY_PROMPT)
        if seen is None:
            return
        # What boot.py printed reaches the client; the unix port's banner does not.
        banner = seen.find(b"MicroPython ")
        if banner > 0:
            self._write_all(self._client_master, seen[:banner])
        self._write_all(fd, b"\x01")
        seen = self._read_child_until(fd, _RAW_BANNER)
        if seen is not None:
            self._write_all(self._client_master, seen[seen.index(_RAW_BANNER):])

    def _read_child_until(self, fd, marker):
        seen = b""
        deadline = time.monotonic() + _BOOT_TIMEOUT_S
        while marker not in seen:
            if time.monotonic() > deadline or self._stop.is_set():
                return None
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                data = self._read(fd)
                if data is None:
                    return None
                seen += data
        return seen
