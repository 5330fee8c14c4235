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


def _attr_order(key):
    # Canonical attribute order: dictionary tokens in dictionary order, then other names
    # sorted. Dicts do not keep insertion order on MicroPython, and both runtimes must produce
    # the same bytes.
    i = tokens.index(key) if isinstance(key, str) else 0
    return (i if i else 0x100, key if isinstance(key, str) else "")


def _sorted_keys(attrs):
    if len(attrs) < 2:
        return list(attrs)
    return sorted(attrs, key=_attr_order)


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

_K_TOKEN = const(1)
_K_NIBBLE = const(2)
_K_HEX = const(3)
_K_JID = const(4)
_K_RAW = const(5)


def _nibble_value(c, hex_alphabet):
    # The 4-bit code of one character, or -1 when the alphabet lacks it.
    o = ord(c)
    if 0x30 <= o <= 0x39:
        return o - 0x30
    if hex_alphabet:
        return o - 0x37 if 0x41 <= o <= 0x46 else -1
    if o == 0x2D:  # "-"
        return 10
    return 11 if o == 0x2E else -1  # "."


def _packs(s, hex_alphabet):
    n = len(s)
    if n == 0 or n > _MAX_PACKED:
        return False
    for c in s:
        if _nibble_value(c, hex_alphabet) < 0:
            return False
    return True


def _split_jid(s):
    # user[:device]@server -> (user, device or -1, server); None when not in canonical form.
    at = s.find("@")
    if at <= 0 or at == len(s) - 1 or s.find("@", at + 1) >= 0:
        return None
    user = s[:at]
    server = s[at + 1 :]
    colon = user.find(":")
    if colon < 0:
        return (user, -1, server)
    dev = user[colon + 1 :]
    user = user[:colon]
    if not user or not dev or len(dev) > 3 or not dev.isdigit() or (dev[0] == "0" and dev != "0"):
        return None
    device = int(dev)
    if device > MAX_DEVICE:
        return None
    return (user, device, server)


def _kind(s):
    if not isinstance(s, str):
        raise StanzaError("strings only, got %s" % type(s).__name__)
    if tokens.index(s):
        return _K_TOKEN
    if _packs(s, False):
        return _K_NIBBLE
    if _packs(s, True):
        return _K_HEX
    if "@" in s and _split_jid(s) is not None:
        return _K_JID
    return _K_RAW


def _binary_header_size(n):
    if n < 0x100:
        return 2
    if n < 0x100000:
        return 4
    return 5


def _packed_size(s, hex_alphabet):
    n = len(s)
    if hex_alphabet:
        short = n <= _HEX_SHORT_MAX and not n & 1
    else:
        short = n <= _NIBBLE_SHORT_MAX
    return (1 if short else 2) + (n + 1) // 2


def _string_size(s):
    k = _kind(s)
    if k == _K_TOKEN:
        return 1
    if k == _K_NIBBLE or k == _K_HEX:
        return _packed_size(s, k == _K_HEX)
    if k == _K_JID:
        user, device, server = _split_jid(s)
        return (1 if device < 0 else 2) + _string_size(user) + _string_size(server)
    n = len(s.encode())
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


def _put_packed(buf, p, s, hex_alphabet):
    n = len(s)
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
    hi = -1
    for c in s:
        v = _nibble_value(c, hex_alphabet)
        if hi < 0:
            hi = v
        else:
            buf[p] = (hi << 4) | v
            p += 1
            hi = -1
    if hi >= 0:
        buf[p] = (hi << 4) | 0x0F
        p += 1
    return p


def _put_string(buf, p, s):
    k = _kind(s)
    if k == _K_TOKEN:
        buf[p] = tokens.index(s)
        return p + 1
    if k == _K_NIBBLE or k == _K_HEX:
        return _put_packed(buf, p, s, k == _K_HEX)
    if k == _K_JID:
        user, device, server = _split_jid(s)
        if device < 0:
            buf[p] = _JID_PAIR
            p += 1
        else:
            buf[p] = _AD_JID
            buf[p + 1] = device
            p += 2
        p = _put_string(buf, p, user)
        return _put_string(buf, p, server)
    return _put_binary(buf, p, s.encode())


def _put_node(buf, p, node):
    attrs = node.attrs
    content = node.content
    p = _put_list_header(buf, p, 1 + 2 * len(attrs) + (0 if content is None else 1))
    p = _put_string(buf, p, node.tag)
    for k in _sorted_keys(attrs):
        p = _put_string(buf, p, k)
        p = _put_string(buf, p, attrs[k])
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
