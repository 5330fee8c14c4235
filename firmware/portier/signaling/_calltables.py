# The call vocabulary as data (docs/protocol.md section 3): for each stanza, its attributes and
# its children in the order the model fixes. One generic engine (_callcodec.py) builds and
# parses every stanza from these tables, which costs a board far less RAM than a class per action.
#
# This module holds the tables a call needs while it is under way (reject, terminate, transport,
# mute_v2, heartbeat, the unlock pair, missed, ack, enc); those that set a call up (offer, preaccept,
# accept, receipt, relay, te2, relaylatency) are in _setuptables.py, loaded by table() on
# first use and dropped with the Signal code at the app's quiet moments (portier.appmem: media
# start, call end), so they are not held through the call.
from ._callkinds import ATTRS, BODY, BOOL, DEC, ENCTYPE, FIXED, ID, JID, JIDS, NEST, ONE, OPT, REASON, REQ
from ._callkinds import STR

# Flat tuples (one tuple per table, not one per entry: a board's RAM pays per object):
#   attributes: wire name, field, kind | REQ, default   (4 slots each; for FIXED, default is
#               the value written)
#   children:   tag, kind | multiplicity << 5, field, arg (default body or table name),
#               child attributes (a flat attribute tuple)   (5 slots each)
# table: (attributes, children, keep other attributes in `extra`, body field of the element)
IDS = ("call-id", "call_id", ID | REQ, None, "call-creator", "call_creator", JID | REQ, None)
REASON_ATTR = ("reason", "reason", REASON, None)
DEST = ("destination", JIDS | OPT << 5, "destination", None, ())

ENVELOPE = ("to", "to", JID, None, "from", "frm", JID, None, "id", "stanza_id", ID, None, "t", "t", DEC, None)

TABLES = {
    "reject": (IDS + REASON_ATTR + ("count", "count", DEC, None), (), False, None),
    "terminate": (IDS + REASON_ATTR + ("duration", "duration", DEC, None, "audio_duration", "audio_duration", DEC, None),
                  DEST, False, None),
    "transport": (IDS + ("p2p-cand-round", "p2p_cand_round", DEC, None,
                         "transport-message-type", "message_type", DEC, None), (
        "te", BODY | OPT << 5, "te", None, ("priority", None, FIXED, "1"),
        "net", ATTRS | ONE << 5, None, None, ("medium", "net_medium", DEC | REQ, 2,
                                              "protocol", "net_protocol", DEC, None),
    ), False, None),
    "mute_v2": (IDS + ("mute-state", "muted", BOOL | REQ, None), (), False, None),
    "heartbeat": (IDS, (), False, None),
    # Portier extension (docs/protocol.md section 10): door unlock, its words outside the
    # version-1 dictionary (raw strings on the wire), so older decoders read "unknown" actions.
    "unlock": (IDS, ("enc", NEST | ONE << 5, "enc", "enc", ()), False, None),
    "unlock_result": (IDS + ("result", "result", REASON | REQ, None, "reason", "reason", REASON, None,
                             "retry_after", "retry_after_s", DEC, None), (), False, None),
    # Portier extension (docs/protocol.md 8.3): a ring the door could not place, told later.
    "missed": (IDS + REASON_ATTR + ("ago", "ago_s", DEC | REQ, None, "start", "start", DEC, None), (),
               False, None),
    # outside <call>
    "ack": (("class", "ack_class", STR | REQ, "call", "id", "stanza_id", ID | REQ, None, "to", "to", JID, None,
             "from", "frm", JID, None, "type", "ack_type", STR, None, "participant", "participant", JID, None,
             "recipient", "recipient", JID, None), (
        "relay", NEST | OPT << 5, "relay", "relay", (),
        "error", ATTRS | OPT << 5, None, None, ("code", "error_code", DEC | REQ, None),
    ), False, None),
    # nested block (an offer's, an unlock's)
    "enc": (("v", "v", DEC | REQ, 2, "type", "type", ENCTYPE | REQ, "msg", "count", "count", DEC, 0),
            (), False, "ciphertext"),
}
CALL_ACTIONS = ("offer", "preaccept", "accept", "reject", "terminate", "transport", "relaylatency", "mute_v2",
                "heartbeat", "unlock", "unlock_result", "missed")
ADDRESS_FIELD = "address"  # te2 / relaylatency bodies: 6-byte IPv4+port or 18-byte IPv6+port
_SETUP = ("offer", "preaccept", "accept", "receipt", "relay", "te2", "relaylatency")


def table(action):
    """The table of action, or None when there is none. The set-up tables come from
    _setuptables (imported here on first use, never copied into TABLES, so that dropping the
    module frees them)."""
    t = TABLES.get(action)
    if t is None and action in _SETUP:
        from ._setuptables import SETUP_TABLES

        t = SETUP_TABLES[action]
    return t
