"""Fault tests (docs/protocol.md 8.3, "When the switchboard goes away"): the real door app on
real MicroPython, the real switchboard with its in-process relay, CPython softphones with real
media, all provisioned as `portier sim` does it (portier_host.sim). The switchboard is closed
and started again on the same TCP and UDP ports with the same database, as a restarted service
would be: while the phones ring, while door and phone talk, and before the button is pressed.
Each test checks that nothing hangs, that every party logs each call once with the documented
outcome and reason, that the door shows the documented LED, reconnects, and places a new call
afterwards. Every wait is a condition with a generous timeout (a busy 2-core machine)."""

import asyncio
import json
import time

from portier_host import sim, simproc
from portier_host.switchboard import Switchboard

from portier.hal import controls

_WAIT_S = 30.0  # any single condition; the whole module takes well under a minute when idle


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 150))


async def _wait(party, pred, start=0, timeout=_WAIT_S, what="line"):
    """The first of party's log lines from index start on that matches pred."""
    deadline = time.monotonic() + timeout
    while True:
        for _, d in party.lines[start:]:
            if pred(d):
                return d
        if party.exited:
            raise AssertionError("%s exited before %s" % (party.name, what))
        if time.monotonic() > deadline:
            tail = "\n".join(json.dumps(d) for _, d in party.lines[-50:])
            raise AssertionError("%s: no %s within %g s; last lines:\n%s"
                                 % (party.name, what, timeout, tail))
        party.changed.clear()
        try:
            await asyncio.wait_for(party.changed.wait(), 0.5)
        except asyncio.TimeoutError:
            pass


