"""Where the door's heap goes, on the host MicroPython (a 64-bit build: about twice an ESP32's
object sizes). Not part of `make bench` (bench/bench_*.py); run it by hand:

  .venv/bin/python bench/heapprobe.py imports          # import cost per firmware module
  .venv/bin/python bench/heapprobe.py peak [--heap 384k]   # live heap over an answered call

"imports": one MicroPython process imports every host-importable firmware module in dependency
order (a module's portier imports first), so each row is that module's own cost: gc.mem_alloc()
after gc.collect(), before and after its import.
"peak": the answered scenario of `portier sim` (--talk 2) with a sampler task in the door that
every 20 ms collects and reads gc.mem_alloc(): the live high-water and the log line it followed.
The smallest heap completing the call: `python -m portier_host.heapfit` (bench_call reports it).
"""

import argparse
import ast
import asyncio
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "host_tools"))

from portier_host import build, mprun, paths  # noqa: E402

_PROBE_MAIN = r'''
import gc
import sys
import time
import asyncio
gc.collect()
_boot = gc.mem_alloc()
import portier.app as A
gc.collect()
_imp = gc.mem_alloc()
_peak = [0, 0, 0]
_orig_run = A.App.run
_orig_log = A.log_line
_last = ["start"]


def _log(lvl, src, msg, fields):
    _last[0] = src + ":" + msg
    _orig_log(lvl, src, msg, fields)


A.log_line = _log


async def _sampler():
    while True:
        gc.collect()
        m = gc.mem_alloc()
        if m > _peak[0]:
            _peak[0] = m
            _peak[1] = time.ticks_ms()
            _last_at_peak[0] = _last[0]
            _last_at_peak[1] = sorted(k for k in sys.modules if k.startswith("portier"))
        await asyncio.sleep_ms(20)

_last_at_peak = ["", None]


async def _run(self):
    gc.collect()
    _peak[2] = gc.mem_alloc()
    t = asyncio.create_task(_sampler())
    try:
        await _orig_run(self)
    finally:
        t.cancel()
        gc.collect()
        _orig_log("I", "probe", "heap", {"boot": _boot, "imported": _imp, "app_built": _peak[2],
                  "peak": _peak[0], "peak_t": _peak[1], "after": _last_at_peak[0],
                  "end": gc.mem_alloc(), "total": gc.mem_alloc() + gc.mem_free()})
        _orig_log("I", "probe", "modules", {"at_peak": " ".join(_last_at_peak[1] or ())})


_steps = []


def _live():
    gc.collect()
    return gc.mem_alloc()


def _wrap(owner, name, label):
    fn = getattr(owner, name, None)
    if fn is None:  # an older firmware (--firmware) without it
        return

    def wrapped(*a, **kw):
        before = _live()
        r = fn(*a, **kw)
        _steps.append((label, before, _live()))
        return r

    setattr(owner, name, wrapped)


def _wrap_async(owner, name, label):
    fn = getattr(owner, name, None)
    if fn is None:
        return

    async def wrapped(*a, **kw):
        before = _live()
        r = await fn(*a, **kw)
        _steps.append((label, before, _live()))
        return r

    setattr(owner, name, wrapped)


from portier.net import streams as _streams
_wrap(_streams, "client_tls", "client_tls")
_wrap_async(_streams, "open_stream", "open_stream (TCP+TLS handshake)")
import portier.e2e as _E
_K = getattr(_E, "CallKeys", None) or A.Keys  # the keys object of this firmware, or an older one
_wrap(_K, "wrap", "Keys.wrap")
_wrap(_K, "unwrap", "Keys.unwrap")
_wrap(A.App, "_new_media", "App._new_media")
import portier.doorpart as _D
_wrap_async(_D.DoorPart, "_on_pair", "DoorPart._on_pair")
_wrap_async(A.App, "_stop_media", "App._stop_media")
_wrap(A.App, "__init__", "App.__init__")
_wrap(A.App, "shed", "App.shed")
_wrap_async(A.App, "_on_node", "App._on_node")
A.App.run = _run
try:
    A.main()
finally:
    for _l, _b, _a in _steps:
        if 1:
            _orig_log("I", "probe", "step", {"step": _l, "before": _b, "after": _a,
                      "delta": _a - _b})
'''


def _sim(heap, talk_s, probe):
    from portier_host import sim

    real_compile = build.host_image

    def compile_tree(root, out_dir, **kw):
        errors = real_compile(_FIRMWARE[0], out_dir, **kw)
        if probe:  # the probing main.py in place of the image's own
            with open(os.path.join(out_dir, "main.py"), "w") as f:
                f.write(_PROBE_MAIN)
        return errors

    build.host_image = compile_tree
    try:
        s = sim.Simulation("answered", talk_s=talk_s, heap=heap)
        result = asyncio.run(s.run())
    finally:
        build.host_image = real_compile
    lines = [d for _, d in s.parties["door"].lines if d.get("src") == "probe"]
    return result, lines


