# The door's side of pairing under the household's authority (docs/protocol.md 8.5) for its part
# of the App (portier.doorpart): the pairing key from the door's secrets, <pair> and <revoke>
# answered with portier.pairauth's checks, pairings from before the authority dropped. Loaded
# only when a <pair> or <revoke> arrives (or a legacy pairing is found at start) and dropped with
# pairauth after it (portier.appmem). log(lvl, src, msg, **fields) is the app's log; the
# stanzas returned are the part's to send.
from portier.pairauth import accept, revoke


def door_key(secrets_path, log):
    """The door's pairing key from its secrets (portier.secrets), or None."""
    from portier import secrets

    try:
        return secrets.load(secrets_path).pair_key
    except ValueError as e:
        log("E", "app", "secrets unreadable: pairing off", error=str(e))
        return None


def drop_legacy(store, paired, secrets_path, log):
    """Devices paired before the household authority (by anyone who could send <pair>, the
    switchboard too) are dropped once the door holds its pairing key; the household's devices
    pair again at their next start with their authorisation."""
    legacy = paired.legacy()
    if not legacy or door_key(secrets_path, log) is None:
        return
    for jid in legacy:
        store.forget_peer(jid)
    paired.drop(legacy)
    log("W", "app", "pairings from before the household authority dropped", devices=legacy)


def answer_pair(store, paired, door, secrets_path, msg, log):
    """A device's <pair> -> the <pair_result> node to send (None: no sender to answer)."""
    from portier.signaling import linkpair as lp

    peer = msg.frm
    if peer is None:
        return None
    ok = False
    try:
        added = accept(store, paired, door, door_key(secrets_path, log), peer, msg.auth,
                       msg.enc_type, msg.ciphertext)
        ok = True
        log("I", "app", "paired", device=peer, new=added)
    except ValueError as e:  # PairError, E2eError, ConfigError: nothing stored
        log("W", "app", "pair failed", device=peer, error=str(e))
    return lp.pair_result(msg.id, peer, ok)


def answer_revoke(store, paired, door, secrets_path, msg, log):
    """A household <revoke> -> (True when it was the household's: unpaired, session and pin
    deleted, the <revoke_result> node to send)."""
    from portier.signaling import linkpair as lp

    ok = False
    try:
        was = revoke(store, paired, door, door_key(secrets_path, log), msg.jid, msg.blob)
        ok = True
        log("I", "app", "revoked", device=msg.jid, was_paired=was)
    except ValueError as e:
        log("W", "app", "revoke refused", device=msg.jid, error=str(e))
    return ok, lp.revoke_result(msg.id, msg.jid, ok)
