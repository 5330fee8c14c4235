# The stanza tree: Node, the codec's one error class and its limits (docs/protocol.md 2.7).
# Split from the codec so that no module is too big to compile from source on a 96 KiB heap.
from micropython import const

from . import tokens

# The encoder enforces the same limits as the decoder, so whatever it produces decodes.
MAX_DEPTH = const(8)  # call > offer > destination > to > enc is 5
MAX_ATTRS = const(16)
MAX_CHILDREN = const(64)
MAX_NODES = const(128)  # per stanza: bounds the decoder's memory (an offer to 32 devices is ~85)
MAX_TEXT = const(1024)  # UTF-8 bytes of one tag, attribute name or value
MAX_BYTES = const(65536)  # one bytes content
MAX_DEVICE = const(255)  # device number in a user:device@server JID


class StanzaError(ValueError):
    pass


def _rank(key):
    # Canonical attribute order: dictionary tokens in dictionary order, then other names in
    # string order. Dicts do not keep insertion order on MicroPython, and both runtimes must
    # produce the same bytes.
    i = tokens.index(key)
    return i if i else 0x100


def _before(a, b):
    ra = _rank(a)
    rb = _rank(b)
    return ra < rb or (ra == rb and a < b)


def next_key(attrs, prev):
    # The smallest key after prev (None: the smallest); a selection step that allocates nothing,
    # where sorted() would build a list (attribute counts are capped at MAX_ATTRS).
    best = None
    for k in attrs:
        if (prev is None or _before(prev, k)) and (best is None or _before(k, best)):
            best = k
    return best


def _sorted_keys(attrs):
    out = []
    k = next_key(attrs, None)
    while k is not None:
        out.append(k)
        k = next_key(attrs, k)
    return out


class Node:
    def __init__(self, tag, attrs=None, content=None):
        self.tag = tag
        self.attrs = {} if attrs is None else attrs
        self.content = content

    def __eq__(self, other):
        if not isinstance(other, Node):
            return False
        return self.tag == other.tag and self.attrs == other.attrs and self.content == other.content

    def __ne__(self, other):
        return not self.__eq__(other)

    def get(self, key, default=None):
        return self.attrs.get(key, default)

    def children(self):
        """The child nodes (an empty list when the content is bytes or absent)."""
        return self.content if isinstance(self.content, list) else []

    def child(self, tag):
        """The first child with this tag, or None."""
        for c in self.children():
            if isinstance(c, Node) and c.tag == tag:
                return c
        return None

    def to_xml(self):
        out = []
        self._xml(out)
        return "".join(out)

    def _xml(self, out):
        out.append("<" + _xml_text(self.tag))
        for k in _sorted_keys(self.attrs):
            out.append(' %s="%s"' % (_xml_text(k), _xml_text(self.attrs[k])))
        content = self.content
        if content is None:
            out.append("/>")
            return
        out.append(">")
        if isinstance(content, list):
            for c in content:
                if isinstance(c, Node):
                    c._xml(out)
                else:
                    out.append("<!--%r-->" % (c,))
        else:
            out.append(_xml_bytes(content))
        out.append("</" + _xml_text(self.tag) + ">")

    def __repr__(self):
        return self.to_xml()


def _xml_text(value):
    s = value if isinstance(value, str) else repr(value)
    if "&" in s or "<" in s or ">" in s or '"' in s:
        s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return s


def _xml_bytes(data):
    # Bodies are opaque: shown as hex (logs, simulator trace), printable text kept readable.
    data = bytes(data)
    printable = True
    for b in data:
        if b < 0x20 or b > 0x7E:
            printable = False
            break
    if printable:
        return _xml_text(str(data, "ascii"))
    return "[" + " ".join("%02x" % b for b in data) + "]"
