# The end-to-end and network-media part of the import check of test_firmware_imports.py, in a
# MicroPython process of its own (with the media modules in one process, the 128 KiB heap of
# the 64-bit host ran out now and then, depending on fragmentation).
from test_firmware_imports import E2E, import_all


def test_e2e_and_net_media_modules_import():
    import_all(lambda mod: mod.startswith(E2E))
