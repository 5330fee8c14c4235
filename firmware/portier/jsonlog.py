# A bounded log of flat JSON objects, oldest first, persisted atomically as
#   {"v": 1, "<key>": [entry, ...]}
# The call log ("calls") and the door log ("entries") are two of these: each gives its own entry
# check and error class (one error class per module), this keeps the bounds and the file.
# Sans-IO apart from the optional file: callers give times.
import json

from micropython import const

from portier import fsutil
from portier.jsondepth import too_deep

_VERSION = const(1)


class JsonLog:
    def __init__(self, path, max_entries, key, check_entry, error, max_file, max_load):
        self.path = path
        self.max_entries = max_entries
        self._key = key
        self._check = check_entry
        self._error = error
        self._max_file = max_file
        self._max_load = max_load  # entries a file may hold, whatever this log keeps
        self._entries = []

    def add_entry(self, entry):
        """Append a built entry; the oldest goes when the log is full. A bad entry raises the
        log's error and a failed write (OSError) leaves the file and the entries as they were."""
        self._check(entry)
        keep = self.max_entries - 1
        entries = self._entries[-keep:] if keep > 0 else []
        entries.append(entry)
        if self.path:
            fsutil.save_atomic(self.path, self._dumps(entries))
        self._entries = entries
        return entry

    def entries(self):
        return list(self._entries)

    def __len__(self):
        return len(self._entries)

    def dumps(self):
        return self._dumps(self._entries)

    def _dumps(self, entries):
        return json.dumps({"v": _VERSION, self._key: entries}).encode()

    def loads(self, data):
        """Replace the entries with a serialised log; the log's error, entries kept, if anything
        in it is malformed."""
        if len(data) > self._max_file:
            raise self._error("log of %d bytes, over %d" % (len(data), self._max_file))
        if too_deep(data):
            raise self._error("log nested too deep")
        try:
            doc = json.loads(data)
        except ValueError:
            raise self._error("log is not JSON")
        if not isinstance(doc, dict) or doc.get("v") != _VERSION:
            raise self._error("log version")
        entries = doc.get(self._key)
        if not isinstance(entries, list) or len(entries) > self._max_load:
            raise self._error("log %s" % self._key)
        for e in entries:
            self._check(e)
        self._entries = entries[-self.max_entries:]

    def load(self):
        """Read the log file if there is one (before the first add, so history survives)."""
        if not self.path:
            return
        try:
            data = fsutil.load(self.path, self._max_file)
        except OSError as e:
            raise self._error(str(e))
        if data is not None:
            self.loads(data)
