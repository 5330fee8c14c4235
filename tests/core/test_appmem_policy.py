# The memory policy is one declared table (portier.appmem: TRANSIENT, and what each moment sheds)
# and its precondition holds: no resident module imports a transient one at its top level (it
# would keep the transient module's code loaded, or load it again right after a drop, and a
# `from transient import name` would keep a stale copy of a class across a drop). The firmware
# sources are read line by line (MicroPython has no ast; the suite imports precompiled code, so
# the sources are found beside this test, not through portier.__file__).
import os

from portier import appmem

_SRC = __file__.rsplit("/", 1)[0] + "/../../firmware/portier"


def _sources(folder, package):
    out = []
    for name in sorted(os.listdir(folder)):
        path = folder + "/" + name
        if name.endswith(".py"):
            stem = name[:-3]
            out.append((package if stem == "__init__" else package + "." + stem, path))
        elif name != "__pycache__" and os.stat(path)[0] & 0x4000:
            out.extend(_sources(path, package + "." + name))
    return out


def _transient(module):
    for t in appmem.TRANSIENT:
        if module == t or (t[-1] == "." and module.startswith(t)):
            return True
    return False


def _top_level_imports(module, path):
    """The modules named by the file's top-level import statements (a `from P import n` names P
    and P.n: n may be a submodule)."""
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    out = []
    with open(path) as f:
        for line in f:
            words = line.split()
            if line.startswith("import "):
                for part in line[7:].split(","):
                    out.append(part.split()[0])
            elif line.startswith("from ") and len(words) >= 4 and words[2] == "import":
                base = words[1]
                if base.startswith("."):
                    up = package
                    for _ in range(len(base) - len(base.lstrip(".")) - 1):
                        up = up.rsplit(".", 1)[0]
                    base = up + ("." + base.lstrip(".") if base.lstrip(".") else "")
                out.append(base)
                for name in line.split(" import ", 1)[1].replace("(", " ").split(","):
                    name = name.split()
                    if name:
                        out.append(base + "." + name[0])
    return out


def test_no_resident_module_imports_a_transient_one_at_top_level():
    files = _sources(_SRC, "portier")
    assert len(files) > 60, len(files)
    bad = []
    for module, path in files:
        if _transient(module):
            continue  # transient modules may load each other: they go together
        for imported in _top_level_imports(module, path):
            if _transient(imported):
                bad.append("%s imports %s" % (module, imported))
    assert not bad, bad


def test_the_check_would_see_a_top_level_import_of_a_transient_module():
    name = "_test_appmem_policy_probe.py"
    with open(name, "w") as f:
        f.write("from portier.e2e import session\nimport portier.secrets\n"
                "def f():\n    from portier import pairauth\n")
    try:
        got = _top_level_imports("portier.probe", name)
    finally:
        os.remove(name)
    assert [m for m in got if _transient(m)] == ["portier.e2e.session", "portier.secrets"], got


def test_every_transient_module_exists_and_every_moment_sheds_only_transient_ones():
    modules = [m for m, _ in _sources(_SRC, "portier")]
    for t in appmem.TRANSIENT:
        assert [m for m in modules if m == t or (t[-1] == "." and m.startswith(t))], t
    moments = (appmem.RINGING, appmem.MEDIA_START, appmem.CALL_END, appmem.PAIRED,
               appmem.UNLOCKED, appmem.DOOR_LOGGED, appmem.CALL_LOGGED)
    assert sorted(moments) == list(range(len(appmem._SHED)))
    for row in appmem._SHED:
        for names in row:
            for n in names:
                assert _transient(n), n


def test_shedding_is_decided_in_the_table_only():
    # Every drop goes through appmem.shed(moment): no module but appmem calls forget_modules.
    for module, path in _sources(_SRC, "portier"):
        if module == "portier.appmem":
            continue
        with open(path) as f:
            for line in f:
                assert "forget_modules(" not in line, (module, line)
