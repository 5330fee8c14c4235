# Jitter buffer and concealment: reorder, loss, duplicates, sequence wrap, timestamp jumps,
# a silent peer, a restarted stream, adaptation, and an allocation-free playout path.
from coretest import ON_MICROPYTHON, assert_raises
from portier.media import g711, jitter

N = 160  # 20 ms at 8 kHz
OK, CONC, SIL = jitter.FRAME_OK, jitter.FRAME_CONCEALED, jitter.FRAME_SILENCE


def _tone_codes(frames):
    """μ-law payloads of a 200 Hz-ish triangle wave (periodic, so concealment has a pitch)."""
    pcm = bytearray(2 * N)
    out = []
    for f in range(frames):
        for i in range(N):
            k = (f * N + i) % 40
            v = ((k if k < 20 else 40 - k) - 10) * (600 + 100 * (f % 5))  # frames differ
            pcm[2 * i], pcm[2 * i + 1] = v & 0xFF, (v >> 8) & 0xFF
        codes = bytearray(N)
        g711.encode_ulaw(pcm, codes)
        out.append(bytes(codes))
    return out


def _jb(**kw):
    return jitter.JitterBuffer(g711.decode_ulaw, N, N, 8000, **kw)


def _decoded(codes):
    pcm = bytearray(2 * N)
    g711.decode_ulaw(codes, pcm)
    return bytes(pcm)


def _energy(buf):
    total = 0
    for i in range(0, len(buf), 2):
        v = buf[i] | (buf[i + 1] << 8)
        total += 0x10000 - v if v & 0x8000 else v
    return total // (len(buf) // 2)


def _run(jb, codes, schedule, seq0=1000, ts0=5000, pops=None, pop_phase=20):
    """schedule: list of (frame index, arrival ms); pops every 20 ms from pop_phase ms after the
    first arrival (by default the first pop has the frame of margin the buffer starts with)."""
    events = sorted(schedule, key=lambda e: e[1])
    out = bytearray(2 * N)
    kinds, frames = [], []
    t = events[0][1] + pop_phase
    i = 0
    for _ in range(pops or len(codes) + 4):
        while i < len(events) and events[i][1] <= t:
            k = events[i][0]
            jb.put(codes[k], 0, N, (seq0 + k) & 0xFFFF, (ts0 + k * N) & 0xFFFFFFFF, events[i][1])
            i += 1
        kinds.append(jb.pop_into(out, t))
        frames.append(bytes(out))
        t += 20
    return kinds, frames


def test_in_order_stream_plays_every_frame_bit_exact():
    codes = _tone_codes(12)
    jb = _jb()
    kinds, frames = _run(jb, codes, [(k, 20 * k) for k in range(12)], pops=12)
    assert kinds == [OK] * 12
    assert frames == [_decoded(c) for c in codes]
    st = jb.stats
    assert (st.received, st.played, st.lost, st.late, st.concealed) == (12, 12, 0, 0, 0)


def test_reordered_packets_play_in_sequence_order():
    codes = _tone_codes(12)
    jb = _jb(min_ms=60)
    sched = []
    for k in range(0, 12, 2):  # pairs swapped on the wire
        sched += [(k + 1, 20 * k + 1), (k, 20 * k + 2)]
    kinds, frames = _run(jb, codes, sched, pops=16)
    played = [f for k, f in zip(kinds, frames) if k == OK]
    assert played == [_decoded(c) for c in codes]
    assert OK not in kinds[kinds.index(OK) + 12:]  # only the pops after the stream's end
    assert jb.stats.late == 0 and jb.stats.played == 12


def test_lost_packet_is_concealed_from_pitch_history():
    codes = _tone_codes(12)
    jb = _jb()
    # Frame 7 comes 10 ms late, after frame 6's turn: only the history is there to conceal 6.
    sched = [(k, 20 * k) for k in range(12) if k not in (6, 7)] + [(7, 150)]
    kinds, frames = _run(jb, codes, sched, pops=12)
    assert kinds[:6] == [OK] * 6 and kinds[6] == CONC and kinds[7:] == [OK] * 5
    assert jb.stats.lost == 1 and jb.stats.concealed == 1
    # The triangle repeats every 40 samples, so pitch repetition rebuilds the first 10 ms of
    # the lost frame almost exactly; the fade then starts.
    want = _decoded(codes[6])
    diff = 0
    for i in range(0, 160, 2):
        a = frames[6][i] | (frames[6][i + 1] << 8)
        b = want[i] | (want[i + 1] << 8)
        a = a - 0x10000 if a & 0x8000 else a
        b = b - 0x10000 if b & 0x8000 else b
        diff += abs(a - b)
    assert diff // 80 < 600, diff // 80  # mean error over 10 ms, against a ±6000 signal
    assert _energy(frames[6]) > _energy(want) // 2


