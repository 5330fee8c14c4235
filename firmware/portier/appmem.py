# What the App does for a small heap (on MicroPython; harmless on CPython): drop code that a
# call needs only for a moment, and collect before garbage crowds the call's big blocks.
# Imported on first use, so importing portier.app alone stays small. bench/heapprobe.py
# measures what each step saves.
import gc
import sys

from micropython import const

# The Signal-session code (store, X3DH, ratchet, protobuf, X25519) runs for a moment per call
# or pairing: the call key's wrap/unwrap, a <pair>. Dropped at quiet moments (media start,
# pairing done, call over) it does not sit on the heap through the call. The package module
# portier.e2e stays: E2eError keeps its identity for every `except`. The link's pairing and
# prekey stanzas (portier.signaling.linkpair) go with it: a door needs them only for a <pair>;
# so do the tables of the stanzas that set a call up (portier.signaling._setuptables).
_E2E = "portier.e2e."
# portier.doorpair, portier.pairauth and portier.secrets serve a <pair> or <revoke> (the door's
# pairing key) and go with them (nothing keeps their objects: PairError lives in portier.pairing).
_E2E_TOO = ("portier.crypto.x25519", "portier.signaling.linkpair", "portier.signaling._setuptables",
            "portier.doorpair", "portier.pairauth", "portier.secrets")


_EARLY_GC_SHARE = const(16)  # collect after each 1/16 of the heap is allocated


def collect_early():
    """MicroPython: collect after every heap/16 bytes allocated instead of when the heap is full.
    Garbage then never fills the heap around the call's live objects, so the big blocks a call
    needs (media buffers, a stanza's attribute table) still find room: the answered call
    completes in a heap about 8 % smaller (portier_host.heapfit), at the price of more, not
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
    """The once-per-call e2e modules (and linkpair, _setuptables) loaded now (see _E2E)."""
    return [k for k in sys.modules if k.startswith(_E2E) or k in _E2E_TOO]


def shed():
    """A quiet moment: drop the once-per-call e2e code and collect."""
    forget_modules(transient_e2e_modules())


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
    forget_modules(("portier.signaling.calllog", "portier.jsonlog"))
    return problem
