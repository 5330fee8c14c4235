"""How good the audio of a call was: what arrived (a WAV the receiver wrote) against what was
sent (the sender's microphone WAV), host side only (numpy; PESQ through the `pesq` package).

    compare_files(sent_wav, received_wav, sent_samples=None, band="wb") -> dict
    compare(sent, received, rate, sent_samples=None, band="wb") -> dict

The received signal starts late (relay, jitter buffer prefill) and may be longer or shorter
than what was sent, so it is first time-aligned to the sent one by cross-correlation. The
figures: `seg_snr_db`, segmental SNR over 20 ms segments where the sent signal is active, each
segment clamped to -10..35 dB (the usual convention, so silent or perfect segments do not
dominate); `pesq`, ITU-T P.862 MOS-LQO (narrowband at 8 kHz, P.862.2 wideband at 16 kHz), or
None when PESQ cannot score the pair (too short, no speech); `lag_ms`, the alignment delay
(mouth to ear through the pipeline, as written to the file); `compared_s`, how much audio was
compared. G.711 through a clean network scores about 4.3-4.4 PESQ and 35+ dB segmental SNR
(clamp-limited); L16 is lossless: 35 dB (the clamp) and 4.5-4.6.
"""

import wave

import numpy as np

SEG_MS = 20
SEG_FLOOR_DB = -10.0
SEG_CEIL_DB = 35.0
ACTIVE_DBFS = -50.0  # a sent segment quieter than this is a pause, left out of the SNR
MAX_LAG_S = 2.0


class AudioQualityError(ValueError):
    pass


def load_wav(path):
    """(rate, int16 mono samples) of a 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise AudioQualityError("%s: need 16-bit mono PCM" % path)
        rate = w.getframerate()
        data = w.readframes(w.getnframes())
    return rate, np.frombuffer(data, "<i2").astype(np.int16)


def align(ref, deg, max_lag):
    """The delay d (samples, 0 <= d <= max_lag) that best fits deg[d + i] ~ ref[i], by
    FFT cross-correlation over the whole overlap."""
    r = np.asarray(ref, np.float64)
    d = np.asarray(deg, np.float64)
    if not len(r) or not len(d):
        raise AudioQualityError("empty signal")
    n = 1
    while n < len(r) + len(d):
        n *= 2
    xc = np.fft.irfft(np.fft.rfft(d, n) * np.conj(np.fft.rfft(r, n)), n)
    lags = xc[: min(max_lag, len(d) - 1) + 1]
    return int(np.argmax(lags))


def segmental_snr(ref, deg, rate, seg_ms=SEG_MS):
    """Mean segmental SNR (dB) of deg against ref (same length, aligned) over active segments."""
    ref = np.asarray(ref, np.float64)
    deg = np.asarray(deg, np.float64)
    if len(ref) != len(deg):
        raise AudioQualityError("signals of %d and %d samples" % (len(ref), len(deg)))
    seg = rate * seg_ms // 1000
    k = len(ref) // seg
    if k == 0:
        raise AudioQualityError("shorter than one segment")
    r = ref[: k * seg].reshape(k, seg)
    e = (deg[: k * seg] - ref[: k * seg]).reshape(k, seg)
    sig = (r ** 2).mean(axis=1)
    err = (e ** 2).mean(axis=1)
    active = sig > (32768.0 * 10 ** (ACTIVE_DBFS / 20)) ** 2
    if not active.any():
        raise AudioQualityError("the sent signal is silent")
    snr = 10 * np.log10(np.maximum(sig[active], 1e-9) / np.maximum(err[active], 1e-9))
    return float(np.clip(snr, SEG_FLOOR_DB, SEG_CEIL_DB).mean())


def pesq_score(ref, deg, rate):
    """PESQ MOS-LQO (nb at 8 kHz, wb at 16 kHz) or None when PESQ cannot score the pair."""
    try:
        from pesq import pesq
    except ImportError:
        return None
    if rate not in (8000, 16000):
        return None
    try:
        return float(pesq(rate, np.asarray(ref, np.int16), np.asarray(deg, np.int16),
                          "nb" if rate == 8000 else "wb"))
    except Exception:  # pesq raises its own errors for too-short or speechless input
        return None


def decimate2(x):
    """16 kHz to 8 kHz: 63-tap windowed-sinc low-pass at 3.8 kHz (Blackman), then every other
    sample; int16 out."""
    taps = 63
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * 3800 / 16000 * n) * np.blackman(taps)
    h /= h.sum()
    y = np.convolve(np.asarray(x, np.float64), h, mode="same")[::2]
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def compare(sent, received, rate, sent_samples=None, band="wb"):
    """Quality figures of `received` against `sent` (int16 arrays at `rate`).

    sent_samples: how much of `sent` went out (a session that ran 3 s of an 11 s file);
    by default as much as the received signal can hold. band="nb" judges a narrowband call
    (G.711) carried on 16 kHz audio as narrowband: both signals are taken down to 8 kHz
    first, so PESQ scores the call, not the missing upper band (`rate` in the result is
    the rate compared at)."""
    sent = np.asarray(sent, np.int16)
    received = np.asarray(received, np.int16)
    if sent_samples is not None:
        sent = sent[:sent_samples]
    if band == "nb" and rate == 16000:
        sent, received, rate = decimate2(sent), decimate2(received), 8000
    lag = align(sent, received, int(MAX_LAG_S * rate))
    deg = received[lag:]
    n = min(len(sent), len(deg))
    if n < rate // 2:
        raise AudioQualityError("less than 0.5 s of audio to compare")
    ref, deg = sent[:n], deg[:n]
    return {
        "rate": rate,
        "lag_ms": round(lag * 1000.0 / rate, 1),
        "compared_s": round(n / rate, 2),
        "seg_snr_db": round(segmental_snr(ref, deg, rate), 2),
        "pesq": pesq_score(ref, deg, rate),
    }


def compare_files(sent_wav, received_wav, sent_samples=None, band="wb"):
    """compare() over two WAV files of the same rate."""
    rate, sent = load_wav(sent_wav)
    rate2, received = load_wav(received_wav)
    if rate != rate2:
        raise AudioQualityError("sent at %d Hz, received at %d Hz" % (rate, rate2))
    return compare(sent, received, rate, sent_samples, band)
