"""The relay against bind floods (issue 14): bind datagrams from one address are rate-limited
before any HMAC is computed, one leg key cannot move its binding from hundreds of ports (each
move was a database write), and the in-process relay's database writes run in a thread of their
own, batched, never in the event loop (portier_host.relaystore)."""

import os
import threading

from test_relay import NOW, SECRET, _bind, _bound, _tokens

from portier_host import relay, relaystore
from portier_host.relay import RelayCore
from portier_host.switchboard_db import Database
from portier.wire import relaybind

ANNA = "anna:2@home"


class _CountingStore:
    def __init__(self):
        self.saves = 0

    def relay_legs(self):
        return []

    def save_relay_leg(self, *args):
        self.saves += 1

    def forget_relay_call(self, handle):
        pass


def test_a_bind_flood_from_one_address_is_cut_before_the_hmac(monkeypatch):
    core = RelayCore(SECRET)
    door, anna, _ = _tokens()
    binder = relaybind.Binder(door, ANNA)
    buf = bytearray(relaybind.BIND_LEN)
    n = binder.bind_into(buf)
    keys = []
    real = relay.leg_key
    monkeypatch.setattr(relay, "leg_key", lambda s, p: keys.append(1) or real(s, p))
    for i in range(1000):  # within one second, from one address (any port)
        core.datagram(bytes(buf[:n]), ("127.0.0.9", 20000 + i), NOW + i / 1000)
    rate, burst = relay.BIND_RATE
    assert len(keys) <= burst + rate + 1, len(keys)
    assert core.stats["dropped_bind_rate"] >= 1000 - burst - rate - 1
    # another address binds as ever meanwhile
    assert _bound(_bind(core, anna, ("127.0.0.1", 40002), NOW + 1))


def test_one_leg_key_cannot_churn_its_binding_from_many_ports():
    store = _CountingStore()
    core = RelayCore(SECRET, store)
    door, anna, _ = _tokens()
    binder = relaybind.Binder(door, ANNA)
    assert _bound(_bind(core, door, ("127.0.0.1", 40000), NOW, binder=binder))
    assert _bound(_bind(core, anna, ("127.0.0.1", 40002), NOW))
    assert store.saves == 2
    moved = 0
    for i in range(400):  # a new port every 0.2 s for 80 s: under the per-address bind rate
        now = NOW + 1 + i * 0.2
        moved += _bound(_bind(core, door, ("127.0.0.1", 41000 + i), now, binder=binder))
    rate, burst = relay.MOVE_RATE
    most = burst + rate * 80 + 1
    assert moved <= most and store.saves - 2 <= most, (moved, store.saves)
    assert core.stats["dropped_move_rate"] >= 400 - most
    assert core.stats["dropped_bind_rate"] == 0
    # the leg is still bound where its last accepted move put it, and media flows
    srtp = b"\x80\x00\x00\x07" + os.urandom(40)
    assert core.datagram(srtp, ("127.0.0.1", 40002), NOW + 90)[0][0] == srtp


def test_the_relays_database_writes_leave_the_event_loop(tmp_path, monkeypatch):
    path = str(tmp_path / "sb.db")
    db = Database(path)
    threads = []
    real = Database.relay_writes

    def recording(self, ops):
        threads.append((threading.current_thread(), len(ops)))
        return real(self, ops)

    monkeypatch.setattr(Database, "relay_writes", recording)
    store = relaystore.WriteBehind(db, window_s=0.5)  # the binds below take milliseconds
    core = RelayCore(SECRET, store, NOW)
    for c in range(30):  # 30 calls set up, one a second from each of two addresses
        door, anna, _ = _tokens()
        assert _bound(_bind(core, door, ("127.0.0.1", 42000 + c), NOW + c, ANNA))
        assert _bound(_bind(core, anna, ("127.0.0.2", 42000 + c), NOW + c))
    store.close()
    assert threads and all(t is not threading.main_thread() for t, _ in threads), threads
    assert sum(n for _, n in threads) == 60 and len(threads) < 60  # batched
    assert store.commits == len(threads) and store.failures == 0
    assert len(db.relay_legs()) == 60  # all on disk, read through the loop's own connection
    assert RelayCore(SECRET, db, NOW + 1).stats["restored"] == 60
    db.close()


def test_the_switchboard_writes_relay_bindings_behind(tmp_path):
    import asyncio

    from portier_host.switchboard import Switchboard

    async def main():
        sb = Switchboard(str(tmp_path / "sb.db"), insecure=True)
        await sb.start("127.0.0.1", 0)
        try:
            assert isinstance(sb._relay_store, relaystore.WriteBehind)
            assert sb.relay.core._store is sb._relay_store
        finally:
            await sb.close()
    asyncio.run(main())
