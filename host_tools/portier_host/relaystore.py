"""The in-process relay's bindings written to the switchboard's database off the event loop
(issue 14): a bind that moves a leg used to be a synchronous SQLite commit in the loop that also
serves every household's signalling. WriteBehind takes relay.RelayCore's store calls at once,
into memory, and a thread of its own with its own connection writes them in batches, one commit
each (a leg saved twice in a batch is written once; a call forgotten drops its pending saves).
What a crash can lose: the last batch window (WINDOW_S) of moves, which the parties' next
keepalive binds (every 10 s) restore."""

import collections
import logging
import threading
import time

from .switchboard_db import Database

log = logging.getLogger("portier.relaystore")

WINDOW_S = 0.05  # writes arriving within this of the first one go in the same commit


class WriteBehind:
    """A store for relay.RelayCore over a Database on a file (":memory:" cannot be shared with
    a thread: use the Database itself there)."""

    def __init__(self, db, window_s=WINDOW_S):
        if db.path == ":memory:":
            raise ValueError("an in-memory database cannot be written from another thread")
        self._db = db
        self._window_s = window_s
        self._ops = collections.OrderedDict()  # key -> args, in the order they must be applied
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self.commits = 0  # batches written
        self.writes = 0  # operations in them
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="relay-store", daemon=True)
        self._thread.start()

    # -- relay.RelayCore's store interface (on the event loop: memory only) --

    def relay_legs(self):
        return self._db.relay_legs()  # once, when the relay starts

    def save_relay_leg(self, handle, pid, host, port, expiry, tags):
        key = ("save", bytes(handle), pid)
        with self._lock:
            self._ops.pop(key, None)  # to the end: after whatever it follows now
            self._ops[key] = (bytes(handle), pid, host, port, expiry, bytes(tags))
        self._wake.set()

    def forget_relay_call(self, handle):
        handle = bytes(handle)
        with self._lock:
            for key in [k for k in self._ops if k[0] == "save" and k[1] == handle]:
                del self._ops[key]
            key = ("forget", handle)
            self._ops.pop(key, None)
            self._ops[key] = (handle,)
        self._wake.set()

    def close(self):
        """Write what is pending and stop the thread."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)

    # -- the writer thread --

    def _run(self):
        db = Database(self._db.path)  # its own connection, made in this thread
        try:
            while True:
                self._wake.wait()
                if not self._stopping:
                    time.sleep(self._window_s)  # let a burst gather into this commit
                with self._lock:
                    ops, self._ops = list(self._ops.items()), collections.OrderedDict()
                    self._wake.clear()
                    stopping = self._stopping
                if ops:
                    self._write(db, [(key[0], args) for key, args in ops])
                if stopping:
                    return
        finally:
            db.close()

    def _write(self, db, ops):
        try:
            db.relay_writes(ops)
            self.commits += 1
            self.writes += len(ops)
        except Exception:  # a locked or full disk: the bindings live on in memory
            self.failures += 1
            log.exception("relay bindings not written (%d changes)", len(ops))
