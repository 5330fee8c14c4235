# The secrets file: a good one loads; every wrong field is refused naming it, without quoting a
# secret; a repr never shows a value.
import json
import os

from coretest import assert_raises
from portier import secrets
from portier.secrets import SecretsError

_SALT = "00112233445566778899aabbccddeeff"
_MAC = "ab" * 32


def test_full_and_empty():
    s = secrets.check({"wifi_password": "correct horse", "unlock_pin": {"salt": _SALT, "hmac": _MAC}})
    assert s.wifi_password == "correct horse"
    assert s.pin_salt == bytes(range(0, 256, 17)) and s.pin_hmac == b"\xab" * 32
    assert "correct" not in repr(s) and "ab" * 4 not in repr(s)
    e = secrets.check({})
    assert e.wifi_password is None and e.pin_salt is None and e.pin_hmac is None
    assert secrets.load(None).pin_hmac is None


def test_refused_with_the_field_named():
    pin = {"salt": _SALT, "hmac": _MAC}
    for bad, word in (([], "object"), ({"wifi": "x"}, "wifi"),
                      ({"wifi_password": "short"}, "wifi_password"),
                      ({"wifi_password": "x" * 64}, "wifi_password"),
                      ({"unlock_pin": "1234"}, "unlock_pin"),
                      ({"unlock_pin": {"salt": _SALT}}, "unlock_pin"),
                      ({"unlock_pin": dict(pin, pin="1234")}, "unlock_pin"),
                      ({"unlock_pin": dict(pin, salt=_SALT[:-2])}, "salt"),
                      ({"unlock_pin": dict(pin, hmac="zz" * 32)}, "hmac")):
        e = assert_raises(SecretsError, secrets.check, bad)
        assert word in str(e), (bad, str(e))


def test_files():
    path = "_test_secrets.json"
    try:
        with open(path, "w") as f:
            f.write(json.dumps({"wifi_password": "hunter22"}))
        assert secrets.load(path).wifi_password == "hunter22"
        with open(path, "w") as f:
            f.write('{"wifi_password": "hunter22"')
        e = assert_raises(SecretsError, secrets.load, path)
        assert "hunter" not in str(e)
        with open(path, "w") as f:
            f.write(" " * 1025)
        assert_raises(SecretsError, secrets.load, path)
        os.remove(path)
        assert "no secrets file" in str(assert_raises(SecretsError, secrets.load, path))
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
