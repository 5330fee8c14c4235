"""portier_host.audioquality against signals whose answer is known by construction."""

import os
import warnings

import numpy as np
import pytest

from portier_host import audioquality as aq
from portier_host import paths

ASSETS = os.path.join(paths.REPO, "bench", "assets")


def _speech(rate=16000, seconds=3):
    r, x = aq.load_wav(os.path.join(ASSETS, "female-%dk.wav" % (rate // 1000)))
    assert r == rate
    return x[: seconds * rate]


def test_delay_is_found_exactly_and_a_perfect_copy_scores_the_ceiling():
    ref = _speech()
    deg = np.concatenate([np.zeros(731, np.int16), ref, np.zeros(500, np.int16)])
    q = aq.compare(ref, deg, 16000)
    assert q["lag_ms"] == round(731 / 16, 1)
    assert q["seg_snr_db"] == aq.SEG_CEIL_DB
    assert q["pesq"] > 4.5
    assert q["compared_s"] == 3.0


def test_segmental_snr_of_known_noise():
    rng = np.random.default_rng(6)
    t = np.arange(16000 * 2)
    ref = (8000 * np.sin(2 * np.pi * 440 * t / 16000)).astype(np.int16)
    # noise power 20 dB below the tone's: 8000**2 / 2 / 100
    noise = rng.normal(0, np.sqrt(8000 ** 2 / 2 / 100), len(t))
    deg = np.clip(ref + noise, -32768, 32767).astype(np.int16)
    assert abs(aq.segmental_snr(ref, deg, 16000) - 20.0) < 0.5


def test_g711_through_audioop_scores_like_g711():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    ref = _speech(8000)
    deg = np.frombuffer(audioop.ulaw2lin(audioop.lin2ulaw(ref.tobytes(), 2), 2), "<i2")
    q = aq.compare(ref, np.concatenate([np.zeros(160, np.int16), deg]), 8000)
    assert q["lag_ms"] == 20.0
    assert 20 < q["seg_snr_db"] < 35 and q["pesq"] > 4.0


def test_narrowband_mode_judges_a_16k_signal_at_8k():
    ref = _speech()
    lowpassed = aq.decimate2(ref)
    assert len(lowpassed) == len(ref) // 2
    q = aq.compare(ref, ref, 16000, band="nb")
    assert q["rate"] == 8000 and q["seg_snr_db"] == aq.SEG_CEIL_DB and q["pesq"] > 4.3


def test_unscoreable_input_is_refused():
    with pytest.raises(aq.AudioQualityError):
        aq.compare(np.zeros(16000, np.int16), np.zeros(16000, np.int16), 16000)  # silent
    with pytest.raises(aq.AudioQualityError):
        aq.compare(_speech()[:1000], _speech()[:1000], 16000)  # too short
    with pytest.raises(aq.AudioQualityError):
        aq.segmental_snr(np.zeros(10), np.zeros(11), 16000)