def test_long_loss_fades_to_silence():
    codes = _tone_codes(20)
    jb = _jb()
    kinds, frames = _run(jb, codes, [(k, 20 * k) for k in list(range(6)) + [15, 16, 17]], pops=17)
    assert kinds[6] == CONC and kinds[7] == CONC
    assert _energy(frames[9]) < _energy(frames[6]) // 4  # 60 ms on: faded out
    assert kinds[-3:] == [OK] * 3  # the gap is skipped once faded out
    assert jb.stats.lost == 9


def test_duplicates_are_counted_and_played_once():
    codes = _tone_codes(8)
    jb = _jb()
    sched = [(k, 20 * k) for k in range(8)] + [(3, 20 * 3 + 1), (5, 20 * 5 + 3)]
    kinds, frames = _run(jb, codes, sched, pops=8)
    assert kinds == [OK] * 8 and jb.stats.duplicates == 2
    assert frames == [_decoded(c) for c in codes]


def test_sequence_wrap_is_seamless():
    codes = _tone_codes(12)
    jb = _jb()
    kinds, frames = _run(jb, codes, [(k, 20 * k) for k in range(12)], seq0=65530,
                         ts0=0xFFFFFE00, pops=12)
    assert kinds == [OK] * 12 and frames == [_decoded(c) for c in codes]
    assert jb.stats.restarts == 0 and jb.stats.ts_jumps == 0


def test_timestamp_jump_is_noted_and_playback_continues():
    codes = _tone_codes(10)
    jb = _jb()
    out = bytearray(2 * N)
    kinds = []
    for k in range(10):
        ts = 1000 + k * N + (48000 if k >= 5 else 0)  # the sender's clock steps forward
        jb.put(codes[k], 0, N, 7 + k, ts, 20 * k)
        kinds.append(jb.pop_into(out, 20 * k + 20))
    assert kinds == [OK] * 10 and jb.stats.ts_jumps == 1


def test_silent_peer_then_restarted_stream():
    codes = _tone_codes(10)
    jb = _jb(silence_ms=400)
    out = bytearray(2 * N)
    for k in range(5):
        jb.put(codes[k], 0, N, 100 + k, k * N, 20 * k)
        assert jb.pop_into(out, 20 * k + 20) == OK
    kinds = [jb.pop_into(out, 20 * k + 20) for k in range(5, 40)]
    assert kinds[:3] == [CONC] * 3 and kinds[-1] == SIL and _energy(out) == 0
    assert jb.stats.silence >= 10
    # The peer comes back as a new stream: a far-away sequence number, confirmed by a second.
    assert jb.put(codes[5], 0, N, 30000, 777, 900) is False or jb.stats.restarts == 0
    got = []
    for k in range(6, 10):
        jb.put(codes[k], 0, N, 30000 + k - 5, 777 + (k - 5) * N, 900 + 20 * (k - 5))
        got.append(jb.pop_into(out, 905 + 20 * (k - 5)))
    assert OK in got


def test_seq_jump_needs_two_packets_to_restart():
    codes = _tone_codes(6)
    jb = _jb()
    out = bytearray(2 * N)
    for k in range(3):
        jb.put(codes[k], 0, N, 10 + k, k * N, 20 * k)
        jb.pop_into(out, 20 * k + 20)
    assert jb.put(codes[3], 0, N, 40000, 0, 60) is False  # one stray packet: ignored
    assert jb.put(codes[3], 0, N, 13, 3 * N, 61) is True  # the real stream goes on
    assert jb.stats.restarts == 0
    assert jb.put(codes[4], 0, N, 50000, 0, 80) is False
    assert jb.put(codes[5], 0, N, 50001, N, 100) is True
    assert jb.stats.restarts == 1


