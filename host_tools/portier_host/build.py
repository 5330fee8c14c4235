"""One path from firmware/ to the files a device runs (build_image), and the check that the
firmware stays inside MicroPython's language subset.

Every target gets its image from build_image: a board (`portier deploy`, the frozen route's
main.py), the simulator's door and the MicroPython test suite (host_image), the benchmarks, and
`portier compile`. Modules with `@micropython.native`/`viper` cannot be compiled without a
target architecture (mpy-cross says "invalid arch"): a board's image has them for its own
(xtensawin on ESP32 and ESP32-S3), a host image for the architecture of the host MicroPython
that tests and the simulator run (paths.micropython_exe(); read from its
sys.implementation._mpy, so a 32-bit x86 build gets x86 code rather than silently falling back
to the pure twins).
"""

import ast
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

from . import paths

# Modules and names MicroPython 1.23+ does not have; a core module that uses one imports fine
# on CPython and fails on the board.
FORBIDDEN_MODULES = {
    "dataclasses", "typing", "enum", "abc", "functools", "contextlib", "pathlib", "threading",
    "concurrent", "logging", "secrets", "queue", "itertools", "operator", "copy", "inspect",
    "weakref", "types", "textwrap", "decimal", "fractions", "statistics", "socketserver",
}
FORBIDDEN_ATTRS = {
    "get_running_loop": "asyncio.get_running_loop is CPython-only",
    "create_datagram_endpoint": "MicroPython asyncio has no datagram endpoints",
    "to_thread": "MicroPython asyncio has no to_thread",
    "recvfrom_into": "ESP32 sockets have no recvfrom_into",
    "recv_into": "ESP32 sockets have no recv_into",
}
_NATIVE_RE = re.compile(r"^\s*@micropython\.(native|viper)\b", re.M)
BOARD_ARCH = "xtensawin"
# MicroPython's native architecture numbers (sys.implementation._mpy >> 10, py/persistentcode.h)
# as mpy-cross -march names them.
MPY_ARCHS = {
    0: None, 1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em",
    7: "armv7emsp", 8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc",
}
_PROBE = "import sys; print(sys.implementation._mpy)"
_arch_cache = {}
_frozen_cache = {}


class BuildError(RuntimeError):
    pass


def native_arch(exe=None):
    """The -march of the native emitter of the MicroPython at exe (default: the one the host
    tools run), or None when that build has none (viper modules are then left out and the
    pure twins run, as on a board without the emitter)."""
    exe = exe or paths.micropython_exe()
    if exe not in _arch_cache:
        proc = subprocess.run([exe, "-c", _PROBE], capture_output=True, text=True, timeout=30)
        try:
            mpy = int(proc.stdout.strip())
        except ValueError:
            raise BuildError("%s did not report sys.implementation._mpy: %s"
                             % (exe, (proc.stdout + proc.stderr).strip()[:200]))
        _arch_cache[exe] = MPY_ARCHS.get(mpy >> 10, "unknown")
    arch = _arch_cache[exe]
    if arch == "unknown":
        raise BuildError("%s has a native architecture mpy-cross does not name" % exe)
    return arch


def has_frozen_portier(exe=None):
    """True when the MicroPython at exe has the portier package frozen in (manifest.py)."""
    exe = exe or paths.micropython_exe()
    if exe not in _frozen_cache:
        env = dict(os.environ, MICROPYPATH=".frozen")  # nothing but the frozen modules
        proc = subprocess.run([exe, "-c", "import portier"], capture_output=True, env=env,
                              cwd="/", timeout=30)
        _frozen_cache[exe] = proc.returncode == 0
    return _frozen_cache[exe]


def firmware_sources(root=paths.FIRMWARE):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py"))
    return out


def uses_native_emitter(text):
    return _NATIVE_RE.search(text) is not None


def subset_problems(path, text):
    """(line, message) for each construct MicroPython lacks; a syntax error is one problem."""
    try:
        tree = ast.parse(text, path)
    except SyntaxError as e:
        return [(e.lineno or 0, "syntax error: %s" % e.msg)]
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in FORBIDDEN_MODULES:
                    problems.append((node.lineno, "imports %s (not in MicroPython)" % top))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.split(".")[0]
            if top in FORBIDDEN_MODULES:
                problems.append((node.lineno, "imports from %s (not in MicroPython)" % top))
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRS:
            problems.append((node.lineno, FORBIDDEN_ATTRS[node.attr]))
        elif isinstance(node, ast.Match):
            problems.append((node.lineno, "match statement (not in MicroPython)"))
    return problems


