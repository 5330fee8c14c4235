# The call vocabulary as data (docs/protocol.md section 3): for each stanza, its attributes and
# its children in the order the model fixes. One generic engine (_callcodec.py) builds and
# parses every stanza from these tables, which costs a board far less RAM than a class per action.
from micropython import const

LATENCY_BASE = const(0x02000000)  # relaylatency `latency` = LATENCY_BASE + rtt_ms
CALL_SERVER = "call"  # heartbeats go to {call-id}@call
REJECT_REASONS = ("busy", "declined")
TERMINATE_REASONS = ("timeout", "busy", "declined", "cancelled", "connection_lost", "accepted_elsewhere",
                     "rejected_elsewhere", "group_call_ended", "retry")
# (codec, rate) pairs Portier plays; anything else in an offer (opus) is kept but never chosen.
PORTIER_AUDIO = (("pcmu", 8000), ("pcma", 8000), ("l16", 16000))
OFFER_CAPABILITY = b"\x01\x05\xf7\x09\xe0\xbb\x13"  # the model's newest offer value
PREACCEPT_CAPABILITY = b"\x01\x05\xf7\x09\xe4\xbb\x07"

# Attribute kinds: how a field's value is written and checked.
STR = const(0)  # any text
DEC = const(1)  # unsigned 32-bit decimal, no leading zeros; field holds an int
REASON = const(2)  # 1..32 of [a-z0-9_-]
JID = const(3)  # user[:device]@server
ID = const(4)  # 1..64 of [0-9A-Za-z._-]
BOOL = const(5)  # "0" / "1"; field holds a bool
FIXED = const(6)  # the default is written; ignored when read
LATENCY = const(7)  # field holds rtt_ms; wire value LATENCY_BASE + rtt_ms, read back & 0xFFFFFF
ENCTYPE = const(8)  # "pkmsg" / "msg"

# Child kinds.
BODY = const(10)  # bytes content -> field; child attributes -> fields
ATTRS = const(11)  # empty element; its attributes -> fields
AUDIO = const(12)  # <audio enc rate/>+ -> [(codec, rate)]
ENCS = const(13)  # <enc> -> field enc, or <destination><to jid><enc/></to>+ -> [(jid, enc)]
JIDS = const(14)  # <destination><to jid/>* -> [jid], None when absent or empty
NEST = const(15)  # a nested stanza (table named by arg); a list when the child repeats
ITEMS = const(16)  # <tag id>bytes</tag>* -> [(id, bytes)]
DICT = const(17)  # all attributes -> dict
IGNORE = const(18)  # accepted and dropped (video descriptors: Portier is audio-only)
RECEIPT_OF = const(19)  # <offer|accept call-id call-creator/> -> of, call_id, call_creator

# Child multiplicity.
OPT = const(0)
ONE = const(1)
MANY = const(2)  # one or more
ANY = const(3)  # zero or more

# attribute: (wire name, field, kind, required, default)
# child:     (tag, kind, multiplicity, field, child attributes, arg: default body or table name)
# table:     (attributes, children, keep other attributes in `extra`, body field of the element)
_IDS = (("call-id", "call_id", ID, True, None), ("call-creator", "call_creator", JID, True, None))
_REASON = ("reason", "reason", REASON, False, None)
_AUDIO = ("audio", AUDIO, MANY, "audio", (), None)
_VER = (("ver", None, FIXED, False, "1"),)
_ENCOPT = ("encopt", ATTRS, ONE, None, (("keygen", "keygen", DEC, True, 2),), None)
_DEST = ("destination", JIDS, OPT, "destination", (), None)


def _net(medium):
    return ("net", ATTRS, ONE, None, (("medium", "net_medium", DEC, True, medium),), None)


ENVELOPE = (("to", "to", JID, False, None), ("from", "frm", JID, False, None), ("id", "stanza_id", ID, False, None),
            ("t", "t", DEC, False, None))

