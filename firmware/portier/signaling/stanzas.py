# Call stanzas (docs/protocol.md section 3). Every action is a Stanza: `.action` plus the fields
# its table in _calltables.py names, e.g.
#   Stanza("terminate", call_id=cid, call_creator=me, reason="timeout", to=peer).to_node()
# and parse(node) turns a decoded <call>, <ack> or <receipt> back into one. A well-formed <call>
# whose action Portier does not handle parses as action "unknown" (ack it and ignore it, as the
# model says), never as an error. `enc` bodies are opaque bytes here.
from portier.wire._node import Node  # not .stanza: the call layer needs no codec

from ._callkinds import CALL_SERVER, LATENCY_BASE, OFFER_CAPABILITY, PORTIER_AUDIO  # noqa: F401 (interface)
from ._callkinds import ENCTYPE, PREACCEPT_CAPABILITY, REJECT_REASONS, TERMINATE_REASONS  # noqa: F401 (interface)
from ._calltables import CALL_ACTIONS, ENVELOPE
from ._callcodec import CallStanzaError, Stanza, _get_attrs, read_value
from ._callnodes import build_node  # noqa: F401  (loaded now: Stanza.to_node imports it late)
from ._callparse import parse_node


def _parse_call(node):
    kids = node.content
    if not isinstance(kids, list) or len(kids) != 1:
        raise CallStanzaError("<call> holds exactly one action")
    action = kids[0]
    if action.tag in CALL_ACTIONS:
        obj = parse_node(action.tag, action)
    else:
        obj = Stanza("unknown", tag=action.tag, node=action, call_id=action.get("call-id"),
                     call_creator=action.get("call-creator"))
    _get_attrs(ENVELOPE, node, obj)
    if obj.to is None and obj.frm is None:
        raise CallStanzaError("<call> without to or from")
    return obj


def parse(node):
    """A decoded <call>, <ack> or <receipt> Node -> Stanza; CallStanzaError if malformed."""
    if not isinstance(node, Node):
        raise CallStanzaError("not a Node")
    if node.tag == "call":
        return _parse_call(node)
    if node.tag == "ack" or node.tag == "receipt":
        return parse_node(node.tag, node)
    raise CallStanzaError("<%s> is not a call stanza" % node.tag)


def build(stanza):
    """The Node for a Stanza (the same as stanza.to_node())."""
    return stanza.to_node()


def enc(ciphertext, type="msg"):
    """A wrapped call key for an offer's `enc` field or its destination list."""
    return Stanza("enc", ciphertext=ciphertext, type=read_value(ENCTYPE, type, "type"))


def supported_audio(offer):
    """The offer's (codec, rate) pairs that Portier can play, in the caller's order."""
    return [a for a in offer.audio or () if a in PORTIER_AUDIO]


def ipv4_endpoint(relay):
    """The relay's first IPv4 te2 (its body is what relaylatency echoes), or None."""
    for te in relay.endpoints or ():
        if len(te.address) == 6:
            return te
    return None
