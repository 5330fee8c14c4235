# The call engine: Portier's four call flows (docs/protocol.md section 3.x, after the model's
# outgoing, incoming, rejected and missed flows) as a sans-IO object. The board's app, the
# softphone and the tests drive it the same way:
#   handle(stanza, now_ms)       a parsed stanza from the switchboard (portier.signaling.stanzas)
#   place_call / answer / reject / hang_up (..., now_ms)   the user's intents
#   on_timer(now_ms)             at or after next_deadline()
#   pending() -> stanzas to send;  events() -> what the app must show, play, log or key
# It never opens a socket, sleeps, reads a clock or imports asyncio. Times are ticks_ms values,
# compared with time.ticks_diff so the 32-bit board's counter wrap is harmless.
import os
import time

from micropython import const

from portier.signaling import stanzas as st

# call states
_OFFERING = const(1)  # caller: offer sent, switchboard ack awaited
_RINGING = const(2)  # caller: acked, devices ringing
_INCOMING = const(3)  # callee: ringing here
_ACTIVE = const(4)  # answered: media may flow
_ENDED = const(5)
_ACCEPTING = const(6)  # callee: accept sent, waiting for the caller to confirm this device won

# The legal moves, in one table: (state, move) -> next state. A move missing here is refused
# before anything changes (see _move).
_NEXT = {
    (_OFFERING, "acked"): _RINGING,
    (_OFFERING, "accepted"): _ACTIVE,
    (_RINGING, "accepted"): _ACTIVE,
    (_OFFERING, "declined"): _ENDED,
    (_RINGING, "declined"): _ENDED,
    (_OFFERING, "all_busy"): _ENDED,
    (_RINGING, "all_busy"): _ENDED,
    (_OFFERING, "no_ack"): _ENDED,
    (_OFFERING, "refused"): _ENDED,
    (_OFFERING, "ring_timeout"): _ENDED,
    (_RINGING, "ring_timeout"): _ENDED,
    (_OFFERING, "cancel"): _ENDED,
    (_RINGING, "cancel"): _ENDED,
    (_INCOMING, "answer"): _ACCEPTING,
    (_ACCEPTING, "confirmed"): _ACTIVE,
    (_ACCEPTING, "terminated"): _ENDED,
    (_ACCEPTING, "ring_timeout"): _ENDED,
    (_ACCEPTING, "hang_up"): _ENDED,
    (_ACCEPTING, "link_lost"): _ENDED,
    (_INCOMING, "reject"): _ENDED,
    (_INCOMING, "terminated"): _ENDED,
    (_INCOMING, "ring_timeout"): _ENDED,
    (_INCOMING, "key_failed"): _ENDED,
    (_ACTIVE, "hang_up"): _ENDED,
    (_ACTIVE, "terminated"): _ENDED,
    (_ACTIVE, "max_duration"): _ENDED,
    (_OFFERING, "link_lost"): _ENDED,
    (_RINGING, "link_lost"): _ENDED,
    (_INCOMING, "link_lost"): _ENDED,
    (_ACTIVE, "link_lost"): _ENDED,
}

# Terminate reasons a ringing callee reads as "someone else handled it" (the model's
# *_elsewhere tokens); every other reason, or none, leaves a missed call.
_ELSEWHERE = {"accepted_elsewhere": "answered_elsewhere", "rejected_elsewhere": "declined_elsewhere"}

_KEY_LEN = const(32)
_CLOSED_KEPT = const(32)  # closed call-ids remembered, so late stanzas are acked and ignored
_RESENDS_KEPT = const(4)  # unacked stanzas held for retransmission, at most one per call
# one held stanza: [call-id, stanza, sends so far, ticks_ms deadline of the next send]
_R_CALL = const(0)
_R_STANZA = const(1)
_R_SENT = const(2)
_R_DUE = const(3)
REASON_MAX_DURATION = "max_duration"  # Portier's reason for the maximum-call-duration hang-up
REASON_CONNECTION_LOST = "connection_lost"  # the link (past its grace) or the peer's media is gone

# leg states of one callee device, on the caller's side
_LEG_OFFERED = const(0)
_LEG_RINGING = const(1)
_LEG_BUSY = const(2)
_LEG_FAILED = const(3)  # the device could not take the call (its key did not open)
_LEG_DONE = const(4)
REASON_ERROR = "error"  # Portier's reject reason for a device that cannot take the call
# What the engine hands to the call log must fit it (calllog's peer and reason bounds): an
# event the log refused would be an exception at the edge for every call from that peer.
REASON_MAX = const(32)
PEER_MAX = const(96)


