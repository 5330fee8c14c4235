# Runs first at every reset, before main.py and before anything imports the portier package
# (which may be half-deployed): the door strike's relay goes to its released level, then the
# CPU clock goes up. It reads nothing but the relay's pin and active level from board.json and
# never raises: a broken board file must not stop the board from booting.
# main.py calls release_relay() again on its way out (any exception, Ctrl-C).


def release_relay(path="board.json"):
    try:
        import json
        from machine import Pin
    except ImportError:
        return None  # not a board (the host's MicroPython unix port): no relay to release
    try:
        with open(path) as f:
            relay = json.loads(f.read(4096))["relay"]
        pin, active = relay["pin"], relay["active"]
        if active not in (0, 1) or not isinstance(pin, int):
            raise ValueError("relay pin %r, active %r" % (pin, active))
        Pin(pin, Pin.OUT, value=1 - active)
        return pin
    except OSError:
        return None  # no board file: nothing was ever wired as a relay by this firmware
    except Exception as e:  # noqa: BLE001 - whatever a corrupt file raises, boot goes on
        print("boot: relay not released:", repr(e))
        return None


def raise_clock(hz=240000000):
    # Stock ESP32_GENERIC and ESP32_GENERIC_S3 boot at the ESP-IDF default of 160 MHz;
    # 240 MHz is their maximum (a C3 refuses it and stays at 160 MHz).
    try:
        import machine

        machine.freq(hz)
        return machine.freq()
    except Exception:  # noqa: BLE001 - no freq() (host), or a chip without 240 MHz
        return None


release_relay()
raise_clock()
