"""The `portier` command."""

import argparse
import sys
import tempfile

from . import __version__, build, cliargs, paths


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
    from .switchboard_db import DbError

    try:
        return _run_switchboard(args)
    except DbError as e:
        print("switchboard: %s" % e, file=sys.stderr)
        return 1


def _run_switchboard(args):
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
    relay_address = args.relay_address  # (host, port) or None
    from . import sblimits

    changes = dict((k, v) for k, v in (("max_links", args.max_links),
                                       ("unauthenticated", args.max_unauthenticated),
                                       ("per_address", args.max_per_address)) if v is not None)
    limits = sblimits.PRESETS[args.limits].replace(**changes)
    sb = switchboard.Switchboard(args.db, ssl_context=ctx, insecure=args.insecure,
                                 relay_secret=secret, run_relay=relay_address is None,
                                 relay_address=relay_address,
                                 relay_public_host=args.relay_public_host, limits=limits)
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

    rows = []
    for name in boards.board_names():
        try:
            board = boards.load_board(name)
        except boards.BoardError as e:  # a shipped board stock MicroPython cannot drive
            rows.append({"name": name, "unsupported": "; ".join(msg for _, msg in e.problems)})
            continue
        rows.append({"name": name, "chip": board.chip.name, "firmware": board.firmware_name})
    if args.json:
        import json

        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        if "unsupported" in r:
            print("%-20s unsupported: %s" % (r["name"], r["unsupported"]))
        else:
            print("%-20s %-8s %s" % (r["name"], r["chip"], r["firmware"]))
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


def _deploy(port, board, wait_s=0, device_dir=None, frozen=False, as_json=False):
    import time

    from . import deploy

    deadline = time.monotonic() + wait_s
    while True:
        try:
            # --json: the progress lines go to stderr, the result alone to stdout
            result = deploy.deploy(port, board, device_dir=device_dir, frozen=frozen,
                                   out=sys.stderr if as_json else None)
            if as_json:
                import json

                print(json.dumps({"port": port, "copied": result.copied,
                                  "removed": result.removed, "arch": result.state.arch,
                                  "free_bytes": result.state.free_bytes}, indent=1))
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
    return _deploy(args.port, board, device_dir=args.device, frozen=args.frozen,
                   as_json=args.json)


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


def _cmd_secrets(args):
    from . import doorsecrets

    return doorsecrets.main(args)


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
        if args.mic:
            from . import audiofiles, vboard

            try:
                vboard.set_mic(vb.io_dir, args.mic)
            except audiofiles.AudioFileError as e:
                print("vboard: --mic: %s" % e, file=sys.stderr)
                return 2
        print("vboard: %s (flash folder %s, button/relay/LED files in %s); Ctrl-C to stop"
              % (vb.port, folder, vb.io_dir), flush=True)
        print("vboard: the door's microphone hears %s; its speaker plays into %s"
              % (args.mic or "silence", vb.io_dir + "/speaker.wav"), flush=True)
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


def _cmd_bridge(args):
    from .bridge import app as bridge

    return bridge.main(args)


def _deploy_options(p, dry_run_help):
    """What `flash` and `deploy` share: both end in a deploy."""
    p.add_argument("--dry-run", action="store_true", help=dry_run_help)
    p.add_argument("--device", metavar="DIR", help="deploy this device bundle too (`portier "
                   "provision`)")
    p.add_argument("--frozen", action="store_true", help="the board's MicroPython has portier "
                   "frozen in (docs/frozen.md): copy only main.py and boot.py, remove portier/ "
                   "from its filesystem")


def _sub(sub, name, help, example, **kw):
    """A subcommand's parser: its help, defaults shown, and an example (or several) after it."""
    epilog = example if example.startswith("example") else "example:\n  " + example
    return sub.add_parser(name, help=help, description=kw.pop("description", help),
                          epilog=epilog, formatter_class=cliargs.Formatter, **kw)


