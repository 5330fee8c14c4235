"""The bridge's "sip" block, beside the device keys of portier.config in the same JSON file:

    "sip": {
      "mode": "client",               client: an extension of a PBX; registrar: phones register here
      "bind": "192.168.1.10",          SIP and RTP bind here (default: this host's LAN address)
      "port": 5060, "rtp_port": 40000,
      "registrar": "sip:192.168.1.1",  client: the PBX (FritzBox, Asterisk, Kamailio)
      "user": "door", "password": "...", "auth_user": "door", "domain": "fritz.box",
      "targets": ["sip:**9@192.168.1.1"],   client: whom a ring of the door calls (all at once)
      "phones": {"anna": "secret"},    registrar: who may register (digest authentication)
      "srtp": "optional",              optional (SDES when the phone offers it) | mandatory | off
      "codecs": ["PCMU", "PCMA", "G722"],
      "display_name": "Door"
    }

Binding to every interface (0.0.0.0) or to a public address is refused unless "public": true:
the bridge answers the door, so only the household's own network should reach it.
"""

import ipaddress
import socket

MODES = ("client", "registrar")
SRTP_MODES = ("optional", "mandatory", "off")
CODECS = ("PCMU", "PCMA", "G722")
_KEYS = ("mode", "bind", "port", "rtp_port", "registrar", "user", "password", "auth_user",
         "domain", "targets", "phones", "srtp", "codecs", "display_name", "public")
_MAX_TEXT = 200
_MAX_LIST = 16


class SipConfigError(ValueError):
    pass


class SipConfig:
    def __init__(self, d):
        for k in _KEYS:
            setattr(self, k, d.get(k))

    def aor(self):
        """This bridge's own address of record."""
        return "sip:%s@%s" % (self.user, self.domain)


def _text(d, key, default=None, required=False):
    v = d.get(key, default)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not 0 < len(v) <= _MAX_TEXT or any(c < " " for c in v):
        raise SipConfigError("sip.%s must be text of 1..%d printable characters" % (key, _MAX_TEXT))
    return v


def _port(d, key, default):
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        raise SipConfigError("sip.%s must be a port number" % key)
    return v


def _sip_uri(v, what):
    if not isinstance(v, str) or not v.startswith(("sip:", "sips:")) or len(v) > _MAX_TEXT \
            or any(c <= " " for c in v):
        raise SipConfigError("%s must be a sip: URI, not %r" % (what, v))
    return v


def lan_address():
    """This host's first private (RFC 1918) IPv4 address, or None."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return None
    for info in infos:
        addr = info[4][0]
        if ipaddress.ip_address(addr).is_private and not addr.startswith("127."):
            return addr
    return None


def _bind(d):
    bind = d.get("bind") or lan_address()
    if bind is None:
        raise SipConfigError("sip.bind: no LAN address found on this host: give the address "
                             "the SIP phones reach the bridge at")
    try:
        ip = ipaddress.ip_address(bind)
    except ValueError:
        raise SipConfigError("sip.bind must be an IP address, not %r" % bind) from None
    if (ip.is_unspecified or not ip.is_private) and d.get("public") is not True:
        raise SipConfigError("sip.bind %s is not a LAN address: the bridge stays off the "
                             "internet unless sip.public is true" % bind)
    return str(ip)


def check(d):
    if not isinstance(d, dict):
        raise SipConfigError("sip must be an object")
    for k in d:
        if k not in _KEYS:
            raise SipConfigError("unknown key sip.%s" % k)
    out = {}
    out["mode"] = d.get("mode", "client")
    if out["mode"] not in MODES:
        raise SipConfigError("sip.mode must be one of %s" % ", ".join(MODES))
    out["bind"] = _bind(d)
    out["public"] = d.get("public") is True
    out["port"] = _port(d, "port", 5060)
    out["rtp_port"] = _port(d, "rtp_port", 40000)
    out["srtp"] = d.get("srtp", "optional")
    if out["srtp"] not in SRTP_MODES:
        raise SipConfigError("sip.srtp must be one of %s" % ", ".join(SRTP_MODES))
    codecs = d.get("codecs", list(CODECS))
    if not isinstance(codecs, list) or not codecs or any(c not in CODECS for c in codecs):
        raise SipConfigError("sip.codecs must be a list of %s" % ", ".join(CODECS))
    out["codecs"] = codecs
    out["display_name"] = _text(d, "display_name", "Door")
    out["user"] = _text(d, "user", "door")
    out["password"] = _text(d, "password")
    out["auth_user"] = _text(d, "auth_user", out["user"])
    if out["mode"] == "client":
        out["registrar"] = _sip_uri(d.get("registrar"), "sip.registrar")
        host = out["registrar"].split(":", 1)[1].split(";")[0]
        out["domain"] = _text(d, "domain", host)
        targets = d.get("targets")
        if not isinstance(targets, list) or not 0 < len(targets) <= _MAX_LIST:
            raise SipConfigError("sip.targets must list 1..%d sip: URIs to ring" % _MAX_LIST)
        out["targets"] = [_sip_uri(t, "sip.targets") for t in targets]
        out["phones"] = {}
    else:
        # the phones and the bridge reach each other through the registrar: its address is
        # the domain of every AOR the bridge dials
        out["domain"] = _text(d, "domain", "%s:%d" % (out["bind"], out["port"]))
        out["registrar"] = None
        out["targets"] = []
        phones = d.get("phones")
        if not isinstance(phones, dict) or not 0 < len(phones) <= _MAX_LIST:
            raise SipConfigError("sip.phones must map 1..%d user names to passwords: a "
                                 "registrar without digest authentication is refused" % _MAX_LIST)
        for user, password in phones.items():
            _text({"user": user}, "user")
            if not user.replace("-", "").replace("_", "").replace(".", "").isalnum():
                raise SipConfigError("sip.phones: user %r: letters, digits, - _ . only" % user)
            if not isinstance(password, str) or not 8 <= len(password) <= _MAX_TEXT or \
                    any(c < " " or c in "\"\\:" for c in password):
                raise SipConfigError("sip.phones: %s needs a password of 8 or more printable "
                                     "characters (no quotes, backslashes or colons)" % user)
            if user == out["user"]:
                raise SipConfigError("sip.phones: %s is the bridge's own user name" % user)
        out["phones"] = dict(phones)
    return SipConfig(out)
