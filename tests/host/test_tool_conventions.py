"""Conventions every host tool keeps: secrets the tools write inside the repository are
ignored by git, and `--help` only helps (bench/run.py --help used to start the whole
benchmark and rewrite bench/report.md)."""

import os
import subprocess
import sys

from portier_host import paths


def test_git_ignores_every_secret_provision_writes_in_the_repository():
    # the default places `portier provision` writes to (provision.py: households/<name>,
    # devices/<jid>), with the files that hold keys and the WLAN password
    secret = ["households/home/ca.key.pem", "households/home/server.key.pem",
              "households/home/relay.secret", "households/home/switchboard.db",
              "devices/door:1@home/secrets.json", "devices/door:1@home/key.der",
              "devices/door:1@home/keys/identity", "devices/anna:1@home/phone.json"]
    proc = subprocess.run(["git", "check-ignore", "--no-index"] + secret, cwd=paths.REPO,
                          capture_output=True, text=True)
    assert sorted(proc.stdout.split()) == sorted(secret), proc.stdout + proc.stderr


def test_bench_help_helps_and_runs_nothing(tmp_path):
    report = os.path.join(paths.REPO, "bench", "report.md")
    before = os.stat(report).st_mtime_ns
    proc = subprocess.run([sys.executable, os.path.join(paths.REPO, "bench", "run.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: bench/run.py")
    assert "--quick" in proc.stdout and "default: bench/" in proc.stdout
    assert os.stat(report).st_mtime_ns == before
    bad = subprocess.run([sys.executable, os.path.join(paths.REPO, "bench", "run.py"), "nosuch"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no benchmark named nosuch" in bad.stderr
    assert "Traceback" not in bad.stderr and os.stat(report).st_mtime_ns == before
