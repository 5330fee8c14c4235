# Device configuration: a valid file loads with its defaults; every wrong field, type, size or
# combination raises ConfigError (a ValueError) naming it.
import json
import os

from coretest import assert_raises
from portier import config
from portier.config import ConfigError

_GOOD = {
    "jid": "door:1@home",
    "switchboard": {"host": "127.0.0.1", "port": 5223},
    "tls": {"ca": "ca.der", "cert": "door.der", "key": "door.key"},
    "e2e_store": "e2e",
}


def _with(**changes):
    d = json.loads(json.dumps(_GOOD))
    for k in changes:
        if changes[k] is None:
            d.pop(k, None)
        else:
            d[k] = changes[k]
    return d


def test_minimal_config_and_defaults():
    c = config.check(_with())
    assert c.jid == "door:1@home" and c.household == "home"
    assert c.household_jid() == "household@home"
    assert c.profile == "door" and c.control == "none"
    assert c.host == "127.0.0.1" and c.port == 5223 and not c.insecure
    assert c.server_name == "localhost"
    assert c.ca_path == "ca.der" and c.key_path == "door.key"
    assert c.ring_timeout_ms == 30000 and c.max_call_ms == 600000
    assert c.paired_file == "e2e/paired.json" and c.call_log is None and c.call_log_max == 50
    assert c.auto_answer == () and c.pair_with == () and c.call is None
    assert c.audio == {"mic": None, "speaker": None, "rate": None, "realtime": True, "loop": False,
                       "echo_control": "none", "shared_bus": False, "echo_path": None}


def test_full_phone_config():
    c = config.check(_with(profile="phone", jid="anna:2@home", ring_timeout_s=5, max_call_s=60,
                           auto_answer=["door:1@home"], pair_with=["door:1@home"],
                           call="door:1@home", control="stdin", call_log="calls.json",
                           audio={"mic": "m.wav", "speaker": "s.wav", "realtime": False}))
    assert c.profile == "phone" and c.ring_timeout_ms == 5000 and c.max_call_ms == 60000
    assert c.auto_answer == ("door:1@home",) and c.pair_with == ("door:1@home",)
    assert c.call == "door:1@home" and c.control == "stdin"
    assert c.audio["mic"] == "m.wav" and c.audio["realtime"] is False
    assert config.check(_with(audio={"board": "esp32"})).audio == {"board": "esp32",
                                                                   "file": "board.json"}
    b = config.check(_with(audio={"board": "esp32", "file": "boards/x.json"})).audio
    assert b["file"] == "boards/x.json"
    v = config.check(_with(audio={"echo_control": "half_duplex", "shared_bus": True,
                                  "echo_path": {"delay_ms": 10, "gain_db": -20}})).audio
    assert (v["echo_control"], v["shared_bus"], v["echo_path"]) == (
        "half_duplex", True, {"delay_ms": 10, "gain_db": -20})


def test_insecure_needs_no_tls_but_tls_needs_all_three():
    c = config.check(_with(tls=None, switchboard={"host": "h", "port": 1, "insecure": True}))
    assert c.insecure and c.ca_path is None
    assert_raises(ConfigError, config.check, _with(tls=None))
    assert_raises(ConfigError, config.check, _with(tls={"ca": "a", "cert": "b"}))
    assert_raises(ConfigError, config.check, _with(tls={"ca": "a", "cert": "b", "key": 3}))


