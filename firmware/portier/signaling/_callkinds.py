# Constants of the call vocabulary and the kinds the stanza tables use (docs/protocol.md
# section 3); imported by both table modules and the engine.
from micropython import const

LATENCY_BASE = const(0x02000000)  # relaylatency `latency` = LATENCY_BASE + rtt_ms
CALL_SERVER = "call"  # heartbeats go to {call-id}@call
REJECT_REASONS = ("busy", "declined")
TERMINATE_REASONS = ("timeout", "busy", "declined", "cancelled", "connection_lost", "accepted_elsewhere",
                     "rejected_elsewhere", "group_call_ended", "retry")
# The call-log outcomes of a call, from the point of view of the device that logs it: the names
# the call engine's endings index (engine._ENDINGS, OUTCOMES[_O_*]), and all the call log takes
# (portier.signaling.calllog). Here, not in the engine, so that the call log can be read
# without loading the engine.
OUTCOMES = ("answered", "declined", "busy", "unanswered", "cancelled", "failed", "missed",
            "answered_elsewhere", "declined_elsewhere")
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

# Child multiplicity, stored as code >> 5.
OPT = const(0)
ONE = const(1)
MANY = const(2)  # one or more
ANY = const(3)  # zero or more
REQ = const(0x10)  # attribute code flag: required
