# The device's configuration: one JSON file on flash (or on the host), checked field by field
# before anything uses it. Unknown keys, wrong types and out-of-range values raise ConfigError;
# every size is bounded, so a corrupt file cannot exhaust the heap.
#
# {"jid": "door:1@home", "profile": "door" | "phone",
#  "switchboard": {"host": "127.0.0.1", "port": 5223, "insecure": false, "server_name": "localhost"},
#  "tls": {"ca": "ca.der", "cert": "door.der", "key": "door.key.der"},   (not with insecure)
#  "e2e_store": "e2e", "paired_file": "paired.json", "call_log": "calls.json", "call_log_max": 50,
#  "ring_timeout_s": 30, "max_call_s": 600, "auto_answer": ["anna:2@home"],
#  "call": "door:1@home" (phone: whom "press" calls), "pair_with": ["door:1@home"] (phone),
#  "pair_auth": {"door:1@home": "<72 hex>"} (phone: the household's authorisation per door),
#  "audio": {"mic": "in.wav", "speaker": "out.wav", "realtime": true,
#            "echo_control": "none" | "suppress" | "half_duplex", "shared_bus": false,
#            "echo_path": {"delay_ms": 4, "gain_db": -10}}   (virtual door: hal/vdoor.py)
#           | {"board": "esp32", "file": "board.json"},
#  "control": "stdin" | "none",
#  "wifi": {"ssid": "home-net"} (a board; the password is in the secrets file),
#  "secrets": "secrets.json" (portier.secrets: WLAN password, unlock PIN verifier),
#  "unlock": {"pulse_s": 3, "state": "e2e/unlock.json"} (door: strike pulse, attempt counters),
#  "door_log": "door.json", "door_log_max": 50 (door: unlocks and refused attempts)}
import json

from portier import fsutil
from portier.jsondepth import too_deep

_MAX_FILE = 4096
_MAX_STR = 200  # paths, host names
_MAX_JID = 64
_MAX_LIST = 16  # auto-answer and pairing lists
_MAX_SSID = 32  # IEEE 802.11: an SSID is at most 32 octets

_TOP = ("jid", "profile", "household", "switchboard", "tls", "e2e_store", "paired_file",
        "call_log", "call_log_max", "ring_timeout_s", "max_call_s", "auto_answer", "call",
        "pair_with", "pair_auth", "audio", "control", "wifi", "secrets", "unlock", "door_log", "door_log_max")


class ConfigError(ValueError):
    pass


class Config:
    """The checked configuration; attribute names follow the file's keys."""

    def __init__(self, d):
        for k in _TOP:
            if k not in d:
                d[k] = None
        sb = d["switchboard"]
        self.jid = d["jid"]
        self.profile = d["profile"]
        self.household = d["household"]
        self.host = sb["host"]
        self.port = sb["port"]
        self.insecure = sb["insecure"]
        self.server_name = sb["server_name"]
        tls = d["tls"] or {}
        self.ca_path = tls.get("ca")
        self.cert_path = tls.get("cert")
        self.key_path = tls.get("key")
        self.e2e_store = d["e2e_store"]
        self.paired_file = d["paired_file"]
        self.call_log = d["call_log"]
        self.call_log_max = d["call_log_max"]
        self.ring_timeout_ms = d["ring_timeout_s"] * 1000
        self.max_call_ms = d["max_call_s"] * 1000
        self.auto_answer = tuple(d["auto_answer"])
        self.call = d["call"]
        self.pair_with = tuple(d["pair_with"])
        self.pair_auth = d["pair_auth"]
        self.audio = d["audio"]
        self.control = d["control"]
        self.wifi_ssid = (d["wifi"] or {}).get("ssid")
        self.secrets_path = d["secrets"]
        self.unlock_pulse_ms = d["unlock"]["pulse_s"] * 1000
        self.unlock_state = d["unlock"]["state"]
        self.door_log = d["door_log"]
        self.door_log_max = d["door_log_max"]

    def household_jid(self):
        return "household@" + self.household


def _str(d, key, default=None, limit=_MAX_STR, required=False):
    v = d.get(key, default)
    if v is None:
        if required:
            raise ConfigError("%s is required" % key)
        return None
    if not isinstance(v, str) or not 0 < len(v) <= limit:
        raise ConfigError("%s must be text of 1..%d characters" % (key, limit))
    return v


