"""The bridge's call semantics, sans-IO: the household call (the call engine's events) on one
side, the SIP legs on the other, and what each must do when the other moves. The edge
(bridge/app.py) feeds events in and carries the returned actions out; nothing here touches
SIP, sockets or the clock.

Door rings the household (engine "ringing", direction in): every SIP target is dialled at once
and rings together with the household's other devices.
  - the first SIP leg to answer answers the household call for the bridge; the other legs are
    cancelled with Reason: SIP;cause=200;text="Call completed elsewhere";
  - another household device answers (engine "ended" answered_elsewhere): every leg is
    cancelled with that same Reason, so the phone shows "answered elsewhere", not a missed call;
  - a SIP phone declines (603, 607) or another device declines: the whole household call is
    declined, as any device's decline does (docs/protocol.md, the rejected flow);
  - every leg busy or failing (486, 600, 404, 480, ...): the bridge alone declines as busy, so
    the other devices keep ringing;
  - the ring timeout (engine "ended" missed): the legs are cancelled (a missed call there too);
  - a hang-up on either side ends the other.
A SIP phone calls the bridge (its extension): the bridge calls the door (CALL_DOOR), answers
180 while the door rings, 200 when the door answers, and maps the door's refusal to a final
response: declined 603, busy 486, unanswered 480, failed 503. A second SIP call while one is
on gets 486.
DTMF `*` PIN `#` on the answered leg of a door call becomes the end-to-end unlock; its result
comes back as a tone on that leg.
"""

from .pin import PinCollector

# actions: tuples whose first item is one of these
DIAL = "dial"  # (DIAL, leg, target): INVITE the target
CANCEL = "cancel"  # (CANCEL, leg, cause, text): end an unanswered outgoing leg (cause None: no Reason)
HANG_UP = "hang_up"  # (HANG_UP, leg): BYE an answered leg
RING = "ring"  # (RING, leg): 180 Ringing to an incoming leg
ACCEPT = "accept"  # (ACCEPT, leg): 200 OK to an incoming leg
REFUSE = "refuse"  # (REFUSE, leg, code): a final error response to an incoming leg
ANSWER = "answer"  # (ANSWER, call_id): answer the household call
DECLINE = "decline"  # (DECLINE, call_id, busy): refuse the household call
END = "end"  # (END, call_id): hang up / cancel the household call
CALL_DOOR = "call_door"  # (CALL_DOOR,): place a household call to the door
UNLOCK = "unlock"  # (UNLOCK, pin): the end-to-end unlock request
TONE = "tone"  # (TONE, leg, name): play a result tone on a leg

ELSEWHERE = (200, "Call completed elsewhere")  # RFC 3326 Reason, as phones show it
DECLINED_ELSEWHERE = (603, "Declined")

_DIALING = "dialing"  # outgoing leg, not answered
_INCOMING = "incoming"  # a SIP phone's call to the door, not answered
_TALKING = "talking"

# SIP final codes of a dialled leg that decline the household call (all others: this device
# is busy or unreachable, the rest of the household keeps ringing)
_DECLINE_CODES = (603, 607)
# The door call's outcome -> the final response to the SIP phone that placed it
_REFUSAL = {"declined": 603, "busy": 486, "unanswered": 480, "failed": 503, "missed": 480}


