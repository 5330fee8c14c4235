"""Every `portier` subcommand as a user meets it: help for every option (defaults shown) and an
example; bad values, interruptions (Ctrl-C) and a closed output pipe end with a one-line reason
and the exit status of the convention (2 usage, 1 runtime, 0 or 130 after Ctrl-C), never a
traceback. The subcommands are read from the parser, so a new one is checked too."""

import argparse
import os
import signal
import subprocess
import sys
import time

import pytest

from portier_host import cli

PORTIER = os.path.join(os.path.dirname(sys.executable), "portier")
_BAD = ("Traceback", "Fatal Python error", "Exception ignored")


def _subparsers(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _subparsers(sub, path + (name,))
                else:
                    yield path + (name,), sub


def _run(tmp_path, *args, timeout=120):
    proc = subprocess.run([PORTIER] + list(args), cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, HOME=str(tmp_path)))
    for word in _BAD:
        assert word not in proc.stderr + proc.stdout, (args, proc.stderr)
    return proc


COMMANDS = sorted(_subparsers(cli.build_parser()))


@pytest.mark.parametrize("path,parser", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_option_has_help_and_every_command_an_example(path, parser):
    text = parser.format_help()
    assert "example" in (parser.epilog or "") or "example" in text, path
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or "-h" in action.option_strings:
            continue
        assert action.help, (path, action.option_strings or action.dest)
        if action.default not in (None, False) and action.nargs != "*":
            assert "default" in parser._get_formatter()._format_action(action), (path, action.dest)


def test_every_command_has_a_working_help(tmp_path):
    for path, _ in COMMANDS:
        proc = _run(tmp_path, *(path + ("--help",)))
        assert proc.returncode == 0 and proc.stdout.startswith("usage: portier"), path


# (arguments, exit status, a word the one-line reason must hold)
BAD_VALUES = [
    (["compile", "--firmware", "/nonexistent"], 2, "'/nonexistent' is not a folder"),
    (["compile", "--arch", "bogus"], 2, "invalid choice: 'bogus'"),
    (["relay", "--secret-file", "s", "--port", "99999"], 2, "'99999' is not a port number"),
    (["relay", "--secret-file", "/nonexistent/s", "--port", "0"], 1, "/nonexistent/s"),
    (["relay", "--secret-file", "s", "--host", "no.such.host.invalid", "--port", "0"], 1,
     "host=no.such.host.invalid"),
    (["switchboard", "--db", "sb.db", "--port", "70000", "--insecure"], 2, "'70000'"),
    (["switchboard", "--db", "sb.db", "--provisioning", "/nonexistent"], 2, "/nonexistent"),
    (["switchboard", "--db", "/nonexistent/dir/sb.db", "--insecure", "--port", "0"], 1,
     "/nonexistent/dir/sb.db"),
    (["switchboard", "--db", "sb.db", "--insecure", "--host", "no.such.host.invalid",
      "--port", "0", "--relay-port", "0"], 1, "no.such.host.invalid"),
    (["switchboard", "--db", "sb.db", "--relay-address", "nohostport"], 2, "HOST:PORT"),
    (["switchboard", "--db", "sb.db"], 2, "--provisioning"),
    (["boards", "check", "/nonexistent.json"], 1, "no such board file"),
    (["flash", "--port", "/dev/nonexistent", "--board", "nope", "--dry-run"], 2, "nope"),
    (["flash", "--port", "/dev/nonexistent", "--board", "esp32-devkitc", "--baud", "fast"], 2,
     "'fast'"),
    (["flash", "--port", "/dev/nonexistent", "--board", "esp32-devkitc", "--firmware",
      "/nonexistent.bin"], 1, "/nonexistent.bin"),
    (["deploy", "--port", "/dev/nonexistent"], 1, "/dev/nonexistent"),
    (["deploy", "--port", "/dev/null", "--device", "/nonexistent"], 1, "/nonexistent"),
    (["provision", "--board", "nope", "--wifi", "w", "--switchboard", "h:1", "--household",
      "home"], 2, "nope"),
    (["provision", "--board", "vboard", "--wifi", "w", "--switchboard", "h:99999",
      "--household", "home"], 2, "h:99999"),
    (["secrets", "--device", "/nonexistent", "--pin"], 2, "/nonexistent"),
    (["log", "--port", "/dev/nonexistent"], 1, "/dev/nonexistent"),
    (["vboard", "--heapsize", "lots"], 2, "'lots' is not a heap size"),
    (["vboard", "--dir", "/proc/no/such/flash"], 1, "/proc/no"),
    (["vboard", "--mic", "/nonexistent/visitor.wav"], 2, "/nonexistent/visitor.wav"),
    (["monitor", "--port", "/dev/nonexistent"], 1, "/dev/nonexistent"),
    (["monitor", "--port", "/dev/null", "--baud", "abc"], 2, "'abc'"),
    (["phone", "--config", "/nonexistent.json"], 2, "/nonexistent.json"),
    (["phone", "--switchboard", "nohost"], 2, "'nohost'"),
    (["bridge", "--config", "/nonexistent.json"], 2, "/nonexistent.json"),
    (["devices", "list", "--household", "nope"], 2, "households/nope/switchboard.db"),
    (["devices", "remove", "anna", "--household", "nope"], 2, "households/nope"),
    (["sim", "--phones", "0"], 2, "invalid choice: 0"),
    (["sim", "--ring-timeout", "0"], 2, "'0' is not a whole number in 1..600"),
    (["sim", "--talk", "-1"], 2, "'-1' is not a number of seconds"),
    (["sim", "--door-heap", "abc"], 2, "'abc' is not a heap size"),
    (["sim", "--door-device", "/nonexistent", "--door-port", "x", "--door-pins", "y"], 2,
     "/nonexistent"),
    (["sim", "--door-device", "d"], 2, "--door-port"),
    (["sim", "--door-runtime", "cpython", "--out", "/proc/no/such/dir"], 1, "/proc/no"),
]


@pytest.mark.parametrize("args,status,word", BAD_VALUES, ids=[" ".join(a[:3]) for a, _, _ in BAD_VALUES])
def test_bad_values_give_one_line_and_the_conventional_status(tmp_path, args, status, word):
    proc = _run(tmp_path, *args)
    assert proc.returncode == status, (args, proc.returncode, proc.stderr)
    assert word in proc.stderr, (args, proc.stderr)
    reason = [line for line in proc.stderr.splitlines() if word in line]
    assert reason, proc.stderr


def test_every_command_is_in_the_bad_value_table():
    tried = set(a[0] for a, _, _ in BAD_VALUES)
    assert set(p[0] for p, _ in COMMANDS) <= tried


# Long-running commands and the line that says they are up; Ctrl-C then ends them.
RUNNING = [
    (["relay", "--secret-file", "s", "--port", "0"], None),
    (["switchboard", "--db", "sb.db", "--insecure", "--port", "0", "--relay-port", "0"], None),
    (["vboard", "--dir", "flash"], "Ctrl-C to stop"),
    (["phone", "--jid", "anna:1@home", "--switchboard", "127.0.0.1:9", "--insecure", "--store",
      "e2e"], "cannot reach"),
    (["phone", "--json", "--jid", "anna:1@home", "--switchboard", "127.0.0.1:9", "--insecure",
      "--store", "e2e"], "reconnect"),
    (["sim", "--door-runtime", "cpython", "--talk", "20"], None),
]


@pytest.mark.parametrize("args,ready", RUNNING, ids=[a[0] + (" json" if "--json" in a else "")
                                                     for a, _ in RUNNING])
def test_ctrl_c_ends_cleanly(tmp_path, args, ready):
    proc = subprocess.Popen([PORTIER] + args, cwd=str(tmp_path), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, HOME=str(tmp_path)))
    import threading

    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        if ready is not None:
            deadline = time.monotonic() + 30
            while (not any(ready in line for line in lines) and time.monotonic() < deadline
                   and proc.poll() is None):
                time.sleep(0.05)
            assert any(ready in line for line in lines), "".join(lines)
        else:
            time.sleep(3)
        assert proc.poll() is None, "ended by itself"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(10)
        rest = "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 130), (args, proc.returncode, rest)
    for word in _BAD:
        assert word not in (rest or ""), (args, rest)


@pytest.mark.parametrize("args", [["boards", "list"], ["boards", "list", "--json"], ["--help"],
                                  ["sim", "--help"], ["boards", "check"]])
def test_a_closed_output_pipe_is_no_traceback(tmp_path, args):
    proc = subprocess.Popen([PORTIER] + args, cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # `| head -0`: the reader is gone before the first line
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 1), (args, proc.returncode, err)
    for word in _BAD:
        assert word not in err, (args, err)


def test_boards_list_json(tmp_path):
    import json

    proc = _run(tmp_path, "boards", "list", "--json")
    rows = json.loads(proc.stdout)
    assert {"name": "esp32-devkitc", "chip": "esp32", "firmware": "ESP32_GENERIC"} in rows
