# The device's cooperative main loop: the switchboard link, the call engine, the call log,
# pairing, media and the HAL meet here (and only here). The same App runs the door board (on
# MicroPython, or the virtual door of the simulator) and the household softphone (profile
# "phone", on CPython through the shim).
#
# Log lines: one JSON object per line on stdout, {"t": ticks_ms, "lvl", "src", "msg", ...}:
#   src "link"   msg "out"/"in" for every stanza (tag, action, ids, key attributes),
#                "ready" (connect_ms), "reconnect" (wait_ms), ...
#   src "engine" msg "event" (kind, call_id, direction, peer, outcome, reason, duration_s, codec)
#   src "app"    "pressed", "led", "call log", "paired", "pair failed", "media start"/"stop"
# Commands (control "stdin"): press | call | answer | reject | busy | hangup | pair [JID] |
# unlock PIN (a phone in an answered call from the door: portier.appunlock) | quit.
#
# One error boundary (guard): every input (a stanza from the link, a timer turn, a command, so
# also the HAL's button, and each engine event the input produced) is handled inside it. An
# exception there drops that input only, is logged once ("input dropped", with its cause) and
# counted (App.faults); the link, the timer loop that feeds the watchdog, the command loop and
# the media task go on. Only cancellation and the interpreter's exits pass through.
#
# The codec, engine, e2e and link modules are imported when the App is built, not when this
# module is: importing portier.app alone stays small (the firmware import test runs every module
# in a 96-128 KiB heap), and a board pays for them once, at start.
import asyncio
import sys
import time

from portier import pairing
from portier.appio import DeviceIO
from portier.applog import log_line, where
from portier.config import read_file
from portier.hal import controls
from portier.net import streams

_TIMER_WAKE_MS = 100  # the engine's timers are checked at least this often
MEDIA_SILENCE_MS = 10000  # no packet from the peer this long (or since media start): hang up
REASON_NO_LINK = "no_link"  # the call log's reason for a press that found no switchboard link


