# The door log (portier.doorlog): bounded, atomic, flat str/int entries that `portier log` can
# print generically; and the virtual door's strike (vdoor.open_door), which the unlock path
# drives: energised for the pulse, released after it, every opening recorded.
import json

from coretest import assert_raises, remove_file
from portier import fsutil
from portier.doorlog import UNLOCK_REFUSED, UNLOCKED, DoorLog, DoorLogError

_PATH = "_test_door_log.json"


def _cleanup():
    remove_file(_PATH)


def _file():
    with open(_PATH) as f:
        return json.loads(f.read())


def test_entries_are_flat_bounded_and_on_file():
    _cleanup()
    try:
        log = DoorLog(_PATH, 3)
        log.add(100, UNLOCKED, peer="anna:2@home", call_id="AB", result="opened", reason=None)
        assert _file() == {"v": 1, "entries": [
            {"time": 100, "event": "unlocked", "peer": "anna:2@home", "call_id": "AB",
             "result": "opened"}]}  # a None field is left out
        for t in (101, 102, 103):
            log.add(t, UNLOCK_REFUSED, reason="wrong_pin", retry_after=30)
        assert [e["time"] for e in log.entries()] == [101, 102, 103] and len(log) == 3
        assert [e["time"] for e in _file()["entries"]] == [101, 102, 103]
        again = DoorLog(_PATH, 3)
        again.load()
        assert again.entries() == log.entries()
        small = DoorLog(_PATH, 2)  # a smaller bound keeps the newest
        small.load()
        assert [e["time"] for e in small.entries()] == [102, 103]
        one = DoorLog(None, 1)
        one.add(1, "a")
        one.add(2, "b")
        assert one.entries() == [{"time": 2, "event": "b"}]
    finally:
        _cleanup()


def test_bad_entries_change_nothing():
    _cleanup()
    try:
        log = DoorLog(_PATH)
        log.add(5, UNLOCKED)
        before = _file()
        for t, ev, fields in ((-1, "x", {}), (True, "x", {}), ("5", "x", {}), (5, "", {}),
                              (5, 7, {}), (5, "x", {"ok": True}), (5, "x", {"f": 1.5}),
                              (5, "x", {"f": [1]}), (5, "x", {"f": "v" * 97}),
                              (5, "x", {"k" * 25: 1}),
                              (5, "x", dict(("f%d" % i, i) for i in range(11)))):
            assert_raises(DoorLogError, log.add, t, ev, **fields)
        assert _file() == before and len(log) == 1
        assert_raises(DoorLogError, DoorLog, _PATH, 0)
        assert_raises(DoorLogError, DoorLog, _PATH, 501)
    finally:
        _cleanup()


def test_corrupt_or_torn_file():
    _cleanup()
    try:
        log = DoorLog(_PATH)
        log.add(9, UNLOCKED)
        with open(_PATH + ".tmp", "wb") as f:  # a write that never reached its rename
            f.write(b'{"v": 1, "entr')
        fresh = DoorLog(_PATH)
        fresh.load()
        assert fresh.entries() == [{"time": 9, "event": "unlocked"}]
        for bad in (b"nope", b"[]", b'{"v": 2, "entries": []}', b'{"v": 1, "entries": {}}',
                    b'{"v": 1, "entries": [{"time": 1}]}',
                    b'{"v": 1, "entries": [{"time": 1, "event": "x", "n": null}]}'):
            fsutil.save_atomic(_PATH, bad)
            assert_raises(DoorLogError, fresh.load)
            assert fresh.entries() == [{"time": 9, "event": "unlocked"}]
    finally:
        _cleanup()


def test_virtual_door_pulses_the_strike_and_releases_it():
    from portier.hal.vdoor import VirtualDoor

    door = VirtualDoor({})
    assert door.relay_level(0) == 0 and not door.relay.energised
    door.open_door(3000, 1000)
    assert door.openings == [(1000, 3000)] and door.relay.energised
    assert door.relay_level(3999) == 1
    assert door.relay_level(4000) == 0 and not door.relay.energised
    assert_raises(ValueError, door.open_door, 16000, 5000)  # past the relay's 15 s bound
    assert not door.relay.energised and len(door.openings) == 1
    assert door.relay.pulses == 1
