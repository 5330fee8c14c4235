# XML-like text of a Node for logs and the simulator's trace (docs/protocol.md 2.8 uses the same
# form): attributes in canonical order, byte bodies as [hex] unless printable ASCII.
from ._node import Node, next_key


def _sorted_keys(attrs):
    out = []
    k = next_key(attrs, None)
    while k is not None:
        out.append(k)
        k = next_key(attrs, k)
    return out


def to_xml(node):
    out = []
    _xml(node, out)
    return "".join(out)


def _xml(node, out):
    out.append("<" + _xml_text(node.tag))
    for k in _sorted_keys(node.attrs):
        out.append(' %s="%s"' % (_xml_text(k), _xml_text(node.attrs[k])))
    content = node.content
    if content is None:
        out.append("/>")
        return
    out.append(">")
    if isinstance(content, list):
        for c in content:
            if isinstance(c, Node):
                _xml(c, out)
            else:
                out.append("<!--%r-->" % (c,))
    else:
        out.append(_xml_bytes(content))
    out.append("</" + _xml_text(node.tag) + ">")


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
