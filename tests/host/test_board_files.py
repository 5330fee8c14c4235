"""Board files: every shipped one validates; each kind of broken one is refused, field named."""

import copy
import json
import types

import pytest

from portier_host import boards, cli


def _shipped(name):
    with open(boards.BOARDS_DIR + "/" + name + ".json") as f:
        return json.load(f)


def _fields(data):
    return [field for field, _ in boards.check_board(data)]


def test_at_least_the_three_reference_boards_ship():
    names = boards.board_names()
    for name in ("esp32-devkitc", "esp32s3-psram", "m5stack-atom-echo"):
        assert name in names


# Shipped to document a board stock MicroPython cannot drive (its PDM microphone); refused.
UNSUPPORTED = {"m5stack-atom-echo"}


@pytest.mark.parametrize("path", [p for p in boards.board_files()
                                  if p.rsplit("/", 1)[1][:-5] not in UNSUPPORTED])
def test_every_shipped_board_validates(path):
    board = boards.load_board(path)
    assert board.name + ".json" == path.rsplit("/", 1)[1]
    assert board.flash_offset == board.chip.flash_offset


def test_reference_facts():
    esp32 = boards.load_board("esp32-devkitc")
    s3 = boards.load_board("esp32s3-psram")
    echo = types.SimpleNamespace(data=_shipped("m5stack-atom-echo"))
    assert (esp32.chip.name, esp32.flash_offset, esp32.mp_board) == ("esp32", 0x1000, "ESP32_GENERIC")
    assert (s3.chip.name, s3.flash_offset, s3.firmware_name) == ("esp32s3", 0x0, "ESP32_GENERIC_S3-SPIRAM_OCT")
    assert echo.data["i2s"]["shared_bus"] is True
    assert echo.data["audio"]["echo_control"] == "half_duplex"
    # The reference build is full duplex: two controllers, mic in, amp out.
    assert esp32.data["i2s"]["mic"]["id"] != esp32.data["i2s"]["amp"]["id"]


def _broken(mutate, name="esp32-devkitc"):
    data = copy.deepcopy(_shipped(name))
    mutate(data)
    return data


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda d: d["relay"].pop("pin"), "relay.pin", "missing"),
        (lambda d: d["i2s"]["mic"].pop("sd"), "i2s.mic.sd", "missing"),
        (lambda d: d.pop("chip"), "chip", "missing"),
        (lambda d: d["led"].update(pin=23), "led.pin", "already used by relay.pin"),
        (lambda d: d["i2s"]["amp"].update(sck=32), "i2s.amp.sck", "already used by i2s.mic.sck"),
        (lambda d: d["relay"].update(pin=35), "relay.pin", "input-only"),
        (lambda d: d["i2s"]["amp"].update(sd=36), "i2s.amp.sd", "input-only"),
        (lambda d: d["relay"].update(pin=12), "relay.pin", "strapping"),
        (lambda d: d["relay"].update(pin=0), "relay.pin", "strapping"),
        (lambda d: d["button"].update(pin=7), "button.pin", "SPI flash"),
        (lambda d: d["led"].update(pin=24), "led.pin", "does not exist"),
        (lambda d: d.update(chip="esp8266"), "chip", "unknown chip"),
        (lambda d: d["micropython"].update(flash_offset="0x0"), "micropython.flash_offset", "0x1000"),
        (lambda d: d["micropython"].update(board="ESP32_GENERIC_S3"), "micropython.board", "not a MicroPython build"),
        (lambda d: d["micropython"].update(variant="SPIRAM_OCT"), "micropython.variant", "not a variant"),
        (lambda d: d["i2s"]["amp"].update(id=0), "i2s.amp.id", "one direction per controller"),
        (lambda d: d["i2s"]["mic"].update(id=2), "i2s.mic.id", "I2S ids 0..1"),
        (lambda d: d["audio"].update(sample_rate=44100), "audio.sample_rate", "not one of"),
        (lambda d: d["audio"].update(echo_control="aec"), "audio.echo_control", "not one of"),
        (lambda d: d["relay"].update(active="high"), "relay.active", "integer"),
        (lambda d: d["button"].update(pin=True), "button.pin", "integer"),
        (lambda d: d["button"].update(pin=34), "button.pull", "no internal pull"),
        (lambda d: d.update(psram="octal"), "psram", "not one of"),
        (lambda d: d["led"].update(kind="rgb"), "led.kind", "not one of"),
    ],
)
def test_broken_esp32_board_is_refused_with_the_field_named(mutate, field, words, tmp_path):
    data = _broken(mutate)
    problems = boards.check_board(data)
    assert field in [f for f, _ in problems], problems
    msg = dict(problems)[field]
    assert words in msg, msg
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(boards.BoardError) as info:
        boards.load_board(str(path))
    assert field in str(info.value) and words in str(info.value)


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda d: d["micropython"].update(flash_offset="0x1000"), "micropython.flash_offset", "0x0"),
        (lambda d: d["relay"].update(pin=46), "relay.pin", "strapping"),
        (lambda d: d["led"].update(pin=35), "led.pin", "octal PSRAM"),
        (lambda d: d["button"].update(pin=30), "button.pin", "SPI flash"),
    ],
)
def test_broken_s3_board_is_refused(mutate, field, words):
    problems = dict(boards.check_board(_broken(mutate, "esp32s3-psram")))
    assert field in problems and words in problems[field], problems


