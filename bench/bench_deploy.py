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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "host_tools"))

from portier_host import deploy, paths  # noqa: E402
from portier_host.vboard import VirtualBoard  # noqa: E402


def main():
    work = tempfile.mkdtemp(prefix="portier-bench-deploy-")
    try:
        fw = os.path.join(work, "firmware")
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
                rows.append((label, dt, len(res.commands), len(res.copied)))
        print("%-22s %9s %14s %13s" % ("deploy", "seconds", "mpremote runs", "files copied"))
        for label, dt, runs, copied in rows:
            print("%-22s %9.2f %14d %13d" % (label, dt, runs, copied))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
