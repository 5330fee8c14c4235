"""`portier bridge --config FILE`: a household device that answers the door on SIP phones.

It is portier.app.App composed of two parts (bridge_app()): the board BridgeHal, whose audio
device is the answered SIP leg (bridge/audio.py), and BridgePart, the softphone's part
(portier.phonepart: its own JID, Signal identity and certificate, pairing, the unlock request)
with SIP added: the call engine's events and the SIP legs' events meet in BridgeRules
(bridge/rules.py), whose actions are carried out here. The SIP user agent is PJSIP
(bridge/sipua.py), polled from the same event loop; its events enter the App's edge loop
through the inbox, as the link's stanzas do.

The config file is a device config (portier.config, profile "phone": the bridge pairs with
and calls the door like a softphone) with a "sip" block (bridge/sipconfig.py). Log lines are
the App's JSON lines plus src "sip": "start", "registrar", "registration", "dial", "early",
"incoming", "refused" (an INVITE not from the registrar), "answered", "cancel", "refuse",
"ended", "media" (codec, srtp), "dtmf" (method, never the digit), "tone", "audio" (frame
counts per call); PJSIP's own log goes to stderr.
"""

import asyncio
import json
import sys
import time

from .. import paths
from . import rules as R
from . import sipconfig
from .audio import BridgeAudio
from .pin import tone

paths.use_firmware()
from portier import config as fwconfig  # noqa: E402
from portier.app import App  # noqa: E402
from portier.applog import log_line  # noqa: E402
from portier.hal.board import Board  # noqa: E402
from portier.phonepart import PhonePart  # noqa: E402

_POLL_S = 0.01  # SIP work is done at least this often (PJSIP polled, no SIP threads)
_SIP = "sip"  # the edge loop's input kind the bridge adds: a PJSIP event


class BridgeError(Exception):
    """The bridge cannot start (config, SIP stack); the CLI prints it without a traceback."""


class BridgeHal(Board):
    """No LED, no strike; the audio of a call is the answered SIP leg (BridgePart.open_audio)."""

    name = "bridge"
    part = None  # the BridgePart, which sets itself here

    def audio(self, rate):
        return self.part.open_audio(rate)


def bridge_app(cfg, sip_cfg, ua=None, log=None):
    """The bridge: the App with BridgeHal and BridgePart."""
    return App(cfg, BridgeHal(), log=log, part=lambda app: BridgePart(app, sip_cfg, ua))


