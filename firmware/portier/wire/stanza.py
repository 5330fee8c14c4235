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
#
# The code lives in _node.py, _encoder.py and _decoder.py (each small enough to compile from
# source on the board); this module is the interface other modules import.
from ._decoder import decode
from ._encoder import encode, encode_into, encoded_size
from ._node import MAX_ATTRS, MAX_BYTES, MAX_CHILDREN, MAX_DEPTH, MAX_DEVICE, MAX_NODES, MAX_TEXT
from ._node import Node, StanzaError