class BridgeRules:
    def __init__(self):
        self.call_id = None  # the household call this bridge takes part in
        self.direction = None  # "in": the door calls; "out": a SIP phone called the door
        self.answered = False  # the household call is answered (by the bridge or its door)
        self.legs = {}  # leg -> state
        self.talking = None  # the leg connected to the household call
        self._next_leg = 0
        self._pin = None

    def busy(self):
        return self.direction is not None

    def _new_leg(self, state):
        self._next_leg += 1
        self.legs[self._next_leg] = state
        return self._next_leg

    def _reset(self):
        self.call_id = self.direction = self.talking = self._pin = None
        self.answered = False

    def _ours(self, call_id):
        if self.call_id is None and self.direction == "out":
            self.call_id = call_id  # the door call CALL_DOOR placed: its first event names it
        return call_id == self.call_id

    # ---- the household call (engine events) ----

    def household(self, kind, call_id, direction, outcome=None, targets=()):
        if kind == "ringing" and direction == "in" and self.direction is None:
            return self._door_rings(call_id, targets)
        if not self._ours(call_id):
            return []
        if kind == "ringing" and direction == "out":
            return [(RING, leg) for leg, s in self.legs.items() if s == _INCOMING]
        if kind == "answered":
            self.answered = True
            if direction == "out":  # the door took the SIP phone's call
                for leg, s in self.legs.items():
                    if s == _INCOMING:
                        self.legs[leg] = _TALKING
                        self.talking = leg
                        return [(ACCEPT, leg)]
            return []
        if kind == "ended":
            return self._household_ended(outcome)
        return []

    def _door_rings(self, call_id, targets):
        if not targets:  # nobody to ring: this device cannot take the call
            return [(DECLINE, call_id, True)]
        self.call_id = call_id
        self.direction = "in"
        self._pin = PinCollector()
        return [(DIAL, self._new_leg(_DIALING), t) for t in targets]

    def _household_ended(self, outcome):
        out = []
        for leg, state in list(self.legs.items()):
            if state == _TALKING:
                out.append((HANG_UP, leg))
            elif state == _DIALING:
                why = {"answered_elsewhere": ELSEWHERE,
                       "declined_elsewhere": DECLINED_ELSEWHERE}.get(outcome, (None, None))
                out.append((CANCEL, leg) + why)
            else:
                out.append((REFUSE, leg, _REFUSAL.get(outcome, 480)))
            del self.legs[leg]
        self._reset()
        return out

    # ---- the SIP legs ----

    def incoming(self):
        """A SIP phone calls the bridge. Returns (leg, actions)."""
        if self.direction is not None:
            leg = self._new_leg(_INCOMING)
            del self.legs[leg]
            return leg, [(REFUSE, leg, 486)]
        self.direction = "out"
        leg = self._new_leg(_INCOMING)
        return leg, [(CALL_DOOR,)]

    def leg_answered(self, leg):
        state = self.legs.get(leg)
        if state == _TALKING:  # the ACK of a SIP phone's call that the bridge accepted
            return []
        if state != _DIALING or self.talking is not None or self.answered:
            return [(HANG_UP, leg)]  # too late: another leg or device won
        self.legs[leg] = _TALKING
        self.talking = leg
        out = [(ANSWER, self.call_id)]
        for other, s in list(self.legs.items()):
            if other != leg and s == _DIALING:
                out.append((CANCEL, other) + ELSEWHERE)
                del self.legs[other]
        return out

    def leg_ended(self, leg, code=None):
        """A leg is over: hung up or cancelled by the SIP side, or refused with `code`. A leg
        the bridge itself ended is no longer known here: nothing follows."""
        state = self.legs.pop(leg, None)
        if state is None:
            return []
        if state == _TALKING or state == _INCOMING:
            self.talking = None
            return [(END, self.call_id)]  # None: the door call CALL_DOOR placed, not named yet
        if self.talking is not None or self.answered:
            return []
        if code in _DECLINE_CODES:
            out = [(DECLINE, self.call_id, False)]
            for other in list(self.legs):
                out.append((CANCEL, other) + DECLINED_ELSEWHERE)
                del self.legs[other]
            return out
        if not self.legs:  # the last ringing leg failed or was busy
            return [(DECLINE, self.call_id, True)]
        return []

    def dtmf(self, leg, digit, now_ms):
        if leg != self.talking or self.direction != "in" or self._pin is None:
            return []
        got = self._pin.feed(digit, now_ms)
        if got is None:
            return []
        if got[0] == "pin":
            return [(UNLOCK, got[1])]
        return [(TONE, leg, "bad_entry")]

    def unlock_result(self, result):
        if self.talking is None:
            return []
        return [(TONE, self.talking, result)]