class BridgePart(PhonePart):
    def __init__(self, app, sip_cfg, ua=None):
        from .sipua import SipUa

        PhonePart.__init__(self, app)
        self.sip_cfg = sip_cfg
        self.rules = R.BridgeRules()
        self.ua = ua or SipUa(sip_cfg)
        self.audio_dev = None
        self.registrar = None
        self._sip = None
        self.log = app.log
        app.hal.part = self

    def targets(self):
        sc = self.sip_cfg
        if sc.mode == "registrar":
            return ["sip:%s@%s" % (user, sc.domain) for user in sorted(sc.phones)]
        return list(sc.targets)

    # ---- running ----

    async def start(self):
        if self.sip_cfg.mode == "registrar":
            from .registrar import LabError, Registrar

            self.registrar = Registrar(self.sip_cfg)
            try:
                self.registrar.start()
            except (LabError, OSError) as e:
                raise BridgeError("registrar did not start on %s:%d: %s"
                                  % (self.sip_cfg.bind, self.sip_cfg.port, e)) from None
            self.ua.sc = self.registrar.ua_config()
            self.log("I", "sip", "registrar", uri=self.registrar.registrar_uri(),
                     phones=sorted(self.sip_cfg.phones))
        try:
            self.ua.start()
        except Exception as e:  # noqa: BLE001 - pjsua2.Error and OSError alike
            if self.registrar is not None:
                self.registrar.stop()
            raise BridgeError("SIP stack did not start on %s:%d: %s"
                              % (self.sip_cfg.bind, self.sip_cfg.port, e)) from None
        self.log("I", "sip", "start", mode=self.sip_cfg.mode, bind=self.sip_cfg.bind,
                 port=self.sip_cfg.port, aor=self.sip_cfg.aor(), targets=self.targets())
        self._sip = asyncio.create_task(self._sip_loop())
        try:  # SIGTERM (a service manager's stop): end the calls and unregister, then exit
            import signal

            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.app.quit)
        except (NotImplementedError, RuntimeError):
            pass

    def stop(self):
        if self._sip is not None:
            self._sip.cancel()
        self.ua.stop()
        if self.registrar is not None:
            self.registrar.stop()

    async def _sip_loop(self):
        """PJSIP polled; each of its events goes into the App's inbox: the edge loop handles
        it (on_input), as it does the link's stanzas, one input at a time."""
        while True:
            self.ua.poll()
            while self.ua.events:
                self.app.inbox.put_nowait(_SIP, self.ua.events.popleft())
            await asyncio.sleep(_POLL_S)

    async def on_input(self, kind, payload):
        if kind != _SIP:
            return await PhonePart.on_input(self, kind, payload)
        try:
            await self._on_sip(payload)
        except ValueError as e:  # a refused intent, a leg already gone
            self.log("W", "sip", "event refused", event=payload[0], error=str(e))

    # ---- household side: the call engine's events, the door's unlock result ----

    async def on_event(self, ev):
        actions = self.rules.household(ev.kind, ev.call_id, ev.direction,
                                       getattr(ev, "outcome", None), self.targets())
        await self._do(actions)

    async def on_call_stanza(self, msg, now):
        await PhonePart.on_call_stanza(self, msg, now)
        if msg.action == "unlock_result":  # the door's answer
            await self._do(self.rules.unlock_result(msg.result))

    def open_audio(self, rate):
        """The media session's audio device for the answered leg (App._start_media)."""
        leg = self.rules.talking
        if leg is None:
            raise OSError("no SIP leg to bridge")  # App logs "media failed"; the call goes on
        self.ua.attach(leg, rate)
        self.audio_dev = BridgeAudio(self.ua.queues(rate), rate)
        return self.audio_dev

    def media_stopped(self):
        dev, self.audio_dev = self.audio_dev, None
        if dev is not None:
            self.log("I", "sip", "audio", **dev.stats())

    # ---- SIP side ----

    async def _on_sip(self, ev):
        kind = ev[0]
        if kind == "registration":
            self.log("I" if ev[1] // 100 == 2 else "W", "sip", "registration", code=ev[1],
                     reason=ev[2])
        elif kind == "incoming":
            call, remote = ev[1], ev[2]
            leg, actions = self.rules.incoming()
            self.ua.adopt(leg, call)
            self.log("I", "sip", "incoming", leg=leg, remote=remote)
            await self._do(actions)
        elif kind == "refused":
            self.log("W", "sip", "refused", source=ev[1], remote=ev[2],
                     why="not from the registrar")
        elif kind == "confirmed":
            self.log("I", "sip", "answered", leg=ev[1])
            await self._do(self.rules.leg_answered(ev[1]))
        elif kind == "early":
            self.log("I", "sip", "early", leg=ev[1], code=ev[2])
        elif kind == "media":
            self.log("I", "sip", "media", leg=ev[1], **ev[2])
        elif kind == "disconnected":
            leg = ev[1]
            self.log("I", "sip", "ended", leg=leg, code=ev[2], reason=ev[3])
            self.ua.forget(leg)
            await self._do(self.rules.leg_ended(leg, ev[2]))
        elif kind == "dtmf":
            self.log("I", "sip", "dtmf", leg=ev[1], method=ev[3])  # never the digit: a PIN
            await self._do(self.rules.dtmf(ev[1], ev[2], time.ticks_ms()))

    # ---- carrying out the rules' actions ----

    async def _do(self, actions):
        for a in actions:
            try:
                await self._act(a)
            except ValueError as e:  # SipError, CallError: logged, the rest still done
                self.log("W", "sip", "action failed", action=a[0], error=str(e))

    async def _act(self, a):
        kind, now, ua, app = a[0], time.ticks_ms(), self.ua, self.app
        if kind == R.DIAL:
            self.log("I", "sip", "dial", leg=a[1], target=a[2])
            ua.dial(a[1], a[2])
        elif kind == R.CANCEL:
            self.log("I", "sip", "cancel", leg=a[1], cause=a[2], text=a[3])
            ua.cancel(a[1], a[2], a[3])
        elif kind == R.HANG_UP:
            ua.hang_up(a[1])
        elif kind == R.RING:
            ua.ring(a[1])
        elif kind == R.ACCEPT:
            ua.accept(a[1])
        elif kind == R.REFUSE:
            self.log("I", "sip", "refuse", leg=a[1], code=a[2])
            ua.refuse(a[1], a[2])
        elif kind == R.ANSWER:
            app.engine.answer(a[1], now)
            await app.pump()
        elif kind == R.DECLINE:
            app.engine.reject(a[1], now, busy=a[2])
            await app.pump()
        elif kind == R.END:
            call = app.engine.current()
            if call is not None and (a[1] is None or a[1] == call.id):
                app.engine.hang_up(call.id, now)
                await app.pump()
        elif kind == R.CALL_DOOR:
            await app.press(now)
            await app.pump()
        elif kind == R.UNLOCK:
            try:
                await self.send_unlock([a[1]])
            except ValueError as e:
                self.log("W", "app", "unlock not sent", error=str(e))
                await self._do(self.rules.unlock_result("refused"))
        elif kind == R.TONE:
            self.log("I", "sip", "tone", leg=a[1], tone=a[2])
            if self.audio_dev is not None:
                self.audio_dev.play_tone(tone(a[2], self.audio_dev.rate))


# ---- the command ----

def load(path):
    """(portier.config.Config, SipConfig) from the bridge's config file."""
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise BridgeError("%s: %s" % (path, e)) from None
    if not isinstance(d, dict) or "sip" not in d:
        raise BridgeError("%s: no \"sip\" block (docs/sip.md)" % path)
    sip = d.pop("sip")
    d.setdefault("profile", "phone")
    d.setdefault("control", "none")
    try:
        return fwconfig.check(d), sipconfig.check(sip)
    except ValueError as e:  # ConfigError, SipConfigError
        raise BridgeError("%s: %s" % (path, e)) from None


def run(path):
    from . import sipua

    if not sipua.available():
        raise BridgeError("the SIP stack is missing: pip install pjsua2-python (make setup "
                          "installs it)")
    cfg, sc = load(path)
    if cfg.profile != "phone":
        raise BridgeError("%s: a bridge's profile is \"phone\" (it pairs with the door)" % path)
    app = bridge_app(cfg, sc, log=log_line)
    asyncio.run(app.run())
    return 0


def main(args):
    try:
        return run(args.config)
    except BridgeError as e:
        print("portier bridge: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