def test_bad_fields_are_refused():
    bad = [
        _with(jid=None), _with(jid="door@home"), _with(jid="door:x@home"), _with(jid=5),
        _with(jid="household:1@home"), _with(jid="door:1@home@x"), _with(jid="do or:1@home"),
        _with(jid="d:1@" + "h" * 70), _with(household="other"), _with(profile="switchboard"),
        _with(switchboard={"host": "h"}), _with(switchboard={"host": "h", "port": 0}),
        _with(switchboard={"host": "h", "port": 70000}),
        _with(switchboard={"host": "h", "port": True}),
        _with(switchboard={"host": "", "port": 1}),
        _with(switchboard={"host": "h", "port": 1, "insecure": "yes"}),
        _with(switchboard={"host": "h", "port": 1, "extra": 1}), _with(switchboard=None),
        _with(e2e_store=None), _with(e2e_store="x" * 201), _with(ring_timeout_s=0),
        _with(ring_timeout_s=601), _with(ring_timeout_s=1.5), _with(max_call_s=1),
        _with(call_log_max=0), _with(auto_answer="anna:2@home"),
        _with(auto_answer=["anna:2@home"] * 17), _with(auto_answer=["anna"]),
        _with(pair_with=[7]), _with(call="home"), _with(control="tty"),
        _with(audio={"board": "esp8266"}), _with(audio={"board": "esp32", "mic": "m.wav"}),
        _with(audio={"mic": 1}), _with(audio={"file": "b.json"}),
        _with(audio={"board": "esp32", "file": ""}), _with(audio={"volume": 3}), _with(audio=[]),
        _with(audio={"rate": 44100}), _with(audio={"rate": "16000"}),
        _with(audio={"echo_control": "aec"}), _with(audio={"shared_bus": 1}),
        _with(audio={"echo_path": {"delay_ms": 11, "gain_db": -10}}),
        _with(audio={"echo_path": {"delay_ms": 4, "gain_db": 3}}),
        _with(audio={"echo_path": {"delay_ms": 4, "gain": -10}}), _with(audio={"echo_path": 4}),
        _with(audio={"board": "esp32", "echo_control": "suppress"}),
        _with(colour="blue"),
    ]
    for d in bad:
        assert_raises(ConfigError, config.check, d)
    assert issubclass(ConfigError, ValueError)
    assert_raises(ConfigError, config.check, [])


def test_loads_bounds_and_json_errors():
    assert config.loads(json.dumps(_GOOD)).jid == "door:1@home"
    assert_raises(ConfigError, config.loads, "{not json")
    assert_raises(ConfigError, config.loads, json.dumps(_GOOD) + " " * 4096)
    assert_raises(ConfigError, config.loads, "[1, 2]")


def test_load_from_file():
    path = "_test_config.json"
    try:
        with open(path, "w") as f:
            f.write(json.dumps(_GOOD))
        assert config.load(path).port == 5223
        with open(path, "wb") as f:
            f.write(b"\xff\xfe{}")
        assert_raises(ConfigError, config.load, path)
        with open(path, "w") as f:
            f.write(" " * 5000)
        assert_raises(ConfigError, config.load, path)
    finally:
        os.remove(path)
    assert_raises(ConfigError, config.load, path)


def test_board_fields_and_their_defaults():
    c = config.check(_with())
    assert c.wifi_ssid is None and c.secrets_path is None and c.door_log is None
    assert c.unlock_pulse_ms == 3000 and c.unlock_state == "e2e/unlock.json"
    assert c.door_log_max == 50
    c = config.check(_with(wifi={"ssid": "home-net"}, secrets="secrets.json", door_log="door.json",
                           door_log_max=20, unlock={"pulse_s": 5, "state": "u.json"}))
    assert c.wifi_ssid == "home-net" and c.secrets_path == "secrets.json"
    assert c.unlock_pulse_ms == 5000 and c.unlock_state == "u.json"
    assert c.door_log == "door.json" and c.door_log_max == 20


def test_board_fields_refused():
    for bad, word in (({"wifi": {}}, "ssid"), ({"wifi": {"ssid": "x" * 33}}, "ssid"),
                      ({"wifi": {"ssid": "\u00e9" * 17}}, "ssid"),
                      ({"wifi": {"ssid": "a", "password": "secret12"}}, "password"),
                      ({"unlock": {"pulse_s": 0}}, "pulse_s"), ({"unlock": {"pulse_s": 16}}, "pulse_s"),
                      ({"unlock": {"pin": "1234"}}, "pin"), ({"door_log_max": 0}, "door_log_max"),
                      ({"secrets": 7}, "secrets")):
        e = assert_raises(ConfigError, config.check, _with(**bad))
        assert word in str(e), (bad, str(e))
