"""`portier provision --bridge` and `portier bridge`'s refusals: a bundle whose config the
bridge loads, no traceback for a user's mistake."""

import json
import os
import stat
import subprocess
import sys

from portier_host.bridge import app as bridge_app


def _cli(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "portier_host.cli"] + list(args), cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PORTIER_HOUSEHOLD_PASSPHRASE="household words",
                                   **(env or {})))


def test_provision_bridge_writes_a_config_the_bridge_loads(tmp_path):
    p = _cli("provision", "--bridge", "--switchboard", "127.0.0.1:5222", "--household", "home",
             "--sip-registrar", "sip:192.168.1.1", "--sip-target", "sip:**9@192.168.1.1",
             cwd=tmp_path, env={"PORTIER_SIP_PASSWORD": "pbx-secret"})
    assert p.returncode == 0, p.stderr
    path = tmp_path / "devices" / "bridge:1@home" / "bridge.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the SIP password
    d = json.loads(path.read_text())
    d["sip"]["bind"] = "192.168.1.10"
    path.write_text(json.dumps(d))
    cfg, sc = bridge_app.load(str(path))
    assert cfg.jid == "bridge:1@home" and list(cfg.pair_with) == ["door:1@home"]
    assert sc.password == "pbx-secret" and sc.targets == ["sip:**9@192.168.1.1"]


def test_bridge_refuses_bad_configs_without_traceback(tmp_path):
    assert _cli("provision", "--bridge", "--switchboard", "127.0.0.1:5222", "--household",
                "home", cwd=tmp_path).returncode == 0
    path = tmp_path / "devices" / "bridge:1@home" / "bridge.json"
    d = json.loads(path.read_text())
    cases = [dict(d["sip"], bind="127.0.0.1"),  # registrar and targets left empty
             dict(d["sip"], bind="0.0.0.0", registrar="sip:pbx", targets=["sip:a@pbx"]),
             dict(d["sip"], bind="127.0.0.1", mode="registrar", phones={})]
    for sip, why in zip(cases, ["sip.registrar", "not a LAN address", "digest authentication"]):
        path.write_text(json.dumps(dict(d, sip=sip)))
        p = _cli("bridge", "--config", str(path), cwd=tmp_path)
        assert p.returncode == 2 and why in p.stderr and "Traceback" not in p.stderr, p.stderr
    p = _cli("bridge", "--config", str(tmp_path / "nothing.json"), cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
