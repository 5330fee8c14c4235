# The call engine: Portier's four call flows (docs/protocol.md section 9, after the model's
# outgoing, incoming, rejected and missed flows) as a sans-IO object. The board's app, the
# softphone and the tests drive it the same way:
#   handle(stanza, now_ms)       a parsed stanza from the switchboard (portier.signaling.stanzas)
#   place_call / answer / reject / hang_up (..., now_ms)   the user's intents
#   on_timer(now_ms)             at or after next_deadline()
#   pending() -> stanzas to send;  events() -> what the app must show, play, log, key or open
# It never opens a socket, sleeps, reads a clock or imports asyncio. Times are ticks_ms values,
# compared with time.ticks_diff so the 32-bit board's counter wrap is harmless.
#
# Everything that decides a move is in the rulebook below (h11's _state.py is the model): the
# states of each role, the legal moves, the callee legs a caller rings, the timers and what each
# ending is in the call log. Every move is looked up there before anything changes: a move that
# is not in the table leaves the engine as it was (a stanza is then acked and ignored, an
# intent raises CallError).
import os
import time

from micropython import const

from portier.signaling import stanzas as st
from portier.signaling._callkinds import OUTCOMES

# ---- the rulebook ----

# Call states. The role is part of the state: we placed the call (1-3) or it rings here (4-6).
_OFFERING = const(1)  # caller: offer sent, switchboard ack awaited
_RINGING = const(2)  # caller: acked, devices ringing
_OUT_ACTIVE = const(3)  # caller: a device answered; media may flow
_INCOMING = const(4)  # callee: ringing here
_ACCEPTING = const(5)  # callee: accept sent, waiting for the caller to confirm this device won
_IN_ACTIVE = const(6)  # callee: the caller confirmed our accept; media may flow
_ENDED = const(7)

# Moves, multiples of 8 so that (state | move) indexes _NEXT. A device's, on the caller's side
# (the leg moves, _LEG_NEXT's too):
_RINGS = const(1 << 3)  # its receipt or preaccept
_ACCEPTED = const(2 << 3)  # its accept
_DECLINED = const(3 << 3)  # its reject, any reason but busy or error
_BUSY = const(4 << 3)  # its reject busy (legs only)
_FAILED = const(5 << 3)  # its reject error: it could not take the call (legs only)
_STOPPED = const(6 << 3)  # we told it to stop ringing (legs only)
# stanzas
_ACKED = const(7 << 3)  # the switchboard's ack of our offer
_REFUSED = const(8 << 3)  # its error ack
_ALL_BUSY = const(9 << 3)  # the last ringing device's busy or error reject, one of them busy
_ALL_FAILED = const(10 << 3)  # ... none of them busy: every device failed to take the call
_CONFIRMED = const(11 << 3)  # the caller's <transport>: our accept won
_TERMINATED = const(12 << 3)  # the other end's terminate
_ACCEPTED_ELSEWHERE = const(13 << 3)  # the caller's terminate: another device answered
_REJECTED_ELSEWHERE = const(14 << 3)  # the caller's terminate: another device declined
_REOFFERED = const(15 << 3)  # the caller's offer again (a retransmission)
_UNLOCK = const(16 << 3)  # an <unlock> from the answerer (docs/protocol.md 10.3 steps 2-4)
# the user's intents
_ANSWER = const(17 << 3)
_KEY_FAILED = const(18 << 3)  # answering, the call key did not open
_REJECT = const(19 << 3)
_REJECT_BUSY = const(20 << 3)  # this device declines as busy: only its leg ends
_HANG_UP = const(21 << 3)  # (before an answer: the caller cancels, a callee rejects)
_BUSY_HERE = const(22 << 3)  # an offer while this device is in a call
# timers and the link
_NO_ACK = const(23 << 3)  # the offer's ack timer, its tries used up
_RING_TIMEOUT = const(24 << 3)  # a caller's ring timeout; a callee's guard for a vanished caller
_MAX_DURATION = const(25 << 3)
_LINK_LOST = const(26 << 3)  # the link stayed down past the app's grace
_RESEND = const(0)  # a held stanza's retransmission timer: no move of the call

# Endings: _NEXT's values from _END on (above every state); _ENDINGS row (value - _END) says
# what each one is.
_END = const(8)
_E_CANCELLED = const(_END)
_E_NO_ACK = const(9)
_E_REFUSED = const(10)
_E_UNANSWERED = const(11)
_E_DECLINED = const(12)
_E_ALL_BUSY = const(13)
_E_ALL_FAILED = const(14)
_E_HUNG_UP = const(15)
_E_MAX = const(16)
_E_BY_PEER = const(17)
_E_LOST_RINGING = const(18)
_E_LOST_MISSED = const(19)
_E_LOST_ANSWERED = const(20)
_E_MISSED_TIMEOUT = const(21)
_E_MISSED = const(22)
_E_ANSWERED_ELSEWHERE = const(23)
_E_DECLINED_ELSEWHERE = const(24)
_E_KEY_FAILED = const(25)
_E_REJECTED = const(26)
_E_BUSY_HERE = const(27)
_E_BUSY_OFFER = const(28)


