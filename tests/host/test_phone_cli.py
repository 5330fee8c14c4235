"""`portier phone`: flags and a config file become one checked portier.config; bad input is a
clean error (exit 2), not a traceback."""

import json
import subprocess
import sys

from portier_host import paths, phone
from portier_host.cli import build_parser

paths.use_firmware()

from portier import config  # noqa: E402


def _args(argv):
    return build_parser().parse_args(["phone"] + argv)


def test_flags_make_a_phone_config(tmp_path):
    d = phone.config_from_args(_args([
        "--jid", "anna:2@home", "--switchboard", "127.0.0.1:5223", "--ca", "ca.der", "--cert",
        "c.der", "--key", "k.der", "--store", str(tmp_path / "e2e"), "--pair", "door:1@home",
        "--call", "door:1@home", "--mic", "in.wav", "--speaker", "out.wav", "--ring-timeout", "5"]))
    cfg = config.check(d)
    assert cfg.profile == "phone" and cfg.control == "stdin"
    assert (cfg.host, cfg.port, cfg.insecure) == ("127.0.0.1", 5223, False)
    assert cfg.pair_with == ("door:1@home",) and cfg.call == "door:1@home"
    assert cfg.audio["mic"] == "in.wav" and cfg.ring_timeout_ms == 5000


def test_flags_override_the_file(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"jid": "anna:2@home", "e2e_store": "e2e", "profile": "phone",
                             "switchboard": {"host": "h", "port": 1, "insecure": True}}))
    cfg = config.check(phone.config_from_args(_args(["--config", str(f), "--switchboard", ":7"])))
    assert cfg.port == 7 and cfg.host == "127.0.0.1" and cfg.insecure


def test_bad_config_exits_2_with_a_message(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "portier_host.cli", "phone", "--jid", "anna",
                           "--switchboard", "h:1", "--insecure", "--store", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "portier phone:" in proc.stderr and "anna" in proc.stderr
