# Call stanzas (docs/protocol.md section 3): one small class per action with `to_node()`, and
# `parse(node)` that checks required attributes, value syntax and child order and returns one of
# those objects. A well-formed `<call>` whose action Portier does not know parses as Unknown
# (acked and ignored, as the model says), never as an error. `enc` bodies are opaque bytes here.
from micropython import const

from portier.wire.stanza import Node, StanzaError

LATENCY_BASE = const(0x02000000)  # relaylatency `latency` = LATENCY_BASE + rtt_ms
CALL_SERVER = "call"  # heartbeats go to {call-id}@call
REJECT_REASONS = ("busy", "declined")
TERMINATE_REASONS = (
    "timeout",
    "busy",
    "declined",
    "cancelled",
    "connection_lost",
    "accepted_elsewhere",
    "rejected_elsewhere",
    "group_call_ended",
    "retry",
)
# (codec, rate) pairs Portier can play; anything else in an offer (opus) is kept but unused.
PORTIER_AUDIO = (("pcmu", 8000), ("pcma", 8000), ("l16", 16000))
# Capability blobs (docs/protocol.md 3.3): the model's offer and preaccept values.
OFFER_CAPABILITY = b"\x01\x05\xf7\x09\xe0\xbb\x13"
PREACCEPT_CAPABILITY = b"\x01\x05\xf7\x09\xe4\xbb\x07"

_MAX_ID = const(64)  # characters of a call-id or stanza id
_MAX_U32 = const(0xFFFFFFFF)
_MAX_REASON = const(32)
_AUTO = const(-1)


class CallStanzaError(StanzaError):
    pass


# ---- value checks ----


def _need(node, key):
    v = node.attrs.get(key)
    if v is None:
        raise CallStanzaError("<%s> without %s" % (node.tag, key))
    return v


def _is_decimal(s):
    if not s or len(s) > 10 or not s.isdigit():
        return False
    return s == "0" or s[0] != "0"


def _dec(s, what):
    if s is None:
        return None
    if not _is_decimal(s):
        raise CallStanzaError("%s is not a decimal number: %r" % (what, s))
    v = int(s)
    if v > _MAX_U32:
        raise CallStanzaError("%s above 32 bits" % what)
    return v


def _num(v):
    return None if v is None else str(v)


def _id(s, what):
    # call-id and stanza ids: the model uses 32 uppercase hex characters; Portier accepts
    # 1..64 of [0-9A-Za-z._-] from others.
    if s is None:
        return None
    if not s or len(s) > _MAX_ID:
        raise CallStanzaError("bad %s length" % what)
    for c in s:
        if not (c.isalpha() or c.isdigit() or c in "._-") or ord(c) > 0x7E:
            raise CallStanzaError("bad character in %s" % what)
    return s


def _jid(s, what):
    # user[:device]@server, one @, non-empty parts.
    if s is None:
        return None
    at = s.find("@")
    if at <= 0 or at == len(s) - 1 or s.find("@", at + 1) >= 0:
        raise CallStanzaError("%s is not a JID: %r" % (what, s))
    return s


def _reason(s):
    if s is None:
        return None
    if not s or len(s) > _MAX_REASON:
        raise CallStanzaError("bad reason")
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c in "_-"):
            raise CallStanzaError("bad character in reason")
    return s


def _body(node, what, min_len=1, max_len=65536):
    c = node.content
    if not isinstance(c, (bytes, bytearray)):
        raise CallStanzaError("<%s> needs a bytes body" % what)
    if not min_len <= len(c) <= max_len:
        raise CallStanzaError("<%s> body of %d bytes" % (what, len(c)))
    return bytes(c)


def _kids(node):
    c = node.content
    if c is None:
        return []
    if not isinstance(c, list):
        raise CallStanzaError("<%s> needs child elements" % node.tag)
    return c


class _Cursor:
    # Walks a child list in the order the spec fixes; an element out of order or unexpected is
    # an error (the model's server answers a mis-ordered offer with error 439).
    def __init__(self, parent):
        self.parent = parent.tag
        self.kids = _kids(parent)
        self.i = 0

    def peek(self, tag):
        return self.i < len(self.kids) and self.kids[self.i].tag == tag

    def take(self, tag):
        if self.peek(tag):
            self.i += 1
            return self.kids[self.i - 1]
        return None

    def need(self, tag):
        n = self.take(tag)
        if n is None:
            raise CallStanzaError("<%s> needs <%s> here" % (self.parent, tag))
        return n

    def end(self):
        if self.i != len(self.kids):
            raise CallStanzaError("<%s> has <%s> out of order" % (self.parent, self.kids[self.i].tag))


