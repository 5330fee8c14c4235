# Pairing on the door under the household's authority (docs/protocol.md 8.5): a <pair> opens
# only with the household's authorisation for that door, device JID and identity key (checked
# before any X25519, so a refusal costs one HMAC and changes nothing); revocations unpair and
# forget a device; the paired-devices file is bounded and rewritten atomically.
import json
import os

from coretest import assert_raises, remove_file, unhex
from portier import pairauth, pairing
from portier.config import ConfigError
from portier.pairing import PairError
from portier.signaling.linkstanzas import PAIR_PLAINTEXT

DOOR = "door:1@home"
ANNA = "anna:2@home"
EVE = "eve:9@home"
KEY = bytes(range(32))  # the door's pairing key
_PATH = "_test_paired.json"


def test_tags_match_the_spec():
    assert pairauth.PAIR_PLAINTEXT == PAIR_PLAINTEXT
    # HMAC-SHA256 computed with CPython's hmac over the layout of protocol 8.5
    ik = b"\x05" + bytes(range(32))
    assert pairauth.auth_tag(KEY, DOOR, ANNA, ik, 1) == unhex(
        "00000001" "caa2cc63d0d4e3d754701cb0cab24c6fb88b5eaefc932fc21c563f9c8cbd10e9")
    assert pairauth.revoke_tag(KEY, DOOR, ANNA, 5) == unhex(
        "00000005" "e14bf7078d8a8a33c61afcdb0d16966019df24d32fc7965f60576796525815cb")


def test_legacy_list_loads_as_serial_zero():
    _cleanup()
    try:
        with open(_PATH, "w") as f:
            f.write(json.dumps([ANNA, EVE]))
        paired = pairing.PairedDevices(_PATH)
        assert paired.devices == [ANNA, EVE] and paired.legacy() == [ANNA, EVE]
        paired.drop(paired.legacy())
        assert pairing.PairedDevices(_PATH).devices == []
    finally:
        _cleanup()


def _cleanup():
    remove_file(_PATH)


def test_paired_file_is_bounded_and_checked():
    _cleanup()
    try:
        for bad in ("{}", "[1]", '["anna"]', json.dumps(["a:%d@home" % i for i in range(17)]),
                    '{"paired": {"anna:2@home": -1}, "revoked": {}}', '"x"',
                    '{"paired": {}, "revoked": []}', "not json"):
            with open(_PATH, "w") as f:
                f.write(bad)
            assert_raises(ConfigError, pairing.PairedDevices, _PATH)
        with open(_PATH, "w") as f:
            f.write(" " * 5000)
        assert_raises(OSError, pairing.PairedDevices, _PATH)
        _cleanup()
        paired = pairing.PairedDevices(_PATH)
        for i in range(16):
            paired.add("p:%d@home" % i, 1)
        assert_raises(PairError, paired.add, "q:1@home", 1)
        assert len(pairing.PairedDevices(_PATH).devices) == 16
    finally:
        _cleanup()
