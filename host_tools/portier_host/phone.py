"""`portier phone`: a household softphone on the firmware's own core (portier.app with the
"phone" profile, on CPython through the shim). It registers with the switchboard, pairs with the
door when it has no session yet, and rings on offers.

A person gets a terminal screen (portier_host.phoneui): the door and the call's state, a ringing
banner with the bell, one-letter commands, the PIN asked for without echo, the call history.
Scripts give --json and get the App's JSON log lines on stdout, and type on stdin:

    call | answer | reject | hangup | pair [JID] | unlock PIN | quit

Audio goes through the sound card when `sounddevice` is installed and finds one (the optional
extra portier-host[audio]), else through WAV files (--mic/--speaker; a microphone WAV of any rate
is converted: portier_host.audiofiles), else it is silence and the user is told so.

The same runner starts any config, so `python -m portier_host.phone --json --config door.json` runs the
door's app on CPython (JSON lines, as the door prints them).
"""

import argparse
import asyncio
import io
import json
import sys

from . import paths

paths.use_firmware()
from portier.hal.board import Board  # noqa: E402


class SoundCardAudio:
    """The sound card through `sounddevice` (the optional extra `portier-host[audio]`: blocking
    raw streams, read and written in worker threads). PortAudio's own converter takes the
    call's 8 or 16 kHz to whatever the card runs at."""

    def __init__(self, rate, sd=None):
        from portier.hal.audio import AudioDevice, AudioError

        sd = sd or _sounddevice()
        AudioDevice.__init__(self, rate)
        try:
            self._in = sd.RawInputStream(samplerate=rate, channels=1, dtype="int16",
                                         blocksize=self.frame_samples)
            self._out = sd.RawOutputStream(samplerate=rate, channels=1, dtype="int16",
                                           blocksize=self.frame_samples)
            self._in.start()
            self._out.start()
        except Exception as e:  # sounddevice.PortAudioError: the app's media start takes OSError
            raise AudioError("sound card: %s" % e) from None
        self.half_duplex = False

    def latency_ms(self):
        return (int(self._in.latency * 1000), int(self._out.latency * 1000))

    async def read_frame(self, buf):
        data, _overflow = await asyncio.to_thread(self._in.read, self.frame_samples)
        data = bytes(data)
        n = min(len(data), self.frame_bytes)
        buf[:n] = data[:n]
        return self.frame_bytes

    async def write_frame(self, buf):
        await asyncio.to_thread(self._out.write, bytes(buf[: self.frame_bytes]))
        return self.frame_bytes

    def close(self):
        for s in (self._in, self._out):
            s.stop()
            s.close()


class PhoneHal(Board):
    """The softphone's board (portier.hal.board): no LED (the state is logged), audio from the sound card, or from
    WAV files (a microphone WAV of any rate, channel count and PCM width is converted to the
    call's rate: portier_host.audiofiles), or silence when there is neither (describe() says
    which, so the user is told)."""

    name = "phone"

    def __init__(self, audio_cfg):
        from portier.hal.vdoor import VirtualDoor

        files = VirtualDoor(audio_cfg)  # the audio config read as the virtual door reads it
        self.mic, self.speaker, self.rate = files.mic, files.speaker, files.rate
        self.realtime, self.loop = files.realtime, files.loop
        self.led_state = None
        self.calls_opened = 0
        self._pcm = {}  # rate -> the microphone file converted to it
        self._converting = None
        if self.mic:
            check_wav(self.mic)
            if self.mic.endswith(".wav"):
                self._convert_ahead()
        self.card_problem = None
        self.use_card = False
        if not (self.mic or self.speaker):
            self.card_problem = card_problem()
            self.use_card = self.card_problem is None

    def led(self, state, now_ms):
        self.led_state = state

    def describe(self):
        """What a call sounds through, for the user; None: silence both ways."""
        if self.use_card:
            return "the sound card"
        if self.mic or self.speaker:
            return "microphone %s, speaker %s" % (self.mic or "(silence)",
                                                  self.speaker or "(discarded)")
        return None

    def audio(self, rate):
        """A fresh audio device for one call. A second call in the same run records to speaker
        path + ".N" so the first call's recording is kept."""
        if self.use_card:
            return SoundCardAudio(rate)
        from portier.hal.virtual import PcmSink, PcmSource, VirtualAudio

        rate = self.rate or rate
        self.calls_opened += 1
        mic = spk = None
        if self.mic:
            mic = PcmSource(self._mic_stream(rate), rate, wav=False, loop=self.loop)
        if self.speaker:
            path = self.speaker
            if self.calls_opened > 1:
                path = "%s.%d" % (path, self.calls_opened)
            spk = PcmSink(open(path, "wb"), rate, path.endswith(".wav"))
        return VirtualAudio(rate, mic, spk, self.realtime)

    def _mic_stream(self, rate):
        if not self.mic.endswith(".wav"):
            return open(self.mic, "rb")  # raw PCM at the call's rate (a pipe, say)
        from . import audiofiles

        if self._converting is not None:
            self._converting.join()  # started at start-up: usually done long before a call
            self._converting = None
        if rate not in self._pcm:  # converted once per rate, not at every call
            self._pcm[rate] = audiofiles.load_pcm16(self.mic, rate)
        return io.BytesIO(self._pcm[rate])

    def _convert_ahead(self):
        """Convert the microphone file to both call rates in a thread from the start: a
        minute of 44.1 kHz stereo takes about a second per rate, which would otherwise stall
        the answer (the first call's media start runs in the event loop)."""
        import threading

        from . import audiofiles

        def work():
            for rate in (self.rate,) if self.rate else (8000, 16000):
                try:
                    self._pcm[rate] = audiofiles.load_pcm16(self.mic, rate)
                except audiofiles.AudioFileError:
                    return  # said again, at the call, by the conversion done there

        self._converting = threading.Thread(target=work, name="mic-convert", daemon=True)
        self._converting.start()


