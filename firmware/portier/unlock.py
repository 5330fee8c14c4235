# Door unlock, end-to-end authenticated (docs/protocol.md section 10, Portier extension).
# The answering household device sends <unlock> whose <enc> is a Signal message over its own
# pairwise session with the door; the plaintext names the call, a per-device counter, the PIN
# and its age (the ms since the sender saw the call answered). Unlocker checks it in the order
# section 10.3 fixes and keeps, in one small JSON file (cfg.unlock_state, rewritten atomically),
# the last counter accepted from each device and the door-wide count of consecutive wrong PINs.
#
# Sans-IO apart from that file: time comes in as ticks_ms values, the Signal store is the
# caller's. decide() checks an attempt and, once its message authenticates, consumes it (the
# session commits, as every decryption does); commit() persists the counter and failure count,
# and the caller acts on the result (opens the door) only after commit() has returned.
import json
import time

from micropython import const

from portier import fsutil
from portier.jsondepth import too_deep

PIN_MIN = const(4)
PIN_MAX = const(12)
PLAINTEXT_LEN = const(96)  # every request is padded to this, so its size never shows the PIN's
_MAX_PLAINTEXT = const(256)
_MAX_CALL_ID = const(64)
_MAX_COUNTER = 0xFFFFFFFF  # not const(): above a 32-bit board's small ints
_MAX_MESSAGE = const(2048)  # a Signal pkmsg with a 96-byte plaintext is ~250 bytes
_MAX_DEVICES = const(32)  # as many as a board keeps Signal sessions
_MAX_STATE_FILE = const(4096)
_VERSION = const(1)
# A request reaching the door more than this after it was made is refused `stale` (10.3 step 6):
# a switchboard that withholds an unlock cannot open the door with it later in the call.
FRESH_MS = const(5000)
_F_CALL_ID = const(1)
_F_COUNTER = const(2)
_F_PIN = const(3)
_F_AGE_MS = const(4)
_F_PADDING = const(15)

# Wrong-PIN delays (door-wide): the first FREE_FAILS - 1 wrong PINs cost nothing; the
# FREE_FAILS-th and every later one lock the door for FIRST_LOCK_S, doubling, at most MAX_LOCK_S.
FREE_FAILS = const(3)
FIRST_LOCK_S = const(30)
MAX_LOCK_S = const(3600)

OPENED = "opened"
WRONG_PIN = "wrong_pin"
LOCKED_OUT = "locked_out"
REFUSED = "refused"


class UnlockError(ValueError):
    """A bad unlock request plaintext or state file."""


def lockout_s(fails):
    """Seconds the door refuses attempts after `fails` consecutive wrong PINs."""
    if fails < FREE_FAILS:
        return 0
    n = fails - FREE_FAILS
    if n >= 7:  # 30 << 7 is past the cap already; no big shift on a board
        return MAX_LOCK_S
    return min(FIRST_LOCK_S << n, MAX_LOCK_S)


def check_pin(pin):
    """PIN text or bytes -> bytes of 4..12 ASCII digits; UnlockError otherwise."""
    if isinstance(pin, str):
        try:
            pin = pin.encode()
        except UnicodeError:
            raise UnlockError("PIN must be digits")
    if not isinstance(pin, (bytes, bytearray)) or not PIN_MIN <= len(pin) <= PIN_MAX:
        raise UnlockError("PIN must be %d..%d digits" % (PIN_MIN, PIN_MAX))
    for b in pin:
        if not 0x30 <= b <= 0x39:
            raise UnlockError("PIN must be digits")
    return bytes(pin)


def pin_verifier(salt, pin):
    """HMAC-SHA256(key=salt, msg=PIN digits): what portier.secrets keeps instead of the PIN."""
    from portier.crypto.hmac import hmac_sha256

    return hmac_sha256(salt, check_pin(pin))


def encode_request(call_id, counter, pin, age_ms):
    """The plaintext of an unlock <enc>: protobuf {1 callId, 2 counter, 3 pin, 4 ageMs,
    15 padding}, exactly PLAINTEXT_LEN bytes. age_ms: milliseconds from the moment this device
    saw the call answered (the engine's answered_ms) to now, when the request is made."""
    from portier.e2e.protobuf import put_bytes, put_uint

    cid = call_id.encode()
    if not 1 <= len(cid) <= _MAX_CALL_ID:
        raise UnlockError("call-id of %d bytes" % len(cid))
    if not 1 <= counter <= _MAX_COUNTER:
        raise UnlockError("counter out of range")
    if not 0 <= age_ms <= _MAX_COUNTER:
        raise UnlockError("age out of range")
    out = bytearray()
    put_bytes(out, _F_CALL_ID, cid)
    put_uint(out, _F_COUNTER, counter)
    put_bytes(out, _F_PIN, check_pin(pin))
    put_uint(out, _F_AGE_MS, age_ms)
    pad = PLAINTEXT_LEN - len(out) - 2  # field 15 key + a one-byte length
    put_bytes(out, _F_PADDING, bytes(pad))
    return bytes(out)


