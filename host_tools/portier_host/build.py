"""Compile the firmware with mpy-cross and check it stays inside MicroPython's language subset.

Every module gets plain bytecode. Modules with `@micropython.native`/`viper` cannot be compiled
without a target architecture (mpy-cross says "invalid arch"), so they are compiled for
xtensawin (ESP32, ESP32-S3) and for the architecture of the host MicroPython that tests and the
simulator run (paths.micropython_exe(); read from its sys.implementation._mpy, so a 32-bit x86
build gets x86 code rather than silently falling back to the pure twins).
"""

import ast
import concurrent.futures
import os
import re
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


def compile_module(src, out_path, arch=None):
    """Run mpy-cross on one file; returns None, or mpy-cross's message naming file and line."""
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    cmd = [mpy_cross_exe(), "-o", out_path]
    if arch:
        cmd.append("-march=" + arch)
    rel = os.path.relpath(src)
    cmd.append(rel)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    return (proc.stdout + proc.stderr).strip() or "mpy-cross failed on %s" % rel


def board_only(text):
    return "# portier: board-only" in text


def compile_host_tree(root, out_dir, exe=None, top_level_only=False):
    """One importable tree for the host MicroPython at exe (default: the one the host tools
    run): plain bytecode, native modules for its architecture (left out when it has no
    emitter), board-only modules left out (they need hardware the host lacks).
    top_level_only: only main.py and the like, for a build with the package frozen in, which
    an .mpy copy would shadow. Returns the errors."""
    arch = native_arch(exe)
    jobs = []
    for src in firmware_sources(root):
        with open(src) as f:
            text = f.read()
        if board_only(text) or (top_level_only and os.path.dirname(src) != root.rstrip(os.sep)):
            continue
        native = uses_native_emitter(text)
        if native and arch is None:
            continue
        out = os.path.join(out_dir, os.path.relpath(src, root)[:-3] + ".mpy")
        jobs.append((src, out, arch if native else None))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = pool.map(lambda job: compile_module(*job), jobs)
    return [err for err in results if err]


def compile_firmware(root, out_dir, board_arch=BOARD_ARCH, host_arch=None):
    """Compile every firmware module, native ones for board_arch and for host_arch (default:
    the host MicroPython's, when it has an emitter); returns (compiled_paths, errors)."""
    compiled, errors = [], []
    if host_arch is None:
        try:
            host_arch = native_arch()
        except (OSError, BuildError):  # no host MicroPython: the board's build only
            host_arch = None
    for src in firmware_sources(root):
        rel = os.path.relpath(src, root)
        with open(src) as f:
            text = f.read()
        for line, msg in subset_problems(src, text):
            errors.append("%s:%d: %s" % (os.path.relpath(src), line, msg))
        base = os.path.join(out_dir, "%s", rel[:-3] + ".mpy")
        archs = [None]
        if uses_native_emitter(text):
            archs = [board_arch] + ([host_arch] if host_arch and host_arch != board_arch else [])
        for arch in archs:
            out = base % (arch or "bytecode")
            err = compile_module(src, out, arch)
            if err:
                errors.append(err)
            else:
                compiled.append(out)
    return compiled, errors
