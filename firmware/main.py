# Board entry point: MicroPython runs this after boot. Everything lives in the portier package,
# so this stays a few lines and never needs re-flashing when the package changes.
import portier.app

portier.app.main()