def _int(d, key, default, lo, hi):
    v = d.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConfigError("%s must be an integer in %d..%d" % (key, lo, hi))
    return v


def _bool(d, key, default):
    v = d.get(key, default)
    if not isinstance(v, bool):
        raise ConfigError("%s must be true or false" % key)
    return v


def _choice(d, key, default, choices):
    v = d.get(key, default)
    if v not in choices:
        raise ConfigError("%s must be one of %s" % (key, ", ".join(choices)))
    return v


def check_jid(v, what="jid"):
    """A device JID of section 8.1, name:N@household (the household's own JID is not one)."""
    if not isinstance(v, str) or not 3 <= len(v) <= _MAX_JID:
        raise ConfigError("%s must be a JID of at most %d characters" % (what, _MAX_JID))
    user, at, server = v.partition("@")
    name, colon, device = user.partition(":")
    if not at or not server or "@" in server or not name or not colon or not device.isdigit():
        raise ConfigError("%s %r is not name:N@household" % (what, v))
    if name == "household":
        raise ConfigError("%s: the user part 'household' is reserved" % what)
    for c in v:
        if c <= " " or c == "/":
            raise ConfigError("%s %r holds a space or control character" % (what, v))
    return v


def _jids(d, key):
    v = d.get(key, [])
    if not isinstance(v, list) or len(v) > _MAX_LIST:
        raise ConfigError("%s must be a list of at most %d JIDs" % (key, _MAX_LIST))
    return [check_jid(j, key) for j in v]


def _only(d, allowed, where):
    if not isinstance(d, dict):
        raise ConfigError("%s must be an object" % where)
    for k in d:
        if k not in allowed:
            raise ConfigError("unknown key %s in %s" % (k, where))


def check(d):
    """A parsed JSON object -> Config; ConfigError on anything wrong."""
    _only(d, _TOP, "config")
    out = {}
    out["jid"] = check_jid(d.get("jid"))
    household = out["jid"].partition("@")[2]
    out["household"] = _str(d, "household", household, _MAX_JID)
    if out["household"] != household:
        raise ConfigError("household %s differs from the JID's %s" % (out["household"], household))
    out["profile"] = _choice(d, "profile", "door", ("door", "phone"))
    sb = d.get("switchboard")
    _only(sb, ("host", "port", "insecure", "server_name"), "switchboard")
    out["switchboard"] = {
        "host": _str(sb, "host", required=True),
        "port": _int(sb, "port", None, 1, 65535),
        "insecure": _bool(sb, "insecure", False),
        "server_name": _str(sb, "server_name", "localhost"),
    }
    tls = d.get("tls")
    if tls is None:
        if not out["switchboard"]["insecure"]:
            raise ConfigError("tls (ca, cert, key) is required unless switchboard.insecure")
    else:
        _only(tls, ("ca", "cert", "key"), "tls")
        out["tls"] = dict((k, _str(tls, k, required=True)) for k in ("ca", "cert", "key"))
    out["e2e_store"] = _str(d, "e2e_store", required=True)
    out["paired_file"] = _str(d, "paired_file", out["e2e_store"] + "/paired.json")
    out["call_log"] = _str(d, "call_log")
    out["call_log_max"] = _int(d, "call_log_max", 50, 1, 500)
    out["ring_timeout_s"] = _int(d, "ring_timeout_s", 30, 1, 600)
    out["max_call_s"] = _int(d, "max_call_s", 600, 5, 86400)
    out["auto_answer"] = _jids(d, "auto_answer")
    out["pair_with"] = _jids(d, "pair_with")
    out["pair_auth"] = _pair_auth(d.get("pair_auth", {}))
    call = d.get("call")
    out["call"] = None if call is None else check_jid(call, "call")
    out["audio"] = _audio(d.get("audio", {}))
    out["control"] = _choice(d, "control", "none", ("none", "stdin"))
    wifi = d.get("wifi")
    if wifi is not None:
        _only(wifi, ("ssid",), "wifi")
        ssid = _str(wifi, "ssid", required=True)
        if len(ssid.encode()) > _MAX_SSID:
            raise ConfigError("wifi.ssid is over %d bytes" % _MAX_SSID)
        out["wifi"] = {"ssid": ssid}
    out["secrets"] = _str(d, "secrets")
    unlock = d.get("unlock", {})
    _only(unlock, ("pulse_s", "state"), "unlock")
    out["unlock"] = {"pulse_s": _int(unlock, "pulse_s", 3, 1, 15),
                     "state": _str(unlock, "state", out["e2e_store"] + "/unlock.json")}
    out["door_log"] = _str(d, "door_log")
    out["door_log_max"] = _int(d, "door_log_max", 50, 1, 500)
    return Config(out)


