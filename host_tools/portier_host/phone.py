"""`portier phone`: a household softphone on the firmware's own core (portier.app with the
"phone" profile, on CPython through the shim). It registers with the switchboard, pairs with the
door when it has no session yet, rings on offers, and takes terminal lines:

    call | answer | reject | hangup | pair [JID] | unlock PIN | quit

`unlock PIN` asks the door to open during a door call this phone answered (docs/protocol.md
section 10); the door's answer is printed as an "unlock result" line.

Audio goes through WAV files (--mic/--speaker, portier.hal.virtual.VirtualAudio); without WAV
paths and with the `sounddevice` module importable it uses the sound card (not tested here).
Every stanza and engine event is printed as a JSON line, as the door does.

The same runner starts any config, so `portier phone --config door.json` runs the door's app
on CPython (the simulator's `--door-runtime cpython`).
"""

import argparse
import asyncio
import json
import sys

from . import paths


class SoundCardAudio:
    """The sound card through `sounddevice` (blocking raw streams read in a worker thread).
    Optional and untested in this repository's suite: no sound card on the test machines."""

    def __init__(self, rate):
        import sounddevice as sd

        from portier.hal.audio import AudioDevice

        AudioDevice.__init__(self, rate)
        self._in = sd.RawInputStream(samplerate=rate, channels=1, dtype="int16",
                                     blocksize=self.frame_samples)
        self._out = sd.RawOutputStream(samplerate=rate, channels=1, dtype="int16",
                                       blocksize=self.frame_samples)
        self._in.start()
        self._out.start()
        self.half_duplex = False

    def latency_ms(self):
        return (int(self._in.latency * 1000), int(self._out.latency * 1000))

    async def read_frame(self, buf):
        data, _overflow = await asyncio.to_thread(self._in.read, self.frame_samples)
        buf[: self.frame_bytes] = bytes(data)[: self.frame_bytes]

    async def write_frame(self, buf):
        await asyncio.to_thread(self._out.write, bytes(buf[: self.frame_bytes]))

    def close(self):
        for s in (self._in, self._out):
            s.stop()
            s.close()


class PhoneHal:
    """The softphone's HAL: no LED (the state is logged), audio from WAV files or the card."""

    name = "phone"

    def __init__(self, audio_cfg):
        from portier.hal.vdoor import VirtualDoor

        self._files = VirtualDoor(audio_cfg)
        self.use_card = not (audio_cfg.get("mic") or audio_cfg.get("speaker")) and _have_card()

    def led(self, state, now_ms):
        self._files.led(state, now_ms)

    def audio(self, rate):
        if self.use_card:
            return SoundCardAudio(rate)
        return self._files.audio(rate)


def _have_card():
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):  # OSError: the module is there but PortAudio is not
        return False
    return True


def config_from_args(args):
    """The config dict: --config's file, with any flag given overriding it."""
    d = {}
    if args.config:
        with open(args.config) as f:
            d = json.load(f)
    d.setdefault("profile", "phone")
    if args.jid:
        d["jid"] = args.jid
    if args.switchboard:
        host, _, port = args.switchboard.rpartition(":")
        d["switchboard"] = dict(d.get("switchboard") or {}, host=host or "127.0.0.1",
                                port=int(port))
    if args.insecure:
        d["switchboard"] = dict(d.get("switchboard") or {}, insecure=True)
    if args.ca or args.cert or args.key:
        d["tls"] = {"ca": args.ca, "cert": args.cert, "key": args.key}
    if args.store:
        d["e2e_store"] = args.store
    if args.pair:
        d["pair_with"] = [args.pair]
    if args.call:
        d["call"] = args.call
    if args.mic or args.speaker:
        d["audio"] = {"mic": args.mic, "speaker": args.speaker}
    if args.auto_answer:
        d["auto_answer"] = [args.auto_answer]
    if args.ring_timeout:
        d["ring_timeout_s"] = args.ring_timeout
    d["control"] = "stdin"
    return d


def add_arguments(p):
    p.add_argument("--config", help="JSON config file (portier.config); flags override it")
    p.add_argument("--jid", help="this device, e.g. anna:2@home")
    p.add_argument("--switchboard", metavar="HOST:PORT")
    p.add_argument("--insecure", action="store_true", help="plain TCP (a --insecure switchboard)")
    p.add_argument("--ca", help="switchboard CA certificate (DER)")
    p.add_argument("--cert", help="this device's certificate (DER)")
    p.add_argument("--key", help="this device's private key (DER)")
    p.add_argument("--store", help="Signal store folder")
    p.add_argument("--pair", metavar="JID", help="pair with this door when not paired yet")
    p.add_argument("--call", metavar="JID", help="whom `call` rings (the door)")
    p.add_argument("--auto-answer", metavar="JID")
    p.add_argument("--ring-timeout", type=int, metavar="S")
    p.add_argument("--mic", help="WAV file played as the microphone")
    p.add_argument("--speaker", help="WAV file the received audio is written to")


def run(config_dict, media_class=None):
    """Check the config, then run portier.app until `quit` or end of input."""
    paths.use_firmware()
    from portier import app, config

    cfg = config.check(config_dict)
    hal = PhoneHal(cfg.audio) if cfg.profile == "phone" else app.pick_hal(cfg)
    a = app.App(cfg, hal, media_class)
    asyncio.run(a.run())
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="portier phone", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    args = p.parse_args(argv)
    paths.use_firmware()
    from portier.config import ConfigError

    try:
        return run(config_from_args(args))
    except ConfigError as e:
        print("portier phone: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
