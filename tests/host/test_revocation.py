"""Revocation end to end (issue 13; docs/protocol.md 8.5): the door on real MicroPython, the
shipped switchboard, two phones. `portier devices remove` (its functions, with the household's
authority) takes ben off: the switchboard closes his link and refuses him, the door gets the
revocation, unpairs him and forgets his session, so he is no longer rung, his old authorisation
no longer pairs, and an unlock in his session (carried by a compromised switchboard) is refused.
A forged revocation changes nothing."""

import asyncio
import json
import os
import sys

from portier_host import devices, paths

paths.use_firmware()
from portier.e2e import session  # noqa: E402
from portier.signaling import linkstanzas as ls  # noqa: E402
from portier.signaling import linkpair as lp  # noqa: E402
from portier.signaling import stanzas as st  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from attackrig import Rig, msg_of, until  # noqa: E402


def test_a_removed_phone_is_forgotten_by_the_door_and_the_switchboard(tmp_path):
    async def body():
        rig = await Rig(phones=2, workdir=str(tmp_path)).start()
        try:
            door = rig.door_jid
            anna_r, ben_r = rig.phones
            anna, ben = anna_r.party.jid, ben_r.party.jid
            ben_auth = [k.content for s, r, n in rig.routed if s == ben and n.tag == "pair"
                        for k in n.content if k.tag == "auth"][0]
            # a revocation the household did not make: refused, nothing changes
            rig.to_door(lp.revoke("F1", ben, bytes(36)), "switchboard")
            await rig.door_wait(msg_of("revoke refused"), what="forged revocation refused")
            hh_dir = os.path.join(rig.sim.workdir, "household")
            assert devices.listing("home", hh_dir, rig.sb.db.path)[1]["authorised_at"] == [door]

            doors, removed = devices.revoke(hh_dir, rig.sb.db.path, ben, True,
                                            authority_opener=lambda d: rig.sim.authority)
            assert doors == [door] and removed
            done = await rig.door_wait(msg_of("revoked"), what="the door's revocation")
            assert done["device"] == ben and done["was_paired"]
            await until(lambda: rig.sb.db.revocations() == [])  # the door confirmed it
            await until(lambda: ben not in rig.sb.connected())
            paired = json.load(open(os.path.join(rig.sim.workdir, "door", "paired.json")))
            assert list(paired["paired"]) == [anna] and ben in paired["revoked"]
            keys_dir = os.path.join(rig.sim.workdir, "door", "keys")
            assert len([n for n in os.listdir(keys_dir) if n.startswith("ses-")]) == 1

            # his old authorisation, replayed by a compromised switchboard, no longer pairs
            enc_type, ct = session.encrypt(ben_r.app.store, door, ls.PAIR_PLAINTEXT)
            rig.to_door(lp.pair("R1", door, enc_type, ct, ben_auth), ben)
            await rig.door_wait(lambda d: d.get("msg") == "pair failed" and d["device"] == ben,
                                what="ben's pairing refused")

            # the door rings anna only; ben's accept and unlock, carried anyway, change nothing
            await rig.sim.door.command("press")
            await until(lambda: rig.door_offers())
            offer, encs = rig.door_offers()[-1]
            assert list(encs) == [anna]
            await until(lambda: anna_r.app.engine.current() is not None)
            n = len(rig.door_lines())
            rig.to_door(st.Stanza("accept", call_id=offer.call_id, call_creator=offer.call_creator,
                                  audio=[("pcmu", 8000)], to=door, stanza_id="BA").to_node(), ben)
            from portier import unlock as ul

            enc_type, ct = session.encrypt(ben_r.app.store, door,
                                           ul.encode_request(offer.call_id, 1, "2468", 0))
            rig.to_door(st.Stanza("unlock", call_id=offer.call_id, call_creator=offer.call_creator,
                                  enc=st.enc(ct, enc_type), to=door, stanza_id="BU").to_node(), ben)
            refused = await rig.door_wait(msg_of("unlock refused"), what="ben's unlock refused")
            assert refused["reason"] != "wrong_pin"
            assert not [d for d in rig.door_lines()[n:] if d.get("kind") == "answered"]
            await rig.sim.door.command("hangup")
            await rig.door_wait(lambda d: d.get("kind") == "ended", what="call end")
        finally:
            await rig.stop()

    asyncio.run(asyncio.wait_for(body(), 150))