TABLES = {
    "offer": (_IDS, (
        ("privacy", BODY, OPT, "privacy", (), None),
        _AUDIO,
        ("video", IGNORE, OPT, None, (), None),
        _net(3),
        ("capability", BODY, ONE, "capability", _VER, OFFER_CAPABILITY),
        ("enc", ENCS, ONE, None, (), None),
        _ENCOPT,
        ("relay", NEST, OPT, "relay", (), "relay"),
        ("device-identity", BODY, OPT, "device_identity", (), None),
    ), True, None),
    "preaccept": (_IDS, (_AUDIO, _ENCOPT, ("capability", BODY, ONE, "capability", _VER, PREACCEPT_CAPABILITY)),
                  False, None),
    "accept": (_IDS, (
        _AUDIO,
        ("video", IGNORE, OPT, None, (), None),
        ("te", BODY, OPT, "te", (("priority", None, FIXED, False, "2"),), None),
        _net(2),
        _ENCOPT,
        ("metadata", DICT, OPT, "metadata", (), None),
        ("capability", BODY, OPT, "capability", _VER, None),
        ("rte", BODY, OPT, "rte", (), None),
        ("voip_settings", BODY, OPT, "voip_settings", (("uncompressed", None, FIXED, False, "1"),), None),
    ), False, None),
    "reject": (_IDS + (_REASON, ("count", "count", DEC, False, None)), (), False, None),
    "terminate": (_IDS + (_REASON, ("duration", "duration", DEC, False, None),
                          ("audio_duration", "audio_duration", DEC, False, None)), (_DEST,), False, None),
    "transport": (_IDS + (("p2p-cand-round", "p2p_cand_round", DEC, False, None),
                          ("transport-message-type", "message_type", DEC, False, None)), (
        ("te", BODY, OPT, "te", (("priority", None, FIXED, False, "1"),), None),
        ("net", ATTRS, ONE, None, (("medium", "net_medium", DEC, True, 2),
                                   ("protocol", "net_protocol", DEC, False, None)), None),
    ), False, None),
    "relaylatency": (_IDS, (
        ("te", BODY, ONE, "address", (("latency", "rtt_ms", LATENCY, True, None),
                                      ("relay_name", "relay_name", STR, False, None)), None),
        _DEST,
    ), False, None),
    "mute_v2": (_IDS + (("mute-state", "muted", BOOL, True, None),), (), False, None),
    "heartbeat": (_IDS, (), False, None),
    # outside <call>
    "ack": ((("class", "ack_class", STR, True, "call"), ("id", "stanza_id", ID, True, None),
             ("to", "to", JID, False, None), ("from", "frm", JID, False, None), ("type", "ack_type", STR, False, None),
             ("participant", "participant", JID, False, None), ("recipient", "recipient", JID, False, None)), (
        ("relay", NEST, OPT, "relay", (), "relay"),
        ("error", ATTRS, OPT, None, (("code", "error_code", DEC, True, None),), None),
    ), False, None),
    "receipt": ((("id", "stanza_id", ID, True, None), ("to", "to", JID, False, None),
                 ("from", "frm", JID, False, None)), (("offer", RECEIPT_OF, ONE, None, (), None),), False, None),
    # nested blocks
    "enc": ((("v", "v", DEC, True, 2), ("type", "type", ENCTYPE, True, "msg"), ("count", "count", DEC, False, 0)),
            (), False, "ciphertext"),
    "relay": ((("uuid", "uuid", STR, True, None), ("self_pid", "self_pid", DEC, True, None),
               ("peer_pid", "peer_pid", DEC, True, None)), (
        ("key", BODY, ONE, "key", (), None),
        ("hbh_key", BODY, ONE, "hbh_key", (), None),
        ("token", ITEMS, ANY, "tokens", (), None),
        ("auth_token", ITEMS, ANY, "auth_tokens", (), None),
        ("te2", NEST, MANY, "endpoints", (), "te2"),
    ), False, None),
    "te2": ((("relay_id", "relay_id", DEC, False, None), ("relay_name", "relay_name", STR, False, None),
             ("token_id", "token_id", DEC, False, None), ("c2r_rtt", "c2r_rtt", DEC, False, None)),
            (), False, "address"),
}
CALL_ACTIONS = ("offer", "preaccept", "accept", "reject", "terminate", "transport", "relaylatency", "mute_v2",
                "heartbeat")
ADDRESS_FIELD = "address"  # te2 / relaylatency bodies: 6-byte IPv4+port or 18-byte IPv6+port
