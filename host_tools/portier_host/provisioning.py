"""Provisioning: make a household and its devices. `portier provision` and the simulator both call
these functions, so simulated parties hold exactly what a provisioned board holds.

    hh = create_household("home", folder=None)          # switchboard CA, server cert, relay secret
    register_household(db, hh)                           # db: a switchboard_db.Database or a path
    door = add_device(hh, "door", db=db, folder=path)    # jid "door:1@home", cert, Signal keys
    door.jid, door.cert_der, door.key_der, door.ca_der, door.store, door.store_path

A device gets: its JID `name:N@household` (N = the account's next device number), a TLS client
certificate with the JID as common name (portier_host.pki), and a Signal identity, a signed
prekey (XEdDSA-signed here, on the host: the board has no SHA-512 to spare) and one-time
prekeys in a portier.e2e Store (a FileStore under the device's folder, else a MemoryStore). The
public halves are registered in the switchboard database, which hands them out as bundles.
"""

import os
import ssl
import tempfile

from . import paths, pki
from .switchboard_db import Database, DbError, split_jid  # noqa: F401 (DbError: interface)

paths.use_firmware()
from portier.e2e import keys as e2e_keys  # noqa: E402
from portier.e2e import stores  # noqa: E402

RELAY_SECRET_LEN = 32
DEFAULT_PREKEYS = 20
SIGNED_PREKEY_ID = 1
_SERVER_HOSTS = ("localhost", "127.0.0.1", "::1")


def write_atomic(path, data, private=False):
    """data at path by rename (a failure leaves the old file); private: mode 0600."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _open_db(db):
    return (Database(db), True) if isinstance(db, str) else (db, False)


def _tmp_pem(data):
    fd, path = tempfile.mkstemp(suffix=".pem", prefix="portier-")
    os.write(fd, data)
    os.close(fd)
    return path


def _load_chain(ctx, identity):
    # ssl only loads keys from files: a private temporary file, removed at once
    cert, key = _tmp_pem(identity.cert_pem()), _tmp_pem(identity.key_pem())
    try:
        ctx.load_cert_chain(cert, key)
    finally:
        os.remove(cert)
        os.remove(key)


class Household:
    """The household's switchboard CA, the switchboard's server identity and the relay secret."""

    def __init__(self, name, ca, server, relay_secret, folder=None):
        self.name = name
        self.ca = ca
        self.server = server
        self.relay_secret = relay_secret
        self.folder = folder

    def ca_pem(self):
        return self.ca.cert_pem()

    def ca_der(self):
        return self.ca.cert_der()

    def server_ssl_context(self):
        """The switchboard's TLS context: its server certificate, client certificates required
        and verified against this household's CA (mutual authentication, section 8.2)."""
        return server_ssl_context(self.ca.cert_pem(), self.server)

    def save(self, folder):
        os.makedirs(folder, exist_ok=True)
        write_atomic(os.path.join(folder, "household"), self.name.encode())
        write_atomic(os.path.join(folder, "ca.pem"), self.ca.cert_pem())
        write_atomic(os.path.join(folder, "ca.der"), self.ca.cert_der())
        write_atomic(os.path.join(folder, "ca.key.pem"), self.ca.key_pem(), private=True)
        write_atomic(os.path.join(folder, "server.pem"), self.server.cert_pem())
        write_atomic(os.path.join(folder, "server.key.pem"), self.server.key_pem(), private=True)
        write_atomic(os.path.join(folder, "relay.secret"), self.relay_secret, private=True)
        self.folder = folder


