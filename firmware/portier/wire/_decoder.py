# The stanza decoder (docs/protocol.md section 2). Every count, length and depth is checked
# before anything is allocated or recursed into; every malformed input raises StanzaError.
from micropython import const

from ._node import MAX_ATTRS, MAX_BYTES, MAX_CHILDREN, MAX_DEPTH, MAX_NODES, Node, StanzaError
from . import tokens
from ._strdec import read_string

_LIST_EMPTY = const(0x00)
_SHORT_LIST = const(0xD0)  # 0xD0..0xEF: a list of 1..32 items (byte - 0xCF)
_SHORT_LIST_MAX = const(32)
_LIST_8 = const(0xF8)
_LIST_16 = const(0xF9)
_BINARY_8 = const(0xFC)
_BINARY_20 = const(0xFD)
_BINARY_32 = const(0xFE)
_VERSION_MARK_MAX = const(0x0F)  # a stanza starting 0x01..0x0F names its dictionary version
_BUFFERS = (bytes, bytearray, memoryview)  # made once: a tuple written in a call is built per call


class _Reader:
    def __init__(self):
        self.data = None
        self.is_bytes = False
        self.pos = 0
        self.end = 0
        self.nodes = 0

    def start(self, data):
        self.data = data
        self.is_bytes = isinstance(data, bytes)
        self.pos = 0
        self.end = len(data)
        self.nodes = 0

    def u8(self):
        p = self.pos
        if p >= self.end:
            raise StanzaError("truncated at %d" % p)
        self.pos = p + 1
        return self.data[p]

    def uint(self, n):
        if self.pos + n > self.end:
            raise StanzaError("truncated at %d" % self.pos)
        v = 0
        for _ in range(n):
            v = (v << 8) | self.data[self.pos]
            self.pos += 1
        return v

    def take(self, n):
        p = self.pos
        if n > self.end - p:
            raise StanzaError("truncated: %d bytes wanted at %d" % (n, p))
        self.pos = p + n
        if self.is_bytes:
            return self.data[p : p + n]  # the slice is the only copy
        return bytes(self.data[p : p + n])

    def binary_len(self, b):
        if b == _BINARY_8:
            return self.uint(1)
        if b == _BINARY_20:
            n = self.uint(3)
            if n > 0xFFFFF:
                raise StanzaError("BINARY_20 length above 20 bits")
            return n
        return self.uint(4)

    def list_size(self, b):
        if b == _LIST_EMPTY:
            return 0
        if _SHORT_LIST <= b < _SHORT_LIST + _SHORT_LIST_MAX:
            return b - _SHORT_LIST + 1
        if b == _LIST_8:
            return self.uint(1)
        if b == _LIST_16:
            return self.uint(2)
        return -1

    def node(self, depth):
        if depth > MAX_DEPTH:
            raise StanzaError("nested deeper than %d" % MAX_DEPTH)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise StanzaError("more than %d nodes" % MAX_NODES)
        n = self.list_size(self.u8())
        if n <= 0:
            raise StanzaError("a node must be a non-empty list")
        if n > 2 + 2 * MAX_ATTRS:
            raise StanzaError("node list of %d items" % n)
        tag = read_string(self)
        attrs = {}
        for _ in range((n - 1) >> 1):
            key = read_string(self)
            if key in attrs:
                raise StanzaError("duplicate attribute %s" % key)
            attrs[key] = read_string(self)
        if n & 1:
            return Node(tag, attrs)
        return Node(tag, attrs, self.content(depth))

    def content(self, depth):
        b = self.u8()
        if b == _BINARY_8 or b == _BINARY_20 or b == _BINARY_32:
            n = self.binary_len(b)
            if n > MAX_BYTES:
                raise StanzaError("bytes content of %d" % n)
            return self.take(n)
        count = self.list_size(b)
        if count < 0:
            raise StanzaError("byte 0x%02x where content belongs" % b)
        if count > MAX_CHILDREN:
            raise StanzaError("%d children" % count)
        children = []
        for _ in range(count):
            children.append(self.node(depth + 1))
        return children


def decode(data):
    """One encoded stanza (a whole frame payload) to a Node; StanzaError if malformed."""
    if not isinstance(data, _BUFFERS):
        raise StanzaError("decode needs bytes")
    r = _READER
    if r.data is not None:  # only if decode() were re-entered; never in practice
        r = _Reader()
    r.start(data)
    try:
        first = r.data[0] if r.end else 0
        if 0 < first <= _VERSION_MARK_MAX:
            # A version marker: never written for the current version (an unmarked stanza is
            # version 1), so a later dictionary is recognised and refused here.
            if first != tokens.VERSION:
                raise StanzaError("dictionary version %d, this decoder knows %d" % (first, tokens.VERSION))
            r.pos = 1
        node = r.node(1)
        if r.pos != r.end:
            raise StanzaError("%d trailing bytes" % (r.end - r.pos))
        return node
    finally:
        r.data = None  # do not keep the caller's buffer alive


_READER = _Reader()  # one reader for every decode: decoding allocates only its result
