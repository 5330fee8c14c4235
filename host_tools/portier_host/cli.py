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


def _cmd_switchboard(args):
    import asyncio
    import logging

    from . import provisioning, switchboard

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ctx = None
    secret = _load_secret(args.secret_file) if args.secret_file else None
    if args.provisioning:
        household = provisioning.load_household(args.provisioning)
        provisioning.register_household(args.db, household)
        ctx = household.server_ssl_context()
        secret = secret or household.relay_secret
    elif args.ca or args.cert or args.key:
        if not (args.ca and args.cert and args.key):
            print("switchboard: --ca, --cert and --key go together", file=sys.stderr)
            return 2
        from . import pki

        with open(args.ca, "rb") as f:
            ca_pem = f.read()
        with open(args.key, "rb") as k, open(args.cert, "rb") as c:
            server = pki.Identity.from_pem(k.read(), c.read())
        ctx = provisioning.server_ssl_context(ca_pem, server)
    if ctx is None and not args.insecure:
        print("switchboard: give --provisioning FOLDER or --ca/--cert/--key (or --insecure for "
              "plain TCP on a test network)", file=sys.stderr)
        return 2
    relay_address = None
    if args.relay_address:
        host, _, port = args.relay_address.rpartition(":")
        relay_address = (host, int(port))
    sb = switchboard.Switchboard(args.db, ssl_context=ctx, insecure=args.insecure,
                                 relay_secret=secret, run_relay=relay_address is None,
                                 relay_address=relay_address,
                                 relay_public_host=args.relay_public_host)
    try:
        asyncio.run(switchboard.serve_forever(sb, args.host, args.port, args.relay_host,
                                              args.relay_port))
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_boards_check(args):
    from . import boards

    files = args.files or boards.board_files()
    bad = 0
    for path in files:
        try:
            board = boards.load_board(path)
        except boards.BoardError as e:
            if not args.files and boards.only_unsupported(e.problems):
                # Shipped to say so: listed, not a broken file. Named, it is refused below.
                print("unsupported: %s" % e)
                continue
            bad += 1
            print(str(e), file=sys.stderr)
            continue
        print("ok: %s (%s, %s at 0x%x)" % (path, board.chip.name, board.firmware_name, board.flash_offset))
    if bad:
        print("boards: %d of %d file(s) refused" % (bad, len(files)), file=sys.stderr)
        return 1
    return 0


def _cmd_boards_list(args):
    from . import boards

    for name in boards.board_names():
        try:
            board = boards.load_board(name)
        except boards.BoardError as e:  # a shipped board stock MicroPython cannot drive
            print("%-20s unsupported: %s" % (name, "; ".join(msg for _, msg in e.problems)))
            continue
        print("%-20s %-8s %s" % (name, board.chip.name, board.firmware_name))
    return 0


def _load_board_or_exit(name):
    from . import boards

    try:
        return boards.load_board(name)
    except boards.BoardError as e:
        print(str(e), file=sys.stderr)
        raise SystemExit(2) from None


def _cmd_flash(args):
    from . import deploy, flash

    board = _load_board_or_exit(args.board)
    firmware = args.firmware
    if args.download:
        if args.dry_run:
            print("# would download the newest %s release from %s"
                  % (board.firmware_name, flash.download_page(board)))
            firmware = firmware or "%s-YYYYMMDD-vX.Y.Z.bin" % board.firmware_name
        else:
            try:
                firmware = flash.download(board, args.download_dir or ".")
            except flash.FlashError as e:
                print("flash: %s" % e, file=sys.stderr)
                return 2
            print("flash: downloaded %s" % firmware)
    if not firmware:
        print("flash: give --firmware FILE.bin (or --download); %s" % flash.download_hint(board),
              file=sys.stderr)
        return 2
    commands = flash.esptool_commands(board, args.port, firmware, args.baud)
    if args.dry_run:
        for cmd in commands:
            print(flash.format_command(cmd))
        return _dry_run_deploy(args.port, board, args.device)
    try:
        if args.device:  # a bad bundle is found before the board is erased
            deploy.DeviceBundle(args.device).check_board(board)
        flash.check_image(board, firmware)
        problem = deploy.port_problem(args.port)
        if problem:
            raise flash.FlashError(problem)
        flash.run_esptool(commands)
    except (flash.FlashError, deploy.DeployError) as e:
        print("flash: %s" % e, file=sys.stderr)
        return 1
    return _deploy(args.port, board, wait_s=10, device_dir=args.device, frozen=args.frozen)


