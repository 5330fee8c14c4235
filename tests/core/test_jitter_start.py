# The jitter buffer's start and growth against the arrivals of real 1 s simulated calls
# (`portier sim --scenario answered --talk 1`: phone on CPython -> relay -> door on
# MicroPython). The phone's packets reach the door a few ms off their 20 ms grid, and the
# door's playout clock runs at whatever phase its media session started with. A buffer that
# starts as soon as one packet is there keeps only that phase (0..20 ms) as margin: at a small
# phase the first packet a few ms late was concealed, and so was the next until the adaptation
# window ended (1 run in 5 scored PESQ 1.9-3.7 instead of 4.46). Every phase is replayed here.
from portier.media import g711, jitter

N = 160  # 20 ms of 8 kHz mu-law
OK, CONC = jitter.FRAME_OK, jitter.FRAME_CONCEALED

# Per packet, how many ms after the fastest packet's schedule it reached the door's receive
# loop (door-side arrival traces of two 1 s calls, 51 packets each): a calm run, and a busy
# one whose first packet was itself 10 ms late.
CALM = bytes((0, 4, 1, 2, 1, 0, 4, 3, 1, 2, 1, 3, 1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 3, 1, 6, 1,
              3, 1, 2, 4, 3, 6, 2, 2, 1, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1))
BUSY = bytes((10, 0, 10, 3, 4, 12, 2, 3, 3, 1, 3, 1, 2, 5, 4, 9, 8, 3, 4, 9, 6, 9, 3, 4, 8, 6,
              4, 7, 6, 4, 4, 9, 3, 9, 3, 7, 9, 3, 8, 3, 3, 4, 10, 13, 4, 4, 9, 3, 9, 3, 5))

_SEQ0 = 65520  # the call's first packets cross the sequence wrap
_T0 = 1000


def _code(k):
    # One mu-law code per packet (k < 128): frame k decodes to a known value, never below
    # 900 in magnitude (louder than a pause).
    k &= 0x7F
    return 0x10 + k if k < 64 else 0x90 + k - 64


def _replay(jb, late, phase, pops):
    """Packets k = 0.. arrive at _T0 + 20 k + late[k]; the playout clock pops every 20 ms from
    _T0 + phase, at most `pops` times, until the last packet has played. -> (kinds, order): the
    frame kinds popped and the packet index of each frame played from a packet (-1 for
    others)."""
    payload = bytearray(N)
    out = bytearray(2 * N)
    kinds = bytearray(pops)
    order = []
    values = [_decoded(_code(j)) for j in range(len(late))]
    k = 0
    t = _T0 + phase
    for p in range(pops):
        while k < len(late) and _T0 + 20 * k + late[k] <= t:
            c = _code(k)
            for i in range(N):
                payload[i] = c
            jb.put(payload, 0, N, (_SEQ0 + k) & 0xFFFF, (k * N) & 0xFFFFFFFF,
                   _T0 + 20 * k + late[k])
            k += 1
        kinds[p] = jb.pop_into(out, t)
        # Which packet: its last sample (a frame after a concealed one is cross-faded at its
        # head).
        v = out[2 * N - 2] | (out[2 * N - 1] << 8)
        order.append(values.index(v) if kinds[p] == OK and v in values else -1)
        if order[-1] == len(late) - 1:
            return kinds[:p + 1], order  # the last packet played: the call is over
        t += 20
    return kinds, order


_DEC = bytearray(2)


def _decoded(code):
    g711.decode_ulaw(bytes((code,)), _DEC, 1)
    return _DEC[0] | (_DEC[1] << 8)


def _jb():
    return jitter.JitterBuffer(g711.decode_ulaw, N, N, 8000)


def test_every_playout_phase_plays_a_calm_call_without_a_gap():
    # The lead is measured to the ms and playout starts a whole frame ahead of the fastest
    # packet: a few ms of lateness never reaches a frame's turn.
    for phase in range(20):
        jb = _jb()
        kinds, order = _replay(jb, CALM, phase, len(CALM) + 3)
        first = order.index(0)
        played = order[first:first + len(CALM)]
        assert played == list(range(len(CALM))), (phase, played)
        st = jb.stats
        assert (st.late, st.lost, st.concealed, st.dropped) == (0, 0, 0, 0), (phase, kinds)


def test_every_playout_phase_survives_a_busy_call():
    # Up to 13 ms late: the buffer may grow by a frame (one stretch, a concealment frame that
    # delays the rest), but no packet comes after its turn and every one plays, in order.
    for phase in range(20):
        jb = _jb()
        kinds, order = _replay(jb, BUSY, phase, len(BUSY) + 4)
        played = [i for i in order if i >= 0]
        assert played == list(range(len(BUSY))), (phase, played)
        st = jb.stats
        assert (st.late, st.lost, st.dropped) == (0, 0, 0), (phase, kinds)
        assert st.stretched <= 1 and st.concealed == st.stretched, (phase, kinds)


def test_a_late_packet_grows_the_buffer_before_the_adaptation_window_ends():
    # Two delay spikes 18 frames apart, both within the first adaptation window (25 frames):
    # the first packet is concealed, the buffer grows at once, the second is in time.
    late = bytearray(40)
    late[10] = late[28] = 35
    jb = _jb()
    kinds, order = _replay(jb, late, 5, 44)
    st = jb.stats
    assert st.late == 1 and st.lost == 1 and st.stretched >= 1, (kinds, order)
    assert [i for i in order if i >= 0] == [i for i in range(40) if i != 10]


def test_a_lone_packet_still_plays():
    # A short talk spurt: one packet and nothing after it plays once it has waited its margin.
    jb = _jb()
    kinds, order = _replay(jb, bytes(1), 0, 4)
    assert order.count(0) == 1 and kinds[order.index(0)] == OK
    assert jb.stats.played == 1


def _every_fourth_late(n, ms):
    late = bytearray(n)
    for k in range(3, n, 4):
        late[k] = ms
    return late


def test_a_lead_short_of_the_guard_only_waits_for_a_pause():
    # Every 4th packet 18 ms late against a 20 ms lead: none comes after its turn, but the lead
    # is under jitter + guard. In unbroken sound the frame that deepens the buffer waits for a
    # pause (up to 3 s) instead of going into the sound after 200 ms.
    late = _every_fourth_late(100, 18)
    jb = _jb()
    kinds, order = _replay(jb, late, 0, 110)
    st = jb.stats
    assert (st.late, st.lost, st.stretched, st.concealed) == (0, 0, 0, 0), kinds
    assert [i for i in order if i >= 0] == list(range(100))
    # The same with a pause (silent frames 60-64): the buffer deepens there.
    jb = _jb()
    payload = bytearray(N)
    out = bytearray(2 * N)
    for p in range(100):
        t = _T0 + 20 * p
        k = p  # packet p arrives during this tick (an 18 ms late one before the next pop)
        c = 0xFF if 60 <= k < 65 else _code(k)
        for i in range(N):
            payload[i] = c
        jb.put(payload, 0, N, k, k * N, t + late[k])
        jb.pop_into(out, t + 20)
        if p == 59:
            assert jb.stats.stretched == 0
    assert jb.stats.stretched == 1 and jb.stats.late == 0 and jb.stats.lost == 0