def _pair_auth(a):
    # {door JID: 72 hex digits} -> {door JID: 36 bytes} (portier.pairauth.AUTH_LEN)
    from binascii import unhexlify

    if not isinstance(a, dict) or len(a) > _MAX_LIST:
        raise ConfigError("pair_auth must map at most %d door JIDs to authorisations" % _MAX_LIST)
    out = {}
    for door, v in a.items():
        check_jid(door, "pair_auth")
        if not isinstance(v, str) or len(v) != 72:
            raise ConfigError("pair_auth of %s must be 72 hex digits" % door)
        try:
            out[door] = unhexlify(v)
        except ValueError:
            raise ConfigError("pair_auth of %s is not hex" % door)
    return out


def _audio(a):
    _only(a, ("mic", "speaker", "realtime", "loop", "rate", "board", "file", "echo_control",
              "echo_path", "shared_bus"), "audio")
    if "board" in a:
        if len(a) > 2 or len(a) == 2 and "file" not in a:
            raise ConfigError("audio.board takes only a board file")
        return {"board": _choice(a, "board", None, ("esp32",)), "file": _str(a, "file", "board.json")}
    if "file" in a:
        raise ConfigError("audio.file needs audio.board")
    # rate: the audio device's own rate (WAV files at 16 kHz, like the board's I2S bus);
    # absent, each call opens it at the codec's rate. Media resamples between the two.
    rate = a.get("rate")
    if rate is not None and rate not in (8000, 16000):
        raise ConfigError("audio.rate must be 8000 or 16000")
    # The virtual door's acoustics, as a board file gives a board's (hal/vdoor.py).
    out = {"mic": _str(a, "mic"), "speaker": _str(a, "speaker"), "rate": rate,
           "realtime": _bool(a, "realtime", True), "loop": _bool(a, "loop", False),
           "echo_control": _choice(a, "echo_control", "none", ("none", "suppress", "half_duplex")),
           "shared_bus": _bool(a, "shared_bus", False)}
    path = a.get("echo_path")
    if path is not None:
        if not isinstance(path, dict):
            raise ConfigError("audio.echo_path must be an object")
        _only(path, ("delay_ms", "gain_db"), "audio.echo_path")
        path = {"delay_ms": _int(path, "delay_ms", 4, 1, 10), "gain_db": _int(path, "gain_db", -10, -40, 0)}
    out["echo_path"] = path
    return out


def loads(text):
    if len(text) > _MAX_FILE:
        raise ConfigError("config of %d bytes, over %d" % (len(text), _MAX_FILE))
    if too_deep(text):
        raise ConfigError("config nested too deep")
    try:
        d = json.loads(text)
    except ValueError as e:  # MicroPython's json raises ValueError; CPython's a subclass of it
        raise ConfigError("config is not JSON: %s" % e)
    return check(d)


def load(path):
    try:
        data = fsutil.load(path, _MAX_FILE)
    except OSError as e:
        raise ConfigError("config %s: %s" % (path, e))
    if data is None:
        raise ConfigError("no config file %s" % path)
    try:
        text = data.decode()
    except ValueError:  # UnicodeError is a ValueError on both runtimes
        raise ConfigError("config %s is not UTF-8" % path)
    return loads(text)


def read_file(path, limit=8192):
    """A key or certificate file named by the config, bounded."""
    data = fsutil.load(path, limit)
    if data is None:
        raise ConfigError("missing file %s" % path)
    return data


def getenv(name):
    """An environment variable, or None (also on a board, whose os has no environment)."""
    try:
        import os

        return os.getenv(name)
    except (AttributeError, ImportError):
        return None
