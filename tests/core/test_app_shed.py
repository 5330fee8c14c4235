# The app's quiet-moment unloading (portier.appmem: forget_modules, transient_e2e_modules):
# the once-per-call Signal code leaves sys.modules and its package, comes back intact on the
# next import, and on MicroPython the heap it held is returned. portier.e2e (E2eError) stays,
# so `except E2eError` keeps working across a drop; the App's store is made per use
# (portier.e2e.file_store). And the early-collection threshold portier.app.main sets.
import gc
import sys

from coretest import ON_MICROPYTHON

from portier import appmem

_LOADS = "portier.e2e.callkey"  # pulls in session, ratchet, x3dh, kdf, messages, protobuf, x25519


def _load():
    __import__(_LOADS)
    return len(appmem.transient_e2e_modules())


def _live():
    gc.collect()
    return gc.mem_alloc() if ON_MICROPYTHON else 0


def test_transient_set_is_the_signal_code_not_its_package():
    import portier.e2e.stores  # noqa: F401  (file_store loads it per use)

    assert _load() >= 6
    names = appmem.transient_e2e_modules()
    assert "portier.e2e.callkey" in names and "portier.e2e.session" in names
    assert "portier.crypto.x25519" in names and "portier.e2e.stores" in names
    assert "portier.e2e" not in names
    assert "portier.crypto.hkdf" not in names  # shared with the media's SRTP key derivation
    appmem.forget_modules(names)


def test_forget_drops_module_and_parent_attribute_and_reimport_works():
    import portier.e2e

    error_class = portier.e2e.E2eError
    _load()
    names = appmem.transient_e2e_modules()
    assert appmem.forget_modules(names) == len(names)
    assert appmem.transient_e2e_modules() == []
    for key in names:
        assert key not in sys.modules
        parent, _, child = key.rpartition(".")
        assert not hasattr(sys.modules[parent], child), key
    assert appmem.forget_modules(names) == 0  # nothing loaded: nothing to do
    from portier.e2e import callkey  # a fresh copy, fully working

    assert len(callkey.new_call_key()) == 32
    assert callkey.E2eError is error_class  # the package's class survives the drop
    assert portier.e2e.E2eError is error_class
    appmem.forget_modules(appmem.transient_e2e_modules())


def test_forget_returns_the_heap_on_micropython():
    appmem.forget_modules(appmem.transient_e2e_modules())
    before = _live()
    _load()
    loaded = _live() - before
    appmem.forget_modules(appmem.transient_e2e_modules())
    left = _live() - before
    if ON_MICROPYTHON:
        # Names interned by the import stay (qstrs live as long as the process); the code goes.
        assert loaded > 8000, loaded
        assert left < loaded // 3, (loaded, left)


def test_collect_early_sets_a_32nd_of_the_heap_on_micropython():
    n = appmem.collect_early()
    if not ON_MICROPYTHON:
        assert n is None  # CPython's gc has no allocation threshold
        return
    try:
        total = gc.mem_free() + gc.mem_alloc()
        assert n == max(4096, total // 32), (n, total)
        # MicroPython keeps the threshold in GC blocks: 16 bytes on a 32-bit build (ESP32),
        # 32 on the 64-bit host, so it reads back rounded down to one.
        assert n - 32 < gc.threshold() <= n, (gc.threshold(), n)
    finally:
        gc.threshold(-1)  # back to collecting only when the heap is full
