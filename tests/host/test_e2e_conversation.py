"""A long seeded conversation on CPython: hundreds of call keys both ways, sent in bursts,
delivered out of order within each direction, every one opened exactly once."""

import random

from portier_host import paths

paths.use_firmware()

from portier.e2e import E2eError, keys  # noqa: E402
from portier.e2e.callkey import unwrap, wrap  # noqa: E402
from portier.e2e.stores import MemoryStore  # noqa: E402
from portier.e2e.x3dh import initiate  # noqa: E402

DOOR = "door:1@home"
PHONE = "anna:2@home"


def test_long_conversation_out_of_order():
    rng = random.Random(5)
    door = MemoryStore()
    phone = MemoryStore()
    keys.generate_identity(door)
    keys.generate_identity(phone)
    keys.generate_signed_prekey(door, 1)
    keys.generate_prekeys(door, 1, 1)
    initiate(phone, DOOR, keys.bundle(door, 1, 1))
    ends = {PHONE: phone, DOOR: door}
    pending = {PHONE: [], DOOR: []}  # sender -> [(call key, enc type, ciphertext)]
    delivered = 0
    types = set()
    for _ in range(600):
        sender = rng.choice((PHONE, DOOR))
        receiver = DOOR if sender == PHONE else PHONE
        if sender == DOOR and not door.session(PHONE):
            sender, receiver = PHONE, DOOR  # the door can only answer once it has a session
        if rng.random() < 0.55:
            k = bytes(rng.getrandbits(8) for _ in range(32))
            enc_type, data = wrap(ends[sender], receiver, k)
            types.add(enc_type)
            pending[sender].append((k, enc_type, data))
        elif pending[sender]:
            # any of the four oldest: out of order, but within the skipped-key bound
            i = rng.randrange(min(4, len(pending[sender])))
            k, enc_type, data = pending[sender].pop(i)
            assert unwrap(ends[receiver], sender, enc_type, data) == k
            delivered += 1
            try:
                unwrap(ends[receiver], sender, enc_type, data)
            except E2eError:
                pass
            else:
                raise AssertionError("a message opened twice")
    assert delivered > 150
    assert types == {"pkmsg", "msg"}
