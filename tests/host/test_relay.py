"""The media relay: binding legs by their own tokens (with proof of the leg key, from the
address the relay sees), joining the caller's leg to the answered one only, dropping the rest."""

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
DOOR, ANNA, BEN = "door:1@home", "anna:2@home", "ben:3@home"


def _tokens(lifetime_s=600, now_s=NOW):
    """One call's leg tokens: the door calls anna (leg 2) and ben (leg 3)."""
    handle = os.urandom(8)
    return [mint_token(SECRET, lifetime_s, now_s, handle, leg, jid)
            for leg, jid in ((1, DOOR), (2, ANNA), (3, BEN))]


def _bind(core, token, addr, now, answerer=None, binder=None):
    """A party binds as the firmware does (portier.wire.relaybind.Binder): a first bind, the
    relay's address answer, a bind naming that address. Returns the relay's last answer."""
    binder = binder or relaybind.Binder(token, answerer)
    buf = bytearray(relaybind.BIND_LEN)
    out = []
    for _ in range(2):
        n = binder.bind_into(buf)
        out = core.datagram(bytes(buf[:n]), addr, now)
        if len(out) != 1 or out[0][1] != addr:
            return out
        got = binder.answer(bytearray(out[0][0]), len(out[0][0]))
        if got == relaybind.BOUND:
            return out
        assert got == relaybind.REBIND
    return out


def _bound(out):
    return len(out) == 1 and relaybind.parse(out[0][0])[0] == relaybind.TYPE_BOUND


def _bound_pair():
    core = RelayCore(SECRET)
    door, anna, ben = _tokens()
    assert _bound(_bind(core, door, A, NOW, ANNA))
    assert _bound(_bind(core, anna, B, NOW))
    return core, (door, anna, ben)


def test_token_mac_and_expiry():
    token = mint_token(SECRET, 60, NOW, handle=b"h" * 8, leg=2, device=ANNA)
    assert relaybind.split_public(token[:relaybind.PUBLIC_LEN]) == (
        b"h" * 8, 2, relaybind.device_tag(ANNA), NOW + 60)
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
    door, anna, _ = _tokens()
    assert core.datagram(b"\x80" + bytes(30), MALLORY, NOW) == []
    assert core.stats["dropped_unbound"] == 1
    forged = mint_token(b"guess", 600, NOW)
    assert _bind(core, forged, MALLORY, NOW, ANNA) == []
    expired = _tokens(10, NOW - 100)[0]
    assert _bind(core, expired, MALLORY, NOW, ANNA) == []
    # a leg key changed, or a public part changed under the right key
    assert _bind(core, door[:-1] + bytes([door[-1] ^ 1]), MALLORY, NOW, ANNA) == []
    other_leg = bytearray(door)
    other_leg[8] = 2
    assert _bind(core, bytes(other_leg), MALLORY, NOW) == []
    # a client may not claim to be the relay's answer
    bound = relaybind.build(door[17:], relaybind.TYPE_BOUND, door[:17], 1, bytes(6), bytes(4))
    assert core.datagram(bound, MALLORY, NOW) == []
    assert core.datagram(b"PR\x02garbage", MALLORY, NOW) == []
    # a caller's bind must name its answerer
    assert _bind(core, door, MALLORY, NOW) == []
    assert core.stats["dropped_bad_bind"] == 7 and core.calls() == 0
    # one leg bound, its peer not yet: nothing to forward to
    _bind(core, door, A, NOW, ANNA)
    assert core.datagram(b"\x80" + bytes(30), A, NOW) == []
    assert core.stats["dropped_no_peer"] == 1
    assert core.datagram(b"\x80" + bytes(2000), A, NOW) == []
    assert core.stats["dropped_oversize"] == 1


def test_calls_are_separate():
    core, _ = _bound_pair()
    door2, anna2, _ = _tokens()
    c, d = ("127.0.0.1", 50000), ("127.0.0.1", 50002)
    _bind(core, door2, c, NOW, ANNA)
    _bind(core, anna2, d, NOW)
    assert core.datagram(b"\x80x", c, NOW) == [(b"\x80x", d)]
    assert core.datagram(b"\x80y", A, NOW) == [(b"\x80y", B)]
    assert core.calls() == 2


def test_only_the_answered_leg_is_joined_to_the_caller():
    core = RelayCore(SECRET)
    door, anna, ben = _tokens()
    C = ("127.0.0.1", 40004)
    ben_binder = relaybind.Binder(ben)
    assert _bound(_bind(core, ben, C, NOW, binder=ben_binder))  # early, before any answer
    assert _bound(_bind(core, door, A, NOW, ANNA))  # the door names anna
    assert _bound(_bind(core, anna, B, NOW))
    assert core.datagram(b"\x80a", A, NOW) == [(b"\x80a", B)]
    assert core.datagram(b"\x80c", C, NOW) == []  # ben's leg reaches nobody
    assert core.datagram(b"\x80b", B, NOW) == [(b"\x80b", A)]
    # ben binds again, from anywhere: dropped once the call is answered by anna
    assert _bind(core, ben, MALLORY, NOW + 1, binder=ben_binder) == []
    assert _bind(core, ben, C, NOW + 1, binder=ben_binder) == []
    assert core.stats["dropped_not_answered"] == 2
    # ben's token names leg 3 whatever he writes: it cannot bind anna's leg
    assert core.datagram(b"\x80a", A, NOW + 1) == [(b"\x80a", B)]
    # the caller cannot be made to name someone else
    assert _bind(core, door, A, NOW + 2, BEN) == []
    assert core.datagram(b"\x80a", A, NOW + 2) == [(b"\x80a", B)]


