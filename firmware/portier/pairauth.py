# Pairing under the household's authority (docs/protocol.md 8.5): an authorisation is a tag
# over the door's JID, the device's JID, its Signal identity key and a serial, keyed by the
# door's pairing key (the household's provisioning tool derives it from a secret that never
# reaches the switchboard; the door has its own in secrets.json). The door checks it before any
# X25519 or session work, so a <pair> the switchboard invents costs the door one HMAC and no
# slot. A revocation is a tag too. Also the phone's side of pairing. Loaded only when a <pair> or <revoke> arrives (the door) or a phone
# pairs: portier.pairing (the paired-devices file) is what a device loads at start.
from micropython import const

from portier.pairing import MAX_PAIRED, PairError

AUTH_LEN = const(36)  # serial (u32 big-endian) || HMAC-SHA256 tag
_MAX_SERIAL = const(0x3FFFFFFF)  # a small int on a 32-bit board
_PAIR_LABEL = b"portier-pair-auth-1"
_REVOKE_LABEL = b"portier-revoke-1"


def _tag(door_key, label, door, device, identity_key, serial):
    from portier.crypto.hmac import hmac_sha256

    msg = label + b"\x00" + door.encode() + b"\x00" + device.encode() + b"\x00"
    if identity_key is not None:
        msg += bytes(identity_key)
    return hmac_sha256(door_key, msg + serial.to_bytes(4, "big"))


def pack(serial, tag):
    return serial.to_bytes(4, "big") + tag


def auth_tag(door_key, door, device, identity_key, serial):
    """The authorisation for `device` (with its 33-byte identity key) to pair with `door`."""
    return pack(serial, _tag(door_key, _PAIR_LABEL, door, device, identity_key, serial))


def revoke_tag(door_key, door, device, serial):
    """The revocation of every authorisation of `device` at `door` up to `serial`."""
    return pack(serial, _tag(door_key, _REVOKE_LABEL, door, device, None, serial))


def _check(blob, expected_fn):
    # -> the serial when blob is serial || the tag expected_fn(serial) gives
    from portier.crypto.hmac import compare_digest

    if blob is None or len(blob) != AUTH_LEN:
        raise PairError("no authorisation")
    serial = int.from_bytes(blob[:4], "big")
    if not 1 <= serial <= _MAX_SERIAL:
        raise PairError("serial out of range")
    if not compare_digest(expected_fn(serial), bytes(blob)):
        raise PairError("not authorised by the household")
    return serial


PAIR_PLAINTEXT = b"portier-pair-1"  # = linkstanzas.PAIR_PLAINTEXT (tested), without its imports


def _pair_plaintext(plaintext):
    if bytes(plaintext) != PAIR_PLAINTEXT:
        from portier.e2e import E2eError

        raise E2eError("not a pairing message")
    return True


def _sender_identity(store, peer, enc_type, ciphertext):
    # The identity key the message speaks for, read without any X25519: a pkmsg names it, a
    # msg continues the session whose identity is pinned.
    if enc_type == "pkmsg":
        from portier.e2e.messages import parse_prekey_message

        return parse_prekey_message(ciphertext).identity_key
    known = store.remote_identity(peer)
    if known is None:
        raise PairError("no session with %s" % peer)
    return known


def accept(store, paired, door, door_key, peer, auth, enc_type, ciphertext):
    """Door side: check peer's authorisation, then open its message as responder and keep it.
    -> True when newly paired, False when it already was; ValueError (PairError, E2eError,
    ConfigError) with nothing stored when the authorisation or the message is refused."""
    from portier.e2e import session

    if door_key is None:
        raise PairError("no household pairing key on this door")
    identity = _sender_identity(store, peer, enc_type, ciphertext)
    serial = _check(auth, lambda n: auth_tag(door_key, door, peer, identity, n))
    if serial <= paired.revoked.get(peer, 0):
        raise PairError("authorisation revoked")
    if serial < paired.paired.get(peer, 0):
        raise PairError("an older authorisation")
    if peer not in paired.paired and len(paired.paired) >= MAX_PAIRED:
        raise PairError("already %d paired devices" % MAX_PAIRED)  # before any session work
    pinned = store.remote_identity(peer)
    if pinned is not None and bytes(pinned) != bytes(identity):
        if serial <= paired.paired.get(peer, 0):
            raise PairError("identity key of %s changed" % peer)
        # A newer authorisation names another key: the household replaced the device's keys
        # (or the pin came from before the authority). Its word beats the old pin.
        store.forget_peer(peer)
    session.decrypt(store, peer, enc_type, ciphertext, _pair_plaintext)
    return paired.add(peer, serial)


def revoke(store, paired, door, door_key, device, blob):
    """Door side: a household revocation of `device`. -> True when it was paired; PairError
    when the tag is not the household's (nothing changes)."""
    if door_key is None:
        raise PairError("no household pairing key on this door")
    serial = _check(blob, lambda n: revoke_tag(door_key, door, device, n))
    was = paired.revoke(device, serial)
    if was or device not in paired.paired:
        store.forget_peer(device)  # its session and pinned identity: no call key reaches it
    return was


async def request(store, ask, door, auth):
    """Phone side. ask(build) sends build(stanza_id) and returns the parsed answer. Starts a
    session from the door's bundle when there is none yet (or the door refused the one there
    is), then sends <pair> with the household's authorisation `auth`; ValueError when the
    door has no bundle or refuses."""
    from portier.e2e import session
    from portier.signaling import linkstanzas as ls
    from portier.signaling import linkpair as lp

    for fresh in (False, True):
        if fresh or not session.has_session(store, door):
            store.remove_session(door)  # the door's pinned identity stays: a bundle must match it
            res = await ask(lambda sid: lp.bundle_get(sid, door))
            if res.kind != "bundle_result":
                raise ValueError("no bundle for %s (%s)" % (door, getattr(res, "code", res.kind)))
            from portier.e2e import keys, x3dh

            x3dh.initiate(store, door, keys.Bundle.decode(res.bundle))
        enc_type, ciphertext = session.encrypt(store, door, ls.PAIR_PLAINTEXT)
        res = await ask(lambda sid: lp.pair(sid, door, enc_type, ciphertext, auth))
        if res.kind == "pair_result" and res.ok:
            return
        if enc_type == "pkmsg":
            break  # a new session was refused: another one would be too
    raise ValueError("the door refused the pairing")
