"""`portier phone`'s screen: what a person at a terminal sees and types.

The App's log lines (portier.app: link, engine and app events) come in through log(); they
become short sentences with the time of day, and a ringing door becomes a banner with the
terminal bell, rung again every few seconds until the call is answered or gone. The prompt
shows the door and the call's state. Input is one short command a line (a letter or a word);
the door's PIN is asked for on its own line with the terminal's echo off.

`--json` bypasses this module: scripts get the App's JSON lines as they are.
"""

import asyncio
import json
import os
import sys
import time

from .boardlog import local_time

BELL_EVERY_S = 3.0

# (command, key, what it does): the help text and the dispatch table.
COMMANDS = (
    ("answer", "a", "answer the ringing door"),
    ("reject", "r", "decline the ringing call"),
    ("open", "o", "open the door during a call (asks for the PIN; it is not shown)"),
    ("hangup", "h", "end the call"),
    ("call", "c", "call the door"),
    ("history", "l", "the call history"),
    ("pair", "p", "pair with the door again"),
    ("help", "?", "this list"),
    ("quit", "q", "leave (a call is hung up first); Ctrl-D and Ctrl-C leave too"),
)
_ALIASES = {"unlock": "open", "exit": "quit", "decline": "reject", "hang": "hangup",
            "log": "history", "calls": "history"}

# What an ended call's outcome means to the person, by direction (portier.signaling.calllog).
_ENDED_IN = {
    "answered": "call ended",
    "missed": "MISSED: the door rang and nobody answered",
    "declined": "you declined the call",
    "busy": "declined as busy",
    "answered_elsewhere": "answered on another device",
    "declined_elsewhere": "declined on another device",
    "failed": "the call failed",
}
_ENDED_OUT = {
    "answered": "call ended",
    "declined": "the door declined the call",
    "busy": "the door is busy",
    "unanswered": "the door did not answer",
    "cancelled": "call cancelled",
    "failed": "the call failed",
}
_UNLOCK_REASONS = {
    "wrong_pin": "wrong PIN",
    "locked_out": "too many wrong PINs: the door is locked",
    "not_set_up": "the door has no PIN set",
    "no_call": "no call with the door",
    "not_answerer": "only the device that answered may open",
    "no_strike": "this door has no strike",
}


def resolve(word):
    """A typed word -> the command it names, or None."""
    word = word.lower()
    word = _ALIASES.get(word, word)
    for name, key, _ in COMMANDS:
        if word == name or word == key:
            return name
    return None


def help_lines():
    return ["commands (a letter or the word):"] + [
        "  %s  %-8s %s" % (key, name, what) for name, key, what in COMMANDS]


