"""Board files (boards/*.json): load them and refuse a broken one with the field named.

A board file says which chip and MicroPython build a board runs, where the firmware image goes
in flash, and which GPIO does what. A wrong GPIO is not a harmless typo on these chips: a relay
on a strapping pin can click the door open while the board boots, an input-only pin cannot drive
a clock, two functions on one pin fight each other. So every file is checked against the chip's
facts before anything is flashed or deployed.

Chip facts (ESP-IDF datasheets and MicroPython's ports/esp32/boards/*/board.json):
- flash offset of the MicroPython image: ESP32 and S2 0x1000; S3, C3 0x0;
- ESP32: GPIO 6-11 wired to the SPI flash, 16-17 to PSRAM on WROVER modules, 34-39 input-only
  and without internal pulls, strapping pins 0, 2, 5, 12, 15;
- ESP32-S3: GPIO 26-32 flash/PSRAM, 33-37 also taken by octal PSRAM, strapping 0, 3, 45, 46;
- I2S controllers: 2 on ESP32 and S3, 1 on S2 and C3 (machine.I2S drives one direction per
  controller, so a single controller means a shared, half-duplex bus).
"""

import glob
import json
import os

from . import paths

BOARDS_DIR = os.path.join(paths.REPO, "boards")


class BoardError(ValueError):
    """A board file that cannot be used; .problems lists (field, message) pairs."""

    def __init__(self, source, problems):
        self.source = source
        self.problems = problems
        lines = ["%s: %s: %s" % (source, field, msg) for field, msg in problems]
        super().__init__("\n".join(lines))


class Chip:
    def __init__(self, name, esptool_chip, flash_offset, gpios, flash_pins, input_only,
                 no_pull, strapping, i2s_count, mpy_arch, mp_boards, psram_pins=None):
        self.name = name
        self.esptool_chip = esptool_chip
        self.flash_offset = flash_offset
        self.gpios = frozenset(gpios)
        self.flash_pins = frozenset(flash_pins)
        self.input_only = frozenset(input_only)
        self.no_pull = frozenset(no_pull)
        self.strapping = frozenset(strapping)
        self.i2s_count = i2s_count
        self.mpy_arch = mpy_arch
        self.mp_boards = mp_boards  # MicroPython board name -> allowed variants
        self.psram_pins = psram_pins or {}  # psram kind -> pins it takes


def _r(a, b):
    return list(range(a, b + 1))


CHIPS = {
    "esp32": Chip(
        "esp32", "esp32", 0x1000,
        gpios=_r(0, 19) + _r(21, 23) + _r(25, 27) + _r(32, 39),
        flash_pins=_r(6, 11), input_only=_r(34, 39), no_pull=_r(34, 39),
        strapping=[0, 2, 5, 12, 15], i2s_count=2, mpy_arch="xtensawin",
        mp_boards={
            "ESP32_GENERIC": {None, "SPIRAM", "D2WD", "UNICORE", "OTA"},
            "M5STACK_ATOM": {None},
        },
        psram_pins={"quad": [16, 17]},
    ),
    "esp32s2": Chip(
        "esp32s2", "esp32s2", 0x1000,
        gpios=_r(0, 21) + _r(26, 46), flash_pins=_r(26, 32), input_only=[46], no_pull=[46],
        strapping=[0, 45, 46], i2s_count=1, mpy_arch="xtensawin",
        mp_boards={"ESP32_GENERIC_S2": {None}},
    ),
    "esp32s3": Chip(
        "esp32s3", "esp32s3", 0x0,
        gpios=_r(0, 21) + _r(26, 48), flash_pins=_r(26, 32), input_only=[], no_pull=[],
        strapping=[0, 3, 45, 46], i2s_count=2, mpy_arch="xtensawin",
        mp_boards={"ESP32_GENERIC_S3": {None, "SPIRAM_OCT", "FLASH_4M"}},
        psram_pins={"octal": _r(33, 37), "quad": []},
    ),
    "esp32c3": Chip(
        "esp32c3", "esp32c3", 0x0,
        gpios=_r(0, 21), flash_pins=_r(12, 17), input_only=[], no_pull=[],
        strapping=[2, 8, 9], i2s_count=1, mpy_arch="rv32imc",
        mp_boards={"ESP32_GENERIC_C3": {None}},
    ),
}

ECHO_CONTROL = ("none", "suppress", "half_duplex")
SAMPLE_RATES = (8000, 16000)
PULLS = ("up", "down", "none")
LED_KINDS = ("gpio", "neopixel")  # optional; a plain LED on a GPIO when absent
I2S_BITS = (16, 32)
# i2s.mic.kind: "i2s" (default: a standard I2S microphone such as the INMP441) or "pdm". Stock
# MicroPython's machine.I2S on the ESP32 has no PDM receive mode (an upstream pull request for
# it is still open), so a PDM microphone hears nothing with the firmware `portier flash` writes.
MIC_KINDS = ("i2s", "pdm")
PDM_UNSUPPORTED = ("a PDM microphone: stock MicroPython's machine.I2S on the ESP32 cannot "
                   "receive PDM, so this board hears nothing; it needs a PDM-capable MicroPython "
                   "build, which Portier does not provide or support")

