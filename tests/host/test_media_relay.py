"""Two media sessions through the real relay (portier_host.relay.Relay) on loopback, a speech
recording each way: both on CPython, and the door on real MicroPython (tests/host/
mp_media_peer.py). The quality figure (portier_host.audioquality) is computed on what the
receiver wrote against what the sender read; numpy/pesq are independent of the code under
test."""

import asyncio
import json
import os
import sys
import time

import pytest

from portier_host import audioquality, build, paths
from portier_host.relay import Relay, call_tokens

paths.use_firmware()
from portier.hal.virtual import VirtualAudio  # noqa: E402
from portier.net.media import MediaSession  # noqa: E402
from portier.wire import relaybind  # noqa: E402

ASSETS = os.path.join(paths.REPO, "bench", "assets")
HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = b"relay-secret-for-tests-0123456789"
DOOR = "door@portier.local"
PHONE = "phone1@portier.local"
CALL = "A1B2C3D4E5F60718293A4B5C6D7E8F90"
KEY = bytes(range(100, 132))
RUN_MS = 3000
# The media stack's modules take ~72 KiB of this 64-bit build's heap (objects ~2x an ESP32's)
# and a call's session ~17-25 KiB more: 128 KiB leaves too little room, 192 KiB (about 96 KB
# on a 32-bit board) runs a whole call.
MP_HEAP = "192k"


def _session(own, peer, key, codec, relay, token, pid, rate, mic, out):
    audio = VirtualAudio.from_paths(rate, mic, out, realtime=False)
    return MediaSession(own, peer, CALL, key, codec, relay.address[0], relay.address[1], token,
                        pid, audio), audio


async def _run_for(sessions, ms):
    tasks = [asyncio.ensure_future(s.run()) for s in sessions]
    await asyncio.sleep(ms / 1000)
    for s in sessions:
        s.stop()
    return await asyncio.gather(*tasks)


# Loopback loses nothing, so on a quiet machine every frame plays from its packet; a machine
# busy with other jobs stalls the 20 ms pacing of one side now and then, and the receiver's
# jitter buffer conceals frames. That is the scheduler, not the media path: such a run is
# repeated (a media path that conceals on its own conceals every time, and the last attempt's
# quality bar still fails it). A couple of concealed frames at start and stop are normal. A
# frame the jitter buffer dropped to shrink back after such a stall counts too: it shifts the
# rest of the recording by 20 ms, which the segmental SNR (one alignment) reads as noise.
ATTEMPTS = 3
CLEAN_CONCEALED = 3


def _until_clean(run_once, clean=CLEAN_CONCEALED):
    """run_once() -> (result, [receiver stats dicts]); the first run whose receivers concealed or
    dropped at most `clean` frames each, else the last one."""
    for attempt in range(ATTEMPTS):
        result, receivers = run_once()
        worst = max(st["concealed"] + st.get("dropped", 0) for st in receivers)
        if worst <= clean:
            break
        print("attempt %d disturbed (%d frames concealed), again" % (attempt + 1, worst),
              file=sys.stderr)
    return result


def _check_direction(sent_wav, recv_wav, tx, rx, min_pesq, min_snr):
    frame = rx.core.audio_frame_bytes // 2
    band = "wb" if tx.core.rate == 16000 else "nb"
    q = audioquality.compare_files(sent_wav, recv_wav, tx.stats.sent * frame, band)
    st = rx.stats.to_dict()
    assert st["srtp_rejected"] == 0 and st["bad"] == 0
    # loopback loses nothing; the last packets may still be in flight at stop()
    assert tx.stats.sent - 3 <= st["received"] <= tx.stats.sent
    assert q["pesq"] is not None and q["pesq"] >= min_pesq, q
    assert q["seg_snr_db"] >= min_snr, q
    return q, st


def _with_receivers(result):
    door, phone = result[0], result[1]
    return result, [door.stats.to_dict(), phone.stats.to_dict()]


