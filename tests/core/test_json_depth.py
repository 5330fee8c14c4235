# Every device-file loader refuses JSON nested thousands deep with its own error class, before
# json.loads would recurse (CPython: RecursionError) or fill the heap (MicroPython: MemoryError);
# an ordinary file still loads, and brackets inside strings do not count (issue 14, item 6).
from coretest import assert_raises, remove_file
from portier import config, jsondepth, pairing, secrets
from portier import unlock as ul
from portier.doorlog import DoorLog, DoorLogError
from portier.signaling.calllog import CallLog, CallLogError

_PATH = "_test_json_depth.json"


def _deep(n, inner="1"):
    return ("[" * n + inner + "]" * n).encode()


def _write(data):
    with open(_PATH, "wb") as f:
        f.write(data)


def test_depth_scan():
    assert not jsondepth.too_deep(b'{"a": [1, {"b": [2]}]}', 4)
    assert jsondepth.too_deep(b'{"a": [1, {"b": [2]}]}', 3)
    assert not jsondepth.too_deep(b'["[[[[[[[[[[[[", "{{{{{{{{{{{\\"[[[[[["]', 2)
    assert not jsondepth.too_deep("[[[]]][[[]]][[[]]][[[]]]", 3)  # str too; siblings are not depth
    assert jsondepth.too_deep(_deep(9), jsondepth.MAX_DEPTH)
    assert not jsondepth.too_deep(_deep(8), jsondepth.MAX_DEPTH)


def test_config():
    deep = b'{"jid": "door:1@home", "audio": ' + _deep(3000) + b"}"
    assert len(deep) < 8000
    e = assert_raises(config.ConfigError, config.loads, deep[:4096].decode())  # within its size
    assert "deep" in str(e) or "JSON" in str(e)
    text = ('{"jid": "door:1@home", "audio": %s}' % ("[" * 1500 + "]" * 1500))
    assert len(text) <= 4096
    assert "deep" in str(assert_raises(config.ConfigError, config.loads, text))


def test_secrets():
    e = assert_raises(secrets.SecretsError, secrets.loads, b'{"wifi_password": ' + _deep(450) + b"}")
    assert "deep" in str(e)


def test_pairing_file():
    try:
        _write(_deep(1000))
        assert "deep" in str(assert_raises(config.ConfigError, pairing.PairedDevices, _PATH))
    finally:
        remove_file(_PATH)


def test_unlock_state():
    try:
        _write(b'{"v": 1, "last": ' + _deep(1500) + b"}")
        assert "deep" in str(assert_raises(ul.UnlockError, ul.State, _PATH))
        _write(b'{"v": 1, "fails": 2, "last": {"anna:1@home": 7}, "sent": 0}')
        assert ul.State(_PATH).last == {"anna:1@home": 7}
    finally:
        remove_file(_PATH)


def test_call_log():
    log = CallLog(None, 5)
    data = b'{"v": 1, "calls": ' + _deep(5000) + b"}"
    assert "deep" in str(assert_raises(CallLogError, log.loads, data))
    log.add("in", "door:1@home", "missed", "timeout", 1, 0)
    other = CallLog(None, 5)
    other.loads(log.dumps())
    assert len(other) == 1


def test_door_log():
    log = DoorLog(None, 5)
    data = b'{"v": 1, "entries": [' + _deep(3000, "{}") + b"]}"
    assert "deep" in str(assert_raises(DoorLogError, log.loads, data))
    log.add(1800000000, "unlocked", peer="anna:1@home", reason="[[[[[[[[[[[[[[")
    other = DoorLog(None, 5)
    other.loads(log.dumps())
    assert other.entries()[0]["reason"] == "[[[[[[[[[[[[[["