class App(DeviceIO):
    """cfg: portier.config.Config; hal: an object with led(state, now_ms) and audio(rate) ->
    an AudioDevice (or None); media_class: the media session class (default:
    portier.net.media.MediaSession when present)."""

    def __init__(self, cfg, hal, media_class=None, log=None):
        from portier.e2e import CallKeys
        from portier.net.link import Link
        from portier.signaling.engine import CallEngine

        self.cfg = cfg
        self.hal = hal
        self._log = log or log_line
        if cfg.profile == "phone":
            pairing.ensure_identity(self.store)
        self.engine = CallEngine(cfg.jid, CallKeys(cfg.e2e_store),
                                 ring_timeout_ms=cfg.ring_timeout_ms,
                                 max_call_ms=cfg.max_call_ms, auto_answer=cfg.auto_answer)
        self.paired = pairing.PairedDevices(cfg.paired_file)
        self._pair_sent = []  # phone: doors paired with since this start
        if cfg.profile == "door":
            self.drop_legacy_pairings()
        self.media_class = media_class  # None: portier.net.media, loaded at the first call
        self.media = None
        self._media_task = None
        self._started = {}  # call-id -> wall-clock start (UNIX s)
        self._iq_n = 0
        self._iq_wait = {}  # iq id -> [asyncio.Event, result]
        self._running = True
        self._done = None
        self._door_unlock = None  # portier.appunlock.DoorUnlock, made at the first <unlock>
        self._led_state = None  # what _led last showed
        self._no_link_press = False  # a press found no link: error LED until the link is back
        self.faults = 0  # inputs dropped by guard()
        self.missed = None  # portier.missed.MissedRings, made at the first press without a link
        self._missed_seen = []  # phone: call-ids of <missed> already logged (a resend's copy)
        ssl_ctx = None
        if not cfg.insecure:
            ssl_ctx = streams.client_tls(read_file(cfg.ca_path), read_file(cfg.cert_path),
                                         read_file(cfg.key_path))
        self.link = Link(cfg.jid, cfg.host, cfg.port, ssl_ctx, cfg.server_name,
                         on_node=self._link_node, on_ready=self._link_ready, trace=self._trace,
                         log=lambda lvl, msg, **kw: self._log(lvl, "link", msg, kw))

    @property
    def store(self):
        """This device's Signal store (portier.e2e.stores.FileStore), made per use."""
        from portier.e2e import file_store

        return file_store(self.cfg.e2e_store)

    def log(self, lvl, src, msg, **fields):
        self._log(lvl, src, msg, fields)

    # ---- the error boundary ----

    async def guard(self, what, handler, *args):
        """Run one input's handler: its result, or None when it raised (the input is dropped,
        logged once with its cause and counted; whoever called goes on)."""
        try:
            return await handler(*args)
        except Exception as e:  # CancelledError, KeyboardInterrupt, SystemExit are not Exception
            self.faults += 1
            try:
                self.log("E", "app", "input dropped", input=what, error=repr(e), at=where(e),
                         n=self.faults)
            except MemoryError:  # the heap is full: the count says it happened
                pass
            return None

    async def _link_node(self, node):
        await self.guard("stanza", self._on_node, node)

    async def _link_ready(self, link):
        await self.guard("ready", self._on_ready, link)

    # ---- running ----

    async def run(self):
        self._done = asyncio.Event()
        self.log("I", "app", "start", jid=self.cfg.jid, profile=self.cfg.profile,
                 runtime=sys.implementation.name, paired=self.paired.devices)
        self._led(controls.LED_CONNECTING)
        if hasattr(self.hal, "start"):  # a board HAL: watchdog and Wi-Fi before the link starts
            await self.hal.start(self)
        tasks = [asyncio.create_task(self.link.run()), asyncio.create_task(self._timers())]
        if self.cfg.control == "stdin":
            tasks.append(asyncio.create_task(self._commands()))
        if hasattr(self.hal, "run"):  # a board HAL with its own inputs (the button)
            tasks.append(asyncio.create_task(self.hal.run(self)))
        await self._done.wait()
        self.link.stop()
        await self._stop_media()
        for t in tasks:
            t.cancel()
        await streams.sleep_ms(10)
        self.log("I", "app", "stop")

    def quit(self):
        self._running = False
        if self._done is not None:
            self._done.set()

    async def _timers(self):
        feed = getattr(self.hal, "feed", None)  # a board HAL's watchdog: fed while this loop runs
        while self._running:
            if feed is not None:
                feed()
            ok = await self.guard("timer", self._timer_turn)
            wait = _TIMER_WAKE_MS
            deadline = self.engine.next_deadline()
            if ok and deadline is not None:  # a turn that failed is not retried at once
                wait = max(1, min(wait, time.ticks_diff(deadline, time.ticks_ms())))
            await streams.sleep_ms(wait)

    async def _timer_turn(self):
        """Engine timers, a lost link, silent media, the LED."""
        now = time.ticks_ms()
        deadline = self.engine.next_deadline()
        if deadline is not None and time.ticks_diff(deadline, now) <= 0:
            self.engine.on_timer(now)
            await self._pump()
        if self.link.timer.lost(now):  # down past the grace: calls end connection_lost
            self.log("W", "app", "link lost", calls=self.engine.current() is not None)
            self.engine.link_lost(now)
            await self._pump()
        media = self.media
        if media is not None and media.silent_ms(now) > MEDIA_SILENCE_MS:
            # The peer vanished (its packets come every 20 ms even in silence): hang up
            # rather than hold the door until the maximum call duration.
            call = self.engine.current()
            self.log("W", "app", "media lost", silent_ms=media.silent_ms(now))
            await self._stop_media()
            if call is not None:
                from portier.signaling.engine import REASON_CONNECTION_LOST

                self.engine.hang_up(call.id, now, REASON_CONNECTION_LOST)
                await self._pump()
        if self.missed is not None and self.link.ready:
            await self.send_missed(now)
        self._show_led(now)
        return True

    async def _commands(self):
        lines = streams.stdin_lines()
        while self._running:
            line = await lines.readline()
            if not line:
                self.log("I", "app", "stdin closed")
                return self.quit()
            words = line.decode().split()
            if words:
                await self.command(words[0], words[1:])

    async def command(self, cmd, args=()):
        """One user intent: press/call, answer, reject, busy, hangup, pair [JID], unlock PIN,
        quit. Whatever happens, the caller (the command loop, the HAL's button) goes on."""
        await self.guard("command " + cmd, self._command, cmd, args)

    async def _command(self, cmd, args):
        from portier.signaling.engine import CallError

        now = time.ticks_ms()
        try:
            if cmd == "press" or cmd == "call":
                await self.press(now)
            elif cmd == "answer" or cmd == "reject" or cmd == "busy" or cmd == "hangup":
                call = self.engine.current()
                if call is None:
                    raise CallError("no call")
                if cmd == "answer":
                    self.engine.answer(call.id, now)
                elif cmd == "reject" or cmd == "busy":  # busy: this device only declines
                    self.engine.reject(call.id, now, busy=cmd == "busy")
                else:
                    self.engine.hang_up(call.id, now)
            elif cmd == "pair":
                targets = args or self.cfg.pair_with
                for jid in targets:
                    asyncio.create_task(self.pair(jid))
            elif cmd == "unlock":
                from portier import appunlock

                await appunlock.send_unlock(self, args)
            elif cmd == "quit":
                call = self.engine.current()
                if call is not None:
                    self.engine.hang_up(call.id, now)
                    await self._pump()
                    await streams.sleep_ms(50)  # let the terminate leave
                return self.quit()
            else:
                raise CallError("unknown command %r" % cmd)
        except ValueError as e:  # CallError, E2eError, ConfigError
            self.log("W", "app", "command refused", cmd=cmd, error=str(e))
            return None
        await self._pump()
        return None

    async def press(self, now):
        """The door's button (or the phone's "call"): ring the household's paired devices, or
        the configured device from a phone."""
        from portier.signaling.engine import CallError

        self.log("I", "app", "pressed")
        if self.cfg.profile == "door":
            devices = self.paired.devices
            to = self.cfg.household_jid()
        else:
            if self.cfg.call is None:
                raise CallError("no device to call configured")
            devices = [self.cfg.call]
            to = self.cfg.call
        if not self.link.ready and self.engine.current() is None:
            return await self._no_link(to)
        call_id = self.engine.place_call(to, devices, now)
        self._started[call_id] = self.link.wall_time(now)

    async def _no_link(self, to):
        """A press while the switchboard is unreachable (docs/protocol.md 8.3): no call is
        placed or held for later (a ring minutes late finds nobody at the door); the call log
        gets a failed call, reason no_link, and the LED shows the error until the link is back.
        A door keeps the ring to tell its paired devices when the link is back (portier.missed)."""
        from portier.signaling.engine import Event, new_id

        self._no_link_press = True
        self.log("W", "app", "no link: call not placed", link_state=self.link.timer.state)
        call_id = new_id()
        now = time.ticks_ms()
        if self.cfg.profile == "door":
            if self.missed is None:
                from portier.missed import MissedRings

                self.missed = MissedRings(self.cfg.jid, new_id)
            self.missed.add(call_id, self.link.wall_time(now), self.paired.devices, now)
        await self._on_event(Event("ended", call_id, "out", to, outcome="failed",
                                   reason=REASON_NO_LINK))

    # ---- engine output ----

    async def _pump(self):
        while True:
            out = self.engine.pending()
            events = self.engine.events()
            if not out and not events:
                return
            for s in out:
                await self.link.send(s.to_node())
            for ev in events:  # one event that fails (a call log on a full flash) is the only loss
                await self.guard("event " + ev.kind, self._on_event, ev)

    async def _on_event(self, ev):
        if ev.kind == "unlock":  # no call-log line, no start time: the call-id may be anyone's
            return await self._on_unlock(ev)
        now = time.ticks_ms()
        fields = {"kind": ev.kind, "call_id": ev.call_id, "direction": ev.direction,
                  "peer": ev.peer}
        if ev.kind == "ended":
            fields["outcome"] = ev.outcome
            fields["reason"] = ev.reason
            fields["duration_s"] = ev.duration_s
        elif ev.kind == "media":
            fields["codec"] = "%s/%d" % ev.codec
        self.log("I", "engine", "event", **fields)
        if ev.call_id not in self._started:
            self._started[ev.call_id] = self.link.wall_time(now)
        if ev.kind == "ringing":
            self._show_led(now)
            if ev.direction == "out":
                self._prefetch_media()
        elif ev.kind == "answered":
            self._show_led(now)
        elif ev.kind == "media":
            await self._start_media(ev)
        elif ev.kind == "ended":
            await self._stop_media()
            self.shed()
            start = self._started.pop(ev.call_id, self.link.wall_time(now))
            from portier import appmem

            problem = appmem.log_call(self.cfg, ev, start)
            if problem is not None:
                self.log("W", "app", "call log unreadable: started anew", error=problem)
            self.log("I", "app", "call log", direction=ev.direction, peer=ev.peer,
                     outcome=ev.outcome, reason=ev.reason, start=start, duration=ev.duration_s)
            self._show_led(now)

    def _show_led(self, now):
        """The LED shows the call while there is one, else the link: idle when linked,
        connecting while it is down within the grace, error past the grace or after a press
        that found no link (docs/protocol.md 8.3)."""
        if self.engine.current() is not None:
            state = controls.LED_IN_CALL if self.engine.answered_call() else controls.LED_RINGING
        elif self.link.ready:
            self._no_link_press = False
            state = controls.LED_IDLE
        elif self._no_link_press or self.link.timer.past_grace(now):
            state = controls.LED_ERROR
        else:
            state = controls.LED_CONNECTING
        if state != self._led_state:
            self._led(state)

    def _led(self, state):
        self._led_state = state
        self.hal.led(state, time.ticks_ms())
        self.log("D", "app", "led", state=state)


