"""`portier deploy`: put the compiled firmware on a board, copying only what changed.

Steps, each through the real mpremote:
1. compile firmware/ with mpy-cross (build.build_image, the image the simulator also runs):
   top-level scripts (main.py, boot.py) stay source, as the board only runs those as .py; every
   package module becomes .mpy, bytecode unless it uses the native emitter, which is compiled
   for the board's architecture (read from the board itself);
2. ask the board (one `exec`) for its .mpy version, free flash, and the sha256 of every file
   Portier owns (main.py, boot.py, everything under portier/);
3. refuse early, with the reason, when the board's MicroPython is older than the .mpy files
   need, or when the changed files do not fit in its free flash;
4. copy the files whose hash differs, remove stale ones under portier/ (a stale foo.py would
   shadow a new foo.mpy), a few files per mpremote run to show progress;
5. hard-reset the board so it boots the new code.

With a device bundle (`--device DIR`, made by `portier provision`), the survey also hashes
the bundle's files on the board, and the config, board file, secrets and certificates are
copied when they differ; the Signal store only when the board has none or holds another
identity (see DeviceBundle). Nothing else is touched: logs, pairings and sessions the board
wrote stay as they are, and a deploy without --device leaves every bundle file alone.
"""

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

from . import build, paths

MANAGED_DIR = "portier"
_TOP_LEVEL_SOURCES = build.TOP_LEVEL_SOURCES
_BATCH = 8  # files per mpremote run: a progress step, and few enough to stay under its timeout
_MPREMOTE_TIMEOUT_S = 120
_RESET_SETTLE_S = 0.5
MPY_ARCHS = build.MPY_ARCHS

# Run on the board by `mpremote exec`. Prints one line per fact; reads files through one small
# buffer so a board with 60 KB of heap can hash the whole package.
_SURVEY = """\
import os, sys, hashlib, binascii
print('MPY', sys.implementation._mpy)
_s = os.statvfs('')
print('FS', _s[0], _s[2], _s[3])
_b = bytearray(512)
_m = memoryview(_b)
def _hash(p):
    h = hashlib.sha256()
    n = 0
    with open(p, 'rb') as f:
        while True:
            k = f.readinto(_b)
            if not k:
                break
            h.update(_m[:k])
            n += k
    print('F', binascii.hexlify(h.digest()).decode(), n, p)
def _walk(d):
    for e in os.ilistdir(d):
        p = d + '/' + e[0]
        if e[1] & 0x4000:
            print('D', p)
            _walk(p)
        else:
            _hash(p)
for _p in %r:
    try:
        os.stat(_p)
    except OSError:
        continue
    _hash(_p)
for _d in %r:
    try:
        _st = os.stat(_d)
    except OSError:
        continue
    if _st[0] & 0x4000:
        print('D', _d)
        _walk(_d)
"""


def survey_script(files, dirs):
    """The survey: hashes of the named files and of every file under the named folders."""
    return _SURVEY % (list(files), list(dirs))


class DeployError(RuntimeError):
    pass


def mpremote_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return exe if os.path.exists(exe) else "mpremote"


# -- the host side


class LocalFile:
    def __init__(self, remote, local):
        self.remote = remote  # path on the board, no leading slash
        self.local = local
        with open(local, "rb") as f:
            data = f.read()
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()


def build_image(firmware_root, out_dir, arch, frozen=False):
    """Compile firmware/ for a board of `arch` (build.build_image, the one image every target
    gets); returns the LocalFile list or raises DeployError."""
    files, errors = build.build_image(firmware_root, out_dir, arch, frozen=frozen)
    if errors:
        raise DeployError("firmware does not compile:\n" + "\n".join(errors))
    return [LocalFile(rel, os.path.join(out_dir, rel)) for rel in files]


