# Door unlock (docs/protocol.md section 10) on real Signal sessions: the answering device's
# right PIN opens; every refusal before the message authenticates leaves the Signal store and
# the state file byte-identical; replays (same call, later call, old counter) and forgeries
# are refused; wrong PINs lock the door with growing delays that survive a restart.
import os
import time

from coretest import assert_raises, remove_file, unhex
from e2epair import DOOR, PHONE, answered_pair
from portier import unlock as ul
from portier.e2e import keys, session
from portier.e2e.stores import MemoryStore
from portier.e2e.x3dh import start_session

BEN = "ben:3@home"
_STATE = "_test_unlock_state.json"
_SALT = bytes(range(16))
# HMAC-SHA256(key=00..0f, "2468"), computed with CPython's hmac module
_VERIFIER = unhex("6dd7352d7f5f0d4ff8d506370430dc292018f15191d626857336a8ebbb6a8036")
_PIN = "2468"
_CID = "5D1C0A9B8E7F6A5B4C3D2E1F00112233"
_CID2 = "77777777777777777777777777777777"


class _Unlock:  # the call engine's "unlock" event for msg (portier.signaling.engine)
    def __init__(self, msg, reason, answered_for_ms):
        self.kind = "unlock"
        self.peer = msg.frm
        self.call_id = msg.call_id
        self.reason = reason  # the engine's refusal (steps 2-4), or None: admitted
        self.stanza = msg
        self.answered_for_ms = None if reason else answered_for_ms


def _cleanup():
    remove_file(_STATE)


def _state_bytes():
    try:
        with open(_STATE, "rb") as f:
            return f.read()
    except OSError:
        return None


class _Fields:
    def __init__(self, **kw):
        for k in kw:  # MicroPython's __dict__ has no update()
            setattr(self, k, kw[k])


def _stanza(enc_type, ciphertext, frm=PHONE, call_id=_CID, creator=DOOR):
    """The fields of a parsed <unlock> as the door receives it, `from` set by the switchboard.
    (The stanza layer and codec are test_unlock_stanzas'; with the Signal layer and two stores
    they do not fit one 128 KiB MicroPython heap.)"""
    return _Fields(action="unlock", call_id=call_id, call_creator=creator, to=DOOR, frm=frm,
                   enc=_Fields(type=enc_type, ciphertext=bytes(ciphertext)), stanza_id="S1")


def _request(phone, counter, pin=_PIN, call_id=_CID, to=DOOR, age_ms=0):
    return session.encrypt(phone, to, ul.encode_request(call_id, counter, pin, age_ms))


def _unlocker(door, now=0, verifier=_VERIFIER):
    return ul.Unlocker(door, _STATE, _SALT, verifier, now)


def _attempt(u, msg, now, answered_ms=None, refused=None):
    """What the door decides on msg at now: the engine admitted it (answered_ms: when the call
    was answered, default now: made and delivered at the answer) or refused it `refused`."""
    since = time.ticks_diff(now, now if answered_ms is None else answered_ms)
    d = u.decide(_Unlock(msg, refused, since), now)
    u.commit(d, now)
    return d


def _refused_unchanged(u, door, msg, reason, now=0, answered_ms=None, refused=None):
    files, state, fails = dict(door.files), _state_bytes(), u.fails
    d = _attempt(u, msg, now, answered_ms, refused)
    assert d.result == ul.REFUSED and d.reason == reason, (d.result, d.reason, reason)
    assert d.counter is None and d.retry_after_s is None
    assert door.files == files, "Signal store changed by a refused unlock (%s)" % reason
    assert _state_bytes() == state and u.fails == fails
    return d


def test_request_plaintext_is_the_documented_protobuf():
    pt = ul.encode_request(_CID, 5, _PIN, 1500)
    # written by hand from section 10.2: 1 callId, 2 counter, 3 pin, 4 ageMs, 15 zero padding
    head = b"\x0a\x20" + _CID.encode() + b"\x10\x05" + b"\x1a\x04" + b"2468" + b"\x20\xdc\x0b"
    assert pt == head + b"\x7a" + bytes((96 - len(head) - 2,)) + bytes(96 - len(head) - 2)
    long = ul.encode_request(_CID, 0xFFFFFFFF, "123456789012", 0xFFFFFFFF)
    assert len(long) == ul.PLAINTEXT_LEN
    assert ul.decode_request(pt) == (_CID, 5, b"2468", 1500)
    assert ul.decode_request(head) == (_CID, 5, b"2468", 1500)  # padding is optional on reading


