# The device's edge: the one place where the cores (call engine, link timer, media session, call
# log, pairing) meet the outside (the switchboard link, the clock, commands, the board, media).
# A device is the App composed of declared parts:
#   - the board (hal): a portier.hal.board.Board subclass (LED, audio, strike, watchdog, button)
#   - the device's part (Part below): portier.doorpart.DoorPart for the door board (on
#     MicroPython, or the simulator's virtual door), portier.phonepart.PhonePart for the
#     household softphone (CPython through the shim); the bridge adds SIP to the phone's part
#     (host_tools/portier_host/bridge/app.py). part_for() is the one place that picks it.
#
# The edge loop (App._edge, after aioquic's asyncio/protocol.py): every input is put into one
# Inbox by whichever task saw it (the link's reader: a stanza, <ready>; the command reader; the
# board's HAL: the button; the media session: its first audio) and only the edge loop takes
# them out, one at a time: input -> the cores with `now` -> drain the engine's stanzas to the
# link and its events to their handlers -> re-arm the one timer from the engine's deadline.
# Nothing calls up from the link or the HAL into the app; inputs are never handled in two tasks
# at once.
#
# Log lines: one JSON object per line on stdout, {"t": ticks_ms, "lvl", "src", "msg", ...}:
#   src "link"   msg "out"/"in" for every stanza (tag, action, ids, key attributes),
#                "ready" (connect_ms), "reconnect" (wait_ms), ...
#   src "engine" msg "event" (kind, call_id, direction, peer, outcome, reason, duration_s, codec)
#   src "app"    "pressed", "led", "call log", "paired", "pair failed", "media start"/"stop"
#   src "media"  "first audio"
# Commands (control "stdin"): press | call | answer | reject | busy | hangup | pair [JID] |
# unlock PIN (a phone in an answered call from the door: portier.appunlock) | quit.
#
# One error boundary (guard): each input the edge loop takes, each timer turn and each engine
# event an input produced is handled inside it, whichever task delivered it. An exception
# there drops that input only, is logged once ("input dropped", with its cause) and counted
# (App.faults); the edge loop goes on, and so does the watchdog it feeds every turn. Only
# cancellation and the interpreter's exits pass through.
#
# The codec, engine, e2e and link modules are imported when the App is built, not when this
# module is: importing portier.app alone stays small (the firmware import test runs every module
# in a 96-128 KiB heap), and a board pays for them once, at start.
import asyncio
import sys
import time

from micropython import const

from portier import appmem, pairing
from portier.applog import describe, log_line, where
from portier.config import getenv, read_file
from portier.hal import controls
from portier.hal.board import BUTTON, LONG_PRESS
from portier.net import streams

_TIMER_WAKE_MS = const(100)  # the edge loop's timer turn comes at least this often
_INBOX_MAX = const(8)  # link stanzas waiting for the edge loop; the reader waits beyond (TCP holds)
MEDIA_SILENCE_MS = 10000  # no packet from the peer this long (or since media start): hang up
REASON_NO_LINK = "no_link"  # the call log's reason for a press that found no switchboard link

# The inputs of the edge loop (Inbox kinds). The link puts STANZA and READY (portier.net.link
# names the same strings), the board BUTTON and LONG_PRESS (portier.hal.board), the media
# session FIRST_AUDIO; a part may add its own (the bridge: its SIP events).
STANZA = "stanza"
READY = "ready"
COMMAND = "command"
FIRST_AUDIO = "first audio"


