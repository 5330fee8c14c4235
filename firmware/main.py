# Board entry point: MicroPython runs this after boot.py. Everything lives in the portier package,
# so this stays a few lines and never needs re-flashing when the package changes.
# However the app ends (an exception, Ctrl-C at the console), the door strike is released on the
# way out; a crash then sits at the REPL until the watchdog resets the board, a Ctrl-C keeps the
# watchdog fed so a console session or a deploy is not cut short.
import sys

try:
    import portier.app

    portier.app.main()
except KeyboardInterrupt:
    _hal = sys.modules.get("portier.hal.esp32door")
    if _hal is not None and _hal.keep_fed() is not None:
        print("portier: stopped at the console; watchdog held off until the next reset")
    raise
finally:
    try:
        import boot  # the first import runs boot.py again; the call covers a second pass

        boot.release_relay()
    except ImportError:  # no boot.py on this flash: nothing to re-run
        pass
