# The board interface the App uses, on every device (like hal/audio.py's AudioDevice): each HAL
# subclasses Board and overrides what its board has; the defaults are a board without that part
# (no LED, no strike, no watchdog, no inputs of its own), so the App calls every method without
# asking first.
#
#   Esp32Door (hal/esp32door.py)   the door board: GPIOs, I2S, watchdog, Wi-Fi
#   VirtualDoor (hal/vdoor.py)     the simulator's door: WAV files, a logged relay
#   VboardDoor (hal/vboardio.py)   `portier vboard`: the virtual door with pin files
#   PhoneHal, BridgeHal            the softphone's sound card / WAV files, the bridge's SIP leg
#                                  (host_tools/portier_host/phone.py, bridge/app.py)
#
# A board's own inputs go into the App's inbox (portier.app.Inbox) for its edge loop: the
# button as BUTTON, a long press as LONG_PRESS; the board never calls the App.

BUTTON = "button"  # payload None: the doorbell was pressed (debounced)
LONG_PRESS = "long press"  # payload None: held for the status line (App logs status())


class Board:
    name = "board"
    # The echo control of each call's media (portier.media.dsp.echo_control): none, suppress or
    # half_duplex; a board file or the virtual door's audio config names it.
    echo_control = "none"
    has_strike = False  # whether open_door() moves a door strike (else an unlock is refused)

    inbox = None  # the App's inbox, from start()
    _logf = None

    async def start(self, inbox, log):
        """Before the link starts: where the board's inputs go (inbox.put_nowait(kind)) and its
        log lines (log(lvl, src, msg, **fields)). A board with a watchdog and Wi-Fi starts them
        here."""
        self.inbox = inbox
        self._logf = log

    async def run(self):
        """The board's own input loop, if it has one (the button): a task for the App's life."""
        return None

    def feed(self):
        """Every turn of the App's edge loop: the watchdog, if any."""

    def led(self, state, now_ms):
        """Show a portier.hal.controls LED_* state."""

    def audio(self, rate):
        """A fresh portier.hal.audio.AudioDevice for one call at `rate` (the board may fix its
        own); OSError when there is none: the call goes on without audio."""
        raise OSError("no audio device on board %s" % self.name)

    def call_active(self, flag):
        """A call's media starts (True) or stops: a board may keep Wi-Fi awake meanwhile."""

    def open_door(self, pulse_ms, now_ms):
        """Energise the door strike for pulse_ms (only where has_strike)."""

    def status(self):
        """Fields of the board's status line (a long press): memory, Wi-Fi, ..."""
        return {}

    def _log(self, lvl, msg, **fields):
        if self._logf is not None:
            self._logf(lvl, "hal", msg, **fields)