class CallError(ValueError):
    """An intent that is not legal now (answering a call that is not ringing, say)."""


class Event:
    """Something the app must act on. kind: "ringing", "answered", "media" or "ended"."""

    def __init__(self, kind, call_id, direction, peer, **info):
        self.kind = kind
        self.call_id = call_id
        self.direction = direction  # "out" (we placed it) or "in"
        self.peer = peer  # the device at the other end (the household's JID before an answer)
        self.outcome = info.get("outcome")  # "ended": one of calllog.OUTGOING / INCOMING
        self.reason = info.get("reason")
        self.duration_s = info.get("duration_s", 0)
        self.call_key = info.get("call_key")  # "media" only: 32 bytes, for SRTP key derivation
        self.codec = info.get("codec")  # "media" only: (name, rate)
        self.relay = info.get("relay")  # "media" only: the relay block, or None

    def __repr__(self):
        return "Event(%s %s %s %s %s)" % (self.kind, self.call_id, self.direction, self.peer,
                                          self.outcome or "")


class _Call:
    def __init__(self, call_id, creator, direction, peer, state, now_ms):
        self.id = call_id
        self.creator = creator
        self.direction = direction
        self.peer = peer
        self.state = state
        self.started_ms = now_ms
        self.answered_ms = None
        self.legs = {}  # caller: device -> _LEG_*
        self.call_key = None
        self.leg_keys = None  # caller, while it rings: device -> that device's call key
        self.enc = None  # callee: our wrapped key from the offer, opened only on answer
        self.relay = None
        self.codec = None
        self.offer = None  # caller: kept for retransmission
        self.tries = 0
        self.timers = {}  # name -> ticks_ms deadline


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
        self._resends = []  # [call-id, stanza, sends, due] awaiting the peer's ack, oldest first
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
        for call in self._calls.values():
            for t in call.timers.values():
                if best is None or time.ticks_diff(t, best) < 0:
                    best = t
        for r in self._resends:
            if best is None or time.ticks_diff(r[_R_DUE], best) < 0:
                best = r[_R_DUE]
        return best

    def current(self):
        """The call that is not ended (there is at most one), or None."""
        for call in self._calls.values():
            return call
        return None

    def answered_call(self):
        """The current call once answered and confirmed (media may flow), or None. Its id,
        creator, direction and peer (the answering device) are what portier.unlock checks."""
        call = self.current()
        return call if call is not None and call.state == _ACTIVE else None

    def state_of(self, call_id):
        call = self._calls.get(call_id)
        if call is not None:
            return call.state
        return _ENDED if call_id in self._closed else None

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
        call = _Call(new_id(), self.me, "out", to, _OFFERING, now_ms)
        call.leg_keys = leg_keys
        for device in devices:
            call.legs[device] = _LEG_OFFERED
        if len(dest) == 1:  # the model: a single device gets a bare <enc>, addressed to it
            call.offer = _stanza("offer", call, audio=self.audio, enc=dest[0][1], to=devices[0])
        else:
            call.offer = _stanza("offer", call, audio=self.audio, destination=dest, to=to)
        self._calls[call.id] = call
        self._send_offer(call, now_ms)
        call.timers["ring"] = time.ticks_add(now_ms, self.ring_timeout_ms)
        return call.id

    def answer(self, call_id, now_ms):
        call = self._intent(call_id, "answer")
        try:
            call_key = self.keys.unwrap(call.peer, call.enc.type, call.enc.ciphertext)
            if len(call_key) != _KEY_LEN:
                raise ValueError("call key of %d bytes" % len(call_key))
        except ValueError as e:  # a key we cannot open: the call cannot be taken
            # Like "busy", this ends only our leg: another device may still answer.
            self._end(call, "key_failed", "failed", ("key: %s" % e)[:REASON_MAX], now_ms)
            self._send_acked(call.id, _stanza("reject", call, reason=REASON_ERROR, to=call.peer),
                             now_ms)
            return
        self._move(call, "answer")
        call.call_key = call_key
        self._send_acked(call.id, _stanza("accept", call, audio=[call.codec], to=call.peer), now_ms)
        # Media waits for the caller's <transport>: when two devices answer at once, only the
        # one the caller picked binds its relay leg (the caller's binds name it) or holds a key.

    def reject(self, call_id, now_ms, busy=False):
        call = self._intent(call_id, "reject")
        # The model's decline is an empty <reject>; "busy" ends only this device's leg.
        self._end(call, "reject", "busy" if busy else "declined", None, now_ms)
        self._send_acked(call.id, _stanza("reject", call, reason="busy" if busy else None,
                                          to=call.peer), now_ms)

    def hang_up(self, call_id, now_ms, reason=None):
        """reason: of an answered call's terminate and log entry; the app gives
        REASON_CONNECTION_LOST when the peer's media stopped (docs/protocol.md 8.3)."""
        call = self._calls.get(call_id)
        if call is None:
            raise CallError("no call %s" % call_id)
        if call.state == _INCOMING:
            return self.reject(call_id, now_ms)
        if call.state == _ACTIVE or call.state == _ACCEPTING:
            terminate = _stanza("terminate", call, reason=reason,
                                duration=self._duration_s(call, now_ms), to=call.peer)
            self._end(call, "hang_up", "answered", reason, now_ms)
            self._send_acked(call.id, terminate, now_ms)
            return None
        self._terminate_legs(call, "cancelled", None)
        self._end(call, "cancel", "cancelled", "cancelled", now_ms)
        return None

    def link_lost(self, now_ms):
        """The signalling link stayed down past the app's grace period: every call ends, and
        nothing can be sent about it."""
        for call in list(self._calls.values()):
            outcome = {_ACTIVE: "answered", _INCOMING: "missed", _ACCEPTING: "missed"}.get(
                call.state, "failed")
            self._end(call, "link_lost", outcome, REASON_CONNECTION_LOST, now_ms)
        self._resends = []  # past the grace: the link's outbox has dropped them too

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
        call = self._calls.get(msg.call_id)
        if call is None or call.creator != msg.call_creator:
            self.ignored += 1  # unknown action, unknown or closed call: acked, ignored
            return None
        handler = _HANDLERS.get(action)
        if handler is None:
            self.ignored += 1
            return None
        return handler(self, call, msg, now_ms)

    def _on_ack(self, ack, now_ms):
        for call in self._calls.values():
            if call.state == _OFFERING and call.offer.stanza_id == ack.stanza_id:
                if ack.error_code is not None:
                    return self._end(call, "refused", "failed", "error %d" % ack.error_code, now_ms)
                call.relay = ack.relay
                call.timers.pop("ack", None)
                call.offer = None  # acked: never sent again, so not held through the call
                return self._move(call, "acked")
        self._drop_resend(ack.stanza_id, None)
        return None  # acks of everything else need nothing beyond that

    def _on_receipt(self, receipt):
        call = self._calls.get(receipt.call_id)
        if call is not None and call.direction == "out" and receipt.of == "offer":
            self._ringing(call, receipt.frm)

    def _on_offer(self, offer, now_ms):
        caller = offer.frm or offer.call_creator
        if offer.stanza_id is None or caller is None or len(caller) > PEER_MAX:
            # No id: no receipt can name it. An overlong JID is no device's, and would not fit
            # the call log. Acked already when it had an id; it never rings.
            self.ignored += 1
            return None
        call = self._calls.get(offer.call_id)
        if call is not None or offer.call_id in self._closed:
            if call is not None and call.direction == "in":  # a retransmission: receipt again
                self._send(_receipt(offer, caller))
            else:
                self.ignored += 1
            return None
        enc = self._my_enc(offer)
        codec = self._pick_codec(offer)
        if enc is None or codec is None:
            self.ignored += 1  # not for us, or nothing we can play: let it ring out elsewhere
            return None
        self._send(_receipt(offer, caller))
        if self._calls:  # one call at a time: a door is busy while it talks
            self._log_only(offer.call_id, caller, "busy", now_ms)
            self._send_acked(offer.call_id, st.Stanza(
                "reject", call_id=offer.call_id, call_creator=offer.call_creator, reason="busy",
                to=caller, stanza_id=new_id()), now_ms)
            return None
        call = _Call(offer.call_id, offer.call_creator, "in", caller, _INCOMING, now_ms)
        call.enc = enc
        call.codec = codec
        call.relay = offer.relay
        self._calls[call.id] = call
        self._send(_stanza("preaccept", call, audio=[codec], to=caller))
        # The caller ends an unanswered call; this guard only covers a caller that vanished.
        call.timers["ring"] = time.ticks_add(now_ms, self.ring_timeout_ms + self.ack_timeout_ms)
        self._emit("ringing", call, caller)
        if caller in self.auto_answer:
            self.answer(call.id, now_ms)
        return None

    def _on_preaccept(self, call, msg, now_ms):
        if call.direction == "out":
            self._ringing(call, msg.frm)

    def _on_accept(self, call, msg, now_ms):
        device = msg.frm
        if call.direction != "out" or call.legs.get(device) not in (_LEG_OFFERED, _LEG_RINGING):
            self.ignored += 1  # a late second accept: its device already has accepted_elsewhere
            return
        call.codec = self._codec_from(msg.audio)
        call.legs[device] = _LEG_DONE
        call.call_key = call.leg_keys[device]  # the answerer's own key; the others' are gone
        call.leg_keys = None
        self._move(call, "accepted")
        self._terminate_legs(call, "accepted_elsewhere", device)
        # The model's relay-choice <transport> (type 1) tells the winner to start its media.
        self._send_acked(call.id, _stanza("transport", call, message_type=1, to=device), now_ms)
        self._activate(call, device, now_ms)

    def _on_transport(self, call, msg, now_ms):
        if call.direction != "in" or call.state != _ACCEPTING or msg.frm != call.peer:
            self.ignored += 1  # only the caller's confirmation of our accept counts
            return
        self._move(call, "confirmed")
        self._drop_resend(None, call.id)  # the caller had our accept: its ack is moot
        self._activate(call, call.peer, now_ms)

    def _on_reject(self, call, msg, now_ms):
        device = msg.frm
        if call.direction != "out" or call.legs.get(device) not in (_LEG_OFFERED, _LEG_RINGING):
            self.ignored += 1  # not ringing there (any more): a late or duplicate reject
            return
        if msg.reason == "busy" or msg.reason == REASON_ERROR:
            call.legs[device] = _LEG_BUSY if msg.reason == "busy" else _LEG_FAILED
            legs = call.legs.values()
            if all(s == _LEG_BUSY or s == _LEG_FAILED for s in legs):
                outcome = "busy" if _LEG_BUSY in legs else "failed"
                self._end(call, "all_busy", outcome, msg.reason, now_ms)
            return
        call.legs[device] = _LEG_DONE
        self._terminate_legs(call, "rejected_elsewhere", device)
        self._end(call, "declined", "declined", msg.reason, now_ms)

    def _on_terminate(self, call, msg, now_ms):
        if call.direction == "out" and call.state != _ACTIVE:
            self.ignored += 1  # callees never terminate an unanswered call; they reject
            return
        if msg.frm != call.peer:
            self.ignored += 1  # only the other end of the call can end it
            return
        if call.state == _ACTIVE:
            self._end(call, "terminated", "answered", msg.reason, now_ms)
            return
        # Still ringing here, or our accept crossed the caller's terminate: never connected.
        outcome = _ELSEWHERE.get(msg.reason, "missed")
        self._end(call, "terminated", outcome, msg.reason, now_ms)

    # ---- timers ----

    def on_timer(self, now_ms):
        for call in list(self._calls.values()):
            for name in list(call.timers):
                t = call.timers.get(name)
                if t is not None and time.ticks_diff(now_ms, t) >= 0 and call.id in self._calls:
                    del call.timers[name]
                    _TIMERS[name](self, call, now_ms)
        for r in list(self._resends):
            if time.ticks_diff(now_ms, r[_R_DUE]) >= 0 and r in self._resends:
                self._resend(r, now_ms)

    def _ack_timer(self, call, now_ms):
        if call.tries >= self.offer_tries:
            self._terminate_legs(call, "cancelled", None)
            self._end(call, "no_ack", "failed", "no_ack", now_ms)
        else:
            self._send_offer(call, now_ms)

    def _ring_timer(self, call, now_ms):
        if call.direction == "out":
            self._terminate_legs(call, "timeout", None)
            self._end(call, "ring_timeout", "unanswered", "timeout", now_ms)
        else:
            self._end(call, "ring_timeout", "missed", "timeout", now_ms)

    def _max_timer(self, call, now_ms):
        terminate = _stanza("terminate", call, reason=REASON_MAX_DURATION,
                            duration=self._duration_s(call, now_ms), to=call.peer)
        self._end(call, "max_duration", "answered", REASON_MAX_DURATION, now_ms)
        self._send_acked(call.id, terminate, now_ms)

    # ---- retransmission of what the peer must ack (docs/protocol.md 8.3) ----

    def _send_acked(self, call_id, stanza, now_ms):
        """Send a stanza the peer must ack and hold it until the ack comes: it replaces the
        call's held one (a call holds at most one), the oldest of other calls goes when too
        many are held."""
        self._send(stanza)
        if self.resend_tries <= 1:
            return
        self._drop_resend(None, call_id)
        if len(self._resends) >= _RESENDS_KEPT:
            self._resends.pop(0)
        self._resends.append([call_id, stanza, 1, time.ticks_add(now_ms, self.resend_ms)])

    def _resend(self, r, now_ms):
        # the same stanza, same id: a receiver that had it acks again and changes nothing
        self._send(r[_R_STANZA])
        r[_R_SENT] += 1
        if r[_R_SENT] >= self.resend_tries:
            self._resends.remove(r)  # the last try: nothing is left to do without an ack
        else:
            r[_R_DUE] = time.ticks_add(now_ms, self.resend_ms << (r[_R_SENT] - 1))

    def _drop_resend(self, stanza_id, call_id):
        for r in self._resends:
            if r[_R_CALL] == call_id or (stanza_id is not None
                                         and r[_R_STANZA].stanza_id == stanza_id):
                self._resends.remove(r)
                return

    # ---- helpers ----

    def _move(self, call, move):
        nxt = _NEXT.get((call.state, move))
        if nxt is None:
            raise CallError("%s in state %d" % (move, call.state))
        call.state = nxt

    def _intent(self, call_id, move):
        call = self._calls.get(call_id)
        if call is None or (call.state, move) not in _NEXT:
            raise CallError("cannot %s call %s now" % (move, call_id))
        return call

    def _send(self, stanza):
        self._out.append(stanza)

    def _emit(self, kind, call, peer, **info):
        self._events.append(Event(kind, call.id, call.direction, peer, **info))

    def _send_offer(self, call, now_ms):
        call.tries += 1
        self._send(call.offer)  # same stanza id: the switchboard drops the duplicate fan-out
        call.timers["ack"] = time.ticks_add(now_ms, self.ack_timeout_ms)

    def _ringing(self, call, device):
        if call.legs.get(device) == _LEG_OFFERED:
            call.legs[device] = _LEG_RINGING
            self._emit("ringing", call, device)

    def _terminate_legs(self, call, reason, except_device):
        for device, leg in call.legs.items():
            if device != except_device and leg in (_LEG_OFFERED, _LEG_RINGING):
                call.legs[device] = _LEG_DONE
                self._send(_stanza("terminate", call, reason=reason, to=device))

    def _activate(self, call, device, now_ms):
        call.peer = device
        call.answered_ms = now_ms
        call.timers.pop("ring", None)
        call.timers.pop("ack", None)
        call.timers["max"] = time.ticks_add(now_ms, self.max_call_ms)
        self._emit("answered", call, device)
        self._emit("media", call, device, call_key=call.call_key, codec=call.codec, relay=call.relay)
        # What set the call up is the media event's now: not held through the call (~2 KB).
        call.offer = call.relay = call.enc = None

    def _duration_s(self, call, now_ms):
        if call.answered_ms is None:
            return 0
        return time.ticks_diff(now_ms, call.answered_ms) // 1000

    def _end(self, call, move, outcome, reason, now_ms):
        self._move(call, move)
        self._drop_resend(None, call.id)  # an accept or transport about it is moot now
        del self._calls[call.id]
        self._remember_closed(call.id)
        call.call_key = call.leg_keys = None  # nothing keyed outlives the call
        self._emit("ended", call, call.peer, outcome=outcome, reason=reason,
                   duration_s=self._duration_s(call, now_ms))

    def _log_only(self, call_id, peer, outcome, now_ms):
        call = _Call(call_id, None, "in", peer, _ENDED, now_ms)
        self._remember_closed(call_id)
        self._emit("ended", call, peer, outcome=outcome, reason=outcome)

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
_TIMERS = {
    "ack": CallEngine._ack_timer,
    "ring": CallEngine._ring_timer,
    "max": CallEngine._max_timer,
}