def _table(moves):
    """{key: value} -> bytes indexed by key, 0 where the dict has none: a table the engine
    keeps through every call in a few hundred bytes (a dict of its size takes four times that)."""
    t = bytearray(max(moves) + 1)
    for k in moves:
        t[k] = moves[k]
    return bytes(t)


# The legal moves: (state | move) -> the next state, or the ending; 0: not legal there.
_NEXT = _table({
    # caller
    _OFFERING | _ACKED: _RINGING,
    _OFFERING | _REFUSED: _E_REFUSED,
    _OFFERING | _RINGS: _OFFERING,
    _RINGING | _RINGS: _RINGING,
    _OUT_ACTIVE | _RINGS: _OUT_ACTIVE,  # a preaccept that crossed the winner's accept
    _OFFERING | _ACCEPTED: _OUT_ACTIVE,
    _RINGING | _ACCEPTED: _OUT_ACTIVE,
    _OFFERING | _DECLINED: _E_DECLINED,
    _RINGING | _DECLINED: _E_DECLINED,
    _OFFERING | _ALL_BUSY: _E_ALL_BUSY,
    _RINGING | _ALL_BUSY: _E_ALL_BUSY,
    _OFFERING | _ALL_FAILED: _E_ALL_FAILED,
    _RINGING | _ALL_FAILED: _E_ALL_FAILED,
    _OFFERING | _HANG_UP: _E_CANCELLED,
    _RINGING | _HANG_UP: _E_CANCELLED,
    _OFFERING | _NO_ACK: _E_NO_ACK,
    _OFFERING | _RING_TIMEOUT: _E_UNANSWERED,
    _RINGING | _RING_TIMEOUT: _E_UNANSWERED,
    _OFFERING | _LINK_LOST: _E_LOST_RINGING,
    _RINGING | _LINK_LOST: _E_LOST_RINGING,
    _OUT_ACTIVE | _UNLOCK: _OUT_ACTIVE,  # only a call we placed: a door's, to the household
    # callee
    _INCOMING | _REOFFERED: _INCOMING,
    _ACCEPTING | _REOFFERED: _ACCEPTING,
    _IN_ACTIVE | _REOFFERED: _IN_ACTIVE,
    _INCOMING | _ANSWER: _ACCEPTING,
    _INCOMING | _KEY_FAILED: _E_KEY_FAILED,
    _INCOMING | _REJECT: _E_REJECTED,
    _INCOMING | _HANG_UP: _E_REJECTED,
    _INCOMING | _REJECT_BUSY: _E_BUSY_HERE,
    _INCOMING | _BUSY_HERE: _E_BUSY_OFFER,
    _ACCEPTING | _CONFIRMED: _IN_ACTIVE,
    _INCOMING | _TERMINATED: _E_MISSED,  # (or our accept crossed it: never connected)
    _ACCEPTING | _TERMINATED: _E_MISSED,
    _INCOMING | _ACCEPTED_ELSEWHERE: _E_ANSWERED_ELSEWHERE,
    _ACCEPTING | _ACCEPTED_ELSEWHERE: _E_ANSWERED_ELSEWHERE,
    _INCOMING | _REJECTED_ELSEWHERE: _E_DECLINED_ELSEWHERE,
    _ACCEPTING | _REJECTED_ELSEWHERE: _E_DECLINED_ELSEWHERE,
    _ACCEPTING | _HANG_UP: _E_HUNG_UP,
    _INCOMING | _RING_TIMEOUT: _E_MISSED_TIMEOUT,
    _ACCEPTING | _RING_TIMEOUT: _E_MISSED_TIMEOUT,
    _INCOMING | _LINK_LOST: _E_LOST_MISSED,
    _ACCEPTING | _LINK_LOST: _E_LOST_MISSED,
    # an answered call, either role: its terminate's reason does not matter any more
    _OUT_ACTIVE | _HANG_UP: _E_HUNG_UP,
    _IN_ACTIVE | _HANG_UP: _E_HUNG_UP,
    _OUT_ACTIVE | _TERMINATED: _E_BY_PEER,
    _IN_ACTIVE | _TERMINATED: _E_BY_PEER,
    _OUT_ACTIVE | _ACCEPTED_ELSEWHERE: _E_BY_PEER,
    _IN_ACTIVE | _ACCEPTED_ELSEWHERE: _E_BY_PEER,
    _OUT_ACTIVE | _REJECTED_ELSEWHERE: _E_BY_PEER,
    _IN_ACTIVE | _REJECTED_ELSEWHERE: _E_BY_PEER,
    _OUT_ACTIVE | _MAX_DURATION: _E_MAX,
    _IN_ACTIVE | _MAX_DURATION: _E_MAX,
    _OUT_ACTIVE | _LINK_LOST: _E_LOST_ANSWERED,
    _IN_ACTIVE | _LINK_LOST: _E_LOST_ANSWERED,
})

