"""The call engine under random interleavings: hypothesis drives a door and three phones
through calls while the network reorders, duplicates and drops stanzas and time jumps.

Invariants, checked after every step and once everything settles:
- at most one unfinished call per party;
- no party ever gets the media key of a call it did not answer or that was not answered by it;
- both ends of an answered call hold the same call key;
- each party ends each call it took part in exactly once (one log entry), retransmitted
  accepts, transports, rejects and terminates included, and, once the
  network is quiet and the clocks have run past every timeout, no call is left open;
- hostile stanzas (issue 14) from household devices, a stranger and an overlong JID, as a
  compromised switchboard could deliver them: offers whose key cannot open, offers without an
  id, any action naming a live or unknown call from any sender, in any state. The app keeps
  running: handle() never raises, everything an engine queues goes through the wire codec, and
  every call-log entry it makes fits the real call log (portier.signaling.calllog).
"""

import sys

from hypothesis import settings
from hypothesis import strategies as hs
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from portier_host import paths

paths.use_firmware()
sys.path.insert(0, paths.REPO + "/tests/core")

from enginenet import HOUSEHOLD, RELAY, FakeKeys, route, wire_copy  # noqa: E402
from portier.signaling import calllog  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402
from portier.signaling.engine import CallEngine  # noqa: E402
from portier.wire import stanza as wire  # noqa: E402

DOOR = "door:1@home"
PHONES = ["anna:1@home", "ben:1@home", "cleo:2@home"]
EVE = "eve:9@home"  # no engine here: a device the test does not run, or a forged sender
LONG = "e" * 120 + ":1@home"  # longer than any device's JID (and than the call log's peer)
HOSTILE = ["offer_bad_key", "offer_no_id", "offer", "accept", "reject", "terminate",
           "transport", "preaccept", "relaylatency", "unlock", "unknown"]
RING_MS = 30000
MAX_MS = 120000