def test_a_sniffed_bind_does_not_move_a_leg():
    core = RelayCore(SECRET)
    door, anna, _ = _tokens()
    _bind(core, door, A, NOW, ANNA)
    binder = relaybind.Binder(anna)
    _bind(core, anna, B, NOW, binder=binder)
    buf = bytearray(relaybind.BIND_LEN)
    n = binder.bind_into(buf)
    sniffed = bytes(buf[:n])
    assert _bound(core.datagram(sniffed, B, NOW + 1))  # anna's own keepalive
    # replayed from another address: the relay only says where it sees the sender
    out = core.datagram(sniffed, MALLORY, NOW + 2)
    assert [relaybind.parse(d)[0] for d, _ in out] == [relaybind.TYPE_ADDRESS]
    # replayed from anna's address (a spoofed source): her keepalive again, nothing moves
    assert _bound(core.datagram(sniffed, B, NOW + 3))
    # anna moves (a NAT rebinding); her old bind, replayed from her old address, is stale
    moved = ("127.0.0.1", 40100)
    assert _bound(_bind(core, anna, moved, NOW + 4, binder=binder))
    assert core.datagram(sniffed, B, NOW + 5) == []
    assert core.stats["dropped_stale_bind"] == 1
    assert core.datagram(b"\x80a", A, NOW + 5) == [(b"\x80a", moved)]


def test_idle_and_expired_calls_are_unbound():
    core, _ = _bound_pair()
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
    old, new = _tokens(), _tokens(600, NOW + 10)
    _bind(core, old[0], A, NOW, ANNA)
    _bind(core, old[1], B, NOW)
    C = ("127.0.0.1", 40004)
    _bind(core, new[0], A, NOW + 10, ANNA)  # A's port, given out again for a new call
    _bind(core, new[1], C, NOW + 10)
    again = RelayCore(SECRET, db, NOW + 20)  # restarted: A is the new call's, whatever the order
    assert again.datagram(b"\x80a", A, NOW + 21) == [(b"\x80a", C)]
    assert again.datagram(b"\x80b", B, NOW + 21) == []
    db.close()


def test_an_address_reused_by_a_new_call_stays_bound_when_the_old_call_ends():
    core, _ = _bound_pair()  # A and B talk in the first call
    token2 = _tokens(600, NOW + 10)
    C = ("127.0.0.1", 40004)
    _bind(core, token2[0], A, NOW + 10, ANNA)  # A's port, given out again for a new call
    _bind(core, token2[1], C, NOW + 10)
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
    door, anna, _ = _tokens()
    binder = relaybind.Binder(door, ANNA)
    _bind(core, door, A, NOW, binder=binder)
    _bind(core, anna, B, NOW)
    for t in (NOW + 10, NOW + 20):  # keepalive binds from the same address: no new row
        assert _bound(_bind(core, door, A, t, binder=binder))
    assert len(db.relay_legs()) == 2
    db.close()

    db = Database(str(tmp_path / "sb.db"))  # the switchboard restarted
    again = RelayCore(SECRET, db, NOW + 30)
    assert again.stats["restored"] == 2 and again.calls() == 1
    srtp = b"\x80\x00\x00\x07" + os.urandom(40)
    assert again.datagram(srtp, A, NOW + 31) == [(srtp, B)]  # no bind needed first
    assert again.datagram(srtp, B, NOW + 31) == [(srtp, A)]
    moved = ("127.0.0.1", 40100)
    assert _bound(_bind(again, door, moved, NOW + 32, binder=binder))  # a moved party: written
    assert sorted((p, (h, port)) for _, p, h, port, _, _ in db.relay_legs()) == [(1, moved), (2, B)]
    assert again.expire(NOW + 32 + relay.IDLE_TIMEOUT_S + 1) == 1
    assert db.relay_legs() == []  # an unbound call is gone from the database as well
    assert RelayCore(SECRET, db, NOW + 200).calls() == 0
    db.close()


def test_expired_bindings_are_not_restored(tmp_path):
    from portier_host.switchboard_db import Database

    db = Database(str(tmp_path / "sb.db"))
    core = RelayCore(SECRET, db, NOW)
    door, anna, _ = _tokens(60)
    _bind(core, door, A, NOW, ANNA)
    _bind(core, anna, B, NOW)
    later = RelayCore(SECRET, db, NOW + 61)  # restarted after the token's expiry
    assert later.calls() == 0 and later.datagram(b"\x80", A, NOW + 61) == []
    assert db.relay_legs() == []
    db.close()


def test_udp_relay_on_loopback():
    async def run():
        r = await relay.Relay.start(SECRET)
        tokens = _tokens(600, int(__import__("time").time()))
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        loop = asyncio.get_running_loop()
        try:
            for s in (a, b):
                s.bind(("127.0.0.1", 0))
                s.setblocking(False)
            for s, token, answerer in ((a, tokens[0], ANNA), (b, tokens[1], None)):
                binder = relaybind.Binder(token, answerer)
                buf = bytearray(relaybind.BIND_LEN)
                for want in (relaybind.REBIND, relaybind.BOUND):
                    s.sendto(buf[:binder.bind_into(buf)], r.address)
                    got = bytearray(await loop.sock_recv(s, 64))
                    assert binder.answer(got, len(got)) == want
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
