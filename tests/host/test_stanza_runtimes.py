"""Both runtimes write the same bytes for every sample stanza and read them back to the same
stanzas: MicroPython's dicts do not keep insertion order, so this is what the canonical
attribute order (docs/protocol.md 2.6) is for."""

import os
import sys

from portier_host import mprun, paths

paths.use_firmware()
sys.path.insert(0, os.path.join(paths.REPO, "tests", "core"))

from _stanza_samples import samples  # noqa: E402

from portier.signaling import stanzas as S  # noqa: E402
from portier.wire.stanza import decode, encode  # noqa: E402

_SNIPPET = r"""
import sys, binascii
sys.path.insert(0, %r)
import portier.wire.stanza
import portier.signaling.stanzas
from _stanza_samples import samples
from portier.wire.stanza import decode, encode
from portier.signaling import stanzas as S
for s in samples():
    data = encode(s.to_node())
    back = S.parse(decode(data))
    print(binascii.hexlify(data).decode(), "same" if back == s else "DIFFERENT")
"""


def test_micropython_and_cpython_write_identical_bytes():
    out = mprun.run_snippet(_SNIPPET % os.path.join(paths.REPO, "tests", "core")).split()
    mp_hex, verdicts = out[0::2], out[1::2]
    cp = [encode(s.to_node()) for s in samples()]
    assert len(mp_hex) == len(cp)
    assert verdicts == ["same"] * len(cp)
    for i, data in enumerate(cp):
        assert bytes.fromhex(mp_hex[i]) == data, samples()[i].action
        assert S.parse(decode(data)) == samples()[i]
