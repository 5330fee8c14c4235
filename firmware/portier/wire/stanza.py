# Compact binary stanza codec (docs/protocol.md section 2), in the spirit of the model's
# WABinary but with Portier's own token dictionary (portier.wire.tokens).
#
# A stanza is one node (an optional leading byte 0x01..0x0F names the dictionary version; the
# encoder leaves it out for version 1):
#   node    = list-header(n) tag {key value} [content]   n = 1 + 2*#attrs + (content ? 1 : 0)
#   content = list-header(k) node*k  |  binary
# Strings (tags, keys, values) are a token, a packed nibble/hex string, a structural JID or raw
# UTF-8. Every limit is checked before the decoder allocates or recurses; every malformed input
# raises StanzaError and nothing else.
from micropython import const

from . import tokens

_VERSION_MARK_MAX = const(0x0F)  # a stanza starting 0x01..0x0F names its dictionary version
_LIST_EMPTY = const(0x00)
# 0x01..0x9F: dictionary tokens
_NIBBLE_SHORT = const(0xA0)  # 0xA0..0xBF: nibble string of 1..32 characters (byte - 0x9F)
_NIBBLE_SHORT_MAX = const(32)
_HEX_SHORT = const(0xC0)  # 0xC0..0xCF: hex string of 2..32 characters, 1..16 bytes (byte - 0xBF)
_HEX_SHORT_MAX = const(32)
_SHORT_LIST = const(0xD0)  # 0xD0..0xEF: a list of 1..32 items (byte - 0xCF)
_SHORT_LIST_MAX = const(32)
_AD_JID = const(0xF7)
_LIST_8 = const(0xF8)
_LIST_16 = const(0xF9)
_JID_PAIR = const(0xFA)
_HEX_8 = const(0xFB)
_BINARY_8 = const(0xFC)
_BINARY_20 = const(0xFD)
_BINARY_32 = const(0xFE)
_NIBBLE_8 = const(0xFF)
_MAX_PACKED = const(254)  # characters: 127 bytes of two nibbles
_MAX_JID = const(255)  # longer user@server strings are sent raw

# Limits (docs/protocol.md 2.7); the encoder enforces the same ones, so whatever it produces
# decodes.
MAX_DEPTH = const(8)  # call > offer > destination > to > enc is 5
MAX_ATTRS = const(16)
MAX_CHILDREN = const(64)
MAX_NODES = const(256)  # per stanza: bounds the decoder's memory on a 96 KiB heap
MAX_TEXT = const(1024)  # UTF-8 bytes of one tag, attribute name or value
MAX_BYTES = const(65536)  # one bytes content
MAX_DEVICE = const(255)  # device number in a user:device@server JID

_NIBBLE_CHARS = b"0123456789-."
_HEX_CHARS = b"0123456789ABCDEF"


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


def _next_key(attrs, prev):
    # The smallest key after prev (None: the smallest); a selection step that allocates nothing,
    # where sorted() would build a list (attribute counts are capped at MAX_ATTRS).
    best = None
    for k in attrs:
        if (prev is None or _before(prev, k)) and (best is None or _before(k, best)):
            best = k
    return best


def _sorted_keys(attrs):
    out = []
    k = _next_key(attrs, None)
    while k is not None:
        out.append(k)
        k = _next_key(attrs, k)
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


# ---- strings: classification shared by sizing and writing ----
# Each non-token string is turned into its UTF-8 bytes once per pass (iterating a str would
# allocate a string per character on MicroPython).

_K_NIBBLE = const(1)
_K_HEX = const(2)


def _nibble_of(o, hex_alphabet):
    # The 4-bit code of one byte value, or -1 when the alphabet lacks it.
    if 0x30 <= o <= 0x39:
        return o - 0x30
    if hex_alphabet:
        return o - 0x37 if 0x41 <= o <= 0x46 else -1
    if o == 0x2D:  # "-"
        return 10
    return 11 if o == 0x2E else -1  # "."


