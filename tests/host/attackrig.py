"""A household as shipped, for attack tests (docs/security.md): the simulator's set-up (the
door as the real firmware on MicroPython, phones as portier.app on CPython in this process,
the shipped switchboard with its in-process relay), plus what a compromised switchboard can do
with it: write any stanza into the door's link, read every stanza the door sends, and read the
bundles in its own database. The attacker code here uses only those powers."""

import asyncio

from portier_host import paths, sim

paths.use_firmware()
from portier.e2e import keys, session, x3dh  # noqa: E402
from portier.e2e.keys import Bundle  # noqa: E402
from portier.e2e.stores import MemoryStore  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402
from portier.wire import stanza as wire  # noqa: E402
from portier.wire._node import Node  # noqa: E402

PAIR_PLAINTEXT = b"portier-pair-1"  # docs/protocol.md 8.5


def msg_of(name):
    return lambda d: d.get("msg") == name


class Rig:
    """sim.Simulation's household with `phones` paired phones; .door_jid, .phones (PhoneRunner),
    .sb (the shipped Switchboard), .door_party (the door's log), .from_door (every stanza the
    door sent, as Nodes)."""

    def __init__(self, phones=2, ring_timeout_s=10, workdir=None):
        self.sim = sim.Simulation("answered", phones=phones, ring_timeout_s=ring_timeout_s,
                                  workdir=workdir)
        self.from_door = []
        self.routed = []  # (sender, receiver, node) as the switchboard routed them

    async def start(self):
        s = self.sim
        orig_trace = s._trace

        def trace(sender, receiver, node):
            self.routed.append((sender, receiver, wire.decode(wire.encode(node))))
            orig_trace(sender, receiver, node)

        s._trace = trace
        await s.start_household()
        self.sb = s.sb
        self.door_jid = s.parties["door"].jid
        self.door_party = s.parties["door"]
        self.phones = s.phones
        orig = self.sb._on_frame

        def on_frame(link, frame):
            if link.jid == self.door_jid:
                self.from_door.append(wire.decode(frame))
            return orig(link, frame)

        self.sb._on_frame = on_frame
        return self

    async def stop(self):
        await self.sim.stop_household()

    def door_lines(self):
        return [d for _, d in self.door_party.lines]

    async def door_wait(self, pred, timeout_s=20, what="door line"):
        return (await self.door_party.wait_for(pred, timeout_s, what))[1]

    # ---- the compromised switchboard's powers ----

    def to_door(self, node, frm):
        """Deliver node to the door as the switchboard would, `from` set to frm."""
        node.attrs["from"] = frm
        assert self.sb._links[self.door_jid].send(node)

    def door_bundle(self):
        """The door's prekey bundle, from the switchboard's own database."""
        dev = self.sb.db.device(self.door_jid)
        prekey = self.sb.db.take_prekey(self.door_jid) or (None, None)
        return Bundle(dev.registration_id, dev.identity_key, dev.signed_prekey_id,
                      dev.signed_prekey, dev.signature, prekey[0], prekey[1])

    def phantom(self):
        """A Signal identity the switchboard makes up, with a session to the door."""
        store = MemoryStore()
        keys.generate_identity(store)
        x3dh.initiate(store, self.door_jid, self.door_bundle())
        return store

    def phantom_pair(self, store, jid, sid, auth=None):
        """<pair> from a made-up device, with an <auth> body when given (forged or replayed)."""
        enc_type, ct = session.encrypt(store, self.door_jid, PAIR_PLAINTEXT)
        kids = [Node("enc", {"v": "2", "type": enc_type}, ct)]
        if auth is not None:
            kids.insert(0, Node("auth", None, auth))
        self.to_door(Node("pair", {"to": self.door_jid, "id": sid}, kids), jid)

    def door_offers(self):
        """The door's offers as it sent them: [(parsed offer, {device: enc})]."""
        out = []
        for node in self.from_door:
            if node.tag == "call" and node.content and node.content[0].tag == "offer":
                offer = st.parse(node)
                encs = dict(offer.destination or [(offer.to, offer.enc)])
                out.append((offer, encs))
        return out


async def until(pred, timeout_s=20):
    for _ in range(int(timeout_s * 50)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met within %d s" % timeout_s)
