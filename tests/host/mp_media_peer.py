# One party of a call's media under real MicroPython: portier.net.media.MediaSession with the
# virtual audio HAL (microphone from a WAV file, speaker into a WAV file), through the relay.
# Run by tests/host/test_media_relay.py as `micropython mp_media_peer.py CONFIG.json` (a file:
# a long command-line argument crashes the unix port's startup); prints one JSON line with the
# stats and timings. Config keys: firmware, relay_host, relay_port, token
# (hex), pid, key (hex), own, peer, call_id, codec ([name, rate]), rate, mic, out, ms.
import json
import sys

with open(sys.argv[1]) as f:
    cfg = json.load(f)
sys.path.insert(0, cfg["firmware"])

import asyncio  # noqa: E402
import binascii  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402

from portier.hal.virtual import VirtualAudio  # noqa: E402
from portier.net.media import MediaSession  # noqa: E402


async def main():
    audio = VirtualAudio.from_paths(cfg["rate"], cfg["mic"], cfg["out"], realtime=False)
    s = MediaSession(cfg["own"], cfg["peer"], cfg["call_id"], binascii.unhexlify(cfg["key"]),
                     tuple(cfg["codec"]), cfg["relay_host"], cfg["relay_port"],
                     binascii.unhexlify(cfg["token"]), cfg["pid"], audio)
    gc.collect()
    free0 = gc.mem_free()
    task = asyncio.create_task(s.run())
    start = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), start) < cfg["ms"]:
        await asyncio.sleep_ms(50)
    s.stop()
    await task
    audio.close()
    out = s.stats.to_dict()
    for k in ("started_ms", "bound_ms", "first_tx_ms", "first_rx_ms"):
        v = getattr(s, k)
        out[k] = None if v is None else time.ticks_diff(v, s.started_ms)
    out["frames_read"] = audio.frames_read
    out["frames_written"] = audio.frames_written
    out["mem_free_at_start"] = free0
    out["runtime"] = sys.implementation.name
    print(json.dumps(out))


asyncio.run(main())
