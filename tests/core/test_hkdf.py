# HKDF-SHA256, RFC 5869 Appendix A test cases 1-3.
from coretest import assert_raises, unhex
from portier.crypto.hkdf import HkdfError, expand, extract, hkdf

CASES = [
    {  # A.1 basic
        "ikm": unhex("0b" * 22),
        "salt": unhex("000102030405060708090a0b0c"),
        "info": unhex("f0f1f2f3f4f5f6f7f8f9"),
        "prk": "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
        "okm": "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
               "34007208d5b887185865",
    },
    {  # A.2 longer inputs and outputs
        "ikm": bytes(range(0x00, 0x50)),
        "salt": bytes(range(0x60, 0xB0)),
        "info": bytes(range(0xB0, 0x100)),
        "prk": "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
        "okm": "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
               "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
               "cc30c58179ec3e87c14c01d5c1f3434f1d87",
    },
    {  # A.3 zero-length salt and info
        "ikm": unhex("0b" * 22),
        "salt": b"",
        "info": b"",
        "prk": "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
        "okm": "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
               "9d201395faa4b61a96c8",
    },
]


def test_rfc5869_extract():
    for case in CASES:
        assert extract(case["salt"], case["ikm"]) == unhex(case["prk"]), case["prk"]


def test_rfc5869_expand():
    for case in CASES:
        okm = unhex(case["okm"])
        assert expand(unhex(case["prk"]), case["info"], len(okm)) == okm, case["okm"]


def test_rfc5869_one_call():
    for case in CASES:
        okm = unhex(case["okm"])
        assert hkdf(case["ikm"], len(okm), case["salt"], case["info"]) == okm


def test_prefixes_agree():
    case = CASES[1]
    full = hkdf(case["ikm"], 82, case["salt"], case["info"])
    for n in (0, 1, 31, 32, 33, 64):
        assert hkdf(case["ikm"], n, case["salt"], case["info"]) == full[:n]


def test_length_bounds():
    prk = unhex(CASES[0]["prk"])
    assert len(expand(prk, b"", 255 * 32)) == 255 * 32
    assert_raises(HkdfError, expand, prk, b"", 255 * 32 + 1)
    assert_raises(HkdfError, expand, prk, b"", -1)
    assert_raises(HkdfError, expand, b"short", b"", 16)
    assert isinstance(HkdfError("x"), ValueError)
