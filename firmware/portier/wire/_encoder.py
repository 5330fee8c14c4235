# The stanza encoder (docs/protocol.md section 2): a sizing pass that also checks every limit,
# then one write into a buffer of exactly that size.
from micropython import const

from ._node import MAX_ATTRS, MAX_BYTES, MAX_CHILDREN, MAX_DEPTH, MAX_NODES, Node, StanzaError, next_key
from ._strenc import put_binary, put_string
from ._strsize import binary_header_size, string_size

_LIST_EMPTY = const(0x00)
_SHORT_LIST = const(0xD0)  # 0xD0..0xEF: a list of 1..32 items (byte - 0xCF)
_SHORT_LIST_MAX = const(32)
_LIST_8 = const(0xF8)
_LIST_16 = const(0xF9)
_BUFFERS = (bytes, bytearray, memoryview)  # made once: a tuple written in a call is built per call


def _list_header_size(n):
    if n == 0 or n <= _SHORT_LIST_MAX:
        return 1
    return 2 if n < 0x100 else 3


_COUNT = [0]  # nodes seen by the running size pass; made once so encoding allocates nothing


def _node_size(node, depth):
    if not isinstance(node, Node):
        raise StanzaError("not a Node: %s" % type(node).__name__)
    if depth > MAX_DEPTH:
        raise StanzaError("nested deeper than %d" % MAX_DEPTH)
    _COUNT[0] += 1
    if _COUNT[0] > MAX_NODES:
        raise StanzaError("more than %d nodes" % MAX_NODES)
    attrs = node.attrs
    if not isinstance(attrs, dict):
        raise StanzaError("attrs must be a dict")
    if len(attrs) > MAX_ATTRS:
        raise StanzaError("%d attributes" % len(attrs))
    content = node.content
    n = 1 + 2 * len(attrs) + (0 if content is None else 1)
    size = _list_header_size(n) + string_size(node.tag)
    for k in attrs:
        size += string_size(k) + string_size(attrs[k])
    if content is None:
        return size
    if isinstance(content, list):
        if len(content) > MAX_CHILDREN:
            raise StanzaError("%d children" % len(content))
        size += _list_header_size(len(content))
        for c in content:
            size += _node_size(c, depth + 1)
        return size
    if isinstance(content, _BUFFERS):
        n = len(content)
        if n > MAX_BYTES:
            raise StanzaError("bytes content of %d" % n)
        return size + binary_header_size(n) + n
    raise StanzaError("content must be None, bytes or a list of Node")


def encoded_size(node):
    """Bytes that encode(node) produces; raises StanzaError for a node it cannot encode."""
    _COUNT[0] = 0
    return _node_size(node, 1)


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


def _put_node(buf, p, node):
    attrs = node.attrs
    content = node.content
    p = _put_list_header(buf, p, 1 + 2 * len(attrs) + (0 if content is None else 1))
    p = put_string(buf, p, node.tag)
    k = next_key(attrs, None)
    while k is not None:
        p = put_string(buf, p, k)
        p = put_string(buf, p, attrs[k])
        k = next_key(attrs, k)
    if content is None:
        return p
    if isinstance(content, list):
        p = _put_list_header(buf, p, len(content))
        for c in content:
            p = _put_node(buf, p, c)
        return p
    return put_binary(buf, p, content)


def encode_into(node, buf, offset=0):
    """Encode into buf at offset (a link's one transmit buffer); returns the end offset."""
    size = encoded_size(node)
    if offset < 0 or offset + size > len(buf):
        raise StanzaError("buffer too small: need %d bytes" % size)
    return _write(node, buf, offset, size)


def _write(node, buf, offset, size):
    end = _put_node(buf, offset, node)
    if end != offset + size:  # the two passes disagree: a codec bug, never input
        raise RuntimeError("stanza size mismatch")
    return end


def encode(node):
    size = encoded_size(node)
    buf = bytearray(size)
    _write(node, buf, 0, size)
    return bytes(buf)
