# A switchboard in miniature for engine tests: routes stanzas between CallEngines by JID, fans
# a household offer out to its devices, acks offers with a relay block, and passes every stanza
# through the real wire codec (build -> encode -> decode -> parse), so the engines only ever see
# what would really arrive.
from portier.signaling import stanzas as st
from portier.wire import stanza as wire

HOUSEHOLD = "home@portier"
SWITCHBOARD = "switchboard"
RELAY = st.Stanza("relay", uuid="R1", self_pid=1, peer_pid=2, key=b"k" * 16, hbh_key=b"h" * 30,
                  tokens=[(0, b"t" * 33)],
                  endpoints=[st.Stanza("te2", address=b"\x7f\x00\x00\x01\x0d\x96")])


class FakeKeys:
    """Stands in for the Signal layer: reversible, device-bound, and it counts unwraps."""

    def __init__(self, me):
        self.me = me
        self.unwrapped = 0
        self.fail = False

    def wrap(self, device, call_key):
        return "msg", device.encode() + b"|" + bytes(call_key)

    def unwrap(self, sender, enc_type, ciphertext):
        self.unwrapped += 1
        if self.fail:
            raise ValueError("bad mac")
        device, _, key = bytes(ciphertext).partition(b"|")
        assert device.decode() == self.me, "key wrapped for another device"
        return key


def wire_copy(msg, frm):
    node = st.build(msg)
    if frm is not None:  # the switchboard stamps the authenticated sender; its own acks carry none
        node.attrs["from"] = frm
    return st.parse(wire.decode(wire.encode(node)))


def route(sender, msg, fan_out=True):
    """Where the switchboard sends msg from sender: [(receiver, stanza)]. An offer is acked to
    its sender with the relay block and, when fan_out, copied to each device with its own enc."""
    if msg.action != "offer":
        return [(msg.to, msg)]
    out = []
    if fan_out:
        targets = [(msg.to, msg.enc)] if msg.enc is not None else msg.destination
        for device, enc in targets:
            out.append((device, st.Stanza("offer", call_id=msg.call_id,
                                          call_creator=msg.call_creator, audio=msg.audio,
                                          enc=enc, to=device, stanza_id=msg.stanza_id,
                                          relay=RELAY)))
    out.append((sender, st.Stanza("ack", stanza_id=msg.stanza_id, to=sender, relay=RELAY)))
    return out


class Net:
    def __init__(self, engines, drop=None):
        self.engines = dict((e.me, e) for e in engines)  # jid -> engine
        self.log = []  # (sender, receiver, action) as routed
        self.drop = drop  # function(sender, receiver, msg) -> True to lose it
        self.seen_offers = set()

    def _deliver(self, sender, receiver, msg, now):
        if receiver not in self.engines:
            return
        if self.drop is not None and self.drop(sender, receiver, msg):
            return
        self.log.append((sender, receiver, msg.action))
        self.engines[receiver].handle(wire_copy(msg, None if sender == SWITCHBOARD else sender), now)

    def _route(self, sender, msg, now):
        first = msg.action != "offer" or msg.stanza_id not in self.seen_offers
        if msg.action == "offer":
            self.seen_offers.add(msg.stanza_id)  # a retransmission is acked, not re-fanned
        for receiver, copy in route(sender, msg, first):
            self._deliver(sender if receiver != sender else SWITCHBOARD, receiver, copy, now)

    def pump(self, now):
        """Deliver until every engine is quiet."""
        busy = True
        while busy:
            busy = False
            for jid, engine in list(self.engines.items()):
                for msg in engine.pending():
                    busy = True
                    self._route(jid, msg, now)

    def tick(self, now):
        for engine in self.engines.values():
            d = engine.next_deadline()
            if d is not None:
                engine.on_timer(now)
        self.pump(now)


def ring(door, phones, net, now=1000):
    """The door rings the household's phones; the network delivers until quiet."""
    call_id = door.place_call(HOUSEHOLD, [p.me for p in phones], now)
    net.pump(now)
    return call_id


def only(events, kind):
    """The single event of that kind (the test fails if there is none or more)."""
    found = [e for e in events if e.kind == kind]
    assert len(found) == 1, events
    return found[0]
