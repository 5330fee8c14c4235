"""Run code under the real MicroPython unix port from host tests and benchmarks."""

import contextlib
import os
import subprocess
import tempfile

from . import build, paths


def run_micropython(args, heapsize="96k", cwd=paths.REPO, timeout=300, check=True):
    """Run `micropython -X heapsize=H args...`; returns the CompletedProcess (text output)."""
    cmd = [paths.micropython_exe(), "-X", "heapsize=" + heapsize] + list(args)
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(
            "micropython exited %d\n--- stdout\n%s\n--- stderr\n%s"
            % (proc.returncode, proc.stdout, proc.stderr)
        )
    return proc


@contextlib.contextmanager
def compiled_firmware():
    """A temporary tree of the firmware as a board of the host's architecture gets it
    (build.host_image: no compile on the heap); for run_snippet(tree=...)."""
    with tempfile.TemporaryDirectory(prefix="portier-mpy-") as tree:
        errors = build.host_image(paths.FIRMWARE, tree)
        if errors:
            raise RuntimeError("the firmware does not compile: %s" % "; ".join(errors))
        yield tree


def run_snippet(code, heapsize="96k", timeout=300, check=True, tree=None):
    """Run a piece of Python under MicroPython with firmware/ on sys.path, or only the compiled
    `tree` (see compiled_firmware) when given; returns stdout."""
    if tree:  # the sources must not supply what the tree leaves out
        prologue = "import sys\nsys.path[:] = [%r] + [p for p in sys.path if p != %r]\n" % (
            tree, paths.FIRMWARE)
    else:
        prologue = "import sys\nsys.path.insert(0, %r)\n" % paths.FIRMWARE
    fd, path = tempfile.mkstemp(suffix=".py", prefix="portier-mp-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(prologue + code)
        return run_micropython([path], heapsize, timeout=timeout, check=check).stdout
    finally:
        os.remove(path)
