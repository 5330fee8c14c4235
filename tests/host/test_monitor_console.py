"""`portier monitor`: stamped lines, readable structured logs, keys to the board, Ctrl-] quits."""

import datetime
import io
import os
import threading
import time

from portier_host import deploy, monitor
from portier_host.vboard import VirtualBoard

_NOW = 1_700_000_000.25  # a fixed host time for the pure tests


def _stamp(now):
    return datetime.datetime.fromtimestamp(now).strftime("%H:%M:%S.") + "%03d" % (round(now * 1000) % 1000)


def test_plain_lines_are_stamped_and_crlf_is_one_line_end():
    s = monitor.LineStamper()
    assert s.feed(b"boot\r\nwifi up\npart", _NOW) == "%s boot\n%s wifi up\n" % (_stamp(_NOW), _stamp(_NOW))
    assert s.feed(b"ial line\n", _NOW + 1) == "%s partial line\n" % _stamp(_NOW + 1)


def test_structured_line_is_shown_readably():
    line = b'{"t": 1234567, "lvl": "W", "src": "door", "msg": "unlock refused", "reason": "pin", "tries": 3}\r\n'
    out = monitor.LineStamper().feed(line, _NOW)
    assert out == "%s +1234.567 W door     unlock refused  reason=pin tries=3\n" % _stamp(_NOW)


def test_not_quite_structured_lines_stay_as_they_are():
    for raw in (b'{"t": 1, "lvl": "I"}', b"{not json}", b'{"msg": "x"', b"[1, 2]"):
        out = monitor.LineStamper().feed(raw + b"\n", _NOW)
        assert out == "%s %s\n" % (_stamp(_NOW), raw.decode())


def test_prompt_without_newline_shows_after_quiet_and_is_not_stamped_twice():
    s = monitor.LineStamper()
    assert s.feed(b">>> ", _NOW) == ""
    assert s.flush(_NOW) == "%s >>> " % _stamp(_NOW)
    assert s.feed(b"1+1\r\n2\r\n", _NOW + 2) == "1+1\n%s 2\n" % _stamp(_NOW + 2)


def test_endless_line_is_shown_in_pieces():
    s = monitor.LineStamper()
    assert s.feed(b"x" * 4000, _NOW) == ""  # still waiting for the line's end
    assert s.feed(b"x" * 1000, _NOW) == "%s %s" % (_stamp(_NOW), "x" * 5000)
    assert s.feed(b"yy\n", _NOW) == "yy\n"  # the rest of that line, not stamped again


def test_monitor_against_a_virtual_board(tmp_path):
    with VirtualBoard(str(tmp_path / "flash")) as vb:
        keys_r, keys_w = os.pipe()
        out = io.StringIO()
        result = []
        thread = threading.Thread(target=lambda: result.append(monitor.run(vb.port, keys_r, out)))
        thread.start()
        try:
            time.sleep(0.3)
            assert deploy.port_problem(vb.port) is not None  # the monitor holds the port
            os.write(keys_w, b"print('{\"t\": 5000, \"lvl\": \"E\", \"src\": \"net\", \"msg\": \"link down\"}')\n")
            deadline = time.monotonic() + 10
            while "link down" not in out.getvalue().split("print(")[-1] and time.monotonic() < deadline:
                time.sleep(0.05)
            os.write(keys_w, b"\x1d")
            thread.join(10)
        finally:
            os.close(keys_w)
            os.close(keys_r)
        assert result == [0]
        text = out.getvalue()
        assert " +5.000 E net      link down" in text
        assert "--- monitor closed ---" in text
        assert deploy.port_problem(vb.port) is None  # released
        assert vb.error is None
