# The App's exchanges with the outside that are not the call engine's: media sessions
# (portier.net.media, started on the engine's "media" event) and the link's non-call stanzas
# (pairing, iq answers). A mixin of portier.app.App, kept apart so each module compiles in a
# small heap.
import asyncio
import time

from portier import pairing
from portier.applog import describe
from portier.net import streams

_IQ_WAIT_MS = 10000


def _relay_address(relay):
    """(host, port) of the relay block's first IPv4 endpoint (a 6-byte address+port body)."""
    for te in relay.endpoints:
        a = te.address
        if len(a) == 6:
            return "%d.%d.%d.%d" % (a[0], a[1], a[2], a[3]), (a[4] << 8) | a[5]
    raise ValueError("relay block without an IPv4 endpoint")


class DeviceIO:
    def shed(self):
        """A quiet moment: drop the once-per-call e2e code and collect (portier.appmem)."""
        from portier import appmem

        appmem.shed()

    # ---- media (portier.net.media, built alongside) ----

    def _prefetch_media(self):
        """An outgoing call rings: its keys are wrapped, so the Signal code goes and the media
        code comes now, while people walk to their phones, not between accept and first audio
        (an import of the media stack takes tens of ms on the host, far more on a board)."""
        if self.media_class is None:
            self.shed()
            self._load_media()

    def _load_media(self):
        # The default, loaded at the first call and then kept: dropped after each call, it
        # did not fit back into the fragmented heap at the next (tests/host/test_door_heap).
        from portier import appmem

        self.media_class = appmem.load_media()
        self.log("D", "app", "media loaded", ok=self.media_class is not None)
        return self.media_class

    async def _start_media(self, ev):
        await self._stop_media()
        self.shed()  # the call key is in ev: the Signal code is done with until the next call
        media_class = self.media_class or self._load_media()
        if media_class is None:
            self.log("W", "app", "no media module: call without audio", call_id=ev.call_id)
            return
        try:
            self.media = self._new_media(ev, media_class)
        except (OSError, ValueError) as e:  # no audio device, a bad relay block: the call goes
            self.log("E", "app", "media failed", call_id=ev.call_id, error=repr(e))  # on, mute
            return
        call_id = ev.call_id
        # "first audio" is what the simulator times accept -> first audio by.
        self.media.on_first_audio = lambda: self.log("I", "media", "first audio", call_id=call_id)
        self._media_task = asyncio.create_task(self.media.run())
        if hasattr(self.hal, "call_active"):  # a board: Wi-Fi power save off while audio flows
            self.hal.call_active(True)
        self.log("I", "app", "media start", call_id=ev.call_id, codec="%s/%d" % ev.codec)

    def _new_media(self, ev, media_class):
        relay = ev.relay
        host, port = _relay_address(relay)
        audio = self.hal.audio(ev.codec[1])
        from portier.media import dsp  # loaded with the media class already

        # The board's echo control (board file / virtual door config), fresh for each call.
        echo = dsp.echo_control(getattr(self.hal, "echo_control", None))
        return media_class(own_jid=self.cfg.jid, peer_jid=ev.peer, call_id=ev.call_id,
                           call_key=ev.call_key, codec=ev.codec, relay_host=host,
                           relay_port=port, relay_token=relay.tokens[0][1],
                           pid=relay.self_pid, audio=audio, echo=echo)

    async def _stop_media(self):
        media, self.media = self.media, None
        if media is None:
            return
        if hasattr(self.hal, "call_active"):
            self.hal.call_active(False)
        media.stop()
        task, self._media_task = self._media_task, None
        try:
            await streams.wait_for_ms(task, 2000)
        except Exception as e:  # a media task that failed or hangs must not stop the app
            self.log("W", "app", "media end", error=repr(e))
        media.audio.close()  # opened per call by _new_media; a WAV speaker gets its sizes here
        self.log("I", "app", "media stop", **media.stats.to_dict())


    # ---- the link ----

    def _trace(self, direction, node):
        self._log("D", "link", direction, describe(node))

    async def _on_ready(self, link):
        now = time.ticks_ms()
        self._show_led(now)  # idle, or the call's state when one goes on
        if self.missed is not None:  # rings pressed while the link was down: told now
            self.missed.relinked(now)
            await self.send_missed(now)
        if self.cfg.profile == "phone":
            from portier.e2e import session  # the door never loads it here

            for jid in self.cfg.pair_with:
                # Once per start with the household's authorisation (the door may have been
                # migrated, or re-keyed, since), else only without a session (it will refuse).
                if jid in self.cfg.pair_auth:
                    if jid not in self._pair_sent:
                        self._pair_sent.append(jid)
                        asyncio.create_task(self.pair(jid))
                elif not session.has_session(self.store, jid):
                    asyncio.create_task(self.pair(jid))

    async def _on_unlock(self, ev):
        """The engine's "unlock" event: the door's unlock checks (portier.appunlock)."""
        try:
            from portier import appunlock

            await appunlock.on_event(self, ev)
        except MemoryError:  # loaded mid-call: a full heap keeps the door shut, not dead
            self.log("E", "door", "unlock: out of memory", call_id=ev.call_id)

    async def _on_node(self, node):
        from portier.signaling import linkstanzas as ls
        from portier.signaling import stanzas as st

        now = time.ticks_ms()
        if ls.is_call_stanza(node):
            try:
                msg = st.parse(node)
            except ValueError as e:
                self.log("W", "app", "bad call stanza", error=str(e))
                return
            self.engine.handle(msg, now)
            await self._pump()
            if msg.action == "unlock_result":  # after the ack (an <unlock>: _on_unlock)
                from portier import appunlock

                appunlock.on_result(self, msg)
            elif msg.action == "ack" and self.missed is not None:
                told = self.missed.acked(msg.stanza_id)
                if told is not None:
                    self.log("I", "app", "missed ring told", call_id=told[0], device=told[1])
            elif msg.action == "missed" and self.cfg.profile != "door":
                self._on_missed(msg, now)
            return
        try:
            msg = ls.parse(node)
        except ValueError as e:
            self.log("W", "app", "bad stanza", tag=node.tag, error=str(e))
            return
        if msg.kind == "pair":
            await self._on_pair(msg)
        elif msg.kind == "revoke":
            await self._on_revoke(msg)
        elif msg.kind in ("bundle_result", "iq_error", "iq_result", "pair_result"):
            waiter = self._iq_wait.get(msg.id)
            if waiter is not None:
                waiter[1] = msg
                waiter[0].set()
        else:
            self.log("W", "app", "unexpected stanza", kind=msg.kind)

    # ---- missed rings (docs/protocol.md 8.3) ----

    async def send_missed(self, now):
        """Door: the <missed> copies due now (portier.missed)."""
        for s in self.missed.due(now):
            await self.link.send(s.to_node())

    def _on_missed(self, msg, now):
        """Phone: the door tells of a ring it could not place; logged once as a missed call
        at the time it happened (a resent copy, already acked again by the engine, is not)."""
        if msg.call_id in self._missed_seen:
            return
        if msg.frm != self.cfg.call and msg.frm not in self.cfg.pair_with:
            self.log("W", "app", "missed ring from a stranger ignored", peer=msg.frm)
            return
        self._missed_seen = self._missed_seen[-15:] + [msg.call_id]
        wall = self.link.wall_time(now)
        start = wall - msg.ago_s if wall else (msg.start or 0)
        self.log("I", "app", "missed ring", peer=msg.frm, call_id=msg.call_id, start=start,
                 ago_s=msg.ago_s, reason=msg.reason)
        from portier import appmem
        from portier.signaling.engine import Event

        ev = Event("ended", msg.call_id, "in", msg.frm, outcome="missed", reason=msg.reason)
        problem = appmem.log_call(self.cfg, ev, start)
        if problem is not None:
            self.log("W", "app", "call log unreadable: started anew", error=problem)
        self.log("I", "app", "call log", direction="in", peer=msg.frm, outcome="missed",
                 reason=msg.reason, start=start, duration=0)

    # ---- pairing (docs/protocol.md 8.5) ----

    def drop_legacy_pairings(self):
        """Door start: pairings from before the household authority go once the door holds its
        pairing key (portier.pairauth.drop_legacy)."""
        if self.paired.legacy():
            from portier import pairauth

            pairauth.drop_legacy(self)

    async def _on_pair(self, msg):
        """Door side: a device's <pair> (8.5), checked in portier.pairauth."""
        from portier import pairauth

        await pairauth.on_pair(self, msg)
        self._pairauth_done()

    async def _on_revoke(self, msg):
        """Door side: the household removes a device (8.5)."""
        from portier import pairauth

        call = self.engine.current()
        if await pairauth.on_revoke(self, msg) and call is not None and call.peer == msg.jid:
            self.engine.hang_up(call.id, time.ticks_ms())  # a call with it ends
            await self._pump()
        self._pairauth_done()

    def _pairauth_done(self):
        # Idle: shed the Signal code a pairing loaded too. Mid-call (a <pair> then is rare, or
        # hostile): drop at least the pairing code, not left on the call's heap until its end.
        if self.engine.current() is None:
            self.shed()
        else:
            from portier import appmem

            appmem.forget_modules(("portier.pairauth", "portier.secrets"))

    async def _ask(self, build):
        """Send build(stanza_id) and wait for the answer with that id (bounded)."""
        self._iq_n += 1
        sid = "Q%d" % self._iq_n
        waiter = [asyncio.Event(), None]
        self._iq_wait[sid] = waiter
        try:
            await self.link.send(build(sid))
            await streams.wait_for_ms(waiter[0].wait(), _IQ_WAIT_MS)
            return waiter[1]
        finally:
            self._iq_wait.pop(sid, None)

    async def pair(self, door):
        """Phone side: pair with the door. True when the door says ok."""
        from portier import pairauth

        try:
            await pairauth.request(self.store, self._ask, door, self.cfg.pair_auth.get(door))
        except (ValueError, asyncio.TimeoutError) as e:
            self.log("W", "app", "pair failed", device=door, error=repr(e))
            return False
        finally:
            if self.engine.current() is None:
                self.shed()
        self.log("I", "app", "paired", device=door)
        return True


