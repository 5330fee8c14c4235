"""Speech quality (PESQ, ITU-T P.862) and added latency of Portier's audio chain.

Speech from bench/assets (espeak-ng, see assets/README.md) goes through the door's send and
receive chain as the board runs it: INMP441 32-bit words -> MicConditioner (DC removal, gain,
limiter) -> echo control -> G.711 or L16 -> RTP -> [SRTP] -> network model (delay, jitter,
loss) -> [SRTP] -> RTP parse -> jitter buffer -> decode / concealment. The output is scored
against the clean speech: narrowband PESQ for G.711 at 8 kHz, wideband for L16 at 16 kHz.
The chain runs on CPython with the pure twins, which the core tests hold bit-identical to the
viper code the board runs. A last table times the per-frame work under real MicroPython.
"""

import os
import random
import sys
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import benchlib  # noqa: E402
from portier_host import mprun, paths  # noqa: E402

paths.use_firmware()

import numpy as np  # noqa: E402
from pesq import pesq  # noqa: E402

from portier.media import dsp, g711, jitter, rtp  # noqa: E402

try:  # lands with the SRTP issue; the chain includes it when present
    from portier.media import srtp as _srtp
except ImportError:
    _srtp = None

FRAME_MS = 20
NET_BASE_MS = 10  # one-way transit on the LAN/WiFi without jitter: not "added" by the chain
MIC_GAIN_DB = 18  # board default: INMP441 speech sits about 18 dB below the 16-bit top
SPEAKERS = ("male", "female")

# Default board I2S set-up (hal/esp32.py): a DMA buffer is 256 I2S frames, the RX side reads a
# frame once its DMA buffer completes, the TX side is primed with one DMA buffer.
DMA_FRAMES = 256

CODECS = {
    # name: (rate, payload type, bytes per sample in the payload, encode, decode, PESQ mode)
    "PCMU": (8000, rtp.PT_PCMU, 1, g711.encode_ulaw, g711.decode_ulaw, "nb"),
    "PCMA": (8000, rtp.PT_PCMA, 1, g711.encode_alaw, g711.decode_alaw, "nb"),
    "L16": (16000, rtp.PT_L16, 2, g711.encode_l16, g711.decode_l16, "wb"),
}