@pytest.mark.parametrize("codec,rate,min_pesq,min_snr", [
    (("l16", 16000), 16000, 4.3, 30.0),
    (("pcmu", 8000), 16000, 3.8, 15.0),  # the board's case: 16 kHz audio, G.711 on the wire
])
def test_two_cpython_sessions_through_the_relay(tmp_path, codec, rate, min_pesq, min_snr):
    async def main():
        relay = await Relay.start(SECRET, "127.0.0.1", 0)
        token, phone_token = call_tokens(SECRET, 600, DOOR, [PHONE])
        try:
            door, _ = _session(DOOR, PHONE, KEY, codec, relay, token, relaybind.PID_CALLER, rate,
                               os.path.join(ASSETS, "male-16k.wav"), str(tmp_path / "at_door.wav"))
            phone, _ = _session(PHONE, DOOR, KEY, codec, relay, phone_token, relaybind.PID_CALLEE, rate,
                                os.path.join(ASSETS, "female-16k.wav"),
                                str(tmp_path / "at_phone.wav"))
            await _run_for([door, phone], RUN_MS)
            for s in (door, phone):
                s.audio.close()
            return door, phone, dict(relay.core.stats)
        finally:
            relay.close()

    door, phone, rstats = _until_clean(lambda: _with_receivers(asyncio.run(main())))
    assert door.error is None and phone.error is None
    assert door.bound and phone.bound and door.stats.binds_received >= 1
    assert door.stats.sent >= 100 and phone.stats.sent >= 100  # ~3 s of 20 ms frames
    assert rstats["forwarded"] >= door.stats.sent + phone.stats.sent - 6
    q1, _ = _check_direction(os.path.join(ASSETS, "male-16k.wav"), tmp_path / "at_phone.wav",
                             door, phone, min_pesq, min_snr)
    q2, _ = _check_direction(os.path.join(ASSETS, "female-16k.wav"), tmp_path / "at_door.wav",
                             phone, door, min_pesq, min_snr)
    print("door->phone", q1, "phone->door", q2)


def test_wrong_call_key_is_rejected_and_counted(tmp_path):
    async def main():
        relay = await Relay.start(SECRET, "127.0.0.1", 0)
        token, phone_token = call_tokens(SECRET, 600, DOOR, [PHONE])
        try:
            door, _ = _session(DOOR, PHONE, KEY, ("pcmu", 8000), relay, token, 1, 8000,
                               None, str(tmp_path / "d.wav"))
            phone, _ = _session(PHONE, DOOR, bytes(32), ("pcmu", 8000), relay, phone_token, 2, 8000,
                                None, str(tmp_path / "p.wav"))
            await _run_for([door, phone], 1000)
            for s in (door, phone):
                s.audio.close()
            return door, phone
        finally:
            relay.close()

    door, phone = asyncio.run(main())
    assert door.stats.sent >= 30 and phone.stats.sent >= 30
    for rx, tx in ((door, phone), (phone, door)):
        st = rx.stats.to_dict()
        assert st["received"] == 0 and st["played"] == 0
        assert tx.stats.sent - 3 <= st["srtp_rejected"] <= tx.stats.sent


@pytest.fixture(scope="module")
def mp_firmware(tmp_path_factory):
    """The firmware precompiled with mpy-cross, as a board imports it (compiling the media
    stack from source does not fit the 128 KiB heap)."""
    out = str(tmp_path_factory.mktemp("mp-host"))
    assert build.host_image(paths.FIRMWARE, out) == []
    return out


def _mp_receivers(result):
    door, phone = result
    return result, [door, phone.stats.to_dict()]


