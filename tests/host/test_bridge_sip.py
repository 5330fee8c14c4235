"""`portier bridge` against real SIP software: Kamailio as the household's registrar/proxy and
baresip as the resident's phone (Debian packages; .ci/run installs them), the door as the
real firmware on MicroPython, a softphone as another household device. Skipped only when
kamailio or baresip is not installed."""

import asyncio
import os
import time

import numpy as np
import pytest

from portier_host import audioquality
from portier_host.bridge import lab, registrar

_MISSING = lab.missing(lab.KAMAILIO, lab.BARESIP)
pytestmark = pytest.mark.skipif(bool(_MISSING), reason="not installed: %s (apt-get install "
                                "kamailio baresip-core)" % " ".join(_MISSING))


def _run(tmp_path, body, **kw):
    async def main():
        house = lab.BridgeLab(str(tmp_path), **kw)
        try:
            await house.start()
            await body(house)
        except Exception as e:
            raise AssertionError("%s\n%s" % (e, house.log_tails())) from e
        finally:
            await house.stop()
    asyncio.run(main())


def _engine(kind, **match):
    return lambda d: d.get("src") == "engine" and d.get("kind") == kind and \
        all(d.get(k) == v for k, v in match.items())


def _msg(msg, **match):
    return lambda d: d.get("msg") == msg and all(d.get(k) == v for k, v in match.items())


_CLEAN_FRAMES = 3  # frames concealed, lost or late in an undisturbed call (start and stop)


def _disturbed(house):
    """Whether the door's or the bridge's media session was disturbed in the last call: more
    than _CLEAN_FRAMES frames concealed, lost or late, or ANY frame dropped or stretched. A
    dropped (or stretched) frame shifts the rest of the recording by 20 ms, which PESQ and the
    segmental SNR read as damage: one drop after a stall took SIP phone -> door from 4.0 to
    3.77, two to 3.19 (CI-like load, 2 of 20 runs)."""
    for name in ("door", "bridge"):
        stops = [d for _, d in house.parties[name].lines if d.get("msg") == "media stop"]
        st = stops[-1]
        if st["dropped"] + st["stretched"] > 0 or \
                st["concealed"] + st["lost"] + st["late"] > _CLEAN_FRAMES:
            return True
    return False


async def _hold_to_goal(house, talk_s, goal, measured):
    """Assert PESQ >= goal both ways. A loaded host (the suite runs beside other work on 2
    cores) can starve the door's MicroPython process: its jitter buffer then drops, stretches
    or conceals frames and PESQ measures the host. As test_media_relay does, a measurement
    below the goal that was disturbed is taken again (a further call, up to twice); an
    undisturbed one must meet the goal."""
    to_phone, to_door = measured
    for attempt in range(2):
        disturbed = _disturbed(house)
        print("PESQ door -> SIP phone", to_phone, "SIP phone -> door", to_door,
              "disturbed", disturbed)
        if not disturbed or min(to_phone["pesq"], to_door["pesq"]) >= goal:
            break
        to_phone, to_door = await _talk_call(house, talk_s)
    assert to_phone["pesq"] >= goal, to_phone
    assert to_door["pesq"] >= goal, to_door


async def _talk_call(house, talk_s):
    """One more door call the SIP phone answers and, after talk_s, hangs up: its PESQ."""
    await house.restart_anna()  # baresip's WAV would go on where the last call left it
    since, anna_since = house.line_counts(), len(house.anna.events)
    await house.door.command("press")
    await house.anna.wait_event("CALL_ESTABLISHED", since=anna_since)
    await asyncio.sleep(talk_s)
    await house.anna.command("hangup")
    return await lab.quality(house, talk_s, since, anna_since)


def _tone_power(pcm, rate, freq):
    """How much of pcm's energy lies within 15 Hz of freq."""
    x = np.asarray(pcm, np.float64)
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / rate)
    return spec[np.abs(f - freq) < 15].sum() / max(spec.sum(), 1e-9)


