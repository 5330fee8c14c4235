"""A compromised switchboard invents a device (docs/security.md, issue 13 attack 1): a JID
nobody provisioned, a Signal identity of its own, a session to the door from the door's bundle
in its database, and a <pair> (without an authorisation, with a forged one, and with a real
phone's authorisation replayed). The door (real firmware on MicroPython, switchboard as
shipped) must not pair it: no `paired` line, no slot, no session, no call key wrapped to it,
its accept does not answer the door's call and its unlock is refused before the PIN is looked
at. Real phones still pair and ring."""

import asyncio
import json
import os
import sys

from portier_host import paths

paths.use_firmware()
from portier.e2e import E2eError, callkey  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from attackrig import Rig, msg_of, until  # noqa: E402

EVE = "eve:9@home"


def _paired_lines(rig, jid):
    return [d for d in rig.door_lines() if d.get("msg") == "paired" and d.get("device") == jid]


def _answers(rig):
    """The door's reactions to a <pair>: paired, refused, or dropped as malformed."""
    return [d for d in rig.door_lines() if d.get("msg") in ("paired", "pair failed", "bad stanza")
            and d.get("device", EVE).startswith("eve")]


def test_switchboard_cannot_pair_a_device_it_invents(tmp_path):
    async def body():
        rig = await Rig(phones=2, workdir=str(tmp_path)).start()
        try:
            door = rig.door_jid
            anna = rig.phones[0].party.jid
            # a real phone's <pair> as the switchboard saw it: its <auth>, if it has one
            real = [n for s, r, n in rig.routed if s == anna and n.tag == "pair"]
            assert real, "the phone's pairing went through the switchboard"
            auths = [k.content for k in real[0].content if k.tag == "auth"]
            variants = [None, bytes(36), os.urandom(36)] + auths[:1]
            eve = rig.phantom()
            for i, auth in enumerate(variants):
                rig.phantom_pair(eve, EVE, "EVE%d" % i, auth)
                await rig.door_wait(lambda d, i=i: len(_answers(rig)) > i,
                                    what="the door's answer to pair %d" % i)
            assert _paired_lines(rig, EVE) == []
            # 17 more made-up devices: none takes a slot or a session
            for i in range(17):
                rig.phantom_pair(rig.phantom(), "eve:%d@home" % (20 + i), "F%d" % i)
            await rig.door_wait(lambda d: len(_answers(rig)) >= len(variants) + 17, what="pair 17")
            paired_file = os.path.join(rig.sim.workdir, "door", "paired.json")
            with open(paired_file) as f:
                text = f.read()
            assert "eve" not in text, text
            sessions = [n for n in os.listdir(os.path.join(rig.sim.workdir, "door", "keys"))
                        if n.startswith("ses-")]
            assert len(sessions) == 2, sessions  # anna's and ben's only

            # the door rings: its offer wraps the call key to the real phones only
            await rig.sim.door.command("press")
            await until(lambda: rig.door_offers())
            offer, encs = rig.door_offers()[0]
            assert sorted(encs) == sorted(p.party.jid for p in rig.phones), sorted(encs)
            for enc in encs.values():  # and no enc there opens in eve's session
                try:
                    callkey.unwrap(eve, door, enc.type, enc.ciphertext)
                    raise AssertionError("eve opened a call key")
                except E2eError:
                    pass
            await until(lambda: all(p.app.engine.current() is not None for p in rig.phones))
            # eve "answers" first: the door does not take it
            accept = st.Stanza("accept", call_id=offer.call_id, call_creator=offer.call_creator,
                               audio=[("pcmu", 8000)], to=door, stanza_id="EVEACC").to_node()
            n = len(rig.door_lines())
            rig.to_door(accept, EVE)
            await asyncio.sleep(1.0)
            assert not [d for d in rig.door_lines()[n:] if d.get("kind") == "answered"]
            # and her PIN guess is refused without being compared
            from portier import unlock as ul

            from portier.e2e import session
            enc_type, ct = session.encrypt(eve, door, ul.encode_request(offer.call_id, 1, "0000", 0))
            unlock = st.Stanza("unlock", call_id=offer.call_id, call_creator=offer.call_creator,
                               enc=st.enc(ct, enc_type), to=door, stanza_id="EVEUL").to_node()
            rig.to_door(unlock, EVE)
            refused = await rig.door_wait(msg_of("unlock refused"), what="unlock refused")
            assert refused["reason"] != "wrong_pin", refused
            await rig.sim.door.command("hangup")
            await rig.door_wait(lambda d: d.get("kind") == "ended", what="call end")
        finally:
            await rig.stop()
        calls = json.load(open(os.path.join(rig.sim.workdir, "door", "calls.json")))["calls"]
        assert all("eve" not in json.dumps(c) for c in calls)

    asyncio.run(asyncio.wait_for(body(), 150))