def _duration(s):
    s = int(s or 0)
    return "%d:%02d" % (s // 60, s % 60)


class PhoneScreen:
    """cfg: the phone's portier.config.Config; out: the terminal (a text stream); fd: the
    input's file descriptor (echo is switched off there for the PIN); json_log: an open file
    that gets the App's JSON lines too (--log), or None."""

    def __init__(self, cfg, out=None, fd=0, json_log=None, bell_every_s=BELL_EVERY_S):
        self.cfg = cfg
        self.out = out or sys.stdout
        self.fd = fd
        self.tty = self.out.isatty() and os.environ.get("TERM") != "dumb"
        self.json_log = json_log
        self.bell_every_s = bell_every_s
        self.door = cfg.call or (cfg.pair_with[0] if cfg.pair_with else None)
        self.link = "connecting"
        self.call = None  # {"dir", "peer", "state": ringing|calling|talking, "since"}
        self.history = []  # this run's calls, when the config keeps no call log file
        self.app = None
        self._bell = None
        self._quitting = False
        self._exit = 0

    # ---- output ----

    def _write(self, text):
        self.out.write(text)
        self.out.flush()

    def say(self, text, style=None):
        """One line with the time of day, then the prompt again (nothing once quitting: the
        link's own goodbye is no news to a person who left)."""
        if self._quitting:
            return
        stamp = time.strftime("%H:%M:%S")
        if self.tty:
            line = "\r\x1b[K%s  %s" % (stamp, text)
            if style:
                line = "\r\x1b[K%s  %s%s\x1b[0m" % (stamp, style, text)
        else:
            line = "%s  %s" % (stamp, text)
        self._write(line + "\n" + self.prompt())

    def prompt(self):
        if self._quitting:
            return ""
        door = self.door or "no door"
        call = self.call
        if call is None:
            state = "idle" if self.link == "ready" else self.link
        elif call["state"] == "ringing":
            state = "RINGING: a answer, r reject"
        elif call["state"] == "calling":
            state = "calling, h hang up"
        else:
            state = "talking %s: o open, h hang up" % _duration(time.monotonic() - call["since"])
        return "[%s | %s] > " % (door, state)

    def banner(self, peer):
        width = 46
        rows = ["", "THE DOOR IS RINGING", peer, "", "a = answer     r = reject", ""]
        lines = ["#" * width] + ["#%s#" % r.center(width - 2) for r in rows] + ["#" * width]
        if self.tty:
            body = "".join("\r\x1b[K\x1b[1;7m%s\x1b[0m\n" % line for line in lines)
        else:
            body = "".join(line + "\n" for line in lines)
        self._write("\a" + body + self.prompt())

    def start(self, hal_description, warning=None):
        lines = ["Portier phone %s" % self.cfg.jid,
                 "door %s, switchboard %s:%d" % (self.door or "(none set)", self.cfg.host,
                                                self.cfg.port),
                 "audio: %s" % (hal_description or "none (silence)"),
                 "type help (or ?) for the commands"]
        self._write("".join(line + "\n" for line in lines))
        if warning:
            self._write("WARNING: %s\n" % warning)
        self._write(self.prompt())

    # ---- the App's log lines ----

    def log(self, lvl, src, msg, fields):
        """The App's log hook (portier.app.App(log=...))."""
        if self.json_log is not None:  # the lines --json prints, kept for a bug report
            d = {"t": time.ticks_ms(), "lvl": lvl, "src": src, "msg": msg}
            d.update(fields)
            self.json_log.write(json.dumps(d) + "\n")
            self.json_log.flush()
        handler = getattr(self, "_on_%s_%s" % (src, msg.replace(" ", "_")), None)
        if handler is not None:
            handler(fields)
        elif lvl in ("W", "E") and src != "link":
            extra = fields.get("error") or fields.get("reason") or ""
            self.say("warning: %s%s" % (msg, ": %s" % extra if extra else ""))

    def _on_link_ready(self, f):
        if self.link != "ready":
            self.link = "ready"
            self.say("connected to the switchboard")

    def _on_link_link_down(self, f):
        self._offline()

    def _on_link_reconnect(self, f):
        self._offline("retrying in %d s" % max(1, round(f.get("wait_ms", 0) / 1000)))

    def _on_link_switchboard_refused(self, f):
        self.say("the switchboard refused this phone: %s" % f.get("reason"), "\x1b[1m")

    def _offline(self, detail=None):
        if self.link == "offline":
            return
        was = self.link
        self.link = "offline"
        what = "cannot reach the switchboard" if was == "connecting" else "switchboard link lost"
        self.say("%s%s" % (what, ", %s" % detail if detail else ""))

    def _on_app_paired(self, f):
        self.say("paired with %s" % f.get("device"))

    def _on_app_pair_failed(self, f):
        self.say("pairing with %s failed: %s" % (f.get("device"), f.get("error")))

    def _on_app_command_refused(self, f):
        self.say("cannot %s: %s" % (f.get("cmd"), f.get("error")))

    def _on_app_media_failed(self, f):
        self.say("no audio in this call: %s" % f.get("error"), "\x1b[1m")

    def _on_app_unlock_sent(self, f):
        self.say("asking the door to open ...")

    def _on_app_unlock_result(self, f):
        if f.get("result") == "opened":
            self.say("DOOR OPENED", "\x1b[1;7m")
            return
        why = _UNLOCK_REASONS.get(f.get("reason"), f.get("reason") or f.get("result"))
        retry = f.get("retry_after_s")
        self.say("the door stays shut: %s%s" % (why, " (try again in %d s)" % retry if retry
                                                  else ""), "\x1b[1m")

    def _on_app_missed_ring(self, f):
        """The door tells of a ring it could not place while the switchboard was away."""
        when = time.strftime("%H:%M:%S", time.localtime(f["start"])) if f.get("start") else \
            "%d s ago" % (f.get("ago_s") or 0)
        self._write("\a")
        self.say("MISSED while the switchboard was away: %s rang at %s" % (f.get("peer"), when),
                 "\x1b[1m")

    def _on_app_call_log(self, f):
        self.history.append({"dir": f.get("direction"), "peer": f.get("peer"),
                             "outcome": f.get("outcome"), "reason": f.get("reason"),
                             "start": f.get("start"), "duration": f.get("duration")})

    def _on_engine_event(self, f):
        kind, peer = f.get("kind"), f.get("peer")
        incoming = f.get("direction") == "in"
        if kind == "ringing":
            self.call = {"dir": f.get("direction"), "peer": peer,
                         "state": "ringing" if incoming else "calling", "since": time.monotonic()}
            if incoming:
                self.banner(peer)
                self._ring_bell()
            else:
                self.say("calling %s ..." % peer)
        elif kind == "answered":
            self._stop_bell()
            if self.call is not None:
                self.call.update(state="talking", since=time.monotonic())
            self.say("talking to %s (o: open the door, h: hang up)" % peer, "\x1b[1m")
        elif kind == "ended":
            self._stop_bell()
            self.call = None
            table = _ENDED_IN if incoming else _ENDED_OUT
            text = table.get(f.get("outcome"), f.get("outcome"))
            if f.get("outcome") == "answered":
                text += " after %s" % _duration(f.get("duration_s"))
            elif f.get("reason") and f.get("outcome") == "failed":
                text += " (%s)" % f.get("reason")
            self.say("%s (%s)" % (text, peer), "\x1b[1m" if f.get("outcome") == "missed" else None)

    # ---- the bell ----

    def _ring_bell(self):
        self._stop_bell()
        try:
            self._bell = asyncio.ensure_future(self._bell_loop())
        except RuntimeError:  # no running loop (a unit test feeding log lines)
            self._bell = None

    async def _bell_loop(self):
        while True:
            await asyncio.sleep(self.bell_every_s)
            if self.call is None or self.call["state"] != "ringing":
                return
            self._write("\a")

    def _stop_bell(self):
        bell, self._bell = self._bell, None
        if bell is not None:
            bell.cancel()

    # ---- input ----

    async def run_input(self, app, lines):
        """Read commands until quit or end of input; lines: an object with `await
        readline()` (portier.net.streams.stdin_lines())."""
        self.app = app
        while not self._quitting:
            line = await lines.readline()
            if not line:
                if not self._quitting:
                    self._write("\n")
                await self.quit()
                return
            words = line.decode(errors="replace").split()
            if words:
                await self.command(words[0], words[1:], lines)
            elif not self._quitting:
                self._write(self.prompt())

    async def command(self, word, args, lines=None):
        name = resolve(word)
        if name is None:
            self.say("unknown command %r; commands: %s" % (
                word, ", ".join("%s (%s)" % (n, k) for n, k, _ in COMMANDS)))
            return
        if name == "help":
            for line in help_lines():
                self._write(("\r\x1b[K" if self.tty else "") + line + "\n")
            self._write(self.prompt())
        elif name == "quit":
            await self.quit()
        elif name == "history":
            self.show_history()
        elif name == "open":
            await self._open(args, lines)
        else:
            await self.app.command(name, args)
            if name == "pair":
                self.say("pairing with %s ..." % (args[0] if args else self.door))

    async def _open(self, args, lines):
        if args:  # typed on the line (a script): taken as it is
            return await self.app.command("unlock", args[:1])
        if self.app.engine.answered_call() is None:
            return self.say("cannot open: no answered call from the door")
        if lines is None:
            return self.say("open needs the PIN")
        self._write(("\r\x1b[K" if self.tty else "") + "PIN (not shown): ")
        with NoEcho(self.fd):
            line = await lines.readline()
        self._write("\n")
        pin = line.decode(errors="replace").strip()
        if not pin:
            return self.say("no PIN: the door stays shut")
        await self.app.command("unlock", [pin])

    def show_history(self):
        entries = self._history_entries()
        if not entries:
            return self.say("no calls yet")
        rows = ["call history (oldest first):"]
        for e in entries:
            what = e.get("outcome")
            if e.get("outcome") == "answered":
                what = "answered %s" % _duration(e.get("duration"))
            rows.append("  %s  %-3s %-20s %s" % (local_time(e.get("start")), e.get("dir"),
                                                 e.get("peer"), what))
        for row in rows:
            self._write(("\r\x1b[K" if self.tty else "") + row + "\n")
        self._write(self.prompt())

    def _history_entries(self):
        if not self.cfg.call_log:
            return self.history
        from portier.signaling.calllog import CallLog

        log = CallLog(self.cfg.call_log, self.cfg.call_log_max)
        try:
            log.load()
        except ValueError as e:
            self.say("call log %s unreadable: %s" % (self.cfg.call_log, e))
            return self.history
        return log.entries()

    async def quit(self):
        if self._quitting:
            return
        if self.call is not None:
            self.say("hanging up ...")
        self._quitting = True
        self._stop_bell()
        if self.app is not None:
            await self.app.command("quit")
        self._write(("\r\x1b[K" if self.tty else "") + "bye\n")


class NoEcho:
    """`with NoEcho(fd):` the terminal on fd does not echo what is typed (the PIN); nothing
    happens when fd is no terminal (a pipe, a file)."""

    def __init__(self, fd):
        self.fd = fd
        self._saved = None

    def __enter__(self):
        try:
            import termios

            if os.isatty(self.fd):
                self._saved = termios.tcgetattr(self.fd)
                quiet = termios.tcgetattr(self.fd)
                quiet[3] &= ~termios.ECHO
                termios.tcsetattr(self.fd, termios.TCSADRAIN, quiet)
        except (ImportError, OSError):
            self._saved = None
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except OSError:
                pass
        return False
