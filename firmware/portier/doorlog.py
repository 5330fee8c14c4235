# The door log: every unlock and every refused unlock attempt, on the door, bounded and
# persisted atomically (config "door_log", "door_log_max"). The file is
#   {"v": 1, "entries": [{"time": UNIX s, "event": "...", ...}, ...]}  (oldest first)
# and every entry is a flat object of str/int values, so `portier log` prints it generically.
# Sans-IO apart from the optional file: the caller gives the time.
import json

from micropython import const

from portier import fsutil

_DEFAULT_MAX = const(50)
_MAX_ENTRIES = const(500)
_MAX_FILE = const(65536)  # 500 entries of ~130 bytes
_MAX_FIELDS = const(12)
_MAX_KEY = const(24)
_MAX_VALUE = const(96)
_VERSION = const(1)

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


class DoorLog:
    def __init__(self, path=None, max_entries=_DEFAULT_MAX):
        if not 1 <= max_entries <= _MAX_ENTRIES:
            raise DoorLogError("door log of %d entries" % max_entries)
        self.path = path
        self.max_entries = max_entries
        self._entries = []

    def add(self, time_s, event, **fields):
        """Record one event; None-valued fields are left out. The oldest entry goes when the
        log is full. A bad entry raises DoorLogError and changes nothing; a failed write
        (OSError) leaves the file and the entries as they were."""
        entry = {"time": time_s, "event": event}
        for k in fields:
            if fields[k] is not None:
                entry[k] = fields[k]
        _check_entry(entry)
        entries = self._entries[-(self.max_entries - 1):] if self.max_entries > 1 else []
        entries.append(entry)
        if self.path:
            fsutil.save_atomic(self.path, _dumps(entries))
        self._entries = entries
        return entry

    def entries(self):
        return list(self._entries)

    def __len__(self):
        return len(self._entries)

    def dumps(self):
        return _dumps(self._entries)

    def loads(self, data):
        """Replace the entries with a serialised log; DoorLogError, entries kept, if anything in
        it is malformed."""
        if len(data) > _MAX_FILE:
            raise DoorLogError("door log of %d bytes" % len(data))
        try:
            doc = json.loads(data)
        except ValueError:
            raise DoorLogError("door log is not JSON")
        if not isinstance(doc, dict) or doc.get("v") != _VERSION:
            raise DoorLogError("door log version")
        entries = doc.get("entries")
        if not isinstance(entries, list) or len(entries) > _MAX_ENTRIES:
            raise DoorLogError("door log entries")
        for e in entries:
            _check_entry(e)
        self._entries = entries[-self.max_entries:]

    def load(self):
        """Read the log file if there is one (before the first add, so history survives)."""
        if not self.path:
            return
        try:
            data = fsutil.load(self.path, _MAX_FILE)
        except OSError as e:
            raise DoorLogError(str(e))
        if data is not None:
            self.loads(data)


def _dumps(entries):
    return json.dumps({"v": _VERSION, "entries": entries}).encode()