class _Plain:
    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        keys = sorted(self.__dict__)
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % (k, self.__dict__[k]) for k in keys))


# ---- shared child elements ----


def _audio_nodes(audio):
    return [Node("audio", {"enc": enc, "rate": str(rate)}) for enc, rate in audio]


def _take_audio(cur):
    audio = []
    while cur.peek("audio"):
        n = cur.take("audio")
        audio.append((_need(n, "enc"), _dec(_need(n, "rate"), "rate")))
    if not audio:
        raise CallStanzaError("<%s> needs <audio>" % cur.parent)
    return audio


def _destination_node(jids):
    return Node("destination", None, [Node("to", {"jid": j}) for j in jids])


def _parse_destination(node):
    jids = []
    for to in _kids(node):
        if to.tag != "to":
            raise CallStanzaError("<destination> holds <to> only")
        jids.append(_jid(_need(to, "jid"), "destination jid"))
    return jids or None


class Enc(_Plain):
    """One wrapped call key: `<enc v type count>` with an opaque ciphertext body."""

    def __init__(self, ciphertext, type="msg", v=2, count=0):
        if type not in ("pkmsg", "msg"):
            raise CallStanzaError("enc type %r" % type)
        self.ciphertext = bytes(ciphertext)
        self.type = type
        self.v = v
        self.count = count

    def to_node(self):
        return Node("enc", {"v": str(self.v), "type": self.type, "count": str(self.count)}, self.ciphertext)

    @staticmethod
    def from_node(n):
        return Enc(
            _body(n, "enc"),
            _need(n, "type"),
            _dec(_need(n, "v"), "enc v"),
            _dec(n.get("count", "0"), "enc count"),
        )


class Te2(_Plain):
    """A relay endpoint: 6-byte IPv4+port or 18-byte IPv6+port body."""

    def __init__(self, address, relay_id=None, relay_name=None, token_id=None, c2r_rtt=None):
        if len(address) not in (6, 18):
            raise CallStanzaError("te2 address of %d bytes" % len(address))
        self.address = bytes(address)
        self.relay_id = relay_id
        self.relay_name = relay_name
        self.token_id = token_id
        self.c2r_rtt = c2r_rtt

    def to_node(self):
        a = {}
        if self.relay_id is not None:
            a["relay_id"] = str(self.relay_id)
        if self.relay_name is not None:
            a["relay_name"] = self.relay_name
        if self.token_id is not None:
            a["token_id"] = str(self.token_id)
        if self.c2r_rtt is not None:
            a["c2r_rtt"] = str(self.c2r_rtt)
        return Node("te2", a, self.address)

    @staticmethod
    def from_node(n):
        return Te2(
            _body(n, "te2", 6, 18),
            _dec(n.get("relay_id"), "relay_id"),
            n.get("relay_name"),
            _dec(n.get("token_id"), "token_id"),
            _dec(n.get("c2r_rtt"), "c2r_rtt"),
        )

    def host_port(self):
        """(host text, port) of the endpoint."""
        a = self.address
        port = (a[-2] << 8) | a[-1]
        if len(a) == 6:
            return "%d.%d.%d.%d" % (a[0], a[1], a[2], a[3]), port
        return ":".join("%x" % ((a[i] << 8) | a[i + 1]) for i in range(0, 16, 2)), port


