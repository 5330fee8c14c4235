"""The bridge's SIP user agent: PJSIP (pjproject 2.15) through its pjsua2 bindings, the only
module that speaks SIP (docs/sip.md says why PJSIP). PJSIP does the SIP transactions and
dialogs, digest authentication, registration, SDP offer/answer, RTP and SRTP (SDES keys,
RFC 4568), the codecs, its adaptive jitter buffer and loss concealment, and DTMF both as
RFC 4733 events and as SIP INFO.

Threads: SIP work runs on the event loop's thread, in poll() (threadCnt 0: no SIP worker
threads), so the call callbacks below run there too. PJSIP's media run on its own threads:
the media clock calls FramePort.onFrameRequested/onFrameReceived every 20 ms and an RTP
worker reports RFC 4733 digits. Every callback only appends to `events` (a deque: atomic
appends) or to a port's queues; the bridge (bridge/app.py) drains `events` after each poll.

Events: ("registration", code, reason) ("incoming", call, remote_uri) ("confirmed", leg)
("refused", source, remote_uri) (an INVITE not from the registrar, answered 403)
("disconnected", leg, code, reason) ("media", leg, info) ("dtmf", leg, digit, method).
"""

import collections
import sys

from .audio import PortQueues

try:
    import pjsua2 as pj
except ImportError:  # reported by the CLI with what to install
    pj = None

_PTIME_US = 20000
_REASON_HEADER = "Reason"
# codec ids as PJSIP names them; anything not listed here is switched off
_CODEC_IDS = {"PCMU": "PCMU/8000/1", "PCMA": "PCMA/8000/1", "G722": "G722/16000/1"}


class SipError(ValueError):
    """The SIP stack refused an operation (a bad URI, a call that is already gone)."""


def available():
    return pj is not None


if pj is not None:
    class _LogWriter(pj.LogWriter):
        """PJSIP's own log, to stderr: stdout carries the bridge's JSON lines."""

        def write(self, entry):
            sys.stderr.write(entry.msg if entry.msg.endswith("\n") else entry.msg + "\n")

    class FramePort(pj.AudioMediaPort):
        """A conference port whose frames go to and come from PortQueues (bridge/audio.py)."""

        def __init__(self, rate):
            pj.AudioMediaPort.__init__(self)
            self.queues = PortQueues()
            self.rate = rate
            self.frame_bytes = 2 * rate * _PTIME_US // 1000000
            fmt = pj.MediaFormatAudio()
            fmt.init(pj.PJMEDIA_FORMAT_PCM, rate, 1, _PTIME_US, 16)
            self.createPort("portier-%d" % rate, fmt)

        def onFrameRequested(self, frame):  # media clock thread
            q = self.queues
            data = q.take_tx()
            if data is not None:
                frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
                frame.buf = pj.ByteVector(data)
                frame.size = len(data)

        def onFrameReceived(self, frame):  # media clock thread, once per tick
            audio = frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size
            self.queues.put_rx(bytes(frame.buf) if audio else None)

    class _Call(pj.Call):
        def __init__(self, ua, acc, call_id=pj.PJSUA_INVALID_ID):
            pj.Call.__init__(self, acc, call_id)
            self.ua = ua
            self.leg = None
            self.port = None  # the FramePort this leg's audio is connected to
            self.audio = None  # its AudioMedia, while media is active

        def onCallState(self, prm):
            ci = self.getInfo()
            if ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
                self.ua.events.append(("confirmed", self.leg))
            elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.ua.events.append(("disconnected", self.leg, ci.lastStatusCode,
                                       ci.lastReason))
            elif ci.state == pj.PJSIP_INV_STATE_EARLY and self.leg is not None:
                self.ua.events.append(("early", self.leg, ci.lastStatusCode))

        def onCallMediaState(self, prm):
            ci = self.getInfo()
            for i, mi in enumerate(ci.media):
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    self.audio = self.getAudioMedia(i)
                    info = {}
                    try:
                        si = self.getStreamInfo(i)
                        info = {"codec": "%s/%d" % (si.codecName, si.codecClockRate),
                                "srtp": _srtp_active(self)}
                    except pj.Error:  # info only
                        pass
                    self.ua.events.append(("media", self.leg, info))
                    self.ua.connect(self)
                    return

        def onDtmfDigit(self, prm):  # RTP worker (RFC 4733) or the SIP thread (INFO)
            method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc4733"
            self.ua.events.append(("dtmf", self.leg, prm.digit, method))

    class _Account(pj.Account):
        def __init__(self, ua):
            pj.Account.__init__(self)
            self.ua = ua

        def onRegState(self, prm):
            self.ua.events.append(("registration", prm.code, prm.reason))

        def onIncomingCall(self, prm):
            call = _Call(self.ua, self, prm.callId)
            try:
                remote = call.getInfo().remoteUri
            except pj.Error:
                remote = "?"
            src = prm.rdata.srcAddress
            if src not in self.ua.trusted_sources:
                # Only the registrar (the PBX, or registrar mode's Kamailio, which has checked
                # the caller's password) may bring a call: anyone else on the LAN who sends an
                # INVITE straight to the bridge's port would ring, and maybe listen at, the door.
                try:
                    call.hangup(_forbidden())
                except pj.Error:
                    pass
                self.ua.refused.append(call)  # alive until PJSIP is done with it
                self.ua.events.append(("refused", src, remote))
                return
            self.ua.events.append(("incoming", call, remote))

    def _forbidden():
        prm = pj.CallOpParam(True)
        prm.statusCode = 403
        return prm