def check_wav(path):
    """A readable PCM WAV file at path, or AudioFileError naming what is wrong."""
    from . import audiofiles

    if not path.endswith(".wav"):
        return
    paths.use_firmware()
    from portier.hal.virtual import WavError, read_wav_header

    try:
        with open(path, "rb") as f:
            read_wav_header(f)
    except (OSError, WavError) as e:
        raise audiofiles.AudioFileError("%s: %s" % (path, getattr(e, "strerror", None) or e)) \
            from None


def _sounddevice():
    import sounddevice

    return sounddevice


def card_problem():
    """None when a sound card can be used, else why not (for the warning)."""
    try:
        sd = _sounddevice()
    except ImportError:
        return "the sound card needs the `sounddevice` module: pip install 'portier-host[audio]'"
    except OSError as e:  # the module is there but PortAudio is not
        return "sounddevice cannot load PortAudio (%s)" % e
    try:
        devices = sd.query_devices()
    except Exception as e:  # sounddevice.PortAudioError
        return "no sound card (%s)" % e
    if not any(d.get("max_input_channels", 0) > 0 for d in devices) or not any(
            d.get("max_output_channels", 0) > 0 for d in devices):
        return "no sound card with both a microphone and a speaker"
    return None


def config_from_args(args):
    """The config dict: --config's file, with any flag given overriding it. ConfigError for a
    file that cannot be read or is not JSON."""
    paths.use_firmware()
    from portier.config import ConfigError

    d = {}
    if args.config:
        try:
            with open(args.config) as f:
                d = json.load(f)
        except OSError as e:
            raise ConfigError("--config %s: %s" % (args.config, e.strerror)) from None
        except ValueError as e:
            raise ConfigError("--config %s is not JSON: %s" % (args.config, e)) from None
        if not isinstance(d, dict):
            raise ConfigError("--config %s is not a JSON object" % args.config)
    d.setdefault("profile", "phone")
    if args.jid:
        d["jid"] = args.jid
    if args.switchboard:
        host, _, port = args.switchboard.rpartition(":")
        if not port.isdigit():
            raise ConfigError("--switchboard must be HOST:PORT, got %r" % args.switchboard)
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


EXAMPLE = """example:
  portier phone --config devices/anna:1@home/phone.json
  portier phone --config devices/anna:1@home/phone.json --mic hello.wav --speaker heard.wav

On the screen: a answer, r reject, o open the door (asks for the PIN), h hang up, c call the
door, l call history, ? help, q quit (Ctrl-D and Ctrl-C too; a call is hung up first).
Audio: the sound card when `sounddevice` is installed (pip install 'portier-host[audio]'),
else the WAV files given (any rate, converted), else silence (and a warning says so)."""


