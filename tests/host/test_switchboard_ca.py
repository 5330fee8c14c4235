"""A JID's household is bound to the CA that signed its certificate (issue 14, item 9): a
switchboard that trusts two households' CAs lets each household's devices in with their own
certificates, but refuses a certificate one household's CA issued in the name of the other's
door. The binding is the household's CA certificate, stored by register_household."""

import asyncio
import ssl

import pytest
import test_switchboard as tsb
from sbclient import Client, Closed
from test_switchboard import DOOR

from portier_host import pki, provisioning
from portier_host.switchboard import Switchboard
from portier_host.switchboard_db import Database, DbError

EVE = "eve:1@away"


def setup_module():
    tsb.setup_module()


def teardown_module():
    tsb.teardown_module()


def _client_ctx(identity, server_ca_pem):
    """A client context with any identity (an attacker's too), trusting the given server CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=server_ca_pem.decode())
    provisioning._load_chain(ctx, identity)
    return ctx


def _run(body, db):
    hh, away = tsb._W["hh"], tsb._W["away"]

    async def main():
        both = provisioning.server_ssl_context(hh.ca_pem() + away.ca_pem(), hh.server)
        sb = Switchboard(db, ssl_context=both)
        await sb.start("127.0.0.1", 0)
        try:
            await asyncio.wait_for(body(sb), 20)
        finally:
            await sb.close()

    asyncio.run(main())


async def _hello(sb, identity, jid):
    """-> "ready" or the failure reason (None when TLS itself refused)."""
    c = Client(sb.address, _client_ctx(identity, tsb._W["hh"].ca_pem()))
    try:
        await c.connect()
        c.send(tsb.ls.hello(jid))
        got = await c.recv()
    except (Closed, ssl.SSLError, ConnectionError):
        return None
    finally:
        c.close()
    return "ready" if got.tag == "ready" else got.get("reason")


def test_another_households_ca_cannot_speak_for_our_door():
    hh, away = tsb._W["hh"], tsb._W["away"]
    forged = pki.issue_device(away.ca, DOOR)  # away's CA, home's door's name

    async def body(sb):
        assert await _hello(sb, forged, DOOR) == "auth"
        assert sb.connected() == []
        assert await _hello(sb, tsb._W["dev"][DOOR].identity, DOOR) == "ready"  # the real one
        assert await _hello(sb, tsb._W["eve"].identity, EVE) == "ready"  # away's own device
        assert sb.stats["refused"] == 1
    _run(body, tsb._fresh_db())


def test_an_unbound_household_is_refused_when_several_cas_are_trusted():
    db_path = tsb._fresh_db()
    db = Database(db_path)
    db._db.execute("UPDATE households SET ca = NULL WHERE name = 'home'")  # as before binding
    db.close()

    async def body(sb):
        assert await _hello(sb, tsb._W["dev"][DOOR].identity, DOOR) == "auth"
        assert await _hello(sb, tsb._W["eve"].identity, EVE) == "ready"
    _run(body, db_path)


def test_a_household_stays_bound_to_its_first_ca(tmp_path):
    db = Database(str(tmp_path / "sb.db"))
    hh = tsb._W["hh"]
    provisioning.register_household(db, hh)
    provisioning.register_household(db, hh)  # the same CA again: fine
    assert db.household_ca("home") == hh.ca_der()
    impostor = provisioning.create_household("home")
    with pytest.raises(DbError, match="another CA"):
        provisioning.register_household(db, impostor)
    assert db.household_ca("home") == hh.ca_der()
    db.close()