def test_door_on_real_micropython(tmp_path, mp_firmware):
    """The door's side runs in the `micropython` executable (virtual HAL writing a WAV), the
    firmware precompiled as a board imports it."""
    codec, rate = ("pcmu", 8000), 16000  # the board's configuration

    async def main():
        relay = await Relay.start(SECRET, "127.0.0.1", 0)
        token, phone_token = call_tokens(SECRET, 600, DOOR, [PHONE])
        try:
            cfg = {"firmware": mp_firmware, "relay_host": "127.0.0.1",
                   "relay_port": relay.address[1], "token": token.hex(), "pid": 1,
                   "key": KEY.hex(), "own": DOOR, "peer": PHONE, "call_id": CALL,
                   "codec": list(codec), "rate": rate,
                   "mic": os.path.join(ASSETS, "male-16k.wav"),
                   "out": str(tmp_path / "at_door.wav"), "ms": RUN_MS}
            cfg_path = tmp_path / "door.json"
            cfg_path.write_text(json.dumps(cfg))
            proc = await asyncio.create_subprocess_exec(
                paths.micropython_exe(), "-X", "heapsize=" + MP_HEAP,
                os.path.join(HERE, "mp_media_peer.py"), str(cfg_path),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            phone, _ = _session(PHONE, DOOR, KEY, codec, relay, phone_token, 2, rate,
                                os.path.join(ASSETS, "female-16k.wav"),
                                str(tmp_path / "at_phone.wav"))
            task = asyncio.ensure_future(phone.run())
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            await asyncio.sleep(0.2)
            phone.stop()
            await task
            phone.audio.close()
            assert proc.returncode == 0, out.decode() + err.decode()
            return json.loads(out.decode().strip().splitlines()[-1]), phone
        finally:
            relay.close()

    t0 = time.monotonic()
    door, phone = _until_clean(lambda: _mp_receivers(asyncio.run(main())))
    assert door["runtime"] == "micropython"
    assert door["srtp_rejected"] == 0 and door["bad"] == 0
    assert door["sent"] >= 100 and phone.stats.sent >= 100
    st = phone.stats.to_dict()
    assert door["sent"] - 3 <= st["received"] <= door["sent"]
    assert phone.stats.sent - 15 <= door["received"] <= phone.stats.sent
    frame = rate // 50
    q_in = audioquality.compare_files(os.path.join(ASSETS, "male-16k.wav"),
                                      tmp_path / "at_phone.wav", door["sent"] * frame, "nb")
    q_out = audioquality.compare_files(os.path.join(ASSETS, "female-16k.wav"),
                                       tmp_path / "at_door.wav", phone.stats.sent * frame, "nb")
    for q in (q_in, q_out):
        assert q["pesq"] is not None and q["pesq"] >= 3.8 and q["seg_snr_db"] >= 15.0, q
    print("micropython door:", door, "door->phone", q_in, "phone->door", q_out,
          "%.1f s" % (time.monotonic() - t0), file=sys.stderr)


def test_loss_and_reordering_on_the_relay_path(tmp_path):
    """The relay drops every 20th audio datagram of each direction (5 %) and delivers every
    9th after the one that follows it: the receiver counts the losses, conceals them, never
    rejects a packet, and the speech stays intelligible."""
    held = {}
    seen = {}
    drops = {}

    def lossy(core):
        plain = core.datagram

        def datagram(data, addr, now_s):
            out = plain(data, addr, now_s)
            if not out or relaybind.is_bind(data):
                return out
            dest = out[0][1]
            k = seen[dest] = seen.get(dest, 0) + 1
            if k % 20 == 0:
                drops[dest] = drops.get(dest, 0) + 1
                return []
            if k % 9 == 0 and dest not in held:
                held[dest] = out[0]
                return []
            if dest in held:
                out = out + [held.pop(dest)]
            return out

        core.datagram = datagram

    async def main():
        for d in (held, seen, drops):
            d.clear()
        relay = await Relay.start(SECRET, "127.0.0.1", 0)
        lossy(relay.core)
        token, phone_token = call_tokens(SECRET, 600, DOOR, [PHONE])
        try:
            door, _ = _session(DOOR, PHONE, KEY, ("l16", 16000), relay, token, 1, 16000,
                               os.path.join(ASSETS, "male-16k.wav"), str(tmp_path / "d.wav"))
            phone, _ = _session(PHONE, DOOR, KEY, ("l16", 16000), relay, phone_token, 2, 16000,
                                None, str(tmp_path / "at_phone.wav"))
            await _run_for([door, phone], RUN_MS)
            for s in (door, phone):
                s.audio.close()
            return door, phone
        finally:
            relay.close()

    def once():
        door, phone = asyncio.run(main())
        st = phone.stats.to_dict()
        # the relay's own drops are concealed by design; so, now and then, is a held packet
        # that comes after its frame (a quiet machine conceals 3-5 beyond the drops; a run
        # with 7 more scored PESQ 1.76 under a busy suite)
        return (door, phone), [dict(st, concealed=st["concealed"] - door.stats.sent // 20)]

    door, phone = _until_clean(once, clean=5)
    st = phone.stats.to_dict()
    dropped = door.stats.sent // 20
    assert st["srtp_rejected"] == 0 and st["bad"] == 0 and st["duplicates"] == 0
    # every packet is either dropped by the relay, accepted, late, or still in flight at stop()
    assert door.stats.sent - dropped - 3 <= st["received"] + st["late"] <= door.stats.sent - dropped
    assert st["lost"] >= dropped and st["concealed"] >= st["lost"]
    frame = phone.core.audio_frame_bytes // 2
    q = audioquality.compare_files(os.path.join(ASSETS, "male-16k.wav"), tmp_path / "at_phone.wav",
                                   door.stats.sent * frame)
    print("lossy relay:", st, q)
    # Wideband PESQ over 3 s with 5-8 % of frames concealed measured 2.1-3.7 (where the gaps
    # fall in the speech, and stretches of the jitter buffer, vary run to run); a broken
    # pipeline (misordered or garbled frames) scores near 1.
    assert q["pesq"] is not None and q["pesq"] >= 1.8, (q, st)


def test_binds_repeat_every_200_ms_until_the_relay_answers(tmp_path):
    """No relay at the address (ICMP unreachable): the session keeps binding, sends no audio,
    and survives the socket errors."""
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()

    async def main():
        audio = VirtualAudio.from_paths(8000, None, None, realtime=False)
        door = MediaSession(DOOR, PHONE, CALL, KEY, ("pcma", 8000), "127.0.0.1", port,
                            bytes(relaybind.TOKEN_LEN), 1, audio)
        await _run_for([door], 1100)
        return door

    door = asyncio.run(main())
    assert door.error is None and not door.bound
    assert 5 <= door.stats.binds_sent <= 7  # at 0, 200, ..., 1000 ms
    assert door.stats.sent == 0 and door.first_tx_ms is None