def _packed_kind(b, start, end):
    # _K_NIBBLE, _K_HEX or 0 for the UTF-8 bytes b[start:end] of a string.
    n = end - start
    if n <= 0 or n > _MAX_PACKED:
        return 0
    kind = _K_NIBBLE
    for i in range(start, end):
        o = b[i]
        if _nibble_of(o, False) < 0:
            if _nibble_of(o, True) < 0:
                return 0
            kind = _K_HEX
    if kind == _K_HEX:  # a "-" or "." rules hex out
        for i in range(start, end):
            if b[i] == 0x2D or b[i] == 0x2E:
                return 0
    return kind


def _jid_code(s, b):
    # For a canonical JID "user[:device]@server" (ASCII, at most _MAX_JID bytes):
    # at | colon << 8 | (device + 1) << 16, where colon = at and device = -1 when there is no
    # device; 0 when s is not one. One small int, so the encoder's JID test allocates nothing.
    n = len(b)
    if n > _MAX_JID or n != len(s):
        return 0
    at = b.find(b"@")
    if at <= 0 or at == n - 1 or b.find(b"@", at + 1) >= 0:
        return 0
    colon = b.find(b":", 0, at)
    if colon < 0:
        return at | (at << 8)
    digits = at - colon - 1
    if colon == 0 or digits < 1 or digits > 3 or (digits > 1 and b[colon + 1] == 0x30):
        return 0
    device = 0
    for i in range(colon + 1, at):
        o = b[i]
        if o < 0x30 or o > 0x39:
            return 0
        device = device * 10 + o - 0x30
    if device > MAX_DEVICE:
        return 0
    return at | (colon << 8) | ((device + 1) << 16)


def _check_str(s):
    if not isinstance(s, str):
        raise StanzaError("strings only, got %s" % type(s).__name__)


def _binary_header_size(n):
    if n < 0x100:
        return 2
    if n < 0x100000:
        return 4
    return 5


def _packed_size(n, hex_alphabet):
    if hex_alphabet:
        short = n <= _HEX_SHORT_MAX and not n & 1
    else:
        short = n <= _NIBBLE_SHORT_MAX
    return (1 if short else 2) + (n + 1) // 2


def _user_size(s, b, end):
    # A JID's user: packed when it packs (even if it is a token), else token or raw.
    k = _packed_kind(b, 0, end)
    if k:
        return _packed_size(end, k == _K_HEX)
    return _string_size(s[:end])


def _string_size(s):
    _check_str(s)
    if tokens.index(s):
        return 1
    b = s.encode()
    n = len(b)
    k = _packed_kind(b, 0, n)
    if k:
        return _packed_size(n, k == _K_HEX)
    jid = _jid_code(s, b) if 0x40 in b else 0
    if jid:
        at = jid & 0xFF
        size = 1 if jid >> 16 == 0 else 2
        return size + _user_size(s, b, (jid >> 8) & 0xFF) + _string_size(s[at + 1 :])
    if n > MAX_TEXT:
        raise StanzaError("string of %d bytes" % n)
    return _binary_header_size(n) + n


def _list_header_size(n):
    if n == 0 or n <= _SHORT_LIST_MAX:
        return 1
    return 2 if n < 0x100 else 3


def _node_size(node, depth, count):
    # count is a one-item list: nodes seen so far (an int would need returning).
    if not isinstance(node, Node):
        raise StanzaError("not a Node: %s" % type(node).__name__)
    if depth > MAX_DEPTH:
        raise StanzaError("nested deeper than %d" % MAX_DEPTH)
    count[0] += 1
    if count[0] > MAX_NODES:
        raise StanzaError("more than %d nodes" % MAX_NODES)
    attrs = node.attrs
    if not isinstance(attrs, dict):
        raise StanzaError("attrs must be a dict")
    if len(attrs) > MAX_ATTRS:
        raise StanzaError("%d attributes" % len(attrs))
    content = node.content
    n = 1 + 2 * len(attrs) + (0 if content is None else 1)
    size = _list_header_size(n) + _string_size(node.tag)
    for k in attrs:
        size += _string_size(k) + _string_size(attrs[k])
    if content is None:
        return size
    if isinstance(content, list):
        if len(content) > MAX_CHILDREN:
            raise StanzaError("%d children" % len(content))
        size += _list_header_size(len(content))
        for c in content:
            size += _node_size(c, depth + 1, count)
        return size
    if isinstance(content, (bytes, bytearray, memoryview)):
        n = len(content)
        if n > MAX_BYTES:
            raise StanzaError("bytes content of %d" % n)
        return size + _binary_header_size(n) + n
    raise StanzaError("content must be None, bytes or a list of Node")


