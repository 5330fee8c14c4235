# X25519, RFC 7748 section 5.2 and 6.1 vectors; random agreements both ways.
from coretest import ON_MICROPYTHON, unhex
from portier.crypto.x25519 import BASE_POINT, clamp, generate_private, public_key, x25519

VECTORS = (
    (
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    ),
    (
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
    ),
)

ALICE_PRIV = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
ALICE_PUB = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
BOB_PRIV = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
BOB_PUB = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"


def test_rfc7748_section_5_2():
    for k, u, out in VECTORS:
        assert x25519(unhex(k), unhex(u)) == unhex(out), out


def test_rfc7748_diffie_hellman():
    assert public_key(unhex(ALICE_PRIV)) == unhex(ALICE_PUB)
    assert public_key(unhex(BOB_PRIV)) == unhex(BOB_PUB)
    assert x25519(unhex(ALICE_PRIV), unhex(BOB_PUB)) == unhex(SHARED)
    assert x25519(unhex(BOB_PRIV), unhex(ALICE_PUB)) == unhex(SHARED)


def _iterate(n):
    k = BASE_POINT
    u = BASE_POINT
    for _ in range(n):
        k, u = x25519(k, u), k
    return k


def test_rfc7748_iterated_once():
    assert _iterate(1) == unhex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")


def test_rfc7748_iterated_1000():
    # About 1 s on CPython and 3 s on the host MicroPython: run in both.
    assert _iterate(1000) == unhex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")


def test_top_bit_of_u_is_ignored():
    k, u, out = VECTORS[0]
    high = bytearray(unhex(u))
    high[31] |= 0x80
    assert x25519(unhex(k), bytes(high)) == unhex(out)


def test_low_order_point_gives_zero():
    # u = 0 and u = 1 are of small order: the shared secret is all zero (callers must reject it)
    k = unhex(VECTORS[0][0])
    assert x25519(k, bytes(32)) == bytes(32)
    assert x25519(k, b"\x01" + bytes(31)) == bytes(32)


def test_random_agreement():
    for _ in range(2 if ON_MICROPYTHON else 10):
        a = generate_private()
        b = generate_private()
        assert a == bytes(clamp(a))
        assert x25519(a, public_key(b)) == x25519(b, public_key(a))


def test_wrong_lengths_rejected():
    from coretest import assert_raises

    assert_raises(ValueError, x25519, bytes(31), BASE_POINT)
    assert_raises(ValueError, x25519, bytes(32), bytes(33))
