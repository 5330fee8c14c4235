"""`make bench`: run every bench/bench_*.py in turn and stop on the first that fails.

Each benchmark is a standalone script run with the venv's Python; it starts real MicroPython
itself where it measures the board's runtime, and prints its own table. Benchmarks never run
inside `make test`.
"""

import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    wanted = set(argv[1:])
    scripts = sorted(glob.glob(os.path.join(HERE, "bench_*.py")))
    if wanted:
        scripts = [s for s in scripts if os.path.basename(s)[6:-3] in wanted]
    if not scripts:
        print("bench: no benchmarks found")
        return 1
    for script in scripts:
        print("== %s" % os.path.basename(script), flush=True)
        rc = subprocess.call([sys.executable, script], cwd=os.path.dirname(HERE))
        if rc:
            print("bench: %s failed (exit %d)" % (os.path.basename(script), rc))
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
