# Adaptive jitter buffer with packet-loss concealment. Sans-IO: packets and now_ms go in,
# one frame of little-endian int16 PCM comes out per pop_into() call (the playout clock).
#
# Playout is driven by sequence numbers, one fixed-size frame per packet. The target depth
# follows the measured delay variation: it grows at once when packets arrive late and decays
# when the network is calm, bounded by min_ms..max_ms; under steady loss it holds one frame
# more. The buffer level is moved towards the target, preferably in a pause of speech, by
# playing one concealment frame without advancing (stretch) or by skipping one (shrink).
#
# The level is measured in time, not in whole packets: the lead (lead_ms) is how long before
# its playout the next frame came, or would have come on the fastest path seen (arrival clock
# against the sequence clock, to the ms). Packets count in 20 ms steps while the playout clock
# runs at an arbitrary phase to the arrivals, so "one packet buffered" is anything from 0 to
# 20 ms of margin: calls that started at a small phase concealed every packet a few ms late
# (1 s simulated calls, phone -> door: 1 run in 5 with PESQ 1.9-3.7 instead of 4.46). So the
# buffer keeps the lead at the jitter measured plus a guard of half a frame (need_ms), starts
# with one more guard of margin (nothing is measured yet), moves by a frame when an
# adaptation window never came within half a guard of it or always exceeded it by a frame, and
# on a late packet grows at the next pause rather than at the window's end.
#
# Lost frames are concealed (_jitter_plc.py): G.711 Appendix I-style pitch repetition, or
# interpolation from both sides when the frame after the gap is already here.
from micropython import const

from ._jitter_plc import Concealer
from .dsp import copy_into, mean_abs

FRAME_OK = const(0)  # decoded from a packet
FRAME_CONCEALED = const(1)  # synthesised for a lost or late packet (or to stretch)
FRAME_SILENCE = const(2)  # nothing to play: not started yet, or the peer went silent

