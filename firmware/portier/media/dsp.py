# Door-side DSP: INMP441 samples to 16-bit PCM (DC removal, gain, soft limiter) and echo
# control for a unit whose speaker sits a few cm from its microphone (energy-driven ducking or
# strict half-duplex). Everything works in place on preallocated buffers; the per-sample loops
# are viper leaves on the board (_dsp_viper.py) with pure twins (_dsp_py.py) as the reference.
import sys
from array import array

from micropython import const

_X_BIAS = const(0x1000000)  # state biases, see _dsp_viper.mic_to_pcm
_Y_BIAS = const(0x8000000)
UNITY_Q12 = const(4096)


if sys.implementation.name == "micropython":
    try:
        from ._dsp_viper import amdf, copy_into, crossfade, gain_ramp, halfband_down, halfband_up
        from ._dsp_viper import mean_abs, mic_to_pcm

        VIPER = True
    except (ImportError, SyntaxError, ValueError):  # a build without the native emitter
        VIPER = False
else:
    VIPER = False
if not VIPER:
    from ._dsp_py import amdf, copy_into, crossfade, gain_ramp, halfband_down, halfband_up
    from ._dsp_py import mean_abs, mic_to_pcm


def db_to_q12(db):
    """Gain in dB to Q12 (4096 = 0 dB); at set-up time only (floats allocate)."""
    return int(UNITY_Q12 * 10 ** (db / 20) + 0.5)


# ---- microphone ------------------------------------------------------------------------------

class MicConditioner:
    """INMP441 (32-bit I2S words, 24 bits used) to int16 PCM, frame by frame, no allocation.

    gain_db is relative to the 24-bit word's top 16 bits: the INMP441 delivers speech at a few
    metres well below full scale, so boards default to about +18 dB. Above `knee` a soft limiter
    bends the curve towards full scale instead of clipping.
    """

    def __init__(self, gain_db=18, knee=24576):
        g = int(256 * 10 ** (gain_db / 20) + 0.5)
        if not 1 <= g <= 4095 or not 8192 <= knee <= 32000:
            raise ValueError("mic gain must be -48..+24 dB, knee 8192..32000")
        self._st = array("i", [_X_BIAS, _Y_BIAS, g, knee])
        self.limited = 0  # samples the limiter touched, for the level meter / stats

    def process(self, raw32, pcm, n):
        """n samples: raw32 holds 4n bytes of I2S words, pcm gets 2n bytes. Returns 2n."""
        if 4 * n > len(raw32) or 2 * n > len(pcm):
            raise ValueError("buffers too small for %d samples" % n)
        self.limited += mic_to_pcm(raw32, pcm, n, self._st)
        return 2 * n


# ---- 16 kHz <-> 8 kHz ----------------------------------------------------------------------

# 31-tap half-band low-pass (Kaiser window, beta 6), Q15: the centre tap, then the taps at odd
# offsets 1, 3, ..., 15 (those at even offsets are zero). -0.6 dB at 3.4 kHz, -23 dB at
# 4.6 kHz, -56 dB from 5 kHz (fs 16 kHz); 15 samples (0.9 ms) of delay each way.
HALFBAND_Q15 = (16383, 10304, -3113, 1527, -795, 393, -171, 58, -10)
_DOWN_HIST = const(30)
_UP_HIST = const(15)


def _taps():
    out = bytearray(2 * len(HALFBAND_Q15))
    for i, h in enumerate(HALFBAND_Q15):
        out[2 * i] = h & 0xFF
        out[2 * i + 1] = (h >> 8) & 0xFF
    return out


class Downsampler:
    """16 kHz to 8 kHz, n_out samples per call: lets the I2S run at 16 kHz (shorter DMA
    buffers, so lower latency) during a G.711 call."""

    def __init__(self, n_out):
        self._n = n_out
        self._work = bytearray(2 * (_DOWN_HIST + 2 * n_out))
        self._new = memoryview(self._work)[2 * _DOWN_HIST:]
        self._taps = _taps()

    def process(self, src, dst):
        n = self._n
        if len(src) < 4 * n or len(dst) < 2 * n:
            raise ValueError("buffers too small for %d output samples" % n)
        copy_into(self._new, src, 0, 4 * n)
        halfband_down(self._work, dst, n, self._taps)
        copy_into(self._work, self._work, 4 * n, 2 * _DOWN_HIST)  # keep the history
        return 2 * n


class Upsampler:
    """8 kHz to 16 kHz, n_in samples per call."""

    def __init__(self, n_in):
        self._n = n_in
        self._work = bytearray(2 * (_UP_HIST + n_in))
        self._new = memoryview(self._work)[2 * _UP_HIST:]
        self._taps = _taps()

    def process(self, src, dst):
        n = self._n
        if len(src) < 2 * n or len(dst) < 4 * n:
            raise ValueError("buffers too small for %d input samples" % n)
        copy_into(self._new, src, 0, 2 * n)
        halfband_up(self._work, dst, n, self._taps)
        copy_into(self._work, self._work, 2 * n, 2 * _UP_HIST)
        return 4 * n