def add_arguments(p):
    p.add_argument("--config", help="JSON config file (portier.config; `portier provision "
                   "--phone` writes one); the flags below override it")
    p.add_argument("--jid", help="this device, e.g. anna:2@home")
    p.add_argument("--switchboard", metavar="HOST:PORT", help="the switchboard to register with")
    p.add_argument("--insecure", action="store_true", help="plain TCP (a --insecure switchboard)")
    p.add_argument("--ca", help="switchboard CA certificate (DER)")
    p.add_argument("--cert", help="this device's certificate (DER)")
    p.add_argument("--key", help="this device's private key (DER)")
    p.add_argument("--store", help="Signal store folder")
    p.add_argument("--pair", metavar="JID", help="pair with this door when not paired yet")
    p.add_argument("--call", metavar="JID", help="whom `call` rings (the door)")
    p.add_argument("--auto-answer", metavar="JID", help="answer calls from this JID at once")
    p.add_argument("--ring-timeout", type=int, metavar="S", help="seconds an outgoing call "
                   "rings (default: the config's, else 30)")
    p.add_argument("--mic", metavar="WAV", help="WAV file played as the microphone (any rate, "
                   "mono or stereo, 8-32 bit PCM; default: the sound card)")
    p.add_argument("--speaker", metavar="WAV", help="WAV file the received audio is written to "
                   "(default: the sound card)")
    p.add_argument("--json", action="store_true", help="no screen: the app's JSON log lines on "
                   "stdout, commands (answer, reject, hangup, call, unlock PIN, quit) on stdin, "
                   "for scripts")
    p.add_argument("--log", metavar="FILE", help="also append the JSON log lines to FILE "
                   "(with the screen)")


def run(config_dict, media_class=None, screen=False, json_log=None):
    """Check the config, then run portier.app until `quit`, end of input, Ctrl-C or SIGTERM
    (each hangs up a call first). screen: the person's terminal screen (portier_host.phoneui)
    instead of JSON lines; only for a phone. Returns the exit code."""
    paths.use_firmware()
    from portier import app, config

    cfg = config.check(config_dict)
    if cfg.profile != "phone":  # the door's app on CPython (the simulator's --door-runtime)
        return asyncio.run(_run_app(app.App(cfg, app.pick_hal(cfg), media_class)))
    hal = PhoneHal(cfg.audio)
    if not screen:
        a = app.App(cfg, hal, media_class)
        if hal.describe() is None:
            a.log("W", "app", "no audio", reason=_silence_warning(hal))
        return asyncio.run(_run_app(a))
    from . import phoneui

    config_dict["control"] = "none"  # the screen reads the terminal, not the App
    cfg = config.check(config_dict)
    ui = phoneui.PhoneScreen(cfg, json_log=json_log)
    return asyncio.run(_run_screen(app.App(cfg, hal, media_class, log=ui.log), ui, hal))


def _silence_warning(hal):
    return "%s; and no --mic/--speaker: calls are silent both ways" % hal.card_problem


async def _run_app(a):
    with _QuitOnSignals(lambda: a.command("quit")):
        await a.run()
    return 0


async def _run_screen(a, ui, hal):
    from portier.net import streams

    ui.start(hal.describe(), None if hal.describe() else _silence_warning(hal))
    with _QuitOnSignals(ui.quit):
        runner = asyncio.create_task(a.run())
        await asyncio.sleep(0)  # the App is running (and can be quit) before input is read
        reader = asyncio.create_task(ui.run_input(a, streams.stdin_lines()))
        try:
            await runner
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    return 0


class _QuitOnSignals:
    """Ctrl-C (SIGINT) and SIGTERM call quit() (a coroutine function) once: the call is hung
    up and the app stops as on `quit`, instead of a KeyboardInterrupt traceback."""

    def __init__(self, quit):
        self._quit = quit
        self._signals = []

    def _fire(self):
        asyncio.ensure_future(self._quit())

    def __enter__(self):
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._fire)
                self._signals.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        return self

    def __exit__(self, *exc):
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        return False


def run_args(args, prog="portier phone"):
    """The command line's parsed args -> exit code: 2 with a one-line reason for a bad config,
    WAV file or flag, 0 when the user leaves."""
    paths.use_firmware()
    from portier.config import ConfigError

    from .audiofiles import AudioFileError

    json_log = None
    try:
        d = config_from_args(args)
        if args.log:
            json_log = open(args.log, "a")
        return run(d, screen=not args.json, json_log=json_log)
    except (ConfigError, AudioFileError) as e:
        print("%s: %s" % (prog, e), file=sys.stderr)
        return 2
    except OSError as e:  # --log's file, say
        print("%s: %s: %s" % (prog, getattr(e, "filename", None) or "", e.strerror or e),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before the app's own handler was installed
        return 130
    finally:
        if json_log is not None:
            json_log.close()


def main(argv=None):
    p = argparse.ArgumentParser(prog="portier phone", description=__doc__.split("\n\n")[0],
                                epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run_args(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
