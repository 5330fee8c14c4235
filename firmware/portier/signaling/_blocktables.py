# Tables for <ack>, <receipt> and the nested blocks <enc>, <relay>, <te2> (docs/protocol.md
# 3.3, 3.4, 3.12), in the flat format described in _calltables.py.
from ._callkinds import ANY, ATTRS, BODY, DEC, ENCTYPE, ID, ITEMS, JID, MANY, NEST, ONE, OPT, RECEIPT_OF, REQ
from ._callkinds import STR

BLOCK_TABLES = {
    # outside <call>
    "ack": (("class", "ack_class", STR | REQ, "call", "id", "stanza_id", ID | REQ, None, "to", "to", JID, None,
             "from", "frm", JID, None, "type", "ack_type", STR, None, "participant", "participant", JID, None,
             "recipient", "recipient", JID, None), (
        "relay", NEST | OPT << 5, "relay", "relay", (),
        "error", ATTRS | OPT << 5, None, None, ("code", "error_code", DEC | REQ, None),
    ), False, None),
    "receipt": (("id", "stanza_id", ID | REQ, None, "to", "to", JID, None, "from", "frm", JID, None),
                ("offer", RECEIPT_OF | ONE << 5, None, None, ()), False, None),
    # nested blocks
    "enc": (("v", "v", DEC | REQ, 2, "type", "type", ENCTYPE | REQ, "msg", "count", "count", DEC, 0),
            (), False, "ciphertext"),
    "relay": (("uuid", "uuid", STR | REQ, None, "self_pid", "self_pid", DEC | REQ, None,
               "peer_pid", "peer_pid", DEC | REQ, None), (
        "key", BODY | ONE << 5, "key", None, (),
        "hbh_key", BODY | ONE << 5, "hbh_key", None, (),
        "token", ITEMS | ANY << 5, "tokens", None, (),
        "auth_token", ITEMS | ANY << 5, "auth_tokens", None, (),
        "te2", NEST | MANY << 5, "endpoints", "te2", (),
    ), False, None),
    "te2": (("relay_id", "relay_id", DEC, None, "relay_name", "relay_name", STR, None,
             "token_id", "token_id", DEC, None, "c2r_rtt", "c2r_rtt", DEC, None), (), False, "address"),
}
