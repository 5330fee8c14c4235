# The door log: every unlock and every refused unlock attempt, on the door, bounded and
# persisted atomically (config "door_log", "door_log_max"). The file is
#   {"v": 1, "entries": [{"time": UNIX s, "event": "...", ...}, ...]}  (oldest first)
# and every entry is a flat object of str/int values, so `portier log` prints it generically.
# Sans-IO apart from the optional file: the caller gives the time.
from micropython import const

from portier.jsonlog import JsonLog

_DEFAULT_MAX = const(50)
_MAX_ENTRIES = const(500)
_MAX_FILE = const(65536)  # 500 entries of ~130 bytes
_MAX_FIELDS = const(12)
_MAX_KEY = const(24)
_MAX_VALUE = const(96)

UNLOCKED = "unlocked"  # events this firmware writes
UNLOCK_REFUSED = "unlock_refused"


class DoorLogError(ValueError):
    pass


def _check_entry(e):
    if not isinstance(e, dict) or not 2 <= len(e) <= _MAX_FIELDS:
        raise DoorLogError("entry is not an object of 2..%d fields" % _MAX_FIELDS)
    for k in e:
        v = e[k]
        if not isinstance(k, str) or not k or len(k) > _MAX_KEY:
            raise DoorLogError("entry key %r" % (k,))
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise DoorLogError("entry %s is not text or a number" % k)
        if isinstance(v, str) and len(v) > _MAX_VALUE:
            raise DoorLogError("entry %s of %d characters" % (k, len(v)))
    t, ev = e.get("time"), e.get("event")
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        raise DoorLogError("entry time")
    if not isinstance(ev, str) or not ev:
        raise DoorLogError("entry event")


class DoorLog(JsonLog):
    def __init__(self, path=None, max_entries=_DEFAULT_MAX):
        if not 1 <= max_entries <= _MAX_ENTRIES:
            raise DoorLogError("door log of %d entries" % max_entries)
        JsonLog.__init__(self, path, max_entries, "entries", _check_entry, DoorLogError, _MAX_FILE,
                         _MAX_ENTRIES)

    def add(self, time_s, event, **fields):
        """Record one event; None-valued fields are left out (see JsonLog.add_entry)."""
        entry = {"time": time_s, "event": event}
        for k in fields:
            if fields[k] is not None:
                entry[k] = fields[k]
        return self.add_entry(entry)