# (field, direction): clock and word-select are driven by the ESP32 (controller mode); the
# microphone's data is an input, the amplifier's an output.
_PIN_FIELDS = (
    ("i2s.mic.sck", "out"), ("i2s.mic.ws", "out"), ("i2s.mic.sd", "in"),
    ("i2s.amp.sck", "out"), ("i2s.amp.ws", "out"), ("i2s.amp.sd", "out"),
    ("button.pin", "in"), ("relay.pin", "out"), ("led.pin", "out"),
)
# Pin pairs that may be one GPIO when the board declares a shared I2S bus.
_SHARED_BUS_PAIRS = {("i2s.mic.sck", "i2s.amp.sck"), ("i2s.mic.ws", "i2s.amp.ws")}
_MAX_FILE_BYTES = 64 * 1024


class Board:
    """A validated board file; attribute access to the parts tools need."""

    def __init__(self, data, source):
        self.data = data
        self.source = source
        self.name = data["name"]
        self.chip = CHIPS[data["chip"]]
        mp = data["micropython"]
        self.mp_board = mp["board"]
        self.mp_variant = mp.get("variant")
        self.flash_offset = int(mp["flash_offset"], 16)
        self.mpy_arch = self.chip.mpy_arch

    @property
    def firmware_name(self):
        """The official build's name, e.g. ESP32_GENERIC_S3-SPIRAM_OCT."""
        if self.mp_variant:
            return "%s-%s" % (self.mp_board, self.mp_variant)
        return self.mp_board


def _get(data, field):
    cur = data
    for part in field.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


_MISSING = object()


def check_board(data):
    """Every problem in a parsed board file, as (field, message) pairs; [] when it is usable."""
    if not isinstance(data, dict):
        return [("(file)", "a board file is a JSON object")]
    problems = []

    def need(field, kind, allowed=None):
        value = _get(data, field)
        if value is _MISSING:
            problems.append((field, "missing"))
            return _MISSING
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append((field, "must be an integer, not %r" % (value,)))
            return _MISSING
        if kind is not int and not isinstance(value, kind):
            problems.append((field, "must be %s, not %r" % (kind.__name__, value)))
            return _MISSING
        if allowed is not None and value not in allowed:
            problems.append((field, "%r is not one of %s" % (value, ", ".join(map(repr, allowed)))))
            return _MISSING
        return value

    need("name", str)
    chip_name = need("chip", str)
    chip = CHIPS.get(chip_name) if chip_name is not _MISSING else None
    if chip_name is not _MISSING and chip is None:
        problems.append(("chip", "unknown chip %r (known: %s)" % (chip_name, ", ".join(sorted(CHIPS)))))
    _check_micropython(data, chip, need, problems)
    psram = _get(data, "psram")
    if psram is _MISSING:
        problems.append(("psram", "missing"))
    elif chip is not None and psram not in (False, *chip.psram_pins):
        allowed = [False] + sorted(chip.psram_pins)
        problems.append(("psram", "%r is not one of %s for %s" % (psram, allowed, chip.name)))

    shared = need("i2s.shared_bus", bool)
    for part in ("mic", "amp"):
        need("i2s.%s.bits" % part, int, I2S_BITS)
        i2s_id = need("i2s.%s.id" % part, int)
        if chip is not None and i2s_id is not _MISSING and not 0 <= i2s_id < chip.i2s_count:
            problems.append(("i2s.%s.id" % part, "%s has I2S ids 0..%d, not %d"
                             % (chip.name, chip.i2s_count - 1, i2s_id)))
    mic_kind = _get(data, "i2s.mic.kind")
    if mic_kind is not _MISSING and mic_kind not in MIC_KINDS:
        problems.append(("i2s.mic.kind", "%r is not one of %s"
                         % (mic_kind, ", ".join(map(repr, MIC_KINDS)))))
    elif mic_kind == "pdm":
        problems.append(("i2s.mic.kind", PDM_UNSUPPORTED))
    mic_id, amp_id = _get(data, "i2s.mic.id"), _get(data, "i2s.amp.id")
    if shared is True and mic_id != amp_id:
        problems.append(("i2s.amp.id", "a shared I2S bus is one controller: must equal i2s.mic.id"))
    if shared is False and mic_id == amp_id and mic_id is not _MISSING:
        problems.append(("i2s.amp.id", "same controller as i2s.mic.id: machine.I2S drives one "
                         "direction per controller (declare i2s.shared_bus for half-duplex)"))
    need("audio.sample_rate", int, SAMPLE_RATES)
    echo = need("audio.echo_control", str, ECHO_CONTROL)
    if shared is True and echo is not _MISSING and echo != "half_duplex":
        problems.append(("audio.echo_control", "a shared I2S bus can only be half_duplex"))
    pull = need("button.pull", str, PULLS)
    need("button.active", int, (0, 1))
    need("relay.active", int, (0, 1))
    need("led.active", int, (0, 1))
    kind = _get(data, "led.kind")
    if kind is not _MISSING and kind not in LED_KINDS:
        problems.append(("led.kind", "%r is not one of %s" % (kind, ", ".join(map(repr, LED_KINDS)))))
    _check_pins(data, chip, shared is True, psram, pull, need, problems)
    return problems