def test_bad_requests_and_pins_are_refused():
    for pin in ("123", "1234567890123", "12a4", "", "١٢٣٤", b"12 4", 1234):
        assert_raises(ul.UnlockError, ul.check_pin, pin)
    assert ul.check_pin("0000") == b"0000" and ul.check_pin(b"123456789012") == b"123456789012"
    assert_raises(ul.UnlockError, ul.encode_request, _CID, 0, _PIN, 0)
    assert_raises(ul.UnlockError, ul.encode_request, _CID, 1 << 32, _PIN, 0)
    assert_raises(ul.UnlockError, ul.encode_request, "A" * 65, 1, _PIN, 0)
    assert_raises(ul.UnlockError, ul.encode_request, _CID, 1, _PIN, -1)
    cid = b"\x0a\x02AB"
    age = b"\x20\x00"
    for bad in (b"", cid + b"\x10\x01" + age,  # no PIN
                cid + b"\x1a\x041234" + age,  # no counter
                cid + b"\x10\x01\x1a\x041234",  # no age (a phone from before section 10.2's field 4)
                cid + b"\x10\x00\x1a\x041234" + age,  # counter 0
                cid + b"\x10\x80\x80\x80\x80\x10\x1a\x041234" + age,  # counter 2^32
                cid + b"\x10\x01\x1a\x041234\x20\x80\x80\x80\x80\x10",  # age 2^32
                cid + b"\x10\x01\x1a\x0d" + b"1" * 13 + age,  # PIN of 13 digits
                cid + b"\x10\x01\x1a\x04123x" + age,  # not digits
                b"\x0a\x02\xff\xfe\x10\x01\x1a\x041234" + age,  # call-id not UTF-8
                cid + b"\x10\x01\x1a\x041234" + age + b"\x7a\xff\x01" + bytes(255),  # over 256 bytes
                cid + b"\x10\x01\x1a\x08123"):  # runs past the end
        assert_raises(ul.UnlockError, ul.decode_request, bad)


def test_pin_verifier_and_delay_schedule():
    assert ul.pin_verifier(_SALT, _PIN) == _VERIFIER
    assert ul.pin_verifier(_SALT, "13579") == unhex(
        "a29323b3dbecee6c20eb2dc8a96f8e90ecb876df5f7dd76a271f1cb8ef92315e")
    got = [ul.lockout_s(n) for n in range(12)] + [ul.lockout_s(1000)]
    assert got == [0, 0, 0, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600], got


def test_right_pin_from_the_answerer_opens_and_its_replay_is_refused():
    _cleanup()
    try:
        door, phone = answered_pair()
        u = _unlocker(door)
        msg = _stanza(*_request(phone, 1))
        d = _attempt(u, msg, 1000)
        assert d.result == ul.OPENED and d.device == PHONE and d.call_id == _CID and d.counter == 1
        assert u.state.last == {PHONE: 1} and u.fails == 0
        # the captured stanza again, same call: the ratchet has consumed its message key
        _refused_unchanged(u, door, msg, "bad_message", 2000)
        # a later request opens again, its counter higher
        d = _attempt(u, _stanza(*_request(phone, 2)), 3000)
        assert d.result == ul.OPENED and u.state.last == {PHONE: 2}
    finally:
        _cleanup()