class Relay(_Plain):
    """The relay block: in the switchboard's offer ack (caller) or inside the offer (callee)."""

    def __init__(self, uuid, self_pid, peer_pid, key, hbh_key, endpoints, tokens=None, auth_tokens=None):
        if not endpoints:
            raise CallStanzaError("relay without te2")
        self.uuid = uuid
        self.self_pid = self_pid
        self.peer_pid = peer_pid
        self.key = bytes(key)
        self.hbh_key = bytes(hbh_key)
        self.tokens = tokens or []  # [(id, bytes)]
        self.auth_tokens = auth_tokens or []
        self.endpoints = endpoints  # [Te2]

    def to_node(self):
        kids = [Node("key", None, self.key), Node("hbh_key", None, self.hbh_key)]
        for tid, body in self.tokens:
            kids.append(Node("token", {"id": str(tid)}, body))
        for tid, body in self.auth_tokens:
            kids.append(Node("auth_token", {"id": str(tid)}, body))
        for te in self.endpoints:
            kids.append(te.to_node())
        attrs = {"uuid": self.uuid, "self_pid": str(self.self_pid), "peer_pid": str(self.peer_pid)}
        return Node("relay", attrs, kids)

    @staticmethod
    def from_node(n):
        cur = _Cursor(n)
        key = _body(cur.need("key"), "key")
        hbh = _body(cur.need("hbh_key"), "hbh_key")
        toks = []
        while cur.peek("token"):
            t = cur.take("token")
            toks.append((_dec(_need(t, "id"), "token id"), _body(t, "token")))
        auth = []
        while cur.peek("auth_token"):
            t = cur.take("auth_token")
            auth.append((_dec(_need(t, "id"), "auth_token id"), _body(t, "auth_token")))
        ends = []
        while cur.peek("te2"):
            ends.append(Te2.from_node(cur.take("te2")))
        cur.end()
        return Relay(
            _need(n, "uuid"),
            _dec(_need(n, "self_pid"), "self_pid"),
            _dec(_need(n, "peer_pid"), "peer_pid"),
            key,
            hbh,
            ends,
            toks,
            auth,
        )

    def ipv4_endpoint(self):
        """The first IPv4 te2 (its body is what relaylatency echoes), or None."""
        for te in self.endpoints:
            if len(te.address) == 6:
                return te
        return None


# ---- actions inside <call> ----


class _CallAction(_Plain):
    action = None

    def _init(self, call_id, call_creator, to, frm, stanza_id, t):
        self.call_id = _id(call_id, "call-id")
        self.call_creator = _jid(call_creator, "call-creator")
        self.to = _jid(to, "to")
        self.frm = _jid(frm, "from")
        self.stanza_id = _id(stanza_id, "id")
        self.t = t

    def _envelope(self, action_node):
        a = {}
        if self.to is not None:
            a["to"] = self.to
        if self.frm is not None:
            a["from"] = self.frm
        if self.stanza_id is not None:
            a["id"] = self.stanza_id
        if self.t is not None:
            a["t"] = str(self.t)
        return Node("call", a, [action_node])

    def _ids(self):
        return {"call-id": self.call_id, "call-creator": self.call_creator}

    def to_node(self):
        return self._envelope(Node(self.action, self._attrs(), self._children()))

    def _attrs(self):
        return self._ids()

    def _children(self):
        return None


