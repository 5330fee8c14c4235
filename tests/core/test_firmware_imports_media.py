# The media part of the import check of test_firmware_imports.py, in a
# MicroPython process of its own.
from test_firmware_imports import MEDIA, import_all


def test_media_modules_import():
    import_all(lambda mod: mod.startswith(MEDIA))
