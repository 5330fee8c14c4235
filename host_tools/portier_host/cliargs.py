"""What every `portier` subcommand shares: help that shows each option's default, argument
types that name a bad value in one line (argparse then exits 2), and the last line of defence
that turns an interruption, a closed output pipe or an operating-system error into a one-line
reason and an exit status instead of a traceback (2 usage, 1 runtime, 130 Ctrl-C)."""

import argparse
import os
import re
import sys

MPY_ARCHS = ("x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
             "xtensa", "xtensawin", "rv32imc")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs as written (examples keep their lines); every option's help ends with its
    default when it has one and does not say it already."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS
                or "default" in text or action.option_strings == [] and action.nargs == "*"):
            return text
        return "%s (default: %%(default)s)" % text if text else "default: %(default)s"


def port(text):
    """A TCP/UDP port number (0: any free one)."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError("%r is not a port number (0-65535)" % text)
    return n


def int_in(lo, hi):
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or not lo <= n <= hi:
            raise argparse.ArgumentTypeError("%r is not a whole number in %d..%d" % (text, lo, hi))
        return n

    return parse


def seconds(text):
    """A duration in seconds, 0 or more."""
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 <= v <= 86400:
        raise argparse.ArgumentTypeError("%r is not a number of seconds (0-86400)" % text)
    return v


def household_files(p, note=""):
    """--household-dir and --db: a household's folder and its switchboard database, where
    `portier provision` makes them; note: what this command does with them."""
    p.add_argument("--household-dir", metavar="DIR", help="the switchboard's household folder "
                   "(default: households/HOUSEHOLD)" + note)
    p.add_argument("--db", metavar="FILE", help="the switchboard database (default: "
                   "HOUSEHOLD-DIR/switchboard.db)" + note)


def heap_size(text):
    """A MicroPython -X heapsize: digits with an optional k or m."""
    if not re.fullmatch(r"[1-9][0-9]*[kKmM]?", text or ""):
        raise argparse.ArgumentTypeError("%r is not a heap size like 256k or 2m" % text)
    return text


def existing_dir(text):
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError("%r is not a folder" % text)
    return text


def host_port(text):
    host, sep, p = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError("%r is not HOST:PORT" % text)
    return host.strip("[]"), port(p)


def _hosts(args):
    return ["%s=%s" % (k.replace("_", "-"), v) for k, v in sorted(vars(args).items())
            if k.endswith("host") and isinstance(v, str)]


def run(func, args, prog):
    """func(args) -> exit status, with interruptions and system errors as one line."""
    import socket

    try:
        return func(args)
    except KeyboardInterrupt:
        print("\n%s: interrupted" % prog, file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): say nothing more on stdout, whose buffered rest
        # would fail again at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 1
    except socket.gaierror as e:
        print("%s: %s (%s)" % (prog, e.strerror or e, ", ".join(_hosts(args)) or "a host name"),
              file=sys.stderr)
        return 1
    except OSError as e:
        where = e.filename or ""
        print("%s: %s%s" % (prog, "%s: " % where if where else "", e.strerror or e),
              file=sys.stderr)
        return 1
