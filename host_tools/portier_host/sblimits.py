"""The switchboard's connection limits (docs/security.md section 4): how many TCP connections it
holds in all, how many not yet authenticated, and how many of those from one address. A silent
connection costs a socket (~5 KiB); one that has begun a TLS handshake ~300 KiB (asyncio's TLS
buffers) until it authenticates or its hello deadline (10 s from accept) closes it. A connection over a limit is closed at accept,
before any TLS state is made. Two presets: a household's switchboard (a home server: one door,
a few phones, a bridge) and a building's (many households in one process)."""


class Limits:
    """max_links: connections in all (a backstop: authenticated links are bounded anyway, one per
    provisioned device); unauthenticated: connections that have not yet got <ready> (TLS
    handshake included), the memory bound; per_address: of those, from one IP address, so one
    host cannot take every slot; offers_kept: offer ids remembered for retransmissions."""

    def __init__(self, max_links, unauthenticated, per_address, offers_kept=4096):
        for name, v in (("max_links", max_links), ("unauthenticated", unauthenticated),
                        ("per_address", per_address), ("offers_kept", offers_kept)):
            if not isinstance(v, int) or v < 1:
                raise ValueError("%s must be a positive integer, not %r" % (name, v))
        self.max_links = max_links
        self.unauthenticated = unauthenticated
        self.per_address = per_address
        self.offers_kept = offers_kept

    def replace(self, **changes):
        d = dict(self.__dict__)
        d.update(changes)
        return Limits(**d)


# A home server: a door, a few phones, a bridge.
HOUSEHOLD = Limits(max_links=64, unauthenticated=32, per_address=8)
# A building: ~100 flats with a door and a few devices each, each household behind its own NAT.
BUILDING = Limits(max_links=4096, unauthenticated=256, per_address=16, offers_kept=16384)
PRESETS = {"household": HOUSEHOLD, "building": BUILDING}


class Admission:
    """Counts the open connections, those not yet authenticated, and those per address."""

    def __init__(self, limits):
        self.limits = limits
        self.total = 0
        self.pending = 0
        self.by_address = {}  # address -> connections from it not yet authenticated

    def admit(self, address):
        """A new connection from address: None when admitted (counted as pending), else the
        name of the limit it is over (nothing counted)."""
        lim = self.limits
        if self.total >= lim.max_links:
            return "max_links"
        if self.pending >= lim.unauthenticated:
            return "unauthenticated"
        if self.by_address.get(address, 0) >= lim.per_address:
            return "per_address"
        self.total += 1
        self.pending += 1
        self.by_address[address] = self.by_address.get(address, 0) + 1
        return None

    def authenticated(self, address):
        """An admitted connection got <ready>: no longer pending."""
        self.pending -= 1
        self._drop(address)

    def closed(self, address, pending):
        self.total -= 1
        if pending:
            self.pending -= 1
            self._drop(address)

    def _drop(self, address):
        n = self.by_address[address] - 1
        if n:
            self.by_address[address] = n
        else:
            del self.by_address[address]