def mpy_cross_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def compile_module(src, out_path, arch=None, source_name=None):
    """Run mpy-cross on one file; returns None, or mpy-cross's message naming file and line.
    source_name: the name stored in the .mpy (shown in tracebacks); given, the output depends
    only on the source, not on where portier runs, so unchanged files hash the same anywhere."""
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    cmd = [mpy_cross_exe(), "-o", out_path]
    if source_name:
        cmd += ["-s", source_name]
    if arch:
        cmd.append("-march=" + arch)
    rel = os.path.relpath(src)
    cmd.append(rel)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    return (proc.stdout + proc.stderr).strip() or "mpy-cross failed on %s" % (source_name or rel)


def board_only(text):
    return "# portier: board-only" in text


# The image: one rule set from firmware/ to the files a device runs, for every target.
TOP_LEVEL_SOURCES = ("main.py", "boot.py")  # a board runs these only as source files


def build_image(root, out_dir, arch, board=True, frozen=False):
    """Compile the firmware at root into out_dir as a device of native architecture `arch`
    runs it; returns (files, errors), files being paths relative to out_dir, the same as on
    the device's flash. Every target (a board through `portier deploy`, the simulator's door,
    the MicroPython test suite, the benchmarks) gets its image here, so what the simulator runs
    is, file for file and byte for byte, what a board of its architecture gets.

    The rules: main.py and boot.py are copied as source (a board runs only those as .py); every
    module of the package becomes .mpy with its path under root as its stored name, bytecode
    unless it uses the native emitter, which is compiled for `arch`; any construct outside
    MicroPython's subset is an error. arch None (a MicroPython without a native emitter): a
    board cannot take the native modules (an error); a host build leaves them out and their
    pure twins run. board=False (the host's MicroPython unix port) leaves out the board-only
    modules, which need hardware the host lacks. frozen: the package is frozen into the
    MicroPython image (manifest.py), so only the top-level scripts are files (an .mpy copy on
    the filesystem would shadow the frozen package)."""
    root = root.rstrip(os.sep)
    jobs, files, errors = [], [], []
    for src in firmware_sources(root):
        rel = os.path.relpath(src, root).replace(os.sep, "/")
        with open(src) as f:
            text = f.read()
        errors.extend("%s:%d: %s" % (rel, line, msg) for line, msg in subset_problems(src, text))
        if "/" not in rel:
            if rel in TOP_LEVEL_SOURCES:
                os.makedirs(out_dir, exist_ok=True)
                shutil.copyfile(src, os.path.join(out_dir, rel))
                files.append(rel)
            continue
        if frozen or (not board and board_only(text)):
            continue
        native = uses_native_emitter(text)
        if native and arch is None:
            if board:
                errors.append("%s: uses the native emitter, but the board's MicroPython has no "
                              "native architecture" % rel)
            continue
        jobs.append((src, os.path.join(out_dir, rel[:-3] + ".mpy"), arch if native else None,
                     rel))
        files.append(rel[:-3] + ".mpy")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        errors.extend(err for err in pool.map(lambda job: compile_module(*job), jobs) if err)
    return files, errors


def host_image(root, out_dir, exe=None, frozen=False):
    """build_image for the host MicroPython at exe (default: the one the host tools run), as
    the simulator's door, the MicroPython test suite and the benchmarks import the firmware;
    returns the errors."""
    return build_image(root, out_dir, native_arch(exe), board=False, frozen=frozen)[1]


def compile_firmware(root, out_dir, board_arch=BOARD_ARCH, host_arch=None):
    """`portier compile`: the board's image into out_dir/<board_arch>/ and, when the host
    MicroPython's native architecture differs (default: read from it), the host's image into
    out_dir/<host_arch>/; returns (compiled .mpy paths, errors)."""
    if host_arch is None:
        try:
            host_arch = native_arch()
        except (OSError, BuildError):  # no host MicroPython: the board's build only
            host_arch = None
    targets = [(board_arch, True)]
    if host_arch and host_arch != board_arch:
        targets.append((host_arch, False))
    compiled, errors = [], []
    for arch, board in targets:
        tree = os.path.join(out_dir, arch)
        files, errs = build_image(root, tree, arch, board=board)
        compiled += [os.path.join(tree, f) for f in files if f.endswith(".mpy")]
        errors += [e for e in errs if e not in errors]  # a subset problem once, not per target
    return compiled, errors
