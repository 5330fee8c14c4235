# The door app as main.py runs it, plus a task that samples the MicroPython heap: what
# `portier sim --mem-log MS` (and bench/bench_heap.py) run on the door instead of main.py.
# Not a firmware module: it lives with the host tools and is compiled into the simulator's door
# tree only when asked for, so a normal door (and every board) runs without it.
#
# Every MS ms one log line {"src": "mem", "msg": "sample", "alloc": gc.mem_alloc(),
# "free": gc.mem_free()}; every 5th sample first runs gc.collect() and adds "live" (what is
# still reachable: the call's working set). "alloc" between collections includes garbage, so
# its high-water mark shows how full the heap gets; "live" shows what the call needs.
import gc
import os
import sys

import asyncio
import time

import portier.app

_EVERY = 5


def _line(tag, **fields):
    parts = ['"src": "mem"', '"msg": "%s"' % tag, '"t": %d' % time.ticks_ms()]
    for k in fields:
        parts.append('"%s": %d' % (k, fields[k]))
    print("{" + ", ".join(parts) + "}")


async def _sample(interval_ms):
    n = 0
    while True:
        n += 1
        if n % _EVERY == 0:
            alloc = gc.mem_alloc()
            free = gc.mem_free()
            gc.collect()
            _line("sample", alloc=alloc, free=free, live=gc.mem_alloc())
        else:
            _line("sample", alloc=gc.mem_alloc(), free=gc.mem_free())
        await asyncio.sleep_ms(interval_ms)


_run = portier.app.App.run


async def _probed_run(self):
    task = asyncio.create_task(_sample(_INTERVAL_MS))
    try:
        return await _run(self)
    finally:
        task.cancel()


_INTERVAL_MS = int(os.getenv("PORTIER_MEM_LOG_MS") or "100")
gc.collect()
_line("boot", live=gc.mem_alloc(), free=gc.mem_free(), heap=gc.mem_alloc() + gc.mem_free())
portier.app.App.run = _probed_run
portier.app.main(sys.argv[:1])
