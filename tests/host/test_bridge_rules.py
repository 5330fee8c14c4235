"""The bridge's sans-IO parts: the call semantics between the household call and the SIP legs
(bridge/rules.py), the keypad PIN collector and its tones (bridge/pin.py), and the "sip"
config block (bridge/sipconfig.py)."""

import numpy as np
import pytest

from portier_host.bridge import pin, rules as R, sipconfig


def _ringing(r, targets=("sip:a@pbx", "sip:b@pbx")):
    return r.household("ringing", "C1", "in", None, list(targets))


def test_door_ring_dials_every_target_and_the_first_answer_wins():
    r = R.BridgeRules()
    acts = _ringing(r)
    assert acts == [(R.DIAL, 1, "sip:a@pbx"), (R.DIAL, 2, "sip:b@pbx")]
    assert r.leg_answered(2) == [(R.ANSWER, "C1"), (R.CANCEL, 1) + R.ELSEWHERE]
    assert r.talking == 2
    assert r.leg_answered(1) == [(R.HANG_UP, 1)]  # too late: a crossing 200 OK is hung up
    assert r.leg_ended(2, 200) == [(R.END, "C1")]  # the SIP phone hangs up: so does the call


def test_another_device_answers_cancels_legs_with_reason():
    r = R.BridgeRules()
    _ringing(r)
    acts = r.household("ended", "C1", "in", "answered_elsewhere")
    assert acts == [(R.CANCEL, 1) + R.ELSEWHERE, (R.CANCEL, 2) + R.ELSEWHERE]
    assert not r.busy() and r.legs == {}
    assert r.leg_ended(1, 487) == []  # the cancelled legs' ends change nothing


def test_ring_timeout_cancels_without_reason_and_hangup_from_door_ends_leg():
    r = R.BridgeRules()
    _ringing(r, ["sip:a@pbx"])
    assert r.household("ended", "C1", "in", "missed") == [(R.CANCEL, 1, None, None)]
    _ringing(r, ["sip:a@pbx"])
    r.leg_answered(2)
    assert r.household("ended", "C1", "in", "answered") == [(R.HANG_UP, 2)]


def test_sip_decline_declines_household_busy_only_this_device():
    r = R.BridgeRules()
    _ringing(r)
    assert r.leg_ended(1, 603) == [(R.DECLINE, "C1", False), (R.CANCEL, 2) + R.DECLINED_ELSEWHERE]
    r = R.BridgeRules()
    _ringing(r)
    assert r.leg_ended(1, 486) == []  # the other leg still rings
    assert r.leg_ended(2, 480) == [(R.DECLINE, "C1", True)]  # all gone: busy, others ring on


def test_no_targets_declines_as_busy():
    r = R.BridgeRules()
    assert _ringing(r, []) == [(R.DECLINE, "C1", True)]


def test_sip_phone_calls_the_door():
    r = R.BridgeRules()
    leg, acts = r.incoming()
    assert acts == [(R.CALL_DOOR,)]
    assert r.household("ringing", "C9", "out") == [(R.RING, leg)]
    assert r.household("answered", "C9", "out") == [(R.ACCEPT, leg)]
    assert r.leg_answered(leg) == []  # the phone's ACK of the 200 OK
    leg2, acts2 = r.incoming()  # a second caller meanwhile: busy
    assert acts2 == [(R.REFUSE, leg2, 486)]
    assert r.household("ended", "C9", "out", "answered") == [(R.HANG_UP, leg)]


@pytest.mark.parametrize("outcome,code", [("declined", 603), ("busy", 486),
                                          ("unanswered", 480), ("failed", 503)])
def test_door_refusal_maps_to_sip_final_response(outcome, code):
    r = R.BridgeRules()
    leg, _ = r.incoming()
    r.household("ringing", "C9", "out")
    assert r.household("ended", "C9", "out", outcome) == [(R.REFUSE, leg, code)]


def test_dtmf_pin_only_on_the_answered_door_call():
    r = R.BridgeRules()
    _ringing(r)
    assert r.dtmf(1, "*", 0) == []  # not answered yet
    r.leg_answered(1)
    for i, d in enumerate("*2468"):
        assert r.dtmf(1, d, i * 100) == []
    assert r.dtmf(1, "#", 600) == [(R.UNLOCK, "2468")]
    assert r.unlock_result("opened") == [(R.TONE, 1, "opened")]
    assert r.dtmf(1, "*", 700) == [] and r.dtmf(1, "#", 800) == [(R.TONE, 1, "bad_entry")]