def _deploy(port, board, wait_s=0, device_dir=None, frozen=False):
    import time

    from . import deploy

    deadline = time.monotonic() + wait_s
    while True:
        try:
            deploy.deploy(port, board, device_dir=device_dir, frozen=frozen)
            return 0
        except deploy.PortError as e:
            if time.monotonic() < deadline:  # the board is still booting after esptool's reset
                time.sleep(0.5)
                continue
            print("deploy: %s" % e, file=sys.stderr)
            return 1
        except deploy.DeployError as e:
            print("deploy: %s" % e, file=sys.stderr)
            return 1


def _cmd_deploy(args):
    board = _load_board_or_exit(args.board) if args.board else None
    if args.dry_run:
        if board is None:
            print("deploy: --dry-run needs --board (the board is not asked)", file=sys.stderr)
            return 2
        return _dry_run_deploy(args.port, board, args.device)
    return _deploy(args.port, board, device_dir=args.device, frozen=args.frozen)


def _dry_run_deploy(port, board, device_dir):
    from . import deploy

    try:
        deploy.dry_run_commands(port, board, device_dir=device_dir)
    except deploy.DeployError as e:
        print("deploy: %s" % e, file=sys.stderr)
        return 1
    return 0


def _cmd_provision(args):
    from . import provision

    return provision.main(args)


def _cmd_log(args):
    from . import boardlog

    return boardlog.main(args)


def _cmd_vboard(args):
    import signal
    import threading

    from .vboard import VirtualBoard

    folder = args.dir or tempfile.mkdtemp(prefix="portier-flash-")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    with VirtualBoard(folder, heapsize=args.heapsize, run_main=not args.no_main) as vb:
        print("vboard: %s (flash folder %s, button/relay/LED files in %s); Ctrl-C to stop"
              % (vb.port, folder, vb.io_dir), flush=True)
        try:
            while not done.wait(0.5):
                if vb.error:
                    print("vboard: %s" % vb.error, file=sys.stderr)
                    return 1
        except KeyboardInterrupt:
            pass
    return 0


def _cmd_monitor(args):
    from . import monitor

    return monitor.run(args.port, baud=args.baud)


def _cmd_sim(args):
    from . import sim

    if args.door_device:
        return sim.main_external(args)
    return sim.main(args)


def _cmd_phone(args):
    from . import phone

    return phone.run_args(args)


