# X3DH session set-up in both roles (libsignal RatchetingSession, v3 without Kyber).
#   initiator:  DH(IK_A, SPK_B) || DH(EK_A, IK_B) || DH(EK_A, SPK_B) [|| DH(EK_A, OPK_B)]
#   responder:  DH(SPK_B, IK_A) || DH(IK_B, EK_A) || DH(SPK_B, EK_A) [|| DH(OPK_B, EK_A)]
#   (RK, CK) = HKDF(0xFF*32 || the DH outputs, salt 0, "WhisperText", 64)
from portier.crypto.hkdf import hkdf
from portier.crypto.x25519 import generate_private, public_key

from . import E2eError
from .messages import decode_key, encode_key
from .kdf import agree, root_step
from .ratchet import NO_PREKEY, Chain, State

_DISCONTINUITY = b"\xff" * 32
_F_PENDING = 2


def _derive(parts):
    okm = hkdf(b"".join(parts), 64, b"", b"WhisperText")
    return okm[:32], okm[32:]


def initiator_state(identity_private, identity_public, base_private, base_public,
                    their_identity, their_signed_prekey, their_one_time_prekey, their_ratchet,
                    sending_private):
    """Alice's session after X3DH and her first sending-chain step (no prekey bookkeeping)."""
    parts = [
        _DISCONTINUITY,
        agree(identity_private, their_signed_prekey),
        agree(base_private, their_identity),
        agree(base_private, their_signed_prekey),
    ]
    if their_one_time_prekey is not None:
        parts.append(agree(base_private, their_one_time_prekey))
    root_key, chain_key = _derive(parts)
    s = State()
    s.local_identity = identity_public
    s.remote_identity = their_identity
    s.chains.append(Chain(their_ratchet, chain_key, 0, []))
    s.root_key, s.send_chain_key = root_step(root_key, agree(sending_private, their_ratchet))
    s.send_private = sending_private
    s.send_public = encode_key(public_key(sending_private))
    s.remote_ratchet = their_ratchet
    s.base_key = base_public
    return s


def responder_state(identity_private, identity_public, signed_private, one_time_private,
                    their_identity, their_base, ratchet_private, ratchet_public):
    """Bob's session after X3DH; the ratchet key pair is normally the signed prekey pair."""
    parts = [
        _DISCONTINUITY,
        agree(signed_private, their_identity),
        agree(identity_private, their_base),
        agree(signed_private, their_base),
    ]
    if one_time_private is not None:
        parts.append(agree(one_time_private, their_base))
    root_key, chain_key = _derive(parts)
    s = State()
    s.local_identity = identity_public
    s.remote_identity = their_identity
    s.root_key = root_key
    s.send_private = ratchet_private
    s.send_public = ratchet_public
    s.send_chain_key = chain_key
    s.base_key = their_base
    return s


def initiate(store, recipient, bundle):
    """Start a session with recipient from its prekey bundle (keys.Bundle). The next wraps to
    recipient send pkmsg until an answer arrives. Verifies the signed prekey's XEdDSA signature,
    so it runs where SHA-512 exists (the host)."""
    from . import xeddsa

    if not xeddsa.verify(bundle.identity_key, bundle.signed_prekey, bundle.signature):
        raise E2eError("bad signed prekey signature in the bundle of %s" % recipient)
    start_session(store, recipient, bundle)


def start_session(store, recipient, bundle):
    """initiate() without the signature check, for a bundle whose signature was verified
    elsewhere (on the provisioning host, or by a test)."""
    from . import session

    decode_key(bundle.identity_key)
    decode_key(bundle.signed_prekey)
    if bundle.prekey is not None:
        decode_key(bundle.prekey)
    store.check_identity(recipient, bundle.identity_key)
    identity_private, identity_public, registration = store.identity()
    record = session.load_record(store, recipient)
    base_private = generate_private()
    s = initiator_state(
        identity_private, identity_public, base_private, encode_key(public_key(base_private)),
        bundle.identity_key, bundle.signed_prekey, bundle.prekey, bundle.signed_prekey,
        generate_private(),
    )
    s.flags |= _F_PENDING
    s.prekey_id = NO_PREKEY if bundle.prekey_id is None else bundle.prekey_id
    s.signed_prekey_id = bundle.signed_prekey_id
    s.local_registration = registration
    s.remote_registration = bundle.registration_id
    packed = session.pack_record([s.to_bytes()] + record)
    store.check_session_room(recipient, packed)
    store.trust(recipient, bundle.identity_key)
    store.put_session(recipient, packed)
