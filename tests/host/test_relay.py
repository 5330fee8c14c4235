"""The media relay: binding by token, forwarding between the two legs, dropping the rest."""

import asyncio
import os
import socket
import subprocess
import sys

from portier_host import relay
from portier_host.relay import RelayCore, check_token, mint_token
from portier.wire import relaybind

SECRET = b"s" * 32
NOW = 1_800_000_000
A = ("127.0.0.1", 40000)
B = ("127.0.0.1", 40002)
MALLORY = ("127.0.0.1", 40666)


def _bind(pid, token):
    return relaybind.build(relaybind.TYPE_BIND, pid, token)


def _bound_pair():
    core = RelayCore(SECRET)
    token = mint_token(SECRET, 600, NOW)
    assert core.datagram(_bind(1, token), A, NOW) == [(relaybind.build(2, 1, token), A)]
    assert core.datagram(_bind(2, token), B, NOW) == [(relaybind.build(2, 2, token), B)]
    return core, token


def test_token_mac_and_expiry():
    token = mint_token(SECRET, 60, NOW, handle=b"h" * 8)
    assert len(token) == relaybind.TOKEN_LEN
    assert check_token(SECRET, token, NOW + 60) == b"h" * 8
    assert check_token(SECRET, token, NOW + 61) is None
    assert check_token(b"other secret", token, NOW) is None
    for i in range(len(token)):
        forged = bytearray(token)
        forged[i] ^= 1
        assert check_token(SECRET, bytes(forged), NOW) is None


def test_forwards_between_legs_both_ways():
    core, _ = _bound_pair()
    srtp = b"\x80\x00\x00\x01" + os.urandom(40)
    assert core.datagram(srtp, A, NOW) == [(srtp, B)]
    assert core.datagram(srtp[::-1], B, NOW) == [(srtp[::-1], A)]
    assert core.stats["forwarded"] == 2


def test_drops_unbound_forged_and_lonely():
    core = RelayCore(SECRET)
    token = mint_token(SECRET, 600, NOW)
    assert core.datagram(b"\x80" + bytes(30), MALLORY, NOW) == []
    assert core.stats["dropped_unbound"] == 1
    forged = mint_token(b"guess", 600, NOW)
    assert core.datagram(_bind(1, forged), MALLORY, NOW) == []
    expired = mint_token(SECRET, 10, NOW - 100)
    assert core.datagram(_bind(1, expired), MALLORY, NOW) == []
    # a client may not claim to be the relay's answer
    assert core.datagram(relaybind.build(relaybind.TYPE_BOUND, 1, token), MALLORY, NOW) == []
    assert core.datagram(b"PR\x01garbage", MALLORY, NOW) == []
    assert core.stats["dropped_bad_bind"] == 4
    # one leg bound, its peer not yet: nothing to forward to
    core.datagram(_bind(1, token), A, NOW)
    assert core.datagram(b"\x80" + bytes(30), A, NOW) == []
    assert core.stats["dropped_no_peer"] == 1
    assert core.datagram(b"\x80" + bytes(2000), A, NOW) == []
    assert core.stats["dropped_oversize"] == 1


def test_calls_are_separate():
    core, _ = _bound_pair()
    other = mint_token(SECRET, 600, NOW)
    c, d = ("127.0.0.1", 50000), ("127.0.0.1", 50002)
    core.datagram(_bind(1, other), c, NOW)
    core.datagram(_bind(2, other), d, NOW)
    assert core.datagram(b"\x80x", c, NOW) == [(b"\x80x", d)]
    assert core.datagram(b"\x80y", A, NOW) == [(b"\x80y", B)]
    assert core.calls() == 2


def test_rebinding_follows_a_moved_party():
    core, token = _bound_pair()
    moved = ("127.0.0.1", 40100)
    core.datagram(_bind(1, token), moved, NOW + 5)
    assert core.datagram(b"\x80z", B, NOW + 5) == [(b"\x80z", moved)]
    assert core.datagram(b"\x80z", A, NOW + 5) == []  # the old address is no longer bound


def test_idle_and_expired_calls_are_unbound():
    core, token = _bound_pair()
    assert core.expire(NOW + relay.IDLE_TIMEOUT_S) == 0
    assert core.expire(NOW + relay.IDLE_TIMEOUT_S + 1) == 1
    assert core.datagram(b"\x80", A, NOW + 100) == []
    core2, _ = _bound_pair()
    for t in range(NOW, NOW + 700, 30):  # busy call, but the token's lifetime ends
        core2.datagram(b"\x80", A, t)
    assert core2.expire(NOW + 601) == 1


def test_an_address_reused_by_a_new_call_belongs_to_it_after_a_restart(tmp_path):
    from portier_host.switchboard_db import Database

    db = Database(str(tmp_path / "sb.db"))
    core = RelayCore(SECRET, db, NOW)
    old, new = mint_token(SECRET, 600, NOW), mint_token(SECRET, 600, NOW + 10)
    core.datagram(_bind(1, old), A, NOW)
    core.datagram(_bind(2, old), B, NOW)
    C = ("127.0.0.1", 40004)
    core.datagram(_bind(1, new), A, NOW + 10)  # A's port, given out again for a new call
    core.datagram(_bind(2, new), C, NOW + 10)
    again = RelayCore(SECRET, db, NOW + 20)  # restarted: A is the new call's, whatever the order
    assert again.datagram(b"\x80a", A, NOW + 21) == [(b"\x80a", C)]
    assert again.datagram(b"\x80b", B, NOW + 21) == []
    db.close()


