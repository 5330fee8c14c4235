# G.711 against CPython's audioop (the Sun/CCITT C code) over all 65,536 inputs and 256 codes.
import sys
import warnings

import pytest

from portier_host import paths

paths.use_firmware()

from portier.media import g711  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    audioop = pytest.importorskip("audioop")  # stdlib until 3.12; audioop-lts on 3.13+


def _all_inputs():
    return b"".join((v & 0xFFFF).to_bytes(2, "little") for v in range(-32768, 32768))


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_encode_matches_audioop_on_every_input(law):
    pcm = _all_inputs()
    out = bytearray(65536)
    assert getattr(g711, "encode_" + law)(pcm, out) == 65536
    assert bytes(out) == getattr(audioop, "lin2" + law)(pcm, 2)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_decode_matches_audioop_on_every_code(law):
    codes = bytes(range(256))
    out = bytearray(512)
    assert getattr(g711, "decode_" + law)(codes, out) == 512
    assert bytes(out) == getattr(audioop, law + "2lin")(codes, 2)


def test_viper_leaves_match_audioop_under_micropython():
    # The viper code only runs under MicroPython: let it encode every input there and compare
    # the bytes here with audioop.
    from portier_host import mprun

    code = (
        "from portier.media import g711\n"
        "import sys\n"
        "assert g711.VIPER\n"
        "pcm = bytearray(8192)\n"
        "out = bytearray(4096)\n"
        "dec = bytearray(512)\n"
        "import binascii\n"
        "for base in range(0, 65536, 4096):\n"
        "    for i in range(4096):\n"
        "        v = (base + i - 32768) & 0xFFFF\n"
        "        pcm[2*i] = v & 0xFF\n"
        "        pcm[2*i+1] = v >> 8\n"
        "    g711.encode_ulaw(pcm, out)\n"
        "    print('U', binascii.hexlify(out).decode())\n"
        "    g711.encode_alaw(pcm, out)\n"
        "    print('A', binascii.hexlify(out).decode())\n"
        "g711.decode_ulaw(bytes(range(256)), dec)\n"
        "print('u', binascii.hexlify(dec).decode())\n"
        "g711.decode_alaw(bytes(range(256)), dec)\n"
        "print('a', binascii.hexlify(dec).decode())\n"
    )
    lines = mprun.run_snippet(code).split()
    got = {"U": b"", "A": b"", "u": b"", "a": b""}
    for tag, hexed in zip(lines[0::2], lines[1::2]):
        got[tag] += bytes.fromhex(hexed)
    pcm = _all_inputs()
    assert got["U"] == audioop.lin2ulaw(pcm, 2)
    assert got["A"] == audioop.lin2alaw(pcm, 2)
    assert got["u"] == audioop.ulaw2lin(bytes(range(256)), 2)
    assert got["a"] == audioop.alaw2lin(bytes(range(256)), 2)
    assert sys.version_info >= (3, 11)
