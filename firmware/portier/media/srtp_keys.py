# Call key -> SRTP master key, salt and SSRC (docs/protocol.md 5.1-5.3), and RFC 3711's session
# key derivation. SrtpError lives here so both this module and srtp.py raise the same class.
from micropython import const

from ..crypto.aes_cm import AesCm
from ..crypto.hkdf import hkdf


class SrtpError(ValueError):
    pass


_MASTER_OKM = const(46)  # WAHKDF output: 16 key, 14 salt, 16 unused

# RFC 3711 4.3 labels
LABEL_RTP_KEY = const(0)
LABEL_RTP_AUTH = const(1)
LABEL_RTP_SALT = const(2)
LABEL_RTCP_KEY = const(3)
LABEL_RTCP_AUTH = const(4)
LABEL_RTCP_SALT = const(5)


def device_qualified(participant_id):
    """The participant id WAHKDF uses: `/resource` dropped, a bare `user@lid` gets device 0."""
    if isinstance(participant_id, (bytes, bytearray)):
        participant_id = bytes(participant_id).decode()
    slash = participant_id.find("/")
    if slash >= 0:
        participant_id = participant_id[:slash]
    at = participant_id.find("@")
    if at > 0 and participant_id[at + 1:] == "lid" and ":" not in participant_id[:at]:
        participant_id = participant_id[:at] + ":0@lid"
    return participant_id


def derive_master(call_key, participant_id):
    """(master_key16, master_salt14) for the sender `participant_id` (layer 1, WAHKDF)."""
    if len(call_key) < 32:
        raise SrtpError("call key must have at least 32 bytes")
    info = device_qualified(participant_id).encode()
    okm = hkdf(bytes(call_key[:32]), _MASTER_OKM, b"", info)
    return okm[:16], okm[16:30]


def derive_ssrc(call_id, participant_id, slot):
    """SSRC of `participant_id`'s stream `slot` (0 audio) in call `call_id` (REL-06)."""
    if slot < 0 or slot > 0xFFFFFFFF:
        raise SrtpError("slot out of range")
    if isinstance(call_id, str):
        call_id = call_id.encode()
    salt = bytes((slot & 0xFF, (slot >> 8) & 0xFF, (slot >> 16) & 0xFF, (slot >> 24) & 0xFF))
    out = hkdf(bytes(call_id), 4, salt, device_qualified(participant_id).encode())
    return out[0] | (out[1] << 8) | (out[2] << 16) | (out[3] << 24)


def check_master(master_key, master_salt):
    if len(master_key) != 16 or len(master_salt) != 14:
        raise SrtpError("master key must be 16 bytes and master salt 14")


def session_key(master_key, master_salt, label, n, kbuf=None):
    """RFC 3711 4.3 PRF with kdr 0: n bytes of AES-CM(master_key, IV = (salt ^ label<<48)<<16)."""
    check_master(master_key, master_salt)
    iv = bytearray(16)
    iv[:14] = master_salt
    iv[7] ^= label
    out = bytearray(n)
    AesCm(master_key, bytes(14), kbuf).crypt_iv_into(out, 0, n, iv)
    return bytes(out)
