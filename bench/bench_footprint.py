"""Footprint: the size of the compiled firmware (.mpy for xtensawin, the ESP32's architecture:
what `portier deploy` copies), and the heap the modules take once imported on the host
MicroPython, three ways:

- from .mpy files on a filesystem (what a board pays today: bytecode, constants and interned
  names are all copied into the heap);
- from a ROMFS image (`mpremote romfs build`; vfs.VfsRom, which the esp32 port supports with
  `mpremote romfs deploy`): the .mpy are executed in place, only the runtime objects (module
  dicts, functions, classes, tables made at import) and the interned-name pool stay in RAM;
- frozen into the firmware image (manifest.py, docs/frozen.md): not measured here (that needs a
  MicroPython source tree to build a port with FROZEN_MANIFEST, which no package registry
  offers); the 32-bit and frozen figures are cited from a measurement made outside this project
  (REFERENCE_32BIT below), not estimated.

Every module that imports on the host is imported, in one fresh process per way (1 MiB heap),
after gc.collect(); board-only modules (machine.I2S) are left out of the heap figures. The host
build is 64-bit: pointers and GC blocks are twice an ESP32's, but bytecode, constants and
strings are not, so a 32-bit board needs about 0.70x the .mpy figure, not half (reference)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from portier_host import build, mprun, paths  # noqa: E402

_IMPORT = r"""
import gc, sys, micropython
MODS = %(mods)r
if %(rom)r:
    import vfs
    data = open(%(image)r, "rb").read()
    vfs.mount(vfs.VfsRom(data), "/rom")
    sys.path[:] = ["/rom", ".frozen"]
else:
    sys.path[:] = [%(tree)r, ".frozen"]
gc.collect()
micropython.qstr_info()
a0 = gc.mem_alloc()
for m in MODS:
    __import__(m)
    if %(per_package)r:
        gc.collect()
        print("after|%%s|%%d" %% (m, gc.mem_alloc() - a0))
gc.collect()
print("total|%%d" %% (gc.mem_alloc() - a0))
micropython.qstr_info()
print("where|%%s" %% sys.modules[MODS[-1]].__file__)
"""
_QSTR_RE = re.compile(r"qstr pool: n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), "
                      r"n_total_bytes=(\d+)")


def _modules(tree):
    mods = []
    for dirpath, _dirs, files in os.walk(tree):
        for f in files:
            if f.endswith(".mpy") and dirpath != tree:  # boot.py / main.py run, not imported
                rel = os.path.relpath(os.path.join(dirpath, f), tree)[:-4].replace(os.sep, ".")
                mods.append(rel[:-9] if rel.endswith(".__init__") else rel)
    # packages before their modules, then by name: the per-package steps read in tree order
    return sorted(mods, key=lambda m: (m.split(".")[:2], m.count("."), m))


def _import_run(tree, image, mods, rom, per_package=False, repeats=1):
    totals, qstr, where, steps = [], None, None, []
    for i in range(repeats):
        code = _IMPORT % {"mods": mods, "rom": rom, "image": image, "tree": tree,
                          "per_package": per_package and i == 0}
        out = mprun.run_snippet(code, heapsize="1m", timeout=300)
        pools = [tuple(int(x) for x in m.groups()) for m in _QSTR_RE.finditer(out)]
        qstr = pools[1][3] - pools[0][3]
        for line in out.splitlines():
            f = line.split("|")
            if f[0] == "total":
                totals.append(int(f[1]))
            elif f[0] == "where":
                where = f[1]
            elif f[0] == "after":
                steps.append((f[1], int(f[2])))
    return totals, qstr, where, steps


def _sizes(files, out_dir):
    """Bytes per package of the board's image (what `portier deploy` copies)."""
    by_pkg, total = {}, 0
    for rel in files:
        size = os.path.getsize(os.path.join(out_dir, rel))
        parts = rel.split("/")
        pkg = "/".join(parts[:2]) if len(parts) > 2 else parts[0]  # top level: boot, main
        by_pkg[pkg] = by_pkg.get(pkg, 0) + size
        total += size
    return total, by_pkg


def _source_bytes():
    total = 0
    for src in build.firmware_sources():
        total += os.path.getsize(src)
    return total


# A 32-bit build of the MicroPython v1.28.0 unix port (4-byte words, 16-byte GC blocks, 31-bit
# small ints, as on the ESP32), with and without Portier frozen in through manifest.py, measured
# with this project's own tools at firmware 9e138fa outside this project (issue 15): cited, not
# measured by this benchmark. Rows: (what, 64-bit pip build .mpy, 32-bit .mpy, 32-bit frozen,
# 64-bit frozen).
REFERENCE_32BIT = (
    ("heap after importing all 88 host-importable modules (B)", 289312, 204944, 52752, 101504),
    ("smallest heap completing the answered call (heapfit, KiB)", "272", "192", "76-80", "128"),
    ("live heap high-water over the answered call (B)", 266016, 185072, 70720, 123008),
)
REFERENCE_NOTE = ("measured outside this project on a 32-bit unix-port build (v1.28.0, firmware "
                  "9e138fa); a PSRAM-less ESP32 gives MicroPython about 112 KB: the frozen image "
                  "fits with ~30 KiB to spare, the .mpy route (192 KiB) cannot")