def test_an_address_reused_by_a_new_call_stays_bound_when_the_old_call_ends():
    core, _ = _bound_pair()  # A and B talk in the first call
    token2 = mint_token(SECRET, 600, NOW + 10)
    C = ("127.0.0.1", 40004)
    core.datagram(_bind(1, token2), A, NOW + 10)  # A's port, given out again for a new call
    core.datagram(_bind(2, token2), C, NOW + 10)
    assert core.datagram(b"\x80b", B, NOW + 10) == []  # the old peer no longer reaches A
    for t in range(NOW + 10, NOW + 100, 20):  # the new call is busy, the old one goes quiet
        assert core.datagram(b"\x80a", A, t) == [(b"\x80a", C)]
        core.datagram(b"\x80c", C, t)
    assert core.expire(NOW + 100) == 1  # the old call
    assert core.datagram(b"\x80a", A, NOW + 100) == [(b"\x80a", C)]
    assert core.datagram(b"\x80b", B, NOW + 100) == []


def test_bindings_outlive_a_restart_through_the_database(tmp_path):
    from portier_host.switchboard_db import Database

    db = Database(str(tmp_path / "sb.db"))
    core = RelayCore(SECRET, db, NOW)
    token = mint_token(SECRET, 600, NOW)
    core.datagram(_bind(1, token), A, NOW)
    core.datagram(_bind(2, token), B, NOW)
    for t in (NOW + 10, NOW + 20):  # keepalive binds from the same address: no new row
        core.datagram(_bind(1, token), A, t)
    assert len(db.relay_legs()) == 2
    db.close()

    db = Database(str(tmp_path / "sb.db"))  # the switchboard restarted
    again = RelayCore(SECRET, db, NOW + 30)
    assert again.stats["restored"] == 2 and again.calls() == 1
    srtp = b"\x80\x00\x00\x07" + os.urandom(40)
    assert again.datagram(srtp, A, NOW + 31) == [(srtp, B)]  # no bind needed first
    assert again.datagram(srtp, B, NOW + 31) == [(srtp, A)]
    moved = ("127.0.0.1", 40100)
    again.datagram(_bind(1, token), moved, NOW + 32)  # a moved party is written down too
    assert sorted((p, (h, port)) for _, p, h, port, _ in db.relay_legs()) == [(1, moved), (2, B)]
    assert again.expire(NOW + 32 + relay.IDLE_TIMEOUT_S + 1) == 1
    assert db.relay_legs() == []  # an unbound call is gone from the database as well
    assert RelayCore(SECRET, db, NOW + 200).calls() == 0
    db.close()


def test_expired_bindings_are_not_restored(tmp_path):
    from portier_host.switchboard_db import Database

    db = Database(str(tmp_path / "sb.db"))
    core = RelayCore(SECRET, db, NOW)
    token = mint_token(SECRET, 60, NOW)
    core.datagram(_bind(1, token), A, NOW)
    core.datagram(_bind(2, token), B, NOW)
    later = RelayCore(SECRET, db, NOW + 61)  # restarted after the token's expiry
    assert later.calls() == 0 and later.datagram(b"\x80", A, NOW + 61) == []
    assert db.relay_legs() == []
    db.close()


def test_udp_relay_on_loopback():
    async def run():
        r = await relay.Relay.start(SECRET)
        token = mint_token(SECRET, 600)
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        loop = asyncio.get_running_loop()
        try:
            for s in (a, b):
                s.bind(("127.0.0.1", 0))
                s.setblocking(False)
            for s, pid in ((a, 1), (b, 2)):
                s.sendto(_bind(pid, token), r.address)
                assert relaybind.parse(await loop.sock_recv(s, 64)) == (2, pid, token)
            for i in range(100):
                pkt = b"\x80\x00" + i.to_bytes(2, "big") + os.urandom(160)
                a.sendto(pkt, r.address)
                assert await asyncio.wait_for(loop.sock_recv(b, 2048), 2) == pkt
                b.sendto(pkt[::-1], r.address)
                assert await asyncio.wait_for(loop.sock_recv(a, 2048), 2) == pkt[::-1]
            assert r.core.stats["forwarded"] == 200
        finally:
            a.close()
            b.close()
            r.close()

    asyncio.run(run())


def test_cli_relay_starts_and_keeps_secret_private(tmp_path):
    secret_file = tmp_path / "relay.secret"
    cli = os.path.join(os.path.dirname(sys.executable), "portier")
    proc = subprocess.Popen([cli, "relay", "--port", "0", "--secret-file", str(secret_file)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("relay: listening on udp 127.0.0.1:")
        assert secret_file.stat().st_mode & 0o777 == 0o600
        assert len(secret_file.read_bytes()) == 32
    finally:
        proc.terminate()
        proc.wait(5)
