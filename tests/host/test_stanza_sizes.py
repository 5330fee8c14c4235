"""The issue's size goals, measured against XML text written here by the standard library (not
by the firmware): stanzas without opaque bodies at most 40% of their XML, the model's terminate
example at most 46 bytes (50 in WABinary), an offer to 3 devices with 120-byte encs at most 560."""

import os
import sys

from portier_host import paths

paths.use_firmware()
sys.path.insert(0, os.path.join(paths.REPO, "tests", "core"))

from _stanza_samples import CID, ME, PEER, SID, samples  # noqa: E402

from portier.wire.stanza import encode  # noqa: E402
from portier_host.stanzasize import (  # noqa: E402
    BODILESS, MODEL_TERMINATE, counts_as_bodiless, offer_to_three, xml_text)

def test_terminate_example_from_the_model():
    assert len(encode(MODEL_TERMINATE)) <= 46


def test_bodiless_stanzas_are_at_most_40_percent_of_xml():
    checked = set()
    for stanza in samples():
        node = stanza.to_node()
        if not counts_as_bodiless(stanza.action, node):
            continue
        size, text = len(encode(node)), len(xml_text(node))
        assert size <= 0.40 * text, (stanza.action, size, text)
        checked.add(stanza.action)
    assert checked == set(BODILESS)


def test_offer_to_three_devices():
    offer = offer_to_three(os.urandom(120), CID, ME, PEER, SID)
    assert len(encode(offer.to_node())) <= 560
