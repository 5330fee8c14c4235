# Core tests under CPython: the firmware package and the MicroPython shim on the path, and
# MicroPython's ticks functions added to `time` (host tools that do not ask never see them).
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))
for _path in (os.path.join(_REPO, "host_tools", "mpshim"), os.path.join(_REPO, "firmware"), _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import mptime  # noqa: E402
import smallint  # noqa: E402

mptime.install()
# Every heap-locked core test also checks, under CPython, that the frame path makes no int a
# 32-bit board would keep on the heap (host_tools/mpshim/smallint.py).
smallint.install()
