"""`portier monitor`: the board's serial console, each line stamped with the host's time.

Keys typed go to the board (so the REPL works); Ctrl-] quits, as in miniterm and idf.py monitor.

Structured log lines. A board log line is one JSON object on one line, at least
    {"t": <ticks_ms>, "lvl": "D"|"I"|"W"|"E", "src": "<area>", "msg": "<text>", ...more fields}
and is shown as
    12:04:31.120 +1234.567 W door     unlock refused  reason=pin tries=3
(host time, board uptime in seconds, level, area, message, the other fields as key=value).
Anything else the board prints is shown unchanged after the time stamp.
"""

import json
import os
import select
import sys
import time

QUIT_BYTE = 0x1D  # Ctrl-]
_LEVELS = {"D": "D", "I": "I", "W": "W", "E": "E", "debug": "D", "info": "I", "warning": "W",
           "error": "E"}
_MAX_LINE = 4096  # a board that never sends a newline still gets shown, in pieces
_IDLE_FLUSH_S = 0.15  # a prompt without a newline ("> ") appears after this long


def format_structured(line):
    """The readable form of a structured log line, or None if the line is not one."""
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        rec = json.loads(text)
    except ValueError:
        return None
    if not isinstance(rec, dict) or "msg" not in rec:
        return None
    t = rec.get("t")
    uptime = "+%.3f" % (t / 1000.0) if isinstance(t, (int, float)) else "+?"
    lvl = _LEVELS.get(rec.get("lvl"), str(rec.get("lvl", "?")))
    src = str(rec.get("src", "-"))
    extra = " ".join("%s=%s" % (k, _short(v)) for k, v in rec.items()
                     if k not in ("t", "lvl", "src", "msg"))
    out = "%s %s %-8s %s" % (uptime, lvl, src, rec["msg"])
    return out + ("  " + extra if extra else "")


def _short(v):
    if isinstance(v, str):
        return v if v and " " not in v else json.dumps(v)
    return json.dumps(v)


def stamp(now):
    lt = time.localtime(now)
    return "%02d:%02d:%02d.%03d" % (lt.tm_hour, lt.tm_min, lt.tm_sec, int(now * 1000) % 1000)


class LineStamper:
    """Turns the board's byte stream into stamped, readable text; no I/O, time passed in."""

    def __init__(self):
        self._buf = b""
        self._mid_line = False  # part of the current line was already shown (a prompt)

    def feed(self, data, now):
        """Text for complete lines in data (stamped), keeping an unfinished line back."""
        self._buf += data
        out = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) >= _MAX_LINE:
                    out.append(self._emit(self._buf, now, partial=True))
                    self._buf = b""
                break
            line, self._buf = self._buf[:nl], self._buf[nl + 1:]
            out.append(self._emit(line.rstrip(b"\r"), now, partial=False) + "\n")
        return "".join(out)

    def flush(self, now):
        """Show an unfinished line (a REPL prompt) after the board went quiet."""
        if not self._buf:
            return ""
        text = self._emit(self._buf, now, partial=True)
        self._buf = b""
        return text

    def _emit(self, raw, now, partial):
        text = raw.decode("utf-8", "replace")
        if self._mid_line:
            self._mid_line = partial
            return text
        self._mid_line = partial
        if not partial:
            pretty = format_structured(text)
            if pretty is not None:
                return "%s %s" % (stamp(now), pretty)
        return "%s %s" % (stamp(now), text)


def run(port, stdin_fd=None, out=None, baud=115200, clock=time.time):
    """Console loop until Ctrl-] on stdin_fd (or stdin closing); returns 0."""
    out = sys.stdout if out is None else out
    import serial

    try:
        ser = serial.Serial(port, baud, timeout=0, exclusive=True)
    except serial.SerialException as e:
        from .deploy import port_problem

        raise SystemExit("monitor: %s" % (port_problem(port) or e)) from None
    stdin_fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    restore = _raw_terminal(stdin_fd)
    if restore:
        out = _CrLf(out)  # a raw terminal does not return the carriage by itself
    stamper = LineStamper()
    print("--- portier monitor on %s, Ctrl-] to quit ---" % port, file=out, flush=True)
    try:
        last_rx = clock()
        while True:
            ready, _, _ = select.select([ser.fileno(), stdin_fd], [], [], _IDLE_FLUSH_S)
            now = clock()
            if ser.fileno() in ready:
                data = ser.read(4096)
                if data:
                    out.write(stamper.feed(data, now))
                    out.flush()
                    last_rx = now
            elif now - last_rx >= _IDLE_FLUSH_S:
                text = stamper.flush(now)
                if text:
                    out.write(text)
                    out.flush()
            if stdin_fd in ready:
                keys = os.read(stdin_fd, 256)
                if not keys:
                    break
                cut = keys.find(bytes([QUIT_BYTE]))
                if cut >= 0:
                    if cut:
                        ser.write(keys[:cut])
                    break
                ser.write(keys.replace(b"\n", b"\r"))
    finally:
        if restore:
            restore()
        ser.close()
    print("\n--- monitor closed ---", file=out, flush=True)
    return 0


class _CrLf:
    def __init__(self, out):
        self._out = out

    def write(self, text):
        self._out.write(text.replace("\n", "\r\n"))

    def flush(self):
        self._out.flush()


def _raw_terminal(fd):
    """Puts a terminal in raw mode (keys go straight to the board); returns the undo, or None."""
    if not os.isatty(fd):
        return None
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)