async def _until(cond, timeout=_WAIT_S, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("%s not met within %g s" % (what, timeout))
        await asyncio.sleep(0.05)


_event = simproc.engine_event
_msg = simproc.logged


def _leds(party, start=0):
    return [d["state"] for _, d in party.lines[start:] if d.get("msg") == "led"]


class World:
    """A provisioned household on loopback: the door (MicroPython), one phone, the switchboard."""

    def __init__(self, tmp_path, ring_timeout_s=20):
        self.s = sim.Simulation("answered", phones=1, ring_timeout_s=ring_timeout_s,
                                workdir=str(tmp_path / "world"))

    async def __aenter__(self):
        await self.s.start_household()
        self.door = self.s.parties["door"]
        self.phone = self.s.phones[0]
        return self

    async def __aexit__(self, *exc):
        await self.s.stop_household()
        if exc[0] is not None:
            print("door stderr:", self.s.door.stderr_text())

    async def stop_switchboard(self):
        """Close the switchboard and its relay (links drop, media has nowhere to go)."""
        old = self.s.sb
        self._addr = (old.address, old.relay_address, old.ssl_context, old.db.path)
        await old.close()
        self.s.sb = None

    async def start_switchboard(self, relay_port=None):
        """Start it again on the same ports (relay_port: another one for the relay) with the
        same database."""
        (host, port), (rhost, rport), ctx, db = self._addr
        if relay_port is not None:
            rport = relay_port
        for _ in range(40):  # a port of the closed one may take a loop turn to be free again
            sb = Switchboard(db, ssl_context=ctx, ring_timeout_s=self.s.ring_timeout_s,
                             trace=self.s._trace)
            try:
                await sb.start(host, port, rhost, rport)
            except OSError:
                await sb.close()
                await asyncio.sleep(0.05)
                continue
            self.s.sb = sb
            return sb
        raise AssertionError("the switchboard's ports stayed busy")

    async def restart(self):
        await self.stop_switchboard()
        return await self.start_switchboard()

    async def relinked(self, n):
        """Door and phone both past their n-th <ready>."""
        await _wait(self.door, _msg("link", "ready", n=n), what="ready #%d" % n)
        await _wait(self.phone.party, _msg("link", "ready", n=n), what="phone ready #%d" % n)

    def logs(self):
        return self.s._logs()


async def _talking(w):
    """The door rings the phone, which answers; returns once both hear each other."""
    await w.s._ring()
    await w.phone.command("answer")
    for party in (w.door, w.phone.party):
        await _wait(party, _msg("media", "first audio"), what="first audio")


async def _declined_call(w, phone_entries):
    """A new call after the fault: the door rings the phone, which declines; returns both call
    logs once the phone's has `phone_entries` entries."""
    n, n_phone = len(w.door.lines), len(w.phone.party.lines)
    await w.s.door.command("press")
    await _wait(w.phone.party, _event("ringing"), n_phone, what="ring after the fault")
    await w.phone.command("reject")
    end = await _wait(w.door, _event("ended"), n, what="declined call's end")
    assert end["outcome"] == "declined"
    await _wait(w.door, _msg("app", "call log"), n, what="door's log entry")
    await _until(lambda: len(w.logs()["phone1"]) == phone_entries, what="phone's log entries")
    return w.logs()


def test_restart_while_ringing_the_call_rings_on_and_is_answered(tmp_path):
    """The call lives in the engines, not in the switchboard: a restart while the household rings
    loses nothing the call needs (the relay tokens verify with the secret kept in the database)."""
    async def body():
        async with World(tmp_path) as w:
            await w.s._ring()
            # the door logs its LED just after the ringing event _ring waits for: take it first
            await _wait(w.door, _msg("app", "led", state=controls.LED_RINGING), what="ring LED")
            n_door = len(w.door.lines)
            await w.restart()
            await w.relinked(2)
            assert w.phone.app.engine.current() is not None  # still ringing there
            await w.phone.command("answer")
            for party in (w.door, w.phone.party):
                await _wait(party, _msg("media", "first audio"), n_door, what="first audio")
            # the door never showed idle or connecting while its call was up
            assert _leds(w.door, n_door) == [controls.LED_IN_CALL]
            await w.phone.command("hangup")
            end = await _wait(w.door, _event("ended"), n_door, what="call end")
            assert (end["outcome"], end["reason"]) == ("answered", None)
            await _wait(w.phone.party, _event("ended"), what="call end at the phone")
            await _wait(w.door, _msg("app", "led", state=controls.LED_IDLE), n_door)

            # a new call afterwards
            logs = await _declined_call(w, 2)
        assert [(e["dir"], e["outcome"], e["reason"]) for e in logs["door"]] == [
            ("out", "answered", None), ("out", "declined", None)]
        assert [(e["dir"], e["outcome"], e["reason"]) for e in logs["phone1"]] == [
            ("in", "answered", None), ("in", "declined", None)]

    _run(body())


def test_restart_while_talking_media_resumes(tmp_path):
    """The relay's bindings are in the switchboard's database, so the restarted relay forwards
    the call's SRTP again at once: the call goes on, neither side hangs up for silence."""
    async def body():
        async with World(tmp_path) as w:
            await _talking(w)
            media = w.phone.app.media
            await _until(lambda: media.stats.received >= 25, what="half a second of audio")
            n_door = len(w.door.lines)
            sb = await w.restart()
            sent_at_restart = media.stats.sent
            got_at_restart = media.stats.received
            # Both legs came back from the database. (Without that, audio resumed only at each
            # leg's next 10 s keepalive bind: a near tie with the 10 s media-silence hang-up.)
            assert sb.relay.core.stats["restored"] == 2
            # door -> relay -> phone flows again (50 packets: a second of audio) ...
            await _until(lambda: media.stats.received >= got_at_restart + 50,
                         what="audio from the door after the restart")
            await w.relinked(2)
            # ... and phone -> door: the door's own count, when the phone hangs up
            await _until(lambda: media.stats.sent >= sent_at_restart + 75, what="phone audio")
            assert w.phone.app.engine.answered_call() is not None
            await w.phone.command("hangup")
            end = await _wait(w.door, _event("ended"), n_door, what="call end")
            assert (end["outcome"], end["reason"]) == ("answered", None)
            await _wait(w.door, _msg("app", "call log"), n_door, what="door's log entry")
            stop = await _wait(w.door, _msg("app", "media stop"), n_door, what="door media stop")
            assert stop["received"] >= sent_at_restart + 40, (stop, sent_at_restart)
            assert not any(_msg("app", "media lost")(d) for _, d in w.door.lines)
            assert _leds(w.door, n_door) == [controls.LED_IDLE]  # in call until the hang-up
            await _until(lambda: len(w.logs()["phone1"]) == 1, what="phone's log entry")
            logs = w.logs()
        assert [(e["outcome"], e["reason"]) for e in logs["door"]] == [("answered", None)]
        assert [(e["outcome"], e["reason"]) for e in logs["phone1"]] == [("answered", None)]

    _run(body())


def test_press_without_link_logs_no_link_and_is_told_as_missed_later(tmp_path):
    """docs/protocol.md 8.3 (d): a press while the switchboard is away places no call and
    queues none (no ring minutes later); the door logs a failed call, reason no_link, and shows
    the error LED until it is linked again. Once linked, the door tells the phone of the ring
    (<missed>, not an offer): the phone logs a missed call, reason no_link, at the time of the
    press, and acks, so the door stops telling. Then a press rings as usual."""
    async def body():
        async with World(tmp_path) as w:
            n = len(w.door.lines)
            await w.stop_switchboard()
            await _wait(w.door, _msg("link", "link down"), n, what="link down")
            await _wait(w.door, _msg("app", "led", state=controls.LED_CONNECTING), n)
            pressed_at = time.time()
            await w.s.door.command("press")
            end = await _wait(w.door, _event("ended"), n, what="no-link entry")
            assert (end["direction"], end["outcome"], end["reason"]) == ("out", "failed", "no_link")
            await _wait(w.door, _msg("app", "led", state=controls.LED_ERROR), n)
            await asyncio.sleep(2)  # the outage goes on: the ring is 2 s old when told
            await w.start_switchboard()
            await w.relinked(2)
            await _wait(w.door, _msg("app", "led", state=controls.LED_IDLE), n)
            assert _leds(w.door, n) == [controls.LED_CONNECTING, controls.LED_ERROR,
                                        controls.LED_IDLE]
            told = await _wait(w.phone.party, _msg("app", "missed ring"), what="the missed ring")
            assert told["peer"] == w.door.jid and told["call_id"] == end["call_id"]
            assert told["reason"] == "no_link" and told["ago_s"] >= 2
            assert abs(told["start"] - pressed_at) <= 3, (told, pressed_at)
            await _wait(w.door, _msg("app", "missed ring told", call_id=end["call_id"],
                                     device=w.phone.party.jid), n, what="the phone's ack")
            sent = [d for _, d in w.door.lines[n:] if _msg("link", "out", tag="call")(d)]
            assert [d["action"] for d in sent] == ["missed"]  # no offer was held or sent
            assert not any(_event("ringing")(d) for _, d in w.phone.party.lines)

            logs = await _declined_call(w, 2)
            # acked: never told again (the door's resend would come 60 s later at the soonest)
            assert [d["action"] for _, d in w.door.lines[n:]
                    if _msg("link", "out", tag="call")(d)].count("missed") == 1
        assert [(e["outcome"], e["reason"]) for e in logs["door"]] == [
            ("failed", "no_link"), ("declined", None)]
        assert [(e["dir"], e["outcome"], e["reason"]) for e in logs["phone1"]] == [
            ("in", "missed", "no_link"), ("in", "declined", None)]

    _run(body())


def test_restart_that_loses_the_relay_while_talking_ends_the_call_once_for_lost_media(tmp_path):
    """docs/protocol.md 8.3 (c), when the audio does not come back: the switchboard restarts at
    once, but its relay is elsewhere now (a relay that lost its bindings acts the same until the
    legs' next keepalive binds). The links are back within the grace, the audio is not, so after
    MEDIA_SILENCE_MS each side hangs up with reason connection_lost; the terminates cross and the
    later one is ignored: one log entry each. Then a new call works."""
    async def body():
        async with World(tmp_path) as w:
            await _talking(w)
            n_door, n_phone = len(w.door.lines), len(w.phone.party.lines)
            await w.stop_switchboard()
            await w.start_switchboard(relay_port=0)
            await w.relinked(2)
            ends = []
            for party, start in ((w.door, n_door), (w.phone.party, n_phone)):
                ends.append(await _wait(party, _event("ended"), start, timeout=40, what="call end"))
            for end in ends:
                assert (end["outcome"], end["reason"]) == ("answered", "connection_lost")
            # at least one side heard the silence itself (the other may have had its terminate)
            assert any(_msg("app", "media lost")(d) for party, start in
                       ((w.door, n_door), (w.phone.party, n_phone)) for _, d in party.lines[start:])
            assert not any(_msg("app", "link lost")(d) for _, d in w.door.lines)
            await _wait(w.door, _msg("app", "led", state=controls.LED_IDLE), n_door)
            assert _leds(w.door, n_door) == [controls.LED_IDLE]  # in call until it ended

            logs = await _declined_call(w, 2)
        for name in ("door", "phone1"):
            assert [(e["outcome"], e["reason"]) for e in logs[name]] == [
                ("answered", "connection_lost"), ("declined", None)], logs[name]

    _run(body())


def test_restart_that_swallows_the_doors_transport_heals(tmp_path):
    """docs/protocol.md 8.3: the phone accepts, the door sends its <transport>, and the
    switchboard dies before routing it (a test hook drops exactly that stanza, then the
    switchboard restarts). The door's link saw no error, so the transport is not in its outbox;
    the engine sends it again (same id) for want of the phone's ack, and the call is answered on
    both sides instead of the phone logging `missed`."""
    async def body():
        async with World(tmp_path) as w:
            await w.s._ring()
            sb = w.s.sb
            route = sb._route
            swallowed = []

            def dies_before_routing_it(link, to, node, call_id, action):
                if action == "transport" and not swallowed:
                    swallowed.append(node.attrs.get("id"))
                    return None
                return route(link, to, node, call_id, action)

            sb._route = dies_before_routing_it
            n_door, n_phone = len(w.door.lines), len(w.phone.party.lines)
            await w.phone.command("answer")
            await _until(lambda: swallowed, what="the door's transport")
            await w.restart()
            await w.relinked(2)
            for party, start in ((w.door, n_door), (w.phone.party, n_phone)):
                await _wait(party, _msg("media", "first audio"), start, what="first audio")
            # the door's link carried the transport again, with the id of the swallowed one
            sent = [d["id"] for _, d in w.door.lines[n_door:]
                    if _msg("link", "out", tag="call", action="transport")(d)]
            assert len(sent) >= 2 and set(sent) == set(swallowed), (sent, swallowed)
            assert w.phone.app.engine.answered_call() is not None
            await w.phone.command("hangup")
            for party, start in ((w.door, n_door), (w.phone.party, n_phone)):
                end = await _wait(party, _event("ended"), start, what="call end")
                assert (end["outcome"], end["reason"]) == ("answered", None)
            await _wait(w.door, _msg("app", "call log"), n_door, what="door's log entry")
            await _until(lambda: len(w.logs()["phone1"]) == 1, what="phone's log entry")
            logs = w.logs()
        assert [(e["outcome"], e["reason"]) for e in logs["door"]] == [("answered", None)]
        assert [(e["outcome"], e["reason"]) for e in logs["phone1"]] == [("answered", None)]

    _run(body())
