"""The door's echo control in real calls of `portier sim` (door on MicroPython): the virtual
door's acoustic path returns the resident's voice into the door's microphone, and the echo
control named in the door's config (as a board file names a board's) keeps it from the phone."""

import asyncio
import math

import numpy as np

from portier_host import audioquality, sim

PATH = {"delay_ms": 4, "gain_db": -10}


def _resident_only(tmp_path, control, shared=False):
    wd = tmp_path / control
    s = sim.Simulation("answered", talk_s=2.0, ring_timeout_s=5, workdir=str(wd),
                       door_audio={"echo_control": control, "echo_path": PATH,
                                   "shared_bus": shared},
                       door_voice=None)  # the visitor is silent: the phone hears only echo
    result = asyncio.run(s.run())
    assert result["problems"] == []
    _, heard = audioquality.load_wav(wd / "phone1" / "heard.wav")
    x = heard.astype(np.float64)
    return result["media"]["door"], float(np.mean(x * x))


def test_echo_control_keeps_the_residents_voice_from_coming_back(tmp_path):
    media_none, echo_none = _resident_only(tmp_path, "none")
    media_sup, echo_sup = _resident_only(tmp_path, "suppress")
    assert "echo_ducked" not in media_none and media_sup["echo_ducked"] > 20  # it acted
    assert echo_none > 100 ** 2  # the acoustic path really returns the voice (RMS > 100)
    erle = 10 * math.log10(echo_none / max(echo_sup, 1e-9))
    assert erle >= 15, "ERLE %.1f dB" % erle
