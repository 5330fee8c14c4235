# The door's paired devices (docs/protocol.md 8.5): who it rings and takes answers and unlocks
# from. A device pairs only with an authorisation the household's provisioning tool made
# (checked in portier.pairauth, loaded when a <pair> arrives); a revocation unpairs it and
# floors its serials. The paired devices (with the serial each paired under) and the revoked
# floors are one JSON file on flash, rewritten atomically.
import json

from micropython import const

from portier import fsutil
from portier.jsondepth import too_deep
from portier.config import ConfigError, check_jid

MAX_PAIRED = const(16)
_MAX_REVOKED = const(32)
_PAIRED_FILE_MAX = const(4096)
_MAX_SERIAL = const(0x3FFFFFFF)  # a small int on a 32-bit board (portier.pairauth's serials)


class PairError(ValueError):
    """A <pair> or revocation the door refuses (nothing stored)."""


class PairedDevices:
    """The door's paired devices {jid: serial} and revoked floors {jid: serial}, on flash.
    Serial 0 marks a device paired before the household authority (the old file, a list)."""

    def __init__(self, path):
        self.path = path
        self.paired = {}
        self.revoked = {}
        data = fsutil.load(path, _PAIRED_FILE_MAX)
        if data is None:
            return
        try:
            if too_deep(data):
                raise ValueError("nested too deep")
            doc = json.loads(data)
            if isinstance(doc, list):  # before the authority: every entry is legacy
                doc = {"paired": dict((j, 0) for j in doc), "revoked": {}}
            if not isinstance(doc, dict):
                raise ValueError("not a paired-devices document")
            self.paired = self._table(doc.get("paired"), MAX_PAIRED)
            self.revoked = self._table(doc.get("revoked"), _MAX_REVOKED)
        except ValueError as e:
            raise ConfigError("paired devices in %s: %s" % (path, e))

    @staticmethod
    def _table(d, limit):
        if not isinstance(d, dict) or len(d) > limit:
            raise ValueError("not a table of at most %d" % limit)
        for jid, serial in d.items():
            check_jid(jid, "paired device")
            if not isinstance(serial, int) or not 0 <= serial <= _MAX_SERIAL:
                raise ValueError("serial of %s" % jid)
        return d

    @property
    def devices(self):
        """The JIDs the door rings, in a stable order."""
        return sorted(self.paired)

    def legacy(self):
        return [j for j in self.devices if self.paired[j] == 0]

    def _save(self, paired, revoked):
        doc = {"paired": paired, "revoked": revoked}
        fsutil.save_atomic(self.path, json.dumps(doc).encode())
        self.paired, self.revoked = paired, revoked  # only once it is on flash

    def add(self, jid, serial):
        """Keep jid as paired under serial; True when it was not paired before."""
        if self.paired.get(jid) == serial:
            return False
        if jid not in self.paired and len(self.paired) >= MAX_PAIRED:
            raise PairError("already %d paired devices" % MAX_PAIRED)
        paired = dict(self.paired)
        new = jid not in paired
        paired[jid] = serial
        self._save(paired, self.revoked)
        return new

    def revoke(self, jid, serial):
        """Unpair jid if it paired under a serial up to `serial`, and refuse those from now on;
        True when it was paired."""
        if serial <= self.revoked.get(jid, 0) and jid not in self.paired:
            return False  # a replay, or nothing new
        if jid not in self.revoked and len(self.revoked) >= _MAX_REVOKED:
            raise PairError("%d revoked devices: re-key the household" % _MAX_REVOKED)
        paired = dict(self.paired)
        was = paired.get(jid, _MAX_SERIAL + 1) <= serial
        if was:
            del paired[jid]
        revoked = dict(self.revoked)
        revoked[jid] = max(serial, revoked.get(jid, 0))
        self._save(paired, revoked)
        return was

    def drop(self, jids):
        paired = dict(self.paired)
        for j in jids:
            paired.pop(j, None)
        self._save(paired, self.revoked)


def ensure_identity(store):
    """A softphone makes its own Signal identity on first start: it only ever initiates
    sessions, so nobody needs its bundle. (The door's comes from provisioning.)"""
    from portier.e2e import E2eError, keys

    try:
        store.identity()
    except E2eError:
        keys.generate_identity(store)
