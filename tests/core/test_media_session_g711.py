# The board's media case on both runtimes: a door's 16 kHz I2S audio in a G.711 call, down-,
# mu-law- and upsampled both ways through two sessions in memory (test_media_session has the
# rest of the pipeline's cases, on CPython). Expected audio comes from mediapair.Signal.
from mediapair import Signal, find_lag, pair, run, s16
from portier.media import jitter


def test_g711_call_on_16k_audio_is_resampled_both_ways():
    a, b = pair(("pcmu", 8000), 16000)
    assert a.packet_bytes == 12 + 160 + 10 and a.audio_frame_bytes == 640
    sig = Signal(16000)
    lag = None
    sig_e = err_e = 0
    for k, kind, out in run(a, b, 24):
        if kind != jitter.FRAME_OK or k < 6:
            continue
        if lag is None:
            lag = find_lag(sig, out, k, 320, 320 * 3)
        for j in range(320):
            x = sig.sample(k * 320 + j - lag)
            d = s16(out, j) - x
            sig_e += x * x >> 8
            err_e += d * d >> 8
    assert lag is not None and err_e > 0
    assert sig_e > 300 * err_e  # better than 25 dB through down-, mu-law and upsampling