def encoded_size(node):
    """Bytes that encode(node) produces; raises StanzaError for a node it cannot encode."""
    return _node_size(node, 1, [0])


# ---- writing ----


def _put_list_header(buf, p, n):
    if n == 0:
        buf[p] = _LIST_EMPTY
        return p + 1
    if n <= _SHORT_LIST_MAX:
        buf[p] = _SHORT_LIST + n - 1
        return p + 1
    if n < 0x100:
        buf[p] = _LIST_8
        buf[p + 1] = n
        return p + 2
    buf[p] = _LIST_16
    buf[p + 1] = n >> 8
    buf[p + 2] = n & 0xFF
    return p + 3


def _put_binary(buf, p, data):
    n = len(data)
    if n < 0x100:
        buf[p] = _BINARY_8
        buf[p + 1] = n
        p += 2
    elif n < 0x100000:
        buf[p] = _BINARY_20
        buf[p + 1] = n >> 16
        buf[p + 2] = (n >> 8) & 0xFF
        buf[p + 3] = n & 0xFF
        p += 4
    else:
        buf[p] = _BINARY_32
        buf[p + 1] = n >> 24
        buf[p + 2] = (n >> 16) & 0xFF
        buf[p + 3] = (n >> 8) & 0xFF
        buf[p + 4] = n & 0xFF
        p += 5
    buf[p : p + n] = data
    return p + n