def test_pin_collector_rules():
    c = pin.PinCollector(timeout_ms=1000)
    assert [c.feed(d, 0) for d in "1234#"] == [None] * 5  # no `*`: stray keys
    assert c.feed("*", 0) is None
    for d in "12":
        c.feed(d, 10)
    assert c.feed("3", 2000) is None and c.feed("#", 2010) is None  # stale entry forgotten
    c.feed("*", 3000)
    for d in "1" * 12:
        c.feed(d, 3000)
    assert c.feed("1", 3000) == ("bad", "too long")
    c.feed("*", 4000)
    assert c.feed("A", 4000) == ("bad", "not a digit")
    c.feed("*", 5000)
    c.feed("*", 5000)  # `*` starts afresh
    for d in "9876":
        c.feed(d, 5000)
    assert c.feed("#", 5000) == ("pin", "9876")


def test_tones_differ_and_are_sized():
    opened = pin.tone("opened", 8000)
    wrong = pin.tone("wrong_pin", 8000)
    assert opened != wrong
    assert len(opened) == 2 * 8000 * 460 // 1000
    assert len(pin.tone("opened", 16000)) == 2 * len(opened)


def _sip(**kw):
    d = {"mode": "client", "bind": "192.168.1.10", "registrar": "sip:192.168.1.1",
         "targets": ["sip:**9@192.168.1.1"]}
    d.update(kw)
    return d


def test_sipconfig_accepts_a_fritzbox_extension():
    sc = sipconfig.check(_sip(user="620", password="secret-pw"))
    assert sc.aor() == "sip:620@192.168.1.1" and sc.srtp == "optional"
    assert sc.codecs == ["PCMU", "PCMA", "G722"]


@pytest.mark.parametrize("bad,why", [
    ({"bind": "0.0.0.0"}, "not a LAN address"),
    ({"bind": "8.8.8.8"}, "not a LAN address"),
    ({"targets": []}, "targets"),
    ({"targets": ["tel:123"]}, "sip: URI"),
    ({"registrar": "sip:pbx with space"}, "sip: URI"),
    ({"srtp": "maybe"}, "sip.srtp"),
    ({"codecs": ["OPUS"]}, "sip.codecs"),
    ({"port": 70000}, "port"),
    ({"colour": "red"}, "unknown key"),
    ({"mode": "registrar", "phones": {}}, "digest authentication"),
    ({"mode": "registrar", "phones": {"anna": "short"}}, "8 or more"),
])
def test_sipconfig_refuses(bad, why):
    with pytest.raises(sipconfig.SipConfigError, match=why):
        sipconfig.check(_sip(**bad))


def test_sipconfig_public_bind_only_when_asked():
    assert sipconfig.check(_sip(bind="0.0.0.0", public=True)).bind == "0.0.0.0"


def test_bridge_audio_hands_the_door_no_backlog_and_paces_on_the_sip_clock():
    """A backlog of frames heard from SIP (piled up while the media session was binding)
    reaches the door as the newest RX_BACKLOG frames, not as a burst; writes wait for the SIP
    clock once TX_FRAMES are queued; a stalled clock gives silence instead of blocking."""
    import asyncio

    from portier_host.bridge import audio

    async def main():
        q = audio.PortQueues()
        dev = audio.BridgeAudio(q, 8000)
        for i in range(8):
            q.put_rx(bytes([i]) * 320)
        buf = bytearray(320)
        got = []
        while q.rx:
            await dev.read_frame(buf)
            got.append(buf[0])
        assert got == [6, 7] and dev.stale_rx == 6
        t0 = asyncio.get_running_loop().time()
        await dev.read_frame(buf)  # nothing from SIP and no clock: silence after the stall
        assert bytes(buf) == bytes(320) and dev.silent_reads == 1
        assert asyncio.get_running_loop().time() - t0 >= audio._STALL_S * 0.9
        for i in range(audio.TX_FRAMES):
            await dev.write_frame(bytearray([i]) * 320)
        waiting = asyncio.ensure_future(dev.write_frame(bytearray([9]) * 320))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # full: waits for the clock
        assert q.take_tx()[0] == 0  # one tick of the SIP clock frees a slot
        await asyncio.wait_for(waiting, 1)
        assert [f[0] for f in q.tx] == [1, 2, 9] and dev.dropped_tx == 0
        dev.close()
    asyncio.run(main())


def test_lab_alignment_tells_late_audio_from_missed_audio():
    """The tests' PESQ reference (bridge/lab.py): audio that arrived late is compared from the
    start; audio whose first 1.5 s never arrived (the door's media came up late) is compared
    from where it begins."""
    import os

    from portier_host import audioquality, sim
    from portier_host.bridge import lab

    _, said = audioquality.load_wav(os.path.join(sim.ASSETS, "female-8k.wav"))
    late = np.concatenate([np.zeros(800, np.int16), said])[:40000]
    assert lab._missed(said, late) == 0
    assert abs(lab._missed(said, said[12000:52000]) - 12000) <= 8