class Offer(_CallAction):
    action = "offer"

    def __init__(self, call_id, call_creator, audio, enc=None, destination=None, capability=OFFER_CAPABILITY,
                 net_medium=3, keygen=2, privacy=None, device_identity=None, relay=None, extra=None,
                 to=None, frm=None, stanza_id=None, t=None):
        self._init(call_id, call_creator, to, frm, stanza_id, t)
        if (enc is None) == (not destination):
            raise CallStanzaError("offer needs one enc or a destination, not both")
        if not audio:
            raise CallStanzaError("offer needs audio")
        self.audio = list(audio)
        self.enc = enc
        self.destination = destination or None  # [(device jid, Enc)]
        self.capability = bytes(capability)
        self.net_medium = net_medium
        self.keygen = keygen
        self.privacy = privacy
        self.device_identity = device_identity
        self.relay = relay
        self.extra = extra or {}  # other <offer> attributes (caller_pn, device_class, ...)

    def supported_audio(self):
        return [a for a in self.audio if a in PORTIER_AUDIO]

    def _attrs(self):
        a = dict(self.extra)
        a.update(self._ids())
        return a

    def _children(self):
        kids = []
        if self.privacy is not None:
            kids.append(Node("privacy", None, self.privacy))
        kids.extend(_audio_nodes(self.audio))
        kids.append(Node("net", {"medium": str(self.net_medium)}))
        kids.append(Node("capability", {"ver": "1"}, self.capability))
        if self.enc is not None:
            kids.append(self.enc.to_node())
        else:
            kids.append(Node("destination", None, [Node("to", {"jid": j}, [e.to_node()]) for j, e in self.destination]))
        kids.append(Node("encopt", {"keygen": str(self.keygen)}))
        if self.relay is not None:
            kids.append(self.relay.to_node())
        if self.device_identity is not None:
            kids.append(Node("device-identity", None, self.device_identity))
        return kids

    @staticmethod
    def _parse(n, env):
        cur = _Cursor(n)
        p = cur.take("privacy")
        privacy = None if p is None else _body(p, "privacy")
        audio = _take_audio(cur)
        cur.take("video")  # Portier is audio-only: a video descriptor is accepted and dropped
        medium = _dec(_need(cur.need("net"), "medium"), "net medium")
        cap = cur.need("capability")
        enc = None
        dest = None
        if cur.peek("enc"):
            enc = Enc.from_node(cur.take("enc"))
        else:
            dest = []
            for to in _kids(cur.need("destination")):
                if to.tag != "to":
                    raise CallStanzaError("<destination> holds <to> only")
                inner = _kids(to)
                if len(inner) != 1 or inner[0].tag != "enc":
                    raise CallStanzaError("<to> in an offer holds one <enc>")
                dest.append((_jid(_need(to, "jid"), "to jid"), Enc.from_node(inner[0])))
            if not dest:
                raise CallStanzaError("empty destination")
        keygen = _dec(_need(cur.need("encopt"), "keygen"), "keygen")
        r = cur.take("relay")
        relay = None if r is None else Relay.from_node(r)
        d = cur.take("device-identity")
        ident = None if d is None else _body(d, "device-identity")
        cur.end()
        extra = {}
        for k in n.attrs:
            if k != "call-id" and k != "call-creator":
                extra[k] = n.attrs[k]
        return Offer(n.get("call-id"), n.get("call-creator"), audio, enc, dest, _body(cap, "capability", 1, 64),
                     medium, keygen, privacy, ident, relay, extra, *env)


class PreAccept(_CallAction):
    action = "preaccept"

    def __init__(self, call_id, call_creator, audio, capability=PREACCEPT_CAPABILITY, keygen=2,
                 to=None, frm=None, stanza_id=None, t=None):
        self._init(call_id, call_creator, to, frm, stanza_id, t)
        if not audio:
            raise CallStanzaError("preaccept needs audio")
        self.audio = list(audio)
        self.capability = bytes(capability)
        self.keygen = keygen

    def _children(self):
        kids = _audio_nodes(self.audio)
        kids.append(Node("encopt", {"keygen": str(self.keygen)}))
        kids.append(Node("capability", {"ver": "1"}, self.capability))
        return kids

    @staticmethod
    def _parse(n, env):
        cur = _Cursor(n)
        audio = _take_audio(cur)
        keygen = _dec(_need(cur.need("encopt"), "keygen"), "keygen")
        cap = _body(cur.need("capability"), "capability", 1, 64)
        cur.end()
        return PreAccept(n.get("call-id"), n.get("call-creator"), audio, cap, keygen, *env)


