"""CPython stand-in for MicroPython's `network` (WLAN) on the virtual board.

The host's loopback is the virtual board's network: connecting succeeds at once and the
station's address is 127.0.0.1. `set_reachable(False)` lets a test take the access point away.
"""

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
_reachable = True
_hostname = "espressif"  # the esp32 port's default
_HOSTNAME_MAX = 32  # MICROPY_PY_NETWORK_HOSTNAME_MAX_LEN


def hostname(name=None):
    """network.hostname() (MicroPython 1.20+): the DHCP host name of every interface."""
    global _hostname
    if name is None:
        return _hostname
    if len(name) > _HOSTNAME_MAX:
        raise ValueError("hostname too long")
    _hostname = name
    return None


def set_reachable(up):
    global _reachable
    _reachable = bool(up)


class WLAN:
    IF_STA = STA_IF
    IF_AP = AP_IF
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __init__(self, interface_id=STA_IF):
        self._if = interface_id
        self._active = False
        self._ssid = None
        self._config = {"pm": self.PM_PERFORMANCE, "reconnects": -1, "txpower": 20}

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        if not self._active:
            self._ssid = None
        return None

    def connect(self, ssid=None, key=None, **kw):
        if not self._active:
            raise OSError("STA must be active")
        self._ssid = ssid

    def disconnect(self):
        self._ssid = None

    def isconnected(self):
        return self._active and self._ssid is not None and _reachable

    def status(self, param=None):
        if param == "rssi":
            return -50
        if not self._active or self._ssid is None:
            return STAT_IDLE
        return STAT_GOT_IP if _reachable else STAT_NO_AP_FOUND

    def ipconfig(self, name):
        if name == "addr4":
            return ("127.0.0.1", "255.0.0.0") if self.isconnected() else ("0.0.0.0", "0.0.0.0")
        raise ValueError("unknown config param")

    def ifconfig(self):
        addr, mask = self.ipconfig("addr4")
        return (addr, mask, "127.0.0.1", "127.0.0.1")

    def config(self, *args, **kw):
        if args:
            return self._config[args[0]]
        self._config.update(kw)
        return None
