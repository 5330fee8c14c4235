# The call log: what happened to each call, on this device, bounded and persisted atomically.
# Sans-IO apart from the optional file: the caller gives start times and durations; nothing
# here reads a clock. One entry per call per party (the calls issue's invariant).
from micropython import const

from portier.jsonlog import JsonLog
from portier.signaling._callkinds import OUTCOMES

_DEFAULT_MAX = const(50)
_MAX_FILE = const(16384)  # 50 entries of ~120 bytes, with room to spare
_MAX_PEER = const(96)
_MAX_REASON = const(32)
_MAX_LOAD = const(500)  # config's call_log_max bound

# Outcomes, from the point of view of the device that logs them: the call engine's names
# (_callkinds.OUTCOMES, which the engine's endings index: answered, declined, busy,
# unanswered, cancelled, failed, missed, answered_elsewhere, declined_elsewhere). A call we
# placed is never missed nor handled elsewhere; one that rang here is never unanswered nor
# cancelled (tests/core/test_engine_outcomes checks both against the engine's rulebook).
OUTGOING = OUTCOMES[:6]
INCOMING = OUTCOMES[:3] + OUTCOMES[5:]
_FIELDS = ("dir", "peer", "outcome", "reason", "start", "duration")


class CallLogError(ValueError):
    pass


def _check_entry(e):
    if not isinstance(e, dict) or sorted(e.keys()) != sorted(_FIELDS):
        raise CallLogError("entry fields")
    direction, outcome = e["dir"], e["outcome"]
    if direction == "out":
        allowed = OUTGOING
    elif direction == "in":
        allowed = INCOMING
    else:
        raise CallLogError("direction %r" % (direction,))
    if outcome not in allowed:
        raise CallLogError("outcome %r for %s" % (outcome, direction))
    peer, reason = e["peer"], e["reason"]
    if not isinstance(peer, str) or not peer or len(peer) > _MAX_PEER:
        raise CallLogError("peer")
    if reason is not None and (not isinstance(reason, str) or len(reason) > _MAX_REASON):
        raise CallLogError("reason")
    for key in ("start", "duration"):
        v = e[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise CallLogError(key)


class CallLog(JsonLog):
    def __init__(self, path=None, max_entries=_DEFAULT_MAX):
        JsonLog.__init__(self, path, max_entries, "calls", _check_entry, CallLogError, _MAX_FILE,
                         _MAX_LOAD)

    def add(self, direction, peer, outcome, reason=None, start=0, duration=0):
        """Record one call; start in the caller's time base (unix seconds when the board has
        NTP time), duration in whole seconds (see JsonLog.add_entry)."""
        return self.add_entry({"dir": direction, "peer": peer, "outcome": outcome,
                               "reason": reason, "start": start, "duration": duration})


def append(path, max_entries, direction, peer, outcome, reason=None, start=0, duration=0):
    """Add one call to the log file, after the entries already in it: a device keeps no log in
    RAM between calls, and a reboot loses nothing. -> (entry, problem): problem is None, or why
    the old file could not be read (it is then replaced by a log of this call alone). A bad
    entry raises CallLogError and leaves the file as it was."""
    log = CallLog(path, max_entries)
    problem = None
    if path:
        try:
            log.load()
        except CallLogError as e:
            problem = str(e)
    return log.add(direction, peer, outcome, reason, start, duration), problem
