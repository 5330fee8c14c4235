# Quality checks on the whole audio chain (bench/bench_audio.py), scored by PESQ against the
# clean speech. Not timed; they fail when a change degrades what the listener hears.
import os
import sys
import warnings

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))

pytest.importorskip("pesq")
import bench_audio as bench  # noqa: E402
from pesq import pesq  # noqa: E402

from portier.media import jitter  # noqa: E402


def _mos(codec, net, speaker="female"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bench.score(codec, speaker, net)[0]


def test_g711_chain_is_as_good_as_the_codec_alone():
    # DSP, RTP and the jitter buffer add nothing audible on a clean network: the chain scores
    # what audioop's μ-law alone scores on the same speech.
    ceiling = bench.codec_ceiling("PCMU", "female")
    assert _mos("PCMU", bench.Network(1)) >= ceiling - 0.05


def test_l16_chain_is_transparent_on_a_clean_network():
    assert _mos("L16", bench.Network(1)) >= 4.4


def test_concealment_beats_silence_insertion(monkeypatch):
    concealed = _mos("PCMU", bench.Network(3, loss=0.10))

    def silence(self, out, count):
        for i in range(2 * count):
            out[i] = 0
        self._erased += count

    monkeypatch.setattr(jitter.Concealer, "_synth", silence)
    zeros = _mos("PCMU", bench.Network(3, loss=0.10))
    assert concealed >= zeros + 0.4, (concealed, zeros)


def test_40ms_jitter_is_absorbed():
    clean = _mos("PCMA", bench.Network(1))
    jittery = _mos("PCMA", bench.Network(5, jitter_ms=40))
    assert jittery >= clean - 0.2, (clean, jittery)


def test_alignment_finds_a_known_delay():
    import numpy as np

    _, speech = bench.load_wav("male-8k.wav")
    delayed = np.concatenate([np.zeros(173, "<i2"), speech])
    assert bench.align(speech, delayed) == 173
    assert pesq(8000, speech, speech, "nb") > 4.4
