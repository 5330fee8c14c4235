"""manifest.py (freezing Portier into a MicroPython build) names the real firmware package:
executed with stand-ins for MicroPython's manifest functions, as tools/manifestfile.py runs it."""

import os

from portier_host import build, paths

MANIFEST = os.path.join(paths.REPO, "manifest.py")


def _calls():
    calls = []

    def recorder(kind):
        return lambda *args, **kw: calls.append((kind, args, kw))

    env = {k: recorder(k) for k in ("include", "package", "module", "freeze", "require",
                                      "options", "metadata", "add_library")}
    with open(MANIFEST) as f:
        exec(compile(f.read(), MANIFEST, "exec"), env)
    return calls


def test_manifest_freezes_the_whole_portier_package_over_the_ports_own():
    calls = _calls()
    assert calls[0] == ("include", ("$(PORT_DIR)/boards/manifest.py",), {})
    packages = [c for c in calls if c[0] == "package"]
    assert len(packages) == 1
    _, args, kw = packages[0]
    assert args == ("portier",)
    root = os.path.join(os.path.dirname(MANIFEST), kw.get("base_path", "."))
    assert os.path.isfile(os.path.join(root, "portier", "__init__.py"))
    # package() freezes every .py below it: that is every firmware module but main.py
    frozen = {os.path.relpath(p, root) for p in build.firmware_sources(os.path.join(root, "portier"))}
    assert len(frozen) > 50 and all(p.startswith("portier" + os.sep) for p in frozen)
    assert not any(c[0] in ("module", "freeze") for c in calls)  # main.py stays on the flash