def _put_packed(buf, p, b, end, hex_alphabet):
    # Packs b[0:end].
    n = end
    if hex_alphabet and n <= _HEX_SHORT_MAX and not n & 1:
        buf[p] = _HEX_SHORT + n // 2 - 1
        p += 1
    elif not hex_alphabet and n <= _NIBBLE_SHORT_MAX:
        buf[p] = _NIBBLE_SHORT + n - 1
        p += 1
    else:
        buf[p] = _HEX_8 if hex_alphabet else _NIBBLE_8
        buf[p + 1] = ((n + 1) // 2) | (0x80 if n & 1 else 0)
        p += 2
    for i in range(0, n - 1, 2):
        buf[p] = (_nibble_of(b[i], hex_alphabet) << 4) | _nibble_of(b[i + 1], hex_alphabet)
        p += 1
    if n & 1:
        buf[p] = (_nibble_of(b[n - 1], hex_alphabet) << 4) | 0x0F
        p += 1
    return p


def _put_string(buf, p, s):
    t = tokens.index(s)
    if t:
        buf[p] = t
        return p + 1
    b = s.encode()
    n = len(b)
    k = _packed_kind(b, 0, n)
    if k:
        return _put_packed(buf, p, b, n, k == _K_HEX)
    jid = _jid_code(s, b) if 0x40 in b else 0
    if not jid:
        return _put_binary(buf, p, b)
    at = jid & 0xFF
    user_end = (jid >> 8) & 0xFF
    if jid >> 16 == 0:
        buf[p] = _JID_PAIR
        p += 1
    else:
        buf[p] = _AD_JID
        buf[p + 1] = (jid >> 16) - 1
        p += 2
    k = _packed_kind(b, 0, user_end)
    if k:
        p = _put_packed(buf, p, b, user_end, k == _K_HEX)
    else:
        p = _put_string(buf, p, s[:user_end])
    return _put_string(buf, p, s[at + 1 :])


def _put_node(buf, p, node):
    attrs = node.attrs
    content = node.content
    p = _put_list_header(buf, p, 1 + 2 * len(attrs) + (0 if content is None else 1))
    p = _put_string(buf, p, node.tag)
    k = _next_key(attrs, None)
    while k is not None:
        p = _put_string(buf, p, k)
        p = _put_string(buf, p, attrs[k])
        k = _next_key(attrs, k)
    if content is None:
        return p
    if isinstance(content, list):
        p = _put_list_header(buf, p, len(content))
        for c in content:
            p = _put_node(buf, p, c)
        return p
    return _put_binary(buf, p, content)


def encode_into(node, buf, offset=0):
    """Encode into buf at offset (a link's one transmit buffer); returns the end offset."""
    size = encoded_size(node)
    if offset < 0 or offset + size > len(buf):
        raise StanzaError("buffer too small: need %d bytes" % size)
    end = _put_node(buf, offset, node)
    if end != offset + size:  # the two passes disagree: a codec bug, never input
        raise RuntimeError("stanza size mismatch")
    return end


def encode(node):
    buf = bytearray(encoded_size(node))
    encode_into(node, buf)
    return bytes(buf)


# ---- reading ----


class _Reader:
    def __init__(self, data):
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

    def string(self):
        b = self.u8()
        if 0 < b <= tokens.MAX_TOKEN:
            if b >= len(tokens.TOKENS):
                raise StanzaError("unknown token 0x%02x" % b)
            return tokens.TOKENS[b]
        if _NIBBLE_SHORT <= b < _HEX_SHORT:
            n = b - _NIBBLE_SHORT + 1
            return self.packed(_NIBBLE_CHARS, n, (n + 1) // 2)
        if _HEX_SHORT <= b < _SHORT_LIST:
            n = b - _HEX_SHORT + 1
            return self.packed(_HEX_CHARS, 2 * n, n)
        if b == _NIBBLE_8 or b == _HEX_8:
            head = self.u8()
            nbytes = head & 0x7F
            if nbytes == 0:
                raise StanzaError("empty packed string")
            n = 2 * nbytes - (1 if head & 0x80 else 0)
            return self.packed(_HEX_CHARS if b == _HEX_8 else _NIBBLE_CHARS, n, nbytes)
        if b == _BINARY_8 or b == _BINARY_20 or b == _BINARY_32:
            n = self.binary_len(b)
            if n > MAX_TEXT:
                raise StanzaError("string of %d bytes" % n)
            raw = self.take(n)
            try:
                return str(raw, "utf-8")
            except UnicodeError:
                raise StanzaError("invalid UTF-8 in a string")
        if b == _JID_PAIR or b == _AD_JID:
            return self.jid(b == _AD_JID)
        raise StanzaError("byte 0x%02x where a string belongs" % b)

    def packed(self, alphabet, nchars, nbytes):
        if nbytes > self.end - self.pos:
            raise StanzaError("truncated packed string")
        out = bytearray(nchars)
        limit = len(alphabet)
        data = self.data
        p = self.pos
        for i in range(nchars):
            byte = data[p + (i >> 1)]
            v = (byte & 0x0F) if i & 1 else (byte >> 4)
            if v >= limit:
                raise StanzaError("bad packed digit %d" % v)
            out[i] = alphabet[v]
        if nchars & 1 and data[p + nbytes - 1] & 0x0F != 0x0F:
            raise StanzaError("packed string pad is not F")
        self.pos = p + nbytes
        return str(out, "ascii")

    def jid(self, with_device):
        device = self.u8() if with_device else -1
        user = self.string()
        server = self.string()
        # Only the forms the encoder produces, so decode and encode are inverses.
        if not user or not server or "@" in user or "@" in server or ":" in user:
            raise StanzaError("malformed JID parts")
        if device < 0:
            return user + "@" + server
        return "%s:%d@%s" % (user, device, server)

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
        tag = self.string()
        attrs = {}
        for _ in range((n - 1) >> 1):
            key = self.string()
            if key in attrs:
                raise StanzaError("duplicate attribute %s" % key)
            attrs[key] = self.string()
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
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise StanzaError("decode needs bytes")
    r = _Reader(data)
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
