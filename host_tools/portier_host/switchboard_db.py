"""The switchboard's database: households, accounts, devices and their public prekey material,
in SQLite at a file path (created on first use). Provisioning writes it, the switchboard reads
it and hands out one-time prekeys from it (docs/protocol.md section 8.5).

Only public keys live here: identity key, signed prekey and its signature, one-time prekeys.
The private halves stay in each device's own portier.e2e Store.
"""

import contextlib
import os
import sqlite3
import time

MAX_PREKEYS = 100  # one-time prekeys kept per device (section 8.5)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS households (name TEXT PRIMARY KEY, created INTEGER NOT NULL, ca BLOB);
CREATE TABLE IF NOT EXISTS accounts (
    household TEXT NOT NULL REFERENCES households(name),
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (household, name));
CREATE TABLE IF NOT EXISTS devices (
    jid TEXT PRIMARY KEY,
    household TEXT NOT NULL,
    account TEXT NOT NULL,
    number INTEGER NOT NULL,
    registration_id INTEGER NOT NULL,
    identity_key BLOB NOT NULL,
    signed_prekey_id INTEGER NOT NULL,
    signed_prekey BLOB NOT NULL,
    signature BLOB NOT NULL,
    created INTEGER NOT NULL,
    FOREIGN KEY (household, account) REFERENCES accounts(household, name));
CREATE TABLE IF NOT EXISTS prekeys (
    jid TEXT NOT NULL REFERENCES devices(jid),
    key_id INTEGER NOT NULL,
    public BLOB NOT NULL,
    added INTEGER NOT NULL,
    PRIMARY KEY (jid, key_id));
CREATE TABLE IF NOT EXISTS relay_legs (
    handle BLOB NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    tags BLOB,
    PRIMARY KEY (handle, pid));
CREATE TABLE IF NOT EXISTS revocations (
    door TEXT NOT NULL,
    device TEXT NOT NULL,
    blob BLOB NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (door, device));
"""


class DbError(ValueError):
    pass


class DeviceRecord:
    """A device's row: where it belongs and its public bundle material."""

    __slots__ = ("jid", "household", "account", "number", "registration_id", "identity_key",
                 "signed_prekey_id", "signed_prekey", "signature")

    def __init__(self, row):
        for name, value in zip(self.__slots__, row):
            setattr(self, name, value)


def split_jid(jid):
    """'name:N@household' -> (name, N, household); DbError if it is not that form."""
    user, at, household = jid.partition("@")
    name, colon, number = user.partition(":")
    if not at or not household or not name or not colon or not number.isdigit() or "@" in household:
        raise DbError("not a device JID: %r" % (jid,))
    if name == "household":
        raise DbError("the user part 'household' is reserved")
    return name, int(number), household