class SipUa:
    def __init__(self, sc, log_level=1):
        self.sc = sc
        self.events = collections.deque()
        self._log_level = log_level
        self._ep = None
        self._acc = None
        self._writer = None
        self._calls = {}  # leg -> _Call
        self._ports = {}  # rate -> FramePort
        self._want = {}  # leg -> rate the door call's audio runs at (connected when media is up)
        self.trusted_sources = set()  # "ip:port" an INVITE may come from: the registrar
        self.refused = collections.deque(maxlen=16)  # calls answered 403, kept a while

    # ---- life ----

    def start(self):
        sc = self.sc
        ep = self._ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0  # SIP runs in poll(), on the event loop's thread
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.userAgent = "Portier bridge"
        cfg.uaConfig.maxCalls = 8
        self._writer = _LogWriter()
        cfg.logConfig.writer = self._writer
        cfg.logConfig.level = self._log_level
        cfg.logConfig.consoleLevel = self._log_level
        cfg.logConfig.decor = 0
        med = cfg.medConfig
        # The door's side of the call is narrowband (G.711 between door and bridge), so the
        # conference runs at 8 kHz: at 16 kHz every frame was resampled up and down again on
        # its way to a G.711 phone (measured: PESQ door -> phone 3.80-3.94 against 3.97-4.04).
        # A G.722 leg is resampled by its own stream port.
        med.clockRate = 8000
        med.sndClockRate = med.clockRate
        med.audioFramePtime = 20
        med.ptime = 20
        med.noVad = True  # a frame every 20 ms: the door's silence detection is Portier's
        med.ecTailLen = 0  # no echo canceller between two digital legs
        ep.libInit(cfg)
        tc = pj.TransportConfig()
        tc.port = sc.port
        tc.boundAddress = sc.bind
        tc.publicAddress = sc.bind
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
        ep.libStart()
        ep.audDevManager().setNullDev()  # no sound card: the conference runs on its own clock
        self._codecs()
        self.trusted_sources = registrar_sources(sc.registrar)
        self._acc = _Account(self)
        self._acc.create(self._account_config())

    def _codecs(self):
        wanted = [_CODEC_IDS[c] for c in self.sc.codecs]
        for c in self._ep.codecEnum2():
            prio = 0
            if c.codecId in wanted:
                prio = 250 - wanted.index(c.codecId)
            self._ep.codecSetPriority(c.codecId, prio)

    def _account_config(self):
        sc = self.sc
        ac = pj.AccountConfig()
        ac.idUri = '"%s" <%s>' % (sc.display_name.replace('"', ""), sc.aor())
        if sc.registrar:
            ac.regConfig.registrarUri = sc.registrar
            ac.regConfig.timeoutSec = 300
        if sc.password:
            ac.sipConfig.authCreds.append(
                pj.AuthCredInfo("digest", "*", sc.auth_user, 0, sc.password))
        mc = ac.mediaConfig
        mc.srtpUse = {"optional": pj.PJMEDIA_SRTP_OPTIONAL, "mandatory": pj.PJMEDIA_SRTP_MANDATORY,
                      "off": pj.PJMEDIA_SRTP_DISABLED}[sc.srtp]
        mc.srtpSecureSignaling = 0  # SDES over plain SIP: what LAN phones and PBXs offer
        mc.transportConfig.port = sc.rtp_port
        mc.transportConfig.portRange = 200
        mc.transportConfig.boundAddress = sc.bind
        mc.transportConfig.publicAddress = sc.bind
        nc = ac.natConfig
        nc.iceEnabled = False
        nc.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
        nc.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        nc.contactRewriteUse = 0  # on the LAN the bound address is the address
        nc.viaRewriteUse = 0
        nc.sdpNatRewriteUse = 0
        return ac

    def poll(self):
        """Run due SIP work (timers, received messages); the callbacks queue events."""
        self._ep.libHandleEvents(0)

    def stop(self):
        if self._ep is None:
            return
        try:
            self._ep.hangupAllCalls()
            for _ in range(20):
                self._ep.libHandleEvents(10)
            if self._acc is not None:
                self._acc.shutdown()
            for _ in range(20):
                self._ep.libHandleEvents(10)
        except Exception:  # noqa: BLE001 - stopping anyway
            pass
        self._calls.clear()
        # A FramePort deleted after libDestroy() removes itself from a conference that is
        # gone (a PJSIP assertion that aborts the process): Python gives up ownership of the
        # ports, which live as long as the process anyway.
        for port in self._ports.values():
            port.queues.wake_rx = port.queues.wake_tx = None
            port.thisown = False
        self._ports.clear()
        self._ep.libDestroy()
        self._ep = None

    # ---- legs ----

    def adopt(self, leg, call):
        call.leg = leg
        self._calls[leg] = call

    def forget(self, leg):
        self._want.pop(leg, None)
        call = self._calls.pop(leg, None)
        if call is not None:
            call.audio = None

    def _call(self, leg):
        call = self._calls.get(leg)
        if call is None:
            raise SipError("no SIP leg %s" % leg)
        return call

    def _op(self, code=None, reason=None):
        prm = pj.CallOpParam(True)
        if code is not None:
            prm.statusCode = code
        if reason is not None:
            h = pj.SipHeader()
            h.hName = _REASON_HEADER
            h.hValue = reason
            prm.txOption.headers.append(h)
        return prm

    def dial(self, leg, target):
        call = _Call(self, self._acc)
        call.leg = leg
        self._calls[leg] = call
        try:
            call.makeCall(target, self._op())
        except pj.Error as e:
            self._calls.pop(leg, None)
            raise SipError("dial %s: %s" % (target, _text(e))) from None

    def cancel(self, leg, cause=None, text=None):
        """End an unanswered outgoing leg (CANCEL), with an RFC 3326 Reason when given."""
        reason = None
        if cause is not None:
            reason = 'SIP;cause=%d;text="%s"' % (cause, text)
        self._do(leg, "hangup", self._op(reason=reason))

    def hang_up(self, leg):
        self._do(leg, "hangup", self._op())

    def ring(self, leg):
        self._do(leg, "answer", self._op(180))

    def accept(self, leg):
        self._do(leg, "answer", self._op(200))

    def refuse(self, leg, code):
        self._do(leg, "hangup", self._op(code))

    def _do(self, leg, what, prm):
        call = self._call(leg)
        try:
            getattr(call, what)(prm)
        except pj.Error as e:
            raise SipError("%s leg %s: %s" % (what, leg, _text(e))) from None

    # ---- audio ----

    def queues(self, rate):
        """The PortQueues of the conference port at `rate` (made once, kept)."""
        port = self._ports.get(rate)
        if port is None:
            port = self._ports[rate] = FramePort(rate)
        return port.queues

    def attach(self, leg, rate):
        """Connect the leg's audio to the port at `rate` now, or as soon as its media is up."""
        self.queues(rate)
        self._want[leg] = rate
        call = self._calls.get(leg)
        if call is not None and call.audio is not None:
            self.connect(call)

    def connect(self, call):
        rate = self._want.get(call.leg)
        if rate is None or call.audio is None or call.port is not None:
            return
        port = self._ports[rate]
        call.audio.startTransmit(port)
        port.startTransmit(call.audio)
        call.port = port


def registrar_sources(uri):
    """The "ip:port" forms a UDP request from the registrar `uri` arrives with (5060 when the
    URI names no port): the addresses its host resolves to."""
    import socket

    if not uri:
        return set()
    hostport = uri.split(":", 1)[1].split(";")[0]
    host, _, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
    port = int(port) if port else 5060
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return set()
    return set("%s:%d" % (info[4][0], port) for info in infos)


def _srtp_active(call):
    """Whether the call's audio runs over SRTP. An SDES offer on RTP/AVP (what PJSIP and most
    phones send when SRTP is optional) keeps the plain profile name, so the stream's protocol
    cannot tell; pjsua2 exposes the SRTP transport's state only in the call's dump."""
    return "SRTP status: Active" in call.dump(True, "")


def _text(e):
    return getattr(e, "reason", None) or str(e)