# A callee's terminate reasons that say someone else handled the call (the model's *_elsewhere)
_ELSEWHERE = {"accepted_elsewhere": _ACCEPTED_ELSEWHERE, "rejected_elsewhere": _REJECTED_ELSEWHERE}

# The call-log outcomes (the call vocabulary's OUTCOMES, which the call log takes), by index
_O_ANSWERED = const(0)
_O_DECLINED = const(1)
_O_BUSY = const(2)
_O_UNANSWERED = const(3)
_O_CANCELLED = const(4)
_O_FAILED = const(5)
_O_MISSED = const(6)
_O_ANSWERED_ELSEWHERE = const(7)
_O_DECLINED_ELSEWHERE = const(8)
REASON_MAX_DURATION = "max_duration"  # Portier's reason for the maximum-call-duration hang-up
REASON_CONNECTION_LOST = "connection_lost"  # the link (past its grace) or the peer's media is gone
REASON_ERROR = "error"  # Portier's reject reason for a device that cannot take the call

# What the other end is told when a call ends
_TELL_NONE = const(0)
_TELL_LEGS = const(1)  # the devices still ringing get terminate(reason)
_TELL_REJECT = const(2)  # the caller gets reject(reason), held until acked
_TELL_TERMINATE = const(3)  # the other end gets terminate(the log reason, duration), held
_ROW = const(4)
# One row per ending, in _E_* order: the outcome (_O_*), the log reason (None: the input's own, if
# any), whom we tell, and with what reason.
_ENDINGS = (
    _O_CANCELLED, "cancelled", _TELL_LEGS, "cancelled",  # _E_CANCELLED: we gave up first
    _O_FAILED, "no_ack", _TELL_LEGS, "cancelled",  # _E_NO_ACK: the switchboard never acked
    _O_FAILED, None, _TELL_NONE, None,  # _E_REFUSED: "error <code>"
    _O_UNANSWERED, "timeout", _TELL_LEGS, "timeout",  # _E_UNANSWERED
    _O_DECLINED, None, _TELL_LEGS, "rejected_elsewhere",  # _E_DECLINED: the device's reason
    _O_BUSY, None, _TELL_NONE, None,  # _E_ALL_BUSY: the last reject's reason
    _O_FAILED, None, _TELL_NONE, None,  # _E_ALL_FAILED: ditto
    _O_ANSWERED, None, _TELL_TERMINATE, None,  # _E_HUNG_UP: the app's reason, if any
    _O_ANSWERED, REASON_MAX_DURATION, _TELL_TERMINATE, None,  # _E_MAX
    _O_ANSWERED, None, _TELL_NONE, None,  # _E_BY_PEER: the peer's reason
    _O_FAILED, REASON_CONNECTION_LOST, _TELL_NONE, None,  # _E_LOST_RINGING
    _O_MISSED, REASON_CONNECTION_LOST, _TELL_NONE, None,  # _E_LOST_MISSED
    _O_ANSWERED, REASON_CONNECTION_LOST, _TELL_NONE, None,  # _E_LOST_ANSWERED
    _O_MISSED, "timeout", _TELL_NONE, None,  # _E_MISSED_TIMEOUT: the caller vanished
    _O_MISSED, None, _TELL_NONE, None,  # _E_MISSED: the caller's reason
    _O_ANSWERED_ELSEWHERE, "accepted_elsewhere", _TELL_NONE, None,  # _E_ANSWERED_ELSEWHERE
    _O_DECLINED_ELSEWHERE, "rejected_elsewhere", _TELL_NONE, None,  # _E_DECLINED_ELSEWHERE
    _O_FAILED, None, _TELL_REJECT, REASON_ERROR,  # _E_KEY_FAILED: "key: <why>"
    _O_DECLINED, None, _TELL_REJECT, None,  # _E_REJECTED: the model's empty reject
    _O_BUSY, None, _TELL_REJECT, "busy",  # _E_BUSY_HERE: the user's busy ends only our leg
    _O_BUSY, "busy", _TELL_REJECT, "busy",  # _E_BUSY_OFFER: one call at a time
)

