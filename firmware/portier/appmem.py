# The device's memory policy, declared here and only here: which modules are transient (loaded
# for a moment, then dropped from sys.modules so the GC frees their code) and at which moments
# the App sheds them (App.shed(moment) names the moment; this table says what goes). Plus the
# mechanism: forget_modules, and collecting early. On MicroPython; harmless on CPython.
# Imported on first use, so importing portier.app alone stays small. bench/heapprobe.py
# measures what each step saves; tests/core/test_appmem_policy.py checks the precondition: no
# resident module imports a transient one at its top level (it would keep it, or reload it).
#
# Which route each trick serves (docs/frozen.md; DESIGN "Two routes onto a board"):
#   - Shedding modules pays on the .mpy route (bytecode in RAM: an ESP32-S3 with PSRAM), where a
#     module's code is heap. Measured with portier_host.heapfit (host 64-bit MicroPython, .mpy,
#     the answered call, 2026-12-07): 288 KiB with this table, 336 KiB with shed() dropping
#     nothing. RINGING and MEDIA_START carry that (the Signal code off the call's heap before
#     the media buffers come); PAIRED, UNLOCKED, DOOR_LOGGED and CALL_LOGGED serve what comes
#     after a pairing, an unlock or a call (the next call, tests/host/test_door_heap.py;
#     tests/host/test_appunlock_mem.py), which one answered call does not measure.
#     On the frozen route code stays in flash and a drop frees only the module's globals and
#     its import's garbage: not measured apart there (no frozen build on this host); kept
#     because the same firmware runs both routes and a drop costs one gc.collect at a quiet
#     moment.
#   - collect_early pays on both routes (the answered call, .mpy: 296 KiB at heap/16, 288 at
#     heap/32; see _EARLY_GC_SHARE).
import gc
import sys

from micropython import const

# ---- transient modules (a name ending in "." covers the package's submodules) ----
# The Signal-session code (store, X3DH, ratchet, protobuf, X25519) runs for a moment per call
# or pairing: the call key's wrap/unwrap, a <pair>, an <unlock>'s decryption. The package module
# portier.e2e stays: E2eError keeps its identity for every `except`. The link's pairing and
# prekey stanzas (linkpair) and the tables of the stanzas that set a call up (_setuptables) go
# with it: a call under way needs neither.
_SIGNAL = ("portier.e2e.", "portier.crypto.x25519", "portier.signaling.linkpair",
           "portier.signaling._setuptables")
# A <pair> or <revoke> at the door (its pairing key): nothing keeps their objects (PairError
# lives in portier.pairing, resident).
_PAIRING = ("portier.doorpair", "portier.pairauth", "portier.secrets")
_CALL_LOG = ("portier.signaling.calllog", "portier.jsonlog")  # one entry per call end
_DOOR_LOG = ("portier.doorlog", "portier.jsonlog")  # one entry per unlock
TRANSIENT = _SIGNAL + _PAIRING + _CALL_LOG + ("portier.doorlog",)

# ---- the moments the App sheds at, and what goes then ----
RINGING = const(0)  # an outgoing call rings: its keys are wrapped (the media code comes next)
MEDIA_START = const(1)  # the call key is in the media event
CALL_END = const(2)
PAIRED = const(3)  # a pairing request (phone) or a <pair>/<revoke> (door) is done
UNLOCKED = const(4)  # the door's unlock decided and stored (mid-call)
DOOR_LOGGED = const(5)  # the door log has its entry
CALL_LOGGED = const(6)  # the call log has its entry
# moment -> (what goes while no call is on, what goes during a call)
_SHED = (
    (_SIGNAL + _PAIRING, _SIGNAL + _PAIRING),  # RINGING
    (_SIGNAL + _PAIRING, _SIGNAL + _PAIRING),  # MEDIA_START
    (_SIGNAL + _PAIRING, _SIGNAL + _PAIRING),  # CALL_END
    # Mid-call (a <pair> then is rare, or hostile): the pairing code at least, not left on the
    # call's heap until its end; the Signal code may serve the call still.
    (_SIGNAL + _PAIRING, _PAIRING),  # PAIRED
    (_SIGNAL + ("portier.secrets",), _SIGNAL + ("portier.secrets",)),  # UNLOCKED
    (_DOOR_LOG, _DOOR_LOG),  # DOOR_LOGGED
    (_CALL_LOG, _CALL_LOG),  # CALL_LOGGED
)


def shed(moment, in_call=False):
    """The App at `moment`: drop what the table says goes then, and collect. -> how many."""
    return forget_modules(loaded(_SHED[moment][1 if in_call else 0]))


def loaded(names):
    """The modules loaded now that `names` cover (a name ending in "." covers a package's
    submodules)."""
    out = []
    for key in sys.modules:
        for name in names:
            if key == name or (name[-1] == "." and key.startswith(name)):
                out.append(key)
                break
    return out


# Collect after each 1/32 of the heap is allocated. heapfit (answered call, host 64-bit build,
# 2026-12-07, after the edge redesign): 1/16 needs 296 KiB, 1/32 288, 1/64 288 as well.
_EARLY_GC_SHARE = const(32)


def collect_early():
    """MicroPython: collect after every heap/32 bytes allocated instead of when the heap is full.
    Garbage then never fills the heap around the call's live objects, so the big blocks a call
    needs (media buffers, a stanza's attribute table) still find room: the answered call
    completes in a smaller heap (portier_host.heapfit), at the price of more, not
    longer, collections (a pause marks live data, as a full-heap collection does).
    Returns the threshold set, or None where the runtime has no gc.threshold (CPython)."""
    if not hasattr(gc, "threshold"):
        return None
    gc.collect()
    n = max(4096, (gc.mem_free() + gc.mem_alloc()) // _EARLY_GC_SHARE)
    gc.threshold(n)
    return n


def forget_modules(names):
    """Drop these modules from sys.modules and from their parent package, so the next import
    loads them afresh and, once nothing else holds them, the GC frees their code; then collect.
    Returns how many were loaded. Safe only for modules whose objects nothing keeps."""
    n = 0
    for key in names:
        if key not in sys.modules:
            continue
        del sys.modules[key]
        n += 1
        parent, _, child = key.rpartition(".")
        pkg = sys.modules.get(parent)
        if pkg is not None and hasattr(pkg, child):
            delattr(pkg, child)
    gc.collect()
    return n


def transient_e2e_modules():
    """The Signal and pairing modules loaded now (what a call's end sheds)."""
    return loaded(_SHED[CALL_END][0])


def load_media():
    """-> portier.net.media.MediaSession, or None while that module is missing. Imported at the
    first call, not at boot: until then (pairing, X3DH) the heap holds no media code."""
    try:
        from portier.net.media import MediaSession
    except ImportError:
        MediaSession = None  # noqa: N806
    gc.collect()  # the import's garbage, before the call's buffers look for room
    return MediaSession


def log_call(cfg, ev, start):
    """The call log file gets this call (portier.signaling.calllog, loaded for the moment).
    -> None, or why the old file was unreadable (calllog.append)."""
    from portier.signaling import calllog

    _, problem = calllog.append(cfg.call_log, cfg.call_log_max, ev.direction, ev.peer,
                                ev.outcome, ev.reason, start, ev.duration_s)
    shed(CALL_LOGGED)
    return problem
