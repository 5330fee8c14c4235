"""`portier deploy` cost against a virtual board (real MicroPython on a pty, real mpremote).

Rows: a first deploy to an empty flash, a re-run with nothing changed, a run after one module
changed. Columns: wall time, mpremote runs, files copied. The virtual board answers far faster
than a USB-serial ESP32 at 115200 baud, so the times are a floor; the mpremote run counts and
copied files carry over to a real board.
"""

import io
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402

from portier_host import deploy, paths  # noqa: E402
from portier_host.vboard import VirtualBoard  # noqa: E402


def run(quick=False):
    work = tempfile.mkdtemp(prefix="portier-bench-deploy-")
    try:
        fw = os.path.join(work, "firmware")
        if quick:  # the runner's smoke test: two files, not the firmware
            os.makedirs(os.path.join(fw, "portier"))
            for rel in ("main.py", os.path.join("portier", "__init__.py")):
                shutil.copy(os.path.join(paths.FIRMWARE, rel), os.path.join(fw, rel))
        else:
            shutil.copytree(paths.FIRMWARE, fw, ignore=shutil.ignore_patterns("__pycache__"))
        rows = []
        with VirtualBoard(os.path.join(work, "flash")) as vb:
            for label, change in (("empty flash", None), ("nothing changed", None),
                                  ("one module changed", "portier/__init__.py")):
                if change:
                    path = os.path.join(fw, change)
                    with open(path, "a") as f:
                        f.write("BENCH_MARK = %d\n" % time.time_ns())
                t0 = time.perf_counter()
                res = deploy.deploy(vb.port, firmware_root=fw, out=io.StringIO())
                dt = time.perf_counter() - t0
                rows.append([label, dt, len(res.commands), len(res.copied)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = benchlib.table("portier deploy against a virtual board (one run each)",
                           ["deploy", "seconds", "mpremote runs", "files copied"], rows,
                           ["the virtual board answers far faster than a USB-serial ESP32: the "
                            "times are a floor; runs and copied files carry over"])
    return benchlib.result("deploy", "portier deploy cost", __doc__, [table])


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