class Accept(_CallAction):
    action = "accept"

    def __init__(self, call_id, call_creator, audio, net_medium=2, keygen=2, te=None, metadata=None,
                 capability=None, rte=None, voip_settings=None, to=None, frm=None, stanza_id=None, t=None):
        self._init(call_id, call_creator, to, frm, stanza_id, t)
        if not audio:
            raise CallStanzaError("accept needs audio")
        self.audio = list(audio)
        self.net_medium = net_medium
        self.keygen = keygen
        self.te = te  # bytes: `<te priority="2">`
        self.metadata = metadata  # dict of <metadata> attributes
        self.capability = capability
        self.rte = rte
        self.voip_settings = voip_settings  # bytes (JSON text), sent with uncompressed="1"

    def _children(self):
        kids = _audio_nodes(self.audio)
        if self.te is not None:
            kids.append(Node("te", {"priority": "2"}, self.te))
        kids.append(Node("net", {"medium": str(self.net_medium)}))
        kids.append(Node("encopt", {"keygen": str(self.keygen)}))
        if self.metadata is not None:
            kids.append(Node("metadata", dict(self.metadata)))
        if self.capability is not None:
            kids.append(Node("capability", {"ver": "1"}, self.capability))
        if self.rte is not None:
            kids.append(Node("rte", None, self.rte))
        if self.voip_settings is not None:
            kids.append(Node("voip_settings", {"uncompressed": "1"}, self.voip_settings))
        return kids

    @staticmethod
    def _parse(n, env):
        cur = _Cursor(n)
        audio = _take_audio(cur)
        cur.take("video")
        te = cur.take("te")
        te = None if te is None else _body(te, "te")
        medium = _dec(_need(cur.need("net"), "medium"), "net medium")
        keygen = _dec(_need(cur.need("encopt"), "keygen"), "keygen")
        meta = cur.take("metadata")
        meta = None if meta is None else dict(meta.attrs)
        cap = cur.take("capability")
        cap = None if cap is None else _body(cap, "capability", 1, 64)
        rte = cur.take("rte")
        rte = None if rte is None else _body(rte, "rte")
        vs = cur.take("voip_settings")
        vs = None if vs is None else _body(vs, "voip_settings")
        cur.end()
        return Accept(n.get("call-id"), n.get("call-creator"), audio, medium, keygen, te, meta, cap, rte, vs, *env)


class Reject(_CallAction):
    action = "reject"

    def __init__(self, call_id, call_creator, reason=None, count=None, to=None, frm=None, stanza_id=None, t=None):
        self._init(call_id, call_creator, to, frm, stanza_id, t)
        self.reason = _reason(reason)
        self.count = count

    def _attrs(self):
        a = self._ids()
        if self.reason is not None:
            a["reason"] = self.reason
        if self.count is not None:
            a["count"] = str(self.count)
        return a

    @staticmethod
    def _parse(n, env):
        if n.content is not None:
            raise CallStanzaError("<reject> has no children")
        return Reject(n.get("call-id"), n.get("call-creator"), n.get("reason"), _dec(n.get("count"), "count"), *env)


class Terminate(_CallAction):
    action = "terminate"

    def __init__(self, call_id, call_creator, reason=None, duration=None, audio_duration=None, destination=None,
                 to=None, frm=None, stanza_id=None, t=None):
        self._init(call_id, call_creator, to, frm, stanza_id, t)
        self.reason = _reason(reason)
        self.duration = duration  # seconds
        self.audio_duration = audio_duration
        self.destination = destination or None  # [device jid]

    def _attrs(self):
        a = self._ids()
        if self.reason is not None:
            a["reason"] = self.reason
        if self.duration is not None:
            a["duration"] = str(self.duration)
        if self.audio_duration is not None:
            a["audio_duration"] = str(self.audio_duration)
        return a

    def _children(self):
        return None if self.destination is None else [_destination_node(self.destination)]

    @staticmethod
    def _parse(n, env):
        cur = _Cursor(n)
        d = cur.take("destination")
        cur.end()
        return Terminate(n.get("call-id"), n.get("call-creator"), n.get("reason"),
                         _dec(n.get("duration"), "duration"), _dec(n.get("audio_duration"), "audio_duration"),
                         None if d is None else _parse_destination(d), *env)


class Transport(_CallAction):
    action = "transport"

    def __init__(self, call_id, call_creator, message_type=None, p2p_cand_round=None, te=None, net_medium=2,
                 net_protocol=_AUTO, to=None, frm=None, stanza_id=None, t=None):
        self._init(call_id, call_creator, to, frm, stanza_id, t)
        self.message_type = message_type  # 1 relay candidate, 3 peer ICE, 9 keepalive/reply
        self.p2p_cand_round = p2p_cand_round
        self.te = te  # bytes: `<te priority="1">` token
        self.net_medium = net_medium
        if net_protocol == _AUTO:  # the model: protocol="0" unless the type is 9
            net_protocol = None if message_type == 9 else 0
        self.net_protocol = net_protocol

    def _attrs(self):
        a = self._ids()
        if self.p2p_cand_round is not None:
            a["p2p-cand-round"] = str(self.p2p_cand_round)
        if self.message_type is not None:
            a["transport-message-type"] = str(self.message_type)
        return a

    def _children(self):
        kids = []
        if self.te is not None:
            kids.append(Node("te", {"priority": "1"}, self.te))
        net = {"medium": str(self.net_medium)}
        if self.net_protocol is not None:
            net["protocol"] = str(self.net_protocol)
        kids.append(Node("net", net))
        return kids

    @staticmethod
    def _parse(n, env):
        cur = _Cursor(n)
        te = cur.take("te")
        te = None if te is None else _body(te, "te")
        net = cur.need("net")
        cur.end()
        return Transport(n.get("call-id"), n.get("call-creator"),
                         _dec(n.get("transport-message-type"), "transport-message-type"),
                         _dec(n.get("p2p-cand-round"), "p2p-cand-round"), te,
                         _dec(_need(net, "medium"), "net medium"), _dec(net.get("protocol"), "net protocol"), *env)