def load_wav(name):
    with wave.open(os.path.join(HERE, "assets", name), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").copy()


def inmp441_words(speech, gain_db=MIC_GAIN_DB, dc=0.004):
    """What the INMP441 would deliver: 24-bit samples in 32-bit left-slot words, quieter than
    16-bit full scale by the board's mic gain, with a small DC offset (in full-scale units)."""
    x = speech.astype(np.float64) / 32768.0 / (10 ** (gain_db / 20)) + dc
    words = np.round(x * 2**23).astype(np.int64).clip(-(2**23), 2**23 - 1) << 8
    return words.astype("<i4").tobytes()


class Network:
    """Per packet: dropped, or delivered after base + jitter ms (which may reorder)."""

    def __init__(self, seed, loss=0.0, burst=None, jitter_ms=0):
        self.rng = random.Random(seed)
        self.loss, self.burst, self.jitter_ms = loss, burst, jitter_ms
        self.bad = False

    def delay(self):
        if self.burst is not None:  # Gilbert-Elliott: (P good->bad, P bad->good), bad drops all
            p, r = self.burst
            self.bad = self.rng.random() < (1 - r if self.bad else p)
            if self.bad:
                return None
        elif self.rng.random() < self.loss:
            return None
        return NET_BASE_MS + (self.rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0)


def run_chain(codec, speech, net, min_ms=20, echo_mode=dsp.ECHO_DUCK, phase_ms=5, mic16k=None):
    """Pushes speech through the chain; returns (output int16 array, stats dict).

    mic16k: for a G.711 codec, the same speech at 16 kHz: the I2S then runs at 16 kHz and a
    dsp.Downsampler brings each frame to 8 kHz before encoding (the board default)."""
    rate, pt, bps, encode, decode, _mode = CODECS[codec]
    n = rate * FRAME_MS // 1000
    frames = len(speech) // n
    down = None
    if mic16k is not None:
        frames = min(frames, len(mic16k) // (2 * n))
        raw = inmp441_words(mic16k[: frames * 2 * n])
        down = dsp.Downsampler(n)
        pcm16 = bytearray(4 * n)
    else:
        raw = inmp441_words(speech[: frames * n])
    mic = dsp.MicConditioner(gain_db=MIC_GAIN_DB)
    echo = dsp.EchoControl(mode=echo_mode)
    sender = rtp.RtpSender(0x5EC0DE01, 40000, 0xFFFF0000)  # wraps inside the run
    tx_ctx = rx_ctx = None
    if _srtp is not None:
        key, salt = bytes(range(16)), bytes(range(14))
        tx_ctx, rx_ctx = _srtp.SrtpContext(key, salt), _srtp.SrtpContext(key, salt)
    pcm = bytearray(2 * n)
    pkt = bytearray(rtp.HEADER_LEN + n * bps)
    arrivals = []
    for k in range(frames):
        if down is not None:
            mic.process(memoryview(raw)[8 * n * k: 8 * n * (k + 1)], pcm16, 2 * n)
            echo.near_end(pcm16, 2 * n)
            down.process(pcm16, pcm)
        else:
            mic.process(memoryview(raw)[4 * n * k: 4 * n * (k + 1)], pcm, n)
            echo.near_end(pcm, n)
        sender.audio_into(pkt, pt, k == 0, n)
        encode(pcm, memoryview(pkt)[rtp.HEADER_LEN:], n)
        wire = bytes(pkt)
        if tx_ctx is not None:
            wire = tx_ctx.protect(wire)
        d = net.delay()
        if d is not None:
            arrivals.append(((k + 1) * FRAME_MS + d, wire))
    arrivals.sort(key=lambda a: a[0])
    jb = jitter.JitterBuffer(decode, n, n * bps, rate, min_ms=min_ms)
    parsed = rtp.RtpPacket()
    out = bytearray(2 * n)
    played = []
    first = arrivals[0][0]
    pop_t = first + phase_ms  # the playout clock runs unsynchronised to the sender's
    i = 0
    depth_sum = 0
    while len(played) < frames + 20 and (i < len(arrivals) or jb.depth_ms() > 0):
        while i < len(arrivals) and arrivals[i][0] <= pop_t:
            wire = arrivals[i][1]
            if rx_ctx is not None:
                wire = rx_ctx.unprotect(wire)
            parsed.parse_into(wire, len(wire))
            jb.put(wire, parsed.payload_off, parsed.payload_len, parsed.seq, parsed.ts,
                   int(arrivals[i][0]))
            i += 1
        depth_sum += jb.depth_ms()
        jb.pop_into(out, int(pop_t))
        echo.far_end(out, n)
        played.append(bytes(out))
        pop_t += FRAME_MS
    st = jb.stats
    stats = {k: getattr(st, k) for k in ("received", "lost", "late", "concealed", "stretched",
                                         "dropped", "duplicates", "silence")}
    stats["mean_depth_ms"] = depth_sum / len(played)
    stats["first_pop_ms"] = first + phase_ms
    return np.frombuffer(b"".join(played), "<i2"), stats


def align(ref, deg):
    """Delay (samples) of deg against ref by cross-correlation over the first seconds."""
    m = min(len(ref), 4 * 16000)
    best, lag_best = None, 0
    r = ref[:m].astype(np.float64)
    d = deg.astype(np.float64)
    spec = np.fft.irfft(np.fft.rfft(d, 2 * len(d)) * np.conj(np.fft.rfft(r, 2 * len(d))))
    lag_best = int(np.argmax(spec[: len(d)]))
    best = spec[lag_best]
    return lag_best if best is not None else 0


def score(codec, speaker, net, i2s16k=False, **kw):
    rate = CODECS[codec][0]
    _, speech = load_wav("%s-%dk.wav" % (speaker, rate // 1000))
    if i2s16k and rate == 8000:
        kw["mic16k"] = load_wav("%s-16k.wav" % speaker)[1]
    deg, stats = run_chain(codec, speech, net, **kw)
    lag = align(speech, deg)
    deg_aligned = deg[lag: lag + len(speech)]
    if len(deg_aligned) < len(speech):
        deg_aligned = np.concatenate([deg_aligned, np.zeros(len(speech) - len(deg_aligned), "<i2")])
    mos = pesq(rate, speech, deg_aligned, CODECS[codec][5])
    stats["lag_ms"] = lag * 1000.0 / rate
    return mos, stats


SCENARIOS = (
    ("no loss", dict()),
    ("3% random loss", dict(loss=0.03)),
    ("10% random loss", dict(loss=0.10)),
    ("bursty loss (Gilbert 2%/33%)", dict(burst=(0.02, 0.33))),
    ("40 ms jitter", dict(jitter_ms=40)),
)
GOALS = {"no loss": 4.2, "3% random loss": 3.6, "10% random loss": 3.0}


def codec_ceiling(codec, speaker):
    """PESQ of the codec alone (CPython's audioop), the best any G.711 chain can score."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    rate, speech = load_wav("%s-8k.wav" % speaker)
    enc, dec = (audioop.lin2ulaw, audioop.ulaw2lin) if codec == "PCMU" else (audioop.lin2alaw, audioop.alaw2lin)
    ref = np.frombuffer(dec(enc(speech.tobytes(), 2), 2), "<i2")
    return pesq(rate, speech, ref, "nb")


def quality_table(quick=False):
    scenarios = (SCENARIOS[0], SCENARIOS[2]) if quick else SCENARIOS
    speakers = SPEAKERS[:1] if quick else SPEAKERS
    codecs = ("PCMU",) if quick else ("PCMU", "PCMA", "L16")
    notes = ["board defaults: I2S at 16 kHz (G.711 through dsp.Downsampler), mic gain %d dB, "
             "echo control in duck mode, jitter buffer 20..200 ms" % MIC_GAIN_DB,
             "SRTP stage: %s" % ("included" if _srtp is not None else "left out"),
             "deterministic: seeded network model, so one run per cell (no spread)"]
    rows = []
    try:
        ceil = [codec_ceiling("PCMU", sp) for sp in speakers]
        rows.append(["codec alone (audioop)", "PCMU"] + ["%.2f" % c for c in ceil]
                    + ["-"] * (2 - len(ceil)) + [sum(ceil) / len(ceil), "-", "the ceiling"])
    except ImportError:  # audioop left the standard library in Python 3.13
        notes.append("codec alone: skipped (no audioop in this Python)")
    mos_by_codec, figures = {}, {}
    for label, netkw in scenarios:
        for codec in codecs:
            moses, agg = [], {}
            for s_i, speaker in enumerate(speakers):
                mos, st = score(codec, speaker, Network(1000 + s_i, **netkw), i2s16k=True)
                moses.append(mos)
                for k, v in st.items():
                    agg[k] = agg.get(k, 0) + v
            mos = sum(moses) / len(moses)
            goal = GOALS.get(label) if codec != "L16" else None
            rows.append([label, codec] + ["%.2f" % m for m in moses] + ["-"] * (2 - len(moses))
                        + [mos, "%.1f" % goal if goal else "-", "%d+%d / %d, %d, %d, %d%s" % (
                            agg["lost"], agg["late"], agg["received"] + agg["lost"],
                            agg["concealed"], agg["stretched"], agg["dropped"],
                            "" if goal is None else (" ok" if mos >= goal else " below goal"))])
            mos_by_codec.setdefault(codec, []).append(mos)
            if goal is not None:
                key = "pesq_%s_%s" % (codec.lower(), label.split(" ")[0].replace("%", "pct"))
                figures[key] = benchlib.figure(
                    mos, "MOS-LQO", "PESQ, %s, %s (mean of talkers)" % (codec, label),
                    "audio chain on CPython (pure twins, bit-identical to viper)",
                    goal=">= %.1f" % goal, met=mos >= goal)
    table = benchlib.table(
        "PESQ MOS-LQO per talker (G.711: narrowband P.862 at 8 kHz; L16: wideband P.862.2)",
        ["network", "codec", "male", "female", "mean", "goal",
         "lost+late / sent, concealed, stretched, dropped"], rows, notes)
    data = {"scenarios": [label for label, _ in scenarios], "mos": mos_by_codec, "goals": GOALS}
    return table, data, figures


def latency_table(quick=False):
    rows, figures = [], {}
    configs = (("L16", 16000), ("PCMU", 16000), ("PCMU", 8000))
    for codec, i2s_rate in configs[1:2] if quick else configs:
        rate = CODECS[codec][0]
        _, speech = load_wav("male-%dk.wav" % (rate // 1000))
        kw = {}
        resamp = 0.0
        if i2s_rate != rate:
            kw["mic16k"] = load_wav("male-16k.wav")[1]
            resamp = 2 * 15 * 1000.0 / i2s_rate  # half-band delay, each way (15 samples)
        # The playout clock's phase against packet arrivals is uniform over a frame: 10 ms on
        # average. Output sample 0 plays at first_pop_ms; align() finds which input it is.
        deg, st = run_chain(codec, speech, Network(7), phase_ms=FRAME_MS // 2, **kw)
        mouth_to_ear = st["first_pop_ms"] + align(speech, deg) * 1000.0 / rate
        # What remains after the network, the frame and the decimator (inside the measured
        # lag) is the jitter buffer's own wait.
        jb_ms = mouth_to_ear - NET_BASE_MS - FRAME_MS - resamp / 2
        dma_ms = DMA_FRAMES * 1000.0 / i2s_rate
        rx = dma_ms / 2  # average wait for the DMA buffer holding a frame's last sample
        tx = dma_ms  # hal/esp32.py primes one DMA buffer ahead of playout
        total = FRAME_MS + rx + resamp + jb_ms + tx
        goal = "<= 60: %s" % ("ok" if total <= 60 else "MISSED") if i2s_rate == 16000 else "-"
        rows.append(["%s / %d Hz" % (codec, i2s_rate), float(FRAME_MS), rx, resamp, jb_ms, tx,
                     total, goal])
        if i2s_rate == 16000:
            figures["added_latency_ms_%s" % codec.lower()] = benchlib.figure(
                total, "ms", "added mouth-to-ear latency, %s, 16 kHz I2S (no network jitter)"
                % codec, "audio chain model (CPython)", goal="<= 60 ms", met=total <= 60)
    table = benchlib.table(
        "Added mouth-to-ear latency, no network jitter (ms); I2S at 16 kHz is the default",
        ["codec / I2S rate", "frame", "I2S RX", "resamp", "jitter", "I2S TX", "total", "goal"],
        rows, ["frame = packetisation; jitter = measured in the chain (arrival to playout, phase "
               "10 ms, target depth at its 20 ms minimum); resamp = dsp.Downsampler + Upsampler "
               "(G.711 on a 16 kHz I2S bus); I2S from the DMA sizing in hal/esp32.py (256-frame "
               "DMA buffers: RX waits half a buffer on average, TX keeps one primed buffer "
               "queued)"])
    return table, figures


_MP_BODY = r"""
import time, micropython
from array import array
from portier.media import g711, dsp, jitter, rtp
print("viper|%d|%d" % (g711.VIPER, dsp.VIPER))
def t(fn, reps):
    t0 = time.ticks_us()
    micropython.heap_lock()  # proves the frame path allocation-free while timing it
    try:
        for _ in range(reps):
            fn()
    finally:
        micropython.heap_unlock()
    return time.ticks_diff(time.ticks_us(), t0) / reps
import gc
for rate in (8000, 16000):
    jb = plc = mic = echo = down = up = wide = rows = codes = raw = pcm = spk = None
    gc.collect()
    n = rate // 50
    raw = bytearray(4 * n)
    for i in range(n):
        raw[4 * i + 3] = (i * 37) & 0x7F
    pcm = bytearray(2 * n)
    codes = bytearray(2 * n)
    mic = dsp.MicConditioner()
    echo = dsp.EchoControl()
    plc = jitter.Concealer(n, rate)
    for _ in range(5):
        plc.good(pcm)
    def conceal():
        plc.conceal(pcm)
        plc._erased = 0
    def mic_path():
        mic.process(raw, pcm, n)
        echo.near_end(pcm, n)
    spk = bytearray(2 * n)
    def jb_frame():
        jb.put(codes, 0, len(codes) // 2 if rate == 8000 else len(codes), seq[0], seq[0] * n, seq[0] * 20)
        jb.pop_into(spk, seq[0] * 20 + 5)
        seq[0] += 1
    seq = [0]
    if rate == 8000:
        codes = bytearray(n)
        jb = jitter.JitterBuffer(g711.decode_ulaw, n, n, rate)
        down = dsp.Downsampler(n)
        up = dsp.Upsampler(n)
        wide = bytearray(4 * n)
        rows = [("G.711 encode", lambda: g711.encode_ulaw(pcm, codes, n)),
                ("G.711 decode", lambda: g711.decode_ulaw(codes, pcm, n)),
                ("16 -> 8 kHz (Downsampler)", lambda: down.process(wide, pcm)),
                ("8 -> 16 kHz (Upsampler)", lambda: up.process(pcm, wide))]
    else:
        jb = jitter.JitterBuffer(g711.decode_l16, n, 2 * n, rate)
        rows = [("L16 encode", lambda: g711.encode_l16(pcm, codes, n)),
                ("L16 decode", lambda: g711.decode_l16(codes, pcm, n))]
    jb_frame()
    rows += [("mic DSP + echo", mic_path), ("jitter put + pop (in order)", jb_frame),
             ("concealment (first frame)", conceal)]
    for name, fn in rows:
        us = t(fn, 50)
        print("%s|%d|%.1f" % (name, rate, us))
"""


def micropython_table():
    lines = mprun.run_snippet(_MP_BODY).splitlines()
    viper = lines[0].split("|")[1:]
    rows = []
    for line in lines[1:]:
        name, rate, us = line.split("|")
        rows.append([name, int(rate), float(us)])
    return benchlib.table(
        "Per-frame cost of the audio stages under real MicroPython (host unix port, viper), "
        "inside micropython.heap_lock()", ["operation", "rate", "µs/frame"], rows,
        ["viper leaves: g711=%s dsp=%s" % tuple(viper),
         "bench_frame has the whole frame and the measured host/ESP32 ratio"])


def run(quick=False):
    quality, data, figures = quality_table(quick)
    latency, lat_figures = latency_table(quick)
    figures.update(lat_figures)
    return benchlib.result("audio", "Speech quality (PESQ) and added latency", __doc__,
                           [quality, latency, micropython_table()], figures, {"pesq": data})


if __name__ == "__main__":
    sys.exit(benchlib.main(run))