def test_refusals_before_authentication_change_nothing():
    _cleanup()
    try:
        door, phone = answered_pair()
        u = _unlocker(door)
        enc_type, ct = _request(phone, 1)
        msg = _stanza(enc_type, ct)
        _refused_unchanged(_unlocker(door, verifier=None), door, msg, "not_set_up")
        # "unlock set up" is checked first (10.3 step 1), then the engine's verdict on who may
        # ask and when (steps 2-4: test_engine_unlock), which is the reply's reason as it is
        _refused_unchanged(_unlocker(door, verifier=None), door, msg, "not_set_up",
                           refused="no_call")
        for why in ("no_call", "not_answerer", "wrong_call"):
            _refused_unchanged(u, door, msg, why, refused=why)
        # the switchboard's forgeries: a flipped byte, random bytes, a truncated message
        flipped = bytearray(ct)
        flipped[len(flipped) // 2] ^= 1
        for forged in (bytes(flipped), os.urandom(len(ct)), ct[:-1], b""):
            _refused_unchanged(u, door, _stanza(enc_type, forged), "bad_message")
        _refused_unchanged(u, door, _stanza("pkmsg", ct), "bad_message")
        _refused_unchanged(u, door, _stanza(enc_type, b"\x33" * 2049), "bad_message")
        # the genuine message still opens afterwards: nothing above consumed it
        assert _attempt(u, msg, 0).result == ul.OPENED
    finally:
        _cleanup()


def test_replays_across_calls_and_old_counters_are_refused():
    _cleanup()
    try:
        door, phone = answered_pair()
        u = _unlocker(door)
        withheld = _request(phone, 1)  # made in call 1, kept back by the switchboard
        assert _attempt(u, _stanza(*_request(phone, 2)), 0).result == ul.OPENED
        # call 2: the withheld message decrypts (a skipped key) but names call 1 -> refused,
        # and the key stays unconsumed (the store is untouched)
        _refused_unchanged(u, door, _stanza(withheld[0], withheld[1], call_id=_CID2),
                           "wrong_call")
        # in call 2 with its own (call 1) call-id attribute: the engine refuses it, so it is
        # never decrypted
        _refused_unchanged(u, door, _stanza(*withheld), "wrong_call", refused="wrong_call")
        # and in call 1 itself its counter (1) is no longer above the last accepted (2)
        _refused_unchanged(u, door, _stanza(*withheld), "replayed")
        # a fresh message repeating an old counter (a phone whose counter was rolled back)
        _refused_unchanged(u, door, _stanza(*_request(phone, 2)), "replayed")
        # the counter outlives a restart
        u2 = _unlocker(door)
        _refused_unchanged(u2, door, _stanza(*_request(phone, 2)), "replayed")
        assert _attempt(u2, _stanza(*_request(phone, 3)), 0).result == ul.OPENED
    finally:
        _cleanup()


def test_a_request_withheld_on_the_way_is_stale():
    # The phone saw the call answered 300 ms after the door did (its <transport> on the way)
    # and made the request 4 s later. Delivered at once it opens; withheld 15 s by the
    # switchboard, it is refused before anything changes, and stays refused later.
    _cleanup()
    try:
        door, phone = answered_pair()
        u = _unlocker(door)
        late = _stanza(*_request(phone, 1, age_ms=4000))
        _refused_unchanged(u, door, late, "stale", 10000 + 300 + 4000 + 15000, 10000)
        _refused_unchanged(u, door, late, "stale", 10000 + 300 + 4000 + 60000, 10000)
        # the same message, delivered within the bound (it was never consumed): opens
        d = _attempt(u, late, 10000 + 300 + 4000 + ul.FRESH_MS - 400, 10000)
        assert d.result == ul.OPENED and u.state.last == {PHONE: 1}
        # just past the bound: stale; a request stamped ahead of the door's clock (drift): fresh
        _refused_unchanged(u, door, _stanza(*_request(phone, 2, age_ms=4000)), "stale",
                           10000 + 4000 + ul.FRESH_MS + 1, 10000)
        assert _attempt(u, _stanza(*_request(phone, 3, age_ms=9000)), 18000, 10000).result == ul.OPENED
        # the engine times the answer with ticks_diff: an answer just before the counter wraps
        answered = time.ticks_add(0, -1000)
        on_time = _stanza(*_request(phone, 4, age_ms=2000))
        assert _attempt(u, on_time, time.ticks_add(answered, 2500), answered).result == ul.OPENED
    finally:
        _cleanup()


def test_other_household_device_cannot_unlock():
    _cleanup()
    try:
        door, anna = answered_pair()
        ben = MemoryStore()  # rung too, but Anna answered
        keys.generate_identity(ben)
        keys.generate_prekeys(door, 8, 1)
        start_session(ben, DOOR, keys.bundle(door, 1, 8))
        u = _unlocker(door)
        bens = _request(ben, 1)
        # Ben's own stanza is the engine's to refuse (not_answerer: test_engine_unlock);
        # the switchboard relabels Ben's stanza as Anna's: Anna's session does not open it
        _refused_unchanged(u, door, _stanza(*bens, frm=PHONE), "bad_message")
        assert session.load_record(door, BEN) == []  # no session was set up for Ben either
    finally:
        _cleanup()


def test_wrong_pins_lock_out_with_growing_delays_that_survive_a_restart():
    _cleanup()
    try:
        door, phone = answered_pair()
        u = _unlocker(door)
        n = [0]

        def attempt(pin, now):
            n[0] += 1
            return _attempt(u, _stanza(*_request(phone, n[0], pin)), now)

        for i in (1, 2):
            d = attempt("1111", i * 1000)
            assert d.result == ul.WRONG_PIN and d.retry_after_s is None and u.fails == i
        d = attempt("1111", 3000)  # the third wrong PIN: 30 s
        assert d.result == ul.WRONG_PIN and d.retry_after_s == 30 and u.fails == 3
        # the right PIN during the lockout is not even checked; the message is consumed
        d = attempt(_PIN, 13000)
        assert d.result == ul.LOCKED_OUT and d.retry_after_s == 20 and u.fails == 3
        assert u.state.last == {PHONE: 4}
        d = attempt("9999", 32999)
        assert d.result == ul.LOCKED_OUT and d.retry_after_s == 1
        d = attempt("9999", 33000)  # the lockout is over: heard, wrong again: 60 s
        assert d.result == ul.WRONG_PIN and d.retry_after_s == 60 and u.fails == 4
        # a restart (a new Unlocker from the file) re-arms the whole 60 s from its start
        u = _unlocker(door, now=500000)
        assert u.fails == 4 and u.locked_ms(500000) == 60000
        d = attempt(_PIN, 559999)
        assert d.result == ul.LOCKED_OUT and d.retry_after_s == 1
        d = attempt(_PIN, 560000)
        assert d.result == ul.OPENED and u.fails == 0
        assert _unlocker(door, now=0).locked_ms(0) == 0  # the reset is on file
    finally:
        _cleanup()


def test_lockout_timing_wraps_with_ticks():
    _cleanup()
    try:
        door, phone = answered_pair()
        u = _unlocker(door)
        u.state.fails = 2
        start = time.ticks_add(0, -5000)  # 5 s before the counter wraps
        d = _attempt(u, _stanza(*_request(phone, 1, "1111")), start)
        assert d.retry_after_s == 30
        assert u.locked_ms(time.ticks_add(start, 29000)) == 1000
        assert u.locked_ms(time.ticks_add(start, 30000)) == 0
    finally:
        _cleanup()


def test_state_file_bounds_and_corruption():
    _cleanup()
    try:
        for bad in (b"[]", b"{", b'{"v": 2}', b'{"v": 1, "fails": -1}', b'{"v": 1, "fails": true}',
                    b'{"v": 1, "last": {"a": "1"}}', b'{"v": 1, "last": []}'):
            with open(_STATE, "wb") as f:
                f.write(bad)
            assert_raises(ul.UnlockError, ul.State, _STATE)
        with open(_STATE, "wb") as f:
            for _ in range(5):
                f.write(b" " * 1000)
        assert_raises(OSError, ul.State, _STATE)
        _cleanup()
        s = ul.State(_STATE)
        assert (s.fails, s.last, s.sent) == (0, {}, 0)
        assert ul.next_counter(s) == 1 and ul.next_counter(ul.State(_STATE)) == 2
        assert ul.State(_STATE).sent == 2
    finally:
        _cleanup()
