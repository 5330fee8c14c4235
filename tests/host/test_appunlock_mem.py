"""The door's unlock glue drops what an unlock needs only for a moment (tests/core/appunlockcase.py):
two right-PIN unlocks through portier.appunlock, in a fresh process per runtime (real MicroPython
from the firmware precompiled as a board runs it, and CPython through the shim), leave the Signal
code, the secrets module and the door log modules out of sys.modules, with the strike, the door
log file, the state and the replies right; on MicroPython the second unlock leaves the heap as it
found it (the modules it loaded again went again)."""

import os
import subprocess
import sys

from portier_host import mprun, paths

CORE = os.path.join(paths.REPO, "tests", "core")
_CODE = """
import sys
sys.path.insert(0, %r)
import appunlockcase
print("grown", appunlockcase.check())
"""


def _grown(out):
    for line in out.splitlines():
        if line.startswith("grown "):
            return int(line.split()[1])
    raise AssertionError("no result: %s" % out)


def test_unlock_modules_go_again_on_micropython(tmp_path):
    with mprun.compiled_firmware() as tree:
        proc = mprun.run_micropython([_script(tmp_path, tree)], "256k", cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grown = _grown(proc.stdout)
    # the heap the second unlock took, once collected: a few small objects (the door's
    # remembered counter, the lockout state), not the ~30 KB of code it loaded for the moment
    assert 0 <= grown < 2048, grown


def test_unlock_modules_go_again_on_cpython(tmp_path):
    code = ("import sys\nsys.path[:0] = [%r]\nfrom portier_host import paths\npaths.use_firmware()\n"
            % os.path.join(paths.REPO, "host_tools")) + _CODE % CORE
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _grown(proc.stdout) == 0


def _script(tmp_path, tree):
    path = tmp_path / "run.py"
    path.write_text("import sys\nsys.path[:] = [%r] + [p for p in sys.path if p != %r]\n"
                    % (tree, paths.FIRMWARE) + _CODE % CORE)
    return str(path)