_FROZEN_HELP = ("the board's MicroPython has portier frozen in (docs/frozen.md): copy only "
                "main.py and boot.py, remove portier/ from its filesystem")


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

    p = sub.add_parser("switchboard", help="run the household signalling server (and the relay)")
    p.add_argument("--db", required=True, help="SQLite database (created on first run)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5222)
    p.add_argument("--relay-host", default="127.0.0.1", help="in-process relay's UDP address")
    p.add_argument("--relay-port", type=int, default=3478)
    p.add_argument("--relay-public-host", help="IPv4 address devices reach the relay at "
                   "(default: --relay-host; 127.0.0.1 for 0.0.0.0)")
    p.add_argument("--relay-address", help="HOST:PORT of a relay started on its own "
                   "(no in-process relay then; share --secret-file with it)")
    p.add_argument("--secret-file", help="relay token secret file (default: the database's)")
    p.add_argument("--provisioning", help="a household folder made by provisioning")
    p.add_argument("--ca", help="switchboard CA certificate (PEM)")
    p.add_argument("--cert", help="switchboard server certificate (PEM)")
    p.add_argument("--key", help="switchboard server key (PEM)")
    p.add_argument("--insecure", action="store_true",
                   help="plain TCP, JID taken from <hello> (loopback tests only)")
    p.set_defaults(func=_cmd_switchboard)

    p = sub.add_parser("boards", help="board files: check or list them")
    bsub = p.add_subparsers(dest="boards_command", required=True)
    q = bsub.add_parser("check", help="validate board files (default: every file in boards/)")
    q.add_argument("files", nargs="*", metavar="FILE")
    q.set_defaults(func=_cmd_boards_check)
    q = bsub.add_parser("list", help="the shipped board files")
    q.set_defaults(func=_cmd_boards_list)

    p = sub.add_parser("flash", help="erase, write MicroPython at the board's offset, then deploy")
    p.add_argument("--port", required=True)
    p.add_argument("--board", required=True, help="a name in boards/ or a board file")
    p.add_argument("--firmware", help="the MicroPython .bin for the board")
    p.add_argument("--download", action="store_true",
                   help="fetch the official build (or say which file to get when offline)")
    p.add_argument("--download-dir", help="where --download puts the file (default: .)")
    p.add_argument("--baud", type=int, default=460800)
    p.add_argument("--dry-run", action="store_true", help="print the esptool and mpremote commands")
    p.add_argument("--device", help="deploy this device bundle too (`portier provision`)")
    p.add_argument("--frozen", action="store_true", help=_FROZEN_HELP)
    p.set_defaults(func=_cmd_flash)

    p = sub.add_parser("deploy", help="copy the compiled firmware to a board (changed files only)")
    p.add_argument("--port", required=True)
    p.add_argument("--board", help="a name in boards/ or a board file (checked against the board)")
    p.add_argument("--dry-run", action="store_true", help="print the mpremote commands")
    p.add_argument("--device", help="also copy this device bundle (`portier provision`)")
    p.add_argument("--frozen", action="store_true", help=_FROZEN_HELP)
    p.set_defaults(func=_cmd_deploy)

    p = sub.add_parser("provision", help="make a door's bundle: keys, certificates, config, "
                                         "secrets; registered with the switchboard")
    from . import provision

    provision.add_arguments(p)
    p.set_defaults(func=_cmd_provision)

    p = sub.add_parser("log", help="fetch and print the board's call log and door log")
    p.add_argument("--port", required=True)
    p.add_argument("--no-reset", action="store_true",
                   help="leave the board at its prompt (default: reset it so the door runs again)")
    p.set_defaults(func=_cmd_log)

    p = sub.add_parser("vboard", help="a virtual board: real MicroPython on a pty for mpremote")
    p.add_argument("--dir", help="its flash folder (default: a new temporary one)")
    p.add_argument("--heapsize", help="MicroPython heap, e.g. 256k (default: micropython's)")
    p.add_argument("--no-main", action="store_true", help="do not run main.py at boot")
    p.set_defaults(func=_cmd_vboard)

    p = sub.add_parser("monitor", help="serial console with time stamps; Ctrl-] quits")
    p.add_argument("--port", required=True)
    p.add_argument("--baud", type=int, default=115200)
    p.set_defaults(func=_cmd_monitor)

    from . import phone

    p = sub.add_parser("phone", help="a household softphone: a terminal screen to answer the "
                       "door, talk and open it (--json for scripts)", epilog=phone.EXAMPLE,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    phone.add_arguments(p)
    p.set_defaults(func=_cmd_phone)

    from . import simreport

    p = sub.add_parser("sim", help="a whole household on loopback playing one call scenario")
    p.add_argument("--door-device", metavar="DIR", help="play against a running virtual board "
                   "instead: the door bundle deployed to it (`portier provision --board vboard`)")
    p.add_argument("--door-port", metavar="PORT", help="with --door-device: the board's port")
    p.add_argument("--door-pins", metavar="DIR", help="with --door-device: its pins folder "
                   "(printed by `portier vboard`)")
    p.add_argument("--household-dir", help="with --door-device: the household folder it was "
                   "provisioned into (default households/<household>)")
    p.add_argument("--db", help="with --door-device: the switchboard database (default "
                   "<household-dir>/switchboard.db)")
    p.add_argument("--scenario", choices=simreport.SCENARIOS, default="answered")
    p.add_argument("--phones", type=int, default=1, choices=range(1, 9), metavar="N")
    p.add_argument("--ring-timeout", type=int, default=5, metavar="S",
                   help="ring timeout in seconds (default 5; the devices' own default is 30)")
    p.add_argument("--door-runtime", choices=("micropython", "cpython"), default="micropython")
    p.add_argument("--talk", type=float, default=3.0, metavar="S", help="seconds of conversation")
    p.add_argument("--out", help="keep everything (configs, keys, logs, WAVs) in this folder")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--door-heap", default="384k", metavar="SIZE",
                   help="the MicroPython door's -X heapsize (default 384k)")
    p.add_argument("--mem-log", type=int, metavar="MS",
                   help="the MicroPython door logs gc.mem_alloc()/mem_free() every MS ms")
    p.set_defaults(func=_cmd_sim)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