def test_depth_adapts_to_jitter_and_shrinks_when_calm():
    codes = _tone_codes(10)  # reused in turn: 400 distinct frames would not fit a small heap
    codes[9] = b"\xff" * N  # a pause every 200 ms (mu-law 0xFF is 0), where the depth moves
    jb = _jb(min_ms=20, max_ms=200)
    total = 400
    extra = bytearray(total)  # per-packet delay variation (ms), no list of tuples
    for k in range(20, 200):
        extra[k] = 37 * ((k * 7919) % 5) // 4  # 0..37 ms
    sent = bytearray(total)
    out = bytearray(2 * N)
    t = 5
    early = grown = top = calm = 0
    low_depth = 1000
    for p in range(420):
        for k in range(max(0, p - 4), min(total, p + 2)):  # delays stay under two frames
            if not sent[k] and 20 * k + extra[k] <= t:
                jb.put(codes[k % 10], 0, N, k, k * N, 20 * k + extra[k])
                sent[k] = 1
        jb.pop_into(out, t)
        target = jb.target_ms()
        if p == 10:
            early = target
        if 20 <= p < 200:
            grown = max(grown, target)
        top = max(top, target)
        if 380 <= p < 400:
            low_depth = min(low_depth, jb.depth_ms())
        if p == 399:
            calm = target  # the last pop while packets still flow
        t += 20
    assert early == 20
    assert grown >= 60  # grew with the jitter
    assert top <= 200
    assert calm == 20  # calm again: back to the minimum
    assert jb.stats.stretched >= 1 and jb.stats.dropped >= 1
    assert jb.stats.late <= 10
    assert low_depth <= 40


def test_late_packet_is_counted_and_raises_the_target():
    codes = _tone_codes(8)
    jb = _jb()
    out = bytearray(2 * N)
    for k in range(4):
        jb.put(codes[k], 0, N, k, k * N, 20 * k)
        jb.pop_into(out, 20 * k + 20)
    jb.put(codes[5], 0, N, 5, 5 * N, 100)
    assert jb.pop_into(out, 100) == CONC  # seq 4 missing, 5 present: a loss
    assert jb.put(codes[4], 0, N, 4, 4 * N, 105) is False  # 25 ms late: concealed already
    assert jb.stats.late == 1 and jb.target_ms() >= 40


def test_bad_sizes_and_settings():
    jb = _jb()
    assert jb.put(bytes(100), 0, 100, 1, 0, 0) is False and jb.stats.bad == 1
    assert_raises(ValueError, jitter.JitterBuffer, g711.decode_ulaw, N, N, 8000, 20, 10, 200)
    assert_raises(ValueError, jitter.JitterBuffer, g711.decode_ulaw, N, N, 8000, 20, 20, 400)
    out = bytearray(2 * N)
    assert jb.pop_into(out, 0) == SIL  # nothing yet


def test_playout_allocates_nothing():
    import micropython

    codes = _tone_codes(30)
    jb = _jb()
    out = bytearray(2 * N)
    kinds = []
    for k in range(30):
        if k % 7 != 3:
            jb.put(codes[k], 0, N, 200 + k, k * N, 20 * k)
        micropython.heap_lock()
        try:
            kind = jb.pop_into(out, 20 * k + 20)
        finally:
            micropython.heap_unlock()
        kinds.append(kind)
    assert kinds.count(CONC) == 4 and kinds.count(OK) == 26
    assert ON_MICROPYTHON or jitter.FRAME_OK == 0


def test_gap_with_next_frame_buffered_is_interpolated_seamlessly():
    codes = _tone_codes(12)
    jb = _jb(min_ms=60)  # deep enough that the frame after the gap is already here
    kinds, frames = _run(jb, codes, [(k, 20 * k) for k in range(12) if k != 6], pops=14)
    first = kinds.index(OK)
    kinds, frames = kinds[first:first + 12], frames[first:first + 12]
    assert kinds == [OK] * 6 + [CONC] + [OK] * 5
    assert jb.stats.lost == 1 and jb.stats.concealed == 1
    assert frames[7] == _decoded(codes[7])  # the next frame plays untouched: no overlap-add
    # Both sides are the same periodic wave, so the whole 20 ms gap is rebuilt closely.
    want = _decoded(codes[6])
    diff = 0
    for i in range(0, 320, 2):
        a = frames[6][i] | (frames[6][i + 1] << 8)
        b = want[i] | (want[i + 1] << 8)
        diff += abs((a - 0x10000 if a & 0x8000 else a) - (b - 0x10000 if b & 0x8000 else b))
    assert diff // 160 < 400, diff // 160  # against a ±6000..±14000 triangle


def test_packet_beyond_capacity_moves_the_playout_point():
    codes = _tone_codes(3)
    jb = _jb()
    out = bytearray(2 * N)
    jb.put(codes[0], 0, N, 500, 0, 0)
    assert jb.pop_into(out, 20) == OK
    jb.put(codes[1], 0, N, 501, N, 20)
    assert jb.put(codes[2], 0, N, 530, 30 * N, 21) is True  # 29 ahead: more than 16 slots
    assert jb.depth_ms() <= 16 * 20
    assert jb.stats.dropped == 1  # seq 501 fell out of the window
    kinds = [jb.pop_into(out, 40 + 20 * i) for i in range(16)]
    assert kinds.count(OK) == 1 and kinds.index(OK) <= 4, kinds  # the gap is skipped once faded
