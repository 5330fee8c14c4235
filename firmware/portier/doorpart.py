# The door's part of the App (portier.app.Part): what a door does that a phone does not.
#   - its button rings the household's paired devices (call_targets)
#   - pairing under the household's authority: <pair> and <revoke> answered by portier.doorpair
#     with portier.pairauth's checks (loaded for them, then dropped), pairings from before the
#     authority dropped at start
#   - the engine's "unlock" event (an <unlock> with the engine's verdict on who may ask, and
#     when): the unlock part (portier.appunlock.DoorUnlock, loaded at the first one)
#   - missed rings (docs/protocol.md 8.3): a press without a link is kept (portier.missed) and
#     told to the paired devices once the link is back, resent until each acks
# The App picks this part for profile "door" (portier.app.part_for).
import time

from portier import appmem
from portier.app import Part


class DoorPart(Part):
    def __init__(self, app):
        Part.__init__(self, app)
        self.unlock = None  # portier.appunlock.DoorUnlock, made at the first <unlock>
        self.missed = None  # portier.missed.MissedRings, made at the first press without a link
        if app.paired.legacy():
            from portier import doorpair

            doorpair.drop_legacy(app.store, app.paired, app.cfg.secrets_path, app.log)

    def call_targets(self):
        app = self.app
        return app.cfg.household_jid(), app.paired.devices

    def no_link(self, call_id, now):
        """A press that found no link: its ring is told to the paired devices later."""
        app = self.app
        if self.missed is None:
            from portier.missed import MissedRings
            from portier.signaling.engine import new_id

            self.missed = MissedRings(app.cfg.jid, new_id)
        self.missed.add(call_id, app.link.wall_time(now), app.paired.devices, now)

    async def on_ready(self, now):
        if self.missed is not None:  # rings pressed while the link was down: told now
            self.missed.relinked(now)
            await self._send_missed(now)

    async def timer_turn(self, now):
        if self.missed is not None and self.app.link.ready:
            await self._send_missed(now)

    async def _send_missed(self, now):
        for s in self.missed.due(now):
            await self.app.link.send(s.to_node())

    async def on_unlock(self, ev):
        try:
            if self.unlock is None:
                from portier.appunlock import DoorUnlock

                self.unlock = DoorUnlock(self.app)
            await self.unlock.on_unlock(ev)
        except MemoryError:  # loaded mid-call: a full heap keeps the door shut, not dead
            self.app.log("E", "door", "unlock: out of memory", call_id=ev.call_id)

    async def on_call_stanza(self, msg, now):
        if msg.action == "ack" and self.missed is not None:
            told = self.missed.acked(msg.stanza_id)
            if told is not None:
                self.app.log("I", "app", "missed ring told", call_id=told[0], device=told[1])

    async def on_link_stanza(self, msg):
        if msg.kind == "pair":
            await self._on_pair(msg)
        elif msg.kind == "revoke":
            await self._on_revoke(msg)
        else:
            return False
        return True

    async def _on_pair(self, msg):
        """A device's <pair> (8.5), checked in portier.pairauth."""
        from portier import doorpair

        app = self.app
        reply = doorpair.answer_pair(app.store, app.paired, app.cfg.jid, app.cfg.secrets_path,
                                     msg, app.log)
        if reply is not None:
            await app.link.send(reply)
        app.shed(appmem.PAIRED)

    async def _on_revoke(self, msg):
        """The household removes a device (8.5); a call with it ends."""
        from portier import doorpair

        app = self.app
        call = app.engine.current()
        ok, reply = doorpair.answer_revoke(app.store, app.paired, app.cfg.jid,
                                           app.cfg.secrets_path, msg, app.log)
        await app.link.send(reply)
        if ok and call is not None and call.peer == msg.jid:
            app.engine.hang_up(call.id, time.ticks_ms())
            await app.pump()
        app.shed(appmem.PAIRED)
