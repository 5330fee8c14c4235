"""Where the firmware and the CPython shim live, and how host code imports the firmware."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(REPO, "firmware")
MPSHIM = os.path.join(REPO, "host_tools", "mpshim")


def use_firmware():
    """Make `import portier` work in this CPython process, on the shim.

    Host tools that run core modules (phone, switchboard, simulator) call this once; it adds the
    firmware and the shim to sys.path and gives `time` MicroPython's ticks functions.
    """
    for path in (MPSHIM, FIRMWARE):
        if path not in sys.path:
            sys.path.insert(0, path)
    import mptime

    mptime.install()


# The one way to measure another MicroPython build (a 32-bit one, one with Portier frozen in):
# every host tool, test and benchmark that runs MicroPython runs this executable.
MICROPYTHON_ENV = "PORTIER_MICROPYTHON"


def micropython_exe():
    """$PORTIER_MICROPYTHON when set, else the MicroPython unix port installed next to this
    interpreter (`make setup`), else `micropython` on PATH."""
    exe = os.environ.get(MICROPYTHON_ENV)
    if exe:
        if not os.path.isfile(exe) or not os.access(exe, os.X_OK):
            raise FileNotFoundError("%s=%s is not an executable file" % (MICROPYTHON_ENV, exe))
        return os.path.abspath(exe)
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(exe):
        return exe
    from shutil import which

    found = which("micropython")
    if found is None:
        raise FileNotFoundError("micropython executable not found; run `make setup`")
    return found