def mpy_header_version(path):
    """(version, sub-version) from an .mpy header: b'M', version, features (sub in bits 0-1)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) < 4 or head[0:1] != b"M":
        raise DeployError("%s is not an .mpy file" % path)
    return head[1], head[2] & 3


# -- the board side


class BoardState:
    def __init__(self, mpy, block_size, blocks, free_blocks, files, dirs):
        self.mpy = mpy
        self.mpy_version = mpy & 0xFF
        self.mpy_sub = (mpy >> 8) & 3
        self.arch = MPY_ARCHS.get(mpy >> 10, "arch%d" % (mpy >> 10))
        self.block_size = block_size
        self.blocks = blocks
        self.free_bytes = block_size * free_blocks
        self.files = files  # path -> (sha256 hex, size)
        self.dirs = dirs


def parse_survey(text):
    mpy = fs = None
    files, dirs = {}, set()
    for line in text.splitlines():
        parts = line.strip().split(" ", 3)
        if parts[0] == "MPY" and len(parts) == 2:
            mpy = int(parts[1])
        elif parts[0] == "FS" and len(parts) == 4:
            fs = tuple(int(p) for p in parts[1:])
        elif parts[0] == "F" and len(parts) == 4:
            files[parts[3].lstrip("/")] = (parts[1], int(parts[2]))
        elif parts[0] == "D" and len(parts) == 2:
            dirs.add(parts[1].lstrip("/"))
    if mpy is None or fs is None:
        raise DeployError("the board did not answer the survey; output was:\n" + text.strip())
    return BoardState(mpy, fs[0], fs[1], fs[2], files, dirs)


class Mpremote:
    """Runs the real mpremote against one port; every run after the first uses `resume`."""

    def __init__(self, port, out=None, dry_run=False):
        out = sys.stdout if out is None else out
        self.port = port
        self.out = out
        self.dry_run = dry_run
        self.commands = []  # every command line run (or, in a dry run, printed)
        self._first = True

    def run(self, args, soft_reset=False):
        cmd = [mpremote_exe(), "connect", self.port]
        if not soft_reset:
            cmd.append("resume")
        cmd += list(args)
        self.commands.append(cmd)
        if self.dry_run:
            from .flash import format_command

            print(format_command(cmd), file=self.out)
            return ""
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_MPREMOTE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise DeployError("mpremote timed out after %d s on %s" % (_MPREMOTE_TIMEOUT_S, self.port)) from None
        if proc.returncode != 0:
            raise _explain_failure(self.port, proc.stdout + proc.stderr)
        return proc.stdout


def _explain_failure(port, output):
    text = output.strip()
    low = text.lower()
    if "enospc" in low or "errno 28" in low or "no space" in low:
        return FlashFullError("the board's flash is full (%s); remove files with "
                              "`mpremote connect %s fs rm :FILE` or flash a build with a larger "
                              "filesystem" % (text.splitlines()[-1], port))
    if "failed to access" in low or "could not exclusively lock" in low:
        return PortError(port_problem(port) or "cannot open %s: %s" % (port, text))
    return DeployError("mpremote failed on %s:\n%s" % (port, text))


class PortError(DeployError):
    pass


class FlashFullError(DeployError):
    pass


class MpyVersionError(DeployError):
    pass


def port_problem(port):
    """Why a serial port cannot be used now, or None when it opens (and is free)."""
    if not os.path.exists(port):
        return ("no board at %s: the port does not exist. Is the board plugged in with a data "
                "cable? `mpremote connect list` shows the ports there are" % port)
    import serial

    try:
        s = serial.Serial(port, 115200, exclusive=True, timeout=0)
    except serial.SerialException as e:
        msg = str(e)
        if "lock" in msg or "busy" in msg.lower() or "Errno 16" in msg:
            return ("%s is busy: another program has it open (a `portier monitor`, a serial "
                    "terminal, another mpremote). Close it and retry" % port)
        return "cannot open %s: %s" % (port, msg)
    s.close()
    return None


def check_version(state, needed):
    version, sub = needed
    if state.mpy_version != version or state.mpy_sub < sub:
        raise MpyVersionError(
            "the board's MicroPython writes .mpy %d.%d (sys.implementation._mpy=%d); Portier's "
            ".mpy files are %d.%d and need MicroPython 1.23 or newer: flash a current build with "
            "`portier flash`" % (state.mpy_version, state.mpy_sub, state.mpy, version, sub))


def plan(local_files, state):
    """(to_copy, to_remove, dirs_to_make) for turning the board's files into local_files."""
    wanted = {f.remote: f for f in local_files}
    to_copy = [f for f in local_files if state.files.get(f.remote, (None,))[0] != f.sha256]
    # The entry points go last: a deploy cut short leaves the old main.py starting, and the next
    # deploy finishes the job (every half-written file hashes differently).
    to_copy.sort(key=lambda f: ("/" not in f.remote, f.remote))
    to_remove = sorted(p for p in state.files
                       if p not in wanted and (p.startswith(MANAGED_DIR + "/") or p in _TOP_LEVEL_SOURCES))
    needed_dirs = set()
    for f in local_files:
        parts = f.remote.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            needed_dirs.add("/".join(parts[:i]))
    dirs_to_make = sorted(d for d in needed_dirs if d not in state.dirs)
    return to_copy, to_remove, dirs_to_make


