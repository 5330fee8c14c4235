# The phone's part of the App (portier.app.Part): what a household device does that the door
# does not (the softphone; the bridge builds on it).
#   - its Signal identity is made at first start; "call" rings the configured device
#   - pairing requests (docs/protocol.md 8.5): at each <ready> with the doors of pair_with (once
#     per start with the household's authorisation, else only without a session), or on the
#     "pair [JID]" command; each request is a task that asks and waits for the door's answer,
#     which comes in through the edge loop (on_link_stanza)
#   - "unlock PIN": an <unlock> to the door of the answered call; the door's answer is logged
#   - missed rings: the door's <missed> is logged once as a missed call
# The App picks this part for profile "phone" (portier.app.part_for).
import asyncio
import time

from micropython import const

from portier import appmem, pairing
from portier.app import Part
from portier.net import streams

_IQ_WAIT_MS = const(10000)
_MISSED_SEEN = const(16)  # call-ids of <missed> remembered against a resent copy


class PhonePart(Part):
    def __init__(self, app):
        Part.__init__(self, app)
        pairing.ensure_identity(app.store)
        self._pair_sent = []  # doors paired with since this start
        self._iq_n = 0
        self._iq_wait = {}  # iq id -> [asyncio.Event, result]
        self._missed_seen = []  # call-ids of <missed> already logged (a resend's copy)

    def call_targets(self):
        from portier.signaling.engine import CallError

        call = self.app.cfg.call
        if call is None:
            raise CallError("no device to call configured")
        return call, [call]

    async def on_ready(self, now):
        from portier.e2e import session

        cfg = self.app.cfg
        for jid in cfg.pair_with:
            # Once per start with the household's authorisation (the door may have been
            # migrated, or re-keyed, since), else only without a session (it will refuse).
            if jid in cfg.pair_auth:
                if jid not in self._pair_sent:
                    self._pair_sent.append(jid)
                    asyncio.create_task(self.pair(jid))
            elif not session.has_session(self.app.store, jid):
                asyncio.create_task(self.pair(jid))

    async def command(self, cmd, args):
        if cmd == "pair":
            for jid in args or self.app.cfg.pair_with:
                asyncio.create_task(self.pair(jid))
        elif cmd == "unlock":
            await self.send_unlock(args)
        else:
            await Part.command(self, cmd, args)

    async def on_call_stanza(self, msg, now):
        if msg.action == "unlock_result":  # after the engine's ack
            self.app.log("I", "app", "unlock result", peer=msg.frm, call_id=msg.call_id,
                         result=msg.result, reason=msg.reason, retry_after_s=msg.retry_after_s)
        elif msg.action == "missed":
            self._on_missed(msg, now)

    async def on_link_stanza(self, msg):
        if msg.kind not in ("bundle_result", "iq_error", "iq_result", "pair_result"):
            return False
        waiter = self._iq_wait.get(msg.id)
        if waiter is not None:
            waiter[1] = msg
            waiter[0].set()
        return True

    def _on_missed(self, msg, now):
        """The door tells of a ring it could not place; logged once as a missed call at the
        time it happened (a resent copy, already acked again by the engine, is not)."""
        app = self.app
        if msg.call_id in self._missed_seen:
            return
        if msg.frm != app.cfg.call and msg.frm not in app.cfg.pair_with:
            app.log("W", "app", "missed ring from a stranger ignored", peer=msg.frm)
            return
        self._missed_seen = self._missed_seen[1 - _MISSED_SEEN:] + [msg.call_id]
        wall = app.link.wall_time(now)
        start = wall - msg.ago_s if wall else (msg.start or 0)
        app.log("I", "app", "missed ring", peer=msg.frm, call_id=msg.call_id, start=start,
                ago_s=msg.ago_s, reason=msg.reason)
        from portier.signaling.engine import Event

        app.log_call(Event("ended", msg.call_id, "in", msg.frm, outcome="missed",
                           reason=msg.reason), start, 0)

    # ---- pairing requests (docs/protocol.md 8.5) ----

    async def _ask(self, build):
        """Send build(stanza_id) and wait for the answer with that id (bounded). Runs in the
        pairing request's own task: the answer comes in through the edge loop."""
        self._iq_n += 1
        sid = "Q%d" % self._iq_n
        waiter = [asyncio.Event(), None]
        self._iq_wait[sid] = waiter
        try:
            await self.app.link.send(build(sid))
            await streams.wait_for_ms(waiter[0].wait(), _IQ_WAIT_MS)
            return waiter[1]
        finally:
            self._iq_wait.pop(sid, None)

    async def pair(self, door):
        """Pair with the door. True when the door says ok."""
        from portier import pairauth

        app = self.app
        try:
            await pairauth.request(app.store, self._ask, door, app.cfg.pair_auth.get(door))
        except (ValueError, asyncio.TimeoutError) as e:
            app.log("W", "app", "pair failed", device=door, error=repr(e))
            return False
        finally:
            app.shed(appmem.PAIRED)
        app.log("I", "app", "paired", device=door)
        return True

    # ---- unlock (docs/protocol.md section 10) ----

    async def send_unlock(self, args):
        """The "unlock PIN" command: an <unlock> with the PIN to the door of the answered call."""
        from portier import unlock as ul
        from portier.e2e import session
        from portier.signaling import stanzas as st
        from portier.signaling.engine import CallError, new_id

        app = self.app
        if len(args) != 1:
            raise CallError("unlock takes one PIN")
        pin = ul.check_pin(args[0])
        call = app.engine.answered_call()
        if call is None or call.direction != "in":
            raise CallError("no answered call from the door")
        try:
            counter = ul.next_counter(ul.State(app.cfg.unlock_state))  # on disk before it is used
        except OSError as e:
            raise CallError("unlock counter not saved: %s" % e)
        age_ms = time.ticks_diff(time.ticks_ms(), call.answered_ms)  # the door checks it: 10.3
        enc_type, ciphertext = session.encrypt(app.store, call.peer,
                                               ul.encode_request(call.id, counter, pin, age_ms))
        s = st.Stanza("unlock", call_id=call.id, call_creator=call.creator,
                      enc=st.enc(ciphertext, enc_type), to=call.peer, stanza_id=new_id())
        await app.link.send(s.to_node())
        app.log("I", "app", "unlock sent", call_id=call.id, counter=counter)