# ---- echo control ----------------------------------------------------------------------------

ECHO_OFF = const(0)  # full duplex, no control (headsets, far-apart speaker and mic)
ECHO_DUCK = const(1)  # full duplex; the mic is attenuated while the far end talks
ECHO_HALF = const(2)  # one direction at a time (shared I2S bus, e.g. M5Stack Atom Echo)

# The board file's audio.echo_control names (boards/*.json, docs/hardware.md) -> modes.
ECHO_MODES = {"none": ECHO_OFF, "suppress": ECHO_DUCK, "half_duplex": ECHO_HALF}

_IDLE = const(0)
_FAR = const(1)  # the far end holds the floor: the door's speaker is playing speech
_NEAR = const(2)  # the visitor holds the floor


def echo_control(name):
    """The EchoControl for a board file's audio.echo_control name, or None for "none"."""
    if name is None or name == "none":
        return None
    mode = ECHO_MODES.get(name)
    if mode is None:
        raise ValueError("echo_control %r" % (name,))
    return EchoControl(mode=mode)


class EchoControl:
    """Per-frame talk-state detection from frame energies, and gain ramps to act on it.

    Call far_end(spk, n) on each frame before it is played and near_end(mic, n) on each
    conditioned microphone frame before it is encoded; both change the frames in place.
    The near end counts as talking only when its level exceeds the echo the speaker could
    explain (far level x coupling), so the door does not mistake its own echo for a visitor.
    """

    def __init__(self, mode=ECHO_DUCK, frame_ms=20, coupling_db=6, duck_db=-24,
                 far_threshold=120, near_threshold=200, far_hang_ms=240, near_hang_ms=300):
        if mode not in (ECHO_OFF, ECHO_DUCK, ECHO_HALF):
            raise ValueError("echo mode %r" % (mode,))
        if not -40 <= coupling_db <= 12:  # level x coupling stays below 2**30 (a small int)
            raise ValueError("coupling_db %r: -40..12" % (coupling_db,))
        self.mode = mode
        self._coupling = db_to_q12(coupling_db)
        self._duck = 0 if mode == ECHO_HALF else db_to_q12(duck_db)
        self._far_thr = far_threshold
        self._near_thr = near_threshold
        self._far_hang = max(1, far_hang_ms // frame_ms)
        self._near_hang = max(1, near_hang_ms // frame_ms)
        self._state = _IDLE
        self._hang = 0
        self._far_level = 0  # mean |x| of the recent speaker frames (peak-hold over the hang)
        self._mic_gain = UNITY_Q12
        self._spk_gain = UNITY_Q12
        self.frames_ducked = 0

    def state(self):
        return ("idle", "far", "near")[self._state]

    def speaking(self):
        """True while the far end holds the floor: a shared I2S bus should then drive the
        speaker (set_direction(True)), else listen. The far end keeps it for far_hang_ms after
        its last loud frame, so pauses between words do not flip the bus."""
        return self._state == _FAR

    def far_end(self, spk, n):
        level = mean_abs(spk, n)
        if level > self._far_level or self._state != _FAR:
            self._far_level = level
        if self.mode == ECHO_OFF:
            return
        if level > self._far_thr and self._state != _NEAR:
            self._state = _FAR
            self._hang = self._far_hang
        target = UNITY_Q12
        if self._state == _NEAR and self.mode == ECHO_HALF:
            target = 0
        gain_ramp(spk, n, self._spk_gain, target)
        self._spk_gain = target

    def near_end(self, mic, n):
        if self.mode == ECHO_OFF:
            return
        level = mean_abs(mic, n)
        echo = (self._far_level * self._coupling) >> 12
        talking = level > self._near_thr and level > echo
        if self._state == _FAR:
            self._hang -= 1
            if self._hang <= 0:
                self._state = _IDLE
                self._far_level = 0
            elif talking and self.mode == ECHO_DUCK:
                self._state = _NEAR  # double talk: the visitor wins, as a door unit should
                self._hang = self._near_hang
        elif talking:
            self._state = _NEAR
            self._hang = self._near_hang
        elif self._state == _NEAR:
            self._hang -= 1
            if self._hang <= 0:
                self._state = _IDLE
        target = self._duck if self._state == _FAR else UNITY_Q12
        if target != UNITY_Q12:
            self.frames_ducked += 1
        if target != self._mic_gain or target != UNITY_Q12:
            gain_ramp(mic, n, self._mic_gain, target)
        self._mic_gain = target
