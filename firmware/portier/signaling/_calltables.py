# The call vocabulary as data (docs/protocol.md section 3): for each stanza, its attributes and
# its children in the order the model fixes. One generic engine (_callcodec.py) builds and
# parses every stanza from these tables, which costs a board far less RAM than a class per action.
from ._blocktables import BLOCK_TABLES
from ._callkinds import ATTRS, AUDIO, BODY, BOOL, DEC, DICT, ENCS, FIXED, ID, IGNORE, JID, JIDS, LATENCY, MANY
from ._callkinds import NEST, OFFER_CAPABILITY, ONE, OPT, PREACCEPT_CAPABILITY, REASON, REQ, STR

# Flat tuples (one tuple per table, not one per entry: a board's RAM pays per object):
#   attributes: wire name, field, kind | REQ, default   (4 slots each; for FIXED, default is
#               the value written)
#   children:   tag, kind | multiplicity << 5, field, arg (default body or table name),
#               child attributes (a flat attribute tuple)   (5 slots each)
# table: (attributes, children, keep other attributes in `extra`, body field of the element)
_IDS = ("call-id", "call_id", ID | REQ, None, "call-creator", "call_creator", JID | REQ, None)
_REASON = ("reason", "reason", REASON, None)
_AUDIO = ("audio", AUDIO | MANY << 5, "audio", None, ())
_VIDEO = ("video", IGNORE | OPT << 5, None, None, ())
_VER = ("ver", None, FIXED, "1")
_ENCOPT = ("encopt", ATTRS | ONE << 5, None, None, ("keygen", "keygen", DEC | REQ, 2))
_DEST = ("destination", JIDS | OPT << 5, "destination", None, ())


def _net(medium):
    return ("net", ATTRS | ONE << 5, None, None, ("medium", "net_medium", DEC | REQ, medium))


ENVELOPE = ("to", "to", JID, None, "from", "frm", JID, None, "id", "stanza_id", ID, None, "t", "t", DEC, None)

TABLES = {
    "offer": (_IDS, (
        "privacy", BODY | OPT << 5, "privacy", None, (),
    ) + _AUDIO + _VIDEO + _net(3) + (
        "capability", BODY | ONE << 5, "capability", OFFER_CAPABILITY, _VER,
        "enc", ENCS | ONE << 5, None, None, (),
    ) + _ENCOPT + (
        "relay", NEST | OPT << 5, "relay", "relay", (),
        "device-identity", BODY | OPT << 5, "device_identity", None, (),
    ), True, None),
    "preaccept": (_IDS, _AUDIO + _ENCOPT + (
        "capability", BODY | ONE << 5, "capability", PREACCEPT_CAPABILITY, _VER,
    ), False, None),
    "accept": (_IDS, _AUDIO + _VIDEO + (
        "te", BODY | OPT << 5, "te", None, ("priority", None, FIXED, "2"),
    ) + _net(2) + _ENCOPT + (
        "metadata", DICT | OPT << 5, "metadata", None, (),
        "capability", BODY | OPT << 5, "capability", None, _VER,
        "rte", BODY | OPT << 5, "rte", None, (),
        "voip_settings", BODY | OPT << 5, "voip_settings", None, ("uncompressed", None, FIXED, "1"),
    ), False, None),
    "reject": (_IDS + _REASON + ("count", "count", DEC, None), (), False, None),
    "terminate": (_IDS + _REASON + ("duration", "duration", DEC, None, "audio_duration", "audio_duration", DEC, None),
                  _DEST, False, None),
    "transport": (_IDS + ("p2p-cand-round", "p2p_cand_round", DEC, None,
                          "transport-message-type", "message_type", DEC, None), (
        "te", BODY | OPT << 5, "te", None, ("priority", None, FIXED, "1"),
        "net", ATTRS | ONE << 5, None, None, ("medium", "net_medium", DEC | REQ, 2,
                                              "protocol", "net_protocol", DEC, None),
    ), False, None),
    "relaylatency": (_IDS, (
        "te", BODY | ONE << 5, "address", None, ("latency", "rtt_ms", LATENCY | REQ, None,
                                                 "relay_name", "relay_name", STR, None),
    ) + _DEST, False, None),
    "mute_v2": (_IDS + ("mute-state", "muted", BOOL | REQ, None), (), False, None),
    "heartbeat": (_IDS, (), False, None),
    # Portier extension (docs/protocol.md section 10): door unlock, its words outside the
    # version-1 dictionary (raw strings on the wire), so older decoders read "unknown" actions.
    "unlock": (_IDS, ("enc", NEST | ONE << 5, "enc", "enc", ()), False, None),
    "unlock_result": (_IDS + ("result", "result", REASON | REQ, None, "reason", "reason", REASON, None,
                              "retry_after", "retry_after_s", DEC, None), (), False, None),
}
CALL_ACTIONS = ("offer", "preaccept", "accept", "reject", "terminate", "transport", "relaylatency", "mute_v2",
                "heartbeat", "unlock", "unlock_result")
ADDRESS_FIELD = "address"  # te2 / relaylatency bodies: 6-byte IPv4+port or 18-byte IPv6+port
TABLES.update(BLOCK_TABLES)
