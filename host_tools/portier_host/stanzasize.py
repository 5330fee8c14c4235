"""The yardsticks of the stanza-size goals (issue: compact signalling), shared by the size test
and `make bench`: XML and JSON text written by the standard library (not by the firmware), the
model's worked terminate example, the 3-device offer, and which stanzas count as bodiless."""

import base64
import json
from xml.sax.saxutils import escape, quoteattr

from . import paths

paths.use_firmware()
from portier.signaling import stanzas as S  # noqa: E402
from portier.wire.stanza import Node  # noqa: E402

BODILESS = ("terminate", "accept", "preaccept", "reject", "ack", "receipt", "transport", "relaylatency")
# The model's worked example: 50 bytes in WABinary; the goal is at most 46 in ours.
MODEL_TERMINATE = Node("call", {"to": "123456789@lid", "id": "ABCD01"}, [Node("terminate", {
    "call-id": "0123456789ABCDEF", "call-creator": "987654321:3@lid", "reason": "timeout"})])


def xml_text(node):
    """Compact XML: no whitespace, double-quoted attributes, byte bodies in base64."""
    attrs = "".join(" %s=%s" % (k, quoteattr(v)) for k, v in node.attrs.items())
    if node.content is None:
        return "<%s%s/>" % (node.tag, attrs)
    if isinstance(node.content, list):
        inner = "".join(xml_text(c) for c in node.content)
    else:
        inner = escape(base64.b64encode(node.content).decode())
    return "<%s%s>%s</%s>" % (node.tag, attrs, inner, node.tag)


def _json_tree(node):
    out = {"tag": node.tag}
    if node.attrs:
        out["attrs"] = node.attrs
    if isinstance(node.content, list):
        out["content"] = [_json_tree(c) for c in node.content]
    elif node.content is not None:
        out["content"] = base64.b64encode(node.content).decode()
    return out


def json_text(node):
    return json.dumps(_json_tree(node), separators=(",", ":"))


def offer_to_three(enc_body, call_id, creator, to, stanza_id):
    """The goal's offer: three devices, one 120-byte enc each."""
    dest = [("4915187654321:%d@portier" % i, S.enc(enc_body, "pkmsg")) for i in (1, 2, 3)]
    return S.Stanza("offer", call_id=call_id, call_creator=creator, audio=S.PORTIER_AUDIO,
                    destination=dest, to=to, stanza_id=stanza_id)


def counts_as_bodiless(action, node):
    """A bodiless action whose only bodies are the short fixed blobs that belong to the goal
    (relaylatency's 6-byte address, preaccept's 7-byte capability); keys, tokens and settings
    are opaque payloads and keep a stanza out of the 40% goal."""
    return action in BODILESS and _small_bodies(node)


def _small_bodies(node):
    if isinstance(node.content, list):
        return all(_small_bodies(c) for c in node.content)
    return node.content is None or (node.tag in ("te", "capability") and len(node.content) <= 8)