def config_path(argv=None):
    """The config file: argv[1], else $PORTIER_CONFIG, else portier.json (a board's flash)."""
    argv = sys.argv if argv is None else argv
    if len(argv) > 1:
        return argv[1]
    return getenv("PORTIER_CONFIG") or "portier.json"


def getenv(name):
    """An environment variable, or None (also on a board, whose os has no environment)."""
    try:
        import os

        return os.getenv(name)
    except (AttributeError, ImportError):
        return None


def pick_hal(cfg):
    vboard_io = getenv("PORTIER_VBOARD_IO")  # `portier vboard` names its pin folder here
    # (vboardio.ENV; not imported for it: a board never loads that module)
    if vboard_io and cfg.audio.get("board") is None:
        from portier.hal import vboardio

        return vboardio.VboardDoor(cfg.audio, vboard_io)
    if cfg.audio.get("board") == "esp32" or sys.platform == "esp32":
        from portier.hal import esp32door

        return esp32door.Esp32Door(cfg.audio, cfg)
    from portier.hal import vdoor

    return vdoor.VirtualDoor(cfg.audio)


def main(argv=None, media_class=None):
    from portier import config
    from portier.appmem import collect_early

    cfg = config.load(config_path(argv))
    collect_early()
    app = App(cfg, pick_hal(cfg), media_class)
    asyncio.run(app.run())
    return app
