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


def next_key(attrs, prev):
    # The smallest key after prev (None: the smallest); a selection step that allocates nothing,
    # where sorted() would build a list (attribute counts are capped at MAX_ATTRS).
    prev_rank = -1 if prev is None else _rank(prev)
    best = None
    best_rank = 0
    for k in attrs:
        r = _rank(k)
        if r < prev_rank or (r == prev_rank and k <= prev):
            continue
        if best is None or r < best_rank or (r == best_rank and k < best):
            best = k
            best_rank = r
    return best


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
        """XML-like text for logs and traces (bodies as [hex], attributes in canonical order)."""
        from ._xml import to_xml  # loaded on first use: boards rarely log whole stanzas

        return to_xml(self)


    def __repr__(self):
        return self.to_xml()