class Database:
    def __init__(self, path):
        self.path = path
        fresh = path == ":memory:" or not os.path.exists(path)
        try:
            self._db = sqlite3.connect(path, isolation_level=None)  # autocommit; BEGIN below
            self._db.execute("PRAGMA foreign_keys = ON")
            if fresh:
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
        except sqlite3.Error as e:  # a folder that is not there, a file that is no database
            raise DbError("database %s: %s" % (path, e)) from None

    def _migrate(self):
        # relay_legs.tags came with per-leg relay tokens; older rows have none (NULL): the
        # relay drops them at its start, their calls ended with the old tokens.
        cols = [r[1] for r in self._db.execute("PRAGMA table_info(relay_legs)")]
        if "tags" not in cols:
            self._db.execute("ALTER TABLE relay_legs ADD COLUMN tags BLOB")
        # households.ca (the DER certificate of the CA that signs its devices) came with the
        # CA binding; a household without one is bound when register_household next sees it.
        cols = [r[1] for r in self._db.execute("PRAGMA table_info(households)")]
        if "ca" not in cols:
            self._db.execute("ALTER TABLE households ADD COLUMN ca BLOB")

    def close(self):
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self):
        """The statements inside commit together, or none of them does (the connection is in
        autocommit mode otherwise)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- settings --

    def setting(self, name):
        row = self._db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_setting(self, name, value):
        self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (name, value))

    # -- households and accounts --

    def add_household(self, name, ca_der=None):
        """Enter a household; with ca_der, bind it to that CA (the one that signs its devices'
        certificates). A household stays bound to its first CA: DbError for another."""
        if not name or "@" in name or ":" in name:
            raise DbError("bad household name %r" % (name,))
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO households (name, created) VALUES (?, ?)",
                       (name, int(time.time())))
            if ca_der is None:
                return
            bound = self.household_ca(name)
            if bound is None:
                db.execute("UPDATE households SET ca = ? WHERE name = ?", (bytes(ca_der), name))
            elif bound != bytes(ca_der):
                raise DbError("household %r is bound to another CA" % (name,))

    def household_ca(self, name):
        """The DER certificate of the CA household `name` is bound to, or None."""
        row = self._db.execute("SELECT ca FROM households WHERE name = ?", (name,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def households(self):
        return [r[0] for r in self._db.execute("SELECT name FROM households ORDER BY name")]

    def accounts(self, household):
        return [r[0] for r in self._db.execute(
            "SELECT name FROM accounts WHERE household = ? ORDER BY name", (household,))]

    def next_device_number(self, household, account):
        row = self._db.execute("SELECT MAX(number) FROM devices WHERE household = ? AND account = ?",
                               (household, account)).fetchone()
        return 1 if row[0] is None else row[0] + 1

    # -- devices --

    def add_device(self, jid, registration_id, identity_key, signed_prekey_id, signed_prekey,
                   signature, prekeys=()):
        """Register a device of an existing household (its account is made on first use)."""
        account, number, household = split_jid(jid)
        now = int(time.time())
        try:
            with self._transaction() as db:
                if db.execute("SELECT 1 FROM households WHERE name = ?", (household,)).fetchone() is None:
                    raise DbError("no household %r" % household)
                db.execute("INSERT OR IGNORE INTO accounts VALUES (?, ?, ?)", (household, account, now))
                db.execute("INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (jid, household, account, number, registration_id, bytes(identity_key),
                            signed_prekey_id, bytes(signed_prekey), bytes(signature), now))
                self._insert_prekeys(jid, prekeys, now)
        except sqlite3.IntegrityError as e:
            raise DbError("device %s: %s" % (jid, e)) from None

    def device(self, jid):
        row = self._db.execute("SELECT %s FROM devices WHERE jid = ?" % ", ".join(DeviceRecord.__slots__),
                               (jid,)).fetchone()
        return None if row is None else DeviceRecord(row)

    def devices(self, household):
        return [r[0] for r in self._db.execute(
            "SELECT jid FROM devices WHERE household = ? ORDER BY jid", (household,))]

    def remove_device(self, jid):
        """The device's row and prekeys go: the switchboard no longer lets it in or rings it.
        True when there was one."""
        with self._transaction() as db:
            db.execute("DELETE FROM prekeys WHERE jid = ?", (jid,))
            gone = db.execute("DELETE FROM devices WHERE jid = ?", (jid,)).rowcount
        return gone > 0

    # -- revocations waiting for their door (portier devices remove; protocol 8.5) --

    def add_revocation(self, door, device, blob):
        self._db.execute("INSERT OR REPLACE INTO revocations VALUES (?, ?, ?, ?)",
                         (door, device, bytes(blob), int(time.time())))

    def revocations(self, door=None):
        """[(door, device, blob)] not yet confirmed by their door (of `door` only if given)."""
        sql = "SELECT door, device, blob FROM revocations"
        rows = self._db.execute(sql + " WHERE door = ?", (door,)) if door else self._db.execute(sql)
        return [(r[0], r[1], bytes(r[2])) for r in rows]

    def drop_revocation(self, door, device):
        self._db.execute("DELETE FROM revocations WHERE door = ? AND device = ?", (door, device))

    # -- one-time prekeys --

    def _insert_prekeys(self, jid, prekeys, now):
        for key_id, public in prekeys:
            if len(public) != 33:
                raise DbError("prekey %d is not 33 bytes" % key_id)
            self._db.execute("INSERT OR REPLACE INTO prekeys VALUES (?, ?, ?, ?)",
                             (jid, key_id, bytes(public), now))
        # keep the newest MAX_PREKEYS (by when added, then id)
        self._db.execute(
            "DELETE FROM prekeys WHERE jid = ? AND key_id NOT IN (SELECT key_id FROM prekeys "
            "WHERE jid = ? ORDER BY added DESC, key_id DESC LIMIT ?)", (jid, jid, MAX_PREKEYS))

    def add_prekeys(self, jid, prekeys):
        with self._transaction():
            self._insert_prekeys(jid, prekeys, int(time.time()))

    def prekey_count(self, jid):
        return self._db.execute("SELECT COUNT(*) FROM prekeys WHERE jid = ?", (jid,)).fetchone()[0]

    def take_prekey(self, jid):
        """Remove and return the oldest one-time prekey (key_id, public), or None."""
        with self._transaction() as db:
            row = db.execute("SELECT key_id, public FROM prekeys WHERE jid = ? "
                             "ORDER BY added, key_id LIMIT 1", (jid,)).fetchone()
            if row is not None:
                db.execute("DELETE FROM prekeys WHERE jid = ? AND key_id = ?", (jid, row[0]))
        return None if row is None else (row[0], bytes(row[1]))

    # -- the in-process relay's bindings (portier_host.relay: a restart keeps calls' media) --

    def relay_legs(self):
        """[(handle, leg, host, port, expiry, tags or None)]"""
        return [(bytes(r[0]), r[1], r[2], r[3], r[4], None if r[5] is None else bytes(r[5]))
                for r in self._db.execute(
                    "SELECT handle, pid, host, port, expiry, tags FROM relay_legs")]

    def save_relay_leg(self, handle, pid, host, port, expiry, tags):
        """One row per address, as the relay serves one leg per address: a port given out again
        to a new call's leg takes it from the old call's, so a restart cannot hand it back."""
        self.relay_writes([("save", (handle, pid, host, port, expiry, tags))])

    def forget_relay_call(self, handle):
        self.relay_writes([("forget", (handle,))])

    def relay_writes(self, ops):
        """("save", save_relay_leg's arguments) and ("forget", (handle,)) in order, one commit."""
        with self._transaction() as db:
            for kind, args in ops:
                if kind == "forget":
                    db.execute("DELETE FROM relay_legs WHERE handle = ?", (bytes(args[0]),))
                    continue
                handle, pid, host, port, expiry, tags = args
                db.execute("DELETE FROM relay_legs WHERE host = ? AND port = ?", (host, port))
                db.execute("INSERT OR REPLACE INTO relay_legs VALUES (?, ?, ?, ?, ?, ?)",
                           (bytes(handle), pid, host, port, expiry, bytes(tags)))
