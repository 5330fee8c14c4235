# Support for tests/host/test_appunlock_mem.py (not a core test module: the Signal layer of two
# devices, the unlock modules and the call stanzas together need more than the core suite's
# 128 KiB heap, so the host test runs check() in a fresh process per runtime with more).
#
# The door's unlock part (portier.appunlock.DoorUnlock) keeps only what it needs between
# unlocks: after each <unlock>, the Signal code the decryption loaded, the secrets module and
# the door log modules are gone from sys.modules (an unlock comes mid-call, on top of the media
# stack), while the decision, the strike, the door log file and the reply are those of a door
# that kept them, and the next unlock loads them afresh and works. On MicroPython the heap the unlock took returns.
import gc
import json
import sys

import asyncio
from coretest import ON_MICROPYTHON, remove_file, unhex
from e2epair import DOOR, PHONE, answered_pair
from portier import appmem, appunlock
from portier import unlock as ul
from portier.e2e import session
from portier.hal.board import Board

_STATE = "_test_appunlock_state.json"
_LOG = "_test_appunlock_log.json"
_SECRETS = "_test_appunlock_secrets.json"
_SALT = "000102030405060708090a0b0c0d0e0f"
# HMAC-SHA256(key=00..0f, "2468"), computed with CPython's hmac module (as in test_unlock)
_VERIFIER = "6dd7352d7f5f0d4ff8d506370430dc292018f15191d626857336a8ebbb6a8036"
_CID = "5D1C0A9B8E7F6A5B4C3D2E1F00112233"
_DROPPED = ("portier.e2e.session", "portier.e2e.ratchet", "portier.e2e.stores", "portier.secrets",
            "portier.doorlog", "portier.jsonlog")


class _Obj:
    def __init__(self, **kw):
        for k in kw:
            setattr(self, k, kw[k])


class _Link:
    def __init__(self):
        self.sent = []

    def wall_time(self, now_ms):
        return 1800000000

    async def send(self, node):
        self.sent.append(node)
        return True


class _Hal(Board):
    has_strike = True

    def __init__(self):
        self.pulses = []

    def open_door(self, pulse_ms, now_ms):
        self.pulses.append(pulse_ms)


class _App:
    """What appunlock uses of portier.app.App, the door's store a factory as there."""

    def __init__(self, door_store):
        self.cfg = _Obj(profile="door", secrets_path=_SECRETS, unlock_state=_STATE, door_log=_LOG,
                        door_log_max=5, unlock_pulse_ms=1000)
        self.hal = _Hal()
        self.link = _Link()
        self._door_store = door_store
        self.lines = []

    @property
    def store(self):
        return self._door_store

    def log(self, lvl, src, msg, **fields):
        self.lines.append((msg, fields))

    def shed(self, moment):  # as App.shed: what portier.appmem's table says goes then
        appmem.shed(moment, True)


def _unlock(phone, counter):
    """The engine's event for an <unlock> from the answerer of the door's call, admitted (age 0,
    so within FRESH_MS of the answer)."""
    enc_type, ct = session.encrypt(phone, DOOR, ul.encode_request(_CID, counter, "2468", 0))
    msg = _Obj(action="unlock", call_id=_CID, call_creator=DOOR, to=DOOR, frm=PHONE,
               enc=_Obj(type=enc_type, ciphertext=ct), stanza_id="S%d" % counter)
    return _Obj(kind="unlock", call_id=_CID, peer=PHONE, reason=None, stanza=msg,
                answered_for_ms=0)


def _live():
    gc.collect()
    return gc.mem_alloc() if ON_MICROPYTHON else 0


def _cleanup():
    for f in (_STATE, _LOG, _SECRETS):
        remove_file(f)


def check():
    """Two right-PIN unlocks through the door's unlock part; returns the heap the second one left
    (0 off MicroPython)."""
    _cleanup()
    with open(_SECRETS, "w") as f:
        f.write(json.dumps({"unlock_pin": {"salt": _SALT, "hmac": _VERIFIER}}))
    try:
        door, phone = answered_pair()
        app = _App(door)
        part = appunlock.DoorUnlock(app)
        assert len(unhex(_VERIFIER)) == 32
        msg = _unlock(phone, 1)
        asyncio.run(part.on_unlock(msg))
        assert app.hal.pulses == [1000], app.lines
        for name in _DROPPED:
            assert name not in sys.modules, name
        assert part.unlocker is not None
        before = _live()
        msg = _unlock(phone, 2)
        asyncio.run(part.on_unlock(msg))
        msg = None
        grown = _live() - before
        assert app.hal.pulses == [1000, 1000], app.lines
        for name in _DROPPED:
            assert name not in sys.modules, name
        with open(_LOG) as f:
            entries = json.loads(f.read())["entries"]
        assert [(e["event"], e["result"], e["peer"]) for e in entries] == [
            ("unlocked", "opened", PHONE), ("unlocked", "opened", PHONE)]
        assert [n.content[0].attrs["result"] for n in app.link.sent] == ["opened", "opened"]
        assert ul.State(_STATE).last == {PHONE: 2}
        assert not [line for line in app.lines if line[0] in ("door log unreadable",
                                                              "door log not written")]
        return grown
    finally:
        _cleanup()
