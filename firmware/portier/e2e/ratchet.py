# Double Ratchet as libsignal runs it (v3): key derivation, one session state, its compact
# serialization, and encrypt/decrypt on that state. Callers work on a copy (parse the stored
# bytes, mutate, serialize) so a failed decrypt never touches what is stored.
import struct

from micropython import const

from portier.crypto.x25519 import generate_private, public_key

from . import E2eError
from .kdf import agree, cbc_decrypt, cbc_encrypt, chain_step, message_keys, root_step
from .messages import build_prekey_message, build_signal_message, encode_key

MAX_CHAINS = const(5)  # receiver chains kept (libsignal keeps 5)
MAX_SKIP_PER_CHAIN = const(8)  # skipped message keys kept per receiver chain
MAX_SKIP_TOTAL = const(12)  # and in the whole state: a session stays under 1.2 KB
MAX_JUMP = const(256)  # a counter further ahead than this is refused (libsignal: 25000)
NO_PREKEY = const(0xFFFFFFFF)

_STATE_MAGIC = const(0x53)  # "S"
_STATE_FORMAT = const(1)
_FIXED = ">BBB33s33s32s32s33s32sII33s33sIIII"
_CHAIN = ">33s32sIB"
_SKIP = ">I32s"
_FIXED_LEN = struct.calcsize(_FIXED)
_CHAIN_LEN = struct.calcsize(_CHAIN)
_SKIP_LEN = struct.calcsize(_SKIP)
MAX_STATE_BYTES = _FIXED_LEN + 1 + MAX_CHAINS * _CHAIN_LEN + MAX_SKIP_TOTAL * _SKIP_LEN

_F_NEED_STEP = const(1)  # a new remote ratchet key arrived: step the sending chain before sending
_F_PENDING = const(2)  # initiator: keep sending pkmsg until the peer answers


class Chain:
    def __init__(self, their_key, chain_key, index, skipped):
        self.their_key = their_key
        self.chain_key = chain_key
        self.index = index
        self.skipped = skipped  # [(counter, message key seed)], oldest first


