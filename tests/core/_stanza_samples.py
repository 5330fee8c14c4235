# Sample call stanzas, one per action and variant, shared by the call stanza, robustness, size
# and fuzz tests and the benchmark. No tests here: kept apart so the tests that only need the
# samples stay small on a 96 KiB heap.
from portier.signaling import stanzas as S
from portier.signaling.stanzas import Stanza as St

CID = "5D1C0A9B8E7F6A5B4C3D2E1F00112233"
ME = "4915112345678:0@portier"
PEER = "4915187654321@portier"
SID = "8F3A0000000000000000000000000001"
IPV4 = b"\xc0\x00\x02\x0a\x0d\x96"  # 192.0.2.10:3478


def _relay():
    te = St("te2", address=IPV4, relay_id=1, relay_name="fra1c01", token_id=1, c2r_rtt=12)
    return St("relay", uuid="ZmFrZXV1aWQ", self_pid=1, peer_pid=2, key=b"k" * 24, hbh_key=b"h" * 40,
              endpoints=[te], tokens=[(1, b"t" * 30)], auth_tokens=[(1, b"a" * 30)])


def samples():
    """One Stanza per action (and variants); shared with the size and robustness tests."""
    ids = {"call_id": CID, "call_creator": ME}
    dest = [("4915187654321:%d@portier" % i, S.enc(bytes(range(120)), "pkmsg")) for i in (0, 1, 2)]
    return [
        St("offer", audio=S.PORTIER_AUDIO, destination=dest, to=PEER, stanza_id=SID, **ids),
        St("offer", audio=[("opus", 16000), ("pcmu", 8000)], enc=S.enc(b"x" * 50), relay=_relay(), privacy=b"pp",
           device_identity=b"di", extra={"caller_pn": "4915112345678@s.whatsapp.net"}, frm=PEER, stanza_id=SID,
           t=1700000000, **ids),
        St("ack", stanza_id=SID, to=ME),
        St("ack", stanza_id=SID, frm=PEER, ack_type="offer", relay=_relay()),
        St("ack", stanza_id=SID, frm=PEER, error_code=439),
        St("receipt", stanza_id=SID, to=ME, frm="4915187654321:1@portier", **ids),
        St("preaccept", audio=[("pcmu", 8000)], to=ME, stanza_id=SID, **ids),
        St("accept", audio=[("pcmu", 8000), ("l16", 16000)], to=ME, stanza_id=SID, **ids),
        St("accept", audio=[("pcma", 8000)], te=b"\x01\x02", metadata={"peer_abtest_bucket": "x"},
           capability=b"\x01\x05", rte=b"r", voip_settings=b'{"a":1}', to=ME, stanza_id=SID, **ids),
        St("reject", to=ME, **ids),
        St("reject", reason="busy", count=0, to=ME, stanza_id=SID, **ids),
        St("terminate", reason="timeout", to=PEER, stanza_id=SID, **ids),
        St("terminate", duration=125, audio_duration=120,
           destination=["4915187654321:1@portier", "4915187654321:2@portier"], to=PEER, **ids),
        St("transport", message_type=1, p2p_cand_round=0, te=b"tok", to=PEER, **ids),
        St("transport", message_type=9, to=PEER, **ids),
        St("relaylatency", rtt_ms=45, address=IPV4, relay_name="fra1c01", to=PEER, **ids),
        St("mute_v2", muted=True, to=PEER, **ids),
        St("heartbeat", stanza_id=SID, **ids),
    ]
