# The call log: bounded, validated, persisted atomically, reloaded intact.
import os

from coretest import assert_raises, remove_file
from portier import fsutil
from portier.signaling.calllog import CallLog, CallLogError, append

_PATH = "portier-test-calllog.json"


def _cleanup():
    remove_file(_PATH)


def test_entries_and_bound():
    log = CallLog(max_entries=3)
    log.add("out", "household:home", "answered", None, 1000, 42)
    log.add("in", "anna:2@home", "missed", "timeout", 1100, 0)
    log.add("out", "household:home", "unanswered", "timeout", 1200, 0)
    log.add("out", "household:home", "declined", None, 1300, 0)
    assert len(log) == 3
    assert [e["start"] for e in log.entries()] == [1100, 1200, 1300]
    assert log.entries()[0] == {"dir": "in", "peer": "anna:2@home", "outcome": "missed",
                                "reason": "timeout", "start": 1100, "duration": 0}


def test_bad_entries_change_nothing():
    log = CallLog()
    log.add("in", "anna:2@home", "answered", None, 5, 60)
    before = log.dumps()
    assert_raises(CallLogError, log.add, "sideways", "x", "answered")
    assert_raises(CallLogError, log.add, "out", "x", "missed")  # callers never "miss" a call
    assert_raises(CallLogError, log.add, "in", "", "missed")
    assert_raises(CallLogError, log.add, "in", "p" * 97, "missed")
    assert_raises(CallLogError, log.add, "in", "p", "missed", "r" * 33)
    assert_raises(CallLogError, log.add, "in", "p", "missed", None, -1)
    assert_raises(CallLogError, log.add, "in", "p", "missed", None, 0, True)
    assert log.dumps() == before


def test_persist_and_reload():
    _cleanup()
    try:
        log = CallLog(_PATH)
        log.add("out", "household:home", "answered", None, 1700000000, 75)
        log.add("in", "ben:1@home", "missed", None, 1700000100, 0)
        again = CallLog(_PATH)
        again.load()
        assert again.entries() == log.entries()
    finally:
        _cleanup()


def test_torn_write_leaves_previous_log():
    _cleanup()
    try:
        log = CallLog(_PATH)
        log.add("out", "household:home", "answered", None, 1, 2)
        with open(_PATH + ".tmp", "wb") as f:  # a write that never reached its rename
            f.write(b'{"v": 1, "calls": [')
        again = CallLog(_PATH)
        again.load()
        assert again.entries() == log.entries()
        assert_raises(OSError, os.stat, _PATH + ".tmp")  # debris removed
    finally:
        _cleanup()


def test_corrupt_file_is_an_error_and_keeps_entries():
    _cleanup()
    try:
        log = CallLog(_PATH)
        log.add("in", "ben:1@home", "answered", None, 1, 2)
        for bad in (b"not json", b'{"v": 2, "calls": []}', b'{"v": 1, "calls": {}}',
                    b'{"v": 1, "calls": [{"dir": "in"}]}', b"[" * 20000):
            fsutil.save_atomic(_PATH, bad)
            assert_raises(CallLogError, log.load)
            assert len(log) == 1
    finally:
        _cleanup()


def _read():
    with open(_PATH, "rb") as f:
        return f.read()


def test_append_keeps_what_the_file_holds_across_reboots():
    # The app holds no log between calls: each call end appends to the file (a new CallLog
    # each time, as after a reboot), so earlier calls survive and the bound still holds.
    _cleanup()
    try:
        for i in range(4):
            peer = "phone%d@home" % i
            entry, problem = append(_PATH, 3, "out", peer, "answered", None, 100 + i, i)
            assert problem is None and entry["peer"] == peer
        again = CallLog(_PATH)
        again.load()
        assert [e["start"] for e in again.entries()] == [101, 102, 103]
        before = _read()
        assert_raises(CallLogError, append, _PATH, 3, "out", "x@home", "missed")
        assert _read() == before  # a bad entry leaves the file as it was
    finally:
        _cleanup()


def test_append_over_an_unreadable_file_says_so_and_starts_anew():
    _cleanup()
    try:
        fsutil.save_atomic(_PATH, b"{not json")
        entry, problem = append(_PATH, 50, "in", "door:1@home", "missed", "timeout", 5, 0)
        assert "not JSON" in problem
        log = CallLog(_PATH)
        log.load()
        assert log.entries() == [entry]
        entry, problem = append(None, 50, "in", "door:1@home", "missed")  # no file: checked only
        assert problem is None and entry["outcome"] == "missed"
    finally:
        _cleanup()
