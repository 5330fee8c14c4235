# The tables of the stanzas that set a call up (docs/protocol.md 3.2-3.6, 3.12: offer, preaccept,
# accept, <receipt>, the <relay> block and its <te2>, relaylatency), in the flat format described
# in _calltables.py. Loaded by _calltables.table() on first use; through a call the app drops this
# module at its quiet moments (portier.appmem), and the next set-up loads it again.
from ._callkinds import ANY, ATTRS, AUDIO, BODY, DEC, DICT, ENCS, FIXED, ID, IGNORE, ITEMS, JID, LATENCY, MANY
from ._callkinds import NEST, OFFER_CAPABILITY, ONE, OPT, PREACCEPT_CAPABILITY, RECEIPT_OF, REQ, STR
from ._calltables import DEST, IDS

_AUDIO = ("audio", AUDIO | MANY << 5, "audio", None, ())
_VIDEO = ("video", IGNORE | OPT << 5, None, None, ())
_VER = ("ver", None, FIXED, "1")
_ENCOPT = ("encopt", ATTRS | ONE << 5, None, None, ("keygen", "keygen", DEC | REQ, 2))


def _net(medium):
    return ("net", ATTRS | ONE << 5, None, None, ("medium", "net_medium", DEC | REQ, medium))


SETUP_TABLES = {
    "offer": (IDS, (
        "privacy", BODY | OPT << 5, "privacy", None, (),
    ) + _AUDIO + _VIDEO + _net(3) + (
        "capability", BODY | ONE << 5, "capability", OFFER_CAPABILITY, _VER,
        "enc", ENCS | ONE << 5, None, None, (),
    ) + _ENCOPT + (
        "relay", NEST | OPT << 5, "relay", "relay", (),
        "device-identity", BODY | OPT << 5, "device_identity", None, (),
    ), True, None),
    "preaccept": (IDS, _AUDIO + _ENCOPT + (
        "capability", BODY | ONE << 5, "capability", PREACCEPT_CAPABILITY, _VER,
    ), False, None),
    "accept": (IDS, _AUDIO + _VIDEO + (
        "te", BODY | OPT << 5, "te", None, ("priority", None, FIXED, "2"),
    ) + _net(2) + _ENCOPT + (
        "metadata", DICT | OPT << 5, "metadata", None, (),
        "capability", BODY | OPT << 5, "capability", None, _VER,
        "rte", BODY | OPT << 5, "rte", None, (),
        "voip_settings", BODY | OPT << 5, "voip_settings", None, ("uncompressed", None, FIXED, "1"),
    ), False, None),
    "relaylatency": (IDS, (
        "te", BODY | ONE << 5, "address", None, ("latency", "rtt_ms", LATENCY | REQ, None,
                                                 "relay_name", "relay_name", STR, None),
    ) + DEST, False, None),
    # outside <call>
    "receipt": (("id", "stanza_id", ID | REQ, None, "to", "to", JID, None, "from", "frm", JID, None),
                ("offer", RECEIPT_OF | ONE << 5, None, None, ()), False, None),
    # nested blocks
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