def _rounded(size, block):
    return (size + block - 1) // block * block


def check_space(state, to_copy, to_remove, dirs_to_make):
    block = state.block_size
    need = sum(_rounded(f.size, block) for f in to_copy) + block * len(dirs_to_make)
    freed = sum(_rounded(state.files[f.remote][1], block) for f in to_copy if f.remote in state.files)
    freed += sum(_rounded(state.files[p][1], block) for p in to_remove)
    if need - freed > state.free_bytes:
        raise FlashFullError(
            "the board's flash is too full: the changed files need %d bytes, %d are free (of %d). "
            "Remove files with `mpremote fs rm`, or flash a build with a larger filesystem"
            % (need - freed, state.free_bytes, state.block_size * state.blocks))


def _prep_script(to_remove, dirs_to_make):
    # Parents come before children in dirs_to_make (sorted), so one pass makes the tree.
    return ("import os\nfor p in %r:\n os.remove(p)\nfor d in %r:\n try:\n  os.mkdir(d)\n"
            " except OSError:\n  pass" % (list(to_remove), list(dirs_to_make)))


def _progress(out, done, total, nbytes, last):
    width = 24
    filled = width * done // total if total else width
    bar = "#" * filled + "-" * (width - filled)
    print("deploy: [%s] %d/%d files, %.1f KiB  %s" % (bar, done, total, nbytes / 1024, last),
          file=out, flush=True)


class DeployResult:
    def __init__(self, copied, removed, state, commands):
        self.copied = copied  # remote paths
        self.removed = removed
        self.state = state
        self.commands = commands


