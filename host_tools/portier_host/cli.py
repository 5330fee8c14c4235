"""The `portier` command."""

import argparse
import sys
import tempfile

from . import __version__, build, paths


def _cmd_compile(args):
    if args.out:
        return _compile_into(args, args.out)
    with tempfile.TemporaryDirectory(prefix="portier-mpy-") as out:
        return _compile_into(args, out)


def _compile_into(args, out):
    compiled, errors = build.compile_firmware(args.firmware, out, args.arch)
    for err in errors:
        print(err, file=sys.stderr)
    if errors:
        print("compile: %d problem(s) in firmware/" % len(errors), file=sys.stderr)
        return 1
    print("compile: %d .mpy files from %s, no problems" % (len(compiled), args.firmware))
    return 0


def _load_secret(path):
    """The relay's token secret: 32 random bytes in a file only its owner can read; made on
    first use so `portier relay` and `portier switchboard` can share one file."""
    import os

    try:
        with open(path, "rb") as f:
            secret = f.read()
    except FileNotFoundError:
        secret = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
    if len(secret) < 16:
        raise SystemExit("relay secret in %s is too short" % path)
    return secret


def _cmd_relay(args):
    import asyncio

    from . import relay

    try:
        asyncio.run(relay.serve_forever(_load_secret(args.secret_file), args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="portier", description="Portier host tools")
    parser.add_argument("--version", action="version", version="portier " + __version__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compile", help="compile firmware/ with mpy-cross and check the subset")
    p.add_argument("--firmware", default=paths.FIRMWARE)
    p.add_argument("--out", help="output folder (default: a temporary one)")
    p.add_argument("--arch", default=build.BOARD_ARCH, help="board arch for native modules")
    p.set_defaults(func=_cmd_compile)

    p = sub.add_parser("relay", help="run the UDP media relay on its own")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3478)
    p.add_argument("--secret-file", required=True, help="token secret shared with the switchboard")
    p.set_defaults(func=_cmd_relay)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
