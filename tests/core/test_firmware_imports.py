# Every firmware module imports in this runtime. A CPython-only construct (dataclasses, typing,
# ...) in any module fails here under MicroPython with a traceback naming the file.
# Two explicit exceptions, each announced by a marker line in the module itself:
#   "# portier: board-only (reason)"  needs hardware the host MicroPython lacks (machine.I2S);
#   modules with @micropython.viper/native are imported on MicroPython only (their pure twins
#   are what CPython runs).
import gc
import os
import sys

import portier
from coretest import ON_MICROPYTHON

_FIRMWARE_PKG = portier.__file__.rsplit("/", 1)[0]


def _module_files(folder, package):
    out = []
    for name in sorted(os.listdir(folder)):
        path = folder + "/" + name
        if name.endswith(".py") or name.endswith(".mpy"):  # sources, or the precompiled tree
            stem = name[: name.rindex(".")]
            mod = package if stem == "__init__" else package + "." + stem
            out.append((mod, path))
        elif name != "__pycache__" and _is_dir(path):
            out.extend(_module_files(path, package + "." + name))
    return out


def _is_dir(path):
    return os.stat(path)[0] & 0x4000 != 0


def _excluded(path):
    if path.endswith(".mpy"):
        return None  # the precompiled host tree holds only what the host can import
    # Line by line: a whole module's text is a big contiguous buffer on a fragmented heap.
    native = False
    with open(path) as f:
        for line in f:
            if "# portier: board-only" in line:
                return "board-only"
            native = native or "@micropython.viper" in line or "@micropython.native" in line
    if native and not ON_MICROPYTHON:
        return "native emitter"
    return None


def _forget(before):
    # Drop the modules an import added, and their names on the parent package: the test proves
    # each module imports; holding all of them at once would not fit the suite's 96 KiB heap.
    for key in list(sys.modules):
        if key in before:
            continue
        del sys.modules[key]
        parent, _, child = key.rpartition(".")
        if parent in sys.modules and hasattr(sys.modules[parent], child):
            delattr(sys.modules[parent], child)


# Interned names stay for the life of a MicroPython process, so one process no longer holds
# every module's import on the suite's heap: these packages are checked in
# test_firmware_imports_late.py, _media.py and _e2e.py, each in a process of its own.
LATE = ("portier.signaling", "portier.wire")
MEDIA = ("portier.media",)
E2E = ("portier.e2e", "portier.net.media")


def test_every_firmware_module_imports():
    import_all(lambda mod: not mod.startswith(LATE) and not mod.startswith(MEDIA)
               and not mod.startswith(E2E))


def import_all(select):
    files = _module_files(_FIRMWARE_PKG, "portier")
    assert len(files) >= 8  # the package and its sub-packages at least
    imported = 0
    for mod, path in files:
        if not select(mod) or _excluded(path):
            continue
        before = list(sys.modules)
        gc.collect()
        try:
            __import__(mod)
        except Exception as e:
            raise AssertionError("%s does not import: %r" % (path, e))
        imported += 1
        if ON_MICROPYTHON:
            _forget(before)
    assert imported >= 4


def test_main_compiles():
    # main.py runs the app when imported, so it is only compiled here.
    base = _FIRMWARE_PKG.rsplit("/", 1)[0]
    try:
        with open(base + "/main.py") as f:
            compile(f.read(), base + "/main.py", "exec")
    except OSError:
        os.stat(base + "/main.mpy")  # the precompiled tree: mpy-cross compiled it already
    assert sys.implementation.name in ("micropython", "cpython")
