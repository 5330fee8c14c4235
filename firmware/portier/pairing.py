# Pairing (docs/protocol.md 8.5). The door only ever answers Signal sessions: a phone fetches
# the door's prekey bundle, starts a session (X3DH, on the host) and sends <pair> whose plaintext
# is PAIR_PLAINTEXT; the door opens it as responder, keeps the phone in its paired devices (a
# JSON list on flash, rewritten atomically) and answers pair_result. The door calls, and
# auto-answers when configured, paired devices only.
import json

from portier import fsutil
from portier.jsondepth import too_deep
from portier.config import ConfigError, check_jid

_MAX_PAIRED = 16
_PAIRED_FILE_MAX = 2048


class PairedDevices:
    """The door's paired devices, a JSON list kept on flash (rewritten atomically)."""

    def __init__(self, path):
        self.path = path
        self.devices = []
        data = fsutil.load(path, _PAIRED_FILE_MAX)
        if data is None:
            return
        try:
            if too_deep(data):
                raise ValueError("nested too deep")
            items = json.loads(data)
            if not isinstance(items, list) or len(items) > _MAX_PAIRED:
                raise ValueError("not a list of at most %d" % _MAX_PAIRED)
            self.devices = [check_jid(j, "paired device") for j in items]
        except ValueError as e:
            raise ConfigError("paired devices in %s: %s" % (path, e))

    def add(self, jid):
        if jid in self.devices:
            return False
        if len(self.devices) >= _MAX_PAIRED:
            raise ConfigError("already %d paired devices" % _MAX_PAIRED)
        devices = self.devices + [jid]
        fsutil.save_atomic(self.path, json.dumps(devices).encode())
        self.devices = devices  # only once it is on flash
        return True


def ensure_identity(store):
    """A softphone makes its own Signal identity on first start: it only ever initiates
    sessions, so nobody needs its bundle. (The door's comes from provisioning.)"""
    from portier.e2e import E2eError, keys

    try:
        store.identity()
    except E2eError:
        keys.generate_identity(store)


def _pair_plaintext(plaintext):
    from portier.signaling import linkstanzas as ls

    if bytes(plaintext) != ls.PAIR_PLAINTEXT:
        from portier.e2e import E2eError

        raise E2eError("not a pairing message")
    return True


def accept(store, paired, peer, enc_type, ciphertext):
    """Door side: open the phone's message as responder and remember the phone. -> True when
    newly paired, False when it already was; ValueError (E2eError, ConfigError) with nothing
    stored when the message does not open or is not a pairing."""
    from portier.e2e import session

    session.decrypt(store, peer, enc_type, ciphertext, _pair_plaintext)
    return paired.add(peer)


async def request(store, ask, door):
    """Phone side. ask(build) sends build(stanza_id) and returns the parsed answer. Starts a
    session from the door's bundle when there is none yet, then sends <pair>; ValueError when
    the door has no bundle or refuses."""
    from portier.e2e import session
    from portier.signaling import linkstanzas as ls

    if not session.has_session(store, door):
        res = await ask(lambda sid: ls.bundle_get(sid, door))
        if res.kind != "bundle_result":
            raise ValueError("no bundle for %s (%s)" % (door, getattr(res, "code", res.kind)))
        from portier.e2e import keys, x3dh

        x3dh.initiate(store, door, keys.Bundle.decode(res.bundle))
    enc_type, ciphertext = session.encrypt(store, door, ls.PAIR_PLAINTEXT)
    res = await ask(lambda sid: ls.pair(sid, door, enc_type, ciphertext))
    if res.kind != "pair_result" or not res.ok:
        raise ValueError("the door refused the pairing")
