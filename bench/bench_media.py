"""Media session cost per 20 ms frame under real MicroPython (firmware precompiled, as on a
board) and CPython: mic frame -> SRTP packet (send), SRTP packet -> jitter buffer (receive),
jitter buffer -> speaker frame (play), per codec configuration; the heap the session and the
media stack's imports take; bytes allocated over 200 steady-state frames (0 = the frame paths
allocate nothing). One session talks to itself (own id = peer id), so the work per frame is
exactly one call's, each way. The host MicroPython runs ~10-20x faster than an ESP32 at
240 MHz (docs: DESIGN.md), so multiply its figures by that for a board estimate against the
20 ms budget."""

import contextlib
import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
from portier_host import build, mprun, paths  # noqa: E402

_BODY = r"""
import gc, time
gc.collect()
_f0 = gc.mem_free() if hasattr(gc, "mem_free") else 0
from portier.media.session import MediaCore
gc.collect()
IMPORT_BYTES = _f0 - gc.mem_free() if hasattr(gc, "mem_free") else 0

def bench(codec, rate, frames=200):
    gc.collect()
    f0 = gc.mem_free() if hasattr(gc, "mem_free") else 0
    s = MediaCore("door@portier.local", "door@portier.local", "C0FFEE", bytes(range(32)), codec,
                  bytes(33), 1, audio_rate=rate)  # a leg token (relaybind.TOKEN_LEN)
    gc.collect()
    size = f0 - gc.mem_free() if hasattr(gc, "mem_free") else 0
    fb = s.audio_frame_bytes
    pcm = bytearray(fb)
    for i in range(0, fb, 2):
        v = ((i * 37) % 2000) - 1000
        pcm[i] = v & 0xFF
        pcm[i + 1] = (v >> 8) & 0xFF
    out = bytearray(fb)
    pkt = bytearray(s.packet_bytes)
    for k in range(20):
        s.datagram(pkt, s.send_frame_into(pcm, pkt), 20 * k)
        s.play_into(out, 20 * k + 10)
    t_send = t_recv = t_play = 0
    a0 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    t = 400
    for k in range(frames):
        t0 = time.ticks_us()
        n = s.send_frame_into(pcm, pkt)
        t1 = time.ticks_us()
        s.datagram(pkt, n, t)
        t2 = time.ticks_us()
        s.play_into(out, t + 10)
        t3 = time.ticks_us()
        t_send += time.ticks_diff(t1, t0)
        t_recv += time.ticks_diff(t2, t1)
        t_play += time.ticks_diff(t3, t2)
        t += 20
    alloc = (gc.mem_alloc() - a0) if hasattr(gc, "mem_alloc") else -1
    assert s.stats.received == frames + 20 and s.stats.srtp_rejected == 0
    print("%s@%d|%.0f|%.0f|%.0f|%d|%d" % (codec[0], rate, t_send / frames, t_recv / frames,
                                        t_play / frames, size, alloc))

for codec, rate in ((("pcmu", 8000), 16000), (("pcma", 8000), 8000), (("l16", 16000), 16000)):
    bench(codec, rate)
print("imports|%d" % IMPORT_BYTES)
"""


def _cpython_rows():
    paths.use_firmware()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_BODY, "bench_media", "exec"), {})
    return out.getvalue()


def run(quick=False):
    with tempfile.TemporaryDirectory() as tmp:
        errors = build.host_image(paths.FIRMWARE, tmp)
        if errors:
            raise SystemExit("\n".join(errors))
        mp = mprun.run_snippet("sys.path.insert(0, %r)\n" % tmp + _BODY, heapsize="256k")
    cp = _cpython_rows()
    rows = []
    imports = 0
    for mp_line, cp_line in zip(mp.splitlines(), cp.splitlines()):
        f = mp_line.split("|")
        if f[0] == "imports":
            imports = int(f[1])
            continue
        c = cp_line.split("|")
        rows.append([f[0], "/".join(f[1:4]), "/".join(c[1:4]), int(f[4]), int(f[5])])
    table = benchlib.table(
        "Media session per 20 ms frame (µs; one session, both directions of one call; mean of "
        "200 frames)", ["config", "MicroPython send/recv/play", "CPython send/recv/play",
                        "session B", "alloc B/200"], rows,
        ["media stack imports on the host MicroPython heap: %d B (64-bit: ~2x an ESP32's)"
         % imports, "'session B' and 'alloc' are MicroPython heap figures on the 64-bit host "
         "build; bench_frame has the whole frame (mic DSP and echo control included)"])
    figures = {"media_imports_bytes": benchlib.figure(
        imports, "B", "heap taken by importing the media stack (portier.media.session)",
        "host MicroPython (64-bit)")}
    return benchlib.result("media", "Media session per frame and its heap", __doc__, [table],
                           figures)


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