def test_shared_pins_need_a_declared_shared_bus():
    data = _broken(lambda d: d["i2s"].update(shared_bus=False), "m5stack-atom-echo")
    problems = dict(boards.check_board(data))
    assert "already used by i2s.mic.sck" in problems["i2s.amp.sck"]
    assert "i2s.amp.id" in problems  # one controller for both directions needs the shared bus
    # and a shared bus still refuses any other pair on one GPIO
    data = _broken(lambda d: d["i2s"]["amp"].update(sd=23), "m5stack-atom-echo")
    assert "already used by i2s.mic.sd" in dict(boards.check_board(data))["i2s.amp.sd"]


def test_shared_bus_must_be_half_duplex():
    data = _broken(lambda d: d["audio"].update(echo_control="suppress"), "m5stack-atom-echo")
    assert "half_duplex" in dict(boards.check_board(data))["audio.echo_control"]


def test_not_json_and_not_an_object(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ nope")
    with pytest.raises(boards.BoardError) as info:
        boards.load_board(str(bad))
    assert "not JSON" in str(info.value)
    assert boards.check_board([1, 2]) == [("(file)", "a board file is a JSON object")]


def test_cli_boards_check(tmp_path, capsys):
    assert cli.main(["boards", "check"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok: ") == len(boards.board_files()) - len(UNSUPPORTED)
    assert out.count("unsupported: ") == len(UNSUPPORTED) and "PDM" in out
    bad = tmp_path / "relay-on-strap.json"
    bad.write_text(json.dumps(_broken(lambda d: d["relay"].update(pin=2))))
    good = boards.board_files()[0]
    assert cli.main(["boards", "check", good, str(bad)]) == 1
    captured = capsys.readouterr()
    assert "relay.pin" in captured.err and "strapping" in captured.err
    assert "1 of 2" in captured.err


def test_atom_echo_is_refused_for_its_pdm_microphone_and_says_why(capsys):
    # Its one problem is the microphone: everything else in the file is right.
    problems = boards.check_board(_shipped("m5stack-atom-echo"))
    assert [f for f, _ in problems] == ["i2s.mic.kind"]
    assert "PDM" in problems[0][1] and "PDM-capable MicroPython build" in problems[0][1]
    with pytest.raises(boards.BoardError):
        boards.load_board("m5stack-atom-echo")  # flash and deploy refuse it
    assert cli.main(["boards", "check", boards.BOARDS_DIR + "/m5stack-atom-echo.json"]) == 1
    assert "i2s.mic.kind: a PDM microphone" in capsys.readouterr().err
    assert cli.main(["boards", "list"]) == 0
    listed = capsys.readouterr().out
    assert "m5stack-atom-echo    unsupported: a PDM microphone" in listed
    assert "esp32-devkitc" in listed
    assert "i2s.mic.kind" in dict(boards.check_board(_broken(
        lambda d: d["i2s"]["mic"].update(kind="analog"))))