class RelayLatency(_CallAction):
    action = "relaylatency"

    def __init__(self, call_id, call_creator, rtt_ms, address, relay_name=None, destination=None,
                 to=None, frm=None, stanza_id=None, t=None):
        self._init(call_id, call_creator, to, frm, stanza_id, t)
        if not 0 <= rtt_ms <= 0xFFFFFF:
            raise CallStanzaError("rtt_ms out of range")
        if len(address) not in (6, 18):
            raise CallStanzaError("relaylatency address of %d bytes" % len(address))
        self.rtt_ms = rtt_ms
        self.address = bytes(address)  # the relay's first IPv4 te2 body, verbatim
        self.relay_name = relay_name
        self.destination = destination or None

    def _children(self):
        a = {"latency": str(LATENCY_BASE + self.rtt_ms)}
        if self.relay_name is not None:
            a["relay_name"] = self.relay_name
        kids = [Node("te", a, self.address)]
        if self.destination is not None:
            kids.append(_destination_node(self.destination))
        return kids

    @staticmethod
    def _parse(n, env):
        cur = _Cursor(n)
        te = cur.need("te")
        d = cur.take("destination")
        cur.end()
        latency = _dec(_need(te, "latency"), "latency")
        return RelayLatency(n.get("call-id"), n.get("call-creator"), latency & 0xFFFFFF, _body(te, "te", 6, 18),
                            te.get("relay_name"), None if d is None else _parse_destination(d), *env)


class MuteV2(_CallAction):
    action = "mute_v2"

    def __init__(self, call_id, call_creator, muted, to=None, frm=None, stanza_id=None, t=None):
        self._init(call_id, call_creator, to, frm, stanza_id, t)
        self.muted = bool(muted)

    def _attrs(self):
        a = self._ids()
        a["mute-state"] = "1" if self.muted else "0"
        return a

    @staticmethod
    def _parse(n, env):
        state = _need(n, "mute-state")
        if state not in ("0", "1") or n.content is not None:
            raise CallStanzaError("mute-state %r" % state)
        return MuteV2(n.get("call-id"), n.get("call-creator"), state == "1", *env)


class Heartbeat(_CallAction):
    action = "heartbeat"

    def __init__(self, call_id, call_creator, to=None, frm=None, stanza_id=None, t=None):
        if to is None and frm is None:
            to = "%s@%s" % (call_id, CALL_SERVER)  # addressed to the call object, not the peer
        self._init(call_id, call_creator, to, frm, stanza_id, t)

    @staticmethod
    def _parse(n, env):
        if n.content is not None:
            raise CallStanzaError("<heartbeat> has no children")
        return Heartbeat(n.get("call-id"), n.get("call-creator"), *env)


class Unknown(_CallAction):
    """A well-formed `<call>` with an action Portier does not handle: ack it, ignore it."""

    action = "unknown"

    def __init__(self, node, to=None, frm=None, stanza_id=None, t=None):
        self.tag = node.tag
        self.node = node
        self.call_id = node.get("call-id")
        self.call_creator = node.get("call-creator")
        self.to = to
        self.frm = frm
        self.stanza_id = stanza_id
        self.t = t

    def to_node(self):
        return self._envelope(self.node)


# ---- stanzas outside <call> ----