class Inbox:
    """The edge loop's input queue: (kind, payload, done) oldest first. put() (the link's
    reader) waits while _INBOX_MAX inputs are queued, so a flood of stanzas stops the reader,
    not the heap; put_nowait() (commands, the button, media) never waits. done: an
    asyncio.Event set once the input has been handled (or dropped when the app stops)."""

    def __init__(self):
        self._q = []
        self._arrived = asyncio.Event()
        self._taken = asyncio.Event()

    def __len__(self):
        return len(self._q)

    def put_nowait(self, kind, payload=None, done=None):
        self._q.append((kind, payload, done))
        self._arrived.set()

    async def put(self, kind, payload=None):
        while len(self._q) >= _INBOX_MAX:
            self._taken.clear()
            await self._taken.wait()
        self.put_nowait(kind, payload)

    def take(self):
        """The oldest input, or None."""
        if not self._q:
            return None
        item = self._q.pop(0)
        self._taken.set()
        return item

    async def wait_ms(self, ms):
        """Until an input arrives, or ms pass."""
        if self._q:
            return
        self._arrived.clear()
        try:
            await streams.wait_for_ms(self._arrived.wait(), ms)
        except asyncio.TimeoutError:
            pass

    def close(self):
        """The app stops: whoever waits for an input's handling is let go."""
        q, self._q = self._q, []
        for item in q:
            if item[2] is not None:
                item[2].set()
        self._taken.set()


class Part:
    """What a kind of device adds to the App; the edge loop calls these, within its error
    boundary. The defaults are a device that does none of it."""

    def __init__(self, app):
        self.app = app

    async def start(self):
        """Before the link starts."""

    def stop(self):
        """The app has stopped."""

    def call_targets(self):
        """-> (to, devices) of a press or "call": whom the call rings."""
        from portier.signaling.engine import CallError

        raise CallError("this device calls nobody")

    def no_link(self, call_id, now):
        """A press found no link: call_id was logged failed, reason no_link."""

    async def on_ready(self, now):
        """The link is ready (again)."""

    async def timer_turn(self, now):
        """Each timer turn of the edge loop."""

    async def on_call_stanza(self, msg, now):
        """A call stanza (portier.signaling.stanzas) the engine has handled (and acked)."""

    async def on_link_stanza(self, msg):
        """A link stanza (portier.signaling.linkstanzas) -> True when this part took it."""
        return False

    async def on_event(self, ev):
        """An engine event, after the App's own handling (not "unlock": on_unlock)."""

    async def on_unlock(self, ev):
        """The engine's "unlock" event: an <unlock> it acked, with its verdict on who may ask
        and when (portier.signaling.engine)."""

    def media_stopped(self):
        """A call's media session ended."""

    async def command(self, cmd, args):
        """A command the App does not know itself."""
        from portier.signaling.engine import CallError

        raise CallError("unknown command %r" % cmd)

    async def on_input(self, kind, payload):
        """An inbox input kind of this part's own."""
        self.app.log("W", "app", "unknown input", kind=kind)


def part_for(cfg):
    """The one place that picks a device's part: -> its class, by the config's profile."""
    if cfg.profile == "door":
        from portier.doorpart import DoorPart

        return DoorPart
    from portier.phonepart import PhonePart

    return PhonePart


def _relay_address(relay):
    """(host, port) of the relay block's first IPv4 endpoint (a 6-byte address+port body)."""
    for te in relay.endpoints:
        a = te.address
        if len(a) == 6:
            return "%d.%d.%d.%d" % (a[0], a[1], a[2], a[3]), (a[4] << 8) | a[5]
    raise ValueError("relay block without an IPv4 endpoint")


