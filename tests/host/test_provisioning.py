"""Provisioning: a household and its devices hold what the switchboard and a board need, on disk
and in the switchboard database, and a device's stored keys really answer a Signal session
started from the bundle the database hands out."""

import os
import shutil
import stat
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from portier_host import paths, pki, provisioning
from portier_host.switchboard_db import Database, DbError, split_jid

paths.use_firmware()
from portier.e2e import callkey, x3dh, xeddsa  # noqa: E402
from portier.e2e import keys as e2e_keys  # noqa: E402
from portier.e2e.stores import FileStore, MemoryStore  # noqa: E402

_TMP = []


def _folder():
    d = tempfile.mkdtemp(prefix="portier-prov-")
    _TMP.append(d)
    return d


def teardown_module():
    for d in _TMP:
        shutil.rmtree(d, ignore_errors=True)


def test_household_saves_and_loads():
    folder = os.path.join(_folder(), "hh")
    hh = provisioning.create_household("home", folder=folder)
    again = provisioning.load_household(folder)
    assert again.name == "home" and again.relay_secret == hh.relay_secret
    assert len(hh.relay_secret) == 32
    assert again.ca.cert_der() == hh.ca.cert_der() and again.server.cert_der() == hh.server.cert_der()
    for private in ("ca.key.pem", "server.key.pem", "relay.secret"):
        assert stat.S_IMODE(os.stat(os.path.join(folder, private)).st_mode) == 0o600
    # the server certificate chains to the household CA
    hh.ca.cert.public_key().verify(hh.server.cert.signature, hh.server.cert.tbs_certificate_bytes,
                                   ec.ECDSA(hh.server.cert.signature_hash_algorithm))


def test_bad_names_are_refused():
    for bad in ("", "a@b", "a:b"):
        try:
            provisioning.create_household(bad)
        except DbError:
            continue
        raise AssertionError("household %r accepted" % bad)
    hh = provisioning.create_household("home")
    for bad in ("household", "a@b", ""):
        try:
            provisioning.add_device(hh, bad)
        except (DbError, ValueError):
            continue
        raise AssertionError("device %r accepted" % bad)
    for jid in ("door@home", "door:x@home", ":1@home", "door:1@"):
        try:
            split_jid(jid)
        except DbError:
            continue
        raise AssertionError("%r read as a device JID" % jid)


def test_device_numbers_and_database_registration():
    db_path = os.path.join(_folder(), "sb.db")
    hh = provisioning.create_household("home")
    anna1 = provisioning.add_device(hh, "anna", db=db_path, prekeys=3)
    anna2 = provisioning.add_device(hh, "anna", db=db_path, prekeys=3)
    door = provisioning.add_device(hh, "door", db=db_path, prekeys=5)
    assert (anna1.jid, anna2.jid, door.jid) == ("anna:1@home", "anna:2@home", "door:1@home")
    try:
        provisioning.add_device(hh, "anna", db=db_path, number=2)
        raise AssertionError("a second anna:2@home")
    except DbError:
        pass
    db = Database(db_path)
    assert db.households() == ["home"] and db.accounts("home") == ["anna", "door"]
    assert db.devices("home") == ["anna:1@home", "anna:2@home", "door:1@home"]
    assert db.setting("relay_secret") == hh.relay_secret
    rec = db.device(door.jid)
    assert rec.household == "home" and rec.account == "door" and rec.number == 1
    assert rec.identity_key == door.store.identity()[1]
    assert rec.registration_id == door.store.identity()[2]
    assert (rec.signed_prekey_id, rec.signed_prekey, rec.signature) == \
        (1, door.store.signed_prekey(1)[1], door.store.signed_prekey(1)[2])
    assert xeddsa.verify(rec.identity_key, rec.signed_prekey, rec.signature)
    assert db.prekey_count(door.jid) == 5
    assert sorted(door.store.prekey_ids()) == [k for k, _ in door.prekeys] == [1, 2, 3, 4, 5]
    db.close()


def test_device_folder_holds_certificates_and_a_working_store():
    root = _folder()
    db_path = os.path.join(root, "sb.db")
    hh = provisioning.create_household("home")
    door = provisioning.add_device(hh, "door", db=db_path, folder=os.path.join(root, "door"),
                                   prekeys=2)
    assert door.store_path == os.path.join(root, "door", "keys")

    def read(name):
        with open(os.path.join(root, "door", name), "rb") as f:
            return f.read()

    assert read("jid") == b"door:1@home"
    assert read("cert.der") == door.cert_der and read("key.der") == door.key_der
    assert read("ca.der") == hh.ca.cert_der() == door.ca_der
    assert read("cert.pem") == door.cert_pem and read("ca.pem") == door.ca_pem
    assert stat.S_IMODE(os.stat(os.path.join(root, "door", "key.der")).st_mode) == 0o600
    cert = x509.load_der_x509_certificate(door.cert_der)
    assert pki.device_jid(cert) == "door:1@home"
    hh.ca.cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                   ec.ECDSA(cert.signature_hash_algorithm))

    # a phone starts a session from the bundle the database hands out; the door, with its
    # store reopened from disk, opens the wrapped call key
    db = Database(db_path)
    rec = db.device(door.jid)
    key_id, public = db.take_prekey(door.jid)
    bundle = e2e_keys.Bundle(rec.registration_id, rec.identity_key, rec.signed_prekey_id,
                             rec.signed_prekey, rec.signature, key_id, public)
    phone = MemoryStore()
    e2e_keys.generate_identity(phone)
    x3dh.initiate(phone, door.jid, e2e_keys.Bundle.decode(bundle.encode()))
    call_key = callkey.new_call_key()
    enc_type, ciphertext = callkey.wrap(phone, door.jid, call_key)
    assert enc_type == "pkmsg"
    reopened = FileStore(door.store_path)
    assert callkey.unwrap(reopened, "anna:1@home", enc_type, ciphertext) == call_key
    assert key_id not in reopened.prekey_ids()  # the one-time prekey is used up on the device too
    assert db.prekey_count(door.jid) == 1
    db.close()


def test_memory_store_device_without_database():
    hh = provisioning.create_household("flat")
    dev = provisioning.add_device(hh, "bell", prekeys=1)
    assert dev.jid == "bell:1@flat" and dev.store_path is None and dev.folder is None
    assert dev.bundle.identity_key == dev.store.identity()[1] and dev.bundle.prekey is None
    assert dev.prekeys == [(1, dev.store.prekey(1)[1])]


def test_prekeys_are_capped_at_100_newest():
    db = Database(":memory:")
    db.add_household("home")
    db.add_device("door:1@home", 1, b"\x05" + b"\x01" * 32, 1, b"\x05" + b"\x02" * 32, b"s" * 64,
                  [(i, b"\x05" + bytes([i % 256]) * 32) for i in range(1, 91)])
    db.add_prekeys("door:1@home", [(i, b"\x05" + bytes([i % 256]) * 32) for i in range(91, 121)])
    assert db.prekey_count("door:1@home") == 100
    first = db.take_prekey("door:1@home")
    assert first[0] == 21  # 1..20 (the oldest) were dropped
    try:
        db.add_device("x:1@nowhere", 1, b"", 1, b"", b"")
        raise AssertionError("device of an unknown household")
    except DbError:
        pass
