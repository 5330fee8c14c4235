# The core test runner for real MicroPython:
#   micropython -X heapsize=96k tests/mp_runner.py tests/core [test_module ...]
# Imports each tests/core/test_*.py, calls every test_* function, prints each failure with its
# traceback, lists skips with their reasons, and ends with "N passed, N failed[, N skipped]".
# Exit status 1 on any failure. Runs under MicroPython only (no pytest there).
# With more than one module, each runs in its own child process with the same heap size: names
# interned by compiled code (qstrs) are never freed and their pools grow in doubling blocks, so
# in one long-lived process every module would inherit the fragmentation of all before it.
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


def _heap_kb():
    # -X heapsize=H gives the GC about 126.4/128 of H as blocks
    return int((gc.mem_free() + gc.mem_alloc()) * 1.0127 / 1024 + 0.5)


def _run_isolated(tests_dir, names, totals, skips):
    out = "/tmp/portier-mp-runner-%s.txt" % "".join("%02x" % b for b in os.urandom(6))
    heap = _heap_kb()
    for name in names:
        os.system("%s -X heapsize=%dk %s %s %s > %s 2>&1"
                  % (sys.executable, heap, sys.argv[0], tests_dir, name, out))
        with open(out) as f:
            lines = f.read().rstrip("\n").split("\n")
        os.remove(out)
        counts = lines[-1].split(", ")
        if len(counts) < 2 or not counts[0].endswith(" passed"):
            totals[1] += 1
            print("FAIL %s (runner child died)" % name)
            print("\n".join(lines))
            continue
        for line in lines[:-1]:
            if line.startswith("skipped "):
                skips.append(line[8:])
            else:
                print(line)
        for i in range(len(counts)):
            totals[i] += int(counts[i].split(" ")[0])


def main(argv):
    if len(argv) < 2:
        print("usage: micropython tests/mp_runner.py TESTS_DIR [module ...]")
        return 2
    tests_dir = argv[1]
    sys.path.insert(0, tests_dir)
    sys.path.insert(0, _repo_root(tests_dir) + "/firmware")
    totals = [0, 0, 0]  # passed, failed, skipped
    skips = []
    names = _modules(tests_dir, argv[2:])
    if len(names) > 1 and getattr(sys, "executable", "") and hasattr(os, "system"):
        _run_isolated(tests_dir, names, totals, skips)
    else:
        for name in names:
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
