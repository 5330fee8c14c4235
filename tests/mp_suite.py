"""Run every tests/core/test_*.py under real MicroPython, one process per test module.

Each module gets a fresh heap of the given size, as a board would after boot: one process for
the whole suite left the 96 KiB heap too fragmented (interned strings and compiled firmware
accumulate) for the larger tests. The firmware is imported precompiled (.mpy, native modules
for the given MicroPython's own architecture), as deploy ships it to a board. Modules run in parallel on the machine's cores. The closing
line sums them all: "N passed, N failed[, N skipped]"; skips are listed with their reasons, and
a module that dies without its own closing line (MemoryError at import, a crash) counts as a
failure. Usage: python tests/mp_suite.py MICROPYTHON HEAPSIZE [module ...]
"""

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.join(HERE, "core")
RUNNER = os.path.join(HERE, "mp_runner.py")
_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")
TIMEOUT_S = 600


def run_module(micropython, heap, firmware, name):
    cmd = [micropython, "-X", "heapsize=" + heap, RUNNER, "--firmware", firmware, CORE, name]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S,
                              cwd=os.path.dirname(HERE))
        out, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, code = (e.stdout or b"").decode(errors="replace") + "\nTIMEOUT", -1
    lines = out.rstrip().splitlines()
    match = _SUMMARY.match(lines[-1]) if lines else None
    if match is None:
        return name, out, (0, 1, 0), code  # died before its closing line
    counts = tuple(int(g or 0) for g in match.groups())
    return name, out, counts, code


def compile_firmware(micropython):
    """The firmware precompiled with mpy-cross, as a board runs it: modules compiled from source
    on a 96 KiB heap leave it too fragmented (and a board never compiles them)."""
    from portier_host import build

    out = os.path.join(os.path.dirname(HERE), "build", "mp-host")
    shutil.rmtree(out, ignore_errors=True)
    errors = build.host_image(os.path.join(os.path.dirname(HERE), "firmware"), out,
                                     exe=micropython)
    for err in errors:
        print(err)
    return None if errors else out


def main(argv):
    micropython, heap = argv[1], argv[2]
    names = argv[3:] or sorted(
        f[:-3] for f in os.listdir(CORE) if f.startswith("test_") and f.endswith(".py"))
    firmware = compile_firmware(micropython)
    if firmware is None:
        return 1
    totals = [0, 0, 0]
    skips = []
    failed_modules = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda n: run_module(micropython, heap, firmware, n), names))
    for name, out, counts, code in results:
        for i in range(3):
            totals[i] += counts[i]
        skips.extend(line for line in out.splitlines() if line.startswith("skipped "))
        bad = counts[1] or code != 0
        print("%-32s %d passed, %d failed%s" % (name, counts[0], counts[1],
                                                ", %d skipped" % counts[2] if counts[2] else ""))
        if bad:
            failed_modules.append((name, out))
    for name, out in failed_modules:
        print("\n==== %s ====\n%s" % (name, out.rstrip()))
    for line in skips:
        print(line)
    summary = "%d passed, %d failed" % (totals[0], totals[1])
    if totals[2]:
        summary += ", %d skipped" % totals[2]
    print(summary)
    return 1 if failed_modules else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