def deploy(port, board=None, firmware_root=paths.FIRMWARE, reset=True, out=None,
           build_dir=None, device_dir=None, frozen=False):
    """Bring the board's firmware up to date with firmware_root and, with device_dir, with the
    device bundle `portier provision` made there; returns a DeployResult.

    frozen: the board's MicroPython image has the portier package frozen in (manifest.py,
    docs/frozen.md): only main.py and boot.py are copied, and every portier/ file on the
    filesystem is removed, since the filesystem comes before the frozen modules on sys.path."""
    out = sys.stdout if out is None else out
    bundle = None if device_dir is None else DeviceBundle(device_dir)
    if bundle is not None:
        bundle.check_board(board)
        board = board or bundle.board
    problem = port_problem(port)
    if problem:
        raise PortError(problem)
    mp = Mpremote(port, out)
    survey_files, survey_dirs = list(_TOP_LEVEL_SOURCES), [MANAGED_DIR]
    if bundle is not None:
        survey_files += [f.remote for f in bundle.config_files]
        survey_dirs.append(bundle.store_dir)
    state = parse_survey(mp.run(["exec", survey_script(survey_files, survey_dirs)],
                                soft_reset=True))
    print("deploy: board runs MicroPython .mpy %d.%d on %s, %d KiB free"
          % (state.mpy_version, state.mpy_sub, state.arch or "no native arch", state.free_bytes // 1024),
          file=out, flush=True)
    if board is not None and state.arch != board.mpy_arch:
        raise DeployError("board file %s is for %s (%s) but %s runs a %s MicroPython"
                          % (board.name, board.chip.name, board.mpy_arch, port, state.arch))
    own_build = build_dir is None
    build_dir = build_dir or tempfile.mkdtemp(prefix="portier-deploy-")
    try:
        local = build_image(firmware_root, build_dir, state.arch, frozen)
        mpy_files = [f for f in local if f.remote.endswith(".mpy")]
        if mpy_files:
            check_version(state, mpy_header_version(mpy_files[0].local))
        store_remove = []
        if bundle is not None:
            store, store_remove = bundle.store_to_seed(state)
            local = local + bundle.config_files + store
        to_copy, to_remove, dirs_to_make = plan(local, state)
        to_remove = sorted(to_remove + store_remove)
        check_space(state, to_copy, to_remove, dirs_to_make)
        _apply(mp, to_copy, to_remove, dirs_to_make, out)
        if reset:
            mp.run(["reset"])
            # mpremote returns before the board has reset (it sleeps 100 ms first so the reply
            # gets out); a client's Ctrl-C in that window would interrupt the reset.
            time.sleep(_RESET_SETTLE_S)
            print("deploy: board reset", file=out, flush=True)
    finally:
        if own_build:
            shutil.rmtree(build_dir, ignore_errors=True)
    return DeployResult([f.remote for f in to_copy], to_remove, state, mp.commands)


class DeviceBundle:
    """A folder made by `portier provision`: portier.json and the files it names go to the
    flash root under the same relative paths. The config, board file, secrets and certificates
    belong to the host: copied whenever they differ. The Signal store belongs to the board once
    it runs (sessions, consumed prekeys, pairings): it is copied only when the board has none or
    holds another identity (a device provisioned anew), and then replaces the board's store."""

    def __init__(self, folder):
        from . import boards, provision

        try:
            rel_files = provision.bundle_files(folder)
            cfg = provision.load_bundle_config(folder)
        except provision.ProvisionError as e:
            raise DeployError(str(e)) from None
        self.folder = folder
        self.store_dir = cfg.e2e_store
        prefix = self.store_dir + "/"
        self.config_files = [LocalFile(r, os.path.join(folder, r)) for r in rel_files
                             if not r.startswith(prefix)]
        self.store_files = [LocalFile(r, os.path.join(folder, r)) for r in rel_files
                            if r.startswith(prefix)]
        self.board = None
        board_file = cfg.audio.get("file")
        if board_file:
            try:
                self.board = boards.load_board(os.path.join(folder, board_file))
            except boards.BoardError as e:
                raise DeployError(str(e)) from None

    def check_board(self, board):
        """DeployError when the bundle was provisioned for another board than `board`."""
        if board is not None and self.board is not None and board.name != self.board.name:
            raise DeployError("the bundle in %s was provisioned for %s, not %s"
                              % (self.folder, self.board.name, board.name))

    def store_to_seed(self, state):
        """(store files to copy, board store files to remove) for this board."""
        ident = self.store_dir + "/identity"
        mine = [f for f in self.store_files if f.remote == ident]
        on_board = state.files.get(ident)
        if mine and on_board is not None and on_board[0] == mine[0].sha256:
            return [], []  # the board's own store: never overwritten
        wanted = set(f.remote for f in self.store_files)
        stale = [p for p in state.files if p.startswith(self.store_dir + "/") and p not in wanted]
        return list(self.store_files), stale


def _apply(mp, to_copy, to_remove, dirs_to_make, out):
    total = len(to_copy)
    if not to_copy and not to_remove:
        print("deploy: nothing changed, 0 files copied", file=out, flush=True)
        return
    if to_remove or dirs_to_make:
        mp.run(["exec", _prep_script(to_remove, dirs_to_make)])
        for p in to_remove:
            print("deploy: removed stale %s" % p, file=out, flush=True)
    done = nbytes = 0
    for i in range(0, total, _BATCH):
        batch = to_copy[i:i + _BATCH]
        args = []
        for f in batch:
            if args:
                args.append("+")
            args += ["fs", "cp", f.local, ":" + f.remote]
        mp.run(args)
        done += len(batch)
        nbytes += sum(f.size for f in batch)
        _progress(out, done, total, nbytes, batch[-1].remote)
    print("deploy: %d file(s) copied, %d removed" % (total, len(to_remove)), file=out, flush=True)


def dry_run_commands(port, board, firmware_root=paths.FIRMWARE, out=None, device_dir=None):
    """Print the mpremote commands a deploy to a freshly erased board runs (every file copied,
    with device_dir the whole bundle too).

    The files are compiled for real into build/deploy-<arch>/ and kept there, so the printed
    commands can be run by hand.
    """
    out = sys.stdout if out is None else out
    bundle = None if device_dir is None else DeviceBundle(device_dir)
    if bundle is not None:
        bundle.check_board(board)
    build_dir = os.path.join(paths.REPO, "build", "deploy-" + board.mpy_arch)
    shutil.rmtree(build_dir, ignore_errors=True)
    os.makedirs(build_dir)
    local = build_image(firmware_root, build_dir, board.mpy_arch)
    survey_files, survey_dirs = list(_TOP_LEVEL_SOURCES), [MANAGED_DIR]
    if bundle is not None:
        local += bundle.config_files + bundle.store_files
        survey_files += [f.remote for f in bundle.config_files]
        survey_dirs.append(bundle.store_dir)
    empty = BoardState(0, 4096, 0, 0, {}, set())
    to_copy, to_remove, dirs_to_make = plan(local, empty)
    mp = Mpremote(port, out, dry_run=True)
    mp.run(["exec", survey_script(survey_files, survey_dirs)], soft_reset=True)
    _apply(mp, to_copy, to_remove, dirs_to_make, io.StringIO())
    mp.run(["reset"])
    return mp.commands
