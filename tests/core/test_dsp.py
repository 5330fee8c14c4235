# Door-side DSP: INMP441 conditioning (DC removal, gain, soft limiter), gain ramps, levels,
# echo control; pure twins and (under MicroPython) viper leaves on the same inputs.
import math
from array import array

from coretest import ON_MICROPYTHON, assert_raises
from portier.media import dsp


def _leaves():
    from portier.media import _dsp_py as p

    out = [("pure", p.mic_to_pcm, p.gain_ramp, p.mean_abs, p.amdf, p.copy_into, p.crossfade)]
    if ON_MICROPYTHON:
        from portier.media import _dsp_viper as v

        out.append(("viper", v.mic_to_pcm, v.gain_ramp, v.mean_abs, v.amdf, v.copy_into, v.crossfade))
    return out


def _resamplers():
    from portier.media import _dsp_py as p

    out = [("pure", p.halfband_down, p.halfband_up)]
    if ON_MICROPYTHON:
        from portier.media import _dsp_viper as v

        out.append(("viper", v.halfband_down, v.halfband_up))
    return out


def _s16(b, i):
    v = b[2 * i] | (b[2 * i + 1] << 8)
    return v - 0x10000 if v & 0x8000 else v


def _put16(b, i, v):
    b[2 * i], b[2 * i + 1] = v & 0xFF, (v >> 8) & 0xFF


def _words(samples24):
    """INMP441 words: the 24-bit sample in the top three bytes, little-endian."""
    raw = bytearray(4 * len(samples24))
    for i, s in enumerate(samples24):
        w = (s & 0xFFFFFF) << 8
        raw[4 * i:4 * i + 4] = bytes((w & 0xFF, (w >> 8) & 0xFF, (w >> 16) & 0xFF, w >> 24))
    return raw


