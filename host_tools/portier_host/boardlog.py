"""`portier log --port P`: the board's call log and door log, fetched over mpremote and printed
one line per entry (or, with --json, as one JSON document).

The board is asked once (`mpremote resume exec`): it reads its portier.json for the two paths
(`call_log`, `door_log`) and prints each file between markers. Entering the raw REPL interrupts
the running door (mpremote's Ctrl-C), so the board is reset afterwards and the door runs again,
unless --no-reset. It says so first, and on a terminal asks before it stops the door (a call
in progress would end); scripts and --yes are not asked. Both logs are JSON objects holding a list of flat entries (calls.json:
{"v": 1, "calls": [...]}, portier.signaling.calllog; the door log: {"v": 1, "entries": [...]},
portier.doorlog); every key of an entry is shown, its time (a call's "start", a door event's
"time", UNIX seconds) as local time.
"""

import json
import sys
import time

from . import deploy

# Run on the board. Prints: NOCONFIG | per log: "LOG <key> <path>" then ABSENT, or BEGIN, the
# file in 512-byte pieces, END on a line of its own.
_FETCH = """\
import json
try:
    with open('portier.json') as _f:
        _c = json.load(_f)
except (OSError, ValueError):
    _c = None
if not isinstance(_c, dict):
    print('NOCONFIG')
else:
    for _k in ('call_log', 'door_log'):
        _p = _c.get(_k)
        print('LOG', _k, _p)
        if not _p:
            continue
        try:
            _f = open(_p)
        except OSError:
            print('ABSENT')
            continue
        print('BEGIN')
        while True:
            _s = _f.read(512)
            if not _s:
                break
            print(_s, end='')
        _f.close()
        print('')
        print('END')
"""

LOGS = (("call_log", "calls", "start", "call"), ("door_log", "entries", "time", "door"))


class LogError(Exception):
    pass


def parse_fetch(text):
    """{config key: (path, entries list or None when the file is absent)}; LogError if the
    board has no config or a log is unreadable."""
    if "NOCONFIG" in text.split():
        raise LogError("the board has no readable portier.json: provision it and deploy the "
                       "bundle (`portier deploy --port PORT --device DIR`)")
    out = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        parts = lines[i].strip().split(" ", 2)
        i += 1
        if parts[0] != "LOG" or len(parts) != 3:
            continue
        key, path = parts[1], parts[2]
        if path == "None":
            out[key] = (None, None)
            continue
        if i < len(lines) and lines[i].strip() == "ABSENT":
            out[key] = (path, None)
            i += 1
            continue
        if i >= len(lines) or lines[i].strip() != "BEGIN":
            raise LogError("the board's answer for %s was cut short" % path)
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "END":
            body.append(lines[i])
            i += 1
        out[key] = (path, _entries(path, "\n".join(body), key))
    return out


def _entries(path, text, key):
    list_key = dict((k, lk) for k, lk, _, _ in LOGS)[key]
    try:
        doc = json.loads(text)
    except ValueError:
        raise LogError("%s on the board is not JSON (a torn write?)" % path) from None
    entries = doc.get(list_key) if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise LogError("%s on the board holds no %r list" % (path, list_key))
    return entries


def local_time(t):
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0:
        return "(no clock)         "
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _value(v):
    if isinstance(v, str):
        return v if v and " " not in v and "=" not in v else json.dumps(v)
    return json.dumps(v)


# Keys shown first, in this order; every other key follows, sorted (a board's json.dumps
# writes a dict in its hash order, so the file's order says nothing).
_FIRST = ("event", "dir", "peer", "outcome", "reason", "duration")


def _key_order(k):
    return (_FIRST.index(k), "") if k in _FIRST else (len(_FIRST), k)


def format_entry(entry, time_key, kind):
    keys = sorted((k for k in entry if k != time_key), key=_key_order)
    rest = " ".join("%s=%s" % (k, _value(entry[k])) for k in keys)
    return "%s  %-4s  %s" % (local_time(entry.get(time_key)), kind, rest)


def render(logs):
    """The printed lines for parse_fetch's result; LogError when the board has no log at all."""
    lines = []
    found = False
    for key, _, time_key, kind in LOGS:
        path, entries = logs.get(key, (None, None))
        if path is None:
            lines.append("%s log: not configured (no %s in portier.json)" % (kind, key))
            continue
        if entries is None:
            lines.append("%s log %s: none yet" % (kind, path))
            continue
        found = True
        lines.append("%s log %s: %d entr%s" % (kind, path, len(entries),
                                                "y" if len(entries) == 1 else "ies"))
        lines.extend("  " + format_entry(e, time_key, kind) for e in entries)
    if not found:
        raise LogError("the board has no log yet (%s)" % "; ".join(lines))
    return lines


def fetch(port, reset=True, out=None):
    """Ask the board; returns parse_fetch's result. deploy.DeployError for port trouble."""
    out = sys.stderr if out is None else out
    problem = deploy.port_problem(port)
    if problem:
        raise deploy.PortError(problem)
    mp = deploy.Mpremote(port, out)
    try:
        text = mp.run(["exec", _FETCH])
    finally:
        if reset:
            try:
                mp.run(["reset"])
            except deploy.DeployError as e:
                print("log: could not reset the board: %s" % e, file=out)
    return parse_fetch(text)


def render_json(logs):
    """parse_fetch's result as one JSON document: {"call_log": {"path", "entries"}, ...};
    entries is null for a log not written yet, path null for one not configured."""
    doc = {}
    for key, _, _, _ in LOGS:
        path, entries = logs.get(key, (None, None))
        doc[key] = {"path": path, "entries": entries}
    return json.dumps(doc, indent=1)


def warning(reset):
    return ("log: reading the logs stops the door's program (a call in progress ends); %s"
            % ("the board is reset afterwards and the door starts again" if reset else
               "with --no-reset the board stays at its prompt until it is reset"))


def confirm(reset, ask=input, tty=None):
    """Say what reading does to the door; on a terminal, ask first. -> True to go on."""
    print(warning(reset), file=sys.stderr)
    if not (sys.stdin.isatty() if tty is None else tty):
        return True  # a script: it asked for the logs
    try:
        answer = ask("Read the logs now? [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def main(args):
    problem = deploy.port_problem(args.port)
    if problem:
        print("log: %s" % problem, file=sys.stderr)
        return 1
    if not args.yes and not confirm(not args.no_reset):
        print("log: not read; the door runs on", file=sys.stderr)
        return 1
    try:
        logs = fetch(args.port, reset=not args.no_reset)
        lines = None if args.json else render(logs)
    except (LogError, deploy.DeployError) as e:
        print("log: %s" % e, file=sys.stderr)
        return 1
    if args.json:
        print(render_json(logs))
        return 0
    for line in lines:
        print(line)
    return 0


EXAMPLE = """examples:
  portier log --port /dev/ttyUSB0
  portier log --port /dev/ttyUSB0 --yes --json > door-logs.json"""


def add_arguments(p):
    p.add_argument("--port", required=True, help="the board's serial port (a virtual board's "
                   "pty too)")
    p.add_argument("--no-reset", action="store_true",
                   help="leave the board at its prompt (default: reset it so the door runs again)")
    p.add_argument("--yes", action="store_true", help="do not ask on a terminal before "
                   "stopping the door's program (scripts are not asked)")
    p.add_argument("--json", action="store_true", help="both logs as one JSON document, "
                   "entries as the board stores them")
