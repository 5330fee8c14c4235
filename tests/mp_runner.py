# The core test runner for real MicroPython:
#   micropython -X heapsize=96k tests/mp_runner.py tests/core [test_module ...]
# Imports each tests/core/test_*.py, calls every test_* function, prints each failure with its
# traceback, lists skips with their reasons, and ends with "N passed, N failed[, N skipped]".
# Exit status 1 on any failure. Runs under MicroPython only (no pytest there).
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


def _run_module(name, totals, skips):
    import coretest

    loaded = set(sys.modules)
    try:
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
    # Drop the test module and every module it pulled in (firmware included), so each test
    # module starts from the same heap as on a board that imports only what it uses.
    for mod_name in [m for m in sys.modules if m not in loaded]:
        del sys.modules[mod_name]


def main(argv):
    if len(argv) < 2:
        print("usage: micropython tests/mp_runner.py TESTS_DIR [module ...]")
        return 2
    tests_dir = argv[1]
    sys.path.insert(0, tests_dir)
    sys.path.insert(0, _repo_root(tests_dir) + "/firmware")
    totals = [0, 0, 0]  # passed, failed, skipped
    skips = []
    for name in _modules(tests_dir, argv[2:]):
        _run_module(name, totals, skips)
        gc.collect()
    for line in skips:
        print("skipped " + line)
    summary = "%d passed, %d failed" % (totals[0], totals[1])
    if totals[2]:
        summary += ", %d skipped" % totals[2]
    print(summary)
    return 1 if totals[1] else 0


sys.exit(main(sys.argv))
