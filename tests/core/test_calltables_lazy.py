# The call tables in two parts (portier.signaling._calltables / _setuptables): a call under way
# parses and builds its stanzas (terminate, ack, heartbeat, mute, transport, reject, the door
# unlock pair) without the set-up tables; an offer, accept, receipt or relay block loads them,
# the app drops them at quiet moments (portier.appmem), and the next use loads them afresh with
# the same bytes on the wire.
import sys

from portier import appmem
from portier.signaling import stanzas as st
from portier.wire.stanza import decode, encode

_SETUP = "portier.signaling._setuptables"
CID = "5D1C0A9B8E7F6A5B4C3D2E1F00112233"
ME = "4915112345678:0@portier"
PEER = "4915187654321@portier"
IDS = {"call_id": CID, "call_creator": ME}


def _rt(stanza):
    data = encode(stanza.to_node())
    return data, st.parse(decode(data))


def test_a_call_under_way_needs_no_set_up_table():
    appmem.forget_modules([_SETUP])
    talk = [
        st.Stanza("terminate", reason="timeout", duration=3, to=PEER, stanza_id="S1", **IDS),
        st.Stanza("ack", stanza_id="S1", to=ME, error_code=404),
        st.Stanza("heartbeat", stanza_id="S2", **IDS),
        st.Stanza("mute_v2", muted=True, to=PEER, **IDS),
        st.Stanza("transport", message_type=1, to=PEER, **IDS),
        st.Stanza("reject", reason="busy", to=PEER, **IDS),
        st.enc(b"\x01" * 20, "msg"),
        # the door unlock comes mid-call too (docs/protocol.md section 10)
        st.Stanza("unlock", enc=st.enc(b"\x44" * 30), to=PEER, stanza_id="U1", **IDS),
        st.Stanza("unlock_result", result="refused", reason="wrong_pin", retry_after_s=30, to=PEER,
                  stanza_id="U2", **IDS),
    ]
    for s in talk:
        _, back = _rt(s) if s.action != "enc" else (None, s)
        assert back == s, (s, back)
    assert _SETUP not in sys.modules


def test_set_up_tables_load_on_use_and_come_back_after_a_drop():
    appmem.forget_modules([_SETUP])
    offer = st.Stanza("offer", audio=[("pcmu", 8000)], enc=st.enc(b"\x33" * 40, "pkmsg"), to=PEER,
                      stanza_id="S9", **IDS)
    assert _SETUP in sys.modules  # the Stanza's defaults come from its table
    assert _SETUP in appmem.transient_e2e_modules()
    data, back = _rt(offer)
    assert back == offer
    assert appmem.forget_modules([_SETUP]) == 1
    assert _SETUP not in sys.modules
    # parsing the same bytes loads the tables again, and building gives the same bytes
    again = st.parse(decode(data))
    assert again == offer and encode(again.to_node()) == data
    receipt = st.Stanza("receipt", stanza_id="S9", to=ME, frm=PEER, **IDS)
    appmem.forget_modules([_SETUP])
    assert _rt(receipt)[1] == receipt
    appmem.forget_modules([_SETUP])