class App:
    """cfg: portier.config.Config; hal: a portier.hal.board.Board; media_class: the media
    session class (default: portier.net.media.MediaSession when present); part: a callable
    (app) -> the device's Part (default: part_for(cfg))."""

    def __init__(self, cfg, hal, media_class=None, log=None, part=None):
        from portier.e2e import CallKeys
        from portier.net.link import Link
        from portier.signaling.engine import CallEngine

        self.cfg = cfg
        self.hal = hal
        self._log = log or log_line
        self.engine = CallEngine(cfg.jid, CallKeys(cfg.e2e_store),
                                 ring_timeout_ms=cfg.ring_timeout_ms,
                                 max_call_ms=cfg.max_call_ms, auto_answer=cfg.auto_answer)
        self.paired = pairing.PairedDevices(cfg.paired_file)
        self.inbox = Inbox()
        self.media_class = media_class  # None: portier.net.media, loaded at the first call
        self.media = None
        self._media_task = None
        self._started = {}  # call-id -> wall-clock start (UNIX s)
        self._running = True
        self._done = None
        self._led_state = None  # what _led last showed
        self._no_link_press = False  # a press found no link: error LED until the link is back
        self.faults = 0  # inputs dropped by guard()
        ssl_ctx = None
        if not cfg.insecure:
            ssl_ctx = streams.client_tls(read_file(cfg.ca_path), read_file(cfg.cert_path),
                                         read_file(cfg.key_path))
        self.link = Link(cfg.jid, cfg.host, cfg.port, self.inbox, ssl_ctx, cfg.server_name,
                         trace=self._trace,
                         log=lambda lvl, msg, **kw: self._log(lvl, "link", msg, kw))
        self.part = (part or part_for(cfg))(self)

    @property
    def store(self):
        """This device's Signal store (portier.e2e.stores.FileStore), made per use."""
        from portier.e2e import file_store

        return file_store(self.cfg.e2e_store)

    def log(self, lvl, src, msg, **fields):
        self._log(lvl, src, msg, fields)

    def _trace(self, direction, node):
        self._log("D", "link", direction, describe(node))

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

    # ---- running ----

    async def run(self):
        self._done = asyncio.Event()
        self.log("I", "app", "start", jid=self.cfg.jid, profile=self.cfg.profile,
                 runtime=sys.implementation.name, paired=self.paired.devices)
        self._led(controls.LED_CONNECTING)
        await self.hal.start(self.inbox, self.log)  # a board: watchdog and Wi-Fi first
        await self.part.start()
        tasks = [asyncio.create_task(self.link.run()), asyncio.create_task(self._edge()),
                 asyncio.create_task(self.hal.run())]
        if self.cfg.control == "stdin":
            tasks.append(asyncio.create_task(self._read_commands()))
        try:
            await self._done.wait()
            self.link.stop()
            await self._stop_media()
        finally:
            for t in tasks:
                t.cancel()
            self.inbox.close()
            self.part.stop()
        await streams.sleep_ms(10)
        self.log("I", "app", "stop")

    def quit(self):
        self._running = False
        if self._done is not None:
            self._done.set()

    async def _edge(self):
        """The edge loop: one input at a time, a timer turn when the one timer is due, the
        board's watchdog fed every turn (a handler that raised is dropped by guard)."""
        feed = self.hal.feed  # a board's watchdog: fed while this loop runs
        inbox = self.inbox
        turn_at = time.ticks_ms()
        while self._running:
            feed()
            item = inbox.take()
            if item is not None:
                await self._input(item[0], item[1])
                if item[2] is not None:
                    item[2].set()
                turn_at = self._rearm(turn_at)
            if time.ticks_diff(turn_at, time.ticks_ms()) <= 0:
                ok = await self.guard("timer", self._timer_turn)
                turn_at = time.ticks_add(time.ticks_ms(), _TIMER_WAKE_MS)
                if ok:  # a turn that failed is not retried at once
                    turn_at = self._rearm(turn_at)
            if item is None:
                await inbox.wait_ms(max(1, time.ticks_diff(turn_at, time.ticks_ms())))

    def _rearm(self, turn_at):
        """The one timer: the next turn, or the engine's deadline when that is sooner."""
        deadline = self.engine.next_deadline()
        if deadline is not None and time.ticks_diff(deadline, turn_at) < 0:
            return deadline
        return turn_at

    async def _input(self, kind, payload):
        if kind == STANZA:
            await self.guard("stanza", self._on_node, payload)
        elif kind == READY:
            await self.guard("ready", self._on_ready)
        elif kind == COMMAND:
            await self.guard("command " + payload[0], self._command, payload[0], payload[1])
        elif kind == BUTTON:
            await self.guard("button", self._command, "press", ())
        elif kind == LONG_PRESS:  # the board's status() is the board's code: guarded too
            await self.guard("long press", self._log_status)
        elif kind == FIRST_AUDIO:  # the simulator times accept -> first audio by this line
            self.log("I", "media", "first audio", call_id=payload)
        else:
            await self.guard(kind, self.part.on_input, kind, payload)

    async def _log_status(self):
        self.log("I", "hal", "status", link=self.link.ready, **self.hal.status())

    async def _timer_turn(self):
        """Engine timers, a lost link, silent media, the LED."""
        now = time.ticks_ms()
        deadline = self.engine.next_deadline()
        if deadline is not None and time.ticks_diff(deadline, now) <= 0:
            self.engine.on_timer(now)
            await self.pump()
        if self.link.timer.lost(now):  # down past the grace: calls end connection_lost
            self.log("W", "app", "link lost", calls=self.engine.current() is not None)
            self.engine.link_lost(now)
            await self.pump()
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
                await self.pump()
        await self.part.timer_turn(now)
        self._show_led(now)
        return True

    async def _read_commands(self):
        """Control "stdin": each line is a command for the edge loop."""
        lines = streams.stdin_lines()
        while self._running:
            line = await lines.readline()
            if not line:
                self.log("I", "app", "stdin closed")
                return self.quit()
            words = line.decode().split()
            if words:
                self.inbox.put_nowait(COMMAND, (words[0], words[1:]))

    async def command(self, cmd, args=()):
        """One user intent: press/call, answer, reject, busy, hangup, pair [JID], unlock PIN,
        quit; handled by the edge loop (which must run). Returns once it has been handled;
        whatever happens, the caller goes on."""
        done = asyncio.Event()
        self.inbox.put_nowait(COMMAND, (cmd, args), done)
        await done.wait()

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
            elif cmd == "quit":
                call = self.engine.current()
                if call is not None:
                    self.engine.hang_up(call.id, now)
                    await self.pump()
                    await streams.sleep_ms(50)  # let the terminate leave
                return self.quit()
            else:
                await self.part.command(cmd, args)  # pair, unlock (a phone's)
        except ValueError as e:  # CallError, E2eError, ConfigError
            self.log("W", "app", "command refused", cmd=cmd, error=str(e))
            return None
        await self.pump()
        return None

    async def press(self, now):
        """The door's button (or the phone's "call"): ring whom the part names (the door: the
        household's paired devices; a phone: the configured device)."""
        self.log("I", "app", "pressed")
        to, devices = self.part.call_targets()
        if not self.link.ready and self.engine.current() is None:
            return await self._no_link(to)
        call_id = self.engine.place_call(to, devices, now)
        self._started[call_id] = self.link.wall_time(now)

    async def _no_link(self, to):
        """A press while the switchboard is unreachable (docs/protocol.md 8.3): no call is
        placed or held for later (a ring minutes late finds nobody at the door); the call log
        gets a failed call, reason no_link, and the LED shows the error until the link is back.
        The door's part keeps the ring to tell its paired devices later (portier.missed)."""
        from portier.signaling.engine import Event, new_id

        self._no_link_press = True
        self.log("W", "app", "no link: call not placed", link_state=self.link.timer.state)
        call_id = new_id()
        self.part.no_link(call_id, time.ticks_ms())
        await self._on_event(Event("ended", call_id, "out", to, outcome="failed",
                                   reason=REASON_NO_LINK))

    # ---- engine output ----

    async def pump(self):
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
            return await self.part.on_unlock(ev)
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
            self.shed(appmem.CALL_END)
            start = self._started.pop(ev.call_id, self.link.wall_time(now))
            self.log_call(ev, start, ev.duration_s)
            self._show_led(now)
        await self.part.on_event(ev)

    def log_call(self, ev, start, duration):
        """The call log file gets this ended call (portier.appmem.log_call), and a log line."""
        problem = appmem.log_call(self.cfg, ev, start)
        if problem is not None:
            self.log("W", "app", "call log unreadable: started anew", error=problem)
        self.log("I", "app", "call log", direction=ev.direction, peer=ev.peer,
                 outcome=ev.outcome, reason=ev.reason, start=start, duration=duration)

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

    def shed(self, moment):
        """A quiet moment (portier.appmem: RINGING, MEDIA_START, CALL_END, PAIRED, ...): drop
        what the memory table says goes then, and collect."""
        appmem.shed(moment, self.engine.current() is not None)

    # ---- media (portier.net.media) ----

    def _prefetch_media(self):
        """An outgoing call rings: its keys are wrapped, so the Signal code goes and the media
        code comes now, while people walk to their phones, not between accept and first audio
        (an import of the media stack takes tens of ms on the host, far more on a board)."""
        if self.media_class is None:
            self.shed(appmem.RINGING)
            self._load_media()

    def _load_media(self):
        # The default, loaded at the first call and then kept: dropped after each call, it
        # did not fit back into the fragmented heap at the next (tests/host/test_door_heap).
        self.media_class = appmem.load_media()
        self.log("D", "app", "media loaded", ok=self.media_class is not None)
        return self.media_class

    async def _start_media(self, ev):
        await self._stop_media()
        self.shed(appmem.MEDIA_START)  # the Signal code is done with until the next call
        media_class = self.media_class or self._load_media()
        if media_class is None:
            self.log("W", "app", "no media module: call without audio", call_id=ev.call_id)
            return
        try:
            self.media = self._new_media(ev, media_class)
        except (OSError, ValueError) as e:  # no audio device, a bad relay block: the call goes
            self.log("E", "app", "media failed", call_id=ev.call_id, error=repr(e))  # on, mute
            return
        call_id, inbox = ev.call_id, self.inbox
        self.media.on_first_audio = lambda: inbox.put_nowait(FIRST_AUDIO, call_id)
        self._media_task = asyncio.create_task(self.media.run())
        self.hal.call_active(True)  # a board: Wi-Fi power save off while audio flows
        self.log("I", "app", "media start", call_id=ev.call_id, codec="%s/%d" % ev.codec)

    def _new_media(self, ev, media_class):
        relay = ev.relay
        host, port = _relay_address(relay)
        audio = self.hal.audio(ev.codec[1])
        from portier.media import dsp  # loaded with the media class already

        # The board's echo control (board file / virtual door config), fresh for each call.
        echo = dsp.echo_control(self.hal.echo_control)
        return media_class(own_jid=self.cfg.jid, peer_jid=ev.peer, call_id=ev.call_id,
                           call_key=ev.call_key, codec=ev.codec, relay_host=host,
                           relay_port=port, relay_token=relay.tokens[0][1],
                           pid=relay.self_pid, audio=audio, echo=echo)

    async def _stop_media(self):
        media, self.media = self.media, None
        if media is None:
            return
        self.hal.call_active(False)
        media.stop()
        task, self._media_task = self._media_task, None
        try:
            await streams.wait_for_ms(task, 2000)
        except Exception as e:  # a media task that failed or hangs must not stop the app
            self.log("W", "app", "media end", error=repr(e))
        media.audio.close()  # opened per call by _new_media; a WAV speaker gets its sizes here
        self.log("I", "app", "media stop", **media.stats.to_dict())
        self.part.media_stopped()

    # ---- the link's inputs ----

    async def _on_ready(self):
        now = time.ticks_ms()
        self._show_led(now)  # idle, or the call's state when one goes on
        await self.part.on_ready(now)

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
            await self.pump()
            await self.part.on_call_stanza(msg, now)  # after the ack: <unlock>, <missed>, ...
            return
        try:
            msg = ls.parse(node)
        except ValueError as e:
            self.log("W", "app", "bad stanza", tag=node.tag, error=str(e))
            return
        if not await self.part.on_link_stanza(msg):
            self.log("W", "app", "unexpected stanza", kind=msg.kind)


def config_path(argv=None):
    """The config file: argv[1], else $PORTIER_CONFIG, else portier.json (a board's flash)."""
    argv = sys.argv if argv is None else argv
    if len(argv) > 1:
        return argv[1]
    return getenv("PORTIER_CONFIG") or "portier.json"


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

    cfg = config.load(config_path(argv))
    appmem.collect_early()
    app = App(cfg, pick_hal(cfg), media_class)
    asyncio.run(app.run())
    return app
