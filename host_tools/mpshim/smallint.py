"""The 32-bit board's small-int range, checked under CPython while the heap lock is held.

On a 32-bit MicroPython port (ESP32) an int is a tagged value only within 31 bits signed
(-2**30 .. 2**30 - 1); any other int is a heap object, so arithmetic that produces one, or
takes one as an operand (MicroPython computes `x & 0xFFFFFFFF` in a new long int), allocates,
and under micropython.heap_lock() raises MemoryError. The host MicroPython is a 64-bit build
with 63-bit small ints: its heap lock cannot see this class of allocation.

install() rewrites the frame-path firmware modules (FRAME_PATH) as they are imported: every
arithmetic expression, augmented assignment and call result goes through a check that, while
the shim's heap lock is held (micropython.heap_lock()), raises SmallIntError (a MemoryError,
as the board would) naming the file, the line and the value when an int operand or result is
outside 31 bits signed. Comparisons are not checked: MicroPython compares a small int with a
long one without allocating. Outside the lock nothing is checked, so set-up code may use
32-bit values freely, as on the board.

It sees only the values the tests drive through the code (so the heap-locked tests use large
SSRCs and timestamps near the wrap), only the modules named here, and nothing inside viper
functions (machine words on the board; the pure twins run on CPython instead and are not
rewritten) or inside C functions beyond their result.
"""
import ast
import importlib.abc
import importlib.machinery
import operator
import sys

import micropython

SMALL_MIN = -(1 << 30)
SMALL_MAX = (1 << 30) - 1

# Modules on the per-frame path (send, receive, play, RTP, SRTP, SRTCP, jitter buffer, echo
# control, DTMF). A name ending in "." covers the package's modules. The pure twins of viper
# leaves (_*_py) are left out: a board runs the viper version, where ints are machine words.
FRAME_PATH = ("portier.media.", "portier.crypto.aes_cm", "portier.crypto.sha1",
              "portier.net.media", "portier.hal.audio")

_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
        ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
        ast.BitXor: operator.xor, ast.BitAnd: operator.and_, ast.Div: operator.truediv,
        ast.MatMult: operator.matmul}
_INPLACE = {ast.Add: operator.iadd, ast.Sub: operator.isub, ast.Mult: operator.imul,
            ast.FloorDiv: operator.ifloordiv, ast.Mod: operator.imod, ast.Pow: operator.ipow,
            ast.LShift: operator.ilshift, ast.RShift: operator.irshift, ast.BitOr: operator.ior,
            ast.BitXor: operator.ixor, ast.BitAnd: operator.iand, ast.Div: operator.itruediv,
            ast.MatMult: operator.imatmul}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
_OPS = list(_BIN.values()) + list(_INPLACE.values()) + list(_UNARY.values())
_OP_INDEX = {}
for _table in (_BIN, _INPLACE, _UNARY):
    for _node_type, _fn in _table.items():
        _OP_INDEX[(id(_table), _node_type)] = _OPS.index(_fn)

_SITES = []  # (file, line, source text) per checked expression
_NAME = "__smallint__"


class SmallIntError(MemoryError):
    pass


def _big(v):
    return type(v) is int and not SMALL_MIN <= v <= SMALL_MAX  # bool is not `int` here


def _fail(site, what, v):
    path, line, text = _SITES[site]
    raise SmallIntError("%s:%d: %s %d is a heap int on a 32-bit board (in `%s`)"
                        % (path, line, what, v, text))


class _Checks:
    """What the rewritten code calls (the module global __smallint__)."""

    @staticmethod
    def op(site, op, a, b):
        r = _OPS[op](a, b)
        if micropython._heap_lock_depth:
            if _big(a):
                _fail(site, "operand", a)
            if _big(b):
                _fail(site, "operand", b)
            if _big(r):
                _fail(site, "result", r)
        return r

    @staticmethod
    def unary(site, op, a):
        r = _OPS[op](a)
        if micropython._heap_lock_depth and (_big(a) or _big(r)):
            _fail(site, "value", a if _big(a) else r)
        return r

    @staticmethod
    def value(site, v):
        if micropython._heap_lock_depth and _big(v):
            _fail(site, "value", v)
        return v


class _Rewrite(ast.NodeTransformer):
    def __init__(self, path, source):
        self._path = path
        self._source = source

    def _site(self, node):
        text = ast.get_source_segment(self._source, node) or ""
        _SITES.append((self._path, node.lineno, " ".join(text.split())[:80]))
        return ast.Constant(len(_SITES) - 1)

    def _call(self, fn, node, *args):
        f = ast.Attribute(ast.Name(_NAME, ast.Load()), fn, ast.Load())
        return ast.copy_location(ast.Call(f, [self._site(node)] + list(args), []), node)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        op = ast.Constant(_OP_INDEX[(id(_BIN), type(node.op))])
        return self._call("op", node, op, node.left, node.right)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if type(node.op) not in _UNARY or isinstance(node.operand, ast.Constant):
            return node  # `not x`, and literals such as -1
        return self._call("unary", node, ast.Constant(_OP_INDEX[(id(_UNARY), type(node.op))]),
                          node.operand)

    def visit_Call(self, node):
        self.generic_visit(node)
        return self._call("value", node, node)

    def visit_AugAssign(self, node):
        # t op= v  ->  t = op(t, v) with the in-place operator (a list still grows in place).
        # A subscript or attribute target's expressions are evaluated twice: the firmware's
        # are plain index arithmetic.
        self.generic_visit(node)
        load = _as_load(node.target)
        op = ast.Constant(_OP_INDEX[(id(_INPLACE), type(node.op))])
        value = self._call("op", node, op, load, node.value)
        return ast.copy_location(ast.Assign([node.target], value), node)


def _as_load(target):
    node = ast.parse(ast.unparse(target), mode="eval").body
    return ast.copy_location(node, target)


def rewrite(source, path):
    """The code object of source with every int it makes checked (see the module's doc)."""
    tree = _Rewrite(path, source).visit(ast.parse(source, path))
    ast.fix_missing_locations(tree)
    return compile(tree, path, "exec")


class _Loader(importlib.abc.Loader):
    def __init__(self, path):
        self._path = path

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        with open(self._path, encoding="utf-8") as f:
            source = f.read()
        module.__dict__[_NAME] = _Checks
        exec(rewrite(source, self._path), module.__dict__)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self._names = names

    def _covers(self, fullname):
        if fullname.rsplit(".", 1)[-1].endswith("_py"):
            return False
        for n in self._names:
            if fullname == n or (n.endswith(".") and fullname.startswith(n)):
                return True
        return False

    def find_spec(self, fullname, path, target=None):
        if not self._covers(fullname):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py") \
                or spec.submodule_search_locations is not None:
            return spec  # packages' __init__ and anything not plain source load as usual
        spec.loader = _Loader(spec.origin)
        return spec


def install(names=FRAME_PATH):
    """Rewrite the named modules at their next import (call before anything imports them)."""
    loaded = [m for m in sys.modules if _Finder(names)._covers(m)]
    if loaded:
        raise RuntimeError("already imported without the check: %s" % ", ".join(sorted(loaded)))
    sys.meta_path.insert(0, _Finder(names))