def _square(n, period, amp, dc=0):
    # An int array filled in place, not a list: 4 bytes a sample and one allocation, which a
    # 96 KiB heap finds room for where a growing 64-bit list of 1200 ints does not.
    out = array("i", bytes(4 * n))
    for i in range(n):
        out[i] = dc + (amp if (i // (period // 2)) % 2 == 0 else -amp)
    return out


def _rng(seed):
    x = seed

    def nxt():
        nonlocal x
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        return x

    return nxt


def test_dc_offset_is_removed():
    # A 24-bit DC offset of 40000 (about 0.5 % of full scale) plus a square wave: after the
    # high-pass settles, the output's mean is close to zero and the wave is still there.
    for name, mic, *_ in _leaves():
        st = array("i", [1 << 24, 1 << 27, 256, 30000])
        raw = _words(_square(1200, 40, 20000, dc=40000))
        pcm = bytearray(2400)
        mic(raw, pcm, 1200, st)
        tail = [_s16(pcm, i) for i in range(1000, 1200)]
        mean = sum(tail) // len(tail)
        assert abs(mean) < 10, (name, mean)
        assert max(tail) > 60 and min(tail) < -60, name  # 20000 / 256 = 78 at unity gain


def test_gain_matches_setting_and_twins_agree():
    for gain_db, factor_x100 in ((0, 100), (18, 794), (-6, 50)):
        outs = []
        for name, mic, *_ in _leaves():
            m = dsp.MicConditioner(gain_db=gain_db)
            m._st = array("i", m._st)
            mic_fn = mic
            raw = _words([int(100000 * math.sin(2 * math.pi * i / 40)) for i in range(800)])
            pcm = bytearray(1600)
            mic_fn(raw, pcm, 800, m._st)
            peak = max(abs(_s16(pcm, i)) for i in range(400, 800))
            want = 100000 * factor_x100 // 100 // 256  # 24-bit -> 16-bit is /256
            assert abs(peak - want) <= want // 25 + 2, (name, gain_db, peak, want)
            outs.append(bytes(pcm))
        assert all(o == outs[0] for o in outs)


def test_soft_limiter_bends_instead_of_clipping():
    for name, mic, *_ in _leaves():
        st = array("i", [1 << 24, 1 << 27, 2048, 24576])  # +18 dB on a loud input
        raw = _words(_square(800, 80, 3000000))
        pcm = bytearray(1600)
        hits = mic(raw, pcm, 800, st)
        top = max(_s16(pcm, i) for i in range(800))
        bottom = min(_s16(pcm, i) for i in range(800))
        assert hits > 300, (name, hits)
        assert top <= 32767 and bottom >= -32767
        assert top > 30000  # near full scale, but never wrapped round
        small = array("i", [1 << 24, 1 << 27, 256, 24576])
        assert mic(_words(_square(80, 80, 1000)), bytearray(160), 80, small) == 0


def test_random_inputs_twins_identical():
    r = _rng(7)
    n = 400
    raw = bytearray(4 * n)
    for i in range(4 * n):
        raw[i] = r() & 0xFF
    results = []
    for name, mic, ramp, mabs, amdf, copy, xfade in _leaves():
        st = array("i", [1 << 24, 1 << 27, 1500, 20000])
        pcm = bytearray(2 * n)
        h = mic(raw, pcm, n, st)
        a = bytearray(pcm)
        ramp(a, n, 6000, 100)
        b = bytearray(pcm)
        xfade(b, a, 100)
        c = bytearray(50)
        copy(c, raw, 17, 50)
        results.append((bytes(pcm), h, tuple(st), bytes(a), bytes(b), bytes(c),
                        mabs(pcm, n), amdf(pcm, 200, 37, 150)))
    assert all(res == results[0] for res in results)
    assert results[0][5] == bytes(raw[17:67])


def test_levels_and_amdf_against_direct_sums():
    buf = bytearray(2 * 300)
    vals = [((i * 7919) % 4001) - 2000 for i in range(300)]
    for i, v in enumerate(vals):
        _put16(buf, i, v)
    for name, _m, _r, mabs, amdf, *_ in _leaves():
        assert mabs(buf, 300) == sum(abs(v) for v in vals) // 300, name
        want = sum(abs(vals[i] - vals[i - 45]) for i in range(100, 260))
        assert amdf(buf, 100, 45, 160) == want, name


def test_gain_ramp_and_crossfade_endpoints():
    for name, _m, ramp, _a, _d, _c, xfade in _leaves():
        buf = bytearray(2 * 100)
        for i in range(100):
            _put16(buf, i, 10000)
        ramp(buf, 100, 4096, 0)
        assert _s16(buf, 0) == 10000 and abs(_s16(buf, 99)) <= 120, name
        loud = bytearray(buf)
        for i in range(100):
            _put16(loud, i, 30000)
        ramp(loud, 100, 8192, 8192)  # +6 dB saturates, never wraps
        assert _s16(loud, 50) == 32767, name
        dst = bytearray(200)
        src = bytearray(200)
        for i in range(100):
            _put16(dst, i, 1000)
            _put16(src, i, -1000)
        xfade(dst, src, 100)
        assert _s16(dst, 0) == -1000 and _s16(dst, 99) > 900, name


def test_echo_control_ducks_mic_while_far_end_talks():
    n = 160
    ec = dsp.EchoControl(mode=dsp.ECHO_DUCK, duck_db=-24)
    spk = bytearray(2 * n)
    mic = bytearray(2 * n)
    for i in range(n):
        _put16(spk, i, 8000 if (i // 20) % 2 else -8000)
    for _ in range(5):
        echo = bytearray(2 * n)
        for i in range(n):
            _put16(echo, i, _s16(spk, i) // 4)  # the speaker's echo at -12 dB
        ec.far_end(bytearray(spk), n)
        ec.near_end(echo, n)
    assert ec.state() == "far"
    assert dsp.mean_abs(echo, n) < 2000 * 10 // 100  # about -24 dB after the ramp
    # The visitor talks over the door's speaker, much louder than its echo: double talk.
    for i in range(n):
        _put16(mic, i, 20000 if (i // 10) % 2 else -20000)
    ec.near_end(mic, n)
    assert ec.state() == "near"
    # Far end stops; after the hang-over the state goes back to idle and the mic is untouched.
    quiet = bytearray(2 * n)
    for _ in range(30):
        ec.far_end(quiet, n)
        ec.near_end(bytearray(2 * n), n)
    assert ec.state() == "idle"
    plain = bytearray(mic)
    ec.near_end(plain, n)
    assert plain == mic


def test_half_duplex_mutes_speaker_while_visitor_talks():
    n = 160
    ec = dsp.EchoControl(mode=dsp.ECHO_HALF)
    mic = bytearray(2 * n)
    for i in range(n):
        _put16(mic, i, 12000 if (i // 10) % 2 else -12000)
    ec.near_end(bytearray(mic), n)
    assert ec.state() == "near"
    spk = bytearray(mic)
    ec.far_end(spk, n)
    ec.far_end(spk, n)
    assert dsp.mean_abs(spk, n) == 0  # muted while the visitor has the floor
    off = dsp.EchoControl(mode=dsp.ECHO_OFF)
    spk2 = bytearray(mic)
    off.far_end(spk2, n)
    off.near_end(spk2, n)
    assert spk2 == mic and off.state() == "idle"
    assert_raises(ValueError, dsp.EchoControl, 7)
    assert_raises(ValueError, dsp.MicConditioner, 40)


def test_frame_dsp_allocates_nothing():
    import micropython

    n = 160
    raw = _words(_square(n, 40, 50000, dc=3000))
    pcm = bytearray(2 * n)
    spk = bytearray(2 * n)
    for i in range(n):
        _put16(spk, i, 6000 if (i // 20) % 2 else -6000)
    m = dsp.MicConditioner()
    ec = dsp.EchoControl(mode=dsp.ECHO_DUCK)
    micropython.heap_lock()
    try:
        for _ in range(20):
            m.process(raw, pcm, n)
            ec.far_end(spk, n)
            ec.near_end(pcm, n)
    finally:
        micropython.heap_unlock()
    if ON_MICROPYTHON:
        assert dsp.VIPER
    assert ec.state() in ("far", "near", "idle")


def _sine(n, freq, rate, amp):
    buf = bytearray(2 * n)
    for i in range(n):
        _put16(buf, i, int(amp * math.sin(2 * math.pi * freq * i / rate)))
    return buf


def _run_down(fn_down, sig16k, frames, n_out=160):
    d = dsp.Downsampler(n_out)
    from portier.media import dsp as m

    out = bytearray(2 * n_out)
    levels = []
    for k in range(frames):
        m.copy_into(d._new, sig16k, 4 * n_out * k, 4 * n_out)
        fn_down(d._work, out, n_out, d._taps)
        m.copy_into(d._work, d._work, 4 * n_out, 60)
        levels.append(dsp.mean_abs(out, n_out))
    return levels, out


def test_downsampler_passes_speech_band_and_stops_aliases():
    for name, down, _up in _resamplers():
        for freq, lo, hi in ((1000, 6000, 6700), (6000, 0, 20)):  # mean |sine| ~ 0.6 x 10000
            sig = _sine(3 * 320, freq, 16000, 10000)
            levels, _ = _run_down(down, sig, 3)
            assert lo <= levels[2] <= hi, (name, freq, levels)


def test_upsampler_interpolates_and_delays_by_15():
    for name, _down, up in _resamplers():
        x = _sine(320, 500, 8000, 12000)
        u = dsp.Upsampler(160)
        out = bytearray(640)
        from portier.media import dsp as m

        for k in range(2):
            m.copy_into(u._new, x, 320 * k, 320)
            up(u._work, out, 160, u._taps)
            m.copy_into(u._work, u._work, 320, 30)
        # Output j (second frame) is the 500 Hz sine at 16 kHz delayed by 15 samples.
        worst = 0
        for j in range(320):
            want = int(12000 * math.sin(2 * math.pi * 500 * (320 + j - 15) / 16000))
            worst = max(worst, abs(_s16(out, j) - want))
        assert worst < 60, (name, worst)


def test_resampler_twins_identical_on_noise_and_classes_round_trip():
    r = _rng(11)
    noise = bytearray(1280)
    for i in range(1280):
        noise[i] = r() & 0xFF
    results = []
    for name, down, up in _resamplers():
        work = bytearray(noise[: 2 * (30 + 320)])
        d = bytearray(320)
        down(work, d, 160, dsp._taps())
        work_up = bytearray(noise[: 2 * (15 + 160)])
        u = bytearray(640)
        up(work_up, u, 160, dsp._taps())
        results.append((bytes(d), bytes(u)))
    assert all(res == results[0] for res in results)
    down, up = dsp.Downsampler(160), dsp.Upsampler(160)
    assert_raises(ValueError, down.process, bytes(100), bytearray(320))
    assert_raises(ValueError, up.process, bytes(320), bytearray(100))
    sig = _sine(320, 700, 16000, 8000)
    mid, back = bytearray(320), bytearray(640)
    for _ in range(4):
        assert down.process(sig, mid) == 320 and up.process(mid, back) == 640
    assert 4800 <= dsp.mean_abs(back, 320) <= 5300  # 700 Hz survives the round trip


def test_resampling_allocates_nothing():
    import micropython

    down, up = dsp.Downsampler(160), dsp.Upsampler(160)
    sig = _sine(320, 700, 16000, 8000)
    mid, back = bytearray(320), bytearray(640)
    micropython.heap_lock()
    try:
        for _ in range(5):
            down.process(sig, mid)
            up.process(mid, back)
    finally:
        micropython.heap_unlock()
    assert dsp.mean_abs(back, 320) > 1000
