"""The test harness itself: the MicroPython runner, the subset lint and the mpy-cross step.

These prove the "done when" of the foundation: a CPython-only construct in a firmware module
fails `make test` naming the file, a failing core test fails the MicroPython run, and a skip
needs and prints a reason.
"""

import os
import shutil
import subprocess
import sys

from portier_host import build, mprun, paths

RUNNER = os.path.join(paths.REPO, "tests", "mp_runner.py")


def _copy_repo(tmp_path):
    """firmware/ and tests/core/ copied into a scratch repo, so they can be broken freely."""
    root = tmp_path / "repo"
    shutil.copytree(paths.FIRMWARE, root / "firmware", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        os.path.join(paths.REPO, "tests", "core"),
        root / "tests" / "core",
        ignore=shutil.ignore_patterns("__pycache__", "conftest.py"),
    )
    return root


def _run_core(root, *modules):
    # Larger than `make test`'s MicroPython heap (Makefile MP_HEAP, 144k): here the firmware is
    # compiled from source, which needs room the suite's precompiled tree does not (app.py alone
    # no longer compiles in 144k since the App became one class). The runner's reporting is
    # under test here, not the heap.
    return mprun.run_micropython([RUNNER, str(root / "tests" / "core"), *modules],
                                 heapsize="256k", check=False)


def test_runner_reports_pass_fail_skip_and_exit_status(tmp_path):
    root = _copy_repo(tmp_path)
    (root / "tests" / "core" / "test_zz_demo.py").write_text(
        "from coretest import skip_on_micropython\n"
        "def test_ok():\n    assert 1 + 1 == 2\n"
        "def test_broken():\n    assert [1, 2] == [1, 3], 'lists differ'\n"
        "@skip_on_micropython('needs CPython audioop')\n"
        "def test_cpython_only():\n    import audioop\n"
        "def helper_not_a_test():\n    raise RuntimeError('must not run')\n"
    )
    proc = _run_core(root, "test_zz_demo")
    assert proc.returncode == 1
    out = proc.stdout
    assert "FAIL test_zz_demo.test_broken" in out
    assert "lists differ" in out and "test_zz_demo.py" in out  # traceback names the file
    assert "skipped test_zz_demo.test_cpython_only: needs CPython audioop" in out
    assert out.rstrip().endswith("1 passed, 1 failed, 1 skipped")


def test_runner_all_green_exits_zero(tmp_path):
    root = _copy_repo(tmp_path)
    proc = _run_core(root, "test_hkdf")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.rstrip().endswith("5 passed, 0 failed")


def test_cpython_only_import_fails_micropython_run_naming_file(tmp_path):
    root = _copy_repo(tmp_path)
    bad = root / "firmware" / "portier" / "crypto" / "slip.py"
    bad.write_text("from dataclasses import dataclass\n")
    proc = _run_core(root, "test_firmware_imports")
    assert proc.returncode == 1
    assert "portier/crypto/slip.py" in proc.stdout
    assert "dataclasses" in proc.stdout


def test_subset_lint_names_file_and_line(tmp_path):
    root = _copy_repo(tmp_path)
    bad = root / "firmware" / "portier" / "wire" / "slip.py"
    bad.write_text("import os\n\nfrom dataclasses import dataclass\nimport typing\n")
    _, errors = build.compile_firmware(str(root / "firmware"), str(tmp_path / "out"))
    text = "\n".join(errors)
    assert "slip.py:3: imports from dataclasses" in text
    assert "slip.py:4: imports typing" in text


def test_subset_lint_catches_cpython_only_asyncio_and_sockets():
    src = (
        "import asyncio\n"
        "async def f(s):\n"
        "    loop = asyncio.get_running_loop()\n"
        "    s.recvfrom_into(bytearray(4))\n"
    )
    problems = build.subset_problems("x.py", src)
    assert [line for line, _ in problems] == [3, 4]


def test_mpy_cross_error_names_file_and_line(tmp_path):
    root = _copy_repo(tmp_path)
    (root / "firmware" / "portier" / "media" / "broken.py").write_text("x = 1\ndef f(:\n    pass\n")
    cli = os.path.join(os.path.dirname(sys.executable), "portier")
    proc = subprocess.run(
        [cli, "compile", "--firmware", str(root / "firmware"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert "broken.py" in proc.stderr and "line 2" in proc.stderr


def test_native_modules_compile_for_board_and_host(tmp_path):
    root = _copy_repo(tmp_path)
    (root / "firmware" / "portier" / "media" / "_twice_viper.py").write_text(
        "import micropython\n\n@micropython.viper\ndef twice(x: int) -> int:\n    return x * 2\n"
    )
    compiled, errors = build.compile_firmware(str(root / "firmware"), str(tmp_path / "out"))
    assert errors == []
    names = [os.path.relpath(p, tmp_path / "out") for p in compiled]
    assert os.path.join("xtensawin", "portier", "media", "_twice_viper.mpy") in names
    host = build.native_arch()  # the host MicroPython's own, read from the binary
    assert host and host != "xtensawin"
    assert os.path.join(host, "portier", "media", "_twice_viper.mpy") in names
    # each target's image is whole: the plain modules too, and board-only ones for the board only
    assert os.path.join("xtensawin", "portier", "crypto", "hkdf.mpy") in names
    assert os.path.join(host, "portier", "crypto", "hkdf.mpy") in names
    assert os.path.join("xtensawin", "portier", "hal", "esp32.mpy") in names
    assert os.path.join(host, "portier", "hal", "esp32.mpy") not in names
    # the host-arch build really runs on the host MicroPython
    out = mprun.run_micropython(
        ["-c", "import sys; sys.path.insert(0, %r); import _twice_viper as m; print(m.twice(21))"
         % str(tmp_path / "out" / host / "portier" / "media")]
    ).stdout
    assert out.strip() == "42"


def test_suite_sums_modules_and_counts_a_dead_module_as_failed(tmp_path):
    root = _copy_repo(tmp_path)
    for script in ("mp_runner.py", "mp_suite.py"):
        shutil.copy(os.path.join(paths.REPO, "tests", script), root / "tests" / script)
    core = root / "tests" / "core"
    (core / "test_zz_dies.py").write_text("big = bytearray(10 * 1024 * 1024)\n")
    (core / "test_zz_skips.py").write_text(
        "from coretest import skip_on_micropython\n"
        "@skip_on_micropython('host only')\ndef test_a():\n    pass\n"
        "def test_b():\n    pass\n"
    )
    proc = subprocess.run(
        [sys.executable, str(root / "tests" / "mp_suite.py"), paths.micropython_exe(), "96k",
         "test_hkdf", "test_zz_dies", "test_zz_skips"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    lines = proc.stdout.rstrip().splitlines()
    assert lines[-1] == "6 passed, 1 failed, 1 skipped"
    assert "==== test_zz_dies ====" in proc.stdout and "MemoryError" in proc.stdout
    assert "skipped test_zz_skips.test_a: host only" in proc.stdout