def build_parser():
    parser = argparse.ArgumentParser(prog="portier", description="Portier host tools",
                                     epilog="`portier COMMAND --help` shows a command's options "
                                     "and an example", formatter_class=cliargs.Formatter)
    parser.add_argument("--version", action="version", version="portier " + __version__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _sub(sub, "compile", "compile firmware/ with mpy-cross and check the subset",
             "portier compile --out build/mpy")
    p.add_argument("--firmware", default=paths.FIRMWARE, type=cliargs.existing_dir,
                   metavar="DIR", help="the firmware folder")
    p.add_argument("--out", metavar="DIR", help="output folder (default: a temporary one)")
    p.add_argument("--arch", default=build.BOARD_ARCH, choices=cliargs.MPY_ARCHS,
                   help="board arch for native and viper modules")
    p.set_defaults(func=_cmd_compile)

    p = _sub(sub, "relay", "run the UDP media relay on its own",
             "portier relay --host 0.0.0.0 --port 3478 --secret-file relay.secret")
    p.add_argument("--host", default="127.0.0.1", help="the UDP address to listen on")
    p.add_argument("--port", type=cliargs.port, default=3478, help="the UDP port")
    p.add_argument("--secret-file", required=True, metavar="FILE",
                   help="token secret shared with the switchboard (made on first use, 0600)")
    p.set_defaults(func=_cmd_relay)

    p = _sub(sub, "switchboard", "run the household signalling server (and the relay)",
             "portier switchboard --provisioning households/home --db "
             "households/home/switchboard.db --host 0.0.0.0 --relay-host 0.0.0.0 "
             "--relay-public-host 192.168.1.10")
    p.add_argument("--db", required=True, metavar="FILE", help="SQLite database (created on "
                   "first run)")
    p.add_argument("--host", default="127.0.0.1", help="the TCP address devices connect to")
    p.add_argument("--port", type=cliargs.port, default=5222, help="the TCP port")
    p.add_argument("--relay-host", default="127.0.0.1", help="in-process relay's UDP address")
    p.add_argument("--relay-port", type=cliargs.port, default=3478, help="in-process relay's "
                   "UDP port")
    p.add_argument("--relay-public-host", metavar="IPV4", help="address devices reach the "
                   "relay at (default: --relay-host; 127.0.0.1 for 0.0.0.0)")
    p.add_argument("--relay-address", type=cliargs.host_port, metavar="HOST:PORT",
                   help="a relay started on its own (no in-process relay then; share "
                   "--secret-file with it)")
    p.add_argument("--secret-file", metavar="FILE", help="relay token secret file (default: "
                   "the household's, or the database's)")
    p.add_argument("--provisioning", type=cliargs.existing_dir, metavar="DIR",
                   help="a household folder made by `portier provision`")
    p.add_argument("--ca", metavar="PEM", help="switchboard CA certificate (instead of "
                   "--provisioning)")
    p.add_argument("--cert", metavar="PEM", help="switchboard server certificate")
    p.add_argument("--key", metavar="PEM", help="switchboard server key")
    p.add_argument("--insecure", action="store_true",
                   help="plain TCP, JID taken from <hello> (loopback tests only)")
    p.add_argument("--limits", choices=("household", "building"), default="household",
                   help="connection limits: household (64 connections, 32 not yet "
                   "authenticated, 8 of those per address) or building (4096, 256, 16); "
                   "docs/security.md section 4")
    p.add_argument("--max-links", type=cliargs.int_in(1, 100000), metavar="N",
                   help="connections in all (default: the --limits preset's)")
    p.add_argument("--max-unauthenticated", type=cliargs.int_in(1, 100000), metavar="N",
                   help="connections that have not yet said <hello> (default: the preset's)")
    p.add_argument("--max-per-address", type=cliargs.int_in(1, 100000), metavar="N",
                   help="of those, from one IP address (default: the preset's)")
    p.set_defaults(func=_cmd_switchboard)

    from . import devices

    p = _sub(sub, "devices", "the household's devices: list, remove (a lost phone), revoke",
             devices.EXAMPLE)
    devices.add_arguments(p)
    p.set_defaults(func=devices.main)

    p = _sub(sub, "boards", "board files: check or list them", "portier boards list")
    bsub = p.add_subparsers(dest="boards_command", required=True, metavar="check|list")
    q = bsub.add_parser("check", help="validate board files (default: every file in boards/)",
                        epilog="example:\n  portier boards check boards/my-board.json",
                        formatter_class=cliargs.Formatter)
    q.add_argument("files", nargs="*", metavar="FILE", help="board files (default: boards/*.json)")
    q.set_defaults(func=_cmd_boards_check)
    q = bsub.add_parser("list", help="the shipped board files", formatter_class=cliargs.Formatter,
                        epilog="example:\n  portier boards list --json")
    q.add_argument("--json", action="store_true", help="one JSON list of the boards")
    q.set_defaults(func=_cmd_boards_list)

    p = _sub(sub, "flash", "erase, write MicroPython at the board's offset, then deploy",
             "portier flash --port /dev/ttyUSB0 --board esp32-devkitc --download --device "
             "devices/door:1@home --dry-run")
    p.add_argument("--port", required=True, help="the board's serial port")
    p.add_argument("--board", required=True, help="a name in boards/ or a board file")
    p.add_argument("--firmware", metavar="BIN", help="the MicroPython .bin for the board")
    p.add_argument("--download", action="store_true",
                   help="fetch the official build (or say which file to get when offline)")
    p.add_argument("--download-dir", metavar="DIR", help="where --download puts the file "
                   "(default: .)")
    p.add_argument("--baud", type=cliargs.int_in(9600, 5000000), default=460800,
                   help="esptool's baud rate")
    _deploy_options(p, "print the esptool and mpremote commands, run nothing")
    p.set_defaults(func=_cmd_flash)

    p = _sub(sub, "deploy", "copy the compiled firmware to a board (changed files only)",
             "portier deploy --port /dev/ttyUSB0 --device devices/door:1@home")
    p.add_argument("--port", required=True, help="the board's serial port (a virtual board's "
                   "pty too)")
    p.add_argument("--board", help="a name in boards/ or a board file (checked against the board)")
    _deploy_options(p, "print the mpremote commands, run nothing (needs --board)")
    p.add_argument("--json", action="store_true", help="the result (files copied and removed) "
                   "as JSON on stdout; progress on stderr")
    p.set_defaults(func=_cmd_deploy)

    from . import provision

    p = _sub(sub, "provision", "make a door's (or a softphone's) bundle: keys, certificates, "
             "config, secrets; registered with the switchboard", provision.EXAMPLE)

    provision.add_arguments(p)
    p.set_defaults(func=_cmd_provision)

    from . import doorsecrets

    p = _sub(sub, "secrets", "change a door's unlock PIN or Wi-Fi in its bundle (keys and "
             "pairings kept), for `portier deploy`", doorsecrets.EXAMPLE,
             description=doorsecrets.__doc__.split("\n\n")[0])
    doorsecrets.add_arguments(p)
    p.set_defaults(func=_cmd_secrets)

    from . import boardlog

    p = _sub(sub, "log", "fetch and print the board's call log and door log (stops the door's "
             "program meanwhile: it asks first on a terminal)", boardlog.EXAMPLE)
    boardlog.add_arguments(p)
    p.set_defaults(func=_cmd_log)

    p = _sub(sub, "vboard", "a virtual board: real MicroPython on a pty for mpremote",
             "portier vboard --dir /tmp/flash --heapsize 512k")
    p.add_argument("--dir", metavar="DIR", help="its flash folder (default: a new temporary one)")
    p.add_argument("--heapsize", type=cliargs.heap_size, metavar="SIZE",
                   help="MicroPython heap, e.g. 256k (default: micropython's)")
    p.add_argument("--no-main", action="store_true", help="do not run main.py at boot")
    p.add_argument("--mic", metavar="WAV",
                   help="what the door's microphone hears in each call: the visitor's voice, "
                        "any PCM WAV (default: silence)")
    p.set_defaults(func=_cmd_vboard)

    p = _sub(sub, "monitor", "serial console with time stamps; Ctrl-] quits",
             "portier monitor --port /dev/ttyUSB0")
    p.add_argument("--port", required=True, help="the board's serial port")
    p.add_argument("--baud", type=cliargs.int_in(300, 5000000), default=115200,
                   help="the port's baud rate")
    p.set_defaults(func=_cmd_monitor)

    from . import phone

    p = _sub(sub, "phone", "a household softphone: a terminal screen to answer the door, talk "
             "and open it (--json for scripts)", phone.EXAMPLE)
    phone.add_arguments(p)
    p.set_defaults(func=_cmd_phone)

    p = _sub(sub, "bridge", "answer the door on SIP phones: a household device that rings a "
             "PBX extension or its own registered phones (docs/sip.md)",
             "portier bridge --config devices/bridge:1@home/bridge.json")
    p.add_argument("--config", required=True, metavar="FILE", help="the bridge's config file (`portier "
                   "provision --bridge` writes one; docs/sip.md)")
    p.set_defaults(func=_cmd_bridge)

    from . import simreport

    p = _sub(sub, "sim", "a whole household on loopback playing one call scenario",
             "examples:\n  portier sim --scenario answered --phones 3 --json\n"
             "  portier sim --scenario unlock --door-device devices/door:1@lab --door-port "
             "/dev/pts/5 --door-pins PINS --household-dir households/lab")
    p.add_argument("--door-device", metavar="DIR", help="play against a running virtual board "
                   "instead: the door bundle deployed to it (`portier provision --board vboard`)")
    p.add_argument("--door-port", metavar="PORT", help="with --door-device: the board's port")
    p.add_argument("--door-pins", metavar="DIR", help="with --door-device: its pins folder "
                   "(printed by `portier vboard`)")
    cliargs.household_files(p, "; with --door-device: the door's, only read")
    p.add_argument("--scenario", choices=simreport.SCENARIOS, default="answered",
                   help="the call to play")
    p.add_argument("--phones", type=int, default=1, choices=range(1, 9), metavar="N",
                   help="softphones in the household, 1-8")
    p.add_argument("--ring-timeout", type=cliargs.int_in(1, 600), default=5, metavar="S",
                   help="ring timeout in seconds (the devices' own default is 30)")
    p.add_argument("--door-runtime", choices=("micropython", "cpython"), default="micropython",
                   help="what runs the door's firmware")
    p.add_argument("--talk", type=cliargs.seconds, default=3.0, metavar="S",
                   help="seconds of conversation")
    p.add_argument("--out", metavar="DIR", help="keep everything (configs, keys, logs, WAVs) "
                   "in this folder (default: a temporary one, removed after a clean run)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--door-heap", default="384k", type=cliargs.heap_size, metavar="SIZE",
                   help="the MicroPython door's -X heapsize")
    p.add_argument("--mem-log", type=cliargs.int_in(1, 60000), metavar="MS",
                   help="the MicroPython door logs gc.mem_alloc()/mem_free() every MS ms")
    p.set_defaults(func=_cmd_sim)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return cliargs.run(args.func, args, "portier %s" % args.command)


if __name__ == "__main__":
    sys.exit(main())