_SPEC = None


def decode_request(plaintext):
    """-> (call_id str, counter int, pin bytes, age_ms int); UnlockError on anything
    malformed."""
    global _SPEC
    from portier.e2e.protobuf import BYTES, VARINT, parse

    if _SPEC is None:
        _SPEC = {_F_CALL_ID: (BYTES, _MAX_CALL_ID), _F_COUNTER: (VARINT, _MAX_COUNTER),
                 _F_PIN: (BYTES, PIN_MAX), _F_AGE_MS: (VARINT, _MAX_COUNTER),
                 _F_PADDING: (BYTES, _MAX_PLAINTEXT)}
    if len(plaintext) > _MAX_PLAINTEXT:
        raise UnlockError("request of %d bytes" % len(plaintext))
    try:
        d = parse(plaintext, _SPEC)
    except ValueError as e:
        raise UnlockError("request: %s" % e)
    if _F_CALL_ID not in d or _F_COUNTER not in d or _F_PIN not in d or _F_AGE_MS not in d:
        raise UnlockError("request lacks call-id, counter, PIN or age")
    if d[_F_COUNTER] < 1:
        raise UnlockError("counter 0")
    try:
        call_id = d[_F_CALL_ID].decode()
    except UnicodeError:
        raise UnlockError("call-id is not text")
    return call_id, d[_F_COUNTER], check_pin(d[_F_PIN]), d[_F_AGE_MS]


class State:
    """The unlock state file: {"v": 1, "fails": n, "last": {device: counter}, "sent": n}.
    A door keeps fails and last; a phone keeps sent (its own counter)."""

    def __init__(self, path):
        self.path = path
        self.fails = 0
        self.last = {}
        self.sent = 0
        data = fsutil.load(path, _MAX_STATE_FILE) if path else None
        if data is not None:
            self._loads(data)

    def _loads(self, data):
        if too_deep(data):
            raise UnlockError("unlock state %s nested too deep" % self.path)
        try:
            d = json.loads(data)
        except ValueError:
            raise UnlockError("unlock state %s is not JSON" % self.path)
        if not isinstance(d, dict) or d.get("v") != _VERSION:
            raise UnlockError("unlock state %s: version" % self.path)
        fails, last, sent = d.get("fails", 0), d.get("last", {}), d.get("sent", 0)
        if not _count_ok(fails) or not _count_ok(sent) or not isinstance(last, dict):
            raise UnlockError("unlock state %s: fields" % self.path)
        if len(last) > _MAX_DEVICES:
            raise UnlockError("unlock state %s: %d devices" % (self.path, len(last)))
        for k in last:
            if not isinstance(k, str) or not _count_ok(last[k]):
                raise UnlockError("unlock state %s: counter of %r" % (self.path, k))
        self.fails, self.last, self.sent = fails, last, sent

    def dumps(self, fails, last, sent):
        return json.dumps({"v": _VERSION, "fails": fails, "last": last, "sent": sent}).encode()

    def save(self, fails, last, sent):
        """Write first, then adopt: a failed write leaves file and object as they were."""
        if self.path:
            fsutil.save_atomic(self.path, self.dumps(fails, last, sent))
        self.fails, self.last, self.sent = fails, last, sent