class Ack(_Plain):
    """`<ack class="call" id to ...>`; the switchboard's offer ack carries a <relay>."""

    action = "ack"
    call_id = None
    call_creator = None

    def __init__(self, stanza_id, to=None, frm=None, ack_type=None, relay=None, error_code=None,
                 participant=None, recipient=None, ack_class="call"):
        self.stanza_id = _id(stanza_id, "id")
        self.to = _jid(to, "to")
        self.frm = _jid(frm, "from")
        self.ack_type = ack_type
        self.relay = relay
        self.error_code = error_code
        self.participant = participant
        self.recipient = recipient
        self.ack_class = ack_class

    def to_node(self):
        a = {"class": self.ack_class, "id": self.stanza_id}
        for key, v in (("to", self.to), ("from", self.frm), ("type", self.ack_type),
                       ("participant", self.participant), ("recipient", self.recipient)):
            if v is not None:
                a[key] = v
        kids = []
        if self.relay is not None:
            kids.append(self.relay.to_node())
        if self.error_code is not None:
            kids.append(Node("error", {"code": str(self.error_code)}))
        return Node("ack", a, kids or None)

    @staticmethod
    def from_node(n):
        cur = _Cursor(n)
        r = cur.take("relay")
        e = cur.take("error")
        cur.end()
        return Ack(_need(n, "id"), n.get("to"), n.get("from"), n.get("type"),
                   None if r is None else Relay.from_node(r),
                   None if e is None else _dec(_need(e, "code"), "error code"),
                   n.get("participant"), n.get("recipient"), _need(n, "class"))


class Receipt(_Plain):
    """`<receipt to id [from]><offer call-id call-creator/></receipt>` (or `<accept .../>`)."""

    action = "receipt"

    def __init__(self, call_id, call_creator, stanza_id, to=None, frm=None, of="offer"):
        if of not in ("offer", "accept"):
            raise CallStanzaError("receipt of %r" % of)
        self.call_id = _id(call_id, "call-id")
        self.call_creator = _jid(call_creator, "call-creator")
        self.stanza_id = _id(stanza_id, "id")
        self.to = _jid(to, "to")
        self.frm = _jid(frm, "from")
        self.of = of

    def to_node(self):
        a = {"id": self.stanza_id}
        if self.to is not None:
            a["to"] = self.to
        if self.frm is not None:
            a["from"] = self.frm
        return Node("receipt", a, [Node(self.of, {"call-id": self.call_id, "call-creator": self.call_creator})])

    @staticmethod
    def from_node(n):
        kids = _kids(n)
        if len(kids) != 1 or kids[0].tag not in ("offer", "accept") or kids[0].content is not None:
            raise CallStanzaError("<receipt> holds one empty <offer> or <accept>")
        k = kids[0]
        return Receipt(_need(k, "call-id"), _need(k, "call-creator"), _need(n, "id"), n.get("to"), n.get("from"),
                       k.tag)


_ACTIONS = {
    "offer": Offer,
    "preaccept": PreAccept,
    "accept": Accept,
    "reject": Reject,
    "terminate": Terminate,
    "transport": Transport,
    "relaylatency": RelayLatency,
    "mute_v2": MuteV2,
    "heartbeat": Heartbeat,
}


def _parse_call(node):
    kids = node.content
    if not isinstance(kids, list) or len(kids) != 1:
        raise CallStanzaError("<call> holds exactly one action")
    to = _jid(node.get("to"), "to")
    frm = _jid(node.get("from"), "from")
    if to is None and frm is None:
        raise CallStanzaError("<call> without to or from")
    env = (to, frm, _id(node.get("id"), "id"), _dec(node.get("t"), "t"))
    action = kids[0]
    cls = _ACTIONS.get(action.tag)
    if cls is None:
        return Unknown(action, *env)
    _id(_need(action, "call-id"), "call-id")
    _jid(_need(action, "call-creator"), "call-creator")
    return cls._parse(action, env)


def parse(node):
    """A decoded `<call>`, `<ack>` or `<receipt>` Node to its action object."""
    if not isinstance(node, Node):
        raise CallStanzaError("not a Node")
    if node.tag == "call":
        return _parse_call(node)
    if node.tag == "ack":
        return Ack.from_node(node)
    if node.tag == "receipt":
        return Receipt.from_node(node)
    raise CallStanzaError("<%s> is not a call stanza" % node.tag)


def build(action):
    """The Node for an action object (same as action.to_node())."""
    return action.to_node()