def test_door_rings_sip_phone_talk_pin_opens_and_phone_hangs_up(tmp_path):
    """Door rings -> the bridge INVITEs the SIP phone via Kamailio -> it answers -> audio both
    ways (G.711, PESQ each way) -> a wrong PIN and the right PIN typed as RFC 4733 digits ->
    the door's strike opens once, result tones go back -> the SIP phone hangs up."""
    async def body(house):
        door, bridge = house.parties["door"], house.parties["bridge"]
        phone1 = house.parties["phone1"]
        t_press = time.monotonic()
        await house.door.command("press")
        _, ev = await house.anna.wait_event("CALL_REMOTE_SDP")  # the INVITE: auto-answered
        print("button -> SIP phone rung: %.0f ms" % ((ev["t"] - t_press) * 1000))
        await house.anna.wait_event("CALL_ESTABLISHED")
        await door.wait_for(_engine("answered", peer=bridge.jid), what="answered by the bridge")
        await phone1.wait_for(_engine("ended", outcome="answered_elsewhere"),
                              what="answered elsewhere on phone1")
        await bridge.wait_for(sip_media := _msg("media", codec="PCMU/8000"), what="PCMU media")
        assert bridge.find(sip_media)[1]["srtp"] is False  # baresip here offers plain RTP
        await asyncio.sleep(5)

        await house.anna.command("sndcode", "*1357#")
        await bridge.wait_for(_msg("unlock result", result="wrong_pin"), what="wrong PIN")
        await bridge.wait_for(_msg("tone", tone="wrong_pin"), what="the wrong-PIN tone")
        assert door.find(_msg("relay", energised=True)) is None
        await asyncio.sleep(1)
        await house.anna.command("sndcode", "*%s#" % lab.PIN)
        await door.wait_for(_msg("relay", energised=True), what="the strike energised")
        await bridge.wait_for(_msg("unlock result", result="opened"), what="opened")
        await bridge.wait_for(_msg("tone", tone="opened"), what="the opened tone")
        digits = [d for _, d in bridge.lines if d.get("msg") == "dtmf"]
        assert len(digits) == 12 and all(d["method"] == "rfc4733" for d in digits)
        assert all("digit" not in d for d in digits)  # a PIN never reaches the log
        await asyncio.sleep(1.2)  # the opened tone (460 ms) plays out

        await house.anna.command("hangup")
        await door.wait_for(_engine("ended", outcome="answered"), what="the call's end")
        await bridge.wait_for(_engine("ended", outcome="answered"), what="the bridge's end")
        to_phone, to_door = await lab.quality(house, 5)
        # the opened tone (660 then 880 Hz) reached the SIP phone: the last seconds it heard
        rate, heard = audioquality.load_wav(house.anna.recordings()[-1])
        tail = heard[-int(2.5 * rate):]
        assert _tone_power(tail, rate, 880) > 0.05, _tone_power(tail, rate, 880)
        assert len([1 for _, d in door.lines if d.get("msg") == "relay"
                    and d.get("energised") is True]) == 1
        await _hold_to_goal(house, 5, 3.8, (to_phone, to_door))
    _run(tmp_path, body)


def test_other_device_answers_first_then_nobody_answers(tmp_path):
    """phone1 answers first: the SIP phone stops ringing, told "Call completed elsewhere".
    Then a ring nobody answers: ring timeout, missed on the door, the bridge and phone1, and
    the SIP phone's leg cancelled."""
    async def body(house):
        door, bridge = house.parties["door"], house.parties["bridge"]
        phone1 = house.parties["phone1"]
        await house.door.command("press")
        await house.anna.wait_event("CALL_INCOMING")
        await phone1.wait_for(_engine("ringing", direction="in"), what="phone1 ringing")
        await house.phones[0].command("answer")
        await house.anna.wait_event("CALL_CLOSED")
        await bridge.wait_for(_msg("cancel", cause=200, text="Call completed elsewhere"),
                              what="the cancel with its reason")
        # on the wire, as the proxy saw it (baresip 1.0 itself shows no Reason)
        assert 'CANCEL to anna reason=[SIP;cause=200;text="Call completed elsewhere"]' in \
            house.kam.log_tail(100000)
        await bridge.wait_for(_engine("ended", outcome="answered_elsewhere"),
                              what="answered elsewhere on the bridge")
        await door.wait_for(_engine("answered", peer=phone1.jid), what="phone1 answered")
        assert house.anna.types().count("CALL_ESTABLISHED") == 0
        await house.phones[0].command("hangup")
        await door.wait_for(_engine("ended", outcome="answered"), what="the first call's end")

        since = len(house.anna.events)
        n_ended = len([1 for _, d in door.lines if d.get("kind") == "ended"])
        await house.door.command("press")
        await house.anna.wait_event("CALL_INCOMING", since=since)
        await house.anna.wait_event("CALL_CLOSED", since=since,
                                    timeout_s=house.ring_timeout_s + 10)
        await door.wait_for(_engine("ended", outcome="unanswered"), what="unanswered")
        for party in (bridge, phone1):
            await party.wait_for(_engine("ended", outcome="missed"), what="missed")
        assert len([1 for _, d in door.lines if d.get("kind") == "ended"]) == n_ended + 1
        assert house.anna.types().count("CALL_ESTABLISHED") == 0
    _run(tmp_path, body, anna_answers=False, ring_timeout_s=4)