def _count_ok(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _MAX_COUNTER


def next_counter(state):
    """Phone side: the next counter to send, persisted before it is used."""
    n = state.sent + 1
    if n > _MAX_COUNTER:
        raise UnlockError("unlock counter exhausted")
    state.save(state.fails, state.last, n)
    return n


class Decision:
    """What decide() concluded. result: OPENED | WRONG_PIN | LOCKED_OUT | REFUSED; reason: a
    short token for the log and the reply; retry_after_s: when LOCKED_OUT or newly locked."""

    def __init__(self, result, reason, device, call_id, counter=None, fails=None, lock_ms=0):
        self.result = result
        self.reason = reason
        self.device = device
        self.call_id = call_id
        self.counter = counter  # set once the message authenticated: commit() persists it
        self.fails = fails  # the failure count to persist (None: unchanged)
        self.lock_ms = lock_ms  # a new lockout starting at commit, or the time left
        self.retry_after_s = (lock_ms + 999) // 1000 if lock_ms else None

    def __repr__(self):
        return "Decision(%s %s %s)" % (self.result, self.reason, self.device)


class Unlocker:
    """The door's checks. store: the door's Signal store, or a function that returns it (the
    app's: a store made per use, so the Unlocker holds no Signal code between unlocks and the
    app can drop it, portier.appmem); pin_salt/pin_hmac: the verifier of portier.secrets
    (None: unlock not set up); now_ms: ticks_ms at start. A stored failure count re-arms its
    whole delay from now_ms: a restart never shortens a lockout."""

    def __init__(self, store, state_path, pin_salt, pin_hmac, now_ms):
        self._store = store
        self.state = State(state_path)
        self._salt = pin_salt
        self._verifier = pin_hmac
        self._locked_until = None
        self._lock(lockout_s(self.state.fails) * 1000, now_ms)

    @property
    def fails(self):
        return self.state.fails

    def locked_ms(self, now_ms):
        """Milliseconds of lockout left (0: attempts are heard)."""
        if self._locked_until is None:
            return 0
        left = time.ticks_diff(self._locked_until, now_ms)
        if left <= 0:
            self._locked_until = None
            return 0
        return left

    def _lock(self, ms, now_ms):
        self._locked_until = time.ticks_add(now_ms, ms) if ms > 0 else None

    def decide(self, ev, now_ms):
        """ev: the call engine's "unlock" event: peer (the stanza's `from`, set by the
        switchboard), call_id, reason (the engine's refusal: no call, not the answerer, not
        that call; None: admitted), answered_for_ms (how long the call had been answered when
        the stanza came) and stanza (the parsed <unlock>); now_ms: when it arrived. -> Decision.
        Refusals before the message authenticates change nothing; after it, the message is
        consumed."""
        device, call_id = ev.peer, ev.call_id
        if self._verifier is None or self._salt is None:
            return Decision(REFUSED, "not_set_up", device, call_id)
        if ev.reason is not None:  # who may, and when, is the engine's rule (10.3 steps 2-4)
            return Decision(REFUSED, ev.reason, device, call_id)
        enc = ev.stanza.enc
        if enc is None or len(enc.ciphertext) > _MAX_MESSAGE:
            return Decision(REFUSED, "bad_message", device, call_id)
        # How long the call has been answered here: the sender's age of the request is at most
        # this, less the time its <transport> and the request spent on the way (10.3 step 6).
        answered_for = ev.answered_for_ms
        why, counter, pin = self._open(device, call_id, enc, answered_for)
        if why is not None:
            return Decision(REFUSED, why, device, call_id)
        left = self.locked_ms(now_ms)
        if left:  # the PIN is not even looked at: a lockout is no oracle
            return Decision(LOCKED_OUT, "locked_out", device, call_id, counter, None, left)
        from portier.crypto.hmac import compare_digest, hmac_sha256

        if compare_digest(hmac_sha256(self._salt, pin), self._verifier):
            return Decision(OPENED, "pin_ok", device, call_id, counter, 0)
        fails = self.state.fails + 1
        return Decision(WRONG_PIN, "wrong_pin", device, call_id, counter, fails,
                        lockout_s(fails) * 1000)

    def _open(self, device, call_id, enc, answered_for):
        """Decrypt in the device's session. -> (None, counter, pin), or (refusal reason, None,
        None) with the session store untouched."""
        from portier.e2e import E2eError, session

        last = self.state.last.get(device, 0)
        if device not in self.state.last and len(self.state.last) >= _MAX_DEVICES:
            return "too_many_devices", None, None
        why = []

        def accept(plaintext):  # raising E2eError here leaves the session store untouched
            try:
                cid, counter, pin, age_ms = decode_request(plaintext)
            except UnlockError as e:
                why.append("bad_request")
                raise E2eError(str(e))
            if cid != call_id:  # a replay of a request made in another call
                why.append("wrong_call")
                raise E2eError("request for another call")
            if counter <= last:  # a replay the ratchet cannot see (an evicted session state)
                why.append("replayed")
                raise E2eError("counter %d not above %d" % (counter, last))
            if answered_for - age_ms > FRESH_MS:  # withheld on the way (a negative is drift)
                why.append("stale")
                raise E2eError("request made %d ms before it came" % (answered_for - age_ms))
            return counter, pin

        try:
            store = self._store() if callable(self._store) else self._store
            counter, pin = session.decrypt(store, device, enc.type, enc.ciphertext, accept)
        except E2eError:  # forged, or already consumed: the ratchet refuses it
            return (why[0] if why else "bad_message"), None, None
        return None, counter, pin

    def commit(self, decision, now_ms):
        """Persist what an authenticated attempt changed (the device's counter, the failure
        count); OSError leaves file and memory as they were. A no-op for early refusals."""
        if decision.counter is None:
            return
        last = dict(self.state.last)
        last[decision.device] = decision.counter
        fails = self.state.fails if decision.fails is None else decision.fails
        self.state.save(fails, last, self.state.sent)
        if decision.result == WRONG_PIN:
            self._lock(decision.lock_ms, now_ms)
        elif decision.result == OPENED:
            self._locked_until = None
