"""Measuring any MicroPython build: the host tools run the executable PORTIER_MICROPYTHON names,
compile viper modules for the native architecture that binary reports (sys.implementation._mpy),
and the simulator runs a build's frozen copy of the firmware instead of shadowing it."""

import asyncio
import os
import shutil
import stat

import pytest

from portier_host import build, paths, sim


def _script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _fake_mpy(tmp_path, arch_number):
    # A stand-in that answers the probe as a build of that architecture would (v6 .mpy).
    return _script(tmp_path / ("mp-arch%d" % arch_number),
                   'echo %d\n' % ((arch_number << 10) | 6))


def test_the_environment_variable_picks_the_executable(tmp_path, monkeypatch):
    fake = _fake_mpy(tmp_path, 1)
    monkeypatch.setenv(paths.MICROPYTHON_ENV, fake)
    assert paths.micropython_exe() == fake
    monkeypatch.setenv(paths.MICROPYTHON_ENV, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="PORTIER_MICROPYTHON"):
        paths.micropython_exe()
    monkeypatch.delenv(paths.MICROPYTHON_ENV)
    assert os.path.basename(paths.micropython_exe()) == "micropython"


def _native_headers(tree):
    out = {}
    for dirpath, _dirs, files in os.walk(tree):
        for f in files:
            if f.endswith("_viper.mpy"):
                with open(os.path.join(dirpath, f), "rb") as fh:
                    out[f] = fh.read(4)[2] >> 2  # the features byte's architecture field
    return out


def test_viper_modules_follow_the_binary_architecture(tmp_path):
    if not os.environ.get(paths.MICROPYTHON_ENV):
        assert build.native_arch() == "x64"  # the pip build `make setup` installs
    x86 = _fake_mpy(tmp_path, 1)
    assert build.native_arch(x86) == "x86"
    assert build.host_image(paths.FIRMWARE, str(tmp_path / "t86"), exe=x86) == []
    archs = _native_headers(tmp_path / "t86")
    assert "_xor_viper.mpy" in archs and set(archs.values()) == {1}  # x86, not x64
    # A build without a native emitter: no viper module, so the pure twins run by design.
    none = _fake_mpy(tmp_path, 0)
    assert build.native_arch(none) is None
    assert build.host_image(paths.FIRMWARE, str(tmp_path / "t0"), exe=none) == []
    assert _native_headers(tmp_path / "t0") == {}
    assert os.path.exists(tmp_path / "t0" / "portier" / "media" / "session.mpy")
    broken = _script(tmp_path / "mp-broken", "echo nonsense\n")
    with pytest.raises(build.BuildError, match="_mpy"):
        build.native_arch(broken)


def test_sim_runs_the_frozen_copy_of_a_frozen_build(tmp_path, monkeypatch):
    # Emulate a build with Portier frozen in: a wrapper around the real binary whose `.frozen`
    # path entry starts with a compiled copy of the firmware that announces itself at import
    # (the binary's own frozen modules, asyncio among them, stay behind it).
    fw = tmp_path / "fw"
    shutil.copytree(paths.FIRMWARE, fw, ignore=shutil.ignore_patterns("__pycache__"))
    init = fw / "portier" / "__init__.py"
    init.write_text(init.read_text() + 'print("FROZEN-COPY")\n')
    frozen = tmp_path / "frozen"
    assert build.host_image(str(fw), str(frozen)) == []
    shutil.rmtree(frozen / "hal", ignore_errors=True)
    for top in build.TOP_LEVEL_SOURCES:
        if (frozen / top).exists():
            (frozen / top).unlink()  # the manifest freezes the package, not main.py
    real = paths.micropython_exe()
    wrapper = _script(tmp_path / "micropython",
                      'MICROPYPATH=$(printf %%s "$MICROPYPATH" | sed "s#\\.frozen#%s:.frozen#")\n'
                      'export MICROPYPATH\nexec %s "$@"\n' % (frozen, real))
    assert build.has_frozen_portier(wrapper) and not build.has_frozen_portier(real)
    monkeypatch.setenv(paths.MICROPYTHON_ENV, wrapper)
    s = sim.Simulation("answered", talk_s=0.5, ring_timeout_s=3, workdir=str(tmp_path / "wd"))
    result = asyncio.run(s.run())
    assert result["problems"] == []
    raw = [d["msg"] for _, d in s.parties["door"].lines if d.get("src") == "raw"]
    assert "FROZEN-COPY" in raw  # the door imported the frozen copy ...
    tree = tmp_path / "wd" / "door-firmware"
    assert (tree / "main.py").exists() and not (tree / "portier").exists()  # ... nothing shadowed it