class Calls(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.now = 0
        self.engines = {}
        for jid in [DOOR] + PHONES:
            self.engines[jid] = CallEngine(jid, FakeKeys(jid), ring_timeout_ms=RING_MS,
                                           max_call_ms=MAX_MS)
        self.queue = []  # (receiver, parsed stanza) in flight
        self.lossy = False
        self.ended = {}  # (party, call_id) -> count
        self.took_part = set()  # (party, call_id)
        self.keys = {}  # (party, call_id) -> call key from "media"
        self.outcomes = {}  # (party, call_id) -> outcome
        self.logs = dict((jid, calllog.CallLog(None, 50)) for jid in self.engines)
        self.hostile_n = 0

    # ---- the network ----

    def _collect(self):
        for jid, engine in self.engines.items():
            for msg in engine.pending():
                for receiver, copy in self._route(jid, msg):
                    self.queue.append((receiver, copy))
            for ev in engine.events():
                self._record(jid, ev)

    def _route(self, sender, msg):
        out = []
        for receiver, copy in route(sender, msg):
            if receiver in self.engines:
                frm = None if copy.action == "ack" and msg.action == "offer" else sender
                out.append((receiver, wire_copy(copy, frm)))
        return out

    def _record(self, party, ev):
        if ev.kind == "unlock":  # admitted only from the answerer of the call party placed
            call = self.engines[party].answered_call()
            if ev.reason is None:
                assert call is not None and call.creator == party, (party, ev)
                assert (ev.peer, ev.call_id) == (call.peer, call.id), (party, ev, call.peer)
            return
        key = (party, ev.call_id)
        self.took_part.add(key)
        if ev.kind == "ended":
            self.ended[key] = self.ended.get(key, 0) + 1
            self.outcomes[key] = ev.outcome
            # what the app does with it: raises CallLogError for a peer or reason that won't fit
            self.logs[party].add(ev.direction, ev.peer, ev.outcome, ev.reason, 0, ev.duration_s)
        elif ev.kind == "media":
            self.keys[key] = ev.call_key

    # ---- rules ----

    @rule(lossy=hs.booleans())
    def set_network(self, lossy):
        self.lossy = lossy

    @precondition(lambda self: self.engines[DOOR].current() is None)
    @rule(n=hs.integers(1, 3))
    def door_rings(self, n):
        self.engines[DOOR].place_call(HOUSEHOLD, PHONES[:n], self.now)
        self._collect()

    @rule(i=hs.integers(0, 2))
    def phone_calls_door(self, i):
        phone = self.engines[PHONES[i]]
        if phone.current() is None:
            phone.place_call(DOOR, [DOOR], self.now)
            self._collect()

    @rule(who=hs.sampled_from([DOOR] + PHONES), act=hs.sampled_from(["answer", "reject", "hang_up"]))
    def user_acts(self, who, act):
        engine = self.engines[who]
        call = engine.current()
        if call is None:
            return
        try:
            getattr(engine, act)(call.id, self.now)
        except ValueError:  # CallError: not legal in this state, and nothing changed
            pass
        self._collect()

    @precondition(lambda self: self.queue)
    @rule(data=hs.data())
    def network_step(self, data):
        i = data.draw(hs.integers(0, len(self.queue) - 1))
        fate = data.draw(hs.sampled_from(["deliver", "drop", "dup"])) if self.lossy else "deliver"
        receiver, msg = self.queue.pop(i)  # any order: the network reorders
        if fate == "drop":
            return
        if fate == "dup":
            self.queue.append((receiver, msg))
        self.engines[receiver].handle(msg, self.now)
        self._collect()

    @rule(data=hs.data())
    def hostile_stanza(self, data):
        receiver = data.draw(hs.sampled_from([DOOR] + PHONES))
        engine = self.engines[receiver]
        live = sorted(engine._calls)
        call_id = data.draw(hs.sampled_from(live + ["EVE0000000000001"]))
        call = engine._calls.get(call_id)
        sender = data.draw(hs.sampled_from(PHONES + [DOOR, EVE, LONG]))
        kind = data.draw(hs.sampled_from(HOSTILE))
        node = self._hostile_node(data, kind, receiver, sender, call_id, call)
        if node is None:
            return
        node.attrs["from"] = sender  # as the switchboard stamps it
        try:
            msg = st.parse(wire.decode(wire.encode(node)))
        except ValueError:  # malformed: the app logs and drops it before the engine
            return
        self.hostile_n += 1
        engine.handle(msg, self.now)  # must not raise: the app would lose the link
        self._collect()

    def _hostile_node(self, data, kind, receiver, sender, call_id, call):
        creator = call.creator if call is not None and data.draw(hs.booleans()) else sender
        if kind.startswith("offer"):
            size = 32 if kind == "offer" else data.draw(hs.sampled_from([-1, 0, 5, 31, 33]))
            # FakeKeys: a key of the wrong size fails, and so does a device name that is not
            # UTF-8 (with a message as long as the real Signal layer's)
            key = (receiver.encode() if size >= 0 else b"\xff\xfe") + b"|" + bytes(max(size, 32))
            node = st.Stanza("offer", call_id=call_id, call_creator=sender, audio=[("pcmu", 8000)],
                             enc=st.enc(key, "msg"), relay=RELAY, to=receiver,
                             stanza_id="H%d" % self.hostile_n).to_node()
            if kind == "offer_no_id":
                del node.attrs["id"]
            return node
        if kind == "unlock":
            return st.Stanza("unlock", call_id=call_id, call_creator=creator, to=receiver,
                             enc=st.enc(b"\x33junk", "msg"), stanza_id="H%d" % self.hostile_n).to_node()
        node = st.Stanza("terminate", call_id=call_id, call_creator=creator, reason="timeout",
                         to=receiver, stanza_id="H%d" % self.hostile_n).to_node()
        node.content[0].tag = kind  # that action, with a terminate's shape (often malformed)
        if kind in ("accept", "transport", "preaccept", "relaylatency") and call is not None:
            # well-formed where the real stanza would be: built from the call's own pieces
            fields = dict(call_id=call_id, call_creator=creator, to=receiver,
                          stanza_id="H%d" % self.hostile_n)
            try:
                node = st.Stanza(kind, **fields).to_node()
            except (ValueError, TypeError):
                pass
        return node

    @rule(ms=hs.integers(1, 40000))
    def time_passes(self, ms):
        self.now += ms
        for engine in self.engines.values():
            engine.on_timer(self.now)
        self._collect()

    # ---- invariants ----

    @invariant()
    def one_call_each_and_keys_only_when_answered(self):
        for jid, engine in self.engines.items():
            assert len(engine._calls) <= 1, jid
            held = [t[1] for t in engine._timers if t[3] is not None]  # call-ids of held stanzas
            assert len(held) == len(set(held)) <= 4, (jid, held)  # one per call, a few calls
        for (party, call_id), key in self.keys.items():
            assert len(key) == 32
            for (other, cid), k2 in self.keys.items():
                if cid == call_id:
                    assert k2 == key, "the two ends hold different keys"
        for key, count in self.ended.items():
            assert count == 1, "%s ended %d times" % (key, count)

    def teardown(self):
        # Settle: deliver everything left, then let every timer run out.
        self.lossy = False
        for _ in range(3):
            while self.queue:
                receiver, msg = self.queue.pop(0)
                self.engines[receiver].handle(msg, self.now)
                self._collect()
            self.now += MAX_MS + RING_MS + 10000
            for engine in self.engines.values():
                engine.on_timer(self.now)
            self._collect()
        for jid, engine in self.engines.items():
            assert engine.current() is None, "%s still in a call" % jid
        for key in self.took_part:
            assert self.ended.get(key) == 1, "%s never ended exactly once" % (key,)
        by_call = {}
        for (party, call_id) in self.keys:
            by_call.setdefault(call_id, []).append(party)
            # media keys only ever reach the two ends of an answered call
            assert self.outcomes[(party, call_id)] == "answered", (party, call_id)
        for call_id, parties in by_call.items():
            assert len(parties) <= 2, parties


Calls.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestCalls = Calls.TestCase