def _check_micropython(data, chip, need, problems):
    mp_board = need("micropython.board", str)
    variant = _get(data, "micropython.variant")
    if variant is _MISSING:
        variant = None
    elif variant is not None and not isinstance(variant, str):
        problems.append(("micropython.variant", "must be a string or null"))
    offset_text = need("micropython.flash_offset", str)
    need("micropython.min_version", str)
    if chip is None:
        return
    if mp_board is not _MISSING:
        if mp_board not in chip.mp_boards:
            problems.append(("micropython.board", "%r is not a MicroPython build for %s (known: %s)"
                             % (mp_board, chip.name, ", ".join(sorted(chip.mp_boards)))))
        elif variant not in chip.mp_boards[mp_board]:
            problems.append(("micropython.variant", "%r is not a variant of %s" % (variant, mp_board)))
    if offset_text is not _MISSING:
        try:
            offset = int(offset_text, 16)
        except ValueError:
            problems.append(("micropython.flash_offset", "%r is not a hex number" % offset_text))
            return
        if offset != chip.flash_offset:
            problems.append(("micropython.flash_offset", "%s for %s, whose MicroPython image goes at 0x%x"
                             % (offset_text, chip.name, chip.flash_offset)))


def _check_pins(data, chip, shared, psram, pull, need, problems):
    used = {}  # gpio -> first field
    for field, direction in _PIN_FIELDS:
        gpio = need(field, int)
        if gpio is _MISSING or chip is None:
            continue
        if gpio not in chip.gpios:
            problems.append((field, "GPIO%d does not exist on %s" % (gpio, chip.name)))
            continue
        if gpio in chip.flash_pins:
            problems.append((field, "GPIO%d is wired to the SPI flash on %s" % (gpio, chip.name)))
        if psram and gpio in chip.psram_pins.get(psram, ()):
            problems.append((field, "GPIO%d is taken by the %s PSRAM" % (gpio, psram)))
        if direction == "out" and gpio in chip.input_only:
            problems.append((field, "GPIO%d is input-only on %s and cannot be an output"
                             % (gpio, chip.name)))
        if field == "relay.pin" and gpio in chip.strapping:
            problems.append((field, "GPIO%d is a strapping pin on %s: its level at boot could "
                             "energise the door strike" % (gpio, chip.name)))
        if field == "button.pin" and pull in ("up", "down") and gpio in chip.no_pull:
            problems.append(("button.pull", "GPIO%d has no internal pull resistor on %s: use "
                             "\"none\" and an external one" % (gpio, chip.name)))
        first = used.get(gpio)
        if first is None:
            used[gpio] = field
        elif not (shared and (first, field) in _SHARED_BUS_PAIRS):
            problems.append((field, "GPIO%d is already used by %s" % (gpio, first)))


def only_unsupported(problems):
    """True when a board file is sound but names hardware stock MicroPython cannot drive."""
    return bool(problems) and all(msg == PDM_UNSUPPORTED for _, msg in problems)


def load_board(path_or_name):
    """A Board from a file path or a name in boards/ (e.g. "esp32-devkitc"); BoardError if bad."""
    path = path_or_name
    if not os.path.exists(path) and os.sep not in path_or_name and not path.endswith(".json"):
        path = os.path.join(BOARDS_DIR, path_or_name + ".json")
    try:
        if os.path.getsize(path) > _MAX_FILE_BYTES:
            raise BoardError(path, [("(file)", "larger than %d bytes" % _MAX_FILE_BYTES)])
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise BoardError(path_or_name, [("(file)", "no such board file (boards: %s)"
                                         % ", ".join(board_names()))]) from None
    except json.JSONDecodeError as e:
        raise BoardError(path, [("(file)", "not JSON: %s" % e)]) from None
    problems = check_board(data)
    if problems:
        raise BoardError(path, problems)
    return Board(data, path)


def board_files():
    return sorted(glob.glob(os.path.join(BOARDS_DIR, "*.json")))


def board_names():
    return [os.path.basename(p)[:-5] for p in board_files()]