_MAX_SLOTS = const(16)  # power of two: seq & (slots - 1); 320 ms of 20 ms frames
_JUMP = const(64)  # a sequence step beyond this many packets is a discontinuity
_TICKS_MASK = const(0x3FFFFFFF)  # ticks_ms wraps at 2**30 on the unix port and on ESP32
# Timestamp steps are compared modulo 2**30: a 32-bit mask would be a long int on a 32-bit
# board, and `x & 0xFFFFFFFF` there allocates on every packet. A step that differs by a
# multiple of 2**30 samples (18 hours at 16 kHz) goes unnoticed, which costs nothing.
_TS_MASK = const(0x3FFFFFFF)
_RESTART_AFTER = const(2)  # RFC 3550 A.1 style: two in-order packets confirm a seq jump
_LOSS_SHIFT = const(7)  # loss-rate average over about 128 frames (2.5 s)
_LOSSY_Q = const(0x10000 * 128 * 2 // 100)  # 2 % of frames lost, in that average's units
_QUIET = const(300)  # mean |sample| below this (about -40 dBFS) counts as a pause
_GROW_WAIT = const(10)  # ... but one short of the jitter itself waits at most 200 ms
_SHRINK_WAIT = const(150)  # and any other move at most 3 s
_WINDOW = const(25)  # pops per adaptation decision: 0.5 s of 20 ms frames
_CALM_DECAY_SHIFT = const(6)  # the jitter estimate loses 1/64 of itself per packet (~1.3 s)
_GUARD_DIV = const(2)  # the lead's guard above the jitter: half a frame (10 ms)


def _seq_diff(a, b):
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def _ticks_diff(a, b):
    return ((a - b + 0x20000000) & _TICKS_MASK) - 0x20000000


class JitterStats:
    def __init__(self):
        self.received = 0  # packets accepted into the buffer
        self.played = 0  # frames played from packets
        self.late = 0  # packets that came after their frame was concealed
        self.lost = 0  # frames concealed because their packet never came in time
        self.concealed = 0  # frames synthesised by concealment (loss, late, stretch)
        self.silence = 0  # frames of silence (before start, silent peer)
        self.duplicates = 0
        self.dropped = 0  # frames skipped to shrink the buffer or on overflow
        self.stretched = 0  # concealment frames inserted to grow the buffer
        self.restarts = 0  # sequence discontinuities accepted as a new stream
        self.ts_jumps = 0  # timestamp steps that did not match the sequence step
        self.bad = 0  # payloads of the wrong size


class JitterBuffer:
    """Reorders packets by sequence number, adapts its depth, conceals losses.

    decode(payload, pcm_out, samples) turns one stored payload into int16 PCM (g711.decode_*,
    g711.decode_l16). put() takes one RTP packet's fields and payload; pop_into() is called
    once per frame period by the playout clock and always fills one frame.
    """

    def __init__(self, decode, frame_samples, payload_bytes, rate, frame_ms=20,
                 min_ms=20, max_ms=200, silence_ms=1000):
        if not frame_ms <= min_ms <= max_ms <= (_MAX_SLOTS - 2) * frame_ms:
            raise ValueError("need frame_ms <= min_ms <= max_ms <= %d" % ((_MAX_SLOTS - 2) * frame_ms))
        # Slots for max_ms of depth plus two frames of reordering, as a power of two: the
        # memory follows the configured bound (8 slots up to 120 ms of 20 ms frames).
        nslots = 4
        while nslots < max_ms // frame_ms + 2:
            nslots <<= 1
        self._nslots = nslots
        self._mask = nslots - 1
        self._decode = decode
        self._n = frame_samples
        self._pbytes = payload_bytes
        self._frame_ms = frame_ms
        self._guard = frame_ms // _GUARD_DIV
        self.min_ms = min_ms
        self.max_ms = max_ms
        self._silence_ms = silence_ms
        # One small buffer per slot rather than one big block: 16 x 640 B of L16 in a single
        # piece may not be found on a fragmented board heap.
        self._slots = [bytearray(payload_bytes) for _ in range(nslots)]
        self._seqs = [-1] * nslots  # the seq held by each slot, -1 when empty
        self._plc = Concealer(frame_samples, rate)
        self._next_pcm = bytearray(2 * frame_samples)
        self._loss_q = 0  # lost frames, exponentially averaged (x 0x10000 x 128)
        self._lossy = False  # loss above 2 % (until it falls below 1 %)
        self._quiet = True  # the last frame played was near silence
        self._pending = 0  # pops an adaptation move has waited for a pause
        self.stats = JitterStats()
        self._reset()
        self._last_rx = 0

    def _reset(self):
        for i in range(self._nslots):
            self._seqs[i] = -1
        self._play = -1  # next seq to play; -1 while waiting to start
        self._high = -1  # highest seq stored
        self._count = 0  # packets held
        self._base_seq = -1  # jitter reference: first packet's seq and arrival time
        self._base_ms = 0
        self._floor = 0  # lowest relative transit seen (ms), creeping up slowly
        self._jitter = 0  # peak-hold delay variation estimate, ms << 4
        self._last_seq = -1
        self._last_ts = 0
        self._suspect = -1  # RFC 3550 A.1 probation for a big sequence jump
        self._suspect_n = 0
        self._new_window()  # pops in the current adaptation window, lead extremes in it
        self._action = 0  # +1: drop a frame (shrink), -1: insert one (stretch), 0: hold

    # -- status --------------------------------------------------------------------------------

    def target_ms(self):
        """need_ms() as a depth (the frame being played counts) to the nearest frame, within
        min_ms..max_ms: a status figure (stats, logs); the buffer itself keeps need_ms()."""
        t = self.need_ms() - self._guard + self._frame_ms
        t = (t + self._frame_ms // 2) // self._frame_ms * self._frame_ms
        if t < self.min_ms:
            return self.min_ms
        return self.max_ms if t > self.max_ms else t

    def depth_ms(self):
        """Audio buffered from the playout point to the newest packet."""
        if self._high < 0:
            return 0
        ref = self._play if self._play >= 0 else self._lowest()
        if ref < 0:
            return 0
        d = _seq_diff(self._high, ref) + 1
        return d * self._frame_ms if d > 0 else 0

    def lead_ms(self, now_ms):
        """How long before its playout (at now_ms) the next frame to play arrived, or would
        have arrived on the fastest path seen so far; 0 before any packet."""
        ref = self._play if self._play >= 0 else self._lowest()
        if ref < 0 or self._base_seq < 0:
            return 0
        sent = _seq_diff(ref, self._base_seq) * self._frame_ms  # on the sequence clock
        return _ticks_diff(now_ms, self._base_ms) - sent - self._floor

    def need_ms(self):
        """The lead the buffer keeps: the jitter measured (one frame more under steady loss),
        within the depth bounds beyond the frame being played, plus the guard. It is not
        rounded to frames: a step there would move the playout point
        back and forth as the jitter estimate crosses it."""
        j = self._jitter >> 4
        if self._lossy:
            # Under steady loss one more frame of depth lets most gaps be interpolated from
            # both sides (bench_audio: PESQ at 10 % loss rises by about 0.3).
            j += self._frame_ms
        lo = self.min_ms - self._frame_ms
        hi = self.max_ms - self._frame_ms
        if j < lo:
            j = lo
        elif j > hi:
            j = hi
        return j + self._guard

    def _lowest(self):
        low = -1
        for s in self._seqs:
            if s >= 0 and (low < 0 or _seq_diff(s, low) < 0):
                low = s
        return low

    # -- input ---------------------------------------------------------------------------------

    def put(self, payload, off, n, seq, ts, now_ms):
        """Store one packet's payload (payload[off:off+n]); returns True if it was kept.
        ts: the RTP timestamp, whole or its low 30 bits (all the buffer compares)."""
        st = self.stats
        if n != self._pbytes:
            st.bad += 1
            return False
        if self._last_seq >= 0:
            d = _seq_diff(seq, self._last_seq)
            if d > _JUMP or d < -_JUMP:
                if not self._probation(seq):
                    return False
                st.restarts += 1
                self._reset()
            elif d > 0 and self._n * d != ((ts - self._last_ts) & _TS_MASK):
                st.ts_jumps += 1
                self._rebase(seq, now_ms)
        self._suspect = -1
        if self._play >= 0:
            behind = _seq_diff(seq, self._play)
            if behind < 0:
                st.late += 1  # its frame was concealed already
                self._measure(seq, now_ms)  # its transit counts in the jitter estimate
                self._late_bump(-behind)
                if self._action >= 0:  # too shallow: grow at the next pause, not at the
                    self._action = -1  # end of the adaptation window
                    self._pending = 0
                return False
            ref = self._play
        else:  # not started yet: the buffer spans from the lowest packet held
            ref = self._lowest() if self._count else -1
            if ref >= 0 and _seq_diff(self._high, seq) >= self._nslots:
                st.late += 1  # a whole buffer behind the newest: it could never play
                return False
        slot = seq & self._mask
        held = self._seqs[slot]
        if held == seq:
            st.duplicates += 1
            return False
        if held >= 0 or (ref >= 0 and _seq_diff(seq, ref) >= self._nslots):
            self._overflow(seq)  # more than the buffer holds: move the playout point on
        copy_into(self._slots[slot], payload, off, n)
        self._seqs[slot] = seq
        self._count += 1
        if self._high < 0 or _seq_diff(seq, self._high) > 0:
            self._high = seq
        st.received += 1
        self._measure(seq, now_ms)
        if self._last_seq < 0 or _seq_diff(seq, self._last_seq) > 0:
            self._last_seq, self._last_ts = seq, ts
        self._last_rx = now_ms
        return True

    def _overflow(self, seq):
        # The slot still holds a frame a whole buffer behind this one: drop every frame that
        # far back and move the playout point past them.
        n = self._nslots
        for i in range(n):
            s = self._seqs[i]
            if s >= 0 and _seq_diff(seq, s) >= n:
                self._seqs[i] = -1
                self._count -= 1
                self.stats.dropped += 1
        if self._play >= 0 and _seq_diff(seq, self._play) >= n:
            self._play = (seq - n + 1) & 0xFFFF

    def _probation(self, seq):
        if self._suspect >= 0 and seq == self._suspect:
            self._suspect_n += 1
        else:
            self._suspect_n = 1
        self._suspect = (seq + 1) & 0xFFFF
        if self._suspect_n >= _RESTART_AFTER:
            return True
        self.stats.bad += 1
        return False

    def _rebase(self, seq, now_ms):
        self._base_seq = seq
        self._base_ms = now_ms
        self._floor = 0

    def _measure(self, seq, now_ms):
        # Relative transit: arrival time minus the time the sequence number says it was sent.
        if self._base_seq < 0:
            self._rebase(seq, now_ms)
            return
        ext = _seq_diff(seq, self._base_seq)
        rel = _ticks_diff(now_ms, self._base_ms) - ext * self._frame_ms
        if rel < self._floor:
            self._floor = rel
        spread = (rel - self._floor) << 4
        self._jitter -= self._jitter >> _CALM_DECAY_SHIFT
        if spread > self._jitter:
            self._jitter = spread
        if ext > 500:  # every 10 s: move the reference on; the floor creeps up against drift
            self._floor = self._floor - rel + 1
            if self._floor > 0:
                self._floor = 0
            self._base_seq = seq
            self._base_ms = now_ms

    def _late_bump(self, frames):
        # A packet `frames` behind the playout point: grow by a frame more than it missed by.
        j = (frames + 1) * self._frame_ms << 4
        if j > self._jitter:
            self._jitter = j

    # -- output --------------------------------------------------------------------------------

    def pop_into(self, out, now_ms):
        """One frame into out (2 * frame_samples bytes); returns FRAME_OK/CONCEALED/SILENCE."""
        st = self.stats
        if self._play < 0:
            return self._wait_start(out, now_ms)
        if self._count == 0 and _ticks_diff(now_ms, self._last_rx) >= self._silence_ms:
            self._reset()  # the peer went silent: start afresh when it comes back
            return self._silence(out)
        self._loss_q -= self._loss_q >> _LOSS_SHIFT
        if self._loss_q > _LOSSY_Q:
            self._lossy = True
        elif self._loss_q < _LOSSY_Q // 2:
            self._lossy = False
        lead = self.lead_ms(now_ms)
        self._adapt(lead)
        slot = self._play & self._mask
        have = self._seqs[slot] == self._play
        if self._action:
            # Move the playout point in a pause (a quiet last frame), where a dropped or an
            # inserted 20 ms is not heard. In unbroken speech a stretch waits at most
            # _GROW_WAIT pops when the lead is short of the jitter itself (late packets cost
            # more than one inserted frame); short of the guard only, or a shrink, waits
            # _SHRINK_WAIT pops.
            self._pending += 1
            wait = _SHRINK_WAIT
            if self._action < 0 and lead < self.need_ms() - self._guard:
                wait = _GROW_WAIT
            now = self._quiet or self._pending >= wait
            if have and now and self._action > 0 and self._count > 1:
                self._drop(slot)  # shrink: skip this frame, play the next one
                slot = self._play & self._mask
                have = self._seqs[slot] == self._play
            elif have and now and self._action < 0:
                self._action = 0
                self._new_window()
                st.stretched += 1
                return self._conceal(out, False)
        if have:
            self._seqs[slot] = -1
            self._count -= 1
            self._decode(self._slots[slot], out, self._n)
            self._plc.good(out)
            self._quiet = mean_abs(out, self._n) < _QUIET
            self._play = (self._play + 1) & 0xFFFF
            st.played += 1
            return FRAME_OK
        if self._plc._erased >= 6 * self._plc._ms10:
            if self._count == 0:
                return self._silence(out)  # faded out already; keep waiting for the seq
            # Faded out and newer packets wait: skip the rest of the gap, play the next one.
            low = self._lowest()
            st.lost += _seq_diff(low, self._play)
            self._play = low
            return self.pop_into(out, now_ms)
        st.lost += 1
        self._loss_q += 0x10000
        nxt = (self._play + 1) & 0xFFFF
        slot = nxt & self._mask
        if self._seqs[slot] == nxt:  # the frame after the gap is here: interpolate
            self._decode(self._slots[slot], self._next_pcm, self._n)
            self._plc.conceal(out, self._next_pcm)
            self.stats.concealed += 1
            self._play = nxt
            return FRAME_CONCEALED
        return self._conceal(out, True)

    def _adapt(self, lead):
        # Over each window of pops the smallest lead is the slack that jitter never used, the
        # largest is how far ahead playout got. Slack of a whole frame beyond the lead needed:
        # drop one frame. Never within half a guard of it: insert one. One move per window; the
        # band between (25 ms wide) keeps a jitter estimate that wanders by a few ms from
        # moving the playout point back and forth.
        if lead < self._win_min:
            self._win_min = lead
        if lead > self._win_max:
            self._win_max = lead
        self._win_n += 1
        if self._win_n < _WINDOW:
            return
        need = self.need_ms()
        action = 0
        if self._win_min >= need + self._frame_ms:
            action = 1
        elif self._win_max < need - (self._guard >> 1):
            action = -1
        if action != self._action:
            self._pending = 0
        self._action = action
        self._new_window()

    def _new_window(self):
        self._win_n = 0
        self._win_min = 0x3FFFFFFF
        self._win_max = -0x3FFFFFFF

    def _drop(self, slot):
        self._seqs[slot] = -1
        self._count -= 1
        self._play = (self._play + 1) & 0xFFFF
        self._action = 0
        self._new_window()  # the leads seen before the move no longer apply
        self.stats.dropped += 1

    def _conceal(self, out, advance):
        self._plc.conceal(out)
        self.stats.concealed += 1
        if advance:
            self._play = (self._play + 1) & 0xFFFF
        return FRAME_CONCEALED

    def _silence(self, out):
        for i in range(2 * self._n):
            out[i] = 0
        self.stats.silence += 1
        return FRAME_SILENCE

    def _wait_start(self, out, now_ms):
        # Start once the first frame has the lead needed plus one more guard: no jitter is
        # measured yet. The lead grows while waiting, so a lone packet (a short talk spurt)
        # starts too.
        if self._count and self.lead_ms(now_ms) >= self.need_ms() + self._guard:
            self._play = self._lowest()
            return self.pop_into(out, now_ms)
        return self._silence(out)