def cmd_peak(args):
    result, line = _sim(args.heap, args.talk, True)
    if result["problems"]:
        print("call FAILED at %s: %s" % (args.heap, result["problems"][:2]))
    for d in line:
        d = dict((k, v) for k, v in d.items() if k not in ("src", "lvl", "t"))
        print(json.dumps(d))
    return 1 if result["problems"] else 0


_FIRMWARE = [paths.FIRMWARE]  # --firmware: another tree for the door (e.g. `git archive` of a
# commit, to measure "before"); the phones and the switchboard always run this checkout.


def _portier_imports(path, modname):
    with open(path) as f:
        tree = ast.parse(f.read())
    pkg = modname if path.endswith("__init__.py") else modname.rpartition(".")[0]
    deps = []
    for node in tree.body:  # module level only: imports inside functions are lazy
        if isinstance(node, ast.Import):
            deps += [a.name for a in node.names if a.name.startswith("portier")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                mod = base + ("." + node.module if node.module else "")
            else:
                mod = node.module or ""
            if not mod.startswith("portier"):
                continue
            deps.append(mod)
            deps += [mod + "." + a.name for a in node.names]
    return deps


def _module_order():
    mods = {}
    for src in build.firmware_sources(_FIRMWARE[0]):
        rel = os.path.relpath(src, _FIRMWARE[0])[:-3].replace(os.sep, ".")
        if not rel.startswith("portier"):
            continue
        with open(src) as f:
            if build.board_only(f.read()):
                continue
        mod = rel[: -len(".__init__")] if rel.endswith(".__init__") else rel
        mods[mod] = src
    order, seen = [], set()

    def visit(m):
        if m in seen or m not in mods:
            return
        seen.add(m)
        parts = m.split(".")
        for i in range(1, len(parts)):
            visit(".".join(parts[:i]))
        for d in _portier_imports(mods[m], m):
            visit(d)
        order.append(m)

    for m in sorted(mods):
        visit(m)
    return order


def cmd_imports(args):
    order = _module_order()
    with tempfile.TemporaryDirectory(prefix="portier-heapprobe-") as tree:
        errors = build.host_image(_FIRMWARE[0], tree)
        if errors:
            print(errors[0])
            return 1
        if args.isolated:
            rows = _isolated(tree, order, args.heap)
            return _print_imports(rows, None, args)
        code = ("import gc, sys\nsys.path.insert(0, %r)\ngc.collect()\nbase = gc.mem_alloc()\n"
                "prev = base\nfor m in %r:\n    __import__(m)\n    gc.collect()\n"
                "    a = gc.mem_alloc()\n    print('%%6d %%s' %% (a - prev, m))\n    prev = a\n"
                "print('%%6d TOTAL' %% (prev - base))\n" % (tree, order))
        fd, path = tempfile.mkstemp(suffix=".py")
        with os.fdopen(fd, "w") as f:
            f.write(code)
        try:
            out = mprun.run_micropython([path], args.heap).stdout
        finally:
            os.remove(path)
    rows = [line.split(None, 1) for line in out.splitlines()]
    rows = [(int(n), m) for n, m in rows]
    total = rows.pop()
    return _print_imports(rows, total, args)


def _isolated(tree, order, heap):
    """Each module's own cost in a fresh process: everything imported before it in `order`
    (its dependencies among them) first, then gc.collect() and the module alone."""
    code = ("import gc, sys\nsys.path.insert(0, %r)\nfor m in %r:\n    __import__(m)\n"
            "gc.collect()\nb = gc.mem_alloc()\n__import__(%r)\ngc.collect()\n"
            "print(gc.mem_alloc() - b)\n")
    rows = []
    fd, path = tempfile.mkstemp(suffix=".py")
    os.close(fd)
    try:
        for i, m in enumerate(order):
            with open(path, "w") as f:
                f.write(code % (tree, order[:i], m))
            rows.append((int(mprun.run_micropython([path], heap).stdout), m))
    finally:
        os.remove(path)
    return rows


def _print_imports(rows, total, args):
    by_pkg = {}
    for n, m in rows:
        pkg = ".".join(m.split(".")[:2])
        by_pkg[pkg] = by_pkg.get(pkg, 0) + n
    for n, m in (rows if args.ordered else sorted(rows, reverse=True)[: args.top]):
        print("%7d  %s" % (n, m))
    print("-- by package")
    for pkg, n in sorted(by_pkg.items(), key=lambda kv: -kv[1]):
        print("%7d  %s" % (n, pkg))
    if total is not None:
        print("%7d  every host-importable firmware module (%d modules)" % (total[0], len(rows)))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("imports")
    p.add_argument("--heap", default="1m")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--ordered", action="store_true", help="every module, in import order")
    p.add_argument("--isolated", action="store_true", help="each module in a fresh process")
    p = sub.add_parser("peak")
    p.add_argument("--heap", default="384k")
    p.add_argument("--talk", type=float, default=2.0)
    ap.add_argument("--firmware", default=paths.FIRMWARE, help="the door's firmware/ folder")
    args = ap.parse_args(argv[1:])
    _FIRMWARE[0] = os.path.abspath(args.firmware)
    return {"imports": cmd_imports, "peak": cmd_peak}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