class State:
    """One Signal session (libsignal SessionStructure, v3 only)."""

    def __init__(self):
        self.flags = 0
        self.local_identity = b""  # 33-byte keys
        self.remote_identity = b""
        self.root_key = b""
        self.send_private = b""
        self.send_public = b""
        self.send_chain_key = b""
        self.send_index = 0
        self.previous_counter = 0
        self.remote_ratchet = bytes(33)  # their newest ratchet key, for a pending sending step
        self.base_key = b""  # the initiator's base key: identifies the session on both sides
        self.prekey_id = NO_PREKEY
        self.signed_prekey_id = 0
        self.local_registration = 0
        self.remote_registration = 0
        self.chains = []  # receiver chains, oldest first

    # -- serialization --

    def to_bytes(self):
        # One allocation of the exact size: on a small fragmented heap a growing bytearray
        # needs ever larger free runs.
        size = _FIXED_LEN + 1
        for c in self.chains:
            size += _CHAIN_LEN + len(c.skipped) * _SKIP_LEN
        out = bytearray(size)
        struct.pack_into(
            _FIXED, out, 0, _STATE_MAGIC, _STATE_FORMAT, self.flags, self.local_identity,
            self.remote_identity, self.root_key, self.send_private, self.send_public,
            self.send_chain_key, self.send_index, self.previous_counter, self.remote_ratchet,
            self.base_key, self.prekey_id, self.signed_prekey_id, self.local_registration,
            self.remote_registration,
        )
        pos = _FIXED_LEN
        out[pos] = len(self.chains)
        pos += 1
        for c in self.chains:
            struct.pack_into(_CHAIN, out, pos, c.their_key, c.chain_key, c.index, len(c.skipped))
            pos += _CHAIN_LEN
            for counter, seed in c.skipped:
                struct.pack_into(_SKIP, out, pos, counter, seed)
                pos += _SKIP_LEN
        return out

    @staticmethod
    def from_bytes(data):
        if len(data) < _FIXED_LEN + 1 or len(data) > MAX_STATE_BYTES:
            raise E2eError("session state length %d" % len(data))
        f = struct.unpack_from(_FIXED, data, 0)
        if f[0] != _STATE_MAGIC or f[1] != _STATE_FORMAT:
            raise E2eError("not a session state")
        s = State()
        (s.flags, s.local_identity, s.remote_identity, s.root_key, s.send_private,
         s.send_public, s.send_chain_key, s.send_index, s.previous_counter, s.remote_ratchet,
         s.base_key, s.prekey_id, s.signed_prekey_id, s.local_registration,
         s.remote_registration) = f[2:]
        pos = _FIXED_LEN
        n = data[pos]
        pos += 1
        if n > MAX_CHAINS:
            raise E2eError("too many chains")
        total = 0
        for _ in range(n):
            if pos + _CHAIN_LEN > len(data):
                raise E2eError("truncated session state")
            key, ck, index, nskip = struct.unpack_from(_CHAIN, data, pos)
            pos += _CHAIN_LEN
            total += nskip
            if nskip > MAX_SKIP_PER_CHAIN or total > MAX_SKIP_TOTAL:
                raise E2eError("too many skipped keys")
            if pos + nskip * _SKIP_LEN > len(data):
                raise E2eError("truncated session state")
            skipped = []
            for _ in range(nskip):
                skipped.append(struct.unpack_from(_SKIP, data, pos))
                pos += _SKIP_LEN
            s.chains.append(Chain(key, ck, index, skipped))
        if pos != len(data):
            raise E2eError("trailing bytes in session state")
        return s

    # -- sending --

    def encrypt(self, plaintext):
        """-> ("pkmsg" | "msg", serialized message); advances the sending chain."""
        if self.flags & _F_NEED_STEP:
            self._step_sending_chain()
        seed, next_key = chain_step(self.send_chain_key)
        cipher_key, mac_key, iv = message_keys(seed)
        body = build_signal_message(
            mac_key, self.local_identity, self.remote_identity, self.send_public,
            self.send_index, self.previous_counter, cbc_encrypt(cipher_key, iv, plaintext),
        )
        self.send_chain_key = next_key
        self.send_index += 1
        if not self.flags & _F_PENDING:
            return "msg", body
        prekey_id = None if self.prekey_id == NO_PREKEY else self.prekey_id
        return "pkmsg", build_prekey_message(
            self.local_registration, prekey_id, self.signed_prekey_id, self.base_key,
            self.local_identity, body,
        )

    def _step_sending_chain(self):
        # Deferred half of the DH ratchet step (see docs/protocol.md 4.4): the same keys libsignal
        # derives on receive, made only when there is something to send.
        private = generate_private()
        self.root_key, self.send_chain_key = root_step(
            self.root_key, agree(private, self.remote_ratchet)
        )
        self.send_private = private
        self.send_public = encode_key(public_key(private))
        self.send_index = 0
        self.flags &= ~_F_NEED_STEP

    # -- receiving --

    def decrypt(self, msg):
        """Decrypt a parsed SignalMessage, advancing this (scratch) state; raises E2eError."""
        chain = None
        for c in self.chains:
            if c.their_key == msg.ratchet_key:
                chain = c
        if chain is None:
            chain = self._step_receiving_chain(msg.ratchet_key)
        seed = self._message_seed(chain, msg.counter)
        cipher_key, mac_key, iv = message_keys(seed)
        if not msg.mac_ok(mac_key, self.remote_identity, self.local_identity):
            raise E2eError("bad MAC")
        plaintext = cbc_decrypt(cipher_key, iv, msg.ciphertext)
        self.flags &= ~_F_PENDING  # the peer has our session: stop sending pkmsg
        return plaintext

    def _step_receiving_chain(self, their_key):
        self.root_key, chain_key = root_step(self.root_key, agree(self.send_private, their_key))
        self.previous_counter = self.send_index - 1 if self.send_index else 0
        self.remote_ratchet = their_key
        self.flags |= _F_NEED_STEP
        chain = Chain(their_key, chain_key, 0, [])
        self.chains.append(chain)
        if len(self.chains) > MAX_CHAINS:
            self.chains.pop(0)
        return chain

    def _message_seed(self, chain, counter):
        if counter < chain.index:
            for i in range(len(chain.skipped)):
                if chain.skipped[i][0] == counter:
                    return chain.skipped.pop(i)[1]
            raise E2eError("duplicate or expired message %d" % counter)
        if counter - chain.index > MAX_JUMP:
            raise E2eError("message %d is too far ahead" % counter)
        key = chain.chain_key
        while chain.index < counter:
            seed, key = chain_step(key)
            chain.skipped.append((chain.index, seed))
            chain.index += 1
            if len(chain.skipped) > MAX_SKIP_PER_CHAIN:
                chain.skipped.pop(0)
        seed, chain.chain_key = chain_step(key)
        chain.index = counter + 1
        self._bound_skipped()
        return seed

    def _bound_skipped(self):
        total = 0
        for c in self.chains:
            total += len(c.skipped)
        for c in self.chains:  # oldest chains give up their oldest keys first
            while total > MAX_SKIP_TOTAL and c.skipped:
                c.skipped.pop(0)
                total -= 1