# The callee legs of a call we placed, one per rung device: (leg | move) -> next leg state.
_LEG_OFFERED = const(1)
_LEG_RINGING = const(2)
_LEG_BUSY = const(3)
_LEG_FAILED = const(4)  # the device could not take the call (its key did not open)
_LEG_DONE = const(5)
_LEG_NEXT = _table({
    _LEG_OFFERED | _RINGS: _LEG_RINGING,
    _LEG_OFFERED | _ACCEPTED: _LEG_DONE,
    _LEG_RINGING | _ACCEPTED: _LEG_DONE,
    _LEG_OFFERED | _DECLINED: _LEG_DONE,
    _LEG_RINGING | _DECLINED: _LEG_DONE,
    _LEG_OFFERED | _BUSY: _LEG_BUSY,
    _LEG_RINGING | _BUSY: _LEG_BUSY,
    _LEG_OFFERED | _FAILED: _LEG_FAILED,
    _LEG_RINGING | _FAILED: _LEG_FAILED,
    _LEG_OFFERED | _STOPPED: _LEG_DONE,
    _LEG_RINGING | _STOPPED: _LEG_DONE,
})

# Timers: one list of [due (ticks_ms), call-id, move, stanza, sends]. A call's timer fires its
# move and lives only while that move is legal (leaving the states it serves drops it); a
# held stanza (move _RESEND) is sent again until the peer acks it (docs/protocol.md 8.3).
_T_DUE = const(0)
_T_CALL = const(1)
_T_MOVE = const(2)
_T_STANZA = const(3)
_T_SENT = const(4)
_RESENDS_KEPT = const(4)  # unacked stanzas held for retransmission, at most one per call

_KEY_LEN = const(32)
_CLOSED_KEPT = const(32)  # closed call-ids remembered, so late stanzas are acked and ignored
# What the engine hands to the call log must fit it (calllog's peer and reason bounds): an
# event the log refused would be an exception at the edge for every call from that peer.
REASON_MAX = const(32)
PEER_MAX = const(96)


def outcomes():
    """(direction, outcome) of every ending in the rulebook: what the call log must accept."""
    return [(_direction(k & 7), OUTCOMES[_ENDINGS[(_NEXT[k] - _END) * _ROW]])
            for k in range(len(_NEXT)) if _NEXT[k] >= _END]


def _to(table, key):
    """_NEXT's or _LEG_NEXT's entry: where (state | move) leads, 0 when it is not legal."""
    return table[key] if key < len(table) else 0


def _direction(state):
    return "out" if state <= _OUT_ACTIVE else "in"


class CallError(ValueError):
    """An intent that is not legal now (answering a call that is not ringing, say)."""


class Event:
    """Something the app must act on. kind: "ringing", "answered", "media", "ended" or
    "unlock". The fields a kind has not are the class's defaults."""

    outcome = None  # "ended": one of calllog.OUTGOING / INCOMING
    reason = None  # "ended"; "unlock": the engine's refusal, None when admitted
    duration_s = 0  # "ended"
    call_key = None  # "media": 32 bytes, for SRTP key derivation
    codec = None  # "media": (name, rate)
    relay = None  # "media": the relay block, or None
    stanza = None  # "unlock": the <unlock> (its enc, its ids)
    answered_for_ms = None  # "unlock", admitted: how long the call had been answered

    def __init__(self, kind, call_id, direction, peer, **info):
        self.kind = kind
        self.call_id = call_id
        self.direction = direction  # "out" (we placed it) or "in"
        self.peer = peer  # the device at the other end (the household's JID before an answer)
        for k in info:
            setattr(self, k, info[k])

    def __repr__(self):
        return "Event(%s %s %s %s %s)" % (self.kind, self.call_id, self.direction, self.peer,
                                          self.outcome or "")


class _Call:
    def __init__(self, call_id, creator, peer, state):
        self.id = call_id
        self.creator = creator
        self.peer = peer
        self.state = state
        self.answered_ms = None
        self.legs = {}  # caller: device -> _LEG_*
        self.call_key = None
        self.leg_keys = None  # caller, while it rings: device -> that device's call key
        self.enc = None  # callee: our wrapped key from the offer, opened only on answer
        self.relay = None
        self.codec = None
        self.offer = None  # caller: kept for retransmission until the switchboard acks it
        self.tries = 0

    @property
    def direction(self):
        return _direction(self.state)


def new_id():
    # 16 random bytes as 32 uppercase hex characters, as the model's call-ids and stanza ids
    return "".join("%02X" % b for b in os.urandom(16))


def _stanza(action, call, **fields):
    # Every stanza the engine sends about a call: its ids, a fresh stanza id, the given fields.
    return st.Stanza(action, call_id=call.id, call_creator=call.creator, stanza_id=new_id(),
                     **fields)


def _receipt(offer, caller):
    return st.Stanza("receipt", call_id=offer.call_id, call_creator=offer.call_creator,
                     stanza_id=offer.stanza_id, to=caller)


