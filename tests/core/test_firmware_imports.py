# Every firmware module imports in this runtime. A CPython-only construct (dataclasses, typing,
# ...) in any module fails here under MicroPython with a traceback naming the file.
# Two explicit exceptions, each announced by a marker line in the module itself:
#   "# portier: board-only (reason)"  needs hardware the host MicroPython lacks (machine.I2S);
#   modules with @micropython.viper/native are imported on MicroPython only (their pure twins
#   are what CPython runs).
import os
import sys

import portier
from coretest import ON_MICROPYTHON

_FIRMWARE_PKG = portier.__file__.rsplit("/", 1)[0]


def _module_files(folder, package):
    out = []
    for name in sorted(os.listdir(folder)):
        path = folder + "/" + name
        if name.endswith(".py"):
            mod = package if name == "__init__.py" else package + "." + name[:-3]
            out.append((mod, path))
        elif name != "__pycache__" and _is_dir(path):
            out.extend(_module_files(path, package + "." + name))
    return out


def _is_dir(path):
    return os.stat(path)[0] & 0x4000 != 0


def _excluded(path):
    with open(path) as f:
        text = f.read()
    if "# portier: board-only" in text:
        return "board-only"
    if not ON_MICROPYTHON and ("@micropython.viper" in text or "@micropython.native" in text):
        return "native emitter"
    return None


def test_every_firmware_module_imports():
    files = _module_files(_FIRMWARE_PKG, "portier")
    assert len(files) >= 8  # the package and its sub-packages at least
    imported = 0
    for mod, path in files:
        if _excluded(path):
            continue
        if ON_MICROPYTHON:
            _import_alone(mod, path)
        else:
            try:
                __import__(mod)
            except Exception as e:
                raise AssertionError("%s does not import: %r" % (path, e))
        imported += 1
    assert imported >= 8


def _import_alone(mod, path):
    # Each module in a fresh MicroPython with this one's heap size: compiling every module from
    # source in one 96 KiB heap fragments it long before the modules fill it.
    import gc

    heap_kb = (gc.mem_free() + gc.mem_alloc()) // 1024
    code = "import sys; sys.path.insert(0, '%s'); import %s" % (_FIRMWARE_PKG.rsplit("/", 1)[0], mod)
    status = os.system('%s -X heapsize=%dk -c "%s"' % (sys.executable, heap_kb, code))
    if status != 0:
        raise AssertionError("%s does not import (exit status %d, traceback above)" % (path, status))


def test_main_compiles():
    # main.py runs the app when imported, so it is only compiled here.
    path = _FIRMWARE_PKG.rsplit("/", 1)[0] + "/main.py"
    with open(path) as f:
        compile(f.read(), path, "exec")
    assert sys.implementation.name in ("micropython", "cpython")
