# The rest of the import check of test_firmware_imports.py (its LATE packages), in a MicroPython
# process of its own.
from test_firmware_imports import LATE, import_all


def test_signaling_and_wire_modules_import():
    import_all(lambda mod: mod.startswith(LATE))