def server_ssl_context(ca_pem, server):
    """A TLS server context that demands a client certificate issued by ca_pem."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(ctx, server)
    ctx.load_verify_locations(cadata=ca_pem.decode())
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def create_household(name, folder=None, hosts=_SERVER_HOSTS):
    """A new household: CA, server certificate for `hosts`, relay secret; saved under folder
    (created) when given."""
    if not name or "@" in name or ":" in name or len(name) > 40:
        raise DbError("bad household name %r" % (name,))
    ca = pki.new_ca("Portier %s switchboard CA" % name)
    hh = Household(name, ca, pki.issue_server(ca, tuple(hosts)), os.urandom(RELAY_SECRET_LEN))
    if folder is not None:
        hh.save(folder)
    return hh


def load_household(folder):
    """A household saved by create_household(folder=...)."""
    p = lambda n: os.path.join(folder, n)  # noqa: E731
    ca = pki.Identity.from_pem(_read(p("ca.key.pem")), _read(p("ca.pem")))
    server = pki.Identity.from_pem(_read(p("server.key.pem")), _read(p("server.pem")))
    return Household(_read(p("household")).decode(), ca, server, _read(p("relay.secret")), folder)


def register_household(db, household):
    """Enter the household in the switchboard database; the database keeps the first relay
    secret it is given (one relay serves every household of a switchboard)."""
    db, own = _open_db(db)
    try:
        db.add_household(household.name, household.ca_der())  # bound to its CA (DbError: another's)
        if db.setting("relay_secret") is None:
            db.set_setting("relay_secret", household.relay_secret)
    finally:
        if own:
            db.close()


class Device:
    """Everything a device needs: its JID, TLS identity, the CA to pin, and its key store."""

    def __init__(self, jid, identity, ca, store, store_path, bundle, prekeys, folder):
        self.jid = jid
        self.identity = identity
        self.cert_der = identity.cert_der()
        self.key_der = identity.key_der()
        self.cert_pem = identity.cert_pem()
        self.key_pem = identity.key_pem()
        self.ca_der = ca.cert_der()
        self.ca_pem = ca.cert_pem()
        self.store = store
        self.store_path = store_path
        self.bundle = bundle  # portier.e2e.keys.Bundle without a one-time prekey
        self.prekeys = prekeys  # [(key_id, public 33)] registered with the switchboard
        self.folder = folder

    def client_ssl_context(self):
        """A CPython TLS client context for this device (phones, tests)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_verify_locations(cadata=self.ca_pem.decode())
        _load_chain(ctx, self.identity)
        return ctx


def add_device(household, name, db=None, folder=None, number=None, prekeys=DEFAULT_PREKEYS,
               first_prekey_id=1):
    """Provision device `name:N@household`: N is `number`, else the account's next free number
    in db (1 without a db). With folder, the certificate, key and CA go there as DER and PEM
    and the Signal store is a FileStore in folder/keys; else a MemoryStore. With db (a
    Database or a path), the device and its public bundle material are registered."""
    database, own = (None, False) if db is None else _open_db(db)
    try:
        if number is None:
            number = 1 if database is None else database.next_device_number(household.name, name)
        jid = "%s:%d@%s" % (name, number, household.name)
        split_jid(jid)
        if database is not None and database.device(jid) is not None:
            raise DbError("device %s exists" % jid)
        identity = pki.issue_device(household.ca, jid)
        store_path = None
        if folder is None:
            store = stores.MemoryStore()
        else:
            os.makedirs(folder, exist_ok=True)
            store_path = os.path.join(folder, "keys")
            store = stores.FileStore(store_path)
        e2e_keys.generate_identity(store)
        e2e_keys.generate_signed_prekey(store, SIGNED_PREKEY_ID)
        one_time = e2e_keys.generate_prekeys(store, first_prekey_id, prekeys)
        bundle = e2e_keys.bundle(store, SIGNED_PREKEY_ID)
        if folder is not None:
            write_atomic(os.path.join(folder, "jid"), jid.encode())
            write_atomic(os.path.join(folder, "cert.der"), identity.cert_der())
            write_atomic(os.path.join(folder, "cert.pem"), identity.cert_pem())
            write_atomic(os.path.join(folder, "key.der"), identity.key_der(), private=True)
            write_atomic(os.path.join(folder, "key.pem"), identity.key_pem(), private=True)
            write_atomic(os.path.join(folder, "ca.der"), household.ca.cert_der())
            write_atomic(os.path.join(folder, "ca.pem"), household.ca.cert_pem())
        if database is not None:
            register_household(database, household)
            database.add_device(jid, bundle.registration_id, bundle.identity_key,
                                bundle.signed_prekey_id, bundle.signed_prekey, bundle.signature,
                                one_time)
        return Device(jid, identity, household.ca, store, store_path, bundle, one_time, folder)
    finally:
        if own:
            database.close()