class CallEngine:
    def __init__(self, me, keys, audio=st.PORTIER_AUDIO, ring_timeout_ms=30000,
                 max_call_ms=600000, ack_timeout_ms=2000, offer_tries=3, auto_answer=(),
                 resend_ms=2000, resend_tries=3):
        """me: this device's JID; keys: an object with wrap(device, call_key) ->
        (enc_type, ciphertext) and unwrap(device, enc_type, ciphertext) -> call_key (the
        Signal sessions of portier.e2e.callkey, bound to this device's store); auto_answer:
        the devices whose calls are answered without a button press (paired phones);
        resend_ms, resend_tries: an accept, transport, reject or answered call's terminate
        without the peer's ack is sent again after resend_ms, then twice that, ..., up to
        resend_tries sends in all (docs/protocol.md 8.3)."""
        self.me = me
        self.keys = keys
        self.audio = list(audio)  # our codecs, preferred first
        self.ring_timeout_ms = ring_timeout_ms
        self.max_call_ms = max_call_ms
        self.ack_timeout_ms = ack_timeout_ms
        self.offer_tries = offer_tries
        self.auto_answer = auto_answer
        self.resend_ms = resend_ms
        self.resend_tries = resend_tries
        self._timers = []  # [due, call-id, move, stanza, sends], in the order they were set
        self._calls = {}  # call-id -> _Call, not ended
        self._closed = []  # recently ended call-ids, oldest first
        self._out = []
        self._events = []
        self.ignored = 0  # stanzas acked and dropped (unknown action, unknown or closed call)

    # ---- what the edge asks ----

    def pending(self):
        out, self._out = self._out, []
        return out

    def events(self):
        ev, self._events = self._events, []
        return ev

    def next_deadline(self):
        best = None
        for t in self._timers:
            if best is None or time.ticks_diff(t[_T_DUE], best) < 0:
                best = t[_T_DUE]
        return best

    def current(self):
        """The call that is not ended (there is at most one), or None."""
        for call in self._calls.values():
            return call
        return None

    def answered_call(self):
        """The current call once answered and confirmed (media may flow), or None. Its id,
        creator, peer (the answering device) and answered_ms are what an unlock request names."""
        call = self.current()
        if call is not None and (call.state == _OUT_ACTIVE or call.state == _IN_ACTIVE):
            return call
        return None

    # ---- intents ----

    def place_call(self, to, devices, now_ms):
        """Ring every device in `devices` (the household's devices, from its prekey bundles);
        `to` is the household's JID. Returns the new call-id."""
        if self._calls:
            raise CallError("already in a call")
        if not devices:
            raise CallError("no device to call")
        # One call key per rung device (docs/protocol.md 4, 9): the one of the device that
        # answers keys the call's SRTP, so the others, who were rung too, hold nothing that
        # opens the answered call's media.
        dest, leg_keys = [], {}
        for device in devices:  # wrap first: a failure here leaves no call behind
            leg_keys[device] = key = os.urandom(_KEY_LEN)
            enc_type, ciphertext = self.keys.wrap(device, key)
            dest.append((device, st.enc(ciphertext, enc_type)))
        call = _Call(new_id(), self.me, to, _OFFERING)
        call.leg_keys = leg_keys
        for device in devices:
            call.legs[device] = _LEG_OFFERED
        if len(dest) == 1:  # the model: a single device gets a bare <enc>, addressed to it
            call.offer = _stanza("offer", call, audio=self.audio, enc=dest[0][1], to=devices[0])
        else:
            call.offer = _stanza("offer", call, audio=self.audio, destination=dest, to=to)
        self._calls[call.id] = call
        self._send_offer(call, now_ms)
        self._arm(call, _RING_TIMEOUT, self.ring_timeout_ms, now_ms)
        return call.id

    def answer(self, call_id, now_ms):
        call = self._intent(call_id, _ANSWER, "answer")
        try:
            call_key = self.keys.unwrap(call.peer, call.enc.type, call.enc.ciphertext)
            if len(call_key) != _KEY_LEN:
                raise ValueError("call key of %d bytes" % len(call_key))
        except ValueError as e:  # a key we cannot open: the call cannot be taken
            # Like "busy", this ends only our leg: another device may still answer.
            return self._end(call, _KEY_FAILED, now_ms, ("key: %s" % e)[:REASON_MAX])
        self._enter(call, _ACCEPTING)
        call.call_key = call_key
        self._send_acked(call.id, _stanza("accept", call, audio=[call.codec], to=call.peer), now_ms)
        # Media waits for the caller's <transport>: when two devices answer at once, only the
        # one the caller picked binds its relay leg (the caller's binds name it) or holds a key.

    def reject(self, call_id, now_ms, busy=False):
        # The model's decline is an empty <reject>; "busy" ends only this device's leg.
        move = _REJECT_BUSY if busy else _REJECT
        self._end(self._intent(call_id, move, "reject"), move, now_ms)

    def hang_up(self, call_id, now_ms, reason=None):
        """Cancel our unanswered call, reject one ringing here, or end the answered call.
        reason: of an answered call's terminate and log entry; the app gives
        REASON_CONNECTION_LOST when the peer's media stopped (docs/protocol.md 8.3)."""
        self._end(self._intent(call_id, _HANG_UP, "hang up"), _HANG_UP, now_ms, reason)

    def link_lost(self, now_ms):
        """The signalling link stayed down past the app's grace period: every call ends, and
        nothing can be sent about it."""
        for call in list(self._calls.values()):
            self._end(call, _LINK_LOST, now_ms)
        self._timers = []  # past the grace: the link's outbox has dropped the held ones too

    # ---- stanzas ----

    def handle(self, msg, now_ms):
        action = msg.action
        if action == "ack":
            return self._on_ack(msg, now_ms)
        if action == "receipt":
            return self._on_receipt(msg)
        if msg.stanza_id is not None:  # level-1 ack for every <call> that carries an id
            self._send(st.Stanza("ack", stanza_id=msg.stanza_id, to=msg.frm))
        if action == "offer":
            return self._on_offer(msg, now_ms)
        if action == "unlock":
            return self._on_unlock(msg, now_ms)
        call = self._calls.get(msg.call_id)
        handler = _HANDLERS.get(action)
        if call is None or call.creator != msg.call_creator or handler is None:
            self.ignored += 1  # unknown action, unknown or closed call: acked, ignored
            return None
        if not handler(self, call, msg, now_ms):
            self.ignored += 1  # not a legal move now, or not from whom it must come
        return None

    def _on_ack(self, ack, now_ms):
        for call in self._calls.values():
            if call.offer is not None and call.offer.stanza_id == ack.stanza_id:
                if ack.error_code is not None:
                    return self._end(call, _REFUSED, now_ms, "error %d" % ack.error_code)
                state = _to(_NEXT, call.state | _ACKED)
                if not state:
                    break
                self._enter(call, state)
                call.relay = ack.relay
                call.offer = None  # acked: never sent again, so not held through the call
                return None
        self._drop_resend(ack.stanza_id, None)
        return None  # acks of everything else need nothing beyond that

    def _on_receipt(self, receipt):
        call = self._calls.get(receipt.call_id)
        if call is not None and receipt.of == "offer":
            self._leg_rings(call, receipt.frm)

    def _on_offer(self, offer, now_ms):
        caller = offer.frm or offer.call_creator
        if offer.stanza_id is None or caller is None or len(caller) > PEER_MAX:
            # No id: no receipt can name it. An overlong JID is no device's, and would not fit
            # the call log. Acked already when it had an id; it never rings.
            self.ignored += 1
            return None
        call = self._calls.get(offer.call_id)
        if call is not None or offer.call_id in self._closed:
            if call is not None and _to(_NEXT, call.state | _REOFFERED):
                self._send(_receipt(offer, caller))  # a retransmission: receipt again
            else:
                self.ignored += 1
            return None
        enc = self._my_enc(offer)
        codec = self._pick_codec(offer)
        if enc is None or codec is None:
            self.ignored += 1  # not for us, or nothing we can play: let it ring out elsewhere
            return None
        self._send(_receipt(offer, caller))
        call = _Call(offer.call_id, offer.call_creator, caller, _INCOMING)
        if self._calls:  # one call at a time: a door is busy while it talks
            return self._end(call, _BUSY_HERE, now_ms)
        call.enc = enc
        call.codec = codec
        call.relay = offer.relay
        self._calls[call.id] = call
        self._send(_stanza("preaccept", call, audio=[codec], to=caller))
        # The caller ends an unanswered call; this guard only covers a caller that vanished.
        self._arm(call, _RING_TIMEOUT, self.ring_timeout_ms + self.ack_timeout_ms, now_ms)
        self._emit("ringing", call, caller)
        if caller in self.auto_answer:
            self.answer(call.id, now_ms)
        return None

    def _on_unlock(self, msg, now_ms):
        """Who may ask the door to open, and when (docs/protocol.md 10.3 steps 2-4): only the
        device that answered the call this device placed, while that call is answered, naming
        it. The event says the verdict (reason None: admitted); whether the door opens is the
        unlock checks' (portier.unlock), which the app runs on the event."""
        call = self.current()
        why = None
        if call is None or not _to(_NEXT, call.state | _UNLOCK):
            why = "no_call"
        elif msg.frm is None or msg.frm != call.peer:
            why = "not_answerer"
        elif msg.call_id != call.id or msg.call_creator != call.creator:
            why = "wrong_call"
        since = None if why else time.ticks_diff(now_ms, call.answered_ms)
        self._events.append(Event("unlock", msg.call_id, None, msg.frm, reason=why, stanza=msg,
                                  answered_for_ms=since))

    # The handlers of stanzas about a known call: True when the stanza made a legal move.

    def _on_preaccept(self, call, msg, now_ms):
        return self._leg_rings(call, msg.frm)

    def _on_accept(self, call, msg, now_ms):
        device = msg.frm
        leg = _to(_LEG_NEXT, call.legs.get(device, 0) | _ACCEPTED)
        state = _to(_NEXT, call.state | _ACCEPTED)
        if not leg or not state:  # a late second accept: its device already has
            return False  # accepted_elsewhere
        call.legs[device] = leg
        call.codec = self._codec_from(msg.audio)
        call.call_key = call.leg_keys[device]  # the answerer's own key; the others' are gone
        call.leg_keys = None
        self._enter(call, state)
        self._stop_legs(call, "accepted_elsewhere")
        # The model's relay-choice <transport> (type 1) tells the winner to start its media.
        self._send_acked(call.id, _stanza("transport", call, message_type=1, to=device), now_ms)
        self._activate(call, device, now_ms)
        return True

    def _on_transport(self, call, msg, now_ms):
        state = _to(_NEXT, call.state | _CONFIRMED)
        if not state or msg.frm != call.peer:  # only the caller's confirmation counts
            return False
        self._enter(call, state)
        self._drop_resend(None, call.id)  # the caller had our accept: its ack is moot
        self._activate(call, call.peer, now_ms)
        return True

    def _on_reject(self, call, msg, now_ms):
        device = msg.frm
        move = _BUSY if msg.reason == "busy" else _FAILED if msg.reason == REASON_ERROR else _DECLINED
        leg = _to(_LEG_NEXT, call.legs.get(device, 0) | move)
        if not leg:  # not ringing there (any more): a late or duplicate reject
            return False
        if move != _DECLINED:  # only this leg ends; the call when no leg rings any more
            legs = [s for d, s in call.legs.items() if d != device] + [leg]
            if [s for s in legs if _to(_LEG_NEXT, s | _STOPPED)]:
                move = 0
            else:
                move = _ALL_BUSY if _LEG_BUSY in legs else _ALL_FAILED
        if move and not _to(_NEXT, call.state | move):
            return False
        call.legs[device] = leg
        if move:
            self._end(call, move, now_ms, msg.reason)
        return True

    def _on_terminate(self, call, msg, now_ms):
        move = _ELSEWHERE.get(msg.reason, _TERMINATED)
        # callers never get a terminate before the answer (callees reject); and only the other
        # end of the call can end it
        if not _to(_NEXT, call.state | move) or msg.frm != call.peer:
            return False
        self._end(call, move, now_ms, msg.reason)
        return True

    # ---- timers ----

    def on_timer(self, now_ms):
        for t in list(self._timers):  # a move may end a call and drop its other timers
            if time.ticks_diff(now_ms, t[_T_DUE]) >= 0 and t in self._timers:
                if t[_T_MOVE] == _RESEND:
                    self._resend(t, now_ms)
                else:
                    self._timers.remove(t)  # a call's timers go with it: the call is there
                    self._timeout(self._calls[t[_T_CALL]], t[_T_MOVE], now_ms)

    def _timeout(self, call, move, now_ms):
        if move == _NO_ACK and call.tries < self.offer_tries:
            return self._send_offer(call, now_ms)  # same stanza id: the switchboard drops
        return self._end(call, move, now_ms)  # the duplicate fan-out

    def _arm(self, call, move, ms, now_ms):
        self._timers.append([time.ticks_add(now_ms, ms), call.id, move, None, 0])

    # ---- retransmission of what the peer must ack (docs/protocol.md 8.3) ----

    def _send_acked(self, call_id, stanza, now_ms):
        """Send a stanza the peer must ack and hold it until the ack comes: it replaces the
        call's held one (a call holds at most one), the oldest of other calls goes when too
        many are held."""
        self._send(stanza)
        if self.resend_tries <= 1:
            return
        self._drop_resend(None, call_id)
        held = [t for t in self._timers if t[_T_MOVE] == _RESEND]
        if len(held) >= _RESENDS_KEPT:
            self._timers.remove(held[0])
        self._timers.append([time.ticks_add(now_ms, self.resend_ms), call_id, _RESEND, stanza, 1])

    def _resend(self, t, now_ms):
        # the same stanza, same id: a receiver that had it acks again and changes nothing
        self._send(t[_T_STANZA])
        t[_T_SENT] += 1
        if t[_T_SENT] >= self.resend_tries:
            self._timers.remove(t)  # the last try: nothing is left to do without an ack
        else:
            t[_T_DUE] = time.ticks_add(now_ms, self.resend_ms << (t[_T_SENT] - 1))

    def _drop_resend(self, stanza_id, call_id):
        for t in self._timers:
            if t[_T_MOVE] == _RESEND and (t[_T_CALL] == call_id or (
                    stanza_id is not None and t[_T_STANZA].stanza_id == stanza_id)):
                self._timers.remove(t)
                return

    # ---- moves ----

    def _next(self, call, move):
        """The state or ending the move leads to; CallError, and nothing changed, when it is
        not legal now."""
        nxt = _to(_NEXT, call.state | move)
        if not nxt:
            raise CallError("move %d in state %d" % (move >> 3, call.state))
        return nxt

    def _intent(self, call_id, move, what):
        call = self._calls.get(call_id)
        if call is None or not _to(_NEXT, call.state | move):
            raise CallError("cannot %s call %s now" % (what, call_id))
        return call

    def _enter(self, call, state):
        call.state = state
        keep = []
        for t in self._timers:  # a call's timer lives while its move is legal
            if t[_T_CALL] != call.id or t[_T_MOVE] == _RESEND or _to(_NEXT, state | t[_T_MOVE]):
                keep.append(t)
        self._timers = keep

    def _end(self, call, move, now_ms, reason=None):
        """The call ends by this move: the table says the ending; its row says how it is
        logged and who is told."""
        row = (self._next(call, move) - _END) * _ROW
        outcome, tell, told = OUTCOMES[_ENDINGS[row]], _ENDINGS[row + 2], _ENDINGS[row + 3]
        if _ENDINGS[row + 1] is not None:
            reason = _ENDINGS[row + 1]
        direction, duration_s = call.direction, self._duration_s(call, now_ms)
        stanza = None
        if tell == _TELL_TERMINATE:
            stanza = _stanza("terminate", call, reason=reason, duration=duration_s, to=call.peer)
        elif tell == _TELL_REJECT:
            stanza = _stanza("reject", call, reason=told, to=call.peer)
        elif tell == _TELL_LEGS:
            self._stop_legs(call, told)
        call.state = _ENDED
        # its timers go, and a held accept or transport about it is moot now
        self._timers = [t for t in self._timers if t[_T_CALL] != call.id]
        self._calls.pop(call.id, None)
        self._remember_closed(call.id)
        call.call_key = call.leg_keys = None  # nothing keyed outlives the call
        self._events.append(Event("ended", call.id, direction, call.peer, outcome=outcome,
                                  reason=reason, duration_s=duration_s))
        if stanza is not None:
            self._send_acked(call.id, stanza, now_ms)

    # ---- helpers ----

    def _send(self, stanza):
        self._out.append(stanza)

    def _emit(self, kind, call, peer, **info):
        self._events.append(Event(kind, call.id, call.direction, peer, **info))

    def _send_offer(self, call, now_ms):
        call.tries += 1
        self._send(call.offer)  # same stanza id: the switchboard drops the duplicate fan-out
        self._arm(call, _NO_ACK, self.ack_timeout_ms, now_ms)

    def _leg_rings(self, call, device):
        if not _to(_NEXT, call.state | _RINGS):
            return False
        leg = _to(_LEG_NEXT, call.legs.get(device, 0) | _RINGS)
        if leg:  # the first receipt or preaccept of that device
            call.legs[device] = leg
            self._emit("ringing", call, device)
        return True

    def _stop_legs(self, call, reason):
        """Every device still ringing gets terminate(reason)."""
        for device, leg in call.legs.items():
            nxt = _to(_LEG_NEXT, leg | _STOPPED)
            if nxt:
                call.legs[device] = nxt
                self._send(_stanza("terminate", call, reason=reason, to=device))

    def _activate(self, call, device, now_ms):
        call.peer = device
        call.answered_ms = now_ms
        self._arm(call, _MAX_DURATION, self.max_call_ms, now_ms)
        self._emit("answered", call, device)
        self._emit("media", call, device, call_key=call.call_key, codec=call.codec, relay=call.relay)
        # What set the call up is the media event's now: not held through the call (~2 KB).
        call.offer = call.relay = call.enc = None

    def _duration_s(self, call, now_ms):
        if call.answered_ms is None:
            return 0
        return time.ticks_diff(now_ms, call.answered_ms) // 1000

    def _remember_closed(self, call_id):
        self._closed.append(call_id)
        if len(self._closed) > _CLOSED_KEPT:
            self._closed.pop(0)

    def _my_enc(self, offer):
        if offer.enc is not None:
            return offer.enc if offer.to in (None, self.me) else None
        for device, enc in offer.destination:
            if device == self.me:
                return enc
        return None

    def _pick_codec(self, offer):
        offered = st.supported_audio(offer)
        for codec in self.audio:
            if codec in offered:
                return codec
        return None

    def _codec_from(self, audio):
        for codec in audio:
            if codec in self.audio:
                return codec
        return self.audio[0]


_HANDLERS = {
    "preaccept": CallEngine._on_preaccept,
    "accept": CallEngine._on_accept,
    "reject": CallEngine._on_reject,
    "terminate": CallEngine._on_terminate,
    "transport": CallEngine._on_transport,
}
