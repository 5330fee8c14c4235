# The core test runner for real MicroPython:
#   micropython -X heapsize=96k tests/mp_runner.py [--firmware DIR] tests/core [test_module ...]
# DIR is the firmware tree to import (default: the repository's firmware/ sources; `make test`
# passes the tree precompiled with mpy-cross, as a board runs it).
# Imports each tests/core/test_*.py, calls every test_* function, prints each failure with its
# traceback, lists skips with their reasons, and ends with "N passed, N failed[, N skipped]".
# Exit status 1 on any failure. Runs under MicroPython only (no pytest there).
# `make test` runs it once per module through tests/mp_suite.py: names interned by compiled code
# (qstrs) are never freed, so in one long-lived process every module would inherit the
# fragmentation of all before it.
import gc
import os
import sys


def _repo_root(tests_dir):
    parts = tests_dir.rstrip("/").split("/")
    return "/".join(parts[:-2]) or "."


def _modules(tests_dir, wanted):
    names = sorted(n[:-3] for n in os.listdir(tests_dir) if n.startswith("test_") and n.endswith(".py"))
    if wanted:
        names = [n for n in names if n in wanted]
    return names


def _preload(tests_dir, name):
    # Compile the firmware modules a test module names before the test module itself: on the
    # emptier heap they leave fewer holes, and a 96 KiB heap has no room for many holes.
    with open(tests_dir + "/" + name + ".py") as f:
        for line in f:
            if line.startswith("from portier") or line.startswith("import portier"):
                try:
                    __import__(line.split()[1])
                except Exception:
                    pass  # the test module's own import reports it


def _run_module(name, totals, skips, tests_dir):
    import coretest

    before = list(sys.modules)
    try:
        _preload(tests_dir, name)
        mod = __import__(name)
    except Exception as e:
        print("FAIL %s (import)" % name)
        sys.print_exception(e)
        totals[1] += 1
        return
    tests = sorted(k for k in dir(mod) if k.startswith("test_"))
    for test in tests:
        func = getattr(mod, test)
        gc.collect()
        try:
            func()
        except coretest.SkipTest as e:
            totals[2] += 1
            skips.append("%s.%s: %s" % (name, test, e.args[0] if e.args else ""))
        except Exception as e:
            totals[1] += 1
            print("FAIL %s.%s" % (name, test))
            sys.print_exception(e)
        else:
            totals[0] += 1
    del sys.modules[name]
    # Firmware modules the test imported go too: a 96 KiB heap holding every module of the
    # suite at once fragments until a later test cannot find a contiguous buffer.
    for key in list(sys.modules):
        if key not in before:
            del sys.modules[key]


def main(argv):
    if len(argv) < 2:
        print("usage: micropython tests/mp_runner.py [--firmware DIR] TESTS_DIR [module ...]")
        return 2
    firmware = None
    if argv[1] == "--firmware":
        firmware = argv[2]
        argv = argv[:1] + argv[3:]
    tests_dir = argv[1]
    sys.path.insert(0, tests_dir)
    sys.path.insert(0, firmware or _repo_root(tests_dir) + "/firmware")
    totals = [0, 0, 0]  # passed, failed, skipped
    skips = []
    for name in _modules(tests_dir, argv[2:]):
        _run_module(name, totals, skips, tests_dir)
        gc.collect()
    for line in skips:
        print("skipped " + line)
    summary = "%d passed, %d failed" % (totals[0], totals[1])
    if totals[2]:
        summary += ", %d skipped" % totals[2]
    print(summary)
    return 1 if totals[1] else 0


sys.exit(main(sys.argv))