def test_sip_phone_calls_the_door_and_the_door_hangs_up(tmp_path):
    """A SIP phone (G.722 only) dials the bridge's extension: the bridge calls the door, the
    door answers, audio flows both ways, the door hangs up and the SIP call ends."""
    async def body(house):
        door, bridge = house.parties["door"], house.parties["bridge"]
        # a stranger on the LAN who INVITEs the bridge's port directly, past the PBX: 403
        mallory = lab.Baresip(os.path.join(house.workdir, "mallory"), "mallory", house.registrar,
                              house.anna.mic_wav)
        try:
            await mallory.start()
            await mallory.command("dial", "sip:door@127.0.0.1:%d" % house.sip_port)
            _, closed = await mallory.wait_event("CALL_CLOSED")
            assert "403" in closed.get("param", ""), closed
        finally:
            await mallory.stop()
        await bridge.wait_for(_msg("refused", why="not from the registrar"), what="refused")
        assert door.find(_engine("ringing")) is None

        await house.anna.command("dial", house.bridge_aor)
        await door.wait_for(_engine("ringing", direction="in", peer=bridge.jid),
                            what="the door ringing")
        await house.anna.wait_event("CALL_RINGING")
        await house.door.command("answer")
        await house.anna.wait_event("CALL_ESTABLISHED")
        await door.wait_for(_msg("first audio"), what="audio at the door")
        await bridge.wait_for(_msg("first audio"), what="audio at the bridge")
        await bridge.wait_for(_msg("media", codec="G722/16000"), what="G.722 towards the phone")
        await asyncio.sleep(1)
        await house.door.command("hangup")
        await house.anna.wait_event("CALL_CLOSED")
        await bridge.wait_for(_engine("ended", outcome="answered"), what="the bridge's end")
        _, audio = await bridge.wait_for(_msg("audio"), what="the bridge's audio figures")
        assert audio["from_sip"] > 40 and audio["to_sip"] > 40 and audio["silent_reads"] < 10
        _, stop = await door.wait_for(_msg("media stop"), what="the door's media figures")
        assert stop["received"] > 40 and stop["played"] > 40, stop
    _run(tmp_path, body, phones=0, anna_codecs=("G722/16000/1",))


def test_srtp_sdes_when_the_phone_offers_it(tmp_path):
    """A SIP phone that offers SDES-SRTP gets SRTP (RFC 4568 keys), and audio still flows."""
    async def body(house):
        door, bridge = house.parties["door"], house.parties["bridge"]
        await house.door.command("press")
        await house.anna.wait_event("CALL_ESTABLISHED")
        await bridge.wait_for(_msg("media", srtp=True), what="SRTP media")
        await asyncio.sleep(5)
        assert "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)" in house.anna.log_tail(10**6)
        await house.door.command("hangup")
        await _hold_to_goal(house, 5, 3.8, await lab.quality(house, 5))
    _run(tmp_path, body, phones=0, srtp="srtp")


def test_registrar_mode_phones_register_with_the_bridge_itself(tmp_path):
    """Registrar mode: the SIP phone registers directly with the bridge (digest
    authentication; a wrong password is refused), the door's ring reaches it, audio flows,
    and its call to the bridge's extension rings the door."""
    async def body(house):
        door, bridge = house.parties["door"], house.parties["bridge"]
        assert house.kam is None  # no PBX: the registrar is the bridge's
        intruder = lab.Baresip(os.path.join(house.workdir, "intruder"), "anna", house.registrar,
                               house.anna.mic_wav, password="not-annas-password")
        try:
            await intruder.start()
            with pytest.raises(lab.LabError, match="did not register"):
                await intruder.wait_registered(timeout_s=3)
        finally:
            await intruder.stop()
        assert "401 Unauthorized" in intruder.log_tail(10**6)

        await house.door.command("press")
        await house.anna.wait_event("CALL_ESTABLISHED")
        await door.wait_for(_engine("answered", peer=bridge.jid), what="answered by the bridge")
        await asyncio.sleep(3)
        await house.anna.command("hangup")
        await _hold_to_goal(house, 2.5, 3.8, await lab.quality(house, 2.5))

        since = len(house.anna.events)
        await house.anna.command("dial", house.bridge_aor)
        await door.wait_for(_engine("ringing", direction="in", peer=bridge.jid),
                            what="the door ringing")
        await house.door.command("reject")
        _, closed = await house.anna.wait_event("CALL_CLOSED", since=since)
        assert "603" in closed.get("param", ""), closed

        # SIGTERM (a service manager's stop): the bridge exits cleanly and takes its
        # registrar with it
        await house.bridge.stop()
        assert house.bridge.proc.returncode == 0, house.bridge.stderr_text()
        assert not registrar.answers_options("127.0.0.1", house.sip_port)
    _run(tmp_path, body, phones=0, mode="registrar")