def run(quick=False):
    tmp = tempfile.mkdtemp(prefix="portier-bench-footprint-")
    try:
        board_dir = os.path.join(tmp, "board")
        files, errors = build.build_image(paths.FIRMWARE, board_dir, build.BOARD_ARCH)
        if errors:
            raise SystemExit("\n".join(errors))
        mpy_total, by_pkg = _sizes(files, board_dir)
        tree = os.path.join(tmp, "host")
        errors = build.host_image(paths.FIRMWARE, tree)
        if errors:
            raise SystemExit("\n".join(errors))
        for f in build.TOP_LEVEL_SOURCES:  # they run the board: not in the ROMFS image
            os.remove(os.path.join(tree, f))
        image = os.path.join(tmp, "portier.romfs")
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "mpremote"),
                               "romfs", "--no-mpy", "-o", image, "build", tree],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise SystemExit("mpremote romfs build failed: %s" % proc.stderr[-500:])
        image_bytes = os.path.getsize(image)
        mods = _modules(tree)
        repeats = 1 if quick else 3
        fs_tot, fs_qstr, fs_where, steps = _import_run(tree, image, mods, False, True, repeats)
        rom_tot, rom_qstr, rom_where, _ = _import_run(tree, image, mods, True, False, repeats)
        if not rom_where.startswith("/rom/") or fs_where.startswith("/rom/"):
            raise SystemExit("bench_footprint: modules came from %s / %s" % (fs_where, rom_where))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fs = benchlib.stats(fs_tot)
    rom = benchlib.stats(rom_tot)
    src = _source_bytes()
    figures = {
        "mpy_total_xtensawin": benchlib.figure(
            mpy_total, "B", "compiled firmware, .mpy for xtensawin (every module, boot.py and main.py too)",
            "mpy-cross %s" % build.BOARD_ARCH),
        "heap_imports_mpy": benchlib.figure(
            fs["median"], "B", "heap after importing every firmware module from .mpy files "
            "(%d modules)" % len(mods), "host MicroPython (64-bit)", fs),
        "heap_imports_romfs": benchlib.figure(
            rom["median"], "B", "the same imports from a ROMFS image (executed in place)",
            "host MicroPython (64-bit), vfs.VfsRom", rom),
        "heap_imports_32bit_frozen_ref": benchlib.figure(
            REFERENCE_32BIT[0][3], "B", "heap after importing every module, 32-bit build with "
            "Portier frozen in", "32-bit unix port (reference, not this run)",
            note=REFERENCE_NOTE),
        "heapfit_32bit_frozen_ref": benchlib.figure(
            REFERENCE_32BIT[1][3], "KiB", "smallest heap completing the answered call, 32-bit "
            "frozen", "32-bit unix port (reference, not this run)", note=REFERENCE_NOTE),
        "heapfit_32bit_mpy_ref": benchlib.figure(
            REFERENCE_32BIT[1][2], "KiB", "smallest heap completing the answered call, 32-bit "
            "from .mpy (does not fit a PSRAM-less ESP32)",
            "32-bit unix port (reference, not this run)", note=REFERENCE_NOTE),
    }
    size_rows = [[pkg, n] for pkg, n in sorted(by_pkg.items())]
    size_rows.append(["total .mpy (xtensawin)", mpy_total])
    size_rows.append(["ROMFS image of the host tree (x64 native)", image_bytes])
    size_rows.append(["Python source, for comparison", src])
    heap_rows = [
        [".mpy files on a filesystem (today)", benchlib.spread(fs, "%.0f"), fs_qstr, "0"],
        ["ROMFS image, executed in place", benchlib.spread(rom, "%.0f"), rom_qstr,
         "%.0f" % (fs["median"] - rom["median"])],
    ]
    prev, step_rows, pkg_of = 0, [], {}
    for m, cum in steps:
        pkg = ".".join(m.split(".")[:2])
        pkg_of[pkg] = pkg_of.get(pkg, 0) + cum - prev
        prev = cum
    for pkg, n in sorted(pkg_of.items(), key=lambda kv: -kv[1]):
        step_rows.append([pkg, n])
    tables = [
        benchlib.table("Compiled firmware size (bytes, .mpy for the board)", ["package", "bytes"],
                       size_rows),
        benchlib.table("Heap taken by importing every firmware module (bytes, host MicroPython "
                       "64-bit; median of %d runs)" % repeats,
                       ["how the modules are stored", "heap after imports",
                        "interned-name pool growth", "saved vs .mpy"], heap_rows,
                       ["a 32-bit board needs about 0.70x the .mpy figure (next table)"]),
        benchlib.table("Reference: 32-bit and frozen builds (cited, not measured by this run)",
                       ["figure", "64-bit pip build, .mpy", "32-bit, .mpy", "32-bit, frozen",
                        "64-bit, frozen"], [list(r) for r in REFERENCE_32BIT], [REFERENCE_NOTE]),
        benchlib.table("Heap by package when imported from .mpy (bytes, in import order: a "
                       "package pays for what it imports first)", ["package", "bytes"],
                       step_rows),
    ]
    return benchlib.result("footprint", "Footprint: firmware size and import heap", __doc__,
                           tables, figures)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
